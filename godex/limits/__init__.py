"""Rate limits, budgets and prices: counters in memory or Redis, checked by the server."""
