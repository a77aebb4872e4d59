"""Request guards: the Host header (DNS rebinding) and the Origin (cross-site requests
and WebSockets)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from .context import ServerConfig
from .errors import Forbidden

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def host_name(header: str) -> str:
    """The name part of a Host header, lower case: "[::1]:8000" -> "[::1]"."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[:end + 1] if end > 0 else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_check(config: ServerConfig) -> Callable[[web.Request], None]:
    """The Host check of one server, made once (it runs on every request): it refuses a Host
    header not naming this server, as a DNS-rebinding page would send its own domain name.
    Clients send the same few headers, so their verdicts are kept."""
    if "*" in config.allow_hosts:
        return lambda request: None
    allowed = config.allowed_hosts()
    verdicts: dict[str | None, bool] = {}  # Host header -> ok

    def check_host(request: web.Request) -> None:
        header = request.headers.get(hdrs.HOST)
        ok = verdicts.get(header)
        if ok is None:
            if not header:
                raise Forbidden("the request has no Host header")
            if len(verdicts) > 1024:  # a scanner sending random names cannot grow it
                verdicts.clear()
            ok = verdicts[header] = host_name(header) in allowed
        if not ok:
            raise Forbidden(f"the Host {header!r} is not this server's: add it with --allow-host")

    return check_host


def normalise_origin(origin: str) -> str:
    """scheme://host[:port], lower case, no trailing slash ("" for text that is no URL, such
    as "http://[": it then matches nothing)."""
    try:
        parts = urlsplit(origin.strip().lower())
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def check_origin(request: web.Request, config: ServerConfig, always: bool = False) -> None:
    """A browser's Origin must be this server's own or one given with --allow-origin.

    Checked on WebSocket handshakes (``always``; aiohttp does not) and on requests that
    change things. A request without Origin is not from a page script and passes.
    """
    if not always and request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if origin.strip().lower() != "null":
        wanted = normalise_origin(origin)
        own = request.headers.get("Host", "").strip().lower()
        if urlsplit(wanted).netloc == own and own:
            return
        if wanted in {normalise_origin(o) for o in config.allow_origins}:
            return
    raise Forbidden(f"the Origin {origin!r} may not use this server: add it with --allow-origin")


# Sec-Fetch-Site values a costly GET is served for: the server's own page, or the user
# typing or pasting the URL (none). Another port of localhost is "same-site", not ours.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def refuse_cross_site(request: web.Request, config: ServerConfig) -> None:
    """For GETs that cost the server a lot (a zip of the library): serve them only to the
    server's own pages, the user opening the URL, or a client that is not a browser.

    A browser sends Sec-Fetch-Site with every request; only ``same-origin`` and ``none``
    (the user opened the URL) pass: ``same-site`` is a page on any other port of
    localhost or 127.0.0.1, and an ``<img>`` there must not make the server build a zip.
    Other values pass only when the Origin, or failing that the Referer, is an
    --allow-origin one (a page cannot forge either). No header at all (curl, scripts)
    passes; a foreign Origin is refused in any case."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in OWN_FETCH_SITES:
        allowed = {normalise_origin(o) for o in config.allow_origins}
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if origin is None or normalise_origin(origin) not in allowed:
            raise Forbidden(f"only this server's own pages may start a download here "
                            f"(Sec-Fetch-Site: {site.strip()[:40]!r}): open the link from this "
                            "server's pages, or add the page's origin with --allow-origin")
    check_origin(request, config, always=True)
