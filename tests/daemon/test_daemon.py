"""hub daemon in one process: endpoints, the inbound worker, health, metrics, schedules, stopping."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from connectors.testchannel.client import SIGNATURE_HEADER, webhook_signature
from hub.config import load_config
from hub.daemon import Daemon
from hub.daemon.scheduler import TABLE
from hub.errors import FatalError
from hub.state.schema import metadata
from hub.values import json_dumps, json_loads, utcnow
from tests.daemon.conftest import DOCUMENTS, ENV, DaemonStage, wait_for

Stage = Callable[..., DaemonStage]


def post_signed(url: str, body: bytes, *, content_type: str = "application/json",
                secret: str = ENV["SHOP_WEBHOOK_SECRET"]) -> requests.Response:
    return requests.post(url, data=body, timeout=10, headers={
        "Content-Type": content_type, SIGNATURE_HEADER: webhook_signature(secret, body)})


def rejected(stage: DaemonStage) -> list[tuple[bytes, str | None]]:
    with stage.store().transaction() as state:
        rows = state.conn.exec_driver_sql("SELECT id FROM inbox WHERE status = 'rejected' ORDER BY id").all()
        return [(item.body, item.error) for item in (state.inbox.get(r[0]) for r in rows) if item is not None]


def test_an_order_pushed_to_the_endpoint_reaches_1c_as_a_posted_document_at_once(daemon_stage: Stage) -> None:
    stage = daemon_stage()
    stage.sync("customers", "catalog")
    stage.start()
    order = stage.shop.place_order()  # the shop sends its webhook to the daemon

    [document] = wait_for(lambda: stage.documents(order), what="the posted 1C document")
    assert len(document["Товары"]) == len(order["items"])
    # The document lands before its run has written its own ending: wait for that, not for a moment.
    inbound = wait_for(lambda: [r for r in stage.runs() if r.trigger == "inbound" and r.finished_at is not None],
                       what="the inbound run to finish")
    assert inbound[0].job == "orders" and inbound[0].status == "succeeded"
    assert not [r for r in stage.runs() if r.trigger == "schedule"]  # hourly: it was the webhook that moved it


def test_a_repeated_webhook_is_acknowledged_and_creates_nothing(daemon_stage: Stage) -> None:
    stage = daemon_stage()
    stage.sync("customers", "catalog")
    stage.start()
    order = stage.shop.place_order()
    wait_for(lambda: stage.documents(order), what="the 1C document")

    again = stage.shop.send_webhook(order)

    assert again.status_code == 200 and json_loads(again.content) == {"status": "accepted", "repeat": True}
    assert [d["НомерПоДаннымКлиента"] for d in stage.onec.rows(DOCUMENTS)] == [f"shop:{order['id']}"]
    with stage.store().transaction() as state:
        assert state.inbox.count() == 1


def test_a_wrong_signature_gets_401_and_nothing_is_stored(daemon_stage: Stage) -> None:
    stage = daemon_stage()
    stage.start()
    url = stage.shop.webhook_url
    assert url is not None
    body = json_dumps({"id": "1", "items": []}).encode()

    answer = post_signed(url, body, secret="not-the-secret")
    unsigned = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)

    assert answer.status_code == 401 and unsigned.status_code == 401
    assert "X-Shop-Signature" in json_loads(answer.content)["message"]
    with stage.store().transaction() as state:
        assert state.inbox.count() == 0


def test_bad_bodies_get_a_4xx_with_the_reason_and_are_kept(daemon_stage: Stage) -> None:
    stage = daemon_stage(max_body=4096)
    stage.start()
    url = stage.shop.webhook_url
    assert url is not None
    good = stage.shop.place_order()
    wrong_type = json_dumps({**good, "id": "wrong-type", "items": "three coffees"}).encode()
    oversized = json_dumps({**good, "comment": "x" * 10_000}).encode()

    answers = {
        "broken json": post_signed(url, b'{"id": 1, "items": ['),
        "no id": post_signed(url, b'{"items": []}'),
        "wrong type": post_signed(url, wrong_type),
        "media type": post_signed(url, b"id=1", content_type="application/x-www-form-urlencoded"),
        "oversized": post_signed(url, oversized),
    }

    assert {what: a.status_code for what, a in answers.items()} == {
        "broken json": 400, "no id": 400, "wrong type": 400, "media type": 415, "oversized": 413}
    assert "missing field 'id'" in json_loads(answers["no id"].content)["message"]
    assert "items: expected a list of objects, got str" in json_loads(answers["wrong type"].content)["message"]
    kept = rejected(stage)
    assert [body for body, _ in kept] == [b'{"id": 1, "items": [', b'{"items": []}', wrong_type, b"id=1",
                                          oversized[:4096]]
    assert all(reason for _, reason in kept)
    assert "larger than 4096 bytes" in str(kept[-1][1])
    assert not stage.onec.rows(DOCUMENTS)


def test_health_readiness_and_metrics(daemon_stage: Stage) -> None:
    stage = daemon_stage()
    stage.sync("customers", "catalog")
    daemon = stage.start()
    order = stage.shop.place_order()
    wait_for(lambda: stage.documents(order), what="the 1C document")
    wait_for(lambda: any(r.trigger == "inbound" and r.finished_at for r in stage.runs()), what="the run's end")

    assert requests.get(f"{daemon.url}/healthz", timeout=10).status_code == 200
    ready = requests.get(f"{daemon.url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert json_loads(ready.content) == {"status": "ready", "state_db": "ok", "scheduler": "ok", "worker": "ok"}
    missing = requests.get(f"{daemon.url}/nowhere", timeout=10)
    assert missing.status_code == 404 and json_loads(missing.content)["error"] == "not_found"
    scraped = requests.get(f"{daemon.url}/metrics", timeout=10)
    assert scraped.headers["Content-Type"].startswith("text/plain; version=")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(scraped.text) for s in family.samples}

    assert samples[("hub_http_requests_total", (("endpoint", "shop.orders"), ("status", "200")))] == 1
    assert samples[("hub_http_requests_total", (("endpoint", "unmatched"), ("status", "404")))] == 1
    assert samples[("hub_runs_total", (("job", "orders"), ("status", "succeeded"), ("trigger", "inbound")))] >= 1
    assert samples[("hub_records_total", (("job", "orders"), ("result", "created")))] == 1
    assert samples[("hub_inbox_pending", ())] == 0
    assert samples[("hub_dead_letters_open", ())] == 0
    last = samples[("hub_job_last_success_timestamp_seconds", (("job", "orders"),))]
    assert abs(last - utcnow().timestamp()) < 60
    assert ("hub_http_request_duration_seconds_count", (("endpoint", "shop.orders"),)) in samples


def test_readiness_fails_when_the_scheduler_is_not_running(daemon_stage: Stage) -> None:
    stage = daemon_stage()
    daemon = stage.start()
    daemon.scheduler.shutdown(wait=True)

    answer = requests.get(f"{daemon.url}/readyz", timeout=10)

    assert answer.status_code == 503
    assert json_loads(answer.content)["scheduler"] == "not running"


def test_the_scheduler_table_hub_migrates_is_the_one_apscheduler_would_make(daemon_stage: Stage) -> None:
    # Made by a migration so that two daemons starting at once do not both try to make it.
    stage = daemon_stage()
    theirs = SQLAlchemyJobStore(engine=stage.store().engine, tablename=TABLE).jobs_t

    assert inspect(stage.store().engine).has_table(TABLE)
    ours = metadata.tables[TABLE]
    assert [(c.name, type(c.type), c.primary_key, c.nullable, bool(c.index)) for c in ours.columns] == \
        [(c.name, type(c.type), c.primary_key, c.nullable, bool(c.index)) for c in theirs.columns]
    assert [(str(c.type), getattr(c.type, "precision", None)) for c in ours.columns] == \
        [(str(c.type), getattr(c.type, "precision", None)) for c in theirs.columns]


def test_a_daemon_whose_scheduler_cannot_start_says_why_and_leaves_nothing_running(
        daemon_stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    stage = daemon_stage(jobs={"customers": {"type": "customers", "from": "onec", "schedule": {"every": "1h"}}})
    before = {t for t in threading.enumerate() if not t.daemon}

    def unreachable(*_args: object) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(SQLAlchemyJobStore, "start", unreachable)
    daemon = Daemon(load_config(stage.config))
    with pytest.raises(FatalError, match="the scheduler cannot start: the state database said OperationalError"):
        daemon.start()

    # Nothing is left to keep the process from exiting: no server threads, no open port.
    assert {t for t in threading.enumerate() if not t.daemon} == before
    address = urlsplit(daemon.url)
    with pytest.raises(OSError), socket.create_connection((address.hostname, address.port), timeout=2):
        pass


def test_runs_missed_while_the_daemon_was_down_are_made_once(daemon_stage: Stage) -> None:
    jobs = {"customers": {"type": "customers", "from": "onec", "schedule": {"every": "1h"}}}
    stage = daemon_stage(jobs=jobs)
    stage.stop(stage.start())  # schedules the job in the state DB: next run in an hour
    # Five hours pass with hub down: set the stored next run five hours back, as a stopped clock would.
    jobstore = SQLAlchemyJobStore(engine=stage.store().engine, tablename=TABLE)
    jobstore.start(BackgroundScheduler(), "default")
    job = jobstore.lookup_job("customers")
    job.next_run_time = utcnow() - dt.timedelta(hours=5)
    jobstore.update_job(job)

    daemon = stage.start()
    [run] = wait_for(lambda: [r for r in stage.runs() if r.trigger == "schedule" and r.finished_at],
                     what="the coalesced run")

    assert run.status == "succeeded"
    assert run.scheduled_for is not None and utcnow() - dt.timedelta(hours=1) < run.scheduled_for <= utcnow()
    next_run = daemon.scheduler.next_fire_times()["customers"]
    assert next_run is not None and next_run > utcnow() + dt.timedelta(minutes=50)
    assert len([r for r in stage.runs() if r.trigger == "schedule"]) == 1


def test_a_changed_schedule_replaces_the_stored_one_and_a_removed_job_is_unscheduled(daemon_stage: Stage) -> None:
    stage = daemon_stage(jobs={"customers": {"type": "customers", "from": "onec", "schedule": {"every": "1h"}},
                               "catalog": {"type": "catalog", "from": "onec", "to": "shop",
                                           "schedule": {"cron": "0 3 * * *"}}})
    stage.stop(stage.start())
    config = stage.config.read_text().replace("every: 1h", "every: 2h").replace("cron: 0 3 * * *", "cron: 0 4 * * *")
    stage.config.write_text(config.replace("    schedule:\n      cron: 0 4 * * *\n", ""))

    daemon = stage.start()

    fire_times = daemon.scheduler.next_fire_times()
    assert set(fire_times) == {"customers"}
    assert fire_times["customers"] is not None
    assert fire_times["customers"] > utcnow() + dt.timedelta(minutes=110)
