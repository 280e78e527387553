"""Guest profiles kept up to date order by order: a run over many orders of many guests, on a real state DB.

Each order is counted into its guest's profile as the orders job does when it links the order to the guest
(:func:`hub.guests.record_order`: one row read, one written, in the transaction that links the order), a batch of
orders per transaction as the job's batches go. Then, on the full table, the cost of one more order in its own
transaction, and a segments pass over every guest (:func:`hub.guests.assign_segments`, the daily job's work).

Guests order through three channels on random days of the last year, one to four of forty goods each, with
totals in kopecks. State on SQLite in a temporary folder unless ``--state-url`` names another database.

    .venv/bin/python bench/guest_profiles.py [--orders 1000000] [--guests 100000] [--batch 200] [--state-url URL]

Reported: orders per second for the whole run, the run's time, and one new order's cost on the full table (p50,
p99 over --single orders). Nothing is asserted: the numbers are for a person to read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from hub.guests import assign_segments, load_segments, record_order
from hub.model import Order
from hub.state import open_store
from hub.values import utcnow

CHANNELS = ("site", "yandex", "hall")
GOODS = [f"good {n}" for n in range(40)]


def an_order(rng: random.Random, n: int, now: dt.datetime) -> Order:
    goods = rng.sample(GOODS, k=rng.randint(1, 4))
    prices = [Decimal(rng.randint(9000, 90000)) / 100 for _ in goods]
    return Order.model_validate({
        "channel": rng.choice(CHANNELS), "external_id": str(n),
        "created_at": now - dt.timedelta(minutes=rng.randint(0, 365 * 24 * 60)), "total": sum(prices),
        "lines": [{"product": g, "name": g, "quantity": 1, "unit_price": p, "sum": p} for g, p in zip(goods, prices,
                                                                                                  strict=True)]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--guests", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200, help="orders per transaction, as the orders job's batch")
    parser.add_argument("--single", type=int, default=1000, help="single orders timed on the full table")
    parser.add_argument("--state-url", help="a database to use (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    rng = random.Random(20)
    now = utcnow()
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(args.state_url or f"sqlite:///{Path(folder) / 'bench.db'}")
        store.migrate()
        started = time.perf_counter()
        made = 0.0
        for first in range(0, args.orders, args.batch):
            t0 = time.perf_counter()
            batch = [(f"guest-{rng.randrange(args.guests)}", an_order(rng, n, now))
                     for n in range(first, min(first + args.batch, args.orders))]
            made += time.perf_counter() - t0
            with store.transaction() as state:
                for guest, order in batch:
                    record_order(state, guest, order)
            if first and first % 100_000 == 0:
                print(f"  {first:>9,} orders, {time.perf_counter() - started:7.1f} s", flush=True)
        whole = time.perf_counter() - started - made
        single = []
        for n in range(args.single):
            order = an_order(rng, args.orders + n, now)
            guest = f"guest-{rng.randrange(args.guests)}"
            t0 = time.perf_counter()
            with store.transaction() as state:
                record_order(state, guest, order)
            single.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        moved = assign_segments(store, load_segments(), now)
        segments = time.perf_counter() - t0
        with store.reading() as state:
            profiles = len(state.guests.page(limit=args.guests + 1))
        store.close()
    single.sort()
    print(f"orders: {args.orders:,} of {profiles:,} guests, {args.batch} a transaction ({store.dialect})")
    print(f"whole run: {whole:.1f} s, {args.orders / whole:,.0f} orders/s, {whole / args.orders * 1e6:.0f} µs an order"
          f" (making the orders, {made:.1f} s, not counted)")
    print(f"one new order on the full table, its own transaction: p50 {statistics.median(single) * 1e3:.2f} ms, "
          f"p99 {single[int(len(single) * 0.99) - 1] * 1e3:.2f} ms")
    print(f"segments pass over every guest: {segments:.1f} s ({moved.entered:,} entered, {moved.left:,} left)")


if __name__ == "__main__":
    main()
