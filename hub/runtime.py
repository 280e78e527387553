"""The runtime: a loaded configuration with its state store and connectors, opened once per process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType

from hub.config import HubConfig, JobConfig
from hub.connector import Connector, ConnectorContext
from hub.errors import ConfigError, suggest
from hub.logs import add_secrets
from hub.mapping import check_paths
from hub.plugins import CONNECTOR_GROUP, JOB_GROUP, installed
from hub.settings import RetryPolicy, SourceSettings
from hub.state import StateStore, open_store


class StoreLinks:
    """Id links from the state store, for mappings' lookups."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def resolve(self, system: str, entity: str, external_id: str) -> str | None:
        with self.store.reading() as state:
            return state.links.get(system, entity, external_id)


class StoreChannelState:
    """A channel's kept state, in the state store's ``channel_state`` table."""

    def __init__(self, store: StateStore, source: str) -> None:
        self.store = store
        self.source = source

    def put_many(self, kind: str, payloads: Mapping[str, str]) -> None:
        with self.store.transaction() as state:
            state.channel_state.put_many(self.source, kind, payloads)

    def get(self, kind: str, key: str) -> str | None:
        with self.store.reading() as state:
            return state.channel_state.get(self.source, kind, key)

    def all(self, kind: str) -> list[tuple[str, str]]:
        with self.store.reading() as state:
            return list(state.channel_state.all(self.source, kind))

    def delete(self, kind: str, keys: Iterable[str]) -> None:
        with self.store.transaction() as state:
            state.channel_state.delete(self.source, kind, keys)


class Runtime:
    """Owns the state store and creates connectors and jobs on first use."""

    def __init__(self, config: HubConfig, *, store: StateStore | None = None) -> None:
        self.config = config
        add_secrets(config.secrets)  # also when hub runs without the CLI, e.g. embedded in tests
        problems = check_paths([config.mappings])
        if problems:  # every sync and the daemon refuse to start on a broken mapping
            raise ConfigError(problems, hint="hub mappings check lists them; docs/mappings.md has the grammar")
        self.store = store or open_store(config.state.url)
        self._connectors: dict[str, Connector] = {}
        self._lock = threading.Lock()  # the daemon's HTTP threads, worker and scheduled runs share connectors

    def connector(self, name: str) -> Connector:
        """The connector of source ``name``, created once."""
        with self._lock:
            return self._connector(name)

    def probe(self, name: str) -> Connector:
        """A new connector of source ``name`` that tries each call once, for ``hub check``; the caller closes it.

        A system that accepts connections and never answers is then reported within the
        source's ``timeout``, not after every retry and its backoff.
        """
        settings = self._settings(name)
        return self._new(name, settings.model_copy(update={"retry": RetryPolicy(attempts=1)}))

    def _connector(self, name: str) -> Connector:
        if name not in self._connectors:
            self._connectors[name] = self._new(name, self._settings(name))
        return self._connectors[name]

    def _settings(self, name: str) -> SourceSettings:
        settings = self.config.sources.get(name)
        if settings is None:
            raise ConfigError([f"no source named {name!r}"], hint=suggest(name, list(self.config.sources)))
        return settings

    def _new(self, name: str, settings: SourceSettings) -> Connector:
        context = ConnectorContext(source=name, timezone=self.config.timezone,
                                   log=logging.getLogger(f"hub.connector.{name}"),
                                   mappings=self.config.mappings, links=StoreLinks(self.store),
                                   state=StoreChannelState(self.store, name))
        connector: type[Connector] = installed(CONNECTOR_GROUP)[settings.type]
        return connector(settings, context)

    def job_config(self, name: str) -> JobConfig:
        job = self.config.jobs.get(name)
        if job is None:
            raise ConfigError([f"no job named {name!r}"], hint=suggest(name, list(self.config.jobs)))
        return job

    def job_class(self, name: str) -> type:
        job: type = installed(JOB_GROUP)[self.job_config(name).type]
        return job

    def close(self, *, keep_store: bool = False) -> None:
        """Close the connectors and the state store; ``keep_store`` when another runtime goes on with the store
        (the daemon's, after a reload)."""
        for connector in self._connectors.values():
            connector.close()
        self._connectors.clear()
        if not keep_store:
            self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
