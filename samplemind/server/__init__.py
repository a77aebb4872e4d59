"""`samplemind serve`: the HTTP and WebSocket API over one Library (see app.make_app)."""

from __future__ import annotations

from .app import ROUTE_ROLES, ROUTES, make_app
from .context import ServerConfig

__all__ = ["ROUTES", "ROUTE_ROLES", "ServerConfig", "make_app"]
