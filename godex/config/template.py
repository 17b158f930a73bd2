"""The commented ``godex.yaml`` that ``godex init`` writes."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tiers:
    """The models a provider answers the three sizes of client model with."""

    big: str  # gpt-5.5, claude-opus-*
    main: str  # gpt-5.4, gpt-5.3-codex, claude-sonnet-*
    mini: str  # gpt-5.4-mini, claude-haiku-*

    @classmethod
    def single(cls, model: str) -> Tiers:
        return cls(model, model, model)


# Suggested per provider, from each spec's documented models. Local engines serve whatever
# model they were started with: one name for every tier (``godex init`` asks for it).
SUGGESTED: dict[str, Tiers] = {
    "deepseek": Tiers("deepseek-v4-pro", "deepseek-v4-pro", "deepseek-v4-flash"),
    "xiaomi": Tiers("mimo-v2.5-pro", "mimo-v2.5-pro", "mimo-v2-flash"),
    "zhipu": Tiers("glm-5.1", "glm-5.1", "glm-5-turbo"),
    "minimax": Tiers("MiniMax-M3", "MiniMax-M3", "MiniMax-M2.7-highspeed"),
    "kimi": Tiers("kimi-k2.6", "kimi-k2.6", "kimi-k2.5"),
    "qwen": Tiers("qwen3-max", "qwen3-coder-plus", "qwen3-coder-flash"),
    "doubao": Tiers(
        "doubao-seed-1-8-251228", "doubao-seed-code-preview-251028", "doubao-seed-1-6-flash-250615"
    ),
}

# Client model names, exact first, then globs in match order (the first matching glob wins,
# so "gpt-*-mini" must precede "gpt-*"). Codex 0.169's catalogue has gpt-5.5 and the gpt-6*
# family plus codex-auto-review; older Codex releases and configs ask for gpt-5.4 & co.
CLIENT_MODELS: tuple[tuple[str, str], ...] = (
    ("gpt-5.5", "big"),
    ("gpt-5.4", "main"),
    ("gpt-5.4-mini", "mini"),
    ("gpt-5.3-codex", "main"),
    ("gpt-*-mini", "mini"),
    ("gpt-*-codex*", "main"),
    ("gpt-*", "big"),
    ("codex-*", "main"),
    ("claude-opus-*", "big"),
    ("claude-sonnet-*", "main"),
    ("claude-haiku-*", "mini"),
)


def client_aliases(provider: str, tiers: Tiers) -> dict[str, str]:
    """Codex's and Claude Code's model names -> ``provider/model`` of the right size."""
    return {alias: f"{provider}/{getattr(tiers, tier)}" for alias, tier in CLIENT_MODELS}


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    name: str  # the key under providers:
    spec: str
    key_env: str  # the variable holding its API key
    key_optional: bool = False  # local engines: only if the server was started with a key
    model: str = ""  # default upstream model, used by the aliases
    base_url: str | None = None  # written uncommented (local engines, openai_compatible)


def _q(text: str) -> str:
    # JSON strings are valid YAML scalars: safe for any alias or model name.
    return json.dumps(text)


def render(choices: list[ProviderChoice], aliases: dict[str, str], port: int = 5678) -> str:
    lines = [
        "# GodeX configuration. Validate it with: godex config check",
        "# ${VAR} and ${VAR:-default} are expanded from the environment. Relative paths are",
        "# relative to the directory godex is started in.",
        "server:",
        "  host: 127.0.0.1",
        f"  port: {port}                 # GODEX_HOST / GODEX_PORT and --host / --port override",
        '  # api_keys: ["${GODEX_CLIENT_KEY}"]   # if set, clients must send one of these keys',
        "",
        f"default_provider: {choices[0].name}",
        "",
        "models:",
        "  aliases:",
        '    # the model name a client asks for -> provider/model; "*" matches any other name',
    ]
    lines += [f"    {_q(alias)}: {_q(target)}" for alias, target in aliases.items()]
    lines += ["", "providers:"]
    for c in choices:
        lines += [f"  {c.name}:", f"    spec: {c.spec}"]
        if c.key_optional:  # empty unless set: no auth header, and not a missing key
            lines += [
                "    credentials:             # only if the server was started with a key",
                f'      api_key: "${{{c.key_env}:-}}"',
            ]
        else:
            lines += ["    credentials:", f'      api_key: "${{{c.key_env}}}"']
        if c.base_url:
            lines += ["    endpoint:", f"      base_url: {_q(c.base_url)}"]
        else:
            lines += [
                "    # endpoint:",
                "    #   base_url: https://...    # only to override the provider's default",
            ]
        lines += ["    # timeout_ms: 600000"]
    lines += [
        "",
        "session:",
        "  backend: sqlite             # sqlite | memory",
        "  sqlite:",
        "    path: ./data/sessions.db",
        "  ttl: 30d                    # godex sessions prune deletes older responses",
        "",
        "trace:",
        "  enabled: true",
        "  path: ./data/trace.db",
        "  capture_payload: false      # true also stores redacted request/response bodies",
        "  retention: 7d",
        "",
        "logging:",
        "  level: info                 # debug | info | warning | error",
        "  console: {enabled: true, pretty: true}   # pretty: false gives JSON lines",
        "  file: {enabled: false, dir: ./logs, filename: godex.log, max_size: 10MB, max_files: 5}",
        "",
    ]
    return "\n".join(lines)
