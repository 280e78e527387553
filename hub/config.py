"""hub.yaml: loading, validation and the typed configuration.

Every problem in the file is reported at once, each with ``file:line:column``
and a hint, so an integrator fixes them in one pass::

    hub.yaml:7:12: sources.shop.token: environment variable SHOP_TOKEN is not set ...
    hub.yaml:9:5: sources.shop.tiemout: unknown key (did you mean 'timeout'?)
    hub.yaml:12:11: sources.onec.type: unknown connector type 'onec_odta' (did you mean 'onec_odata'?)

The file is found through ``--config``, then ``HUB_CONFIG``, then ``./hub.yaml``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.errors import ConfigError, suggest
from hub.plugins import CONNECTOR_GROUP, JOB_GROUP, installed
from hub.settings import SourceSettings
from hub.values import DEFAULT_TIMEZONE, zone
from hub.yamlsource import PathKey, YamlDocument, load_yaml_file

CONFIG_ENV = "HUB_CONFIG"
_M = TypeVar("_M", bound=BaseModel)
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StateConfig(_Strict):
    """Where hub keeps its state."""

    url: str = Field("sqlite:///hub-state.db", description=(
        "SQLAlchemy URL: sqlite:///path (a relative path is from hub.yaml's folder) or postgresql+psycopg://..."))

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL: use sqlite:///hub-state.db or "
                             "postgresql+psycopg://user@host/db") from None
        return value


class LogConfig(_Strict):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Lowest level written.")
    json_format: bool = Field(False, alias="json", description="One JSON object per line instead of text.")
    mask_personal_data: bool = Field(True, description="Mask phones, emails and names in log lines.")


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("expected a duration such as 30s, 5m, 1h or 1d")
        return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    return value


class DaemonConfig(_Strict):
    """``hub daemon``: where it listens and how it works. Inbound paths and limits are per source (``inbound:``)."""

    listen: str = Field("127.0.0.1:8080", description=(
        "host:port of the HTTP server (channels' endpoints, /healthz, /readyz, /metrics); 0.0.0.0:8080 for all "
        "interfaces, port 0 for any free port."))
    threads: int = Field(16, ge=1, le=256, description="HTTP worker threads: requests served at once.")
    job_threads: int = Field(4, ge=1, le=64, description="Scheduled jobs that may run at once (different jobs).")
    poll: timedelta = Field(timedelta(seconds=5), description=(
        "How often the inbox is checked for records no wake-up announced (received by another instance, or "
        "left by a stop)."))
    shutdown_timeout: timedelta = Field(timedelta(seconds=30), description=(
        "On SIGTERM, how long HTTP requests in flight get to finish. Runs stop at their next checkpoint, "
        "which may be after the one write in progress (up to the source's timeout × retry attempts)."))

    _durations = field_validator("poll", "shutdown_timeout", mode="before")(_duration)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ValueError("expected host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080")
        return value

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


Role = Literal["viewer", "operator", "admin"]
"""What a user of the daemon's /ui may do: a viewer sees counts, runs and dead letters with personal data masked;
an operator may also retry and dismiss dead letters; an admin also sees a guest's phone and orders (audited)."""
ROLES: tuple[Role, ...] = get_args(Role)
"""The roles from least to most allowed."""


class UserConfig(_Strict):
    """One person who may sign in to the daemon's /ui (``hub users add NAME --role R`` writes the entry)."""

    role: Role = Field(description="viewer, operator or admin.")
    password_hash: str = Field(description="scrypt$N$r$p$salt$hash, as hub users add prints it; never the password.")

    @field_validator("password_hash")
    @classmethod
    def _hashed(cls, value: str) -> str:
        parts = value.split("$")
        if len(parts) != 6 or parts[0] != "scrypt" or not all(part.isdigit() for part in parts[1:4]):
            raise ValueError("not a password hash: run `hub users add NAME --role ROLE` and paste the entry it prints")
        return value


class Schedule(_Strict):
    """When a job runs in ``hub daemon``: ``every`` (30s, 5m, 1h) or a 5-field ``cron``."""

    every: timedelta | None = Field(None, description="Interval, e.g. 30s, 5m, 1h.")
    cron: str | None = Field(None, description="Cron expression, e.g. '*/5 * * * *'.")

    _every = field_validator("every", mode="before")(_duration)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError("expected 5 fields: minute hour day month weekday")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' or 'cron'")
        return self


class JobConfig(_Strict):
    """One job: move an entity from one source to others."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str = Field(description="Job type, as registered in the hub.jobs entry-point group.")
    source: str = Field(alias="from", description="Source the records come from.")
    targets: list[str] = Field(default_factory=list, alias="to",
                               description="Source(s) the records go to; none for jobs that only read.")
    schedule: Schedule | None = Field(None, description="When the daemon runs it; omitted means on demand only.")
    options: dict[str, Any] = Field(default_factory=dict, description="Job-specific options.")

    @field_validator("targets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class _RawConfig(_Strict):
    # Sources and jobs are validated one by one afterwards, so one broken entry hides no other problem.
    version: Literal[1] = 1
    state: StateConfig = Field(default_factory=StateConfig)
    timezone: str = DEFAULT_TIMEZONE
    system_of_record: str | None = None
    mappings: str | None = None
    log: LogConfig = Field(default_factory=LogConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    users: dict[str, UserConfig] = Field(default_factory=dict)


@dataclass
class HubConfig:
    """The validated configuration."""

    file: Path | None
    state: StateConfig
    timezone: ZoneInfo
    system_of_record: str | None
    mappings: Path
    log: LogConfig
    sources: dict[str, SourceSettings]
    jobs: dict[str, JobConfig]
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    secrets: frozenset[str] = field(default_factory=frozenset)
    """Values substituted from the environment: redacted wherever they might be logged."""
    users: dict[str, UserConfig] = field(default_factory=dict)
    """Who may sign in to the daemon's /ui, with their roles."""

    def jobs_for(self, source: str) -> dict[str, JobConfig]:
        """Jobs that read from or write to ``source``, in the order hub.yaml lists them."""
        return {name: job for name, job in self.jobs.items() if source in (job.source, *job.targets)}


def bundled_mappings() -> Path:
    """The mappings folder shipped with hub."""
    import mappings

    return Path(mappings.__file__).parent


def find_config_file(explicit: str | None) -> Path:
    """``--config``, else ``$HUB_CONFIG``, else ``./hub.yaml``."""
    chosen = explicit or os.environ.get(CONFIG_ENV) or "hub.yaml"
    path = Path(chosen)
    if not path.is_file():
        raise ConfigError([f"{path}: configuration file not found"],
                          hint=f"pass --config PATH or set {CONFIG_ENV}; an example ships in config/hub.yaml")
    return path


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> HubConfig:
    """Load and validate ``path``; raise ConfigError listing every problem found.

    Relative paths in it (``state.url``'s SQLite file, ``mappings``, path settings of sources)
    are from the file's folder, so hub reads the same state from whatever directory it is run in.
    """
    doc = load_yaml_file(path, env=env)
    if doc.data is None and not doc.problems:
        doc.data = {}  # an empty file: reported below as having no sources
    if not isinstance(doc.data, dict):
        if not doc.problems:
            doc.problems.append(f"{doc.position(())}: expected a mapping of settings at the top level")
        raise ConfigError(doc.problems)
    return _Validator(doc, path).run()


class _Validator:
    def __init__(self, doc: YamlDocument, path: Path) -> None:
        self.doc = doc
        self.path = path
        self.folder = path.absolute().parent
        self.problems = list(doc.problems)
        mappings = doc.data.get("mappings")
        # Known before the sources are validated: a setting naming a mapping folder is checked against it.
        self.mappings = self.folder / mappings if isinstance(mappings, str) and mappings else bundled_mappings()

    def run(self) -> HubConfig:
        raw = self._validate(_RawConfig, self.doc.data, ())
        section = self._section
        sources = self._sources(raw.sources if raw else section("sources"))
        jobs = self._jobs(raw.jobs if raw else section("jobs"))
        tz = self._timezone(raw.timezone if raw else str(self.doc.data.get("timezone", DEFAULT_TIMEZONE)))
        if not self.doc.data.get("sources"):
            self._add(("sources",), "no source is configured, so hub has nothing to connect",
                      "add sources: and jobs: (an annotated example ships in config/hub.yaml)", at_key=True)
        if not self.mappings.is_dir():
            self._add(("mappings",), f"no folder {self.mappings}",
                      "copy there the mappings installed with hub (`hub mappings check` names their folder)")
        self._cross_check(self.doc.data.get("system_of_record"), list(section("sources")), section("jobs"))
        if raw is None or tz is None or self.problems:
            raise ConfigError(sorted(set(self.problems), key=_line_of))
        state = raw.state.model_copy(update={"url": _sqlite_from(self.folder, raw.state.url)})
        return HubConfig(file=self.path, state=state, timezone=tz, system_of_record=raw.system_of_record,
                         mappings=self.mappings, log=raw.log, sources=sources, jobs=jobs, daemon=raw.daemon,
                         secrets=frozenset(self.doc.secrets), users=raw.users)

    def _section(self, name: str) -> dict[str, dict[str, Any]]:
        data = self.doc.data.get(name) if isinstance(self.doc.data, dict) else None
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, dict)}

    def _jobs(self, raw: dict[str, dict[str, Any]]) -> dict[str, JobConfig]:
        known = installed(JOB_GROUP)
        result = {}
        for name, settings in raw.items():
            job = self._validate(JobConfig, settings, ("jobs", name))
            if job is None:
                continue
            result[name] = job
            job_type = known.get(job.type)  # an unknown type is reported by _cross_check
            if job_type is None:
                continue
            # Checked here rather than when the job first runs, so a mistake gets its line and a did-you-mean.
            if job_type.options_model is not None:
                self._validate(job_type.options_model, job.options, ("jobs", name, "options"))
            elif job.options:
                self._add(("jobs", name, "options"), f"the {job.type} job takes no options", at_key=True)
        return result

    def _sources(self, raw: dict[str, dict[str, Any]]) -> dict[str, SourceSettings]:
        known = installed(CONNECTOR_GROUP)
        result: dict[str, SourceSettings] = {}
        for name, settings in raw.items():
            where: PathKey = ("sources", name)
            type_name = settings.get("type")
            if not isinstance(type_name, str):
                self._add(where, "missing 'type' (the connector type)", "known: " + ", ".join(sorted(known)),
                          at_key=True)
                continue
            connector = known.get(type_name)
            if connector is None:
                self._add((*where, "type"), f"unknown connector type {type_name!r}",
                          suggest(type_name, list(known)))
                continue
            # The context lets a setting that names a folder of mappings (a 1C preset) check it exists, and one that
            # names a file read at once (a cash register's company file) find it from hub.yaml's folder.
            model = self._validate(connector.settings_model, settings, where,
                                   context={"mappings": self.mappings, "folder": self.folder})
            if model is not None:
                self._check_urls(model, where)
                result[name] = _paths_from(self.folder, model)
        return result

    def _check_urls(self, model: BaseModel, where: PathKey) -> None:
        # Settings named url or *_url are addresses hub calls or hands out. Without a scheme, requests
        # refuses one only at the first call, with a traceback, so they are checked here, at their line.
        for name, value in model:
            info = type(model).model_fields[name]
            here = (*where, info.alias or name)
            if isinstance(value, BaseModel):
                self._check_urls(value, here)
            elif isinstance(value, str) and (name == "url" or name.endswith("_url")):
                parts = urlsplit(value)
                if parts.scheme not in ("http", "https") or not parts.netloc:
                    hint = f"did you mean 'http://{value}'?" if "://" not in value else "e.g. https://host/path"
                    self._add(here, f"expected an http:// or https:// URL (got {value!r})", hint)

    def _timezone(self, name: str) -> ZoneInfo | None:
        try:
            return zone(name)
        except ValueError as exc:
            self._add(("timezone",), str(exc))
            return None

    def _cross_check(self, system_of_record: object, names: list[str],
                     jobs: dict[str, dict[str, Any]]) -> None:
        # Works on the raw job entries: a job with a bad schedule still gets its from/to checked.
        if isinstance(system_of_record, str) and system_of_record not in names:
            self._add(("system_of_record",), f"no source named {system_of_record!r}", suggest(system_of_record, names))
        known_jobs = installed(JOB_GROUP)
        for job_name, job in jobs.items():
            job_type = job.get("type")
            if isinstance(job_type, str) and job_type not in known_jobs:
                self._add(("jobs", job_name, "type"), f"unknown job type {job_type!r}",
                          suggest(job_type, list(known_jobs)))
            targets = job.get("to")
            refs: list[tuple[PathKey, object]] = [(("from",), job.get("from"))]
            if isinstance(targets, list):
                refs += [(("to", i), target) for i, target in enumerate(targets)]
            else:
                refs.append((("to",), targets))
            for where, ref in refs:
                if isinstance(ref, str) and ref not in names:
                    self._add(("jobs", job_name, *where), f"no source named {ref!r}", suggest(ref, names))

    def _validate(self, model: type[_M], data: Any, where: PathKey, *,
                  context: dict[str, Any] | None = None) -> _M | None:
        try:
            return model.model_validate(data, context=context)
        except ValidationError as exc:
            for error in exc.errors():
                loc: PathKey = (*where, *error["loc"])
                self._report(model, error, loc)
            return None

    def _report(self, model: type[BaseModel], error: Any, loc: PathKey) -> None:
        kind = error["type"]
        if kind == "extra_forbidden":
            siblings = _field_names(model, error["loc"][:-1])
            self._add(loc, "unknown key", suggest(str(loc[-1]), siblings) if siblings else None, at_key=True)
        elif kind == "missing":
            self._add(loc, "required key is missing", at_key=True)
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            got = repr(error.get("input"))
            self._add(loc, message if kind == "model_type" or got in message else f"{message} (got {got})")

    def _add(self, loc: PathKey, message: str, hint: str | None = None, *, at_key: bool = False) -> None:
        dotted = ".".join(str(part) for part in loc) or "(top level)"
        line = f"{self.doc.position(loc, key=at_key)}: {dotted}: {message}"
        self.problems.append(f"{line}; {hint}" if hint else line)


def _sqlite_from(folder: Path, url: str) -> str:
    """``url``, its SQLite file made relative to ``folder`` (hub.yaml's) rather than the current directory."""
    parsed = make_url(url)
    database = parsed.database
    if (parsed.get_backend_name() != "sqlite" or not database or database == ":memory:"
            or database.startswith("file:") or Path(database).is_absolute()):
        return url
    return parsed.set(database=str(folder / database)).render_as_string(hide_password=False)


def _paths_from(folder: Path, model: _M) -> _M:
    """``model`` with every relative path setting, nested ones too, made relative to ``folder``."""
    update: dict[str, Any] = {}
    for name, value in model:
        if isinstance(value, Path) and not value.is_absolute():
            update[name] = folder / value
        elif isinstance(value, BaseModel):
            update[name] = _paths_from(folder, value)
    return model.model_copy(update=update)


def _line_of(problem: str) -> tuple[int, str]:
    parts = problem.split(":", 2)
    return (int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0, problem)


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names (and aliases) of the model found by walking ``loc`` from ``model``."""
    annotation: Any = model
    for part in loc:
        current = _model_of(annotation)
        info = None if current is None else next(
            (f for name, f in current.model_fields.items() if part in (name, f.alias)), None)
        if info is not None:
            annotation = info.annotation
        elif not any(get_origin(a) in (dict, list) for a in (annotation, *get_args(annotation))):
            return []
        # else part is a key of a dict or an index of a list: what is inside has the same annotation
    current = _model_of(annotation)
    return [] if current is None else [f.alias or name for name, f in current.model_fields.items()]


def _model_of(annotation: Any) -> Any:
    """The model in ``annotation``: itself, or one inside ``X | None``, ``list[X]``, ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        inner = _model_of(arg)
        if inner is not None:
            return inner
    return None
