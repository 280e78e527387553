"""``hub init``: a first hub.yaml for a 1C base, written from what the base itself holds.

An integrator knows the base's organization, warehouse and price type by name, while hub.yaml wants
their Ref_Key GUIDs. The 1C connector says which references its preset's mappings need and lists each
catalog's items (:meth:`hub.connector.Connector.choices`); this module matches the integrator's answers
(a name or a Ref_Key) against them and writes the file, the password as a ``${VAR}`` reference. Asking
is the command's business (``cli.py``); nothing here prompts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hub.connector import Choice, ConnectorContext
from hub.errors import ConfigError, suggest
from hub.registry import connector_types
from hub.values import zone

CONNECTOR_TYPE = "onec_odata"
"""The connector ``hub init`` sets up: looked up by its type name, like any source in hub.yaml."""
SOURCE = "onec"
"""The name the written hub.yaml gives the 1C source."""


@dataclass(frozen=True)
class Connection:
    """How to reach the base, as hub.yaml will say it."""

    url: str
    username: str
    password_env: str
    preset: str = "ut11"
    timezone: str = "Europe/Moscow"


def setting_name(choice: Choice) -> str:
    """``venues.main.warehouse``: where the choice goes under ``values:``."""
    return ".".join(map(str, choice.setting))


def read_choices(connection: Connection, password: str) -> list[Choice]:
    """Connect to the base and list every reference the preset needs, with the items to pick from."""
    from hub.config import bundled_mappings

    connector = connector_types()[CONNECTOR_TYPE]
    try:
        settings = connector.settings_model.model_validate(
            {"type": CONNECTOR_TYPE, "url": connection.url, "username": connection.username, "password": password,
             "preset": connection.preset}, context={"mappings": bundled_mappings()})
    except ValidationError as exc:
        raise ConfigError([f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]) from None
    try:
        timezone = zone(connection.timezone)
    except ValueError as exc:
        raise ConfigError([f"--timezone {connection.timezone}: {exc}"]) from None
    context = ConnectorContext(source=SOURCE, timezone=timezone, log=logging.getLogger("hub.init"))
    return connector.choices(settings, context)


def answer_for(choice: Choice, answers: Mapping[str, str]) -> str | None:
    """The answer given for ``choice``: by its whole setting (``venues.main.warehouse``) or its last word."""
    return answers.get(setting_name(choice), answers.get(str(choice.setting[-1])))


def pick(choice: Choice, answer: str) -> str:
    """The reference ``answer`` names: one of the choice's items by Ref_Key or name (any case), or a Ref_Key
    of an item the base holds beyond those listed."""
    wanted = answer.strip()
    for ref in choice.options:
        if ref.lower() == wanted.lower():
            return ref
    named = [ref for ref, name in choice.options.items() if name.casefold() == wanted.casefold()]
    if len(named) == 1:
        return named[0]
    where = f"values.{setting_name(choice)}"
    if named:
        raise ConfigError([f"{where}: {len(named)} items of {choice.holder} are named {wanted!r}: "
                           f"{', '.join(named)}"], hint="give the Ref_Key of the one you mean")
    if not choice.complete or not choice.options:
        try:
            return str(uuid.UUID(wanted))
        except ValueError:
            pass
    known = list(choice.options.values())
    listed = "" if choice.complete else f" (of the first {len(known)} listed; give the Ref_Key of another)"
    raise ConfigError([f"{where}: no item of {choice.holder or '1C'} is named {wanted!r}{listed}; "
                       + (suggest(wanted, known) if known else "there is none to choose from")],
                      hint="give an item's name as 1C shows it, or its Ref_Key")


def unanswered(choice: Choice) -> str | None:
    """The reference ``--yes`` takes for a choice nobody answered (the only item there is), or None."""
    return next(iter(choice.options)) if choice.complete and len(choice.options) == 1 else None


def unanswered_problem(choice: Choice, flag: str) -> str:
    """What to tell an integrator who left ``choice`` unanswered and asked not to be asked."""
    where = f"values.{setting_name(choice)}"
    if not choice.options:
        what = f"{choice.holder} of this base holds nothing to pick" if choice.holder else "1C does not say where"
        return f"{where}: {what}; pass {flag} with a Ref_Key"
    names = ", ".join(repr(name) for name in list(choice.options.values())[:5])
    return f"{where}: pass {flag} with one of {names}{'' if len(choice.options) <= 5 else ', …'}"


def refuse_overwrite(path: Path, *, force: bool) -> None:
    """Stop before anything is read when ``path`` would be overwritten without ``--force``."""
    if path.exists() and not force:
        raise ConfigError([f"{path}: already exists; hub init does not overwrite it"],
                          hint="pass --force to replace it, or --output another file")


def render(connection: Connection, picked: Iterable[tuple[Choice, str]]) -> str:
    """The text of hub.yaml: the 1C source with every picked reference (its name beside it), no jobs yet."""
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    for choice, ref in picked:
        node = values
        for segment in choice.setting[:-1]:
            node = node.setdefault(str(segment), {})
        node[str(choice.setting[-1])] = ref
        names[ref] = choice.options.get(ref, "")
    config = {
        "version": 1,
        "state": {"url": "sqlite:///hub-state.db"},
        "timezone": connection.timezone,
        "system_of_record": SOURCE,
        "sources": {SOURCE: {"type": CONNECTOR_TYPE, "url": connection.url, "username": connection.username,
                             "password": f"${{{connection.password_env}}}", "preset": connection.preset,
                             "values": values}},
        "jobs": {},
    }
    lines = []
    for line in yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=1000).splitlines():
        ref = line.rsplit(": ", 1)[-1]
        lines.append(f"{line}  # {names[ref]}" if names.get(ref) else line)
    header = ["# Written by `hub init` from the 1C base itself; each reference's name is beside its Ref_Key.",
              f"# The password is read from ${connection.password_env} at start: export it, then `hub check`.",
              "# Add the channels under sources: and what moves where under jobs: (see config/hub.yaml)."]
    return "\n".join([*header, *lines]) + "\n"
