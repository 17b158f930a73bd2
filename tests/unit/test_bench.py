"""The benchmark harness's own arithmetic (the harness itself never runs in the suite)."""

from __future__ import annotations

from bench.run import median_of, report


def _load(rps: float, p50: float) -> dict[str, float]:
    return {"rps": rps, "p50": p50, "p95": p50 * 2, "p99": p50 * 3, "errors": 0}


def test_median_of_runs() -> None:
    runs = [_load(100, 1.0), _load(300, 3.0), _load(200, 2.0)]
    assert median_of(runs) == _load(200, 2.0)


def test_report_ratios() -> None:
    def target(rps: float, stream: float) -> dict[str, object]:
        return {
            "sync_c1": _load(rps, 0.5),
            "sync_c16": _load(rps, 1.0),
            "sync_c64": _load(rps, 2.0),
            "stream_c16": _load(stream, 1.0),
            "stream_c64": _load(stream, 2.0),
            "first_c1": {"ttfb_p50": 0.3, "first_delta_p50": 0.4},
            "first_c16": {"ttfb_p50": 1.0, "first_delta_p50": 1.2},
        }

    res = {
        "targets": {
            "direct": target(10_000, 9_000),
            "passthrough": target(1_000, 800),
            "godex": target(600, 400),
            "litellm": target(20, 10),
        },
        "upstream_cpu_share": 0.5,
    }
    text = report(res)
    assert "godex vs pass-through: sync c16 60%, sync c64 60%, stream c16 50%" in text
    assert "godex vs LiteLLM: sync c16 30.0×, stream c16 40.0×" in text
    assert "| sync req/s c=16 | 10,000.00 | 1,000.00 | 600.00 | 20.00 |" in text


def test_report_agent_loop_added_latency_per_turn() -> None:
    def loop(p50: float) -> dict[str, float]:
        return {"turn_p50_ms": p50, "turn_p95_ms": p50 * 2, "loop_p50_ms": p50 * 10}

    res = {
        "targets": {},
        "agent_loop": {
            "turns": 10,
            "loops": 5,
            "upstream_turn_p50_ms": 0.5,
            "https_store": loop(3.0),
            "https_full": loop(4.0),
            "ws_store": loop(2.0),
            "ws_no_store": loop(1.5),
        },
    }
    text = report(res)
    assert "| HTTPS keep-alive, store: true, by id | 3.00 | 6.00 | 2.50 | 30.0 |" in text
    assert "| HTTPS keep-alive, store: false, whole history | 4.00 |" in text
    assert "| WebSocket, store: false | 1.50 | 3.00 | 1.00 | 15.0 |" in text
