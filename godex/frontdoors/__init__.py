"""Front doors: client protocols other than Responses, each parsed into the canonical turn.

A door turns its request into a ``ResponsesRequest`` for ``gateway.core.Gateway.open`` and encodes
the Responses events (or the final Response) it gets back into its own protocol. Routing,
history, planning, provider quirks, limits, traces and usage all stay in the gateway core.
"""
