"""Deferred metrics: a scrape sees every finished request, and the batched histogram update
writes exactly what one ``observe`` per value writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from godex.server.metrics import Metrics, observe_many

_BOUNDS = (0.001, 0.01, 0.1, 1.0, 10.0)


def _hist() -> tuple[CollectorRegistry, Histogram]:
    reg = CollectorRegistry()
    return reg, Histogram("h", "h", ["x"], buckets=_BOUNDS, registry=reg)


@given(st.lists(st.floats(min_value=0, max_value=50, allow_nan=False) | st.sampled_from(_BOUNDS)))
def test_a_batched_observe_equals_one_observe_per_value(values: list[float]) -> None:
    reg_one, one = _hist()
    reg_many, many = _hist()
    child = one.labels("a")
    for v in values:
        child.observe(v)
    observe_many(many.labels("a"), values)
    assert _without_created(reg_one) == _without_created(reg_many)


def _without_created(reg: CollectorRegistry) -> list[str]:
    # h_created is each child's creation time, the one line the two may differ in.
    return [line for line in generate_latest(reg).decode().splitlines() if "_created" not in line]


def _requests(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("godex_requests_total{")
    )


def test_a_scrape_sees_every_request_finished_before_it() -> None:
    m = Metrics(models=["m"], providers=["p"])
    for i in range(5):
        m.observe_request(
            route="responses.create",
            model="m",
            provider="p",
            status="completed" if i else "failed",
            duration_s=0.002 * i,
            upstream_first_byte_s=0.001,
            overhead_s=0.0002,
        )
        m.observe_tokens(model="m", provider="p", input=10, cached=1, output=2, reasoning=0)
        m.observe_attempts([{"provider": "p", "outcome": "served"}])
    text = m.render()[0].decode()
    assert _requests(text) == 5.0
    assert 'godex_tokens_total{kind="input",model="m",provider="p"} 50.0' in text
    assert 'godex_upstream_attempts_total{outcome="served",provider="p"} 5.0' in text
    assert 'godex_request_duration_seconds_count{provider="p",route="responses.create"} 5.0' in text
    # Nothing counted twice by a second scrape.
    assert _requests(m.render()[0].decode()) == 5.0
