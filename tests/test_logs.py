"""hub.logs: masking personal data, redacting secrets, text and JSON output."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from hub import logs
from hub.logs import mask_email, mask_phone, pii, redact_url, setup_logging
from hub.values import json_loads

log = logging.getLogger("hub.test")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh secret registry, and the hub logger restored after each test."""
    monkeypatch.setattr(logs, "SECRETS", logs.Secrets())
    hub_logger = logging.getLogger("hub")
    handlers, level = list(hub_logger.handlers), hub_logger.level
    yield
    hub_logger.handlers[:] = handlers
    hub_logger.setLevel(level)


@pytest.mark.parametrize(("raw", "masked"), [
    ("+7 999 123-45-67", "+7******4567"),
    ("8(999)123-45-67", "8******4567"),
    ("+7 (999) 123 45 67", "+7******4567"),
    ("звоните 89991234567!", "звоните 8******4567!"),
    ("tel:+442079460958", "tel:+4******0958"),
    ("mobile 9991234567.", "mobile 9******4567."),
    ("(999) 123-45-67", "9******4567"),
    ("phone=%2B7%20999%20123-45-67&x=1", "phone=+7******4567&x=1"),
    ("phone=8+999+123+45+67", "phone=8******4567"),
])
def test_phones_are_masked(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked
    assert mask_phone(masked) == masked


@pytest.mark.parametrize("text", [
    "order 12345 total 1500.00 at 2024-05-01 12:00:00+03:00",
    "guid 7d1c0e2a-8f3b-4c5d-9e6f-0123456789ab, inn 7701234567890",
    "+1500 rub",
])
def test_numbers_that_are_not_phones_stay(text: str) -> None:
    assert mask_phone(text) == text


def test_emails_are_masked() -> None:
    assert mask_email("ivan.petrov@mail.ru") == "i***@mail.ru"
    assert mask_email("from Anna <anna+shop@почта.рф>") == "from Anna <a***@почта.рф>"
    assert mask_email("i***@mail.ru") == "i***@mail.ru"


def test_url_encoded_emails_are_masked() -> None:
    assert mask_email("email=ivan.petrov%40mail.ru&page=2") == "email=i***%40mail.ru&page=2"


def test_colon_separated_credentials_are_redacted() -> None:
    assert logs.redact("password: hunter2, Пароль: 'два слова', login: bob") == (
        "password: ***, Пароль: ***, login: bob")


def test_a_credential_is_found_by_its_name_even_when_that_name_is_a_registered_secret() -> None:
    # a sandbox or a careless setup whose password is "password" must not unname every other password
    registry = logs.Secrets(["password"])
    assert "hunter2" not in logs.redact("Пароль: sandbox-secret, password: hunter2", registry)


def test_errors_are_cleaned_of_secrets_contacts_and_the_named_person_whatever_the_log_setting() -> None:
    logs.add_secrets(["env-secret"])
    text = "1C: Петров Иван (Иванов's order), +7 999 123-45-67, ivan@mail.ru, token=abc, env-secret"
    assert logs.clean_error(text, ["Иван Петров", "И"]) == (
        "1C: П*** И*** (Иванов's order), +7******4567, i***@mail.ru, token=***, ***")


def test_names_are_masked_through_pii() -> None:
    assert str(pii("Иван Петров")) == "И*** П***"
    assert f"{pii('Анна')!r}" == "А***"


def test_redact_url_hides_userinfo_and_secret_params() -> None:
    url = "https://user:pw@host.test/api?access_token=abc&page=2&apiLogin=xyz&key=k1#token=frag"
    assert redact_url(url) == "https://***@host.test/api?access_token=***&page=2&apiLogin=***&key=***#token=***"
    assert redact_url("https://host.test/api?monkey=1&keys=2") == "https://host.test/api?monkey=1&keys=2"


def test_text_output_masks_personal_data(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO")
    log.info("customer %s, phone %s, email %s", pii("Иван Петров"), "+7 999 123-45-67", "ivan.petrov@mail.ru",
             extra={"job": "orders"})
    log.debug("not shown")
    line = capsys.readouterr().err.strip()
    expected = "INFO    hub.test: customer И*** П***, phone +7******4567, email i***@mail.ru [job=orders]"
    assert line.endswith(expected)


def test_masking_can_be_turned_off(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG", mask_personal_data=False)
    log.debug("customer %s, phone %s", pii("Иван Петров"), "+7 999 123-45-67")
    assert "customer Иван Петров, phone +7 999 123-45-67" in capsys.readouterr().err


def test_json_lines_parse_and_carry_extras(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", json_format=True)
    setup_logging("info", json_format=True)  # reconfiguring must not add a second handler
    log.warning("pulled %d orders", 3, extra={"run_id": 42, "source": "tilda", "job": "orders"})
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    entry = json_loads(lines[0])
    assert entry["time"].endswith("+00:00")
    assert {k: v for k, v in entry.items() if k != "time"} == {
        "level": "WARNING", "logger": "hub.test", "message": "pulled 3 orders",
        "run_id": "42", "source": "tilda", "job": "orders"}


def test_secrets_and_credentials_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", secrets=["s3cr3t-from-env"])
    logs.add_secrets(["oauth-fetched-later"])
    log.info("config value %s", "s3cr3t-from-env")
    log.info("calling https://bob:pw1@h.test/x?password=hunter2&page=2 with token oauth-fetched-later")
    log.info("headers {'Authorization': 'Basic YWRtaW46cGFzcw==', 'Accept': 'json'}")
    log.info("body {\"login\": \"bob\", \"password\": \"p@ss w0rd\"} sent with Bearer abc.def.ghi")
    err = capsys.readouterr().err
    for secret in ("s3cr3t-from-env", "oauth-fetched-later", "pw1", "hunter2", "YWRtaW46cGFzcw", "p@ss w0rd",
                   "abc.def.ghi"):
        assert secret not in err
    assert "page=2" in err and "'Accept': 'json'" in err and '"login": "bob"' in err


def test_tracebacks_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json_format=True, secrets=["tb-secret-123"])
    try:
        raise RuntimeError("failed with tb-secret-123 for ivan@mail.ru")
    except RuntimeError:
        log.exception("boom")
    entry = json_loads(capsys.readouterr().err)
    assert "RuntimeError: failed with *** for i***@mail.ru" in entry["exception"]
    assert "tb-secret-123" not in entry["exception"]


def test_short_values_are_not_treated_as_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", secrets=["", "on"])
    log.info("logging on")
    assert "logging on" in capsys.readouterr().err


def test_a_broken_format_string_does_not_crash_the_caller(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", secrets=["secret-arg"])
    log.info("%d orders", "secret-arg")
    err = capsys.readouterr().err
    assert "%d orders" in err and "secret-arg" not in err


def test_a_run_keeps_its_own_newest_lines_cleaned_as_the_log_cleans_them() -> None:
    logger = logging.getLogger("hub.test.run")
    logger.setLevel(logging.INFO)
    kept = logs.RunLines(7, mask_personal_data=True, limit=3)
    with kept.attached():
        with logs.log_context(run_id=8):
            logger.info("another run's line")
        with logs.log_context(run_id=7):
            for n in range(3):
                logger.info("line %d", n)
            logger.warning("guest %s called from +7 999 123-45-67", pii("Иван Петров"))
        logger.info("after the run")

    assert [(level, message) for _, level, message in kept.lines] == [
        ("INFO", "line 1"), ("INFO", "line 2"), ("WARNING", "guest И*** П*** called from +7******4567")]
