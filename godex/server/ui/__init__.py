"""The admin dashboard at /ui: login, overview, requests, keys, live (issue 23).

Nothing is imported here: the app loads ``routes`` (and the trace readers behind it) on the
first /ui request, so a gateway that never serves the dashboard never pays for its modules.
"""
