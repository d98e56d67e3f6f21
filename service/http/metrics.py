"""``GET /metrics``: Prometheus text format from a registry of this app's own.

One ``CollectorRegistry`` per ``Metrics`` (never prometheus-client's global one), so two
apps in one process never clash. Counters that already exist as stats objects
(``WebhookStats``, ``RealtimeStats``, ``ReconcileStats``) are read at scrape time by a
custom collector rather than counted twice; only what has no home elsewhere is a
prometheus-client metric here: HTTP requests (the middleware), webhook processing time,
Stripe call latency and errors.

This module does not import ``service.keys``, so ``keys.py`` can import ``Metrics``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.http.webhook_stats import WebhookStats
from service.payments.reconcile import ReconcileStats
from service.realtime.stats import RealtimeStats

_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_QUANTILES: Final = (0.5, 0.9, 0.99)
# Webhook processing and Stripe calls: from a cached dedupe (~1 ms) to a slow Stripe.
_FAST_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SLOW_BUCKETS: Final = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def route_template(request: web.BaseRequest) -> str:
    """The matched route's path template (``/api/payments/{payment_id}``), never the raw
    path, so the label set stays small; ``unmatched`` for 404/405."""
    match_info = getattr(request, "match_info", None)
    resource = match_info.route.resource if match_info is not None else None
    return resource.canonical if resource is not None else "unmatched"


class Metrics:
    """Everything /metrics shows, for one app."""

    def __init__(
        self,
        *,
        webhooks: WebhookStats,
        reconcile: ReconcileStats,
        realtime: Callable[[], RealtimeStats | None],
    ) -> None:
        self.webhooks = webhooks
        self.reconcile = reconcile
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "paylive_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "paylive_http_request_duration_seconds",
            "Time to answer an HTTP request (WebSocket and SSE: the connection's life).",
            ["route"],
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "paylive_webhook_processing_seconds",
            "Time from a verified webhook body to its answer (inbox, apply, commit).",
            buckets=_FAST_BUCKETS,
            registry=self.registry,
        )
        self.stripe_seconds = Histogram(
            "paylive_stripe_request_duration_seconds",
            "Stripe API calls, by operation (retries included).",
            ["operation"],
            buckets=_SLOW_BUCKETS,
            registry=self.registry,
        )
        self.stripe_errors = Counter(
            "paylive_stripe_errors",
            "Stripe API calls that failed, by operation and gateway error.",
            ["operation", "error"],
            registry=self.registry,
        )
        self.registry.register(StatsCollector(webhooks, realtime, reconcile))

    def observe_webhook(self, seconds: float) -> None:
        self.webhook_seconds.observe(seconds)

    def observe_stripe_call(self, operation: str, seconds: float, outcome: str) -> None:
        """The gateway's per-call hook: ``outcome`` is ``ok`` or the gateway error's name."""
        self.stripe_seconds.labels(operation).observe(seconds)
        if outcome != "ok":
            self.stripe_errors.labels(operation, outcome).inc()

    def observe_request(self, request: web.BaseRequest, status: int, seconds: float) -> None:
        """One answered request (a WebSocket or SSE one: at the end of the connection)."""
        route = route_template(request)
        method = request.method if request.method in _METHODS else "other"
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_seconds.labels(route).observe(seconds)

    async def handle(self, request: web.Request) -> web.Response:
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(self.registry), headers={"Content-Type": content_type})


class StatsCollector(Collector):
    """The service's own stats objects, read at scrape time."""

    def __init__(
        self,
        webhooks: WebhookStats,
        realtime: Callable[[], RealtimeStats | None],
        reconcile: ReconcileStats,
    ) -> None:
        self._webhooks = webhooks
        self._realtime = realtime
        self._reconcile = reconcile

    def collect(self) -> Iterable[Metric]:
        yield from _webhook_metrics(self._webhooks)
        realtime = self._realtime()
        if realtime is not None:
            yield from _realtime_metrics(realtime)
        yield from _reconcile_metrics(self._reconcile)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counts(name: str, doc: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    """A counter per value of one label, from a tally."""
    family = CounterMetricFamily(name, doc, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


def _webhook_metrics(stats: WebhookStats) -> Iterator[Metric]:
    yield _counts(
        "paylive_webhook_events_received",
        "Verified Stripe webhook events, by event type.",
        "type",
        stats.received_by_type,
    )
    yield _counts(
        "paylive_webhook_outcomes",
        "Webhook deliveries by outcome (applied, duplicate, no_change, not_ours, ignored, "
        "failed, bad_signature, invalid, too_large, unstorable, unusable, mismatch).",
        "outcome",
        stats.outcomes,
    )
    yield _counts(
        "paylive_webhook_event_mismatches",
        "Signed events refused for not belonging to the payment they name, by reason "
        "(livemode, flow, amount, currency, object_id).",
        "reason",
        stats.mismatches,
    )


def _realtime_metrics(stats: RealtimeStats) -> Iterator[Metric]:
    yield _gauge("paylive_ws_connections", "Live WebSocket connections.", stats.connections)
    yield _gauge(
        "paylive_ws_subscriptions", "Payments watched, over all connections.", stats.subscriptions
    )
    yield _counter(
        "paylive_ws_messages_sent", "Messages sent to live clients.", stats.messages_sent
    )
    yield _counter(
        "paylive_ws_slow_closes",
        "Clients closed for staying behind (4008).",
        stats.slow_closes,
    )
    yield _counter(
        "paylive_listener_reconnects",
        "Reconnects of the Postgres LISTEN connection.",
        stats.listener_reconnects,
    )
    samples = sorted(stats.push_latency)
    latency = GaugeMetricFamily(
        "paylive_ws_push_latency_seconds",
        "Commit-to-send latency of live pushes (one per fan-out, to the last socket "
        "written at once, and one per client whose update had to wait), quantiles over "
        f"the newest {stats.push_latency.maxlen} (absent before the first).",
        labels=["quantile"],
    )
    if samples:
        for q in _QUANTILES:
            latency.add_metric([str(q)], samples[min(len(samples) - 1, int(q * len(samples)))])
    yield latency
    yield _gauge(
        "paylive_ws_push_latency_window_pushes",
        "Pushes the latency quantiles are computed over.",
        len(samples),
    )


def _reconcile_metrics(stats: ReconcileStats) -> Iterator[Metric]:
    yield _counter("paylive_reconcile_rounds", "Reconciliation rounds completed.", stats.rounds)
    yield _counter(
        "paylive_reconcile_failed_rounds",
        "Reconciliation rounds that stopped on an error (retried next round).",
        stats.failed_rounds,
    )
    yield _counter(
        "paylive_reconcile_skipped_rounds",
        "Rounds skipped because another process was reconciling.",
        stats.skipped_rounds,
    )
    yield _counter(
        "paylive_reconcile_payments_checked",
        "Stale unfinished payments fetched from Stripe.",
        stats.checked,
    )
    yield _counts(
        "paylive_reconcile_corrections",
        "Payments whose status reconciliation corrected, by the status set.",
        "status",
        stats.corrected_to,
    )
    yield _counter(
        "paylive_reconcile_events_backfilled",
        "Events from Stripe's events list that the webhooks had not delivered.",
        stats.events_backfilled,
    )
    yield _counter(
        "paylive_reconcile_errors",
        "Stripe errors and failed events met while reconciling.",
        stats.errors,
    )
    if stats.last_success is not None:
        yield _gauge(
            "paylive_reconcile_last_success_timestamp_seconds",
            "When the last reconciliation round completed (unix time).",
            stats.last_success,
        )


METRICS = web.AppKey("metrics", Metrics)
