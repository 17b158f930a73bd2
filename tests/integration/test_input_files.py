"""``input_file`` on a provider without file input: text through, unreadable types a 400."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godex.bridge.files import decode_file_data, extract_text
from godex.errors import InvalidRequestError
from tests.fakes.replay_upstream import FakeUpstream, Reply, completion_body
from tests.support.gateway import RunningGateway, make_config, provider, run_gateway
from tests.support.pdf import pdf_with_text


def _data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def _ask(sdk: openai.OpenAI, part: dict[str, Any]) -> Any:
    return sdk.responses.create(
        model="gpt-5.5",
        input=[
            {
                "role": "user",
                "content": [{"type": "input_text", "text": "Summarise:"}, part],
            }
        ],  # type: ignore[list-item]
    )


@pytest.fixture(scope="module")
def file_server() -> Iterator[str]:
    """Serves one PDF on 127.0.0.1, for file_url."""
    body = pdf_with_text("Fetched by URL")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/pdf")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/report.pdf"
    finally:
        server.shutdown()


def _gateway(tmp: Path, upstream: FakeUpstream, fetch: bool) -> Any:
    cfg = make_config(
        tmp,
        [provider("ds", "deepseek", upstream.base_url)],
        aliases={"gpt-5.5": "ds/deepseek-v4-pro"},
        server={"fetch_file_urls": fetch},
    )
    return run_gateway(cfg)


@pytest.fixture(scope="module")
def files_gw(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    with _gateway(tmp_path_factory.mktemp("files"), upstream, fetch=False) as gw:
        yield gw


@pytest.fixture
def sdk(files_gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=files_gw.v1, api_key="k", max_retries=0, timeout=20)


def test_a_pdf_reaches_the_model_as_its_text(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.push(Reply.json(completion_body("A report.")))
    pdf = _data_url(pdf_with_text("Quarterly revenue grew"), "application/pdf")
    _ask(sdk, {"type": "input_file", "filename": "q3.pdf", "file_data": pdf})
    content = upstream.last["messages"][0]["content"]
    assert content.startswith("Summarise:\n[File: q3.pdf (application/pdf)]")
    assert "Quarterly revenue grew" in content


@pytest.mark.parametrize(
    ("filename", "media_type", "text"),
    [
        ("notes.md", "text/markdown", "# Title\n\nSome *markdown*."),
        ("main.py", None, "def main() -> None:\n    print('hi')\n"),
        ("readme.txt", "text/plain", "plain words"),
    ],
)
def test_text_markdown_and_code_reach_the_model(
    sdk: openai.OpenAI, upstream: FakeUpstream, filename: str, media_type: str | None, text: str
) -> None:
    upstream.push(Reply.json(completion_body("ok")))
    data = text.encode()
    file_data = _data_url(data, media_type) if media_type else base64.b64encode(data).decode()
    _ask(sdk, {"type": "input_file", "filename": filename, "file_data": file_data})
    assert text in upstream.last["messages"][0]["content"]


def test_an_unreadable_type_is_a_400_naming_it(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    png = _data_url(b"\x89PNG\r\n\x1a\n\x00\x00binary", "image/png")
    with pytest.raises(openai.BadRequestError) as info:
        _ask(sdk, {"type": "input_file", "filename": "photo.png", "file_data": png})
    body: Any = info.value.body
    assert "image/png" in body["message"] and "photo.png" in body["message"]
    assert not upstream.requests


def test_file_url_is_refused_while_fetching_is_off(
    sdk: openai.OpenAI, upstream: FakeUpstream, file_server: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        _ask(sdk, {"type": "input_file", "file_url": file_server})
    body: Any = info.value.body
    assert "fetch_file_urls" in body["message"]
    assert not upstream.requests


def test_file_url_is_fetched_when_the_operator_allows_it(
    upstream: FakeUpstream, file_server: str, tmp_path: Path
) -> None:
    with _gateway(tmp_path, upstream, fetch=True) as gw:
        client = openai.OpenAI(base_url=gw.v1, api_key="k", max_retries=0, timeout=20)
        upstream.push(Reply.json(completion_body("ok")))
        _ask(client, {"type": "input_file", "file_url": file_server})
    content = upstream.last["messages"][0]["content"]
    assert "[File: report.pdf (application/pdf)]" in content
    assert "Fetched by URL" in content


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512), st.sampled_from([None, "application/pdf", "text/plain", "x/y"]))
def test_hostile_file_data_is_text_or_a_400(data: bytes, media_type: str | None) -> None:
    for blob in (base64.b64encode(data).decode(), data.decode("latin-1")):
        try:
            declared, raw = decode_file_data(blob, "input[0]")
            found = extract_text(raw, media_type or declared, "f", "input[0]")
        except InvalidRequestError:
            continue
        assert isinstance(found.text, str)
