"""Prometheus metrics, on a registry of this process's own, or summed over workers.

With ``--workers N`` the parent points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory
before the workers start (``multiproc_dir``); prometheus-client then keeps each worker's values
in files there and ``/metrics``, whichever worker answers, sums them. Values read from the
process state (trace queue, breakers, session count) are copied into real metrics on
``refresh`` (each request and each scrape), since callback gauges cannot cross processes.

Observations are deferred: a finished request appends one tuple, and ``flush`` (once a second,
before every scrape and at exit) adds them up per label set and applies each sum once. A
request's own cost is then an append instead of a dozen locked counter updates (about 4% of a
short request's CPU, measured); a scrape sees every request that finished before it. With
workers each request is applied as it ends (``request_done``): the scrape may reach another
worker.

Model names come from clients, so label values are bounded: once ``configure_labels`` has been
given the configured models, providers and keys, only those become label values and anything
else is ``other``. Before that, the first few short values seen are kept and the rest are
``other``, so no stream of requests can grow ``/metrics``.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import functools
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from godex import __version__

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# (state per provider: "closed" | "half_open" | "open", transitions: (provider, state) -> count)
BreakerStates = tuple[dict[str, str], dict[tuple[str, str], int]]
_STATES = ("closed", "half_open", "open")


def multiproc_dir() -> str:
    """A fresh directory for this server start's worker metrics, exported to the workers.

    Fresh, so counters start at zero and no dead run's files are summed in."""
    path = tempfile.mkdtemp(prefix="godex-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path


def remove_multiproc_dir(path: str) -> None:
    os.environ.pop(MULTIPROC_ENV, None)
    shutil.rmtree(path, ignore_errors=True)


def _multiprocess() -> bool:
    # prometheus-client picked its value class at import from the same variable.
    return bool(os.environ.get(MULTIPROC_ENV))


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


_LATENCY = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)
_OVERHEAD = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)

FLUSH_EVERY_S = 1.0
FLUSH_AT = 256  # pending observations: a flush comes sooner under heavy load (~0.3 ms each)

OTHER = "other"
# Unconfigured: how many distinct values a label may take, and how long one may be.
LEARN_LIMIT = 64
MAX_LABEL_CHARS = 128


class LabelSet:
    """The values one label may take: a configured set, or (unconfigured) the first few seen."""

    def __init__(self, allowed: Iterable[str] | None = None, *, learn_limit: int = LEARN_LIMIT):
        self.allowed: set[str] | None = None if allowed is None else set(allowed)
        self._learned: set[str] = set()
        self._learn_limit = learn_limit

    def value(self, raw: str) -> str:
        if self.allowed is not None:
            return raw if raw in self.allowed else OTHER
        if raw in self._learned:
            return raw
        if len(raw) > MAX_LABEL_CHARS or len(self._learned) >= self._learn_limit:
            return OTHER
        self._learned.add(raw)
        return raw


class Metrics:
    def __init__(
        self,
        *,
        models: Iterable[str] | None = None,
        providers: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
    ) -> None:
        self._models = LabelSet(models)
        self._providers = LabelSet(providers)
        self._keys = LabelSet(keys)
        # Route, status and error code are the gateway's own words; bounded all the same.
        self._routes = LabelSet(None)
        self._statuses = LabelSet(None)
        self._codes = LabelSet(None, learn_limit=256)
        self.multiprocess = _multiprocess()
        self.registry = reg = CollectorRegistry(auto_describe=True)
        if self.multiprocess:
            # Served from the workers' files, summed; this process's registry is not scraped.
            self._scrape = CollectorRegistry()
            multiprocess.MultiProcessCollector(self._scrape)  # type: ignore[no-untyped-call]
        else:
            self._scrape = reg
            # process_* (CPU, memory, fds, start time) of the one process there is. With
            # workers each would be one worker's, alternating between scrapes: left out.
            ProcessCollector(registry=reg)
        self.build_info = Gauge(
            "godex_build_info",
            "1, labelled with the GodeX and Python versions",
            ["version", "python"],
            registry=reg,
            multiprocess_mode="max",
        )
        self.build_info.labels(__version__, platform.python_version()).set(1)
        self.responses = Counter(
            "godex_responses_total",
            "Requests by route, HTTP status class (2xx, 4xx, 5xx) and error code ('' if none)",
            ["route", "status_class", "code"],
            registry=reg,
        )
        self.requests = Counter(
            "godex_requests_total",
            "Requests by route, model, provider and status",
            ["route", "model", "provider", "status"],
            registry=reg,
        )
        self.duration = Histogram(
            "godex_request_duration_seconds",
            "Total request time",
            ["route", "provider"],
            buckets=_LATENCY,
            registry=reg,
        )
        self.first_byte = Histogram(
            "godex_upstream_first_byte_seconds",
            "Time from sending upstream to its response headers",
            ["provider"],
            buckets=_LATENCY,
            registry=reg,
        )
        self.overhead = Histogram(
            "godex_gateway_overhead_seconds",
            "Time spent in the gateway before the upstream call",
            ["route"],
            buckets=_OVERHEAD,
            registry=reg,
        )
        self.tokens = Counter(
            "godex_tokens_total",
            "Tokens by kind",
            ["model", "provider", "kind"],
            registry=reg,
        )
        self.upstream_errors = Counter(
            "godex_upstream_errors_total",
            "Upstream errors by provider and code",
            ["provider", "code"],
            registry=reg,
        )
        self.streams = Gauge(
            "godex_streams_in_flight",
            "Open streaming responses",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.websockets = Gauge(
            "godex_websockets_open",
            "Open Responses WebSocket connections",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.trace_queue = Gauge(
            "godex_trace_queue_depth",
            "Trace records waiting",
            registry=reg,
            multiprocess_mode="livesum",
        )
        # "_total" is the counter's sample name; prometheus-client adds it.
        self.trace_dropped = Counter(
            "godex_trace_dropped", "Trace records dropped under overload", registry=reg
        )
        self.session_size = Gauge(
            "godex_session_store_size",
            "Stored responses (refreshed every few minutes)",
            registry=reg,
            multiprocess_mode="max",  # every worker counts the same shared store
        )
        self.breaker_state = Gauge(
            "godex_circuit_breaker_state",
            "1 for the state each provider's breakers are in (the worst of its models; with "
            "workers, 1 for each state any worker's breakers are in)",
            ["provider", "state"],
            registry=reg,
            multiprocess_mode="max",
        )
        self.breaker_transitions = Counter(
            "godex_circuit_breaker_transitions",
            "Breaker transitions by provider and the state entered",
            ["provider", "state"],
            registry=reg,
        )
        self._sources: dict[str, Callable[[], float]] = {}
        self._breakers: Callable[[], BreakerStates] | None = None
        self._dropped_seen = 0.0
        self._transitions_seen: dict[tuple[str, str], int] = {}
        self.attempts = Counter(
            "godex_upstream_attempts_total",
            "Upstream attempts by provider and outcome (served, retried, failed_over, skipped, "
            "failed)",
            ["provider", "outcome"],
            registry=reg,
        )
        # Per key NAME (configured names only; others are "other"): usage, spend, limits.
        self.key_requests = Counter(
            "godex_key_requests_total", "Requests per client key", ["key"], registry=reg
        )
        self.key_tokens = Counter(
            "godex_key_tokens_total", "Tokens per client key", ["key"], registry=reg
        )
        self.key_cost = Counter(
            "godex_key_cost_usd_total", "Estimated cost (USD) per client key", ["key"], registry=reg
        )
        self.key_spend_today = Gauge(
            "godex_key_spend_usd_today", "Spend (USD) today per client key", ["key"], registry=reg
        )
        self.key_budget_remaining = Gauge(
            "godex_key_budget_remaining_usd",
            "Daily budget (USD) left per client key",
            ["key"],
            registry=reg,
        )
        self.limit_rejections = Counter(
            "godex_limit_rejections_total",
            "Requests refused by a rate limit, per key and limit",
            ["key", "limit"],
            registry=reg,
        )
        self.limits_down = Counter(
            "godex_limits_backend_errors_total",
            "Limit checks that found the limits backend (Redis) unreachable",
            registry=reg,
        )
        self._children: dict[tuple[str, ...], tuple[Counter, Histogram, Histogram, str]] = {}
        # Observations not yet applied (see ``flush``).
        self._pending: list[tuple[Any, ...]] = []
        self._pending_tokens: list[tuple[str, str, int, int, int, int]] = []
        self._pending_attempts: list[tuple[str, str]] = []
        self._pending_keys: list[tuple[str, int, float]] = []
        self._pending_spend: dict[str, tuple[float, float | None]] = {}  # the latest per key
        self._flusher: asyncio.TimerHandle | None = None
        self._first_byte: dict[str, Histogram] = {}
        self._tokens: dict[tuple[str, str], tuple[Counter, Counter, Counter, Counter]] = {}

    def configure_labels(
        self,
        *,
        models: Iterable[str],
        providers: Iterable[str],
        keys: Iterable[str] = (),
    ) -> None:
        """Only these values become ``model``, ``provider`` (and later key) labels; call once
        at start-up, before the first request (children already made stay as they are)."""
        self._models = LabelSet(models)
        self._providers = LabelSet(providers)
        self._keys = LabelSet(keys)

    def limit_rejected(self, key: str, limit: str) -> None:
        self.limit_rejections.labels(key, limit).inc()

    def limits_backend_down(self) -> None:
        self.limits_down.inc()

    def observe_key(self, name: str, tokens: int, cost_usd: float) -> None:
        """A finished turn of key ``name`` (labelled at the flush, not per request)."""
        self._pending_keys.append((name, tokens, cost_usd))

    def _apply_keys(self, pending: list[tuple[str, int, float]]) -> None:
        sums: dict[str, list[float]] = {}
        for name, tokens, cost in pending:
            acc = sums.setdefault(self.key_label(name), [0, 0, 0.0])
            acc[0] += 1
            acc[1] += tokens
            acc[2] += cost
        for key, (n, key_tokens, key_cost) in sums.items():
            self.key_requests.labels(key).inc(n)
            if key_tokens:
                self.key_tokens.labels(key).inc(key_tokens)
            if key_cost:
                self.key_cost.labels(key).inc(key_cost)

    def key_spend(self, name: str, today_usd: float, remaining_usd: float | None) -> None:
        # Gauges: only the latest value of each key matters, set (and labelled) at the flush.
        self._pending_spend[name] = (today_usd, remaining_usd)

    def _apply_spend(self, pending: dict[str, tuple[float, float | None]]) -> None:
        for name, (today_usd, remaining_usd) in pending.items():
            key = self.key_label(name)
            self.key_spend_today.labels(key).set(today_usd)
            if remaining_usd is not None:
                self.key_budget_remaining.labels(key).set(remaining_usd)

    def key_label(self, name: str) -> str:
        """The label value for an API key name (for the key-labelled metrics to come)."""
        return self._keys.value(name)

    def set_sources(
        self,
        *,
        trace_queue_depth: Callable[[], float],
        trace_dropped: Callable[[], float],
        session_store_size: Callable[[], float] | None,
    ) -> None:
        self._sources = {"trace_queue": trace_queue_depth, "trace_dropped": trace_dropped}
        if session_store_size is not None:
            self._sources["session_size"] = session_store_size

    def refresh(self) -> None:
        """Copy what the process state knows into the metrics (cheap: a few reads)."""
        sources = self._sources
        if sources:
            self.trace_queue.set(sources["trace_queue"]())
            dropped = sources["trace_dropped"]()
            if dropped > self._dropped_seen:
                self.trace_dropped.inc(dropped - self._dropped_seen)
                self._dropped_seen = dropped
            if "session_size" in sources:
                self.session_size.set(sources["session_size"]())
        if self._breakers is not None:
            states, transitions = self._breakers()
            for provider, state in states.items():
                label = self._providers.value(provider)
                for name in _STATES:
                    self.breaker_state.labels(label, name).set(1.0 if name == state else 0.0)
            for (provider, state), count in transitions.items():
                seen = self._transitions_seen.get((provider, state), 0)
                if count > seen:
                    label = self._providers.value(provider)
                    self.breaker_transitions.labels(label, state).inc(count - seen)
                    self._transitions_seen[(provider, state)] = count

    def observe_request(
        self,
        *,
        route: str,
        model: str,
        provider: str,
        status: str,
        duration_s: float,
        upstream_first_byte_s: float | None,
        overhead_s: float | None,
        http_status: int = 200,
        error_code: str | None = None,
    ) -> None:
        pending = self._pending
        pending.append(
            (
                route,
                model,
                provider,
                status,
                http_status,
                error_code,
                duration_s,
                upstream_first_byte_s,
                overhead_s,
            )
        )
        if len(pending) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Apply the pending observations: one update per label set, not per request."""
        pending, self._pending = self._pending, []
        if pending:
            self._apply_requests(pending)
        tokens, self._pending_tokens = self._pending_tokens, []
        if tokens:
            self._apply_tokens(tokens)
        attempts, self._pending_attempts = self._pending_attempts, []
        for (provider, outcome), n in _counted(attempts).items():
            self.attempts.labels(provider, outcome).inc(n)
        keys, self._pending_keys = self._pending_keys, []
        if keys:
            self._apply_keys(keys)
        spend, self._pending_spend = self._pending_spend, {}
        if spend:
            self._apply_spend(spend)

    def _apply_requests(self, pending: list[tuple[Any, ...]]) -> None:
        # Grouped by the observation's six leading fields in one pass (a slice and a dict
        # lookup each); the labels are worked out once per group, not once per request.
        groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for obs in pending:
            head = obs[:6]
            group = groups.get(head)
            if group is None:
                group = groups[head] = []
            group.append(obs)
        responses: dict[tuple[str, str, str], int] = {}
        by_children: dict[tuple[str, str, str, str], list[tuple[Any, ...]]] = {}
        for (route, model, provider, status, http_status, error_code), group in groups.items():
            key = (route, status_class(http_status), error_code or "")
            responses[key] = responses.get(key, 0) + len(group)
            by_children.setdefault((route, model, provider, status), []).extend(group)
        for (route, status_class_, code), n in responses.items():
            self.responses.labels(
                self._routes.value(route), status_class_, self._codes.value(code) if code else ""
            ).inc(n)
        first_bytes: dict[str, list[float]] = {}
        for (route, model, provider, status), group in by_children.items():
            children = self._children.get((route, model, provider, status))
            if children is None:
                children = self._request_children(route, model, provider, status)
            requests, duration, overhead, bounded_provider = children
            requests.inc(len(group))
            observe_many(duration, [o[6] for o in group])
            observe_many(overhead, [o[8] for o in group if o[8] is not None])
            fb = [o[7] for o in group if o[7] is not None]
            if fb:
                first_bytes.setdefault(bounded_provider, []).extend(fb)
        for bounded_provider, values in first_bytes.items():
            hist = self._first_byte.get(bounded_provider)
            if hist is None:
                hist = self._first_byte[bounded_provider] = self.first_byte.labels(bounded_provider)
            observe_many(hist, values)

    def request_done(self) -> None:
        """After a request's observations. With workers, another worker may answer the next
        scrape, so each request is applied (and the copied-in values refreshed) at once."""
        if self.multiprocess:
            self.flush()
            self.refresh()

    def start_flushing(self, loop: asyncio.AbstractEventLoop) -> None:
        """Flush once a second on ``loop`` until ``close``."""
        if self._flusher is not None:
            return

        def tick() -> None:
            self.flush()
            self._flusher = loop.call_later(FLUSH_EVERY_S, tick)

        self._flusher = loop.call_later(FLUSH_EVERY_S, tick)

    def _request_children(
        self, route: str, model: str, provider: str, status: str
    ) -> tuple[Counter, Histogram, Histogram, str]:
        raw = (route, model, provider, status)
        key = (
            self._routes.value(route),
            self._models.value(model),
            self._providers.value(provider),
            self._statuses.value(status),
        )
        children = self._children.get(key)
        if children is None:
            route, model, provider, status = key
            children = self._children[key] = (
                self.requests.labels(route, model, provider, status),
                self.duration.labels(route, provider),
                self.overhead.labels(route),
                provider,
            )
        if raw == key:  # only accepted values are cached: the cache stays as bounded as labels
            self._children[raw] = children
        return children

    def observe_tokens(
        self, *, model: str, provider: str, input: int, cached: int, output: int, reasoning: int
    ) -> None:
        self._pending_tokens.append((model, provider, input, cached, output, reasoning))

    def _apply_tokens(self, pending: list[tuple[str, str, int, int, int, int]]) -> None:
        groups: dict[tuple[str, str], list[tuple[str, str, int, int, int, int]]] = {}
        for obs in pending:
            group = groups.get(obs[:2])
            if group is None:
                group = groups[obs[:2]] = []
            group.append(obs)
        for raw, group in groups.items():
            values = [sum(column) for column in list(zip(*group, strict=True))[2:]]
            counters = self._tokens.get(raw)
            if counters is None:
                key = (self._models.value(raw[0]), self._providers.value(raw[1]))
                counters = self._tokens.get(key)
                if counters is None:
                    counters = self._tokens[key] = (
                        self.tokens.labels(key[0], key[1], "input"),
                        self.tokens.labels(key[0], key[1], "cached"),
                        self.tokens.labels(key[0], key[1], "output"),
                        self.tokens.labels(key[0], key[1], "reasoning"),
                    )
            for counter, value in zip(counters, values, strict=True):
                if value:
                    counter.inc(value)

    def observe_attempts(self, attempts: list[dict[str, Any]]) -> None:
        self._pending_attempts += [(a["provider"], a["outcome"]) for a in attempts]

    def watch_breakers(self, source: Callable[[], BreakerStates]) -> None:
        """Breaker state per provider and transitions, copied in on ``refresh``."""
        self._breakers = source

    def upstream_error(self, *, provider: str, code: str) -> None:
        self.upstream_errors.labels(self._providers.value(provider), self._codes.value(code)).inc()

    def stream_started(self) -> None:
        self.streams.inc()

    def stream_ended(self) -> None:
        self.streams.dec()

    def websocket_opened(self) -> None:
        self.websockets.inc()

    def websocket_closed(self) -> None:
        self.websockets.dec()

    def render(self) -> tuple[bytes, str]:
        self.flush()
        self.refresh()
        return generate_latest(self._scrape), CONTENT_TYPE_LATEST

    def close(self) -> None:
        """At worker exit: what is pending is applied, and its live gauges (streams, sockets,
        queue) stop counting."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        self.flush()
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _counted(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for pair in pairs:
        out[pair] = out.get(pair, 0) + 1
    return out


def observe_many(hist: Histogram, values: list[float]) -> None:
    """``hist.observe`` for each value, as one update per bucket and one to the sum.

    prometheus-client has no bulk observe; this writes the same per-bucket values its
    ``observe`` does (``test_metrics_batch`` holds the two equal), and falls back to one
    ``observe`` each if a release changes those internals."""
    if not values:
        return
    bounds = getattr(hist, "_upper_bounds", None)
    buckets = getattr(hist, "_buckets", None)
    total = getattr(hist, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for v in values:
            hist.observe(v)
        return
    # the first bound >= v, as observe's ``<=`` scan; counted in C
    counts = collections.Counter(map(functools.partial(bisect.bisect_left, bounds), values))
    total.inc(sum(values))
    for i, n in counts.items():
        buckets[i].inc(n)
