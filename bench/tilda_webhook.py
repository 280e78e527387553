"""How fast hub daemon answers Tilda's cart webhook: p50 and p99 over a run of posts.

Tilda waits 5 s for the answer (its FAQ says 7 s) and then tries again twice, a minute apart; hub keeps the raw
body and answers ``ok`` before anything decodes it. A temporary hub.yaml holds one tilda source on SQLite (in the
temporary folder, unless ``--state-url`` names another database) and no jobs, so only the answer is measured;
``hub daemon`` runs in this process. ``--posts`` carts (1000 by default) are posted one after another, the shapes
in turn (form-encoded flat keys, ``payment`` as JSON text, JSON), each a new order; then every one is checked to
be in the inbox once.

    .venv/bin/python bench/tilda_webhook.py [--posts 1000] [--state-url URL]

Goal: p99 under 1 s. Exits with 1 if it is missed, or if an order was not answered 200 ``ok`` or not kept once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import requests
import yaml

from connectors.tilda.sandbox import PROJECT, SECRET, SHAPES, encode
from hub.config import load_config
from hub.daemon import Daemon
from hub.runtime import Runtime

GOAL_P99 = 1.0


def cart(number: int) -> dict[str, object]:
    products = [{"name": "Капучино 300 мл", "quantity": Decimal(1 + number % 3), "price": Decimal("190"),
                 "amount": Decimal(190 * (1 + number % 3)), "externalid": "capp-300", "sku": "CAP300",
                 "options": [{"option": "Молоко", "variant": "Овсяное", "price": Decimal(40)}]}]
    return {"Name": "Анна", "Phone": "+7 (916) 555-01-01", "Email": "anna@example.ru", "formid": "form1",
            "formname": "Cart", "payment": {"orderid": str(1_000_000 + number), "products": products,
                                            "amount": products[0]["amount"], "sys": "none", "systranid": "0"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--state-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hub-bench-tilda-") as folder:
        config = {"state": {"url": args.state_url or f"sqlite:///{Path(folder) / 'state.db'}"},
                  "log": {"level": "WARNING"}, "daemon": {"listen": "127.0.0.1:0"},
                  "sources": {"tilda": {"type": "tilda", "projects": {PROJECT: {"secret": SECRET}}}}, "jobs": {}}
        path = Path(folder) / "hub.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        daemon = Daemon(load_config(path))
        url = f"{daemon.start()}/tilda/{PROJECT}/{SECRET}"
        seconds, wrong = [], 0
        try:
            with requests.Session() as session:
                for number in range(args.posts):
                    body, content_type = encode(cart(number), SHAPES[number % len(SHAPES)])
                    started = time.perf_counter()
                    answer = session.post(url, data=body, headers={"Content-Type": content_type}, timeout=10)
                    seconds.append(time.perf_counter() - started)
                    wrong += (answer.status_code, answer.text) != (200, "ok")
        finally:
            daemon.stop()
        with Runtime(load_config(path)) as runtime, runtime.store.reading() as state:
            kept = state.inbox.count()
    cuts = statistics.quantiles(seconds, n=100)
    p50, p99 = cuts[49], cuts[98]
    print(f"{args.posts} posts: answer p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {max(seconds) * 1000:.1f} "
          f"ms; not answered 200 ok: {wrong}; kept in the inbox: {kept}")
    return 0 if p99 < GOAL_P99 and not wrong and kept == args.posts else 1


if __name__ == "__main__":
    sys.exit(main())
