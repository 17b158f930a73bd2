"""The ``godex`` command: serve, init, config check/print, sessions prune, traces."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from godex import __version__
from godex.config.loader import ConfigProblems, apply_overrides, load_config, redacted_dict
from godex.config.template import ProviderChoice, render
from godex.errors import GodexError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="godex")
def main() -> None:
    """GodeX: a Responses API gateway for Chat Completions providers."""


def _load(path: str | None, *, strict: bool = False) -> tuple[Any, list[str]]:
    try:
        return load_config(path, strict=strict)
    except ConfigProblems as exc:
        click.echo(f"Configuration problems in {exc.source or 'the built-in default'}:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--host", help="Listen address (overrides config and GODEX_HOST).")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port (overrides config and GODEX_PORT)."
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False),
)
@click.option("--workers", type=click.IntRange(1, 256), help="Worker processes.")
def serve(
    config_path: str | None,
    host: str | None,
    port: int | None,
    log_level: str | None,
    workers: int | None,
) -> None:
    """Start the gateway."""
    from godex.server.runner import serve as run

    config, warnings = _load(config_path)
    config = apply_overrides(config, host=host, port=port, log_level=log_level, workers=workers)
    run(config, warnings)


_KNOWN = ("deepseek", "xiaomi", "zhipu", "minimax")


def _spec_info(spec: str) -> tuple[str, str]:
    from godex.providers import registry

    found = registry.get_spec(spec)
    if found is None:
        return f"{spec.upper()}_API_KEY", "model"
    return found.api_key_env, found.default_model


@main.command()
@click.option("--provider", "providers", multiple=True, type=click.Choice(_KNOWN))
@click.option("--yes", "-y", is_flag=True, help="Accept defaults; ask nothing.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--path", default="godex.yaml", show_default=True, type=click.Path(dir_okay=False))
def init(providers: tuple[str, ...], yes: bool, force: bool, path: str) -> None:
    """Write a commented godex.yaml (interactive unless --yes)."""
    target = Path(path)
    if target.exists() and not force:
        click.echo(f"{target} already exists; use --force to overwrite it.", err=True)
        sys.exit(1)
    chosen = list(providers)
    if not chosen:
        if yes:
            chosen = ["deepseek"]
        else:
            answer = click.prompt(
                f"Providers ({', '.join(_KNOWN)}), comma separated", default="deepseek"
            )
            chosen = [p.strip() for p in answer.split(",") if p.strip()]
            bad = [p for p in chosen if p not in _KNOWN]
            if bad:
                click.echo(f"Unknown provider(s): {', '.join(bad)}", err=True)
                sys.exit(1)
    choices: list[ProviderChoice] = []
    for name in chosen:
        env, model = _spec_info(name)
        if not yes:
            env = click.prompt(f"Environment variable with the {name} API key", default=env)
            model = click.prompt(f"Default {name} model", default=model)
        choices.append(ProviderChoice(name, name, env, model))
    first = choices[0]
    aliases = {"gpt-5.5": f"{first.name}/{first.model}", "*": f"{first.name}/{first.model}"}
    if not yes:
        alias = click.prompt("Model name clients will ask for", default="gpt-5.5")
        aliases = {alias: f"{first.name}/{first.model}", "*": f"{first.name}/{first.model}"}
    target.write_text(render(choices, aliases))
    click.echo(f"Wrote {target}. Next: export {first.key_env}=... && godex serve")


@main.group()
def config() -> None:
    """Validate or show the configuration."""


@config.command("check")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
def config_check(config_path: str | None) -> None:
    """Validate without starting anything."""
    cfg, warnings = _load(config_path, strict=True)
    click.echo(f"OK: {cfg.source or 'built-in default'}")
    click.echo(
        f"server: {cfg.server.host}:{cfg.server.port}, workers {cfg.server.workers}, "
        f"client auth {'on' if cfg.server.api_keys else 'off'}"
    )
    click.echo(f"default provider: {cfg.default_provider}")
    click.echo("providers:")
    for name, p in cfg.providers.items():
        key = "key set" if p.api_key else f"no key ({p.api_key_env})"
        click.echo(f"  {name}: spec {p.spec}, {p.base_url or 'default endpoint'}, {key}")
    click.echo("aliases:")
    for alias, target in cfg.models.aliases.items() or {"(none)": ""}.items():
        click.echo(f"  {alias} -> {target}" if target else f"  {alias}")
    s = cfg.session
    where = f" at {s.sqlite_path}" if s.backend == "sqlite" else ""
    click.echo(f"sessions: {s.backend + where if s.enabled else 'off'}")
    click.echo(f"traces: {cfg.trace.path if cfg.trace.enabled else 'off'}")
    for w in warnings:
        click.echo(f"warning: {w}")


@config.command("print")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
def config_print(config_path: str | None) -> None:
    """Print the resolved configuration, secrets redacted."""
    cfg, _ = _load(config_path)
    click.echo(yaml.safe_dump(redacted_dict(cfg), sort_keys=False).rstrip())


@main.group()
def sessions() -> None:
    """Stored responses."""


@sessions.command("prune")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--older-than", help="Age such as 30d (default: session.ttl).")
def sessions_prune(config_path: str | None, older_than: str | None) -> None:
    """Delete stored responses older than the retention."""
    from godex.config.loader import _Ctx, parse_duration
    from godex.sessions.maintenance import prune_expired

    cfg, _ = _load(config_path)
    age = None
    if older_than:
        ctx = _Ctx({})
        age = parse_duration(older_than, "--older-than", ctx)
        if ctx.problems:
            raise click.BadParameter(ctx.problems[0])
    try:
        removed = prune_expired(cfg.session, age)
    except GodexError as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    click.echo(f"removed {removed} stored response(s)")


def _register_traces() -> None:
    try:
        from godex.trace.cli import traces
    except ImportError as exc:  # keep the rest of the CLI usable
        reason = str(exc)

        @main.command("traces")
        def traces_unavailable() -> None:
            """Inspect recorded requests (unavailable)."""
            click.echo(f"traces are unavailable: {reason}", err=True)
            sys.exit(1)

        return
    main.add_command(traces)


_register_traces()
