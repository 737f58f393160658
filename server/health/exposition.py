"""The Prometheus text for ``/metrics``, built with ``prometheus_client`` at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from server.health.figures import Figures
from server.health.requests import BUCKETS, Counts, Latency


class _Snapshot:
    """A collector over figures already gathered (prometheus_client calls ``collect``)."""

    def __init__(
        self, counts: Counts, latency: Latency, figures: Figures | None, check_backlog: int
    ) -> None:
        self.counts = counts
        self.latency = latency
        self.figures = figures
        self.check_backlog = check_backlog

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "tessera_http_requests",
            "HTTP requests answered, by route group and status class.",
            labels=["group", "status"],
        )
        for (group, status), n in sorted(self.counts.items()):
            requests.add_metric([group, status], n)
        yield requests
        durations = HistogramMetricFamily(
            "tessera_http_request_duration_seconds",
            "Time to answer a request, by route group.",
            labels=["group"],
        )
        for group, row in sorted(self.latency.items()):
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for bound, count in zip([*map(str, BUCKETS), "+Inf"], row[:-1], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            durations.add_metric([group], buckets, sum_value=row[-1])
        yield durations
        yield GaugeMetricFamily(
            "tessera_check_log_backlog",
            "Check-log entries this worker holds that are not written yet.",
            value=self.check_backlog,
        )
        yield GaugeMetricFamily(
            "tessera_database_up",
            "1 when the figures below could be read from the database.",
            value=0 if self.figures is None else 1,
        )
        if self.figures is None:
            return
        outbox = GaugeMetricFamily(
            "tessera_outbox_messages",
            "Outbox messages not yet sent, by state (queued, failing, sending, failed).",
            labels=["state"],
        )
        for state, n in sorted(self.figures.outbox.items()):
            outbox.add_metric([state], n)
        yield outbox
        yield GaugeMetricFamily(
            "tessera_outbox_oldest_queued_age_seconds",
            "Age of the oldest message still waiting to be sent (0 when none).",
            value=self.figures.oldest_queued_age,
        )
        nightly = GaugeMetricFamily(
            "tessera_nightly_last_success_timestamp_seconds",
            "When each nightly job last finished successfully (Unix time).",
            labels=["job"],
        )
        for job, at in sorted(self.figures.nightly_last_success.items()):
            nightly.add_metric([job], at)
        yield nightly
        wallet = GaugeMetricFamily(
            "tessera_wallet_updates",
            "Wallet pushes and API updates not done, by state (queued, failing, sending, failed).",
            labels=["state"],
        )
        for state, n in sorted(self.figures.wallet.items()):
            wallet.add_metric([state], n)
        yield wallet
        yield GaugeMetricFamily(
            "tessera_card_rebuild_queue",
            "Stored mobile-card payloads waiting to be computed again.",
            value=self.figures.stale_cards,
        )


def render(counts: Counts, latency: Latency, figures: Figures | None, check_backlog: int) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(counts, latency, figures, check_backlog))
    return generate_latest(registry)
