"""The ``godex`` command: serve, init, config check/print, sessions prune, traces, db."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import NoReturn

import click
import yaml

import godex.providers.registry as registry  # (also installs the spec catalog config asks)
from godex import __version__
from godex.config.durations import parse_duration
from godex.config.keys import LEVEL_NAMES
from godex.config.loader import ConfigProblems, LoadResult, apply_overrides, load, redacted_dict
from godex.config.schema import GodexConfig
from godex.config.template import SUGGESTED, ProviderChoice, Tiers, client_aliases, render
from godex.errors import GodexError

LEVELS = LEVEL_NAMES
# Providers `godex init` offers: every registered spec (openai_compatible gets its URL written
# out; declare its capabilities by hand).
INIT_PROVIDERS: tuple[str, ...] = tuple(registry.SPECS)
# Subcommands other modules own, imported only when used so a broken one cannot take the
# whole CLI down: name -> (module, attribute, one-line help).
LAZY_COMMANDS = {
    "traces": ("godex.trace.cli", "traces", "Inspect recorded requests and token usage."),
    "keys": ("godex.server.keys_cli", "keys", "Create, list and revoke runtime client keys."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attr, summary = LAZY_COMMANDS[cmd_name]
        try:
            command = getattr(importlib.import_module(module), attr)
        except Exception as exc:  # any import-time failure: keep the rest of the CLI usable
            return _unavailable(cmd_name, summary, f"{type(exc).__name__}: {exc}")
        if not isinstance(command, click.Command):
            return _unavailable(cmd_name, summary, f"{module}.{attr} is not a command")
        return command


def _unavailable(name: str, summary: str, reason: str) -> click.Command:
    def run() -> NoReturn:
        _fail(f"'godex {name}' is unavailable: {reason}")

    return click.Command(
        name, callback=run, help=f"{summary} Unavailable: {reason}", short_help="(unavailable)"
    )


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


@click.group("godex", cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="godex")
def main() -> None:
    """GodeX: OpenAI's Responses API on Chat Completions providers.

    \b
    Examples:
      godex init                 # write a commented godex.yaml
      godex config check         # validate it (exit 1 listing every problem)
      godex serve                # start; SIGHUP or `godex reload` re-reads the config
      godex traces usage         # token usage from the trace store

    \b
    Shell completion (bash; zsh and fish alike with zsh_source / fish_source):
      eval "$(_GODEX_COMPLETE=bash_source godex)"
    """


def _load(path: str | None, *, strict: bool = False) -> tuple[GodexConfig, list[str]]:
    result = _load_result(path, strict=strict)
    return result.config, result.warnings


def _load_result(path: str | None, *, strict: bool = False) -> LoadResult:
    try:
        return load(path, strict=strict)
    except ConfigProblems as exc:
        where = exc.source or "the built-in default"
        lines = [f"{len(exc.problems)} configuration problem(s) in {where}:"]
        lines += [f"  - {problem}" for problem in exc.problems]
        lines += [f"warning: {warning}" for warning in exc.warnings]
        _fail("\n".join(lines))


_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Config file (default: ./godex.yaml, then ~/.godex/config.yaml, then built-in).",
)


@main.command()
@_config_option
@click.option("--host", help="Listen address (overrides the config and GODEX_HOST).")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port (overrides the config and GODEX_PORT)."
)
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), help="Log level.")
@click.option("--workers", type=click.IntRange(1, 256), help="Worker processes.")
def serve(
    config_path: str | None,
    host: str | None,
    port: int | None,
    log_level: str | None,
    workers: int | None,
) -> None:
    """Start the gateway (Ctrl-C / SIGTERM finishes in-flight requests, then exits).

    SIGHUP (or `godex reload`) re-reads the config without a restart.

    \b
    Examples:
      godex serve                          # ./godex.yaml, else the built-in default
      godex serve --port 8080 --workers 4
      GODEX_CONFIG=/etc/godex/godex.yaml godex serve --log-level debug
    """
    from godex.server.reload import ConfigSource
    from godex.server.runner import serve as run

    config, warnings = _load(config_path)
    source = ConfigSource(config.source, host, port, log_level, workers)
    try:
        run(apply_overrides(config, host, port, log_level, workers=workers), warnings, source)
    except GodexError as exc:  # e.g. the shared store unreachable or a mismatched secret
        _fail(f"godex: cannot start: {exc.code}: {exc.message}")


@main.command()
@_config_option
def reload(config_path: str | None) -> None:
    """Make the running server re-read its config (SIGHUP via the pid file in data_dir).

    The server validates the new config first: an invalid one is refused, with every
    problem in its log, and the running config stays.

    \b
    Examples:
      godex reload
      godex reload --config /etc/godex/godex.yaml   # finds data_dir through it
    """
    from godex.server.reload import signal_server

    cfg, _ = _load(config_path)
    try:
        pid = signal_server(cfg)
    except LookupError as exc:
        _fail(str(exc))
    click.echo(f"sent SIGHUP to godex (pid {pid}); its log says whether the new config was taken")


def _ask_providers() -> list[str]:
    answer = click.prompt(
        f"Providers to configure ({', '.join(INIT_PROVIDERS)}), comma separated",
        default="deepseek",
    )
    chosen = list(dict.fromkeys(p.strip().lower() for p in answer.split(",") if p.strip()))
    chosen = [registry.canonical_name(p) or p for p in chosen]
    bad = [p for p in chosen if p not in INIT_PROVIDERS]
    if bad or not chosen:
        _fail(f"unknown provider(s): {', '.join(bad) or '(none)'}; pick from {INIT_PROVIDERS}")
    return chosen


def _choice(
    name: str, ask: bool, model: str | None, base_url: str | None
) -> tuple[ProviderChoice, Tiers]:
    """One provider's block and the models its aliases use."""
    spec = registry.get_spec(name)
    assert spec is not None  # INIT_PROVIDERS come from the registry
    suggested = SUGGESTED.get(name)
    key_env, optional = spec.api_key_env, not spec.api_key_required
    # Local engines and openai_compatible run wherever you put them: write the URL out.
    url = base_url or (None if suggested else spec.default_base_url)
    if ask:
        if not optional:
            key_env = click.prompt(
                f"Environment variable holding the {name} API key", default=key_env
            )
        if not suggested:
            url = click.prompt(f"Base URL of the {name} server", default=url)
        known = ", ".join(spec.models) if spec.models else "the model the server was started with"
        default = model or (suggested.main if suggested else spec.default_model)
        model = click.prompt(f"Main {name} model (known: {known})", default=default)
    tiers = suggested or Tiers.single(spec.default_model)
    if model and model != tiers.main:
        tiers = Tiers.single(model)  # a model of your own answers every size
    choice = ProviderChoice(name, name, key_env, optional, model=tiers.main, base_url=url)
    return choice, tiers


@main.command()
@click.option(
    "--provider",
    "providers",
    multiple=True,
    type=click.Choice(INIT_PROVIDERS),
    help="Provider to configure (repeatable; the first is the default).",
)
@click.option(
    "--model", help="The first provider's model for every alias (local engines: the served model)."
)
@click.option(
    "--base-url", help="The first provider's endpoint (local engines, openai_compatible)."
)
@click.option("--yes", "-y", is_flag=True, help="Accept the defaults without asking.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option(
    "--path",
    default="godex.yaml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write it.",
)
def init(
    providers: tuple[str, ...],
    model: str | None,
    base_url: str | None,
    yes: bool,
    force: bool,
    path: str,
) -> None:
    """Write a commented godex.yaml (interactive unless --yes).

    Codex's model names (gpt-5.5, gpt-5.4, gpt-5.4-mini, gpt-5.3-codex, gpt-*) and Claude
    Code's (claude-opus-*, claude-sonnet-*, claude-haiku-*) are aliased to the first
    provider's models of the same size.

    \b
    Examples:
      godex init --yes                               # DeepSeek
      godex init --provider kimi --provider deepseek --yes
      godex init --provider vllm --model Qwen/Qwen3-Coder-30B-A3B-Instruct --yes
      godex init --provider ollama --base-url http://gpu-box:11434/v1 --yes
    """
    target = Path(path)
    if target.exists() and not force:
        _fail(f"{target} already exists; use --force to overwrite it.")
    chosen = list(dict.fromkeys(providers)) or (["deepseek"] if yes else _ask_providers())
    picked = [
        _choice(name, not yes, model if i == 0 else None, base_url if i == 0 else None)
        for i, name in enumerate(chosen)
    ]
    choices = [choice for choice, _ in picked]
    aliases = client_aliases(choices[0].name, picked[0][1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(choices, aliases), encoding="utf-8")
    keys = " ".join(f"{c.key_env}=..." for c in choices if not c.key_optional)
    first = f"export {keys}; " if keys else ""
    click.echo(f"Wrote {target}. Next: {first}godex config check; godex serve")


@main.group()
def config() -> None:
    """Validate or show the configuration."""


@config.command("check")
@_config_option
def config_check(config_path: str | None) -> None:
    """Validate without starting anything; exit 1 listing every problem.

    Unknown keys fail the check too (serve only warns about them): a typo such as
    ``endpont`` would otherwise silently leave the default in place.

    \b
    Examples:
      godex config check
      GODEX_CONFIG=/etc/godex/godex.yaml godex config check
    """
    result = _load_result(config_path, strict=True)
    cfg, warnings = result.config, result.warnings
    if result.unknown:
        where = cfg.source or "the built-in default"
        lines = [f"{len(result.unknown)} unknown key(s) in {where} (serve ignores them):"]
        lines += [f"  - {unknown}" for unknown in result.unknown]
        lines += [f"warning: {w}" for w in warnings if w not in result.unknown]
        _fail("\n".join(lines))
    s = cfg.server
    echo = click.echo
    echo(f"OK: {cfg.source or 'built-in default (no config file found)'}")
    count = len(s.api_keys) + len(cfg.auth.keys) + len(cfg.auth.admin_keys)
    auth = f"on ({count} key(s))" if count else "off"
    echo(f"server: {s.host}:{s.port}, {s.workers} worker(s), client auth {auth}")
    echo(f"default provider: {cfg.default_provider or '(none)'}")
    echo("providers:")
    for name, p in cfg.providers.items():
        key = "key set" if p.api_key else f"NO KEY ({p.api_key_env})"
        spec = registry.get_spec(p.spec)
        if not p.api_key and spec is not None and not spec.api_key_required:
            key = "no key (not required)"
        origin = f" from {p.api_key_env}" if p.api_key and p.api_key_env else ""
        echo(f"  {name}: spec {p.spec}, {p.base_url or 'default endpoint'}, {key}{origin}")
    echo("aliases:" if cfg.models.aliases else "aliases: (none)")
    for alias, target in cfg.models.aliases.items():
        echo(f"  {alias} -> {target}")
    sess = cfg.session
    store = {"sqlite": f"sqlite at {sess.sqlite_path}", "postgres": "postgres"}.get(
        sess.backend, sess.backend
    )
    echo(f"sessions: {store if sess.enabled else 'off'}")
    traces = "postgres" if cfg.trace.backend == "postgres" else f"sqlite at {cfg.trace.path}"
    echo(f"traces: {traces if cfg.trace.enabled else 'off'}")
    for warning in warnings:
        echo(f"warning: {warning}")


@config.command("print")
@_config_option
def config_print(config_path: str | None) -> None:
    """Print the resolved configuration as YAML, secrets redacted."""
    cfg, warnings = _load(config_path)
    click.echo(f"# source: {cfg.source or 'built-in default'}")
    for warning in warnings:
        click.echo(f"# warning: {warning}")
    click.echo(yaml.safe_dump(redacted_dict(cfg), sort_keys=False, allow_unicode=True).rstrip())


@main.group()
def sessions() -> None:
    """Stored responses."""


def _older_than(_: click.Context, __: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@sessions.command("prune")
@_config_option
@click.option(
    "--older-than", callback=_older_than, help="Age such as 30d or 12h (default: session.ttl)."
)
def sessions_prune(config_path: str | None, older_than: int | None) -> None:
    """Delete stored responses older than the retention.

    \b
    Examples:
      godex sessions prune                  # older than session.ttl
      godex sessions prune --older-than 7d
    """
    import time

    from godex.sessions.maintenance import prune_expired

    cfg, _ = _load(config_path)
    if not cfg.session.enabled:
        _fail("sessions are disabled (session.enabled: false); nothing to prune")
    age = older_than if older_than is not None else cfg.session.ttl_s
    where = cfg.session.sqlite_path if cfg.session.backend == "sqlite" else cfg.session.backend
    # Progress on stderr, so the result line on stdout stays easy to parse.
    click.echo(f"pruning stored responses older than {_age(age)} in {where} ...", err=True)
    started = time.monotonic()
    try:
        removed = prune_expired(cfg.session, older_than)
    except GodexError as exc:
        _fail(f"{exc.code}: {exc.message}")
    click.echo(f"done in {time.monotonic() - started:.1f} s", err=True)
    click.echo(f"removed {removed} stored response(s)")


@main.group()
def db() -> None:
    """The shared PostgreSQL schema (session.backend / trace.backend: postgres)."""


def _pg_components(cfg: GodexConfig) -> dict[str, dict[str, list[str]]]:
    """Each PostgreSQL database the config uses -> its components and their migrations."""
    from godex import postgres_db
    from godex.sessions.postgres import MIGRATIONS as SESSION_MIGRATIONS
    from godex.trace.postgres import MIGRATIONS as TRACE_MIGRATIONS

    grouped: dict[str, dict[str, list[str]]] = {}
    sess, trace = cfg.session, cfg.trace
    if sess.enabled and sess.backend == "postgres" and sess.postgres.dsn:
        comps = grouped.setdefault(sess.postgres.dsn, {"core": postgres_db.CORE_MIGRATIONS})
        comps["sessions"] = SESSION_MIGRATIONS
    if trace.enabled and trace.backend == "postgres" and trace.postgres.dsn:
        comps = grouped.setdefault(trace.postgres.dsn, {"core": postgres_db.CORE_MIGRATIONS})
        comps["traces"] = TRACE_MIGRATIONS
    if not grouped:
        _fail("no PostgreSQL backend configured (session.backend / trace.backend: postgres)")
    return grouped


@db.command("migrate")
@_config_option
def db_migrate(config_path: str | None) -> None:
    """Apply pending schema migrations (GodeX also does this at start)."""
    from godex import postgres_db

    cfg, _ = _load(config_path)
    try:
        for dsn, comps in _pg_components(cfg).items():
            with postgres_db.connect(dsn) as conn:
                for name, steps in comps.items():
                    applied = postgres_db.migrate(conn, name, steps)
                    click.echo(f"{name}: version {len(steps)} ({applied} applied)")
    except GodexError as exc:
        _fail(f"{exc.code}: {exc.message}")


@db.command("status")
@_config_option
def db_status(config_path: str | None) -> None:
    """Show each component's schema version; exit 1 when a migration is pending."""
    from godex import postgres_db

    cfg, _ = _load(config_path)
    pending = False
    try:
        for dsn, comps in _pg_components(cfg).items():
            with postgres_db.connect(dsn) as conn:
                for name, version in postgres_db.status(conn, comps).items():
                    latest = len(comps[name])
                    state = "up to date" if version == latest else "PENDING"
                    pending = pending or version != latest
                    click.echo(f"{name}: version {version} of {latest} ({state})")
    except GodexError as exc:
        _fail(f"{exc.code}: {exc.message}")
    if pending:
        sys.exit(1)


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "(no ttl: nothing)"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
