"""Two ``hub daemon`` processes sharing one PostgreSQL state DB land every channel order in 1C exactly once.

Issue 15's claim: two orders jobs writing to one 1C, run by two daemons at once
on one state database, never lose an order and never write one twice. This
bench stages exactly that on 127.0.0.1, on ephemeral ports:

* a 1C sandbox, a testchannel shop and the Yandex Eda simulator, in this process;
* a throwaway PostgreSQL server for hub's state (``hub.testing.postgres``);
* a hub.yaml with two orders jobs into the one 1C, each scheduled every
  ``--every`` seconds: ``shop-orders`` (the shop, pulled on schedule and pushed
  by webhook) and ``yandex-orders`` (Yandex posts its orders to hub);
* ``hub sync --source onec`` once (goods linked, Yandex's menu priced and in
  stock), then two ``hub daemon`` processes, A and B, on that same hub.yaml.

For ``--seconds``, each channel places ``--rate`` orders a second:

* the shop sends each new order's signed webhook to A, then B, then to nobody
  (a lost webhook, which only a scheduled pull of ``shop-orders`` can find);
* Yandex posts each order to A, then B (one token for both: tokens live in the
  shared state); a refused or unanswered post goes again, byte for byte, to the
  other daemon, as Yandex retries.

Then the bench waits up to ``--deadline`` seconds until every placed order has
a posted document in 1C, lets two more ticks of the schedule pass, stops both
daemons with SIGTERM and counts 1C's documents per order key (the preset's
``match_by`` field: ``НомерПоДаннымКлиента`` in УТ 11). Reported per channel:
orders placed, documents in 1C, lost (placed, no document) and duplicated (more
than one document); then each daemon's runs and the documents it created. For a
lost or duplicated order the report shows what the state DB holds about it: its
outbox rows with their claims, its id link, its journey's events.

``--sqlite`` runs the same orders through ONE daemon with both jobs on SQLite,
the setup SQLite is for: every post goes to it, every other shop webhook to nobody.

    .venv/bin/python bench/two_daemons.py [--seconds 60] [--rate 2] [--every 2] [--deadline 60]
                                          [--sqlite] [--log-dir DIR]

Goal: none lost, none duplicated. Exits with 1 if it is missed, or if a daemon
does not stop cleanly (exit code 0 within a minute of SIGTERM). Everything it
started (daemons, PostgreSQL, sandboxes) is stopped on the way out, on Ctrl-C
and on failure too.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import func, select

from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelSandbox
from connectors.testchannel.client import SIGNATURE_HEADER, webhook_signature
from connectors.yandex_eda import YandexEdaSimulator
from connectors.yandex_eda.sandbox import ORDER_MEDIA_TYPE, VENUE
from hub.config import bundled_mappings
from hub.mapping import load_unbound
from hub.state import open_store
from hub.state.schema import events, id_links, outbox, runs
from hub.testing.daemons import listening_url
from hub.testing.postgres import PostgresUnavailable, postgres_server
from hub.values import json_dumps, to_decimal

REPO = Path(__file__).resolve().parents[1]
ONEC_PASSWORD = "sandbox-secret"
SHOP_SECRETS = {"SHOP_TOKEN": "shop-secret", "SHOP_WEBHOOK_SECRET": "bench-webhook-secret"}
YANDEX_SEED = 1
"""Fixes the simulator's eatsIds and guests, so two runs place the same orders."""
WEIGHED = Decimal("0.305")
"""Kilograms of a weighed dish in a Yandex order line."""
WRITE_CONCURRENCY = 4
"""Orders written to 1C at once by each run, as config/hub.yaml sets it."""
POST_TRIES = 3
"""How often Yandex posts one order before giving up on it, each try to the next daemon."""
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
SETTLE_TICKS = 2
"""Ticks of the schedule to let pass once every order is in 1C, so a late second write could still show."""
SHOWN = 10
"""Lost or duplicated orders shown in detail; the rest are only counted."""


class BenchFailed(Exception):
    """The stage could not be set up; the goal was not checked."""


@dataclass
class Placed:
    """One order a channel placed: its key in hub and 1C, and which daemons it was sent to."""

    channel: str
    key: str
    sent_to: list[str] = field(default_factory=list)
    """Daemon names, in the order of the tries; empty when the order was only left for a pull."""
    accepted: bool = False
    """Whether a daemon answered 200 (a pulled order counts as not sent, not as refused)."""


# --- the hub daemon processes ---------------------------------------------------------------------


class Daemon:
    """One ``hub daemon`` child process, named A or B in the report."""

    def __init__(self, name: str, config: Path, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("w") as stderr:  # the child keeps its own copy of the file
            self.process = subprocess.Popen([sys.executable, "-m", "cli", "--config", str(config), "daemon"],
                                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.url = self._wait_listening()

    def _wait_listening(self) -> str:
        """The base URL from the line the daemon prints once it listens."""
        url = listening_url(self.process, timeout=START_TIMEOUT)
        if url is not None:
            return url
        self.kill()
        raise BenchFailed(f"hub daemon {self.name} did not say it was listening within {START_TIMEOUT:.0f} s "
                          f"(exit code {self.process.returncode}); its log:\n{self.log.read_text()[-3000:]}")

    @property
    def worker(self) -> str:
        """How the state DB's runs name this process: ``host:pid``, of which the pid is enough here."""
        return str(self.process.pid)

    def stop(self) -> tuple[int | None, float]:
        """SIGTERM; its exit code (None if it had to be killed) and the seconds it took."""
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        return code, time.perf_counter() - started

    def kill(self) -> None:
        """Kill it if it still runs (the bench failed, or it ignored SIGTERM); a no-op after :meth:`stop`."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# --- the channels ---------------------------------------------------------------------------------


class Shop:
    """The testchannel shop: orders it keeps (pulled by ``shop-orders``) and signed webhooks to a daemon."""

    name = "shop"
    job = "shop-orders"

    def __init__(self, cleanup: ExitStack) -> None:
        self.shop = cleanup.enter_context(TestChannelSandbox(token=SHOP_SECRETS["SHOP_TOKEN"]))
        self.shop.webhook_secret = SHOP_SECRETS["SHOP_WEBHOOK_SECRET"]
        self.session = requests.Session()
        cleanup.callback(self.session.close)
        self.targets: Iterator[Daemon | None] = iter(())
        """Where each new order's webhook goes, from :meth:`connect` on."""

    def sources(self) -> dict[str, Any]:
        return {self.name: {"type": "testchannel", "url": self.shop.url, "token": "${SHOP_TOKEN}",
                            "webhook_secret": "${SHOP_WEBHOOK_SECRET}"}}

    def jobs(self, every: str) -> dict[str, Any]:
        return {"shop-catalog": {"type": "catalog", "from": "onec", "to": self.name},
                self.job: {"type": "orders", "from": self.name, "to": "onec", "schedule": {"every": every}}}

    def env(self) -> dict[str, str]:
        return SHOP_SECRETS

    def connect(self, daemons: list[Daemon]) -> str:
        """Webhooks go round the daemons and one more place, nobody: that order waits for a pull."""
        self.targets = itertools.cycle([*daemons, None])
        return (f"shop: webhooks to {', '.join(d.name for d in daemons)}, nobody in turn "
                "(nobody: only a scheduled pull finds that order)")

    def place(self) -> Placed:
        # The shop's webhook_url stays unset: the shop only keeps the order, and the bench sends its webhook.
        order = self.shop.place_order()
        placed = Placed(self.name, f"{self.name}:{order['id']}")
        daemon = next(self.targets)
        if daemon is None:
            return placed
        body = json_dumps(order).encode()
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: webhook_signature(self.shop.webhook_secret, body)}
        placed.sent_to.append(daemon.name)
        placed.accepted = post(self.session, f"{daemon.url}/{self.name}/orders", body, headers) == 200
        return placed


class Yandex:
    """Yandex Eda: hub is its partner server; each order is ``POST /order`` with a bearer token."""

    name = "yandex"
    job = "yandex-orders"

    def __init__(self, cleanup: ExitStack, onec: OneCSandbox) -> None:
        self.yandex = cleanup.enter_context(YandexEdaSimulator(seed=YANDEX_SEED))
        self.onec = onec
        self.settings = self.yandex.source_settings()
        self.session = requests.Session()
        cleanup.callback(self.session.close)
        self.numbers = itertools.count()
        self.targets: Iterator[Daemon] = iter(())
        """Where each new order goes, from :meth:`connect` on."""
        self.dishes: list[dict[str, Any]] = []
        self.headers: dict[str, str] = {}

    def sources(self) -> dict[str, Any]:
        clients = [{**self.settings["clients"][0], "client_secret": "${YANDEX_SECRET}"}]
        vendor = {**self.settings["vendor"], "client_secret": "${VENDOR_SECRET}"}
        return {self.name: {"type": "yandex_eda", **self.settings, "clients": clients, "vendor": vendor,
                            "inbound": {"path": f"/{self.name}"}}}

    def jobs(self, every: str) -> dict[str, Any]:
        return {"yandex-catalog": {"type": "catalog", "from": "onec", "to": self.name},
                **{f"yandex-{kind}": {"type": kind, "from": "onec", "to": self.name,
                                      "options": self.onec.job_options(kind)} for kind in ("stock", "prices")},
                self.job: {"type": "orders", "from": self.name, "to": "onec", "schedule": {"every": every}}}

    def env(self) -> dict[str, str]:
        return {"YANDEX_SECRET": self.settings["clients"][0]["client_secret"],
                "VENDOR_SECRET": self.settings["vendor"]["client_secret"]}

    def connect(self, daemons: list[Daemon]) -> str:
        """Take one token and read the menu from the first daemon; orders then go round all of them."""
        self.targets = itertools.cycle(daemons)
        self.yandex.attach(f"{daemons[0].url}/{self.name}")
        menu = self.yandex.pull_menu(VENUE)
        stopped = {entry["itemId"] for entry in menu["availability"]["items"]}
        self.dishes = [item for item in menu["composition"]["items"] if item["id"] not in stopped]
        if not self.dishes:
            raise BenchFailed(f"hub's Yandex menu has nothing on sale at {VENUE!r}: no order can be made")
        self.headers = {"Content-Type": ORDER_MEDIA_TYPE, "Authorization": f"Bearer {self.yandex.get_token()}"}
        return (f"yandex: took a token from {daemons[0].name}, {len(self.dishes)} dishes on sale; "
                f"orders to {', '.join(d.name for d in daemons)} in turn")

    def place(self) -> Placed:
        order = self.yandex.make_order(self._lines(next(self.numbers)), restaurant_id=VENUE)
        placed = Placed(self.name, f"{self.name}:{order['eatsId']}")
        body = json_dumps(order).encode()
        for _ in range(POST_TRIES):  # as Yandex does: the same bytes again until one daemon takes it
            daemon = next(self.targets)
            placed.sent_to.append(daemon.name)
            if post(self.session, f"{daemon.url}/{self.name}/order", body, self.headers) == 200:
                placed.accepted = True
                break
        return placed

    def _lines(self, number: int) -> list[tuple[str, str, Decimal, Decimal]]:
        """One to three dishes, going round the menu; weighed ones by :data:`WEIGHED`."""
        count = min(number % 3 + 1, len(self.dishes))
        chosen = [self.dishes[(number + offset) % len(self.dishes)] for offset in range(count)]
        return [(item["id"], item["name"], WEIGHED if item.get("isCatchweight") else Decimal(number % 2 + 1),
                 to_decimal(item["price"])) for item in chosen]


Channel = Shop | Yandex


def post(session: requests.Session, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and return the status; 0 when no answer came."""
    try:
        return session.post(url, data=body, headers=headers, timeout=10).status_code
    except requests.RequestException:
        return 0


def place_orders(channel: Channel, rate: float, seconds: float, stop: threading.Event, out: list[Placed]) -> None:
    """Place the channel's orders into ``out``, the i-th at start + i/rate, until ``seconds`` have passed."""
    start = time.monotonic()
    for number in itertools.count():
        due = start + number / rate
        if due - start >= seconds or stop.wait(max(due - time.monotonic(), 0)):
            return
        out.append(channel.place())


# --- hub.yaml and 1C ------------------------------------------------------------------------------


def write_config(folder: Path, state_url: str, onec: OneCSandbox, channels: list[Channel], every: str) -> Path:
    config = {
        "state": {"url": state_url},
        "system_of_record": "onec",
        "log": {"level": "INFO"},
        "daemon": {"listen": "127.0.0.1:0"},
        "sources": {"onec": {"type": "onec_odata", **onec.source_settings(), "password": "${ONEC_PASSWORD}",
                             "write_concurrency": WRITE_CONCURRENCY},
                    **{name: source for channel in channels for name, source in channel.sources().items()}},
        "jobs": {"customers": {"type": "customers", "from": "onec"},
                 **{name: job for channel in channels for name, job in channel.jobs(every).items()}},
    }
    path = folder / "hub.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


@dataclass(frozen=True)
class OrdersIn1C:
    """Where the preset writes channel orders: the 1C object and the field that carries hub's order key."""

    target: str
    match_by: str

    @classmethod
    def of_preset(cls, preset: str) -> OrdersIn1C:
        mapping = load_unbound(bundled_mappings() / "onec" / preset / "orders.out.yaml")
        if mapping.target is None or mapping.match_by is None:
            raise BenchFailed(f"preset {preset!r}'s orders mapping names no target or no match_by")
        return cls(mapping.target, mapping.match_by)

    def documents(self, onec: OneCSandbox) -> dict[str, list[dict[str, Any]]]:
        """1C's documents by the order key they carry."""
        found: dict[str, list[dict[str, Any]]] = {}
        for row in onec.rows(self.target):
            found.setdefault(str(row[self.match_by]), []).append(row)
        return found

    def wait_all_posted(self, onec: OneCSandbox, keys: set[str], deadline: float) -> float | None:
        """Seconds until every key has a document and every document is posted; None at the deadline."""
        started = time.monotonic()
        while True:
            documents = self.documents(onec)
            if all(key in documents and all(row["Posted"] for row in documents[key]) for key in keys):
                return time.monotonic() - started
            if time.monotonic() - started > deadline:
                return None
            time.sleep(0.5)  # a poll interval inside the deadline


# --- what the state DB says -----------------------------------------------------------------------


def runs_by_daemon(state_url: str, daemons: list[Daemon]) -> list[tuple[str, str]]:
    """Per orders job and daemon, its runs by trigger (and any that did not succeed); then the documents
    each daemon created, from the ``created`` events of its runs."""
    names = {daemon.worker: daemon.name for daemon in daemons}

    def daemon_of(worker: str | None) -> str:
        return names.get((worker or "").rpartition(":")[2], f"other ({worker})")

    store = open_store(state_url)
    try:
        with store.reading() as state:
            ran = state.conn.execute(
                select(runs.c.job, runs.c.worker, runs.c.trigger, runs.c.status, func.count())
                .where(runs.c.job.endswith("-orders"), runs.c.trigger != "manual")  # not the bench's first sync
                .group_by(runs.c.job, runs.c.worker, runs.c.trigger, runs.c.status)).all()
            created = state.conn.execute(
                select(events.c.source, runs.c.worker, func.count())
                .join(runs, runs.c.id == events.c.run_id)
                .where(events.c.entity == "orders", events.c.stage == "created")
                .group_by(events.c.source, runs.c.worker)).all()
    finally:
        store.close()
    by_job: dict[str, dict[str, Counter[str]]] = {}
    for job, worker, trigger, status, count in ran:
        counter = by_job.setdefault(job, {}).setdefault(daemon_of(worker), Counter())
        counter[trigger] += count
        if status != "succeeded":
            counter[f"{trigger} {status}"] += count
    rows = [(f"{job} runs", "; ".join(f"{name}: " + ", ".join(f"{n} {what}" for what, n in sorted(counter.items()))
                                       for name, counter in sorted(daemons_runs.items())))
            for job, daemons_runs in sorted(by_job.items())]
    made: dict[str, Counter[str]] = {}
    for source, worker, count in created:
        made.setdefault(source, Counter())[daemon_of(worker)] += count
    rows += [(f"{source} created by", ", ".join(f"{name} {n}" for name, n in sorted(counter.items())))
             for source, counter in sorted(made.items())]
    return rows


def explain(state_url: str, daemons: list[Daemon], keys: list[str], documents: dict[str, list[dict[str, Any]]],
            in_1c: OrdersIn1C) -> None:
    """Print what 1C and the state DB hold about each of ``keys``: documents, outbox rows and claims, links,
    the order's journey (each step with the daemon whose run made it)."""
    names = {daemon.worker: daemon.name for daemon in daemons}
    store = open_store(state_url)
    try:
        with store.reading() as state:
            workers = {run_id: names.get(str(worker).rpartition(":")[2], str(worker))
                       for run_id, worker in state.conn.execute(select(runs.c.id, runs.c.worker))}
            for key in keys:
                channel, _, external_id = key.partition(":")
                print(f"  {key}")
                for row in documents.get(key, []):
                    print(f"    1C {in_1c.target} Ref_Key {row['Ref_Key']} Number {row.get('Number')} "
                          f"Posted {row['Posted']}")
                for item in state.conn.execute(select(outbox).where(outbox.c.key == key)).mappings():
                    print(f"    outbox #{item['id']} → {item['target']}: {item['status']}, attempts "
                          f"{item['attempts']}, ref {item['ref']}, claimed_by {item['claimed_by']} until "
                          f"{item['claimed_until']}, last_error {item['last_error']}")
                for link in state.conn.execute(select(id_links).where(
                        id_links.c.system == channel, id_links.c.entity == "orders",
                        id_links.c.external_id == external_id)).mappings():
                    print(f"    id link {link['system']}:{link['external_id']} → {link['ref']}")
                for step in state.events.of("orders", key):
                    run = f"run {step.run_id} ({workers.get(step.run_id, '?')})" if step.run_id else "no run"
                    print(f"    {step.at:%H:%M:%S.%f} {step.stage:<12} {run}: {step.detail}")
    finally:
        store.close()


# --- the bench ------------------------------------------------------------------------------------


def start_postgres(cleanup: ExitStack) -> str:
    """A throwaway PostgreSQL server for the block; the URL of its empty database."""
    try:
        return cleanup.enter_context(postgres_server())
    except (PostgresUnavailable, pytest.skip.Exception) as exc:  # it skips tests where PostgreSQL is missing
        raise BenchFailed(f"no PostgreSQL server for the state DB: {exc}") from None


@dataclass
class Outcome:
    """What one run found, for :func:`report`."""

    placed: list[Placed]
    documents: dict[str, list[dict[str, Any]]]
    waited: float | None
    stops: dict[str, tuple[int | None, float]]
    runs: list[tuple[str, str]]


def run(args: argparse.Namespace) -> bool:
    """Set up the stage, place orders, wait for 1C, stop everything; print the report. True if the goal was met."""
    with ExitStack() as cleanup:
        folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="hub-two-daemons-")))
        logs = args.log_dir or folder
        logs.mkdir(parents=True, exist_ok=True)
        state_url = f"sqlite:///{folder / 'state.db'}" if args.sqlite else start_postgres(cleanup)
        onec = cleanup.enter_context(OneCSandbox(password=ONEC_PASSWORD))
        in_1c = OrdersIn1C.of_preset(onec.source_settings()["preset"])
        channels: list[Channel] = [Shop(cleanup), Yandex(cleanup, onec)]
        every = f"{args.every:g}s"
        config = write_config(folder, state_url, onec, channels, every)
        env = {**os.environ, "ONEC_PASSWORD": ONEC_PASSWORD,
               **{name: value for channel in channels for name, value in channel.env().items()}}

        sync = subprocess.run([sys.executable, "-m", "cli", "--config", str(config), "sync", "--source", "onec"],
                              cwd=REPO, env=env, capture_output=True, text=True, check=False)
        if sync.returncode != 0:
            raise BenchFailed(f"hub sync --source onec failed ({sync.returncode}):\n{sync.stdout}{sync.stderr}")
        daemons: list[Daemon] = []
        for name in ("A",) if args.sqlite else ("A", "B"):
            daemons.append(Daemon(name, config, env, logs / f"daemon-{name}.log"))
            cleanup.callback(daemons[-1].kill)  # daemons go before the state DB they write to
        database = "SQLite" if args.sqlite else "PostgreSQL"
        print(f"{len(daemons)} hub daemon(s) on one {database} state DB; shop-orders and yandex-orders into one 1C "
              f"every {every}; {args.rate:g} orders/s per channel for {args.seconds:g} s")
        for channel in channels:
            print(f"  {channel.connect(daemons)}")

        stop = threading.Event()
        cleanup.callback(stop.set)  # on Ctrl-C or a failure the channels stop placing orders
        placed: dict[str, list[Placed]] = {channel.name: [] for channel in channels}
        placing = [threading.Thread(target=place_orders, name=f"place-{channel.name}", daemon=True,
                                    args=(channel, args.rate, args.seconds, stop, placed[channel.name]))
                   for channel in channels]
        for thread in placing:
            thread.start()
        for thread in placing:
            thread.join()

        everything = [order for orders in placed.values() for order in orders]
        waited = in_1c.wait_all_posted(onec, {order.key for order in everything}, args.deadline)
        if waited is not None:
            time.sleep(SETTLE_TICKS * args.every)  # more scheduled runs over orders already in 1C
        stops = {daemon.name: daemon.stop() for daemon in daemons}
        # Counted once the daemons are gone: a run one finished while stopping may have written more.
        outcome = Outcome(everything, in_1c.documents(onec), waited, stops, runs_by_daemon(state_url, daemons))
        met = report(outcome, args)
        wrong = [order.key for order in everything if len(outcome.documents.get(order.key, [])) != 1]
        if wrong:
            print(f"lost or duplicated, as 1C and the state DB have them (first {SHOWN}):")
            explain(state_url, daemons, wrong[:SHOWN], outcome.documents, in_1c)
        if args.log_dir:
            print(f"daemon logs: {', '.join(str(d.log) for d in daemons)}")
        return met


def report(outcome: Outcome, args: argparse.Namespace) -> bool:
    """Print the table; True if nothing was lost or duplicated and every daemon stopped cleanly."""
    print(f"  {'channel':<10}{'placed':>8}{'in 1C':>8}{'lost':>6}{'duplicated':>12}   sent to")
    lost_total = duplicated_total = 0
    for channel in ("shop", "yandex", "all"):
        orders = [o for o in outcome.placed if channel in ("all", o.channel)]
        counts = [len(outcome.documents.get(order.key, [])) for order in orders]
        lost, duplicated = sum(1 for n in counts if n == 0), sum(1 for n in counts if n > 1)
        sent = Counter(order.sent_to[0] if order.sent_to else "nobody (pull)" for order in orders)
        tried_again = sum(1 for order in orders if len(order.sent_to) > 1)
        refused = sum(1 for order in orders if order.sent_to and not order.accepted)
        said = ", ".join(f"{name} {n}" for name, n in sorted(sent.items()))
        said += f"; {tried_again} posted again" if tried_again else ""
        said += f"; {refused} never accepted" if refused else ""
        print(f"  {channel:<10}{len(orders):>8}{sum(counts):>8}{lost:>6}{duplicated:>12}   "
              f"{said if channel != 'all' else ''}".rstrip())
        if channel == "all":
            lost_total, duplicated_total = lost, duplicated
    for label, text in outcome.runs:
        print(f"  {label:<22}{text}")
    waited = (f"all posted {outcome.waited:.1f} s after the last order" if outcome.waited is not None
              else f"NOT all posted within {args.deadline:g} s of the last order")
    print(f"  {'1C':<22}{waited}")
    stopped = all(code == 0 for code, _ in outcome.stops.values())
    print(f"  {'SIGTERM':<22}" + ", ".join(
        f"{name} {'killed' if code is None else f'exit {code}'} in {seconds:.1f} s"
        for name, (code, seconds) in outcome.stops.items()))
    met = lost_total == 0 and duplicated_total == 0 and len(outcome.placed) > 0
    print(f"  {'goal':<22}none lost, none duplicated: {'met' if met else 'MISSED'}")
    return met and stopped


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends the bench as Ctrl-C does: through the cleanup that stops every process it started."""
    raise KeyboardInterrupt


def positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=positive, default=60.0, help="how long to place orders (default 60)")
    parser.add_argument("--rate", type=positive, default=2.0, help="orders per second per channel (default 2)")
    parser.add_argument("--every", type=positive, default=2.0,
                        help="seconds between scheduled runs of each orders job (default 2)")
    parser.add_argument("--deadline", type=positive, default=60.0,
                        help="seconds after the last order to wait for every order in 1C (default 60)")
    parser.add_argument("--sqlite", action="store_true", help="one daemon with both jobs on SQLite state instead")
    parser.add_argument("--log-dir", type=Path, help="keep the daemons' logs in this folder (default: thrown away)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return 0 if run(args) else 1
    except BenchFailed as exc:
        print(f"two_daemons: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("two_daemons: interrupted; everything it started is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
