"""`samplemind serve`: the HTTP and WebSocket API over one Library (see app.make_app)."""

from __future__ import annotations

from .app import ROUTE_ROLES, ROUTES, RUNNER_OPTIONS, make_app
from .context import ServerConfig

__all__ = ["ROUTES", "ROUTE_ROLES", "RUNNER_OPTIONS", "ServerConfig", "make_app"]
