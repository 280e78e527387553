"""``hub demo``: the sandboxes of every installed connector, a temporary config and state DB, real sync cycles.

Everything runs in this process on 127.0.0.1 with ephemeral ports; nothing
outside a temporary folder is touched. The system of record is the installed
connector that declares itself one (``Connector.system_of_record``); until a
1C connector is installed, a second instance of a writable channel stands in
for it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hub.config import load_config
from hub.connector import Connector, Mode
from hub.jobs import RunContext
from hub.model import Entity
from hub.operations import SourceCheck, check_sources, status, sync
from hub.reconcile import Report, reconcile
from hub.registry import connector_types
from hub.runtime import Runtime
from hub.sandbox import Sandbox
from hub.state import RunInfo

SECRET_KEYS = ("token", "password", "secret", "api_key", "client_secret")


@dataclass
class DemoReport:
    """What the demo did, for the CLI to print."""

    workdir: Path
    checks: list[SourceCheck] = field(default_factory=list)
    cycles: list[tuple[list[str], list[tuple[RunInfo, RunContext]]]] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    reconciled: Report | None = None


@dataclass
class _Cast:
    sandboxes: dict[str, Sandbox]
    types: dict[str, str]
    channels: list[str]
    record: str


def _cast(types: dict[str, type[Connector]]) -> _Cast:
    with_sandbox = {name: cls for name, cls in sorted(types.items()) if cls.sandbox() is not None}
    cast = _Cast({}, {}, [], "")
    for type_name, cls in with_sandbox.items():
        if cls.system_of_record:
            cast.record = type_name
        elif cls.can(Entity.ORDERS, Mode.PULL) or cls.can(Entity.ORDERS, Mode.PUSH):
            cast.channels.append(type_name)
    if not cast.record:  # no 1C connector yet: a writable channel plays the system of record
        cast.record = next(n for n, c in with_sandbox.items() if c.can(Entity.ORDERS, Mode.WRITE))
    for role, type_name in [("erp", cast.record), *((c, c) for c in cast.channels)]:
        sandbox = types[type_name].sandbox()
        assert sandbox is not None
        cast.sandboxes[role] = sandbox
        cast.types[role] = type_name
    cast.channels = [c for c in cast.sandboxes if c != "erp"]
    return cast


def _write_config(workdir: Path, cast: _Cast) -> Path:
    sources: dict[str, Any] = {}
    for role, sandbox in cast.sandboxes.items():
        settings: dict[str, Any] = {"type": cast.types[role]}
        for key, value in sandbox.source_settings().items():
            if key in SECRET_KEYS:  # secrets travel through the environment, as in production
                variable = f"HUB_DEMO_{role.upper()}_{key.upper()}"
                os.environ[variable] = str(value)
                settings[key] = f"${{{variable}}}"
            else:
                settings[key] = value
        settings["retry"] = {"attempts": 3, "backoff": 0.05, "max_backoff": 0.5}
        settings["timeout"] = 10
        sources[role] = settings
    config = {
        "version": 1,
        "state": {"url": f"sqlite:///{workdir / 'hub-state.db'}"},
        "timezone": "Europe/Moscow",
        "system_of_record": "erp",
        "log": {"level": "WARNING"},
        "sources": sources,
        "jobs": _jobs(cast),
    }
    path = workdir / "hub.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _jobs(cast: _Cast) -> dict[str, Any]:
    """The jobs a real installation would run: 1C's customers indexed, its data out to every channel that
    takes it, and every channel's orders in."""
    record = connector_types()[cast.types["erp"]]
    jobs: dict[str, Any] = {}
    if record.can(Entity.CUSTOMERS, Mode.PULL):
        jobs["customers"] = {"type": "customers", "from": "erp", "schedule": {"every": "1h"}}
    for channel in cast.channels:
        connector = connector_types()[cast.types[channel]]
        for job_type, entity, every in (("catalog", Entity.CATALOG, "15m"), ("stock", Entity.STOCK, "1m"),
                                        ("prices", Entity.PRICES, "5m")):
            options = cast.sandboxes["erp"].job_options(job_type)
            if options is not None and record.can(entity, Mode.PULL) and connector.can(entity, Mode.WRITE):
                jobs[f"{channel}-{job_type}"] = {"type": job_type, "from": "erp", "to": channel,
                                                 "schedule": {"every": every}, **({"options": options} if options
                                                                                  else {})}
        jobs[f"{channel}-orders"] = {"type": "orders", "from": channel, "to": "erp", "schedule": {"every": "1m"},
                                     "options": {"create_customers": record.can(Entity.CUSTOMERS, Mode.WRITE)}}
    return jobs


def run_demo(*, workdir: Path | None = None, cycles: int = 2,
             on_step: Callable[[str], None] = lambda _: None) -> DemoReport:
    """Start the sandboxes, write a config, run ``cycles`` sync cycles with activity in between."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="hub-demo-"))
    cast = _cast(connector_types())
    for sandbox in cast.sandboxes.values():
        sandbox.start()
    try:
        config_path = _write_config(workdir, cast)
        on_step("sandboxes up: " + ", ".join(f"{r}={s.url}" for r, s in cast.sandboxes.items()))
        on_step(f"config written to {config_path}")
        report = DemoReport(workdir=workdir)
        with Runtime(load_config(config_path)) as runtime:
            report.checks = check_sources(runtime)
            # The first cycle finds the goods of the system of record and pushes them to the channels,
            # so the guests of the next cycles order goods that 1C knows.
            report.cycles.append((["nothing yet: hub indexes 1C's customers and fills the channels from 1C"],
                                  sync(runtime, "erp")))
            for _ in range(cycles):
                happened = [f"{role}: {line}" for role, sandbox in cast.sandboxes.items()
                            for line in sandbox.demo_activity()]
                runs = [run for c in cast.channels for run in sync(runtime, c)]
                report.cycles.append((happened, runs))
            final = status(runtime.store)
            report.outbox, report.dead_letters = final.outbox, final.dead_letters
            report.reconciled = reconcile(runtime)
        return report
    finally:
        for sandbox in cast.sandboxes.values():
            sandbox.stop()
