"""The credential scrubber and its use where provider errors are built."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from godex.providers.errors import error_fields, error_from_http, parse_error_body
from godex.redact import REDACTED, scrub

OPENAI_401 = {
    "error": {
        "message": "Incorrect API key provided: sk-abc123def456ghi789xyz. You can find your API "
        "key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


def test_sk_token_is_replaced_and_the_message_still_reads() -> None:
    out = scrub(OPENAI_401["error"]["message"])
    assert "sk-abc123def456ghi789xyz" not in out
    assert out.startswith(f"Incorrect API key provided: {REDACTED}")
    assert "You can find your API key at https://platform.openai.com" in out


def test_bearer_and_key_shaped_tokens_are_replaced() -> None:
    assert (
        scrub("sent Authorization: Bearer abc.def-123") == f"sent Authorization: Bearer {REDACTED}"
    )
    assert scrub("bad api_key=0123456789abcdef0123456789abcdef!") == f"bad api_key={REDACTED}!"
    assert scrub("the key is 'QWxhZGRpbjpvcGVuIHNlc2FtZQ=='") == f"the key is '{REDACTED}'"
    assert scrub("token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.sig") == f"token: {REDACTED}"


def test_ordinary_provider_messages_are_untouched() -> None:
    for text in (
        "This model's maximum context length is 65536 tokens",
        "token limit exceeded for model deepseek-chat",
        "Insufficient Balance",
        "risk-assessment model task-management failed",
        "Invalid x-api-key header",
        "Rate limit reached for requests",
    ):
        assert scrub(text) == text


def test_the_configured_key_is_replaced_whatever_its_shape() -> None:
    key = "zhipu.9f8e7d6c5b4a"
    assert scrub(f"api key {key} is disabled", secrets=[key, None, ""]) == (
        f"api key {REDACTED} is disabled"
    )


_KEY_CHARS = st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="-_.")


@given(st.text(max_size=60), st.text(max_size=60), st.text(_KEY_CHARS, min_size=4, max_size=40))
def test_a_configured_secret_never_survives(before: str, after: str, secret: str) -> None:
    assert secret not in scrub(before + secret + after, secrets=[secret]) or secret in REDACTED


def test_provider_error_builders_scrub_message_and_upstream_message() -> None:
    body = json.dumps(OPENAI_401).encode()
    err = error_from_http("ds", 401, body, {}, secrets=["sk-abc123def456ghi789xyz"])
    assert err.code == "provider.auth" and err.status == 502
    for text in (err.message, err.upstream_message or "", json.dumps(err.to_body())):
        assert "sk-abc123def456ghi789xyz" not in text and "sk-abc" not in text
    # Without the key passed in, the token's shape alone is enough.
    plain = error_from_http("ds", 401, body, {})
    assert "sk-abc123def456ghi789xyz" not in plain.message
    # A non-JSON body and a stream error frame are scrubbed too.
    msg, _ = parse_error_body(b"denied for key mykey-0123456789abcdef", secrets=["mykey-0123"])
    assert "0123456789abcdef" not in msg
    found = error_fields({"error": {"message": "Bearer sk-live-0000111122223333 refused"}})
    assert found is not None and "0000111122223333" not in found[0]
