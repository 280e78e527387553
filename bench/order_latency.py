"""Order latency through ``hub daemon``: from a channel's order to the posted 1C document.

A 1C sandbox and a sales channel run in this process on 127.0.0.1, the channel
one of (``--channel``):

* ``yandex`` (the default): the Yandex Eda simulator. hub serves Yandex's
  partner API from the daemon; the bench takes one token up front and sends
  ``POST /order`` as Yandex does, each a new order of one to three dishes
  on sale on the menu hub serves (weighed ones by 0.305 kg, when any is on sale);
* ``shop``: a testchannel shop, whose new orders are posted to the daemon's
  ``/shop/orders`` webhook, signed as the shop signs them.

A temporary hub.yaml joins the two (state on SQLite in the temporary folder
unless ``--state-url`` names another database): customers from 1C, goods
(and for Yandex prices and stock) from 1C to the channel, orders from the
channel to 1C with a run every 30 s. ``hub sync --source onec`` runs first, so
the channel sells goods hub has linked; then ``hub daemon`` starts as a child
process, as in production.

Orders are sent at ``--rate`` per second for ``--seconds``, on a fixed
schedule (the i-th at start + i/rate) from a thread pool, so one slow answer
delays no later order. The 1C sandbox's commit hook notes the moment each
order's document is posted; the bench then waits up to 30 s for stragglers and
counts the documents per channel order.

Reported: orders sent and accepted, how fast the channel's request was
answered, the latency from sending to the posted document (p50, p90, p99, max;
overall and per 10 s of sending, which shows a backlog building or a scheduled
run's stall), lost (accepted, no posted document in time), duplicated (more
than one document for one channel order, counted after the daemon stopped),
the queries hub sent 1C to look orders up before creating them (one per batch,
as many keys as a URL takes, whatever hub's state says), and how long the
daemon took to stop on SIGTERM, with its exit code.

The machine runs the sandboxes, the senders and the daemon at once: on a small
or busy one the bench measures the machine as much as hub.

    .venv/bin/python bench/order_latency.py [--channel {yandex,shop}] [--rate 50] [--seconds 60]
                                            [--state-url URL] [--log PATH]

Goal: p99 under 1 s, none lost, none duplicated. Exits with 1 if it is missed,
if any order was refused, or if the daemon does not stop cleanly.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, ClassVar
from urllib.parse import unquote

import requests
import yaml

from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelSandbox
from connectors.testchannel.client import SIGNATURE_HEADER, webhook_signature
from connectors.yandex_eda import YandexEdaSimulator
from connectors.yandex_eda.sandbox import ORDER_MEDIA_TYPE, VENUE
from hub.sandbox import SeenRequest
from hub.testing.daemons import listening_url
from hub.values import json_dumps, to_decimal

ORDERS = "Document_ЗаказКлиента"
MATCH_BY = "НомерПоДаннымКлиента"
GOAL_P99 = 1.0
"""Seconds from sending an order to its posted 1C document, for 99% of orders."""
STRAGGLERS = 30.0
"""Seconds to wait after the last order for the documents still on their way."""
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
SENDERS = 16
SCHEDULE = "30s"
"""The orders job's schedule: at least one scheduled run falls inside a default run."""
WRITE_CONCURRENCY = 4
"""Orders written to 1C at once (the onec source's write_concurrency), as a production config would set it."""
SHARES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
WINDOW = 10.0
"""Seconds of sending per line of the latency-over-time report."""
ONEC_PASSWORD = "sandbox-secret"
YANDEX_SEED = 1
"""Fixes the simulator's eatsIds and guests, so two runs send the same orders."""
WEIGHED = Decimal("0.305")
"""Kilograms of a weighed dish in an order line: a fraction, as guests order by weight."""
POSTED = re.compile(rf"/{ORDERS}\(guid'([0-9a-fA-F-]+)'\)/Post$")
LOOKUP = f"$filter={MATCH_BY} eq "
"""How a look-up of channel orders in 1C before creating them begins (one query per batch of orders)."""


@dataclass
class Tracker:
    """When each order was sent, what the daemon answered, and when 1C posted its document."""

    onec: OneCSandbox
    sent: dict[str, float] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    posted: dict[str, float] = field(default_factory=dict)
    answers: list[float] = field(default_factory=list)
    """Seconds the daemon took to answer each order."""
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
            self.posted.setdefault(str(row[MATCH_BY]), now)
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


@dataclass(frozen=True)
class Post:
    """One order, ready to send: its 1C ``НомерПоДаннымКлиента``, where it goes, what is sent."""

    key: str
    url: str
    body: bytes
    headers: dict[str, str]


class Channel(ABC):
    """A sales channel the bench sends orders through: its part of hub.yaml, and its new orders."""

    name: str
    """The source's name in hub.yaml, which hub puts before the channel's order id in 1C."""
    description: str
    """What the bench sends, for the report's first line."""
    orders_job: str
    daemon_url: str
    """Where the daemon listens, from :meth:`connect` on."""

    @abstractmethod
    def sources(self) -> dict[str, Any]:
        """The channel's sources for hub.yaml, secrets as ``${ENV}``."""

    @abstractmethod
    def jobs(self) -> dict[str, Any]:
        """Its jobs besides customers; :attr:`orders_job` runs every :data:`SCHEDULE`."""

    @abstractmethod
    def env(self) -> dict[str, str]:
        """The secrets :meth:`sources` names."""

    def connect(self, daemon_url: str) -> str:
        """Get ready to send to the daemon listening at ``daemon_url``, before the clock starts; what it found."""
        self.daemon_url = daemon_url
        return ""

    @abstractmethod
    def next_order(self) -> Post:
        """A new order of the channel; safe to call from several threads at once."""

    def _orders_job(self) -> dict[str, Any]:
        # Scheduled runs (pull, statuses back) come while orders stream in, as they do in production.
        return {"type": "orders", "from": self.name, "to": "onec", "schedule": {"every": SCHEDULE}}


class Shop(Channel):
    """A testchannel shop: each order is signed and posted to the daemon's webhook, as the shop does."""

    name = "shop"
    description = "testchannel shop webhooks (POST /shop/orders)"
    orders_job = "orders"
    secrets: ClassVar[dict[str, str]] = {"SHOP_TOKEN": "shop-secret", "SHOP_WEBHOOK_SECRET": "bench-webhook-secret"}

    def __init__(self, cleanup: ExitStack) -> None:
        self.shop = cleanup.enter_context(TestChannelSandbox(token=self.secrets["SHOP_TOKEN"]))
        self.shop.webhook_secret = self.secrets["SHOP_WEBHOOK_SECRET"]

    def sources(self) -> dict[str, Any]:
        return {self.name: {"type": "testchannel", "url": self.shop.url, "token": "${SHOP_TOKEN}",
                            "webhook_secret": "${SHOP_WEBHOOK_SECRET}"}}

    def jobs(self) -> dict[str, Any]:
        return {"catalog": {"type": "catalog", "from": "onec", "to": self.name}, self.orders_job: self._orders_job()}

    def env(self) -> dict[str, str]:
        return self.secrets

    def next_order(self) -> Post:
        order = self.shop.place_order()  # the shop's webhook_url is unset: the order is sent by the bench, timed
        body = json_dumps(order).encode()
        return Post(f"{self.name}:{order['id']}", f"{self.daemon_url}/{self.name}/orders", body,
                    {"Content-Type": "application/json",
                     SIGNATURE_HEADER: webhook_signature(self.shop.webhook_secret, body)})


class Yandex(Channel):
    """Yandex Eda: hub is its partner server; orders are ``POST /order`` with a bearer token, as Yandex sends them.

    The simulator takes the token and reads the menu once; the orders are then
    sent by the bench's own threads, since the simulator has one HTTP session.
    """

    name = "yandex"
    description = "Yandex Eda POST /yandex/order"
    orders_job = "yandex-orders"

    def __init__(self, cleanup: ExitStack, onec: OneCSandbox) -> None:
        self.yandex = cleanup.enter_context(YandexEdaSimulator(seed=YANDEX_SEED))
        self.onec = onec
        self.settings = self.yandex.source_settings()
        self.secrets = {"YANDEX_SECRET": self.settings["clients"][0]["client_secret"],
                        "VENDOR_SECRET": self.settings["vendor"]["client_secret"]}
        self.headers: dict[str, str] = {}
        self.dishes: list[dict[str, Any]] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def sources(self) -> dict[str, Any]:
        clients = [{**self.settings["clients"][0], "client_secret": "${YANDEX_SECRET}"}]
        vendor = {**self.settings["vendor"], "client_secret": "${VENDOR_SECRET}"}
        return {self.name: {"type": "yandex_eda", **self.settings, "clients": clients, "vendor": vendor,
                            "inbound": {"path": f"/{self.name}"}}}

    def jobs(self) -> dict[str, Any]:
        return {f"{self.name}-catalog": {"type": "catalog", "from": "onec", "to": self.name},
                **{f"{self.name}-{kind}": {"type": kind, "from": "onec", "to": self.name,
                                           "options": self.onec.job_options(kind)} for kind in ("stock", "prices")},
                self.orders_job: self._orders_job()}

    def env(self) -> dict[str, str]:
        return self.secrets

    def connect(self, daemon_url: str) -> str:
        super().connect(daemon_url)
        self.yandex.attach(f"{daemon_url}/{self.name}")
        menu = self.yandex.pull_menu(VENUE)
        stopped = {entry["itemId"] for entry in menu["availability"]["items"]}
        self.dishes = [item for item in menu["composition"]["items"] if item["id"] not in stopped]
        if not self.dishes:
            raise RuntimeError(f"hub's Yandex menu has nothing on sale at {VENUE!r}: no order can be made")
        # Tokens live an hour, longer than any run: one for all the orders.
        self.headers = {"Content-Type": ORDER_MEDIA_TYPE, "Authorization": f"Bearer {self.yandex.get_token()}"}
        weighed = sum(1 for item in self.dishes if item.get("isCatchweight"))
        return f"Yandex took a token and pulled the menu: {len(self.dishes)} dishes on sale, {weighed} weighed"

    def next_order(self) -> Post:
        with self._lock:  # the simulator's random numbers and eatsIds are one sequence
            number = next(self._numbers)
            order = self.yandex.make_order(self._lines(number), restaurant_id=VENUE)
        return Post(f"{self.name}:{order['eatsId']}", f"{self.daemon_url}/{self.name}/order",
                    json_dumps(order).encode(), self.headers)

    def _lines(self, number: int) -> list[tuple[str, str, Decimal, Decimal]]:
        """One to three dishes, going round the menu, so each is ordered, weighed ones by :data:`WEIGHED`."""
        count = min(number % 3 + 1, len(self.dishes))
        chosen = [self.dishes[(number + offset) % len(self.dishes)] for offset in range(count)]
        return [(item["id"], item["name"], WEIGHED if item.get("isCatchweight") else Decimal(number % 2 + 1),
                 to_decimal(item["price"])) for item in chosen]


CHANNELS = ("yandex", "shop")


def open_channel(name: str, cleanup: ExitStack, onec: OneCSandbox) -> Channel:
    """The channel ``--channel`` names, its sandbox started and stopped with ``cleanup``."""
    return Yandex(cleanup, onec) if name == "yandex" else Shop(cleanup)


class Sender:
    """Posts new orders of a channel to the daemon, one HTTP session per thread."""

    def __init__(self, channel: Channel, tracker: Tracker) -> None:
        self.channel = channel
        self.tracker = tracker
        self._local = threading.local()

    def send(self, scheduled: float) -> None:
        post = self.channel.next_order()
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        at = time.perf_counter()
        try:
            status = session.post(post.url, data=post.body, headers=post.headers, timeout=10).status_code
        except requests.RequestException:
            status = 0
        self.tracker.note_sent(post.key, at, scheduled, status, time.perf_counter())


def write_config(folder: Path, onec: OneCSandbox, channel: Channel, state_url: str) -> Path:
    config = {
        "state": {"url": state_url},
        "system_of_record": "onec",
        "log": {"level": "INFO"},
        "daemon": {"listen": "127.0.0.1:0"},
        "sources": {
            "onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}",
                     "write_concurrency": WRITE_CONCURRENCY},
            **channel.sources(),
        },
        "jobs": {"customers": {"type": "customers", "from": "onec"}, **channel.jobs()},
    }
    path = folder / "hub.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def start_daemon(env: dict[str, str], log: IO[str]) -> tuple[subprocess.Popen[str], str]:
    """``hub daemon`` as a child process, and its base URL from the line it prints once it listens."""
    daemon = subprocess.Popen([sys.executable, "-m", "cli", "daemon"], env=env, stdout=subprocess.PIPE,
                              stderr=log, text=True)
    url = listening_url(daemon, timeout=START_TIMEOUT)
    if url is not None:
        return daemon, url
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


def daemon_runs(url: str, job: str) -> str:
    """The daemon's runs of ``job`` by trigger and status, from its /metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    runs = re.findall(rf'^hub_runs_total\{{job="{re.escape(job)}",status="(\w+)",trigger="(\w+)"\}} (\S+)', text,
                      re.M)
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
    lookups: int
    """Queries hub sent 1C to look orders up before creating them."""


def run(args: argparse.Namespace) -> Outcome | None:
    """Sandboxes, config, sync, daemon, orders; None if the first sync failed (its output is printed)."""
    total = round(args.rate * args.seconds)
    with ExitStack() as cleanup:
        folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="hub-bench-")))
        onec = cleanup.enter_context(OneCSandbox(password=ONEC_PASSWORD))
        channel = open_channel(args.channel, cleanup, onec)
        state_url = args.state_url or f"sqlite:///{folder / 'state.db'}"
        env = {**os.environ, "ONEC_PASSWORD": ONEC_PASSWORD, **channel.env(),
               "HUB_CONFIG": str(write_config(folder, onec, channel, state_url))}

        started = time.perf_counter()
        sync = subprocess.run([sys.executable, "-m", "cli", "sync", "--source", "onec"], env=env,
                              capture_output=True, text=True, check=False)
        if sync.returncode != 0:
            print(f"hub sync --source onec failed ({sync.returncode}):\n{sync.stdout}{sync.stderr}")
            return None
        print(f"order latency via hub daemon, channel {channel.name}: {channel.description}")
        print(f"{args.rate:g} orders/s for {args.seconds:g} s ({total} orders); "
              f"state {state_url.split(':', 1)[0]}; 1C goods synced and linked in "
              f"{time.perf_counter() - started:.1f} s")

        log = cleanup.enter_context((args.log or folder / "daemon.log").open("w"))
        daemon, url = start_daemon(env, log)
        cleanup.callback(kill, daemon)  # when the bench itself fails; a no-op after stop_daemon
        if said := channel.connect(url):
            print(f"  {said}")
        tracker = Tracker(onec)
        onec.faults.on_commit = tracker.on_commit
        t0, sending = send_orders(Sender(channel, tracker), total, args.rate)
        tracker.wait_posted(tracker.accepted(), STRAGGLERS)
        runs = daemon_runs(url, channel.orders_job)
        code, stopping = stop_daemon(daemon)
        # Counted once the daemon is gone: a run it finished while stopping may have written more.
        documents = Counter(str(d[MATCH_BY]) for d in onec.rows(ORDERS))
        lookups = sum(1 for r in onec.requests if r.method == "GET" and LOOKUP in unquote(r.query))
    return Outcome(total, tracker, t0, sending, documents, runs, code, stopping, lookups)


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
        ("1C look-ups", f"{outcome.lookups} queries for {len(outcome.documents)} documents "
                        f"({len(outcome.documents) / max(outcome.lookups, 1):.1f} orders a query)"),
        ("daemon's orders runs", outcome.runs),
        ("goal", f"p99 < {GOAL_P99 * 1000:.0f} ms, none lost, none duplicated: {'met' if met else 'MISSED'}"),
        ("SIGTERM", f"daemon stopped in {outcome.stopping:.2f} s, {stopped}"),
    ]
    for label, text in rows:
        print(f"  {label:<22}{text}")
    return met and not refused and outcome.exit_code == 0 and len(tracker.sent) == outcome.total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channel", choices=CHANNELS, default="yandex",
                        help="send Yandex Eda POST /order calls or testchannel shop webhooks (default yandex)")
    parser.add_argument("--rate", type=float, default=50.0, help="orders per second (default 50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send (default 60)")
    parser.add_argument("--state-url", help="state database (default: SQLite in a temporary folder)")
    parser.add_argument("--log", type=Path, help="keep the daemon's log in this file (default: thrown away)")
    outcome = run(parser.parse_args())
    return 0 if outcome is not None and report(outcome) else 1


if __name__ == "__main__":
    sys.exit(main())
