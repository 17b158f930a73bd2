"""The commented ``godex.yaml`` that ``godex init`` writes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    name: str  # the key under providers:
    spec: str
    key_env: str
    model: str  # default upstream model for the aliases


def render(choices: list[ProviderChoice], aliases: dict[str, str], port: int = 5678) -> str:
    lines = [
        "# GodeX configuration. Docs: README.md. Check it with: godex config check",
        "# ${VAR} and ${VAR:-default} are expanded from the environment.",
        "server:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        '  # api_keys: ["${GODEX_CLIENT_KEY}"]   # require clients to send this key',
        "",
        f"default_provider: {choices[0].name}",
        "",
        "models:",
        "  aliases:",
        '    # What clients ask for -> provider/model. "*" catches every other name.',
    ]
    for alias, target in aliases.items():
        lines.append(f'    "{alias}": {target}')
    lines += ["", "providers:"]
    for c in choices:
        lines += [
            f"  {c.name}:",
            f"    spec: {c.spec}",
            "    credentials:",
            f"      api_key: ${{{c.key_env}}}",
            "    # endpoint:",
            "    #   base_url: https://...   # only to override the provider's default",
            "    # timeout_ms: 600000",
        ]
    lines += [
        "",
        "session:",
        "  backend: sqlite          # sqlite | memory",
        "  sqlite:",
        "    path: ./data/sessions.db",
        "  ttl: 30d                 # stored responses older than this are pruned",
        "",
        "trace:",
        "  enabled: true",
        "  path: ./data/trace.db",
        "  capture_payload: false   # true stores redacted request/response bodies",
        "  retention: 7d",
        "",
        "logging:",
        "  level: info",
        "  console: {enabled: true, pretty: true}",
        "  file: {enabled: false, dir: ./logs, filename: godex.log}",
        "",
    ]
    return "\n".join(lines)
