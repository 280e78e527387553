"""The acceptance suite every connector's tests run.

A connector's test module subclasses :class:`ConnectorAcceptance`, names its
connector type and says how to seed and count records in its sandbox::

    class TestTestChannelAcceptance(ConnectorAcceptance):
        connector_type = "testchannel"
        entity = Entity.ORDERS

        def seed(self, sandbox, count): ...
        def make_record(self, number): ...
        def count_written(self, sandbox, key): ...

and inherits the checks below, all run over real HTTP against the sandbox:

* the connectivity check succeeds on a good config and fails cleanly (a
  HubError with a hint-worthy message) on a bad one;
* reads resume from a saved cursor without gaps or repeats;
* writes are idempotent: the same record twice creates one object, also
  when the first answer was lost after the system committed it;
* 429 with Retry-After, 5xx and timeouts are retried; other 4xx are not;
* no secret appears in any error or log line;
* for a connector with push endpoints, served as ``hub daemon`` serves them on
  a real port: a bad body gets the system's own 4xx shape and is kept as
  rejected, a repeated push is taken once, a wrong credential stores nothing,
  a push is decoded once, by the worker, with nothing called outside hub while
  the system waits, one that passes its envelope but not its decoding becomes
  a dead letter, the system's ping stores nothing, and the kept body holds no
  credential (nor do its kept headers, nor a refused body or a dead letter:
  hook :meth:`~ConnectorAcceptance.push_credentials`)
  (hooks :meth:`~ConnectorAcceptance.push_body`,
  :meth:`~ConnectorAcceptance.push_headers`,
  :meth:`~ConnectorAcceptance.assert_error_shape`,
  :meth:`~ConnectorAcceptance.undecodable_push_body`,
  :attr:`~ConnectorAcceptance.ping_body`; a protocol that logs in first or
  speaks in several calls, as 1C's exchange does, overrides
  :meth:`~ConnectorAcceptance.push`, :meth:`~ConnectorAcceptance.ping` and
  :meth:`~ConnectorAcceptance.taken`).

Retry waits go through a recording fake clock, so nothing really sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, cast

import pytest
import requests

from hub.connector import Connector, ConnectorContext, Mode
from hub.daemon.metrics import Metrics
from hub.daemon.server import DaemonApp, HttpServer, Mounted
from hub.errors import AuthError, HubError, RequestRejected, RetriableError
from hub.inbound import Inbound, blank
from hub.jobrun import RunContext
from hub.model import Entity, OrderStatus, RawRecord, Record
from hub.pipeline import Pipeline
from hub.registry import connector_types
from hub.runtime import Runtime
from hub.sandbox import Sandbox
from hub.state import InboxStatus, StateStore, open_store
from hub.values import zone


class MemoryState:
    """A channel's kept state in a dict (:class:`hub.connector.ChannelState`), as the state DB keeps it between
    runs: what every connector the suite makes is given, since the runtime gives every connector one."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], str] = {}

    def put_many(self, kind: str, payloads: Mapping[str, str]) -> None:
        self.kept.update({(kind, key): payload for key, payload in payloads.items()})

    def get(self, kind: str, key: str) -> str | None:
        return self.kept.get((kind, key))

    def all(self, kind: str) -> list[tuple[str, str]]:
        return [(key, payload) for (k, key), payload in self.kept.items() if k == kind]

    def delete(self, kind: str, keys: Iterable[str]) -> None:
        for key in keys:
            self.kept.pop((kind, key), None)


class RecordingClock:
    """A clock whose ``sleep`` only records: retry and rate-limit waits cost no time in tests."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Answer(NamedTuple):
    status: int
    body: bytes


class Pushed(NamedTuple):
    """A connector's push endpoints served on a real port, with the state store they keep into."""

    url: str
    store: StateStore
    connector: Connector
    inbound: Inbound

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        answer = requests.post(self.url + path, data=body, headers=headers, timeout=10)
        return Answer(answer.status_code, answer.content)


class ConnectorAcceptance:
    """Subclass per connector; override the hooks marked as such."""

    connector_type: ClassVar[str]
    entity: ClassVar[Entity]
    secret_settings: ClassVar[tuple[str, ...]] = ("token", "password", "client_secret", "api_key")
    """Settings whose values must never show in errors or logs."""
    incremental: ClassVar[bool] = True
    """Whether reads resume from a cursor; snapshot readers (1C) must instead return each record once."""

    # --- hooks a connector's test overrides ------------------------------------------------------

    def settings(self, sandbox: Sandbox) -> dict[str, Any]:
        """Good settings for a source pointing at ``sandbox``; fast retries by default."""
        return {"type": self.connector_type, **sandbox.source_settings(), "timeout": 0.5,
                "retry": {"attempts": 3, "backoff": 0.01, "max_backoff": 0.05}}

    def bad_settings(self, sandbox: Sandbox) -> dict[str, Any]:
        """Settings the system must refuse (wrong credentials by default)."""
        settings = self.settings(sandbox)
        for key in self.secret_settings:
            if key in settings:
                settings[key] = "wrong-" + str(settings[key])
        return settings

    def secrets(self, settings: dict[str, Any]) -> list[str]:
        """The secrets in ``settings``: the values of :attr:`secret_settings` by default."""
        return [str(settings[key]) for key in self.secret_settings if key in settings]

    def seed(self, sandbox: Sandbox, count: int) -> list[str]:
        """Create ``count`` readable records in the sandbox; return their external ids."""
        raise NotImplementedError

    def make_record(self, number: int) -> Record:
        """A canonical record this connector can write."""
        raise NotImplementedError

    def count_written(self, sandbox: Sandbox, key: str) -> int:
        """How many objects the sandbox holds for idempotency ``key``."""
        raise NotImplementedError

    push_path: ClassVar[str | None] = None
    """The push endpoint the push checks call, under the source's path; None: the connector takes no pushes."""
    push_entity: ClassVar[Entity] = Entity.ORDERS
    """What the pushes carry."""
    bad_push_body: ClassVar[bytes] = b"{not json"
    bad_push_path: ClassVar[str | None] = None
    """Where the bad body goes, when not to ``push_path`` (1C's exchange refuses an upload by its file name)."""
    refuses_in_the_body: ClassVar[bool] = False
    """The system's refusals come with HTTP 200 and say so in the body (1C reads only the body), not as a 4xx."""
    ping_body: ClassVar[bytes | None] = None
    """What the system sends to :attr:`push_path` to see that hub answers (Tilda's ``test=test``); None: it has no
    ping."""
    served: Pushed
    """The push endpoints of the running test, once its ``pushed`` fixture serves them (a token endpoint beside
    them gives :meth:`push_headers` its credential)."""

    def push_body(self, sandbox: Sandbox, number: int) -> bytes:
        """A body the system pushes that hub takes (a new order)."""
        raise NotImplementedError

    def undecodable_push_body(self, sandbox: Sandbox) -> bytes | None:
        """A body whose envelope the endpoint takes but which cannot be decoded (an unknown status word); None when
        the system's envelope already covers all its decoding can refuse."""
        return None

    def push_headers(self, settings: dict[str, Any], body: bytes, *, credential: bool) -> dict[str, str]:
        """The headers the system sends with ``body``: with its good credential, or a wrong one."""
        raise NotImplementedError

    def push_credentials(self, settings: dict[str, Any]) -> list[str]:
        """The credentials the system sends with its pushes, in their headers or bodies, which nothing hub keeps may
        hold: :meth:`secrets` by default."""
        return self.secrets(settings)

    def assert_error_shape(self, status: int, body: bytes) -> None:
        """Fail unless ``body`` is the system's own error answer for ``status``."""
        raise NotImplementedError

    def push(self, pushed: Pushed, sandbox: Sandbox, body: bytes, *, credential: bool, path: str) -> Answer:
        """Send ``body`` to ``path`` as the system does; one POST with :meth:`push_headers` by default."""
        return pushed.post(path, body, self.push_headers(self.settings(sandbox), body, credential=credential))

    def ping(self, pushed: Pushed, sandbox: Sandbox) -> Answer | None:
        """Call the endpoint's ping, as the system does to see hub is there (:attr:`ping_body` to the push path by
        default); None: it has none."""
        return None if self.ping_body is None else self._push(pushed, sandbox, self.ping_body)

    def taken(self, pushed: Pushed) -> int:
        """What hub took of the pushes so far: the inbox's items, all pending by default."""
        with pushed.store.reading() as state:
            assert state.inbox.count() == state.inbox.count(InboxStatus.PENDING)
            return state.inbox.count()

    # --- fixtures ------------------------------------------------------------------------------

    @pytest.fixture
    def sandbox(self) -> Iterator[Sandbox]:
        sandbox = connector_types()[self.connector_type].sandbox()
        assert sandbox is not None, f"{self.connector_type} has no sandbox"
        with sandbox:
            yield sandbox

    @pytest.fixture
    def clock(self) -> RecordingClock:
        return RecordingClock()

    def connect(self, settings: dict[str, Any], clock: RecordingClock) -> Connector:
        cls = connector_types()[self.connector_type]
        model = cls.settings_model.model_validate(settings)
        context = ConnectorContext(source="acceptance", timezone=zone("Europe/Moscow"),
                                   log=logging.getLogger("hub.connector.acceptance"), clock=clock,
                                   state=MemoryState())
        return cls(model, context)

    @pytest.fixture
    def connector(self, sandbox: Sandbox, clock: RecordingClock) -> Iterator[Connector]:
        connector = self.connect(self.settings(sandbox), clock)
        yield connector
        connector.close()

    @pytest.fixture
    def pushed(self, sandbox: Sandbox, clock: RecordingClock, tmp_path: Path) -> Iterator[Pushed]:
        if self.push_path is None:
            pytest.skip(f"{self.connector_type} takes no pushes")
        connector = self.connect(self.settings(sandbox), clock)
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        inbound = Inbound(store, connector, lambda: None)
        mounts = [(f"/acceptance{endpoint.rule}",
                   Mounted("acceptance", endpoint, inbound, connector.settings.inbound.max_body))
                  for endpoint in connector.endpoints()]
        app = DaemonApp(mounts, metrics=Metrics(store), readiness=dict)
        server = HttpServer(app, "127.0.0.1", 0, threads=4, shutdown_timeout=1, max_body=1 << 20)
        host, port = server.start()
        try:
            self.served = Pushed(f"http://{host}:{port}/acceptance", store, connector, inbound)
            yield self.served
        finally:
            server.stop()
            connector.close()
            store.close()

    # --- the suite -------------------------------------------------------------------------------

    def test_check_succeeds_on_good_config(self, connector: Connector) -> None:
        assert connector.check()

    def test_check_fails_cleanly_on_bad_config(self, sandbox: Sandbox, clock: RecordingClock) -> None:
        connector = self.connect(self.bad_settings(sandbox), clock)
        with pytest.raises(AuthError) as raised:
            connector.check()
        assert raised.value.message

    def test_reads_resume_from_cursor_without_gaps_or_repeats(self, connector: Connector,
                                                              sandbox: Sandbox) -> None:
        if not connector.can(self.entity, Mode.PULL):
            pytest.skip(f"{self.connector_type} does not pull {self.entity.value}")
        if not self.incremental:
            seeded = self.seed(sandbox, 25)
            ids = [r.external_id for page in connector.read(self.entity, cursor=None) for r in page.records]
            assert len(ids) == len(set(ids)), "a snapshot read returned a record twice"
            assert set(seeded) <= set(ids), "a snapshot read missed a record"
            return
        first_batch = self.seed(sandbox, 25)
        pages = iter(connector.read(self.entity, cursor=None))
        seen = [r.external_id for r in next(pages).records]
        first_page_cursor = None
        for page in pages:  # a run that stops after saving the cursor of its second page
            seen += [r.external_id for r in page.records]
            first_page_cursor = page.cursor
            break
        assert first_page_cursor is not None, "seed more records than one page holds"
        later_batch = self.seed(sandbox, 5)
        resumed = [r.external_id for page in connector.read(self.entity, cursor=first_page_cursor)
                   for r in page.records]
        assert len(seen) + len(resumed) == len(set(seen) | set(resumed)), "a record was read twice"
        assert set(seen) | set(resumed) == set(first_batch) | set(later_batch), "a record was missed"

    def test_writes_are_idempotent(self, connector: Connector, sandbox: Sandbox) -> None:
        if not connector.can(self.entity, Mode.WRITE):
            pytest.skip(f"{self.connector_type} does not write {self.entity.value}")
        key = "acceptance:1"
        record = self.make_record(1)
        for _ in range(2):  # the engine's sequence: look up by key, then create or update
            connector.write(self.entity, record, key=key, ref=connector.find(self.entity, key))
        assert self.count_written(sandbox, key) == 1

    def test_write_after_a_lost_answer_is_found_not_repeated(self, connector: Connector,
                                                              sandbox: Sandbox) -> None:
        if not connector.can(self.entity, Mode.WRITE):
            pytest.skip(f"{self.connector_type} does not write {self.entity.value}")
        key = "acceptance:lost"
        record = self.make_record(2)
        sandbox.faults.drop_after_commit(1)
        with pytest.raises(RetriableError):
            connector.write(self.entity, record, key=key, ref=connector.find(self.entity, key))
        assert self.count_written(sandbox, key) == 1, "the sandbox should have committed the write"
        connector.write(self.entity, record, key=key, ref=connector.find(self.entity, key))
        assert self.count_written(sandbox, key) == 1

    @staticmethod
    def requests_of_check(connector: Connector, sandbox: Sandbox) -> int:
        """How many requests ``connector``'s check makes when nothing fails (1C's makes several).

        Checked twice: the first check may fetch what later ones reuse (a token).
        """
        connector.check()
        before = sandbox.count()
        connector.check()
        return sandbox.count() - before

    @pytest.mark.parametrize("retry_after", ["2", "Wed, 21 Oct 2015 07:28:00 GMT"])
    def test_429_is_retried_honouring_retry_after(self, connector: Connector, sandbox: Sandbox,
                                                  clock: RecordingClock, retry_after: str) -> None:
        calls = self.requests_of_check(connector, sandbox)
        before = sandbox.count()
        sandbox.faults.fail_next(1, status=429, retry_after=retry_after)
        connector.check()
        assert sandbox.count() - before == calls + 1
        if retry_after == "2":
            assert clock.sleeps and max(clock.sleeps) >= 2

    def test_5xx_is_retried(self, connector: Connector, sandbox: Sandbox) -> None:
        calls = self.requests_of_check(connector, sandbox)
        before = sandbox.count()
        sandbox.faults.fail_next(2, status=503)
        connector.check()
        assert sandbox.count() - before == calls + 2

    def test_5xx_until_tries_run_out_is_retriable_error(self, connector: Connector, sandbox: Sandbox) -> None:
        sandbox.faults.fail_next(10, status=500)
        with pytest.raises(RetriableError):
            connector.check()
        assert sandbox.count() == 3

    def test_timeout_is_retried(self, connector: Connector, sandbox: Sandbox) -> None:
        calls = self.requests_of_check(connector, sandbox)
        before = sandbox.count()
        sandbox.faults.stall_next(1, seconds=1.5)
        connector.check()
        assert sandbox.count() - before == calls + 1

    @pytest.mark.parametrize("status", [400, 404, 422])
    def test_other_4xx_is_not_retried(self, connector: Connector, sandbox: Sandbox, status: int) -> None:
        sandbox.faults.fail_next(1, status=status, body=b'{"error": "nope"}')
        with pytest.raises(RequestRejected):
            connector.check()
        assert sandbox.count() == 1

    def test_each_entity_refuses_what_its_stream_does_not_declare(self, connector: Connector,
                                                                 sandbox: Sandbox) -> None:
        """The capabilities come from the streams; a call they do not cover is refused before anything is sent."""
        for entity in Entity:
            if not connector.can(entity, Mode.PULL):
                with pytest.raises(RequestRejected, match=f"cannot pull {entity.value}"):
                    next(iter(connector.read(entity, cursor=None)))
            if entity not in connector.batch_limits:
                with pytest.raises(RequestRejected, match=f"cannot write {entity.value}"):
                    connector.write_batch(entity, [])
        if not connector.can(Entity.ORDERS, Mode.STATUS):
            with pytest.raises(RequestRejected, match="cannot status orders"):
                connector.set_status("acceptance-1", OrderStatus.READY)
        assert sandbox.count() == 0

    def test_no_secret_in_errors_or_logs(self, sandbox: Sandbox, clock: RecordingClock,
                                         caplog: pytest.LogCaptureFixture) -> None:
        from hub.logs import add_secrets

        good = self.settings(sandbox)
        bad = self.bad_settings(sandbox)
        secrets = self.secrets(good) + self.secrets(bad)
        assert secrets, "name the settings that hold secrets"
        add_secrets(secrets)
        caplog.set_level(logging.DEBUG)
        messages = []
        for settings in (good, bad):
            sandbox.faults.fail_next(1, status=500)
            sandbox.faults.fail_next(1, status=401, body=b'{"error": "unauthorized"}')
            try:
                self.connect(settings, clock).check()
            except HubError as exc:
                messages.append(str(exc))
        assert messages, "the failures should have raised"
        text = caplog.text + "\n".join(messages)
        for secret in secrets:
            assert secret not in text

    def _push(self, pushed: Pushed, sandbox: Sandbox, body: bytes, *, credential: bool = True,
              path: str | None = None) -> Answer:
        assert self.push_path is not None
        return self.push(pushed, sandbox, body, credential=credential, path=path or self.push_path)

    def test_a_bad_push_gets_the_systems_4xx_and_is_kept(self, pushed: Pushed, sandbox: Sandbox) -> None:
        answer = self._push(pushed, sandbox, self.bad_push_body, path=self.bad_push_path)
        assert (answer.status == 200) if self.refuses_in_the_body else (400 <= answer.status < 500), answer
        self.assert_error_shape(answer.status, answer.body)
        with pushed.store.reading() as state:
            assert state.inbox.count(InboxStatus.PENDING) == 0
            kept = [state.inbox.get(n) for n in range(1, state.inbox.count() + 1)]
        assert [(item.body, item.status) for item in kept if item is not None] == [
            (blank(self.bad_push_body, pushed.inbound.secrets), InboxStatus.REJECTED)]

    def test_a_repeated_push_is_taken_once(self, pushed: Pushed, sandbox: Sandbox) -> None:
        body = self.push_body(sandbox, 1)
        answers = [self._push(pushed, sandbox, body) for _ in range(2)]
        assert [answer.status for answer in answers] == [200, 200], answers
        assert self.taken(pushed) == 1

    def test_a_push_is_decoded_once_by_the_worker_and_nothing_outside_is_called_in_the_request(
            self, pushed: Pushed, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
        decoded: list[str | None] = []
        decode = pushed.connector.decode

        def counted(entity: Entity, record: RawRecord) -> Record:
            decoded.append(record.external_id)
            return decode(entity, record)

        monkeypatch.setattr(pushed.connector, "decode", counted)
        body = self.push_body(sandbox, 3)
        headers = self.push_headers(self.settings(sandbox), body, credential=True)
        called = _requests_sent(monkeypatch)
        before = sandbox.count()
        answer = pushed.post(self.push_path or "", body, headers)
        assert answer.status == 200, answer
        assert called == [pushed.url + self.push_path if self.push_path else pushed.url], \
            "the endpoint called out while the system waited"
        assert sandbox.count() == before, "the endpoint called the system while it waited"
        assert decoded == [], "the endpoint decoded the record inside the request"
        self._stage(pushed)
        assert len(decoded) == 1, decoded
        with pushed.store.reading() as state:
            assert state.inbox.count(InboxStatus.DONE) == 1, "the worker could not decode what the endpoint took"

    def test_a_push_whose_envelope_holds_but_not_its_content_becomes_a_dead_letter(
            self, pushed: Pushed, sandbox: Sandbox) -> None:
        body = self.undecodable_push_body(sandbox)
        if body is None:
            pytest.skip(f"{self.connector_type} names no body that passes its envelope and fails its decoding")
        answer = self._push(pushed, sandbox, body)
        assert answer.status == 200, answer
        self._stage(pushed)
        with pushed.store.reading() as state:
            assert state.inbox.count(InboxStatus.DEAD) == 1
            [letter] = state.dead_letters.list()
        assert letter.stage == "decode" and letter.reason and letter.payload == blank(body, pushed.inbound.secrets)

    def test_the_kept_body_holds_no_credential(self, pushed: Pushed, sandbox: Sandbox) -> None:
        """What hub keeps of a push (the record and its headers, a refused body, a dead letter) holds none of the
        credentials the system sent with it, and what the worker decodes of it is the record it sent."""
        credentials = [c for c in self.push_credentials(self.settings(sandbox)) if c]
        assert credentials, "name the credentials the system pushes with"
        body = self.push_body(sandbox, 4)
        assert self._push(pushed, sandbox, body).status == 200
        self._push(pushed, sandbox, self.bad_push_body, path=self.bad_push_path)
        undecodable = self.undecodable_push_body(sandbox)
        if undecodable is not None:
            self._push(pushed, sandbox, undecodable)
        self._stage(pushed)
        with pushed.store.reading() as state:
            kept = [item for n in range(1, state.inbox.count() + 1) if (item := state.inbox.get(n)) is not None]
            letters = state.dead_letters.list()
        assert kept, "the pushes should have been kept"
        text = b"\n".join([*(item.body + item.headers.encode() for item in kept), *(d.payload for d in letters)])
        for credential in credentials:
            assert credential.encode() not in text, "a credential the system sent is kept"

    def _stage(self, pushed: Pushed) -> None:
        """What the daemon's worker does next with what the endpoints took: decode it, and queue it."""
        Pipeline(cast(Runtime, _Runtime(pushed.store, pushed.connector)), RunContext(run_id=0, job="acceptance")
                 ).stage(pushed.connector.name, self.push_entity, ["target"])

    def test_a_push_with_a_wrong_credential_stores_nothing(self, pushed: Pushed, sandbox: Sandbox) -> None:
        answer = self._push(pushed, sandbox, self.push_body(sandbox, 2), credential=False)
        assert (answer.status == 200) if self.refuses_in_the_body else (answer.status in (401, 403)), answer
        assert self.taken(pushed) == 0
        with pushed.store.reading() as state:
            assert state.inbox.count() == 0

    def test_the_ping_stores_nothing(self, pushed: Pushed, sandbox: Sandbox) -> None:
        answer = self.ping(pushed, sandbox)
        if answer is None:
            pytest.skip(f"{self.connector_type} has no ping")
        assert answer.status == 200, answer
        assert self.taken(pushed) == 0
        with pushed.store.reading() as state:
            assert state.inbox.count() == 0


class _Runtime:
    """What :meth:`hub.pipeline.Pipeline.stage` needs of a runtime: the store, and the one connector."""

    def __init__(self, store: StateStore, connector: Connector) -> None:
        self.store = store
        self._connector = connector

    def connector(self, name: str) -> Connector:
        assert name == self._connector.name, name
        return self._connector


def _requests_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs every HTTP request from now on goes to (the test's own included), in order."""
    sent: list[str] = []
    send = requests.Session.send

    def recorded(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        sent.append(request.url or "")
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recorded)
    return sent
