"""How to add a provider: declare a spec (data) and, only if its protocol differs, thin hooks.

This registers a fifth provider that exists only in this test. Nothing in the bridge changes:
the same planning, tool mapping and ResponseBuilder serve it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from godex.providers import registry
from godex.providers.base import ChatHooks
from godex.providers.spec import ChatRequest, ProviderSpec
from tests.fakes.replay_upstream import FakeUpstream, Reply, chunk, sse, usage
from tests.support.gateway import make_config, provider, run_gateway


class AcmeHooks(ChatHooks):
    """Acme's only protocol difference: its thinking switch is a boolean field."""

    def patch_request(self, spec: ProviderSpec, req: ChatRequest) -> None:
        if req.thinking is not None:
            req.body["enable_thinking"] = req.thinking


ACME = ProviderSpec(
    name="acme",
    default_base_url="https://api.acme.example/v1",
    default_model="acme-1",
    api_key_env="ACME_API_KEY",
    hooks=AcmeHooks(),
    token_limit_field="max_completion_tokens",
    reasoning_control="toggle",
    effort_map={"none": None, "low": "on", "medium": "on", "high": "on"},
    tool_choices=frozenset({"auto"}),
    developer_role=True,
)


@pytest.fixture
def acme(upstream: FakeUpstream, tmp_path: Path) -> Iterator[openai.OpenAI]:
    registry.register(ACME)
    try:
        cfg = make_config(tmp_path, [provider("acme", "acme", upstream.base_url)])
        with run_gateway(cfg) as gw:
            yield openai.OpenAI(base_url=gw.v1, api_key="k", max_retries=0)
    finally:
        registry.SPECS.pop("acme", None)


def test_a_fifth_provider_needs_no_bridge_change(
    acme: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.push(
        Reply(
            sse(chunk(reasoning="hm"), chunk("pong"), chunk("", finish="stop", usage=usage(3, 1)))
        )
    )
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}]
    with acme.responses.stream(
        model="acme-1",
        input="ping",
        tools=tools,  # type: ignore[arg-type]
        tool_choice="required",
        max_output_tokens=10,
        reasoning={"effort": "high"},
    ) as stream:
        final = stream.get_final_response()
    assert final.output_text == "pong"
    sent = upstream.last
    assert sent["enable_thinking"] is True
    assert sent["max_completion_tokens"] == 10
    assert sent["tool_choice"] == "auto"  # the spec accepts only auto: the bridge degraded it
    assert dataclasses.asdict(ACME)["name"] == "acme"
