"""Calls a push of contacts makes to Bitrix24, and that the portal's leaky bucket is never run over.

10,000 guests (each a name and a phone) are pushed change-only (``hub.pipeline.Push``, as the jobs push) to the
Bitrix24 sandbox, a standard plan's portal (2 requests/s, bursts of 50), on the real clock, twice against the same
state on SQLite:

1. first push: every contact is new. Each is looked for before it is created (find before create: a guest a
   manager already keyed in is updated, never doubled), ``crm.duplicate.findbycomm`` taking 20 phones a command,
   50 commands a ``batch``: ceil(n/1000) lookup batches; then ceil(n/50) batches of 50 ``crm.item.add``;
2. nothing changed: no call at all.

The sandbox counts every call and every one its bucket refused (``QUERY_LIMIT_EXCEEDED``), which must be none.

    .venv/bin/python bench/bitrix24_contacts.py [--contacts 10000]

Exits with 1 if a count differs.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import yaml

from connectors.bitrix24 import Bitrix24Sandbox
from connectors.bitrix24.client import BATCH_LIMIT
from connectors.bitrix24.connector import LOOKUP_BATCH
from connectors.bitrix24.sandbox import CONTACT
from hub.config import load_config
from hub.jobrun import RunContext
from hub.logs import setup_logging
from hub.model import Customer, Entity
from hub.pipeline import Push
from hub.runtime import Runtime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    contacts = parser.parse_args().contacts
    guests = [(f"phone:+7916{n:07d}", Customer(first_name=f"Гость {n}", phones=[f"+7916{n:07d}"]))
              for n in range(contacts)]
    setup_logging("ERROR")
    ok = True
    with tempfile.TemporaryDirectory() as folder, Bitrix24Sandbox() as portal:
        config = {"state": {"url": f"sqlite:///{Path(folder) / 'state.db'}"},
                  "sources": {"crm": {"type": "bitrix24", **portal.source_settings(), "timeout": 60}}}
        (Path(folder) / "hub.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
        print(f"contacts pushed to a Bitrix24 sandbox (2 req/s, burst 50): {contacts:,} guests")
        with Runtime(load_config(Path(folder) / "hub.yaml", env={})) as runtime:
            for label, new in (("first push", contacts), ("nothing changed", 0)):
                before = dict(portal.calls)
                started = time.perf_counter()
                Push(runtime, RunContext(run_id=0, job="bench"), "crm", Entity.CUSTOMERS).run(iter(guests))
                elapsed = time.perf_counter() - started
                made = {method: portal.calls.get(method, 0) - before.get(method, 0) for method in portal.calls}
                batches, calls = made.get("batch", 0), sum(made.get(m, 0) for m in ("batch", "profile"))
                writes, finds = math.ceil(new / BATCH_LIMIT), math.ceil(new / LOOKUP_BATCH)
                right = batches == writes + finds and made.get("crm.item.add", 0) == new and portal.over_limit == 0
                ok = ok and right
                print(f"  {label:<16} new {new:>6,}  batch calls {batches:>4,} (writes {writes:,} + finds before "
                      f"create {finds:,}, {made.get('crm.duplicate.findbycomm', 0):,} lookups of 20 phones)  "
                      f"other calls {calls - batches}  "
                      f"crm.item.add {made.get('crm.item.add', 0):>6,}  refused by the bucket {portal.over_limit}  "
                      f"bucket peak {portal.peak:.0f}/50  {'ok' if right else 'MISMATCH'}  {elapsed:6.1f} s")
        ok = ok and len(portal.items[CONTACT]) == contacts
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
