"""The hub command, end to end against the testchannel sandboxes on SQLite."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import cli
import hub
from hub.values import json_loads, zone
from tests.conftest import ChannelPair

pytestmark = pytest.mark.slow


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli.main, ["--config", str(config), *args])


def test_version() -> None:
    result = CliRunner().invoke(cli.main, ["--version"])
    assert result.exit_code == 0
    assert hub.__version__ in result.output


def test_check_reports_every_config_problem_with_its_line_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text(
        "version: 1\n"
        "sources:\n"
        "  shop:\n"
        "    type: testchannel\n"
        "    url: http://127.0.0.1:1\n"
        "    token: ${HUB_TEST_UNSET_TOKEN}\n"
        "    tiemout: 5\n"
        "  erp:\n"
        "    type: testchanel\n"
        "    url: http://127.0.0.1:2\n")
    env = {k: v for k, v in os.environ.items() if k != "HUB_TEST_UNSET_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "cli", "--config", str(config), "check"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        f"error: {config}:6:12: sources.shop.token: environment variable HUB_TEST_UNSET_TOKEN is not set "
        "(referenced as ${HUB_TEST_UNSET_TOKEN}); export it before starting hub",
        f"error: {config}:7:5: sources.shop.tiemout: unknown key; did you mean 'timeout'?",
        f"error: {config}:9:11: sources.erp.type: unknown connector type 'testchanel'; did you mean 'testchannel'?",
    ]
    assert "3 problem(s); nothing was run." in done.stderr


def test_check_prints_a_row_per_source(pair: ChannelPair) -> None:
    result = run(pair.config_file, "check")
    assert result.exit_code == 0, result.output
    assert "2 of 2 source(s) ok." in result.output


def test_check_names_the_failing_source_and_what_to_do(pair: ChannelPair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERP_TOKEN", "wrong")
    result = run(pair.config_file, "check")
    assert result.exit_code == 1
    assert "1 of 2 source(s) ok." in result.output
    assert "check the credentials" in result.output
    assert "wrong" not in result.output.replace("wrong Bearer token", "")


def test_sync_then_status(pair: ChannelPair) -> None:
    for _ in range(12):
        pair.shop.place_order()
    result = run(pair.config_file, "sync", "--source", "shop")
    assert result.exit_code == 0, result.output
    assert "1 run(s); all went through." in result.output
    assert len(pair.erp.orders) == 12

    status = run(pair.config_file, "status", "--json")
    assert status.exit_code == 0, status.output
    report = json_loads(status.output)
    assert report["runs"][0] | {"started_at": None, "finished_at": None, "id": None} == {
        "id": None, "job": "shop-orders", "source": "shop", "status": "succeeded", "dry_run": False,
        "started_at": None, "finished_at": None, "read": 12, "created": 12, "updated": 0, "unchanged": 0,
        "failed": 0, "error_summary": None}
    assert report["outbox_depth"] == {}
    assert report["cursors"][0]["value"] == str(max(o["seq"] for o in pair.shop.orders.values()))
    table = run(pair.config_file, "status")
    assert "shop-orders" in table.output and "succeeded" in table.output
    # Every time in the table is in the configured zone, the cursors' too (the pair's config names none: UTC+3).
    updated = dt.datetime.fromisoformat(report["cursors"][0]["updated_at"]).astimezone(zone("Europe/Moscow"))
    assert f"{updated:%Y-%m-%d %H:%M:%S}" in table.output


def test_dry_run_shows_the_writes_and_makes_none(pair: ChannelPair) -> None:
    first = pair.shop.place_order()
    assert run(pair.config_file, "sync", "--source", "shop").exit_code == 0
    pair.shop.set_status(first["id"], "done")
    second = pair.shop.place_order()
    requests_before = pair.erp.count("POST") + pair.erp.count("PUT")

    result = run(pair.config_file, "sync", "--source", "shop", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"shop:{first['id']}" in result.output and "update" in result.output
    assert f"shop:{second['id']}" in result.output and "create" in result.output
    assert pair.erp.count("POST") + pair.erp.count("PUT") == requests_before
    assert len(pair.erp.orders) == 1
    # the dry run did not move the cursor: a real run still sees both changes
    assert run(pair.config_file, "sync", "--source", "shop").exit_code == 0
    assert len(pair.erp.orders) == 2
    assert pair.erp.orders[next(iter(pair.erp.orders))]["status"] == "done"


def test_a_bad_record_goes_to_dead_letters_and_is_retried_after_the_fix(pair: ChannelPair) -> None:
    good = pair.shop.place_order()
    bad = pair.shop.place_order(status="teleported")
    result = run(pair.config_file, "sync", "--source", "shop")
    assert result.exit_code == 1
    assert "1 record(s) failed." in result.output
    assert Counter(o["client_ref"] for o in pair.erp.orders.values()) == {f"shop:{good['id']}": 1}

    listed = run(pair.config_file, "deadletters", "list")
    assert "unknown status 'teleported'" in listed.output
    shown = run(pair.config_file, "deadletters", "show", "1")
    assert '"teleported"' in shown.output and "decode" in shown.output

    # the "fix": the shop corrects the order; retry reprocesses the kept payload after the repair below
    from hub.state import open_store

    store = open_store(pair.state_url)
    with store.transaction() as state:
        letter = state.dead_letters.get(1)
        assert letter is not None and letter.inbox_id is not None
        state.conn.exec_driver_sql("UPDATE inbox SET body = replace(body, 'teleported', 'paid') WHERE id = ?",
                                   (letter.inbox_id,))
    store.close()
    retried = run(pair.config_file, "deadletters", "retry", "1")
    assert retried.exit_code == 0, retried.output
    assert f"shop:{bad['id']}" in {o["client_ref"] for o in pair.erp.orders.values()}
    assert "0 dead letter(s)." in run(pair.config_file, "deadletters", "list").output


def test_unknown_source_is_a_usage_error(pair: ChannelPair) -> None:
    result = run(pair.config_file, "sync", "--source", "shp")
    assert result.exit_code == 2
    assert "did you mean 'shop'?" in result.output


def test_a_state_db_from_a_newer_hub_is_refused(pair: ChannelPair) -> None:
    from hub.state import open_store

    store = open_store(pair.state_url)
    with store.transaction() as state:
        state.conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    store.close()
    result = run(pair.config_file, "status")
    assert result.exit_code == 2
    assert "revision 9999, which this hub does not know" in result.output


def test_demo_runs_an_order_flow_against_the_sandboxes(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "cli", "demo"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert "cycle 2" in done.stdout
    assert "outbox pending: 0; open dead letters: 0" in done.stdout
    assert done.stdout.count("all went through") == 3
    # Yandex Eda calls hub daemon's endpoints: its orders reach 1C through the demo's sync cycles.
    assert done.stdout.count("Yandex placed order") == 4
    # Each cycle's two orders are written twice: to 1C and to the CRM (Bitrix24), which gathers every channel's.
    assert len(re.findall(r"yandex_eda-orders\s*│\s*yandex_eda\s*│\s*succeeded\s*│\s*0\s*│\s*4\s", done.stdout)) == 2
    # The POS: each cycle a delivery is closed in iiko, and reaches 1C.
    assert len(re.findall(r"iiko-orders\s*│\s*iiko\s*│\s*succeeded\s*│\s*\d+\s*│\s*[1-4]\s", done.stdout)) == 2
    # A 1C that knows only «Обмен с сайтом» uploads its goods, feeds a site, and takes the site's order.
    assert done.stdout.count("1C uploaded") == 2
    assert len(re.findall(r"_of_commerceml_1c-catalog\s*│\s*commerceml_1c\s*│\s*succeeded", done.stdout)) == 2
    # (its site has the goods only after the first cycle's push, so the guest orders in the second)
    # (written to that 1C, and to the CRM that gathers every channel's orders)
    assert len(re.findall(r"_of_commerceml_1c-orders\s*│[^│]*│\s*succeeded\s*│\s*1\s*│\s*2\s", done.stdout)) == 1
    # The console wraps the line: its findings are on the lines that follow, up to the blank one.
    reconciled = " ".join(done.stdout.split("\nreconcile:", 1)[1].split("\n\n", 1)[0].split())
    assert "compared" in reconciled and "receipts" in reconciled, reconciled
    assert "missing" not in reconciled and "mismatch" not in reconciled and "receipt_" not in reconciled, reconciled


def test_sandbox_command_serves_1c_until_terminated() -> None:
    import signal
    import socket

    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "cli", "sandbox", "onec_odata", "--port", str(port)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.strip() == f"onec_odata sandbox on http://127.0.0.1:{port}"
        printed = ""
        while "Ctrl-C stops them." not in printed:
            line = process.stdout.readline()
            assert line, f"the sandbox command ended early:\n{printed}"
            printed += line
        assert "password: sandbox-secret" in printed
        answer = requests.get(f"http://127.0.0.1:{port}/trade/odata/standard.odata/?$format=json",
                              auth=("hub", "sandbox-secret"), timeout=10)
        assert answer.status_code == 200
        assert "Document_ЗаказКлиента" in answer.text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_preview_resolves_lookups_through_a_links_file(tmp_path: Path) -> None:
    order = tmp_path / "order.json"
    order.write_text('{"channel": "shop", "external_id": "7", "created_at": "2026-11-20T09:30:00+00:00", '
                     '"total": "180.00", "lines": [{"product": "CAP-300", "name": "Капучино", "quantity": "1", '
                     '"unit_price": "180.00", "sum": "180.00"}]}')
    mapping = Path(__file__).parent.parent / "mappings" / "onec" / "ut11" / "orders.out.yaml"
    without = CliRunner().invoke(cli.main, ["mappings", "preview", str(mapping), "--input", str(order)])
    assert without.exit_code == 1
    assert "Товары[0].Номенклатура_Key" in without.output
    links = tmp_path / "links.json"
    links.write_text('{"shop:catalog:CAP-300": "24ede6a4-8a6a-11f0-8789-00155d01c80a"}')
    with_links = CliRunner().invoke(cli.main, ["mappings", "preview", str(mapping), "--input", str(order),
                                               "--links", str(links)])
    assert with_links.exit_code == 0, with_links.output
    assert "24ede6a4-8a6a-11f0-8789-00155d01c80a" in with_links.output
    links.write_text('{"shop:catalog:CAP-300": ')
    broken = CliRunner().invoke(cli.main, ["mappings", "preview", str(mapping), "--input", str(order),
                                           "--links", str(links)])
    assert broken.exit_code == 2
    assert f"{links}: not JSON" in broken.output
