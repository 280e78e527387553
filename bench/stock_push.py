"""Write calls of the stock job: one per batch of changed levels, none when nothing changed.

A 1C sandbox is seeded with 100,000 goods held in two warehouses (200,000
balances); the goods are pushed to a testchannel sandbox as the catalog job
does, which links them. Then the stock job (warehouse → venue, both venues)
runs three times against the same state on SQLite:

1. first push: every level is new;
2. 1% of the goods changed: goods arrive for 1,000 of them in both warehouses;
3. nothing changed.

The café the 1C sandbox comes with has goods of its own that are not linked:
the job skips them (its log would say so). The testchannel sandbox counts the ``PUT /api/v1/stock`` calls; each run must
make exactly ceil(changed levels / the channel's batch limit) of them.

    .venv/bin/python bench/stock_push.py [--goods 100000]

Exits with 1 if a run's write calls differ from that.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from connectors.onec_odata import OneCSandbox
from connectors.testchannel import TestChannelConnector, TestChannelSandbox
from hub.config import load_config
from hub.jobrun import RunContext, run_job
from hub.logs import setup_logging
from hub.model import Entity, Product
from hub.pipeline import Push
from hub.runtime import Runtime

STOCK = "/api/v1/stock"


def synthetic_goods(goods: int) -> Iterator[str]:
    """The references :meth:`OneCSandbox.seed_stock` gives its goods (one per warehouse pair of balances)."""
    for number in range(goods):
        yield f"{number:08x}-0000-11f0-8000-00155d01c80b"


def config_file(folder: Path, onec: OneCSandbox, shop: TestChannelSandbox) -> Path:
    kitchen, hall = (row["Ref_Key"] for row in onec.rows(onec.presets[0].warehouses))
    config = {
        "state": {"url": f"sqlite:///{folder / 'state.db'}"},
        "system_of_record": "erp",
        "sources": {"erp": {"type": "onec_odata", **onec.source_settings(), "timeout": 300},
                    "shop": {"type": "testchannel", **shop.source_settings()}},
        "jobs": {"stock": {"type": "stock", "from": "erp", "to": "shop",
                           "options": {"venues": {"cafe": kitchen, "store": hall}}}},
    }
    path = folder / "hub.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--goods", type=int, default=100_000)
    goods = parser.parse_args().goods
    limit = TestChannelConnector.batch_limits[Entity.STOCK]
    changed_goods = goods // 100
    ok = True
    setup_logging("ERROR")
    with tempfile.TemporaryDirectory() as folder, OneCSandbox() as onec, TestChannelSandbox() as shop:
        warehouses = len(onec.rows(onec.presets[0].warehouses))
        onec.seed_stock(goods * warehouses)
        with Runtime(load_config(config_file(Path(folder), onec, shop), env={})) as runtime:
            started = time.perf_counter()
            ctx = RunContext(run_id=0, job="bench-catalog")
            Push(runtime, ctx, "shop", Entity.CATALOG).run(
                (ref, Product(id=ref, name=f"Товар {ref[:8]}")) for ref in synthetic_goods(goods))
            print(f"stock push to testchannel (batch limit {limit}), {goods:,} goods x {warehouses} venues; "
                  f"catalog pushed and linked in {time.perf_counter() - started:.1f} s")
            steps = [("first push", goods * warehouses, None),
                     ("1% changed", changed_goods * warehouses, changed_goods * warehouses),
                     ("nothing changed", 0, None)]
            for label, changed, seed in steps:
                if seed is not None:
                    onec.seed_stock(seed)  # the first goods again: their balances go up in both warehouses
                calls = shop.count("PUT", STOCK)
                started = time.perf_counter()
                info, _ = run_job(runtime, "stock")
                elapsed = time.perf_counter() - started
                made, expected = shop.count("PUT", STOCK) - calls, math.ceil(changed / limit)
                ok = ok and made == expected and info.status == "succeeded"
                pushed = info.counts.created + info.counts.updated
                print(f"  {label:<16} levels changed {changed:>7,}  pushed {pushed:>7,}  "
                      f"write calls {made:>5,}  ceil(changed/{limit}) {expected:>5,}  "
                      f"{'ok' if made == expected else 'MISMATCH'}  {elapsed:6.1f} s ({info.counts.read:,} read)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
