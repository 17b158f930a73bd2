"""GodeX: a Responses API gateway in front of Chat Completions providers."""

__version__ = "0.1.0"
