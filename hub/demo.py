"""``hub demo``: the sandboxes of every installed connector, a temporary config and state DB, real sync cycles.

Everything runs in this process on 127.0.0.1 with ephemeral ports; nothing
outside a temporary folder is touched. The system of record is the installed
connector that declares itself one (``Connector.system_of_record``); until a
1C connector is installed, a second instance of a writable channel stands in
for it.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hub.config import HubConfig, load_config
from hub.connector import Connector, Mode
from hub.daemon import Daemon
from hub.fiscal import REQUIRED, Fiscal, fiscalized_here
from hub.guests import every_profile
from hub.jobrun import RunContext, run_job
from hub.logs import mask_phone
from hub.model import Entity, Product
from hub.operations import SourceCheck, check_sources, status, sync
from hub.pipeline import snapshot
from hub.reconcile import Report, reconcile
from hub.registry import connector_types
from hub.runtime import Runtime
from hub.sandbox import Sandbox
from hub.state import RunInfo, RunStatus
from hub.streams import StreamConnector


@dataclass
class DemoReport:
    """What the demo did, for the CLI to print."""

    workdir: Path
    checks: list[SourceCheck] = field(default_factory=list)
    cycles: list[tuple[list[str], list[tuple[RunInfo, RunContext]]]] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    reconciled: Report | None = None

    @property
    def handoff(self) -> str:
        """The command that shows what the demo left in its state DB, as it runs from a new shell."""
        return f"{_hub_command()} --config {shlex.quote(str(self.workdir / 'hub.yaml'))} status"

    @property
    def unsuccessful(self) -> list[RunInfo]:
        """The runs that failed, stopped or went through only in part."""
        return [info for _, runs in self.cycles for info, _ in runs if info.status != RunStatus.SUCCEEDED]

    @property
    def went_through(self) -> bool:
        return all(check.ok for check in self.checks) and not self.unsuccessful


@dataclass
class _Cast:
    sandboxes: dict[str, Sandbox]
    types: dict[str, str]
    channels: list[str]
    record: str
    feeds: dict[str, str] = field(default_factory=dict)
    """Another 1C (one that only uploads, as «Обмен с сайтом» does) → the channel it alone feeds in the demo."""
    fiscal: str | None = None
    """The role of the cloud cash register that prints the receipts of the channels' paid orders, if one is
    installed."""


ONEC_VARIANTS = {"odata": "onec_odata", "soap": "onec_soap"}
"""How the demo's 1C publishes its integration (``hub demo --onec``): the standard OData interface or a web service.
The one chosen is the system of record; the other sits the demo out."""


def _cast(types: dict[str, type[Connector]], onec: str = "odata") -> _Cast:
    chosen = ONEC_VARIANTS[onec]
    with_sandbox = {name: cls for name, cls in sorted(types.items()) if cls.sandbox() is not None
                    and (name == chosen or name not in ONEC_VARIANTS.values())}
    records = [name for name, cls in with_sandbox.items() if cls.system_of_record]
    cast = _Cast({}, {}, [name for name, cls in with_sandbox.items() if not cls.system_of_record
                              and (cls.can(Entity.ORDERS, Mode.PULL) or cls.can(Entity.ORDERS, Mode.PUSH))], "")
    if chosen in records:
        cast.record = chosen
    elif records:  # the 1C hub reads itself (its customers too) is the system of record; the others feed a channel
        cast.record = max(records, key=lambda name: with_sandbox[name].can(Entity.CUSTOMERS, Mode.PULL))
    else:  # no 1C connector yet: a writable channel plays the system of record
        cast.record = next(n for n, c in with_sandbox.items() if c.can(Entity.ORDERS, Mode.WRITE))
    fed = next((c for c in cast.channels if with_sandbox[c].can(Entity.CATALOG, Mode.WRITE)
                and not _gathers(with_sandbox[c])), "")  # a CRM's goods come from the 1C it gathers for
    others = [r for r in records if r != cast.record] if fed else []
    for role, type_name in [("erp", cast.record), *((c, c) for c in cast.channels),
                            *((r, r) for r in others), *((f"{fed}_of_{r}", fed) for r in others)]:
        sandbox = types[type_name].sandbox()
        assert sandbox is not None
        cast.sandboxes[role] = sandbox
        cast.types[role] = type_name
    cast.feeds = {r: f"{fed}_of_{r}" for r in others}
    cast.channels = [c for c in cast.sandboxes if c != "erp" and c not in cast.feeds]
    registers = [name for name, cls in with_sandbox.items() if issubclass(cls, StreamConnector)
                 and any(issubclass(stream, Fiscal) for stream in cls.streams)]
    if registers:
        sandbox = types[registers[0]].sandbox()
        assert sandbox is not None
        cast.fiscal, cast.sandboxes["kkt"], cast.types["kkt"] = "kkt", sandbox, registers[0]
    return cast


def _hub_command() -> str:
    """How a new shell runs this hub: ``hub`` when that is the one on its PATH, else the full path to it."""
    script = Path(sys.executable).parent / "hub"
    if not script.is_file():  # not installed as a script here (Windows names it hub.exe)
        return f"{shlex.quote(sys.executable)} -m cli"
    found = shutil.which("hub")
    return "hub" if found and Path(found).resolve() == script.resolve() else shlex.quote(str(script))


_DEMO_ONLY = """\
# Written by hub demo for its sandboxes. Their passwords and tokens are written here as they are, so that
# hub --config <this file> status works from any shell; in a real hub.yaml they come from the environment:
# password: ${ONEC_PASSWORD}
"""


def _write_config(workdir: Path, cast: _Cast) -> Path:
    sources: dict[str, Any] = {}
    for role, sandbox in cast.sandboxes.items():
        settings: dict[str, Any] = {"type": cast.types[role], **sandbox.source_settings()}
        if role == cast.fiscal:
            settings = _company_from_1c(settings)
        settings["retry"] = {"attempts": 3, "backoff": 0.05, "max_backoff": 0.5}
        settings["timeout"] = 10
        sources[role] = settings
    config = {
        "version": 1,
        "state": {"url": f"sqlite:///{workdir / 'hub-state.db'}"},
        "timezone": "Europe/Moscow",
        "system_of_record": "erp",
        "log": {"level": "WARNING"},
        "daemon": {"listen": "127.0.0.1:0"},
        "sources": sources,
        "jobs": _gathered(_jobs(cast), cast),
    }
    path = workdir / "hub.yaml"
    path.write_text(_DEMO_ONLY + yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _company_from_1c(settings: dict[str, Any]) -> dict[str, Any]:
    """The cash register's settings without the company it can do without: the receipts job reads it from the 1C
    sandbox's organization card (OrangeData keeps its INN, which names its account)."""
    model = connector_types()[settings["type"]].settings_model
    return {key: value for key, value in settings.items()
            if key not in REQUIRED or model.model_fields[key].is_required()}


def _jobs(cast: _Cast) -> dict[str, Any]:
    """The jobs a real installation would run: 1C's customers indexed, its data out to every channel that
    takes it, and every channel's orders in."""
    record = connector_types()[cast.types["erp"]]
    jobs: dict[str, Any] = {}
    if record.can(Entity.CUSTOMERS, Mode.PULL):
        jobs["customers"] = {"type": "customers", "from": "erp", "schedule": {"every": "1h"}}
    fed_by = {channel: source for source, channel in cast.feeds.items()}
    for channel in cast.channels:
        source = fed_by.get(channel, "erp")
        record = connector_types()[cast.types[source]]
        connector = connector_types()[cast.types[channel]]
        for job_type, entity, every in (("catalog", Entity.CATALOG, "15m"), ("stock", Entity.STOCK, "1m"),
                                        ("prices", Entity.PRICES, "5m")):
            options = cast.sandboxes[source].job_options(job_type)
            if options is not None and record.can(entity, Mode.PULL) and connector.can(entity, Mode.WRITE):
                jobs[f"{channel}-{job_type}"] = {"type": job_type, "from": source, "to": channel,
                                                 "schedule": {"every": every}, **({"options": options} if options
                                                                                  else {})}
        jobs[f"{channel}-orders"] = {"type": "orders", "from": channel, "to": source, "schedule": {"every": "1m"},
                                     "options": {"create_customers": record.can(Entity.CUSTOMERS, Mode.WRITE)}}
        if connector.can(Entity.ORDERS, Mode.STATUS) and record.can(Entity.ORDERS, Mode.PULL):
            jobs[f"{channel}-statuses"] = {"type": "statuses", "from": source, "to": channel,
                                           "schedule": {"every": "1m"}}
    if cast.fiscal is not None and (shops := _shops(cast)):
        jobs["receipts"] = {"type": "receipts", "from": "erp", "to": cast.fiscal, "schedule": {"every": "1m"},
                            "options": {"channels": shops}}
    return jobs


def _shops(cast: _Cast) -> list[str]:
    """The channels whose paid orders get receipts in the demo: those a guest can order given goods in whose orders
    reach the demo's 1C (not a feed of another 1C), when the system of record can weigh an order's good and close
    the order. An aggregator that prints its own receipts is left out, as the receipts job leaves it."""
    def can(role: str, *names: str) -> bool:
        return set(names) <= {action.name for action in cast.sandboxes[role].actions()}

    types = connector_types()
    shops = [c for c in cast.channels if can(c, "place-order") and c not in cast.feeds.values()]
    return fiscalized_here(shops, lambda c: types[cast.types[c]]) if can("erp", "pick", "set-status") else []


def _print_receipts(runtime: Runtime, cast: _Cast) -> list[tuple[RunInfo, RunContext]]:
    """Run the receipts job as its schedule would, the cash register printing what it was sent in between, until a
    run sends nothing new: a prepayment printed lets the same run send the full-payment receipt of a closed order."""
    assert cast.fiscal is not None
    runs = [run_job(runtime, "receipts")]
    for _ in range(3):  # prepayment, full payment, a refund's report at most
        if not runs[-1][1].counts.created:
            break
        _act(cast, cast.fiscal, "process")
        runs.append(run_job(runtime, "receipts"))
    return runs


def _receipts_step(runtime: Runtime, cast: _Cast) -> tuple[list[str], list[tuple[RunInfo, RunContext]]]:
    """A guest pays online for 300 g of a weighed good, 1C weighs 312 g and closes the order: the cash register
    prints the prepayment receipt, then the full-payment receipt that offsets it and takes the 1.79 more."""
    if cast.fiscal is None or not (shops := _shops(cast)):
        return [], []
    goods = snapshot(runtime, RunContext(run_id=0, job="demo"), "erp", Entity.CATALOG)
    weighed = {good.id: good.article for good in goods if isinstance(good, Product) and good.weighed}
    with runtime.store.reading() as state:  # a shop that sells 1C's goods by their article, as 1C's pick names them
        found = [(shop, product) for shop in shops for product, good in sorted(state.links.all(
            shop, Entity.CATALOG.value).items()) if weighed.get(good) == product]
    if not found:
        return [], []
    shop, sku = found[0]
    key = f"{shop}:{_act(cast, shop, 'place-order', items=f'{sku}:0.300')['id']}"
    runs = sync(runtime, shop, entity=Entity.ORDERS)
    runs += _print_receipts(runtime, cast)
    _act(cast, "erp", "pick", number=key, article=sku, quantity="0.312")
    _act(cast, "erp", "set-status", number=key, status="Закрыт")
    if f"{shop}-statuses" in runtime.config.jobs:  # the shop shows the guest the order delivered, as 1C says
        runs.append(run_job(runtime, f"{shop}-statuses"))
    runs += _print_receipts(runtime, cast)
    return [f"{shop}: a guest paid online for 0.300 kg of {sku}; 1C weighed 0.312 kg and closed {key}; "
            f"{cast.types[cast.fiscal]} printed its prepayment and full-payment receipts"], runs


def _act(cast: _Cast, role: str, action: str, /, **args: str) -> Any:
    """Run ``role``'s sandbox action ``action``, as ``hub sandbox do`` would (``name`` may be one of its args)."""
    return next(a for a in cast.sandboxes[role].actions() if a.name == action).run(args)


def _params(cast: _Cast, role: str, action: str) -> set[str]:
    """The parameters of ``role``'s sandbox action ``action``; none when it has no such action."""
    return {p.name for a in cast.sandboxes[role].actions() if a.name == action for p in a.params}


GUEST = ("+79165550123", "Ольга Петрова")
"""The guest the demo has order in every channel that takes a guest's phone."""


def _one_guest_step(runtime: Runtime, cast: _Cast) -> tuple[list[str], list[tuple[RunInfo, RunContext]]]:
    """One guest orders in each channel whose orders the demo can give a guest by phone and name (the site,
    Yandex): the CRM, which
    gathers every channel's orders, then holds one contact for them with a deal per order."""
    crm = next((c for c in cast.channels if cast.sandboxes[c].gathers_orders and "phone" in _params(cast, c, "guest")),
               None)
    shops = [c for c in cast.channels if c != crm and {"phone", "name"} <= _params(cast, c, "place-order")]
    if crm is None or len(shops) < 2:
        return [], []
    phone, name = GUEST
    for shop in shops:
        _act(cast, shop, "place-order", phone=phone, name=name)
    runs = [run for shop in shops for run in sync(runtime, shop, entity=Entity.ORDERS)]
    contacts = _act(cast, crm, "guest", phone=phone)["contacts"]
    deals = sum(len(contact["deals"]) for contact in contacts)
    return [f"one guest ({mask_phone(phone)}) ordered in {' and '.join(shops)}: {crm} holds {len(contacts)} contact(s) "
            f"with {deals} deal(s) for them"], runs


def _gathers(cls: type[Connector]) -> bool:
    sandbox = cls.sandbox()
    return sandbox is not None and sandbox.gathers_orders


def _gathered(jobs: dict[str, Any], cast: _Cast) -> dict[str, Any]:
    """A CRM among the channels (Bitrix24) also gets every other channel's orders and 1C's customers, so a guest
    who orders on the site and through Yandex is one contact there, with a deal per order."""
    crms = [role for role in cast.channels if cast.sandboxes[role].gathers_orders and role not in cast.feeds.values()]
    for job in jobs.values() if crms else ():
        if job["type"] == "orders" and job["from"] not in crms:
            job["to"] = [job["to"], *crms]
        elif job["type"] == "customers":
            job["to"] = crms
    return _segments_job(jobs, crms)


def _segments_job(jobs: dict[str, Any], crms: list[str]) -> dict[str, Any]:
    """Guests' segments (a sleeping guest, a regular) daily to the CRM's contacts, and the guests who agreed to
    mailings to a CSV beside hub.yaml."""
    if crms and "customers" in jobs:
        jobs["segments"] = {"type": "segments", "from": "erp", "to": crms, "schedule": {"every": "1d"},
                            "options": {"export": "guests.csv"}}
    return jobs


SLEEPING_GUEST = "+79990002020"


def _guests_step(runtime: Runtime, cast: _Cast) -> tuple[list[str], list[tuple[RunInfo, RunContext]]]:
    """A guest ordered three times, the last 40 days ago, in a channel that takes a guest's phone: the segments job
    shows them as sleeping on the CRM's contact. Guests the channels' own activity brings through several channels
    (the same phone or email) are counted: each has one profile."""
    if "segments" not in runtime.config.jobs:
        return [], []
    ordering = {role: action for role in cast.channels for action in cast.sandboxes[role].actions()
                if action.name == "place-order" and {"phone", "days_ago"} <= {p.name for p in action.params}}
    shops = list(ordering)
    if not shops:
        return [], []
    for days_ago in ("60", "50", "40"):
        ordering[shops[0]].run({"phone": SLEEPING_GUEST, "days_ago": days_ago})
    runs = [run for shop in shops for run in sync(runtime, shop, entity=Entity.ORDERS)]
    if cast.fiscal is not None:  # they paid online too
        runs += _print_receipts(runtime, cast)
    runs.append(run_job(runtime, "segments"))
    crm = runtime.config.jobs["segments"].targets[0]
    with runtime.store.reading() as state:
        guest = state.links.get("phone", Entity.CUSTOMERS.value, SLEEPING_GUEST)
        told = state.fingerprints.payloads(crm, "guest_segments", [guest or ""]).get(guest or "")
    across = [guest for guest in every_profile(runtime.store) if len(guest.channels) > 1]
    return [f"{shops[0]}: guest {mask_phone(SLEEPING_GUEST)} ordered three times, the last 40 days ago; "
            f"{crm}'s contact now says {'sleeping' if told and 'sleeping' in told else 'nothing yet'}",
            f"{len(across)} guest(s) ordered through several channels, each with one profile"
            + (f" (one through {' and '.join(sorted(across[0].channels))})" if across else "")], runs


@contextmanager
def _serving(config: HubConfig, cast: _Cast, on_step: Callable[[str], None]) -> Iterator[None]:
    """hub daemon's endpoints for the channels that call hub (Yandex Eda); the demo runs the jobs itself."""
    calling = [role for role in [*cast.channels, *cast.feeds]
               if connector_types()[cast.types[role]].endpoints is not Connector.endpoints]
    if not calling:
        yield
        return
    daemon = Daemon(config, background=False)
    url = daemon.start()
    try:
        for role in calling:
            path = config.sources[role].inbound.path or f"/{role}"
            cast.sandboxes[role].attach(url + path.rstrip("/"))
            on_step(f"hub daemon serves {role}'s endpoints at {url}{path}")
        yield
    finally:
        daemon.stop()


def run_demo(*, workdir: Path | None = None, cycles: int = 2, onec: str = "odata",
             on_step: Callable[[str], None] = lambda _: None) -> DemoReport:
    """Start the sandboxes, write a config, run ``cycles`` sync cycles with activity in between; ``onec`` is one of
    :data:`ONEC_VARIANTS`."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="hub-demo-"))
    cast = _cast(connector_types(), onec)
    for sandbox in cast.sandboxes.values():
        sandbox.start()
    try:
        config_path = _write_config(workdir, cast)
        on_step("sandboxes up: " + ", ".join(f"{r}={s.url}" for r, s in cast.sandboxes.items()))
        on_step(f"config written to {config_path}")
        report = DemoReport(workdir=workdir)
        config = load_config(config_path)
        with _serving(config, cast, on_step), Runtime(config) as runtime:
            report.checks = check_sources(runtime)
            # The first cycle finds the goods of the system of record and pushes them to the channels,
            # so the guests of the next cycles order goods that 1C knows.
            report.cycles.append((["nothing yet: hub indexes 1C's customers and fills the channels from 1C"],
                                  sync(runtime, "erp")))
            for step in (_receipts_step, _one_guest_step):
                happened, runs = step(runtime, cast)
                report.cycles[0][0].extend(happened)
                report.cycles[0][1].extend(runs)
            for _ in range(cycles):
                happened = [f"{role}: {line}" for role, sandbox in cast.sandboxes.items()
                            for line in sandbox.demo_activity()]
                runs = [run for c in cast.channels for run in sync(runtime, c)]
                if cast.fiscal is not None and _shops(cast):  # the guests of this cycle who paid online
                    runs += _print_receipts(runtime, cast)
                report.cycles.append((happened, runs))
            happened, runs = _guests_step(runtime, cast)  # after the cycles: guests have ordered by then
            report.cycles[-1][0].extend(happened)
            report.cycles[-1][1].extend(runs)
            final = status(runtime.store)
            report.outbox, report.dead_letters = final.outbox, final.dead_letters
            if connector_types()[cast.types["erp"]].can(Entity.ORDERS, Mode.PULL):  # a web service may not list them
                report.reconciled = reconcile(runtime)
        return report
    finally:
        for sandbox in cast.sandboxes.values():
            sandbox.stop()
