"""The admin dashboard at /ui: login, overview, requests, keys, live (issue 23)."""

from godex.server.ui.routes import dispatch

__all__ = ["dispatch"]
