"""How fast the 1C OData client streams a big stock register, and that its memory stays flat.

Seeds a 1C sandbox with N goods-and-warehouse balances, then reads them through
``OneCClient.balance`` (``$top``/``$skip`` pages over a stable order) and reports
rows per second and the client's peak memory (tracemalloc) for N = 10,000 and
100,000. The sandbox runs in a child process so that only the client's memory is
traced. Memory must not grow with N: the client holds one page at a time.

    .venv/bin/python bench/onec_odata_read.py [--page-size 1000]

Exits with 1 if the peak at 100,000 rows is more than 1.5 times the peak at 10,000.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import tracemalloc
from multiprocessing.connection import Connection

from connectors.onec_odata import OneCClient, OneCSandbox
from hub.http import HttpClient
from hub.values import zone

SIZES = (10_000, 100_000)
GROWTH_ALLOWED = 1.5


def serve(rows: int, pipe: Connection) -> None:
    """Child process: a sandbox with ``rows`` extra balances, until the parent says stop."""
    with OneCSandbox() as onec:
        register = onec.seed_stock(rows)
        pipe.send((onec.service_root, onec.username, onec.password, register))
        pipe.recv()


def read(root: str, username: str, password: str, register: str, page_size: int) -> tuple[int, float, int]:
    """Rows read, seconds taken and the traced peak in bytes."""
    with HttpClient(base_url=root, source="bench-1c", timeout=120, auth=(username, password)) as http:
        client = OneCClient(http, timezone=zone("Europe/Moscow"), page_size=page_size)
        tracemalloc.start()
        started = time.perf_counter()
        count = sum(1 for _ in client.balance(register, orderby="Номенклатура_Key,Склад_Key"))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return count, elapsed, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page-size", type=int, default=1000)
    page_size = parser.parse_args().page_size
    context = multiprocessing.get_context("spawn")
    peaks: list[int] = []
    print(f"1C OData Balance read, page size {page_size}")
    for size in SIZES:
        ours, theirs = context.Pipe()
        child = context.Process(target=serve, args=(size, theirs), daemon=True)
        child.start()
        try:
            root, username, password, register = ours.recv()
            count, elapsed, peak = read(root, username, password, register, page_size)
        finally:
            ours.send("stop")
            child.join(timeout=10)
        peaks.append(peak)
        print(f"  {size:>7,} seeded: {count:>7,} rows in {elapsed:6.2f} s = {count / elapsed:>8,.0f} rows/s, "
              f"client peak {peak / 1024 / 1024:6.2f} MiB")
    growth = peaks[-1] / peaks[0]
    verdict = "flat" if growth <= GROWTH_ALLOWED else "GROWS WITH THE ROW COUNT"
    print(f"  peak memory x{growth:.2f} from {SIZES[0]:,} to {SIZES[-1]:,} rows: {verdict}")
    return 0 if growth <= GROWTH_ALLOWED else 1


if __name__ == "__main__":
    sys.exit(main())
