"""Who is signed in to the daemon's /ui: password hashes, signed session cookies and CSRF tokens.

Passwords are kept in hub.yaml only as salted scrypt hashes (``hub users add`` makes them), from the
standard library, so no extra dependency guards them. A session is a cookie the daemon signs with a key
it draws at start: a restart signs everyone out, and nothing secret has to be configured for it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from hub.config import ROLES, Role, UserConfig
from hub.values import json_dumps, json_loads, utcnow

# One of OWASP's equivalent scrypt settings: 32 MiB per check, bearable on the small server a café runs hub on.
_N, _R, _P = 2**15, 8, 3
_MAXMEM = 64 * 1024 * 1024
SESSION_SECONDS = 8 * 3600
"""How long a sign-in lasts: one working shift."""


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash``, the form hub.yaml's ``password_hash`` takes."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` (a :func:`hash_password` result) was made from."""
    _, n, r, p, salt, digest = stored.split("$")
    tried = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), maxmem=_MAXMEM)
    return hmac.compare_digest(tried, _unb64(digest))


@functools.cache
def _dummy_hash() -> str:
    """Checked against for an unknown user name, so the answer takes as long as for a known one."""
    return hash_password(secrets.token_urlsafe())


def check_login(users: dict[str, UserConfig], name: str, password: str) -> bool:
    user = users.get(name)
    matches = verify_password(password, user.password_hash if user else _dummy_hash())
    return matches and user is not None


def allowed(role: Role, needed: Role) -> bool:
    """Whether ``role`` may do what ``needed`` may: the roles are ordered, each allowed what the one below is."""
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    """Sent back in every form the session posts: another site's page cannot know it."""
    expires: int


class Sessions:
    """Signs and reads session cookies with a key of this process's own."""

    COOKIE = "hub_session"

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def issue(self, user: str) -> str:
        """The cookie value for ``user``, just signed in."""
        body = json_dumps({"user": user, "csrf": secrets.token_urlsafe(24),
                           "expires": int(utcnow().timestamp()) + SESSION_SECONDS})
        encoded = _b64(body.encode())
        return f"{encoded}.{self._sign(encoded)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``; None when there is none, or it is forged or expired."""
        encoded, _, signature = (cookie or "").partition(".")
        # As bytes: a forged cookie with characters beyond ASCII is just not ours, not a crash of compare_digest.
        if not encoded or not hmac.compare_digest(signature.encode(), self._sign(encoded).encode()):
            return None
        data = json_loads(_unb64(encoded))
        if int(data["expires"]) < utcnow().timestamp():
            return None
        return Session(user=str(data["user"]), csrf=str(data["csrf"]), expires=int(data["expires"]))

    def _sign(self, encoded: str) -> str:
        return _b64(hmac.new(self._key, encoded.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
