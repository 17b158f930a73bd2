"""The dashboard's trace queries against a real trace database (the real schema)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godex.errors import GodexError
from godex.server.ui import queries, routes
from godex.trace import rollup
from godex.trace.query import percentile
from godex.trace.readers import SQLITE
from godex.trace.schema import connect

NOW = 1_800_000_000.0


def _db(tmp: Path, rows: list[dict[str, Any]]) -> str:
    path = str(tmp / "trace.db")
    db = connect(path)
    # cost_usd is part of the trace schema (issue 16): every row has one.
    for i, r in enumerate(rows):
        row = {
            "request_id": f"req_{i}",
            "ts": NOW - 60 * i,
            "route": "responses.create",
            "method": "POST",
            "http_status": 200,
            "stream": 0,
            "status": "completed",
            "duration_ms": 100.0,
            **r,
        }
        payload = row.pop("payload", None)
        cols = ", ".join(row)
        db.execute(
            f"INSERT INTO requests ({cols}) VALUES ({', '.join('?' * len(row))})", [*row.values()]
        )
        if payload is not None:
            db.execute("INSERT INTO payloads VALUES (?, ?, ?)", (row["request_id"], payload, b"{}"))
    # Rows put in around the writer: the rollup is built from them as a migration would.
    db.executescript(rollup.rebuild(SQLITE))
    db.close()
    return path


def _reads(path: str) -> queries.Reads:
    return queries.Reads(lambda: path)


def test_the_overview_sums_cost_when_the_trace_has_it(tmp_path: Path) -> None:
    path = _db(
        tmp_path,
        [
            {"provider": "ds", "upstream_model": "m", "client_key_id": "k1", "cost_usd": 0.25},
            {"provider": "ds", "upstream_model": "m", "client_key_id": "k2", "cost_usd": 0.5},
        ],
    )
    out = _reads(path).overview(NOW - 3600, NOW + 1)
    assert out["has_cost"] is True
    assert sum(p["cost"] for p in out["series"]) == pytest.approx(0.75)
    assert {k["key"]: k["cost"] for k in out["by_key"]} == {"k1": 0.25, "k2": 0.5}


def test_unpriced_requests_cost_nothing_in_the_overview(tmp_path: Path) -> None:
    path = _db(tmp_path, [{"provider": "ds", "upstream_model": "m", "input_tokens": 10}])
    out = _reads(path).overview(NOW - 3600, NOW + 1)
    assert out["has_cost"] is True and out["by_key"][0]["cost"] == 0


def test_a_missing_trace_database_is_an_empty_overview(tmp_path: Path) -> None:
    out = _reads(str(tmp_path / "none.db")).overview(NOW - 60, NOW)
    assert out["by_model"] == [] and all(p["n"] == 0 for p in out["series"])


def test_text_search_finds_words_in_captured_payloads(tmp_path: Path) -> None:
    path = _db(
        tmp_path,
        [{"payload": b'{"input": "the blue whale"}'}, {"payload": b'{"input": "a red fox"}'}],
    )
    found = _reads(path).list_requests(
        filters={}, since=None, until=None, text="whale", limit=10, offset=0
    )
    assert [i["request_id"] for i in found["items"]] == ["req_0"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    durations=st.lists(
        st.floats(min_value=0, max_value=120_000, allow_nan=False), min_size=1, max_size=300
    )
)
def test_histogram_percentiles_are_within_one_step_of_the_exact_ones(
    tmp_path_factory: pytest.TempPathFactory, durations: list[float]
) -> None:
    tmp = tmp_path_factory.mktemp("p")
    path = _db(tmp, [{"provider": "p", "upstream_model": "m", "duration_ms": d} for d in durations])
    got = _reads(path).overview(NOW - 400 * 60, NOW + 1)["by_model"][0]
    exact = sorted(durations)
    for pct in (50, 95):
        # The sample at the percentile's rank, as `godex traces` ranks them; the histogram
        # reports the lower edge of its bucket.
        want = exact[int((len(exact) - 1) * pct / 100)]
        step = 1 if want < 100 else 10 if want < 1000 else 100 if want < 10_000 else 1000
        assert want - step < got[f"latency_p{pct}_ms"] <= want
        assert percentile(exact, pct) >= got[f"latency_p{pct}_ms"] - step


_TEXT = st.text(max_size=30)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    filters=st.dictionaries(
        st.sampled_from(["key", "model", "provider", "status", "error_code", "other"]), _TEXT
    ),
    text=_TEXT,
    limit=st.integers(-5, 10_000),
    offset=st.integers(-5, 10_000),
)
def test_hostile_filters_are_only_ever_values(
    tmp_path_factory: pytest.TempPathFactory,
    filters: dict[str, str],
    text: str,
    limit: int,
    offset: int,
) -> None:
    path = _db(tmp_path_factory.mktemp("h"), [{"client_key_id": "k", "payload": b"x"}])
    out = _reads(path).list_requests(
        filters=filters, since=None, until=None, text=text or None, limit=limit, offset=offset
    )
    assert len(out["items"]) <= min(max(limit, 1), queries.MAX_PAGE)
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM requests").fetchone() == (1,)


@given(params=st.dictionaries(st.sampled_from(["range", "since", "until"]), _TEXT))
def test_bad_range_parameters_are_a_400_never_a_crash(params: dict[str, str]) -> None:
    try:
        since, until = routes._range(params)
    except GodexError as err:
        assert err.status == 400 and err.code == "server.bad_query"
    else:
        assert until > since


def test_an_unreachable_postgres_trace_database_is_a_typed_503() -> None:
    reads = queries.Reads(lambda: "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(GodexError) as caught:
        reads.overview(NOW - 60, NOW)
    assert caught.value.status == 503 and caught.value.code == "trace.unavailable"
