"""The benchmark harness's own arithmetic (the harness itself never runs in the suite)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bench.run import (
    Target,
    answer_of,
    cpu_per_request_us,
    goals,
    godex_config,
    in_turn,
    median_of,
    pair_ratio,
    pick_sections,
    report,
    request_body,
    stream_answer_of,
    summary,
)


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


def _full(rps: float, stream: float, p99: float = 1.5) -> dict[str, object]:
    return {
        "sync_c1": {**_load(rps, 0.5), "p99": p99},
        "sync_c16": _load(rps, 1.0),
        "sync_c64": _load(rps, 2.0),
        "stream_c16": _load(stream, 1.0),
        "stream_c64": _load(stream, 2.0),
        "first_c1": {"ttfb_p50": 0.3, "first_delta_p50": 0.4},
        "first_c16": {"ttfb_p50": 1.0, "first_delta_p50": 1.2},
    }


def _targets_rows(text: str) -> dict[str, tuple[str, str]]:
    """label -> (measured, result) from the targets block."""
    block = text.split("\ntargets:\n", 1)[1]
    rows: dict[str, tuple[str, str]] = {}
    for line in block.splitlines()[2:]:
        if not line.startswith("| "):
            break
        label, _goal, measured, result = (c.strip() for c in line.strip("|").split("|"))
        rows[label] = (measured, result)
    return rows


def test_targets_block_pass_fail_and_missing() -> None:
    paced = {"streams": 256, "rss_growth_mb": 12.0, "slowdown": 1.02, "slowdown_max": 1.1}
    res: dict[str, Any] = {
        "sections": ["direct", "passthrough", "godex", "godex_lean", "limits", "paced"],
        "quick": True,
        "section_s": {"direct": 30.0, "limits": 12.4},
        "targets": {
            "direct": _full(10_000, 9_000, p99=0.5),
            "passthrough": _full(1_000, 1_000),
            "godex_lean": {
                **_full(750, 350),
                "idle_rss_mb": 48.0,
                "startup_s": 0.3,
                "paced256": paced,
            },
            "godex": {
                **_full(500, 300, p99=3.0),
                "idle_rss_mb": 61.0,
                "startup_s": 0.4,
                "paced256": {**paced, "slowdown": 1.2},
            },
            "godex_limits_mem": {"sync_c16": _load(490, 1), "stream_c16": _load(297, 1)},
            "godex_limits_redis": {"sync_c16": _load(400, 1), "stream_c16": _load(270, 1)},
        },
    }
    rows = _targets_rows(report(res))
    assert rows["lean sync c16 / pass-through"] == ("75%", "PASS")
    assert rows["lean stream c16 / pass-through"] == ("35%", "FAIL")
    assert rows["default sync c16 / pass-through"] == ("50%", "FAIL")
    assert rows["default stream c16 / pass-through"] == ("30%", "PASS")
    assert rows["default added p99 c=1 (vs direct)"] == ("2.50 ms", "FAIL")
    assert rows["limits (memory) cost, sync c16"] == ("2%", "PASS")
    assert rows["limits (Redis) cost, sync c16"] == ("20%", "FAIL")
    assert rows["limits (Redis) cost, stream c16"] == ("10%", "PASS")
    assert rows["godex idle RSS"] == ("61.00 MB", "FAIL")
    assert rows["godex_lean 256 paced: slowdown"] == ("1.02×", "PASS")
    assert rows["godex 256 paced: slowdown"] == ("1.20×", "FAIL")
    assert rows["godex startup"] == ("0.40 s", "PASS")
    # sections that did not run are not passed or failed
    assert rows["PostgreSQL / SQLite, sync c16"] == ("–", "n/a")
    assert rows["/v1/messages / responses, stream c16"] == ("–", "n/a")
    assert rows["2 workers / 1 worker (lean), sync c64"] == ("–", "n/a")
    assert len(rows) == len(goals())
    text = report(res)
    assert "run took 42 s (direct 30, limits 12)" in text
    assert "(quick run: 16 paced streams, not 256;" in text


def test_report_added_p99_cpu_doors_and_baseline() -> None:
    lean = {**_full(700, 400, p99=2.0), "sync_c16": {**_load(700, 1.0), "cpu_us": 180.0}}
    res: dict[str, Any] = {
        "sections": ["direct", "passthrough", "godex", "godex_lean", "doors", "baseline"],
        "targets": {
            "direct": _full(10_000, 9_000, p99=0.5),
            "passthrough": _full(1_000, 1_000),
            "godex": _full(500, 300, p99=2.0),
            "godex_lean": lean,
            "base": _full(400, 200),
            "base_lean": _full(560, 320),
        },
        "doors": {
            "responses": {"sync_c16": _load(700, 1), "stream_c16": _load(400, 1)},
            "messages": {"sync_c16": _load(665, 1), "stream_c16": _load(400, 1)},
            "chat": {"sync_c16": _load(560, 1), "stream_c16": _load(420, 1)},
        },
        "baseline": {"ref": "c3fe1c3", "sha": "c3fe1c3" + "0" * 33},
    }
    text = report(res)
    assert "godex added p99 c=1: 1.50 ms (added p50 0.00 ms)" in text
    assert "godex_lean added p99 c=1: 1.50 ms" in text
    assert "| cpu µs per request, sync c=16 | – | – | – | 180.00 | – | – |" in text
    assert "| /v1/messages | 665 | 95% | 400 | 100% |" in text
    assert "| /v1/chat/completions | 560 | 80% | 420 | 105% |" in text
    rows = _targets_rows(text)
    assert rows["/v1/messages / responses, sync c16"] == ("95%", "PASS")
    assert rows["/v1/chat/completions / responses, sync c16"] == ("80%", "FAIL")
    assert rows["/v1/chat/completions / responses, stream c16"] == ("105%", "PASS")
    # before and after: each against the pass-through, then current / base
    assert "| lean | sync c16 | 56% | 70% | 1.25× |" in text
    assert "| default | stream c16 | 20% | 30% | 1.50× |" in text


def test_report_warns_of_failed_requests() -> None:
    bad = {**_load(100, 1.0), "errors": 7}
    res: dict[str, Any] = {"targets": {"godex_limits_mem": {"sync_c16": bad}}}
    assert "WARNING: godex_limits_mem sync_c16: 7 failed requests" in report(res)


def test_cpu_per_request() -> None:
    assert cpu_per_request_us(0.5, 2_500) == 200.0
    assert math.isnan(cpu_per_request_us(0.1, 0))


def test_pick_sections() -> None:
    assert pick_sections("doors, limits", None, set()) == ["doors", "limits"]
    # run order, not the order given
    assert pick_sections("limits,godex", None, set()) == ["godex", "limits"]
    everything = pick_sections(None, None, {"litellm"})
    assert "baseline" not in everything and "litellm" not in everything
    assert everything[0] == "direct"
    assert "baseline" in pick_sections(None, "c3fe1c3", set())
    with pytest.raises(SystemExit):
        pick_sections("doors,nonsense", None, set())
    with pytest.raises(SystemExit):
        pick_sections("baseline", None, set())


def test_door_answers_read_exactly() -> None:
    text = "tok " * 50
    messages = {
        "content": [{"type": "text", "text": text}],
        "usage": {"input_tokens": 12, "output_tokens": 50, "cache_read_input_tokens": 0},
    }
    assert answer_of("messages", messages) == (text, (12, 50))
    sse = "\n".join(
        [
            'data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"tok "}}',
            'data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"tok"}}',
            'data: {"type":"message_delta","usage":{"input_tokens":12,"output_tokens":50}}',
        ]
    )
    assert stream_answer_of("messages", sse) == ("tok tok", (12, 50))
    chat = "\n".join(
        [
            'data: {"choices":[{"delta":{"content":"a"}}]}',
            'data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":50}}',
            "data: [DONE]",
        ]
    )
    assert stream_answer_of("chat", chat) == ("a", (12, 50))
    assert request_body("messages", False)["max_tokens"] > 0
    assert request_body("chat", True)["stream_options"] == {"include_usage": True}
    assert "stream_options" not in request_body("chat", False)


def test_limits_config_has_key_and_backend(tmp_path: Path) -> None:
    cfg = godex_config(tmp_path, 18087, 18090, False, limits="redis", redis_prefix="p:")
    text = cfg.read_text()
    assert "backend: redis" in text and 'prefix: "p:"' in text
    assert "rpm: 1000000000" in text and "tpm: 1000000000" in text
    # without limits: only the keys an old (baseline) config schema knows
    plain = godex_config(tmp_path, 18081, 18090, False).read_text()
    assert "\nauth:" not in plain and "\nlimits:" not in plain


def test_limits_cost_against_the_interleaved_reference() -> None:
    res: dict[str, Any] = {
        "sections": ["godex", "limits"],
        "targets": {
            "godex": {"sync_c16": _load(1_000, 1), "stream_c16": _load(1_000, 1)},
            "godex_limits_ref": {"sync_c16": _load(500, 1), "stream_c16": _load(400, 1)},
            "godex_limits_mem": {"sync_c16": _load(480, 1), "stream_c16": _load(400, 1)},
        },
    }
    text = report(res)
    assert "godex_limits_mem vs godex_limits_ref (same run): sync c16 96%, stream c16 100%" in text
    rows = _targets_rows(text)
    assert rows["limits (memory) cost, sync c16"] == ("4%", "PASS")
    assert rows["limits (memory) cost, stream c16"] == ("0%", "PASS")


def test_postgres_ratio_reads_the_sqlite_reference_loaded_beside_it() -> None:
    by_label = {g.label: g for g in goals()}
    goal = by_label["PostgreSQL / SQLite, sync c16"]
    res: dict[str, Any] = {
        "targets": {
            "godex": {"sync_c16": _load(1000, 1.0)},
            "godex_pg": {"sync_c16": _load(900, 1.0)},
        }
    }
    assert goal.value(res) == pytest.approx(0.9)  # no side-by-side reference: the section's
    res["targets"]["godex_pg_ref"] = {"sync_c16": _load(950, 1.0)}
    assert goal.value(res) == pytest.approx(900 / 950)


def test_services_return_to_their_cores_after_a_run() -> None:
    import os

    from bench.run import CORE_LOAD, _service_threads, services_on_load_core

    def affinity(tid: int) -> set[int] | None:
        try:
            return os.sched_getaffinity(tid)
        except ProcessLookupError:  # a database backend that ended meanwhile
            return None

    before = {tid: affinity(tid) for tid in _service_threads()}
    assert before, "PostgreSQL and Redis run on these machines"
    with services_on_load_core() as moved:
        assert moved
        assert all(affinity(tid) in ({int(CORE_LOAD)}, None) for tid in moved)
    for tid, cores in before.items():
        assert affinity(tid) in (cores, None)


def test_dropped_trace_rows_are_found_in_each_targets_log(tmp_path: Path) -> None:
    from bench.run import traces_dropped

    (tmp_path / "godex.log").write_text("started\n")
    (tmp_path / "godex_pg.log").write_text(
        "[warning  ] trace_queue_full    dropped_total=1 request_id=a\n"
        "[warning  ] trace_queue_full    dropped_total=1520 request_id=b\n"
    )
    assert traces_dropped(tmp_path) == {"godex_pg": 1520}


def test_targets_loaded_in_turn_alternate_their_order_each_round() -> None:
    ts = [Target("a", 1, "/"), Target("b", 2, "/"), Target("c", 3, "/")]
    assert [t.name for t in in_turn(ts, 0)] == ["a", "b", "c"]
    assert [t.name for t in in_turn(ts, 1)] == ["c", "b", "a"]
    assert [t.name for t in in_turn(ts, 2)] == ["a", "b", "c"]


def test_pair_ratio_is_the_median_of_the_rounds_ratios() -> None:
    # The machine slowed down in round 2 for both: round by round the ratio stays 0.9, where
    # the ratio of the medians (540 / 500) would say 1.08.
    a = {**summary([_load(900, 1), _load(540, 1), _load(450, 1)])}
    b = {**summary([_load(1000, 1), _load(600, 1), _load(500, 1)])}
    assert a["rps_runs"] == [900, 540, 450]
    assert pair_ratio(a, b) == pytest.approx(0.9)
    # Not loaded in the same rounds: the ratio of the medians.
    assert pair_ratio(_load(450, 1), b) == pytest.approx(450 / 600)
    assert pair_ratio({**a, "rps_runs": [1.0]}, b) == pytest.approx(540 / 600)
    assert pair_ratio(None, b) is None


def test_door_and_limits_ratios_are_taken_round_by_round() -> None:
    by_label = {g.label: g for g in goals()}
    ref = summary([_load(1000, 1), _load(500, 1), _load(800, 1)])
    limited = summary([_load(970, 1), _load(490, 1), _load(770, 1)])
    res: dict[str, Any] = {
        "doors": {
            "responses": {"sync_c16": ref},
            "messages": {"sync_c16": summary([_load(950, 1), _load(475, 1), _load(760, 1)])},
        },
        "targets": {
            "godex_limits_ref": {"sync_c16": ref},
            "godex_limits_mem": {"sync_c16": limited},
        },
    }
    assert by_label["/v1/messages / responses, sync c16"].value(res) == pytest.approx(0.95)
    assert by_label["limits (memory) cost, sync c16"].value(res) == pytest.approx(0.03, abs=1e-9)


def test_worker_scaling_is_reported_not_judged_without_the_cores() -> None:
    res: dict[str, Any] = {
        "cpus": 2,
        "sections": ["godex_lean", "workers"],
        "targets": {
            "godex_lean": {"sync_c64": _load(1000, 1), "stream_c64": _load(500, 1)},
            "godex_lean_2w": {"sync_c64": _load(1300, 1), "stream_c64": _load(800, 1)},
        },
    }
    rows = _targets_rows(report(res))
    verdict = rows["2 workers / 1 worker (lean), sync c64"]
    assert verdict[0] == "1.30×"
    assert verdict[1].startswith("reported: 2 cores")
    res["cpus"] = 8
    rows = _targets_rows(report(res))
    assert rows["2 workers / 1 worker (lean), sync c64"] == ("1.30×", "FAIL")
    assert rows["2 workers / 1 worker (lean), stream c64"] == ("1.60×", "FAIL")
