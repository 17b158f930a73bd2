"""Prices per million tokens and the cost of one request.

Built-in defaults (USD per 1M tokens, input cache miss / cache hit / output) from DeepSeek's
"Models & Pricing" page (api-docs.deepseek.com/quick_start/pricing, checked 2026-12); DeepSeek
bills peak and off-peak hours differently since 2026-08, and these are the listed base prices, so
treat them as estimates. Other providers have no default: configure ``prices`` for them (their
cost is 0 until then).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from godex.config.schema import Price

DEFAULT_PRICES: dict[str, Price] = {
    "deepseek/deepseek-v4-flash": Price(input=0.14, cached_input=0.0028, output=0.28),
    "deepseek/deepseek-v4-pro": Price(input=0.435, cached_input=0.003625, output=0.87),
    # Older names DeepSeek still accepts; uncertain: they follow the model they alias.
    "deepseek/deepseek-chat": Price(input=0.14, cached_input=0.0028, output=0.28),
    "deepseek/deepseek-reasoner": Price(input=0.14, cached_input=0.0028, output=0.28),
}


_MAX_REMEMBERED = 4096


class PriceBook:
    def __init__(self, configured: dict[str, Price]) -> None:
        self.prices = {**DEFAULT_PRICES, **configured}
        # (provider, model) -> its price: every request asks, and the glob scan is ~10 µs.
        self._found: dict[tuple[str, str], Price | None] = {}

    def price(self, provider: str, model: str) -> Price | None:
        """By "provider/upstream_model", then by the upstream model alone; globs allowed."""
        key = (provider, model)
        try:
            return self._found[key]
        except KeyError:
            pass
        found = self._lookup(provider, model)
        if len(self._found) >= _MAX_REMEMBERED:  # models can come from clients: stay bounded
            self._found.clear()
        self._found[key] = found
        return found

    def _lookup(self, provider: str, model: str) -> Price | None:
        for name in (f"{provider}/{model}", model):
            exact = self.prices.get(name)
            if exact is not None:
                return exact
        for pattern, p in self.prices.items():
            if fnmatchcase(f"{provider}/{model}", pattern) or fnmatchcase(model, pattern):
                return p
        return None

    def cost(self, provider: str, model: str, usage: dict[str, Any]) -> float:
        p = self.price(provider, model)
        if p is None or not usage:
            return 0.0
        inp = int(usage.get("input_tokens") or 0)
        cached = int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0)
        out = int(usage.get("output_tokens") or 0)
        fresh = max(inp - cached, 0)
        return (fresh * p.input + cached * p.cached_input + out * p.output) / 1_000_000
