"""The dashboard in a real browser (Debian's chromium, driven by Playwright), over data from
real requests made through the gateway to fake upstreams.

Screenshots land in tests/ui/artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from godex.config.schema import AuthConfig, UiConfig
from godex.server.auth import legacy_name
from godex.server.ui import queries
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, completion_body, sse, usage
from tests.support.gateway import make_config, provider, run_gateway
from tests.ui.conftest import ADMIN, CLIENT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _ensure_chromium() -> None:
    """CI runs as root on Debian: install the browser the first time it is missing."""
    if Path(CHROMIUM).exists():
        return
    assert os.geteuid() == 0 and shutil.which("apt-get"), "chromium is missing and not root"
    subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _ensure_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _answer(text: str) -> Any:
    def reply(body: dict[str, Any]) -> Reply:
        if body.get("stream"):
            return Reply(body=sse(chunk(text), chunk("", finish="stop", usage=usage(40, 9))))
        return Reply.json(completion_body(text, prompt=40, completion=9, cached=30))

    return reply


def _post(base: str, key: str, **body: Any) -> httpx.Response:
    return httpx.post(
        base + "/v1/responses",
        json={"input": "hello", **body},
        headers={"authorization": f"Bearer {key}"},
        timeout=20,
    )


def _wait_for_rows(path: str, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        page = queries.Reads(lambda: path).list_requests(
            filters={}, since=None, until=None, text=None, limit=50, offset=0
        )
        if len(page["items"]) >= n or time.monotonic() > deadline:
            return list(page["items"])
        threading.Event().wait(0.02)  # the recorder flushes every 20 ms


def _wait_until(predicate: Any, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        threading.Event().wait(0.05)


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_operator_logs_in_and_follows_requests_through_the_dashboard(
    browser: Browser, tmp_path: Path
) -> None:
    with FakeUpstream() as a, FakeUpstream() as b:
        a.default = _answer("from A")
        b.default = _answer("from B")
        trace_path = str(tmp_path / "trace.db")
        cfg = make_config(
            tmp_path,
            [provider("a", "deepseek", a.base_url), provider("b", "deepseek", b.base_url)],
            aliases={"gpt-5.5": ("a/model-a", "b/model-b"), "solo": "a/model-a"},  # type: ignore[dict-item]
            trace=dataclasses.replace(
                make_config(tmp_path, [provider("x", "deepseek", a.base_url)]).trace,
                enabled=True,
                path=trace_path,
                flush_interval_ms=20,
                capture_payload=True,
            ),
            server={"api_keys": (CLIENT,)},
        )
        cfg = dataclasses.replace(
            cfg, ui=UiConfig(enabled=True), auth=AuthConfig(admin_keys=(ADMIN,))
        )
        with run_gateway(cfg) as gw:
            base = gw.base_url
            # A served request with a compatibility diagnostic (temperature out of range).
            ok = _post(base, CLIENT, model="solo", temperature=5, reasoning={"effort": "minimal"})
            assert ok.status_code == 200
            # A request that fails: the upstream is out of credit.
            a.push(Reply.json({"error": {"message": "Insufficient Balance"}}, status=402))
            failed = _post(base, CLIENT, model="solo")
            assert failed.status_code >= 400
            # A failover: A is down, B answers.
            a.push(Reply.json({"error": {"message": "overloaded"}}, status=503))
            over = _post(base, CLIENT, model="gpt-5.5")
            assert over.status_code == 200
            assert _post(base, ADMIN, model="solo").status_code == 200
            rows = _wait_for_rows(trace_path, 4)
            assert len(rows) == 4
            client_id = legacy_name(CLIENT)
            failed_row = next(r for r in rows if r["status"] != "completed")
            over_row = next(r for r in rows if r["attempt_count"] > 1)
            diag_row = rows[-1]  # the first request made

            page = browser.new_page(viewport={"width": 1366, "height": 768})
            # Log in: a wrong key is refused, the admin key gets in.
            page.goto(base + "/ui/")
            expect(page).to_have_url(base + "/ui/login")
            page.get_by_label("Admin key").fill("sk-wrong")
            page.keyboard.press("Enter")
            expect(page.locator("#login-error")).to_be_visible()
            _shot(page, "01-login-refused")
            page.get_by_label("Admin key").fill(ADMIN)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()

            # The overview: totals and charts drawn from these four requests.
            cards = page.get_by_role("region", name="Totals")
            expect(cards.locator(".card", has_text="Requests").locator(".v")).to_have_text("4")
            expect(cards.locator(".card", has_text="Errors").locator(".v")).to_have_text("1")
            expect(cards.locator(".card", has_text="Failovers").locator(".v")).to_have_text("1")
            expect(page.locator("#charts canvas")).to_have_count(3)  # requests, tokens, cost
            expect(page.get_by_role("table", name="By key")).to_contain_text(client_id)
            expect(page.get_by_role("table", name="Breakers")).to_contain_text("model-b")
            _shot(page, "02-overview")

            # Requests filtered by key and status: the one failure.
            page.get_by_role("link", name="Requests").click()
            page.locator("#f-key").select_option(client_id)
            page.locator("#f-status").select_option("error")
            page.get_by_role("button", name="Filter").click()
            table = page.get_by_role("table", name="Requests")
            expect(table.locator("tbody tr")).to_have_count(1)
            assert failed_row["error_code"]
            expect(table).to_contain_text(failed_row["error_code"])
            _shot(page, "03-requests-filtered")
            # ... and by error code alone, typed in.
            page.goto(base + "/ui/#requests")
            expect(table.locator("tbody tr")).to_have_count(4)  # the unfiltered page is drawn
            page.locator("#f-error_code").fill(failed_row["error_code"])
            page.locator("#f-error_code").press("Enter")
            expect(table.locator("tbody tr")).to_have_count(1)

            # The failover request's page: both attempts.
            page.goto(base + f"/ui/#request/{over_row['request_id']}")
            attempts = page.get_by_role("table", name="Attempts")
            expect(attempts.locator("tbody tr")).to_have_count(2)
            expect(attempts).to_contain_text("failed_over")
            expect(attempts).to_contain_text("model-b")
            summary = page.locator("dl.kv").first
            expect(summary.locator("dt", has_text="Upstream model")).to_be_visible()
            expect(summary).to_contain_text("model-b")
            expect(summary).not_to_contain_text("[object")
            _shot(page, "04-request-failover")
            # The first request's page: its diagnostics and the captured, redacted payload.
            page.goto(base + f"/ui/#request/{diag_row['request_id']}")
            expect(page.locator("#diagnostics li").first).to_contain_text("temperature")
            expect(page.locator("pre").first).to_contain_text('"temperature"')
            assert CLIENT not in page.content()
            _shot(page, "05-request-diagnostics")

            # Keys: a runtime key made through the admin API is revoked from the page, and the
            # next request with it fails.
            made = httpx.post(
                base + "/admin/keys",
                json={"name": "temp-bot"},
                headers={"authorization": f"Bearer {ADMIN}"},
                timeout=10,
            )
            assert made.status_code in (200, 201), made.text
            temp_key = made.json()["key"]
            assert _post(base, temp_key, model="solo").status_code == 200
            page.get_by_role("link", name="Keys").click()
            expect(page.get_by_role("table", name="Configured keys")).to_contain_text(client_id)
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Revoke temp-bot").click()
            _wait_until(lambda: _post(base, temp_key, model="solo").status_code == 401)
            assert ADMIN not in page.content() and CLIENT not in page.content()
            _shot(page, "06-keys")

            # Live: a stream held open upstream shows as in flight, without a reload.
            gate = threading.Event()
            held = Reply(
                chunks=[sse(chunk("live"), done=False), sse(chunk("", finish="stop"))],
                gate=gate,
            )
            a.push(held)
            page.get_by_role("link", name="Live").click()
            expect(page.locator("#in-flight")).to_have_text("0")
            result: list[int] = []
            worker = threading.Thread(
                target=lambda: result.append(
                    _post(base, CLIENT, model="solo", stream=True).status_code
                )
            )
            worker.start()
            try:
                expect(page.locator("#in-flight")).to_have_text("1", timeout=10_000)
                _shot(page, "07-live")
            finally:
                gate.set()
                worker.join(20)
            assert result == [200]
            expect(page.locator("#in-flight")).to_have_text("0", timeout=10_000)

            # Keyboard: the skip link is the first stop and moves focus to the content; the
            # sections are reachable by Tab and Enter.
            page.goto(base + "/ui/#overview")
            page.reload()  # a fresh document: focus starts at the top
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            page.keyboard.press("Tab")
            expect(page.locator("a.skip")).to_be_focused()
            page.keyboard.press("Enter")
            expect(page.locator("#main")).to_be_focused()
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            page.get_by_role("link", name="Requests").focus()
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name="Requests")).to_be_visible()
            page.close()
