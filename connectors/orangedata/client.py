"""OrangeData's API v2, call by call, over :class:`hub.http.HttpClient` with a client certificate."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hub.errors import ConfigError
from hub.http import ErrorShape, HttpClient
from hub.values import json_dumps, json_loads

SIGNATURE_HEADER = "X-Signature"
ORANGE_ERRORS = ErrorShape(messages=(("errors",),))
"""OrangeData's error body: ``{"errors": ["…", …]}``; :func:`errors_of` joins the list."""


def sign(key: rsa.RSAPrivateKey, body: bytes) -> str:
    """The ``X-Signature`` of ``body``: RSA PKCS#1 v1.5 over SHA-256, base64."""
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def load_signing_key(path: Path) -> rsa.RSAPrivateKey:
    """The RSA key OrangeData checks the signatures with (its public half registered in the cabinet)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError([f"signing_key: cannot read an RSA private key from {path}: {exc}"],
                          hint="point signing_key at the PEM file of the key registered with OrangeData") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError([f"signing_key: {path} is not an RSA key"], hint="OrangeData signs with RSA-SHA256")
    return key


def tls_session(client_cert: Path, client_key: Path, ca_cert: Path) -> requests.Session:
    """A session that shows the client certificate and trusts only OrangeData's CA."""
    session = requests.Session()
    session.cert = (str(client_cert), str(client_key))
    session.verify = str(ca_cert)
    # A CA bundle from the environment (REQUESTS_CA_BUNDLE) would replace OrangeData's CA: trust only the setting.
    session.trust_env = False
    return session


def errors_of(content: bytes) -> str | None:
    """The errors an answer lists, joined; None when it lists none."""
    try:
        data = json_loads(content or b"null")
    except ValueError:
        return None
    errors = data.get("errors") if isinstance(data, dict) else None
    return "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else None


class OrangeDataClient:
    """One organisation (INN) at OrangeData."""

    def __init__(self, http: HttpClient, *, inn: str, signing_key: rsa.RSAPrivateKey) -> None:
        self.http = http
        self.inn = inn
        self._key = signing_key

    def create(self, document: dict[str, Any]) -> requests.Response:
        """``POST /api/v2/documents/``, signed; 201, 409 and 400 come back to be read, the rest is raised.

        Sent as idempotent: OrangeData answers 409 to an id it holds, so a repeat never prints twice.
        """
        body = json_dumps(document).encode()
        return self.http.post("api/v2/documents/", data=body, idempotent=True, expect={400, 409},
                              headers={"Content-Type": "application/json; charset=utf-8",
                                       SIGNATURE_HEADER: sign(self._key, body)})

    def status(self, document_id: str) -> requests.Response:
        """``GET /api/v2/documents/{inn}/status/{id}``: 200, 202, 400 (not found) and 524 (expired) to be read."""
        return self.http.get(f"api/v2/documents/{self.inn}/status/{document_id}", expect={400, 524})

    def close(self) -> None:
        self.http.close()
