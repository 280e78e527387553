"""Order latency through ``hub daemon``: from a channel's webhook to the posted 1C document.

A 1C sandbox and a testchannel shop run in this process on 127.0.0.1. A
temporary hub.yaml joins them (state on SQLite in the temporary folder unless
``--state-url`` names another database): customers from 1C, the catalog from
1C to the shop, orders from the shop to 1C every 30 s. ``hub sync --source
onec`` runs first, so the shop sells goods hub has linked; then ``hub daemon``
starts as a child process, as in production.

Orders are posted to the daemon's ``/shop/orders`` at ``--rate`` per second for
``--seconds``, on a fixed schedule (the i-th at start + i/rate) from a thread
pool, so one slow answer delays no later order. Each is a new order of the
shop sandbox, signed as the shop signs its webhooks. The 1C sandbox's commit
hook notes the moment each order's document is posted; the bench then waits
up to 30 s for stragglers and counts the documents per channel order.

Reported: orders sent and accepted, how fast the webhook was answered, the
latency from sending to the posted document (p50, p90, p99, max; overall and
per 10 s of sending, which shows a backlog building or a scheduled run's
stall), lost (accepted, no posted document in time), duplicated (more than
one document for one channel order, counted after the daemon stopped), and
how long the daemon took to stop on SIGTERM, with its exit code.

The machine runs the sandboxes, the senders and the daemon at once: on a small
or busy one the bench measures the machine as much as hub.

    .venv/bin/python bench/order_latency.py [--rate 50] [--seconds 60] [--state-url URL] [--log PATH]

Goal: p99 under 1 s, none lost, none duplicated. Exits with 1 if it is missed,
if any order was refused, or if the daemon does not stop cleanly.
"""

from __future__ import annotations

import argparse
import math
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests
import yaml

from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelSandbox
from connectors.testchannel.client import SIGNATURE_HEADER, webhook_signature
from hub.sandbox import SeenRequest
from hub.values import json_dumps

ORDERS = "Document_ЗаказКлиента"
CHANNEL = "shop"
GOAL_P99 = 1.0
"""Seconds from sending an order to its posted 1C document, for 99% of orders."""
STRAGGLERS = 30.0
"""Seconds to wait after the last order for the documents still on their way."""
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
SENDERS = 16
SCHEDULE = "30s"
"""The orders job's schedule: at least one scheduled run falls inside a default run."""
SHARES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
WINDOW = 10.0
"""Seconds of sending per line of the latency-over-time report."""
ENV = {"ONEC_PASSWORD": "sandbox-secret", "SHOP_TOKEN": "shop-secret", "SHOP_WEBHOOK_SECRET": "bench-webhook-secret"}
POSTED = re.compile(rf"/{ORDERS}\(guid'([0-9a-fA-F-]+)'\)/Post$")
LISTENING = re.compile(r"hub daemon listening on (http://\S+)")


@dataclass
class Tracker:
    """When each order was sent, what the daemon answered, and when 1C posted its document."""

    onec: OneCSandbox
    sent: dict[str, float] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    posted: dict[str, float] = field(default_factory=dict)
    answers: list[float] = field(default_factory=list)
    """Seconds the daemon took to answer each webhook."""
    lag: float = 0.0
    """The most an order was sent after its scheduled time: the bench itself falling behind."""
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def on_commit(self, seen: SeenRequest) -> None:
        """The 1C sandbox's hook, called after every committed write and before its answer."""
        now = time.perf_counter()
        match = POSTED.search(seen.path)
        if match is None:
            return
        row = self.onec.objects[ORDERS].get(match.group(1))
        if row is None or row.get("Posted") is not True:
            return
        with self._changed:
            self.posted.setdefault(str(row["НомерПоДаннымКлиента"]), now)
            self._changed.notify_all()

    def note_sent(self, key: str, at: float, scheduled: float, status: int, answered: float) -> None:
        with self._changed:
            self.sent[key] = at
            self.status[key] = status
            self.answers.append(answered - at)
            self.lag = max(self.lag, at - scheduled)

    def accepted(self) -> set[str]:
        with self._changed:
            return {key for key, status in self.status.items() if status == 200}

    def wait_posted(self, keys: set[str], timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: keys <= self.posted.keys(), timeout)

    def latencies(self, keys: set[str]) -> list[tuple[float, float]]:
        """(when it was sent, seconds to its posted document) of each of ``keys`` that was posted."""
        with self._changed:
            return sorted((self.sent[key], self.posted[key] - self.sent[key]) for key in keys if key in self.posted)


class Sender:
    """Posts new shop orders to the daemon's webhook, one HTTP session per thread."""

    def __init__(self, shop: TestChannelSandbox, url: str, tracker: Tracker) -> None:
        self.shop = shop
        self.url = url
        self.tracker = tracker
        self._local = threading.local()

    def send(self, scheduled: float) -> None:
        order = self.shop.place_order()  # the shop's webhook_url is unset: the order is sent here, timed
        body = json_dumps(order).encode()
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: webhook_signature(self.shop.webhook_secret, body)}
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        at = time.perf_counter()
        try:
            status = session.post(self.url, data=body, headers=headers, timeout=10).status_code
        except requests.RequestException:
            status = 0
        self.tracker.note_sent(f"{CHANNEL}:{order['id']}", at, scheduled, status, time.perf_counter())


def write_config(folder: Path, onec: OneCSandbox, shop: TestChannelSandbox, state_url: str) -> Path:
    config = {
        "state": {"url": state_url},
        "system_of_record": "onec",
        "log": {"level": "INFO"},
        "daemon": {"listen": "127.0.0.1:0"},
        "sources": {
            "onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}"},
            CHANNEL: {"type": "testchannel", "url": shop.url, "token": "${SHOP_TOKEN}",
                      "webhook_secret": "${SHOP_WEBHOOK_SECRET}"},
        },
        "jobs": {
            "customers": {"type": "customers", "from": "onec"},
            "catalog": {"type": "catalog", "from": "onec", "to": CHANNEL},
            # Scheduled runs (pull, statuses back) come while orders stream in, as they do in production.
            "orders": {"type": "orders", "from": CHANNEL, "to": "onec", "schedule": {"every": SCHEDULE}},
        },
    }
    path = folder / "hub.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def start_daemon(env: dict[str, str], log: IO[str]) -> tuple[subprocess.Popen[str], str]:
    """``hub daemon`` as a child process, and its base URL from the line it prints once it listens."""
    daemon = subprocess.Popen([sys.executable, "-m", "cli", "daemon"], env=env, stdout=subprocess.PIPE,
                              stderr=log, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:  # read to the end, so the daemon never blocks on a full pipe
        assert daemon.stdout is not None
        for line in daemon.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, name="daemon-stdout", daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        if match := LISTENING.search(line):
            return daemon, match.group(1)
    kill(daemon)
    raise RuntimeError(f"hub daemon did not say it was listening within {START_TIMEOUT:.0f} s "
                       f"(exit code {daemon.returncode})")


def stop_daemon(daemon: subprocess.Popen[str]) -> tuple[int | None, float]:
    """SIGTERM, then its exit code (None if it had to be killed) and the seconds it took to exit."""
    started = time.perf_counter()
    daemon.send_signal(signal.SIGTERM)
    try:
        code: int | None = daemon.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        kill(daemon)
        code = None
    return code, time.perf_counter() - started


def kill(daemon: subprocess.Popen[str]) -> None:
    """Kill the daemon if it still runs (the bench failed, or it ignored SIGTERM)."""
    if daemon.poll() is None:
        daemon.kill()
        daemon.wait()


def daemon_runs(url: str) -> str:
    """The daemon's job runs by trigger and status, from its /metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    runs = re.findall(r'^hub_runs_total\{job="orders",status="(\w+)",trigger="(\w+)"\} (\S+)', text, re.M)
    return ", ".join(f"{trigger} {status} {float(count):.0f}" for status, trigger, count in runs) or "none"


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def windows(timed: list[tuple[float, float]], t0: float) -> list[tuple[float, list[float]]]:
    """Latencies grouped by :data:`WINDOW` of sending: does latency grow as the run goes on?"""
    grouped: dict[int, list[float]] = {}
    for sent, latency in timed:
        grouped.setdefault(max(int((sent - t0) // WINDOW), 0), []).append(latency)
    return [(number * WINDOW, grouped[number]) for number in sorted(grouped)]


def send_orders(sender: Sender, total: int, rate: float) -> tuple[float, float]:
    """Send ``total`` orders, the i-th at start + i/rate; return the start and the seconds until all were answered."""
    with ThreadPoolExecutor(SENDERS, thread_name_prefix="sender") as pool:
        t0 = time.perf_counter() + 0.1
        for number in range(total):
            scheduled = t0 + number / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing of the sends, not a wait for a result
            pool.submit(sender.send, scheduled)
    return t0, time.perf_counter() - t0


@dataclass
class Outcome:
    """What one run measured, for :func:`report`."""

    total: int
    tracker: Tracker
    t0: float
    sending: float
    documents: Counter[str]
    """1C order documents by their ``НомерПоДаннымКлиента``."""
    runs: str
    exit_code: int | None
    stopping: float


def run(args: argparse.Namespace) -> Outcome | None:
    """Sandboxes, config, sync, daemon, orders; None if the first sync failed (its output is printed)."""
    total = round(args.rate * args.seconds)
    with ExitStack() as cleanup:
        folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="hub-bench-")))
        onec = cleanup.enter_context(OneCSandbox(password=ENV["ONEC_PASSWORD"]))
        shop = cleanup.enter_context(TestChannelSandbox(token=ENV["SHOP_TOKEN"]))
        shop.webhook_secret = ENV["SHOP_WEBHOOK_SECRET"]
        state_url = args.state_url or f"sqlite:///{folder / 'state.db'}"
        env = {**os.environ, **ENV, "HUB_CONFIG": str(write_config(folder, onec, shop, state_url))}

        started = time.perf_counter()
        sync = subprocess.run([sys.executable, "-m", "cli", "sync", "--source", "onec"], env=env,
                              capture_output=True, text=True, check=False)
        if sync.returncode != 0:
            print(f"hub sync --source onec failed ({sync.returncode}):\n{sync.stdout}{sync.stderr}")
            return None
        print(f"order latency via hub daemon, {args.rate:g} orders/s for {args.seconds:g} s ({total} orders); "
              f"state {state_url.split(':', 1)[0]}; 1C goods synced and linked in "
              f"{time.perf_counter() - started:.1f} s")

        log = cleanup.enter_context((args.log or folder / "daemon.log").open("w"))
        daemon, url = start_daemon(env, log)
        cleanup.callback(kill, daemon)  # when the bench itself fails; a no-op after stop_daemon
        tracker = Tracker(onec)
        onec.faults.on_commit = tracker.on_commit
        t0, sending = send_orders(Sender(shop, f"{url}/{CHANNEL}/orders", tracker), total, args.rate)
        tracker.wait_posted(tracker.accepted(), STRAGGLERS)
        runs = daemon_runs(url)
        code, stopping = stop_daemon(daemon)
        # Counted once the daemon is gone: a run it finished while stopping may have written more.
        documents = Counter(str(d["НомерПоДаннымКлиента"]) for d in onec.rows(ORDERS))
    return Outcome(total, tracker, t0, sending, documents, runs, code, stopping)


def spread(seconds: list[float]) -> str:
    """The percentiles of :data:`SHARES`, in milliseconds."""
    ordered = sorted(seconds)
    return "  ".join(f"{name} {percentile(ordered, share) * 1000:>5.0f}" for name, share in SHARES)


def report(outcome: Outcome) -> bool:
    """Print the results; True if the goal was met and nothing else went wrong."""
    tracker = outcome.tracker
    accepted = tracker.accepted()
    timed = tracker.latencies(accepted)
    latencies = [latency for _, latency in timed]
    refused = Counter(status for status in tracker.status.values() if status != 200)
    lost = len(accepted) - len(latencies)
    duplicated = sum(1 for key in tracker.sent if outcome.documents[key] > 1)
    p99 = percentile(sorted(latencies), 0.99) if latencies else math.inf
    met = p99 < GOAL_P99 and lost == 0 and duplicated == 0
    stopped = "killed, no exit" if outcome.exit_code is None else f"exit code {outcome.exit_code}"
    rows = [
        ("sent", f"{len(tracker.sent)} in {outcome.sending:.1f} s, at most {tracker.lag * 1000:.0f} ms behind "
                 "schedule"),
        ("accepted", f"{len(accepted)}" + (f", refused {dict(refused)} (status 0: no answer)" if refused else "")),
        ("answered in ms", spread(tracker.answers) if tracker.answers else "-"),
        ("posted in 1C in ms", spread(latencies) if latencies else "-"),
        *((f"  sent at {start:.0f}-{start + WINDOW:.0f} s", spread(window))
          for start, window in windows(timed, outcome.t0)),
        ("lost", f"{lost} (accepted, no posted document {STRAGGLERS:.0f} s after the last send)"),
        ("duplicated", f"{duplicated} (channel orders with more than one 1C document)"),
        ("daemon's orders runs", outcome.runs),
        ("goal", f"p99 < {GOAL_P99 * 1000:.0f} ms, none lost, none duplicated: {'met' if met else 'MISSED'}"),
        ("SIGTERM", f"daemon stopped in {outcome.stopping:.2f} s, {stopped}"),
    ]
    for label, text in rows:
        print(f"  {label:<22}{text}")
    return met and not refused and outcome.exit_code == 0 and len(tracker.sent) == outcome.total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="orders per second (default 50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send (default 60)")
    parser.add_argument("--state-url", help="state database (default: SQLite in a temporary folder)")
    parser.add_argument("--log", type=Path, help="keep the daemon's log in this file (default: thrown away)")
    outcome = run(parser.parse_args())
    return 0 if outcome is not None and report(outcome) else 1


if __name__ == "__main__":
    sys.exit(main())
