"""The web UI: a few static files shipped inside the package (samplemind/server/ui/), served
at `/` and `/ui/{file}`.

Only the names in UI_FILES are ever read, from the package folder: a request path never
reaches the file system. The files are read once, kept in memory with a strong ETag
(content hash) and sent with `Cache-Control: no-cache`, so a browser revalidates (a cheap
304) and a new version of samplemind is picked up at once. The routes are public: the
files hold no library data, and the login page must load before anyone has logged in.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from ..errors import NotFound
from .http import accepts_gzip, etag_matches
from .routing import PUBLIC, Param, Route

UI_PACKAGE = "samplemind.server"  # the files are in its ui/ folder

# The whitelist: file name -> Content-Type. Nothing else under /ui/ exists.
UI_FILES: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "table.js": "text/javascript; charset=utf-8",
    "wave.js": "text/javascript; charset=utf-8",
    "map.js": "text/javascript; charset=utf-8",
    "audio.js": "text/javascript; charset=utf-8",
    "drag.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

# The page loads only its own files and talks only to its own server.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


@dataclass(frozen=True)
class Asset:
    """One UI file in memory: its bytes, gzipped copy and ETag."""

    body: bytes
    gzipped: bytes
    etag: str
    content_type: str


_assets: dict[str, Asset] = {}


def asset(name: str) -> Asset:
    """The file `name` of the whitelist, read from the package once."""
    if name not in UI_FILES:
        raise NotFound(f"no UI file {name!r}")
    found = _assets.get(name)
    if found is None:
        body = resources.files(UI_PACKAGE).joinpath("ui", name).read_bytes()
        found = Asset(body=body, gzipped=gzip.compress(body, 6, mtime=0),
                      etag='"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"',
                      content_type=UI_FILES[name])
        _assets[name] = found
    return found


def _send(request: web.Request, name: str) -> web.Response:
    item = asset(name)
    headers = {"ETag": item.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
    if name == "index.html":
        headers["Content-Security-Policy"] = CSP
        headers["X-Frame-Options"] = "DENY"
    if etag_matches(request, item.etag):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = item.content_type
    if accepts_gzip(request) and len(item.body) > 1024:
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=item.gzipped, headers=headers)
    return web.Response(body=item.body, headers=headers)


async def index(request: web.Request) -> web.StreamResponse:
    return _send(request, "index.html")


async def ui_file(request: web.Request) -> web.StreamResponse:
    return _send(request, request.match_info["file"])


FILE = Param("file", "path", {"type": "string", "enum": sorted(UI_FILES)},
             "A file of the web UI.", True)

ROUTES = [
    Route("GET", "/", "ui_index", index, PUBLIC, "The web UI (HTML page).",
          produces="text/html", responses={304: "Not modified (If-None-Match)."}),
    Route("GET", "/ui/{file}", "ui_file", ui_file, PUBLIC,
          "A script, style sheet or icon of the web UI.", (FILE,), produces="*/*",
          responses={304: "Not modified (If-None-Match).", 404: "Not a UI file."}),
]
