"""The commented ``godex.yaml`` that ``godex init`` writes."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    name: str  # the key under providers:
    spec: str
    key_env: str  # the variable holding its API key
    model: str  # default upstream model, used by the aliases


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
        lines += [
            f"  {c.name}:",
            f"    spec: {c.spec}",
            "    credentials:",
            f'      api_key: "${{{c.key_env}}}"',
            "    # endpoint:",
            "    #   base_url: https://...    # only to override the provider's default",
            "    # timeout_ms: 600000",
        ]
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
