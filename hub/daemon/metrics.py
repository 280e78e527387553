"""``/metrics``: the daemon's state in Prometheus' text format.

Counters count what this process did since it started (Prometheus handles
restarts); gauges read the state DB at scrape time, so they agree across
several daemons sharing it and survive restarts:

* ``hub_runs_total{job,trigger,status}`` and ``hub_records_total{job,result}``;
* ``hub_http_requests_total{endpoint,status}``, ``hub_http_request_duration_seconds{endpoint}``;
* ``hub_outbox_depth{target}``, ``hub_inbox_pending``, ``hub_dead_letters_open``;
* ``hub_job_last_success_timestamp_seconds{job}``: alert when it grows old.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.state import InboxStatus, RunInfo, StateStore

CONTENT_TYPE = CONTENT_TYPE_LATEST
# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """The daemon's metrics, in a registry of its own (two daemons in one test process do not mix)."""

    def __init__(self, store: StateStore) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter("hub_runs", "Job runs by how they were started and how they ended.",
                            ["job", "trigger", "status"], registry=self.registry)
        self.records = Counter("hub_records", "Records handled by job runs, by result.", ["job", "result"],
                               registry=self.registry)
        self.requests = Counter("hub_http_requests", "HTTP requests served, by endpoint and status code.",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("hub_http_request_duration_seconds", "Time to answer an HTTP request.",
                                 ["endpoint"], registry=self.registry)
        self.registry.register(_StateCollector(store))

    def run_finished(self, run: RunInfo) -> None:
        self.runs.labels(run.job, run.trigger, run.status).inc()
        for result, count in run.counts.as_dict().items():
            if count:
                self.records.labels(run.job, result).inc(count)

    def request_served(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Gauges read from the state DB at each scrape."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        with self.store.reading() as state:
            depth = state.outbox.depth()
            pending = state.inbox.count(InboxStatus.PENDING)
            dead = state.dead_letters.count()
            last = state.runs.last_success()
        outbox = GaugeMetricFamily("hub_outbox_depth", "Outbox entries not yet written, by target.",
                                   labels=["target"])
        for target, count in sorted(depth.items()):
            outbox.add_metric([target], count)
        yield outbox
        yield GaugeMetricFamily("hub_inbox_pending", "Received records not yet processed.", value=pending)
        yield GaugeMetricFamily("hub_dead_letters_open", "Records waiting for a person.", value=dead)
        success = GaugeMetricFamily("hub_job_last_success_timestamp_seconds",
                                    "When each job last finished a successful run (Unix time).", labels=["job"])
        for job, when in sorted(last.items()):
            success.add_metric([job], when.timestamp())
        yield success

    def describe(self) -> Iterator[Metric]:
        return iter(())  # read at scrape time only: registering must not query the database
