"""The ``hub`` command. Thin: parses arguments, calls into ``hub``, prints.

Exit codes: 0 everything went through; 1 some records or sources failed;
2 usage or configuration error.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
import yaml
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

import hub
from hub import operations
from hub.config import ROLES, HubConfig, find_config_file, load_config
from hub.connector import Choice
from hub.errors import ConfigError, HubError, StateSchemaError
from hub.fiscal import ReceiptKind
from hub.guests import GuestProfile
from hub.jobrun import RunContext
from hub.model import Entity
from hub.overview import JobStatus, job_statuses, run_details
from hub.runtime import Runtime
from hub.state import LetterStatus, RunInfo
from hub.values import json_dumps, json_loads

OK, FAILED, USAGE = 0, 1, 2
# Piped output (CI logs, `| less`) gets room for the tables instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
F = TypeVar("F", bound=Callable[..., Any])


def _errors_exit(func: F) -> F:
    """Turn hub's errors into a readable message and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, StateSchemaError) as exc:
            problems = exc.problems if isinstance(exc, ConfigError) else [exc.message]
            for problem in problems:
                err.print(f"[red]error:[/red] {problem}", markup=True, highlight=False, soft_wrap=True)
            if exc.hint:
                err.print(f"hint: {exc.hint}", highlight=False, soft_wrap=True)
            err.print(f"{len(problems)} problem(s); nothing was run.", highlight=False)
            sys.exit(USAGE)
        except HubError as exc:
            err.print(f"[red]failed:[/red] {exc}", highlight=False, soft_wrap=True)
            sys.exit(FAILED)

    return wrapper  # type: ignore[return-value]


def _config(ctx: click.Context) -> HubConfig:
    config: HubConfig = load_config(find_config_file(ctx.obj["config"]))
    from hub.logs import setup_logging

    setup_logging(ctx.obj["log_level"] or config.log.level, json_format=config.log.json_format,
                  mask_personal_data=config.log.mask_personal_data, secrets=config.secrets)
    return config


@contextmanager
def _runtime(ctx: click.Context) -> Iterator[Runtime]:
    with Runtime(_config(ctx)) as runtime:
        yield runtime


class _Command(click.Command):
    """A command whose line in its group's list is its help's whole first sentence: click cuts it at 45
    characters with "...", which left integrators reading half of what a command does."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=sys.maxsize)


class _Group(_Command, click.Group):
    """A group of :class:`_Command` s, whose own subgroups are groups like it."""

    command_class = _Command
    group_class = type


def _first_line(docstring: str | None) -> str:
    """A docstring's first line as plain text (reST's ``literal`` marks dropped)."""
    return (docstring or "").strip().splitlines()[0].replace("``", "")


class _SandboxCommand(_Command):
    """``hub sandbox``, whose help lists every installed sandbox with its fixed port, read when asked for."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from hub.testing.sandboxes import available_sandboxes

        rows = [(name, f"127.0.0.1:{sandbox.port}  {_first_line(type(sandbox).__doc__)}")
                for name, sandbox in available_sandboxes().items()]
        with formatter.section("Sandboxes (connector type, fixed address, what it emulates)"):
            formatter.write_dl(rows)
        super().format_epilog(ctx, formatter)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(hub.__version__, prog_name="hub")
@click.option("--config", "config", metavar="PATH", help="hub.yaml to use (default: $HUB_CONFIG, then ./hub.yaml).")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), default=None,
              help="Override log.level from the config.")
@click.pass_context
def main(ctx: click.Context, config: str | None, log_level: str | None) -> None:
    """hub joins a business's sales channels to 1C."""
    ctx.obj = {"config": config, "log_level": log_level}


@main.command()
@click.pass_context
@_errors_exit
def check(ctx: click.Context) -> None:
    """Validate the config and mappings, then check every source can be reached."""
    with _runtime(ctx) as runtime:
        problems = operations.job_problems(runtime)
        if problems:
            raise ConfigError(problems)
        results = operations.check_sources(runtime)
    table = Table("source", "type", "result", "what to do", title="sources")
    for r in results:
        table.add_row(r.source, r.type, "[green]ok[/green] " + r.detail if r.ok else "[red]failed[/red] " + r.detail,
                      r.hint or "")
    out.print(table)
    failed = [r for r in results if not r.ok]
    out.print(f"{len(results) - len(failed)} of {len(results)} source(s) ok.")
    sys.exit(FAILED if failed else OK)


_INIT_PICKS = ("organization", "warehouse", "price-type", "partner", "agreement", "currency", "retail-customer")
"""The references ``hub init`` takes as flags of their own; any other as --value SETTING=…"""


@main.command()
@click.option("--url", help="The 1C publication: http://srv/trade (or its …/odata/standard.odata/).")
@click.option("--user", "username", help="The 1C user hub connects as.")
@click.option("--password-env", default="ONEC_PASSWORD", show_default=True, metavar="VAR",
              help="Environment variable holding that user's password; hub.yaml reads it as ${VAR}.")
@click.option("--preset", default="ut11", show_default=True, help="Mappings folder under mappings/onec/.")
@click.option("--timezone", default="Europe/Moscow", show_default=True, help="The clock 1C's datetimes are in.")
@click.option("--organization", help="Its name or Ref_Key.")
@click.option("--warehouse", help="Its name or Ref_Key.")
@click.option("--price-type", help="Its name or Ref_Key.")
@click.option("--partner", help="Its name or Ref_Key.")
@click.option("--agreement", help="Its name or Ref_Key.")
@click.option("--currency", help="Its name or Ref_Key.")
@click.option("--retail-customer", help="Its name or Ref_Key.")
@click.option("--value", "more", multiple=True, metavar="SETTING=NAME-OR-REF",
              help="Any other reference by its place under values: (contact_kinds.phone=Телефон контрагента).")
@click.option("--output", "-o", default="hub.yaml", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Ask nothing: what no flag names and 1C holds one of is taken.")
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
@_errors_exit
def init(*, url: str | None, username: str | None, password_env: str, preset: str, timezone: str,
         more: tuple[str, ...], output: Path, yes: bool, force: bool, **flags: str | None) -> None:
    """Write a hub.yaml for a 1C base: read its organizations, warehouses, price types… and pick them by name.

    Every reference (organization, warehouse, price type, …) is a name as 1C shows it or a Ref_Key; what
    no flag gives is asked for, from a numbered list of what the base holds, unless --yes.
    """
    import os

    from hub import init as setup

    setup.refuse_overwrite(output, force=force)
    answers = {name: value for name, value in flags.items() if value}
    for item in more:
        setting, sep, value = item.partition("=")
        if not sep:
            raise ConfigError([f"--value {item}: expected SETTING=NAME-OR-REF"])
        answers[setting.strip()] = value
    if yes and not (url and username):
        raise ConfigError(["--url and --user are needed with --yes"])
    url = url or click.prompt("1C publication URL (http://srv/trade)")
    username = username or click.prompt("1C user")
    password = os.environ.get(password_env)
    if password is None:
        if yes:
            raise ConfigError([f"environment variable {password_env} is not set"],
                              hint=f"export {password_env}=<the 1C user's password>; hub.yaml reads it from there")
        password = click.prompt(f"password of {username} (hub.yaml will read it from ${password_env})",
                                hide_input=True)
    connection = setup.Connection(url, username, password_env, preset, timezone)
    out.print(f"reading {url} as {username} (preset {preset})…", highlight=False)
    picked: list[tuple[Choice, str]] = []
    problems: list[str] = []
    for choice in setup.read_choices(connection, password):
        answer = setup.answer_for(choice, answers)
        flag = f"--{choice.setting[-1]}".replace("_", "-")
        if answer is not None:
            picked.append((choice, setup.pick(choice, answer)))
        elif yes:
            ref = setup.unanswered(choice)
            if ref is None:
                problems.append(setup.unanswered_problem(
                    choice, flag if flag[2:] in _INIT_PICKS else f"--value {setup.setting_name(choice)}=…"))
            else:
                picked.append((choice, ref))
        else:
            picked.append((choice, _ask(choice)))
    if problems:
        raise ConfigError(problems, hint="names as 1C shows them, or Ref_Keys; `hub init --help` lists the flags")
    output.write_text(setup.render(connection, picked), encoding="utf-8")
    for choice, ref in picked:
        out.print(f"  values.{setup.setting_name(choice)}: {ref}  {choice.options.get(ref, '')}", highlight=False)
    out.print(f"wrote {output}; next: export {password_env}=…, then hub --config {output} check", highlight=False)


def _ask(choice: Choice) -> str:
    """Ask for one reference from a numbered list; a name or Ref_Key typed instead is taken too."""
    from hub import init as setup

    names = list(choice.options.items())
    out.print(f"values.{setup.setting_name(choice)} ({choice.holder or 'a Ref_Key'}):", highlight=False)
    for number, (_, name) in enumerate(names, start=1):
        out.print(f"  {number}. {name}", highlight=False)
    if not choice.complete:
        out.print(f"  … {choice.holder} holds more: type a name or Ref_Key", highlight=False)
    while True:
        answer = click.prompt(f"pick 1-{len(names)}, or type a name or Ref_Key" if names else "its Ref_Key",
                              default="1" if names else None)
        if answer.isdigit() and 1 <= int(answer) <= len(names):
            return names[int(answer) - 1][0]
        try:
            return setup.pick(choice, answer)
        except ConfigError as exc:
            err.print(f"{exc.problems[0]}; try again", highlight=False, markup=False)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--job", metavar="NAME", help="Only this job: its line and its last runs.")
@click.option("--failed", is_flag=True, help="Only jobs whose last run did not succeed, and runs that did not.")
@click.pass_context
@_errors_exit
def status(ctx: click.Context, as_json: bool, job: str | None, failed: bool) -> None:
    """A line per job (last run, last success, next run, last error), last runs, outbox, dead letters, cursors."""
    with _runtime(ctx) as runtime:
        jobs = job_statuses(runtime.config, runtime.store, job=job, failed=failed)
        report = operations.status(runtime.store, job=job, failed=failed)
        tz = runtime.config.timezone
    if as_json:
        click.echo(json_dumps({"jobs": [j.as_json(tz) for j in jobs], **report.as_json()}, indent=2))
        return
    out.print(_jobs_table(jobs, tz))
    out.print(_runs_table(report.runs, title="last runs", tz=tz))
    cursors = Table("source", "stream", "cursor", "updated", title="cursors")
    for source, stream, value, updated in report.cursors:
        cursors.add_row(source, stream, value, _when(updated, tz))
    out.print(cursors)
    depth = ", ".join(f"{t}: {n}" for t, n in report.outbox.items()) or "empty"
    out.print(f"outbox: {depth}; inbox pending: {report.inbox_pending}; open dead letters: {report.dead_letters}")
    if report.inbox_rejected:
        out.print(f"inbox rejected: {report.inbox_rejected} request body(ies) refused by hub daemon's endpoints, "
                  "kept with the reason in the state DB's inbox table (status 'rejected')", highlight=False)


@main.command()
@click.option("--source", help="Run every job that reads from or writes to this source.")
@click.option("--job", "jobs", multiple=True, metavar="NAME", help="Run this job (repeat for more).")
@click.option("--all", "all_jobs", is_flag=True, help="Run every job in hub.yaml.")
@click.option("--entity", type=click.Choice([e.value for e in Entity]), help="With --source: only jobs of this entity.")
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option("--full", is_flag=True, help="Ignore the saved cursor and read everything again.")
@click.pass_context
@_errors_exit
def sync(ctx: click.Context, *, source: str | None, jobs: tuple[str, ...], all_jobs: bool, entity: str | None,
         dry_run: bool, full: bool) -> None:
    """Run jobs once (a source's, named ones, or all) and print a summary."""
    if [bool(source), bool(jobs), all_jobs].count(True) != 1:
        raise ConfigError(["say which jobs to run: --source NAME, --job NAME or --all (one of them)"],
                          hint="hub status lists the jobs")
    if entity and not source:
        raise ConfigError(["--entity goes with --source"], hint="--job names the jobs to run itself")
    with _runtime(ctx) as runtime, _progress() as progress:
        if source:
            runs = operations.sync(runtime, source, entity=Entity(entity) if entity else None, dry_run=dry_run,
                                   full=full, progress=progress)
        else:
            names = list(jobs) if jobs else list(runtime.config.jobs)
            runs = operations.run_jobs(runtime, names, dry_run=dry_run, full=full, progress=progress)
    _print_runs(runs)
    sys.exit(FAILED if any(info.status != "succeeded" for info, _ in runs) else OK)


@main.command()
@click.option("--source", help="Only this channel (default: every channel).")
@click.option("--entity", type=click.Choice(["orders", "stock", "prices", "customers"]), help="Only this entity.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Only orders from this day on (1C's time zone).")
@click.option("--fix", is_flag=True, help="Apply 1C-as-truth corrections where hub can, and report them.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.pass_context
@_errors_exit
def reconcile(ctx: click.Context, *, source: str | None, entity: str | None, since: dt.datetime | None,
              fix: bool, fmt: str) -> None:
    """Compare the channels with 1C; exit 1 while discrepancies remain or something could not be read."""
    from hub.reconcile import reconcile as run

    with _runtime(ctx) as runtime:
        report = run(runtime, source=source, entity=Entity(entity) if entity else None,
                     since=since.date() if since else None, fix=fix)
    rows = [{"source": f.source, "entity": f.entity, "key": f.key, "kind": f.kind, "detail": json_dumps(f.detail)}
            for f in report.findings]
    if fmt == "json":
        click.echo(json_dumps({"findings": [f.__dict__ for f in report.findings], "fixed": report.fixed,
                               "compared": dict(report.compared), "unreadable": report.unreadable}, indent=2))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=["source", "entity", "key", "kind", "detail"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table("source", "entity", "key", "kind", "detail", title="discrepancies")
        for row in rows:
            table.add_row(*row.values())
        out.print(table)
        for line in report.fixed:
            out.print(f"fixed: {line}", highlight=False)
        for line in report.unreadable:
            out.print(f"unreadable: {line}", highlight=False)
        compared = ", ".join(f"{n} {what}" for what, n in report.compared.items())
        out.print(f"compared {compared or 'nothing'}; {len(report.findings)} discrepancy(ies) open.")
    sys.exit(FAILED if report.findings or report.unreadable else OK)  # unreadable: a source failed


@main.command()
@click.option("--source", required=True, help="The channel whose import file to write (a tilda source).")
@click.option("--out", "target", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write; stdout if omitted.")
@click.option("--price-type", help="The 1C price type (Ref_Key) of the prices; each good's first when omitted.")
@click.option("--warehouse", "warehouses", multiple=True, help="A 1C warehouse (Ref_Key) the stock is summed over; "
              "every one when omitted. Repeatable.")
@click.pass_context
@_errors_exit
def export(ctx: click.Context, *, source: str, target: Path | None, price_type: str | None,
           warehouses: tuple[str, ...]) -> None:
    """Write a channel's import file from 1C's goods, prices and stock (Tilda's importer CSV), for shops that
    load their goods by hand instead of taking hub's pushes."""
    written = io.StringIO()  # the file is replaced only by a whole export: a failed one leaves the last intact
    with _runtime(ctx) as runtime:
        rows = operations.export(runtime, source, written, price_type=price_type, warehouses=warehouses)
    if target is None:
        sys.stdout.write(written.getvalue())
    else:
        target.write_text(written.getvalue(), encoding="utf-8", newline="")
        out.print(f"{rows} row(s) written to {target}", highlight=False)


@main.command()
@click.argument("record")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--body", is_flag=True, help="Also print each payload as it was received.")
@click.pass_context
@_errors_exit
def trace(ctx: click.Context, record: str, as_json: bool, body: bool) -> None:
    """The journey of one order with times: received, decoded, customer, queued, each write, 1C's number, posted,
    statuses sent back, dead letter. RECORD is a channel's order id (1001), a key (shop:1001) or a 1C number.

    With --body, each payload as received is printed unmasked, as in hub customers show: the administrator's view;
    without it no payload is printed, in text or JSON.
    """
    from hub.trace import trace as follow

    with _runtime(ctx) as runtime:
        journeys = follow(runtime.store, record, personal=body)
        tz = runtime.config.timezone
    if as_json:
        click.echo(json_dumps([journey.as_json(tz, bodies=body) for journey in journeys], indent=2))
        return
    for journey in journeys:
        out.print(f"[bold]{journey.entity} {journey.key}[/bold]", highlight=False)
        for step in journey.steps:
            run = f"  (run {step.run_id})" if step.run_id else ""
            out.print(f"  {step.at.astimezone(tz):%Y-%m-%d %H:%M:%S}  {step.stage:<12} {step.detail}{run}",
                      highlight=False, markup=False, soft_wrap=True)
        for inbox_id, text in journey.bodies.items() if body else ():
            out.print(f"  inbox {inbox_id}:", highlight=False)
            click.echo(textwrap.indent(text, "    "))


@main.group()
def runs() -> None:
    """Runs of jobs, with the lines each logged."""


@runs.command("show")
@click.argument("run_id", type=int)
@click.pass_context
@_errors_exit
def runs_show(ctx: click.Context, run_id: int) -> None:
    """One run: when, how it ended, its counts and the log lines it wrote (personal data masked as in the log)."""
    with _runtime(ctx) as runtime:
        info, lines = run_details(runtime.store, run_id)
        tz = runtime.config.timezone
    out.print(_runs_table([info], title=f"run {run_id}", tz=tz))
    for at, level, message in lines:
        out.print(f"{at.astimezone(tz):%Y-%m-%d %H:%M:%S} {level:<7} {message}", highlight=False, markup=False,
                  soft_wrap=True)
    out.print(f"{len(lines)} line(s) logged.", highlight=False)


@main.group()
def customers() -> None:
    """One customer across channels."""


@customers.command("show")
@click.argument("phone_or_email")
@click.pass_context
@_errors_exit
def customers_show(ctx: click.Context, phone_or_email: str) -> None:
    """The profile of one person: counterparty, contacts, ids in each channel, orders from every channel.

    Personal data is shown unmasked: it is what the command is for (hub trace --body shows payloads so too).
    """
    from hub.customers import profile

    with _runtime(ctx) as runtime:
        found = profile(runtime, phone_or_email)
        tz = runtime.config.timezone
    out.print(f"counterparty in 1C: {found.ref}", highlight=False)
    known = Table("known by", "id", title="contacts and channel ids")
    for system, value in found.contacts:
        known.add_row(system, value)
    out.print(known)
    orders = Table("order", "channel", "1C document", title="orders")
    for order in found.orders:
        orders.add_row(order["order"], order["channel"], order["document"] or "not yet in 1C")
    out.print(orders)
    out.print(f"{len(found.orders)} order(s) from {len({o['channel'] for o in found.orders})} channel(s).")
    if found.facts:
        held = Table("channel", "what", "value", title="held by channels")
        for channel, facts in found.facts.items():
            for what, value in facts.items():
                held.add_row(channel, what, value)
        out.print(held)
    if found.figures is not None:
        _print_figures(found.figures, tz)


def _print_figures(guest: GuestProfile, tz: ZoneInfo) -> None:
    figures = Table("", "", title="profile", show_header=False)
    every = guest.days_between_orders
    for what, value in (("first order", _when(guest.first_order_at, tz)),
                        ("last order", _when(guest.last_order_at, tz)),
                        ("orders", str(guest.orders)), ("spend", str(guest.spend)),
                        ("average check", str(guest.average_check)),
                        ("an order every", "—" if every is None else f"{every} days"),
                        ("lifetime value", str(guest.lifetime_value)),
                        ("favourite goods", ", ".join(guest.favourites()) or "—"),
                        ("consent to marketing", {True: "yes", False: "no", None: "not asked"}[guest.consent]),
                        ("segments", ", ".join(guest.segments) or "—")):
        figures.add_row(what, value)
    out.print(figures)
    channels = Table("channel", "orders", "spend", title="by channel")
    for channel, counted in sorted(guest.channels.items()):
        channels.add_row(channel, str(counted.orders), str(counted.spend))
    out.print(channels)


@customers.command("segments")
@click.option("--members", "segment", metavar="SEGMENT", help="List this segment's guests.")
@click.pass_context
@_errors_exit
def customers_segments(ctx: click.Context, segment: str | None) -> None:
    """How many guests each segment holds, and how many entered and left it in the last seven days."""
    from hub.customers import segment_rules
    from hub.guests import summary

    with _runtime(ctx) as runtime:
        found = summary(runtime.store, segment_rules(runtime))
    table = Table("segment", "guests", "this week", title="segments")
    for name, members in found.members.items():
        moved = found.week[name]
        table.add_row(name, str(len(members)), f"+{moved.entered} −{moved.left}")
    out.print(table)
    if segment is not None:
        if segment not in found.members:
            raise ConfigError([f"no segment {segment!r}"], hint=f"one of {', '.join(found.members)}")
        for guest in found.members[segment]:
            out.print(guest, highlight=False)


@customers.command("top")
@click.option("--limit", default=10, show_default=True, help="How many guests.")
@click.pass_context
@_errors_exit
def customers_top(ctx: click.Context, limit: int) -> None:
    """The guests who spent most, every channel together, as bars."""
    from hub.guests import top

    with _runtime(ctx) as runtime:
        best = top(runtime.store, limit)
    table = Table("counterparty", "orders", "spend", "", title=f"top {len(best)} guests by spend")
    most = max((guest.spend for guest in best), default=Decimal(0))
    for guest in best:
        width = int(guest.spend / most * 40) if most else 0
        table.add_row(guest.guest, str(guest.orders), str(guest.spend), "█" * width)
    out.print(table)


@customers.command("forget")
@click.argument("phone_or_email")
@click.pass_context
@_errors_exit
def customers_forget(ctx: click.Context, phone_or_email: str) -> None:
    """Remove a guest's personal data from hub's state (152-FZ), keeping their order totals anonymised; says which
    systems still hold it."""
    from hub.customers import forget

    with _runtime(ctx) as runtime:
        done = forget(runtime, phone_or_email, user="cli")
    out.print(f"forgotten: {done.contacts} contact(s) and channel id(s), personal data taken out of "
              f"{done.orders} order(s); totals kept as {done.anonymous}.", highlight=False)
    out.print("still held elsewhere (erase it there if the guest asked):", highlight=False)
    for where in done.still_held:
        out.print(f"  {where}", highlight=False)


@customers.command("rebuild")
@click.pass_context
@_errors_exit
def customers_rebuild(ctx: click.Context) -> None:
    """Recompute every guest's profile from the whole order history hub holds (profiles are otherwise kept up to
    date one order at a time)."""
    from hub.customers import rebuild_profiles

    with _runtime(ctx) as runtime:
        count = rebuild_profiles(runtime)
    out.print(f"{count} profile(s) rebuilt.")


@main.group()
def receipts() -> None:
    """Fiscal receipts of the orders paid online (docs/fiscal.md)."""


@receipts.command("resend")
@click.argument("order")
@click.option("--kind", "kinds", multiple=True, type=click.Choice([kind.value for kind in ReceiptKind]),
              help="Only this receipt of the order (repeatable); every one that failed by default.")
@click.pass_context
@_errors_exit
def receipts_resend(ctx: click.Context, order: str, kinds: tuple[str, ...]) -> None:
    """Send an order's failed receipts again at the receipts job's next run, once what the service said was wrong is
    fixed: under its own id if the service refused it, else its next."""
    from jobs.receipts import ask_resend

    with _runtime(ctx) as runtime:
        asked = ask_resend(runtime, order, [ReceiptKind(kind) for kind in kinds] or list(ReceiptKind))
    for receipt in asked:
        out.print(f"{receipt}: sent again at the receipts job's next run", highlight=False)


@main.group()
def deadletters() -> None:
    """Records that could not be processed."""


@deadletters.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include retried and dismissed ones.")
@click.pass_context
@_errors_exit
def deadletters_list(ctx: click.Context, show_all: bool) -> None:
    """List dead letters."""
    with _runtime(ctx) as runtime:
        letters = operations.dead_letters(runtime.store, status=None if show_all else LetterStatus.OPEN)
    table = Table("id", "source", "entity", "record", "stage", "status", "attempts", "reason", title="dead letters")
    for d in letters:
        table.add_row(str(d.id), d.source, d.entity, d.external_id or "", d.stage, d.status, str(d.attempts),
                      d.reason)
    out.print(table)
    out.print(f"{len(letters)} dead letter(s).")


@deadletters.command("show")
@click.argument("letter_id", type=int)
@click.pass_context
@_errors_exit
def deadletters_show(ctx: click.Context, letter_id: int) -> None:
    """Show one dead letter with its payload, laid out to read (the CLI is the admin's: nothing is masked)."""
    with _runtime(ctx) as runtime:
        d = operations.dead_letter(runtime.store, letter_id)
    closed = [("closed by", d.closed_by), ("note", d.note)] if d.status == "dismissed" else []
    for label, value in [("id", d.id), ("source", d.source), ("entity", d.entity), ("record", d.external_id),
                         ("stage", d.stage), ("status", d.status), ("attempts", d.attempts),
                         ("created", d.created_at), ("updated", d.updated_at), *closed, ("reason", d.reason)]:
        out.print(f"{label:>9}: {value}", highlight=False)
    out.print("  payload:")
    click.echo(operations.readable_payload(d.payload))


@deadletters.command("retry")
@click.argument("letter_ids", type=int, nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every open dead letter (narrowed by --source, --stage).")
@click.option("--source", help="With --all: only this source's.")
@click.option("--stage", type=click.Choice(["decode", "deliver"]), help="With --all: only those failed at this stage.")
@click.pass_context
@_errors_exit
def deadletters_retry(ctx: click.Context, *, letter_ids: tuple[int, ...], every: bool, source: str | None,
                      stage: str | None) -> None:
    """Put dead letters back where they failed and run their jobs again; one that fails again keeps its id."""
    if bool(letter_ids) == every or ((source or stage) and not every):
        raise ConfigError(["name the dead letters to retry by id, or give --all (with --source, --stage)"],
                          hint="hub deadletters list shows the open ones")
    with _runtime(ctx) as runtime:
        if every:
            every_open = operations.dead_letters(runtime.store, source=source, stage=stage, limit=None)
            letter_ids = tuple(letter.id for letter in every_open)
        if not letter_ids:
            out.print("no open dead letters to retry.")
            return
        runs = operations.retry_dead_letters(runtime, letter_ids)
    _print_runs(runs)
    sys.exit(FAILED if any(info.status != "succeeded" for info, _ in runs) else OK)


@deadletters.command("dismiss")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@click.option("--reason", required=True, help="Why it needs no retry (kept as the letter's note).")
@click.pass_context
@_errors_exit
def deadletters_dismiss(ctx: click.Context, letter_ids: tuple[int, ...], reason: str) -> None:
    """Close dead letters without a retry: they stop counting as open, so the alert on them clears."""
    import getpass

    try:
        by = f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container's user with no name
        by = "cli"
    with _runtime(ctx) as runtime:
        letters = operations.dismiss_dead_letters(runtime.store, letter_ids, by=by, reason=reason)
    out.print(f"dismissed {len(letters)} dead letter(s): {', '.join(str(d.id) for d in letters)}.", highlight=False)


@main.command()
@click.option("--cycles", default=2, show_default=True, help="Sync cycles to run.")
@click.option("--onec", type=click.Choice(["odata", "soap"]), default="odata", show_default=True,
              help="How the demo's 1C is reached: its standard OData interface, or a web service (onec_soap).")
@_errors_exit
def demo(cycles: int, onec: str) -> None:
    """Run sync cycles against local sandboxes of every installed connector."""
    from hub.demo import run_demo
    from hub.logs import setup_logging

    setup_logging("WARNING")
    report = run_demo(cycles=cycles, onec=onec, on_step=lambda line: out.print(f"• {line}", highlight=False))
    table = Table("source", "type", "result", title="connectivity")
    for c in report.checks:
        table.add_row(c.source, c.type, ("ok: " if c.ok else "failed: ") + c.detail)
    out.print(table)
    for number, (happened, runs) in enumerate(report.cycles):
        out.print(f"\n[bold]cycle {number}[/bold]")
        for line in happened:
            out.print(f"  {line}", highlight=False)
        _print_runs(runs)
    if report.reconciled is not None:
        compared = ", ".join(f"{n} {what}" for what, n in report.reconciled.compared.items())
        findings = Counter(f.kind for f in report.reconciled.findings)
        out.print(f"\n[bold]reconcile[/bold]: compared {compared}; "
                  + (", ".join(f"{n} {kind}" for kind, n in findings.items()) or "channels and 1C agree"),
                  highlight=False)
    out.print(f"\noutbox pending: {sum(report.outbox.values())}; open dead letters: {report.dead_letters}")
    out.print(f"state DB and config kept in {report.workdir}")
    if not report.went_through:
        out.print(f"[red]the demo did not go through:[/red] {len(report.unsuccessful)} run(s) did not succeed, "
                  f"{sum(not c.ok for c in report.checks)} source check(s) failed", highlight=False)
    out.print(f"look inside: {report.handoff}   (sandboxes are stopped now)", highlight=False)
    sys.exit(OK if report.went_through else FAILED)


@main.command()
@click.option("--listen", metavar="HOST:PORT", help="Override daemon.listen from the config.")
@click.option("--log-json/--log-text", "log_json", default=None, help="Override log.json from the config.")
@click.pass_context
@_errors_exit
def daemon(ctx: click.Context, listen: str | None, log_json: bool | None) -> None:
    """Run scheduled jobs and serve the channels' endpoints until SIGTERM (or Ctrl-C), then stop gracefully."""
    import logging
    import os

    from hub.config import DaemonConfig
    from hub.daemon import Daemon
    from hub.logs import setup_logging
    from hub.termination import Termination

    config = _config(ctx)
    if log_json is not None:
        setup_logging(ctx.obj["log_level"] or config.log.level, json_format=log_json,
                      mask_personal_data=config.log.mask_personal_data, secrets=config.secrets)
    if listen is not None:
        try:
            DaemonConfig(listen=listen)
        except ValueError as exc:
            raise ConfigError([f"--listen {listen}: expected host:port"]) from exc
    running = Daemon(config, listen=listen)
    termination = Termination(reload=True)
    termination.arm()  # before the daemon starts its threads
    try:
        url = running.start()
    except OSError as exc:
        raise ConfigError([f"cannot listen on {listen or config.daemon.listen}: {exc.strerror or exc}"],
                          hint="another process has the port: pick another with daemon.listen or --listen") from None
    out.print(f"hub daemon listening on {url}", highlight=False)
    for path in running.app.paths():
        out.print(f"  {path}", highlight=False)
    sys.stdout.flush()
    code = OK
    try:
        while termination.wait():  # SIGHUP: hub.yaml and its mappings read again
            try:
                running.reload(load_config(find_config_file(ctx.obj["config"])))
            except ConfigError as exc:
                hint = f" (hint: {exc.hint})" if exc.hint else ""
                logging.getLogger("hub.daemon").error("reload refused, the running config stays: %s%s",
                                                      "; ".join(exc.problems), hint)
    finally:
        try:
            running.stop()
        except Exception:
            logging.getLogger("hub.daemon").exception("the graceful stop did not finish")
            code = FAILED
        logging.shutdown()
        sys.stdout.flush()
        # Everything hub started has stopped; a thread a library left behind must not keep the process alive.
        os._exit(code)


@main.command(cls=_SandboxCommand)
@click.argument("systems", nargs=-1)
@click.option("--port", type=int, default=None,
              help="Serve the one named sandbox on this port instead of its own fixed port (listed below).")
@_errors_exit
def sandbox(systems: tuple[str, ...], port: int | None) -> None:
    """Run local sandboxes of the named systems, or of all, until Ctrl-C, for manual testing against hub.

    Name a system by its connector type or the start of it (`hub sandbox onec_odata yandex`). Each prints its URL,
    the hub.yaml settings that reach it, and what it can be made to do: a guest orders, 1C changes a status,
    iiko closes a sale. From another terminal, `hub sandbox do SYSTEM ACTION [NAME=VALUE…]` does it (e.g.
    `hub sandbox do testchannel place-order items=CAP-300:2`), as does a POST to the sandbox's /_sandbox/.
    """
    from hub.termination import Termination
    from hub.testing.sandboxes import control_help, run_action, start_sandboxes

    if systems[:1] == ("do",):
        if len(systems) < 3:
            raise ConfigError(["hub sandbox do needs a SYSTEM and an ACTION"],
                              hint="hub sandbox SYSTEM prints what each sandbox can be made to do")
        click.echo(json_dumps(run_action(systems[1], systems[2], systems[3:], port=port), indent=2))
        return
    termination = Termination()
    termination.arm()  # before anything is printed: a caller may stop us then
    try:
        started = start_sandboxes(systems, port=port)
    except OSError as exc:
        raise ConfigError([f"cannot listen on 127.0.0.1: {exc.strerror}"],
                          hint="a sandbox's port is taken: start that one alone with --port") from None
    for type_name, running in started.items():
        out.print(f"[bold]{type_name}[/bold] sandbox on {running.url}", highlight=False)
        out.print("  settings for hub.yaml:", highlight=False)
        settings = yaml.safe_dump({"type": type_name, **running.source_settings()}, allow_unicode=True,
                                  sort_keys=False)
        click.echo(textwrap.indent(settings, "    "), nl=False)
        if actions := control_help(running, type_name):
            out.print("  what you can make it do (or POST to the path, parameters as JSON):", highlight=False)
            click.echo(textwrap.indent("\n".join(actions), "    "))
    out.print("Ctrl-C stops them.", highlight=False)
    try:
        termination.wait()
    finally:
        for running in started.values():
            running.stop()


@main.group()
def mappings() -> None:
    """Check and try out YAML mappings."""


@mappings.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.pass_context
@_errors_exit
def mappings_check(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Report every problem in the mapping files under PATHS (default: the configured mappings folder)."""
    from hub.config import bundled_mappings
    from hub.mapping import check_paths

    targets = list(paths) or [_mappings_folder(ctx)]
    # After `pip install .` the mappings that run are not the checkout's: say which folder this was.
    read = f"read {', '.join(str(p.absolute()) for p in targets)}"
    if bundled_mappings() in targets:
        read += (" (installed with hub: to change mappings, copy that folder and point mappings: in hub.yaml "
                 "at the copy)")
    problems = check_paths(targets)
    if problems:
        raise ConfigError(problems, hint=f"{read}; docs/mappings.md describes every element")
    out.print(f"mappings ok: {read}", highlight=False)


@mappings.command("preview")
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--input", "input_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A JSON or XML payload to map.")
@click.option("--links", "links_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON object standing in for the id links: {"shop:catalog:SKU-1": "<1C Ref_Key>", …}.')
@_errors_exit
def mappings_preview(mapping: Path, input_file: Path, links_file: Path | None) -> None:
    """Map one payload and show the result, field by field, with the reason for each failure."""
    from hub.mapping import preview

    try:
        links = json_loads(links_file.read_bytes()) if links_file else None
    except ValueError as exc:
        raise ConfigError([f"{links_file}: not JSON: {exc}"]) from None
    if links is not None and not (isinstance(links, dict) and all(isinstance(v, str) for v in links.values())):
        raise ConfigError([f"{links_file}: expected a JSON object of id → linked id"])
    text, ok = preview(mapping, input_file, links=links)
    click.echo(text)
    sys.exit(OK if ok else FAILED)


@main.group()
def users() -> None:
    """Who may sign in to the daemon's /ui page, and with which role."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="viewer: counts, runs, dead letters masked; operator: also retry and dismiss; "
                   "admin: also a guest's phone and orders (audited).")
@_errors_exit
def users_add(name: str, role: str) -> None:
    """Print NAME's entry for hub.yaml's users: with a hash of the password (asked for, or one line on stdin)."""
    from hub.daemon.ui_auth import hash_password

    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,128}", name):
        raise ConfigError([f"{name!r}: not a user name"], hint="use letters, digits and . _ @ - (up to 128)")
    if sys.stdin.isatty():
        password = click.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise ConfigError(["the password is shorter than 8 characters"], hint="choose a longer one")
    entry = yaml.safe_dump({"users": {name: {"role": role, "password_hash": hash_password(password)}}},
                           default_flow_style=False, sort_keys=False)
    err.print("add this to hub.yaml (merge it into users: if the file has one), then reload the daemon:",
              highlight=False)
    click.echo(entry, nl=False)


def _mappings_folder(ctx: click.Context) -> Path:
    """The configured mappings folder; the bundled one when no config file exists at all."""
    from hub.config import bundled_mappings

    try:
        path = find_config_file(ctx.obj["config"])
    except ConfigError:
        if ctx.obj["config"]:
            raise
        return bundled_mappings()
    return load_config(path).mappings


@contextmanager
def _progress() -> Iterator[Callable[[str, int], None]]:
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage)
            bar.update(tasks[stage], description=f"{stage}: {done}")

        yield report


def _runs_table(runs: list[RunInfo], *, title: str, tz: ZoneInfo | None = None) -> Table:
    """The runs with their counts; with ``tz``, when each started and ended in that zone too."""
    table = Table("run", "job", "source", "status", *(("started", "ended") if tz else ()), "read", "created",
                  "updated", "unchanged", "failed", "errors", title=title)
    for r in runs:
        when = (_when(r.started_at, tz), _when(r.finished_at, tz)) if tz else ()
        table.add_row(str(r.id), r.job + (" (dry run)" if r.dry_run else ""), r.source, _coloured(r.status), *when,
                      *(str(v) for v in r.counts.as_dict().values()), r.error_summary or "")
    return table


def _jobs_table(jobs: list[JobStatus], tz: ZoneInfo) -> Table:
    table = Table("job", "schedule", "run", "last run", "status", "read", "created", "updated", "failed",
                  "last success", "next run", "last error", title="jobs")
    for j in jobs:
        last, failure = j.last, j.last_failure
        counts = ("", "", "", "") if last is None else (str(last.counts.read), str(last.counts.created),
                                                        str(last.counts.updated), str(last.counts.failed))
        error = "" if failure is None else f"run {failure.id} at {_when(failure.started_at, tz)}: " \
                                           f"{failure.error_summary or failure.status}"
        table.add_row(j.job, j.schedule or "on demand", "" if last is None else str(last.id),
                      "never" if last is None else _when(last.started_at, tz),
                      "" if last is None else _coloured(last.status), *counts, _when(j.last_success, tz),
                      _when(j.next_run, tz) if j.schedule else "hub sync", error)
    return table


def _when(at: dt.datetime | None, tz: ZoneInfo) -> str:
    return "—" if at is None else f"{at.astimezone(tz):%Y-%m-%d %H:%M:%S}"


def _coloured(status: str) -> str:
    colour = {"succeeded": "green", "partial": "yellow", "running": "blue"}.get(status, "red")
    return f"[{colour}]{status}[/{colour}]"


def _print_runs(runs: list[tuple[RunInfo, RunContext]]) -> None:
    shown_fields = 10  # per update; a record that changes wholesale gets a count, not a screenful

    def value(v: object) -> str:
        return "—" if v is None else str(v)

    out.print(_runs_table([info for info, _ in runs], title="runs"))
    for info, ctx in runs:
        if not info.dry_run:
            continue
        if ctx.planned:
            plan = Table("target", "record", "would", "existing ref", "goods",
                         title=f"{info.job}: dry run, nothing written")
            for p in ctx.planned:
                plan.add_row(p.target, p.key, p.action, p.ref or "", p.goods or "")
            out.print(plan)
            for p in ctx.planned:
                if p.action == "fail":
                    out.print(f"would fail: {p.key} → {p.target}: {p.reason}", highlight=False, markup=False)
            for p in ctx.planned:
                if p.action != "update" or p.diff == {}:
                    continue
                out.print(f"update {p.target} {p.key}:", highlight=False, markup=False)
                if p.diff is None:
                    out.print("  (last pushed before hub kept payloads: what changed is unknown)", highlight=False)
                    continue
                for name, (old, new) in list(p.diff.items())[:shown_fields]:
                    out.print(f"  {name}: {value(old)} → {value(new)}", highlight=False, markup=False)
                if len(p.diff) > shown_fields:
                    out.print(f"  +{len(p.diff) - shown_fields} more", highlight=False)
        would = Counter(p.action for p in ctx.planned)
        out.print(f"{info.job} would create {would['create']}, update {would['update']}, unchanged {would['skip']}, "
                  f"fail {would['fail']}.", highlight=False)
    failures = [f"{n} {status}" for status, n in Counter(i.status for i, _ in runs if i.status != "succeeded").items()]
    records = sum(info.counts.failed for info, _ in runs)
    if records:
        failures.append(f"{records} record(s) failed")
    out.print(f"{len(runs)} run(s); {'; '.join(failures)}." if failures else f"{len(runs)} run(s); all went through.")


if __name__ == "__main__":
    main()
