"""Metric labels are bounded: client strings cannot grow /metrics."""

from __future__ import annotations

from godex.server.metrics import MAX_LABEL_CHARS, Metrics


def _observe(m: Metrics, model: str, provider: str = "ds") -> None:
    m.observe_request(
        route="responses.create",
        model=model,
        provider=provider,
        status="completed",
        duration_s=0.01,
        upstream_first_byte_s=0.005,
        overhead_s=0.001,
    )
    m.observe_tokens(model=model, provider=provider, input=3, cached=0, output=2, reasoning=0)
    m.upstream_error(provider=provider, code="provider.auth")


def test_configured_labels_only_and_everything_else_is_other() -> None:
    m = Metrics()
    m.configure_labels(models=["gpt-5.5", "ds/deepseek-v4-pro"], providers=["ds"], keys=["ci"])
    _observe(m, "gpt-5.5")
    _observe(m, "not-configured")
    _observe(m, "gpt-5.5", provider="evil")
    text = m.render()[0].decode()
    assert 'model="gpt-5.5",provider="ds"' in text
    assert 'model="other",provider="ds"' in text
    assert 'model="gpt-5.5",provider="other"' in text
    assert "not-configured" not in text and "evil" not in text
    assert m.key_label("ci") == "ci" and m.key_label("stranger") == "other"


def test_twenty_distinct_megabyte_models_do_not_grow_metrics() -> None:
    m = Metrics(models=["gpt-5.5"], providers=["ds"])
    _observe(m, "gpt-5.5")
    _observe(m, "x")
    before = m.render()[0]
    for i in range(20):
        _observe(m, f"{i}" + "m" * 1_000_000)
    after = m.render()[0]
    assert after.count(b"\n") == before.count(b"\n")  # counts change, no new series
    assert abs(len(after) - len(before)) < 200
    assert b"mmmm" not in after


def test_unconfigured_metrics_keep_only_a_few_short_values() -> None:
    m = Metrics()
    _observe(m, "gpt-5.5")
    lines = m.render()[0].count(b"\n")
    for i in range(200):
        _observe(m, f"model-{i}")  # the first ones are learned, the rest are "other"
    _observe(m, "y" * (MAX_LABEL_CHARS + 1))
    text = m.render()[0].decode()
    assert 'model="gpt-5.5"' in text and 'model="other"' in text
    assert "model-199" not in text and "yyyy" not in text
    assert text.count("\n") < lines * 70  # bounded by the learn limit, not by requests
