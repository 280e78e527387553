"""The daemon's /ui page: users and roles in hub.yaml, sign-in, what each role sees and may do, the audit log.

The role tests drive Debian's chromium headless through selenium against a real daemon on 127.0.0.1, so what is
checked is the page as a browser shows it: a viewer does not even get the buttons an operator has.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import requests
import yaml
from click.testing import CliRunner
from sqlalchemy import update
from werkzeug.test import Client
from werkzeug.wrappers import Request

import cli
from hub.config import load_config
from hub.daemon import ui_view
from hub.daemon.ui import Ui
from hub.daemon.ui_auth import Sessions, hash_password, verify_password
from hub.errors import ConfigError
from hub.runtime import Runtime
from hub.state import InboxStatus, RunCounts, RunStatus, open_store
from hub.state import schema as t
from hub.values import json_dumps, normalize_phone, utcnow
from tests.daemon.browser import Browser, browser_or_skip
from tests.daemon.conftest import DaemonStage, wait_for

Stage = Callable[..., DaemonStage]
PASSWORDS = {"vera": "viewer-password", "oleg": "operator-password", "alla": "admin-password"}
ROLES = {"vera": "viewer", "oleg": "operator", "alla": "admin"}
PHONE_IN_REASON = "+7 916 555-12-34"


# --- users in hub.yaml and hub users add ---------------------------------------------------------


def test_hub_users_add_prints_an_entry_hub_yaml_takes_with_a_hash_of_the_password(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["users", "add", "anna", "--role", "operator"], input="long enough pw\n")

    assert result.exit_code == 0, result.output
    assert "long enough pw" not in result.stdout
    entry = yaml.safe_load(result.stdout)["users"]["anna"]
    assert entry["role"] == "operator" and verify_password("long enough pw", entry["password_hash"])
    assert not verify_password("another password", entry["password_hash"])
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({"sources": {"shop": {"type": "testchannel", "url": "http://127.0.0.1:1",
                                                           "token": "t"}}}) + result.stdout)
    assert load_config(config).users["anna"].role == "operator"


def test_hub_users_add_refuses_a_short_password_and_an_unknown_role() -> None:
    short = CliRunner().invoke(cli.main, ["users", "add", "anna", "--role", "viewer"], input="short\n")
    unknown = CliRunner().invoke(cli.main, ["users", "add", "anna", "--role", "root"], input="long enough pw\n")

    assert short.exit_code == 2 and "shorter than 8" in short.output
    assert unknown.exit_code == 2 and "'root' is not one of 'viewer', 'operator', 'admin'" in unknown.output


def test_a_wrong_role_or_a_plain_password_in_hub_yaml_is_one_line_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("sources:\n  shop: {type: testchannel, url: 'http://127.0.0.1:1', token: t}\n"
                    "users:\n"
                    f"  anna: {{role: owner, password_hash: '{hash_password('long enough pw')}'}}\n"
                    "  boris: {role: viewer, password_hash: secret123}\n"
                    "  vera: {role: viewer, pasword_hash: x}\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    problems = [p.replace(f"{path}:", "hub.yaml:") for p in raised.value.problems]
    assert any(p.startswith("hub.yaml:4:") and "users.anna.role" in p and "'viewer', 'operator' or 'admin'" in p
               for p in problems), problems
    assert any(p.startswith("hub.yaml:5:") and "users.boris.password_hash: not a password hash" in p
               and "hub users add" in p for p in problems), problems
    assert any(p.startswith("hub.yaml:6:") and "users.vera.pasword_hash: unknown key" in p
               and "did you mean 'password_hash'" in p for p in problems), problems


def test_a_session_cookie_cannot_be_forged_or_moved_to_another_daemon() -> None:
    sessions = Sessions()
    cookie = sessions.issue("vera")

    assert sessions.read(cookie) is not None and sessions.read(cookie).user == "vera"  # type: ignore[union-attr]
    body, _, signature = cookie.partition(".")
    assert sessions.read(f"{body}x.{signature}") is None
    assert sessions.read(f"{body}.{signature[:-2]}AA") is None
    assert Sessions().read(cookie) is None  # another process's key: after a restart everyone signs in again


def test_a_cookie_or_csrf_field_with_characters_beyond_ascii_is_refused_not_a_server_error(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({
        "sources": {"shop": {"type": "testchannel", "url": "http://127.0.0.1:1", "token": "t"}},
        "users": {"oleg": {"role": "operator", "password_hash": hash_password(PASSWORDS["oleg"])}}}))
    runtime = cast(Runtime, SimpleNamespace(config=load_config(path)))
    ui = Ui(lambda: runtime, next_runs=dict, wake=lambda: None)
    client = Client(lambda environ, start_response: ui(Request(environ))(environ, start_response))

    client.set_cookie(Sessions.COOKIE, "abc.\u043f")
    forged = client.get("/ui")
    client.set_cookie(Sessions.COOKIE, ui.sessions.issue("oleg"))
    stale = client.post("/ui/logout", data={"csrf": "\u043f"})

    assert forged.status_code == 303 and forged.headers["Location"].startswith("/ui/login")
    assert stale.status_code == 403


# --- the day per channel ----------------------------------------------------------------------------


def test_today_counts_each_order_once_as_in_1c_waiting_or_failed_and_by_local_hour(tmp_path: Path,
                                                                                   state_url: str) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({
        "timezone": "Asia/Yekaterinburg", "state": {"url": state_url},
        "sources": {"shop": {"type": "testchannel", "url": "http://127.0.0.1:1", "token": "t"},
                    "erp": {"type": "testchannel", "url": "http://127.0.0.1:2", "token": "t"}},
        "jobs": {"orders": {"type": "orders", "from": "shop", "to": "erp"}}}))
    config = load_config(path)
    now = dt.datetime(2026, 12, 6, 10, 30, tzinfo=dt.UTC)  # 15:30 in Yekaterinburg (UTC+5)
    store = open_store(config.state.url)
    with store.transaction() as state:
        for external_id, body, hours_ago in [("1", b"a", 1), ("1", b"a again", 0), ("2", b"b", 0),
                                             ("3", b"c", 3), ("old", b"d", 16)]:
            item, _ = state.inbox.add("shop", "orders", body, external_id=external_id)
            state.conn.execute(update(t.inbox).where(t.inbox.c.id == item).values(
                received_at=now - dt.timedelta(hours=hours_ago)))
        state.links.put("shop", "orders", "1", "doc-1")
        state.dead_letters.add(source="shop", entity="orders", external_id="3", stage="decode", reason="bad",
                               payload=b"c")

        day = ui_view.today(state, config, now)
    store.close()

    assert day.since == dt.datetime(2026, 12, 6, tzinfo=config.timezone)
    assert [(c.source, c.received, c.in_onec, c.waiting, c.failed) for c in day.channels] == [("shop", 3, 1, 1, 1)]
    assert len(day.hours) == 16 and day.hours[-1].hour == 15
    assert {hour: n for hour, n in enumerate(day.per_hour["shop"]) if n} == {12: 1, 14: 1, 15: 1}


def test_each_job_has_its_last_run_with_the_error_masked_its_last_success_and_next_run(tmp_path: Path,
                                                                                       state_url: str) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({
        "state": {"url": state_url},
        "sources": {"shop": {"type": "testchannel", "url": "http://127.0.0.1:1", "token": "t"},
                    "erp": {"type": "testchannel", "url": "http://127.0.0.1:2", "token": "t"}},
        "jobs": {"orders": {"type": "orders", "from": "shop", "to": "erp"},
                 "catalog": {"type": "catalog", "from": "erp", "to": "shop"}}}))
    config = load_config(path)
    next_run = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    store = open_store(config.state.url)
    with store.transaction() as state:
        first = state.runs.start("orders", "shop")
        state.runs.finish(first, RunStatus.SUCCEEDED, RunCounts(read=2, created=2))
        second = state.runs.start("orders", "shop")
        state.runs.finish(second, RunStatus.FAILED, RunCounts(read=1, failed=1),
                          f"erp refused the guest with phone {PHONE_IN_REASON}")

        lines = {line.name: line for line in ui_view.jobs(state, config, {"orders": next_run})}
    store.close()

    orders, catalog = lines["orders"], lines["catalog"]
    assert orders.last is not None and orders.last.id == second and orders.last.status == "failed"
    assert orders.last.error_summary == "erp refused the guest with phone +7******1234"
    assert orders.last_success is not None and orders.next_run == next_run and orders.route == "shop → erp"
    assert catalog.last is None and catalog.last_success is None and catalog.next_run is None


# --- in a browser ---------------------------------------------------------------------------------


@dataclass
class Site:
    stage: DaemonStage
    url: str
    browser: Browser
    orders: list[dict[str, Any]]
    letter: int
    """An open dead letter whose reason names a phone."""

    def sign_in(self, user: str) -> None:
        self.browser.sign_in(self.url, user, PASSWORDS[user])

    def audit(self) -> list[tuple[str, str, str, str]]:
        with self.stage.store().transaction() as state:
            return [(a.user, a.role, a.action, a.subject) for a in state.audit.recent()]

    def letter_status(self, letter_id: int) -> str:
        with self.stage.store().transaction() as state:
            letter = state.dead_letters.get(letter_id)
            assert letter is not None
            return letter.status


@pytest.fixture
def site(daemon_stage: Stage) -> Iterator[Site]:
    """A daemon with a viewer, an operator and an admin, after two orders landed in 1C and one failed."""
    with browser_or_skip() as browser:
        stage = daemon_stage()
        config = yaml.safe_load(stage.config.read_text())
        config["users"] = {name: {"role": ROLES[name], "password_hash": hash_password(password)}
                           for name, password in PASSWORDS.items()}
        stage.config.write_text(yaml.safe_dump(config, allow_unicode=True))
        stage.sync("customers", "catalog")
        url = stage.start().url
        orders = [stage.shop.place_order() for _ in range(2)]
        for order in orders:
            wait_for(functools.partial(stage.documents, order), what="the orders in 1C")
        with stage.store().transaction() as state:
            letter = state.dead_letters.add(
                source="shop", entity="orders", external_id="777", stage="decode", payload=b'{"id": "777"}',
                reason=f"1C refused the counterparty with phone {PHONE_IN_REASON}")
            state.inbox.add("shop", "orders", b'{"id": "777"}', external_id="777",
                            status=InboxStatus.DEAD, error="refused")
        yield Site(stage, url, browser, orders, letter)


def test_a_viewer_sees_the_day_and_masked_dead_letters_but_cannot_act_or_see_a_guest(site: Site) -> None:
    site.sign_in("vera")
    page = site.browser

    assert page.text("#who") == "vera (viewer)"
    shop = page.find("#today tr[data-source='shop']")
    assert [shop.find_element("css selector", f".{c}").text for c in ("received", "in-onec", "waiting", "failed")] \
        == ["3", "2", "0", "1"]
    assert page.wait_for("#chart[data-drawn='1'] canvas")  # uPlot drew the hourly chart
    reason = page.text(f"#dead-letters tr[data-letter='{site.letter}'] .reason")
    assert "+7******1234" in reason and "555-12-34" not in reason
    assert not page.all("button.retry") and not page.all("button.dismiss")
    assert page.text("#jobs tr[data-job='orders']").startswith("orders orders shop → onec")

    # Without the buttons, a forged POST with the viewer's own session and CSRF token is still refused.
    csrf = page.find("header input[name='csrf']").get_attribute("value")
    forged = requests.post(f"{site.url}/ui/deadletters/{site.letter}/retry", data={"csrf": csrf},
                           cookies=page.cookies(), allow_redirects=False, timeout=10)
    assert forged.status_code == 403 and site.letter_status(site.letter) == "open"

    page.open(f"{site.url}/ui/guest?contact={site.orders[0]['customer']['phone']}")
    assert "only an admin may do this" in page.text("#problem")
    page.open(f"{site.url}/ui/deadletters/{site.letter}")
    assert "only an admin may do this" in page.text("#problem")
    assert site.audit() == []


def test_signing_in_needs_the_right_password_and_a_post_needs_the_session_csrf_token(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    assert requests.get(f"{site.url}/ui", allow_redirects=False, timeout=10).headers["Location"].startswith(
        "/ui/login")
    site.browser.sign_in(site.url, "operator-password", "not-the-password", expect_failure=True)
    assert site.browser.text("#problem") == "wrong user name or password"
    assert "a failed sign-in from 127.0.0.1" in caplog.text and "operator-password" not in caplog.text

    site.sign_in("oleg")
    no_token = requests.post(f"{site.url}/ui/deadletters/{site.letter}/dismiss", data={"reason": "x"},
                             cookies=site.browser.cookies(), allow_redirects=False, timeout=10)
    assert no_token.status_code == 403 and site.letter_status(site.letter) == "open"
    [cookie] = [c for c in site.browser.driver.get_cookies() if c["name"] == Sessions.COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_an_operator_dismisses_one_dead_letter_and_retries_another_that_then_lands_in_1c(site: Site) -> None:
    # An order that failed to decode and was fixed since (its mapping, say): kept as the channel sent it.
    shop = site.stage.shop
    hook, shop.webhook_url = shop.webhook_url, None
    bad = shop.place_order()
    shop.webhook_url = hook
    body = json_dumps(bad).encode()
    with site.stage.store().transaction() as state:
        item, _ = state.inbox.add("shop", "orders", body, external_id=str(bad["id"]), status=InboxStatus.DEAD,
                                  error="no link for NOPE-404")
        failed = state.dead_letters.add(source="shop", entity="orders", external_id=str(bad["id"]), stage="decode",
                                        reason="no link for NOPE-404", payload=body, inbox_id=item)
    site.sign_in("oleg")
    page = site.browser

    row = page.find(f"#dead-letters tr[data-letter='{site.letter}']")
    row.find_element("css selector", "input[name='reason']").send_keys("entered in 1C by hand")
    page.submit(row.find_element("css selector", "button.dismiss"))
    assert page.text("#notice") == f"dead letter {site.letter} dismissed"
    page.submit(page.find(f"#dead-letters tr[data-letter='{failed}'] button.retry"))
    assert page.text("#notice").startswith(f"dead letter {failed}")

    wait_for(lambda: site.stage.documents(bad), what="the retried order in 1C")
    assert site.letter_status(site.letter) == "dismissed"
    assert [(user, action) for user, _, action, _ in site.audit()] == [
        ("oleg", "dead_letter_retried"), ("oleg", "dead_letter_dismissed")]


def test_an_admin_sees_a_guests_phone_and_orders_and_each_view_is_audited(site: Site) -> None:
    phone = site.orders[0]["customer"]["phone"]
    site.sign_in("alla")
    page = site.browser

    page.open(f"{site.url}/ui/guest?contact={phone}")
    assert normalize_phone(phone) in page.text("#contacts")
    assert f"shop:{site.orders[0]['id']}" in page.text("#orders")
    page.open(f"{site.url}/ui/deadletters/{site.letter}")
    assert '"id": "777"' in page.text("#payload")

    assert [(u, r, a, s) for u, r, a, s in site.audit()] == [
        ("alla", "admin", "dead_letter_payload_viewed", f"dead letter {site.letter}"),
        ("alla", "admin", "guest_viewed", phone)]
    with site.stage.store().transaction() as state:
        [latest, _] = state.audit.recent()
        assert latest.client == "127.0.0.1" and utcnow() - latest.at < dt.timedelta(minutes=5)


def test_a_trace_shows_an_orders_steps_to_a_viewer(site: Site) -> None:
    site.sign_in("vera")
    order = site.orders[0]

    site.browser.open(f"{site.url}/ui/trace?order={order['id']}")

    text = site.browser.text("main")
    assert f"shop:{order['id']}" in text
    assert re.search(r"\d\d\.\d\d \d\d:\d\d:\d\d", text), text  # each step with its local time
