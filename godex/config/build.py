"""Raw (already interpolated) YAML data into the typed config, collecting every problem.

Nothing here raises on bad input: each problem is recorded with its key path and a usable
default is substituted, so one pass reports all of them. Every plain key is read by ``fill``
from its declaration in ``schema.py``; only rules that join several keys (a provider's spec
and credentials, aliases naming providers) are written out here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, dataclass, field, replace
from typing import Any

from godex.config.catalog import SpecCatalog
from godex.config.interpolate import referenced_var
from godex.config.keys import (
    Invalid,
    Key,
    Tree,
    declared,
    default_of,
    hint,
    legacy_keys,
    lookup,
    tree,
)
from godex.config.schema import (
    GodexConfig,
    ModelsConfig,
    ProviderConfig,
    ServerConfig,
    WebSearchConfig,
)

KEYS: Tree = tree(GodexConfig)


@dataclass
class Ctx:
    env: Mapping[str, str]
    catalog: SpecCatalog
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # the warnings about unknown keys
    missing_keys: dict[str, str] = field(default_factory=dict)  # provider -> unset variable
    data_dir: str = "./data"
    bad_sections: set[str] = field(default_factory=set)  # reported once each


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def check_keys(data: object, schema: Tree | None, path: str, ctx: Ctx) -> None:
    """Warn about every key the schema does not know, suggesting the nearest valid one."""
    if not isinstance(data, dict) or schema is None or schema.free:
        return
    for key, value in data.items():
        sub = _join(path, key)
        if schema.each is not None:
            check_keys(value, schema.each, sub, ctx)
        elif key in schema.keys:
            check_keys(value, schema.keys[key], sub, ctx)
        elif key in schema.moved:
            ctx.unknown.append(f"{sub}: ignored; it is now written {path}.{schema.moved[key]}")
        else:
            ctx.unknown.append(f"{sub}: unknown key, ignored{hint(str(key), list(schema.keys))}")


def section(data: Mapping[str, Any], key: str, path: str, ctx: Ctx) -> dict[str, Any]:
    """``data[key]`` as a mapping; anything else is one problem (reported once) and ``{}``."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        where = _join(path, key)
        if where not in ctx.bad_sections:
            ctx.bad_sections.add(where)
            ctx.problems.append(f"{where}: expected a mapping, got {_kind(value)}")
        return {}
    return value


def _kind(value: object) -> str:
    return "a boolean" if isinstance(value, bool) else type(value).__name__


def fill(cls: type, data: Mapping[str, Any], path: str, ctx: Ctx) -> dict[str, Any]:
    """The values of ``cls``'s declared keys (not the ``custom`` ones) read from ``data``."""
    values: dict[str, Any] = {}
    for f, k, yaml_path in declared(cls):
        if k.custom or k.entries is not None:
            continue
        holder: Mapping[str, Any] = data
        where = path
        for part in yaml_path[:-1]:  # e.g. session.sqlite.path: sqlite must be a mapping
            holder = section(holder, part, where, ctx)
            where = _join(where, part)
        name = yaml_path[-1]
        if k.section is not None:
            raw = holder.get(name)
            if k.bool_shorthand and isinstance(raw, bool):
                sub: dict[str, Any] = {"enabled": raw}
            else:
                sub = section(holder, name, where, ctx)
            values[f.name] = k.section(**fill(k.section, sub, _join(where, name), ctx))
            continue
        values[f.name] = read(f, k, holder, name, where, ctx)
    return values


def read(f: Field[Any], k: Key, holder: Mapping[str, Any], name: str, path: str, ctx: Ctx) -> Any:
    """One declared leaf key, or its default (with a problem if the value was bad)."""
    default = default_of(f)
    if k.in_data_dir is not None:
        default = f"{ctx.data_dir}/{k.in_data_dir}"
    value = holder.get(name)
    if value is None or k.kind is None:
        return default
    where = _join(path, name)
    try:
        return k.kind.parse(value, where, ctx.problems, k.secret)
    except Invalid as exc:
        ctx.problems.append(f"{where}: {exc.message}")
        return default


def _leaf(cls: type, attr: str, data: Mapping[str, Any], path: str, ctx: Ctx) -> Any:
    """A ``custom`` key of ``cls``, read by its declaration like any other."""
    for f, k, yaml_path in declared(cls):
        if f.name == attr:
            holder = lookup(data, yaml_path[:-1]) if len(yaml_path) > 1 else data
            where = ".".join(p for p in (path, *yaml_path[:-1]) if p)
            found = holder if isinstance(holder, Mapping) else {}
            return read(f, k, found, yaml_path[-1], where, ctx)
    raise KeyError(attr)


def _credentials(
    name: str, spec_env: str, p: Mapping[str, Any], raw_key: object, ctx: Ctx
) -> tuple[str | None, str | None]:
    """(api_key, the variable it comes from). An absent key is recorded in ``missing_keys``."""
    path = f"providers.{name}"
    creds = section(p, "credentials", path, ctx)
    key_env: str | None = _leaf(ProviderConfig, "api_key_env", p, path, ctx)
    if "api_key" in creds:
        api_key = _leaf(ProviderConfig, "api_key", p, path, ctx)
        var = referenced_var(raw_key) or key_env
    else:
        var = key_env or spec_env
        api_key = ctx.env.get(var) or None
    if api_key is None:
        ctx.missing_keys[name] = var or spec_env
    return api_key, var


def _spec(name: str, p: Mapping[str, Any], ctx: Ctx) -> str | None:
    """The canonical spec of ``providers.<name>``, or None after recording why not."""
    path, catalog = f"providers.{name}", ctx.catalog
    known = list(catalog.names())
    spec = p.get("spec")
    legacy = [k for k in legacy_keys(ProviderConfig) if k in p]
    if spec is None:
        # The TypeScript GodeX let the provider's name stand for its spec.
        from_name = catalog.canonical(name)
        if from_name is not None and not legacy:
            return from_name
        guess = from_name or "<spec>"
        ctx.problems.append(
            f"{path}.spec: missing. Each provider now names its implementation: add "
            f"'spec: {guess}' under providers.{name} (one of: {', '.join(known)}), and write the "
            "key as credentials.api_key and the URL as endpoint.base_url"
        )
        return None
    canonical = catalog.canonical(spec) if isinstance(spec, str) else None
    if canonical is None:
        ctx.problems.append(
            f"{path}.spec: unknown spec {spec!r}{hint(str(spec), known)}; known: {', '.join(known)}"
        )
    return canonical


def _provider(name: str, p: object, ctx: Ctx, raw_key: object) -> ProviderConfig | None:
    path = f"providers.{name}"
    if not isinstance(p, dict):
        ctx.problems.append(f"{path}: expected a mapping with at least 'spec'")
        return None
    spec = _spec(name, p, ctx)
    if spec is None:
        return None
    api_key, key_env = _credentials(name, ctx.catalog.api_key_env(spec), p, raw_key, ctx)
    values = fill(ProviderConfig, p, path, ctx)
    caps = values["capabilities"]
    if caps and not ctx.catalog.accepts_capabilities(spec):
        ctx.warnings.append(f"{path}.capabilities: only used by spec openai_compatible; ignored")
        values["capabilities"] = {}
    elif caps:
        ctx.problems += [
            f"{path}.{problem}"
            for problem in ctx.catalog.check_capabilities(caps, values["base_url"])
        ]
    written = p.get("spec")
    return ProviderConfig(
        name=name,
        spec=spec,
        api_key=api_key,
        api_key_env=key_env,
        spec_as_written=written if isinstance(written, str) and written != spec else None,
        **values,
    )


def _alias_target(key: str, target: Any, providers: Mapping[str, Any], ctx: Ctx) -> bool:
    prov, _, model = target.partition("/") if isinstance(target, str) else ("", "", "")
    if not prov or not model:
        ctx.problems.append(f"{key}: {target!r} must be 'provider/model'")
        return False
    if prov not in providers:
        ctx.problems.append(
            f"{key}: {target!r} names unknown provider {prov!r}"
            f"{hint(prov, [str(p) for p in providers])}"
        )
        return False
    return True


def _aliases(
    raw: Mapping[str, Any], providers: Mapping[str, Any], ctx: Ctx
) -> dict[str, str | tuple[str, ...]]:
    """Each alias names one 'provider/model', or a list of them: a failover chain in order."""
    models = section(raw, "models", "", ctx)
    aliases = _leaf(ModelsConfig, "aliases", models, "models", ctx)
    out: dict[str, str | tuple[str, ...]] = {}
    for alias, target in aliases.items():
        key = f"models.aliases.{alias}"
        if isinstance(target, list):
            if not target:
                ctx.problems.append(f"{key}: a failover chain needs at least one target")
                continue
            checks = [_alias_target(f"{key}[{i}]", t, providers, ctx) for i, t in enumerate(target)]
            if all(checks):
                out[str(alias)] = tuple(str(t) for t in target)
        elif _alias_target(key, target, providers, ctx):
            out[str(alias)] = target
    return out


def _web_search(ws: WebSearchConfig, providers: Mapping[str, Any], ctx: Ctx) -> None:
    backend = ws.backend
    if ws.mode == "godex_managed" and not backend.configured:
        ctx.problems.append(
            "web_search.backend: mode godex_managed needs a search backend "
            "(web_search.backend.type or web_search.backend.provider)"
        )
    if backend.provider is not None and backend.provider not in providers:
        ctx.problems.append(
            f"web_search.backend.provider: {backend.provider!r} is not a configured provider"
            f"{hint(backend.provider, [str(p) for p in providers])}"
        )


def build(
    raw: Mapping[str, Any], raw_keys: Mapping[str, object], ctx: Ctx, source: str | None
) -> GodexConfig:
    """The typed config; problems and warnings accumulate in ``ctx``."""
    check_keys(raw, KEYS, "", ctx)
    ctx.warnings += ctx.unknown
    server = ServerConfig(**fill(ServerConfig, section(raw, "server", "", ctx), "server", ctx))
    ctx.data_dir = server.data_dir.rstrip("/") or "."
    raw_providers = section(raw, "providers", "", ctx)
    if not raw_providers:
        ctx.problems.append(
            "providers: no provider configured (add one, e.g. providers.deepseek.spec: deepseek)"
        )
    providers: dict[str, ProviderConfig] = {}
    for name, p in raw_providers.items():
        built = _provider(str(name), p, ctx, raw_keys.get(str(name)))
        if built is not None:
            providers[str(name)] = built
    default = _leaf(GodexConfig, "default_provider", raw, "", ctx)
    if default is None and len(raw_providers) == 1:
        default = str(next(iter(raw_providers)))
    if default is not None and default not in raw_providers:
        ctx.problems.append(
            f"default_provider: {default!r} is not a configured provider"
            f"{hint(default, [str(p) for p in raw_providers])}"
        )
    values = fill(GodexConfig, raw, "", ctx)
    values["models"] = replace(values["models"], aliases=_aliases(raw, raw_providers, ctx))
    _web_search(values["web_search"], raw_providers, ctx)
    return GodexConfig(
        server=server, default_provider=default, providers=providers, source=source, **values
    )
