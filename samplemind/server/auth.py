"""Who may do what on the server: authentication, roles, CSRF and login rate limiting.

`install_security(app, store, route_roles=..., open_access=...)` adds one middleware and the three
routes of `ROUTES` (`POST /api/v1/login`, `POST /api/v1/logout`, `GET /api/v1/me`), declared like
every other route so the OpenAPI document lists them. Call it after the
middlewares that must run first (Host check, error rendering) and before the app starts. On the
server's own app (`make_app`), whose last middleware is then its front one, the checks run inside
that middleware instead (`routing.Admission`): the same order, a coroutine less per request.

Each request is handled so:

1. Its required role comes from the matched route's name in `route_roles` ("viewer", "editor",
   "admin" or "public"); an unnamed or unlisted route needs viewer for GET/HEAD/OPTIONS and editor
   for anything else. `/health/*` is public; `/metrics` needs viewer unless access is open.
2. With open access everyone is the admin "local"; a browser request from another site (an Origin
   that is not this Host) may still not write. Open access is decided per request (`OpenAccess`):
   on a loopback bind it lasts while no account or token exists, so one added by `samplemind user
   add` or `token add` in another process closes it at once (and removing the last one reopens
   it); a non-loopback bind never opens by itself; --insecure is always open. A WebSocket opened
   with open access is closed within a second or so once access closes.
3. Otherwise `Authorization: Bearer <token>` or the `samplemind_session` cookie says who it is:
   none gives 401, too low a role 403.
4. A cookie-authenticated POST/PUT/PATCH/DELETE needs `X-CSRF-Token` (the session's token, from
   the login answer or GET /api/v1/me) and an Origin (or Referer) naming this Host; a
   cookie-authenticated WebSocket handshake needs that Origin. Bearer requests are exempt: a
   browser never adds that header by itself.

`request[USER_KEY]` is then {"name", "role", "via": "token"|"session"|"local"}, or None on a public
route reached anonymously.

Login attempts are limited in memory, per process: after 5 failures within a minute for one client
IP or one user name, that IP or name gets 429 with Retry-After, for 1 minute, then 2, 4, ... up to
an hour while failures go on. Behind a reverse proxy every client has the proxy's IP.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web
from yarl import URL

from ..accounts import ROLES, SESSION_LIFETIME, AccountStore, role_allows
from ..errors import UsageError
from .body_schema import BodyError, check_body
from .http import error_body, json_response
from .json_input import parse_json
from .routing import ADMISSION, VIEWER, Route, Verdict, add_routes

ROLE_ORDER = ROLES  # ("viewer", "editor", "admin")
PUBLIC = "public"  # a route_roles value: no authentication needed
COOKIE_NAME = "samplemind_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

LOGIN_ROUTE = "auth_login"
LOGOUT_ROUTE = "auth_logout"
ME_ROUTE = "auth_me"
MAX_LOGIN_BODY = 8192  # bytes of JSON a login may send

STORE_KEY = web.AppKey("samplemind_account_store", AccountStore)
OPEN_ACCESS_KEY = web.AppKey("samplemind_open_access", object)  # bool or OpenAccess
OPEN_SOCKET_POLL = 1.0  # seconds between checks that an open-access WebSocket may stay open
TRUSTED_KEY = web.AppKey("samplemind_trusted_origins", frozenset)  # besides the request's Host
VERIFY_SLOTS_KEY = web.AppKey("samplemind_verify_slots", asyncio.Semaphore)
USER_KEY = web.RequestKey("user", object)  # request[USER_KEY]: {"name", "role", "via"} or None

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- bind policy -------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    name = (host or "").strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def access_mode(host: str, store: AccountStore, *, insecure: bool = False) -> tuple[bool, str | None]:
    """(open_access, warning) for serving on `host`; raises UsageError if it must not start.

    Loopback with no accounts or tokens: open. A non-loopback bind needs accounts or a token,
    unless --insecure, which opens everything to anyone who can reach the port (with a warning).
    """
    from ..errors import UsageError

    configured = store.configured()
    if insecure:
        return True, (f"--insecure: anyone who can reach {host} gets full admin access, "
                      "accounts and tokens are ignored")
    if is_loopback(host):
        return (not configured), None
    if not configured:
        raise UsageError(f"refusing to serve on {host} without accounts: add one with "
                         "`samplemind user add NAME --role admin` (or a token with `samplemind "
                         "token add NAME`), bind to 127.0.0.1, or pass --insecure")
    return False, None


class OpenAccess:
    """Open access decided per request: on a loopback bind, open while no account or token exists.

    `store.configured()` answers from a cached value until the accounts database changes, so
    asking on every request costs one SQLite pragma.
    """

    def __init__(self, store: AccountStore) -> None:
        self.store = store

    def __call__(self) -> bool:
        return not self.store.configured()


def access_policy(host: str, store: AccountStore, *,
                  insecure: bool = False) -> tuple[bool | OpenAccess, str | None]:
    """(open_access for install_security, warning) for serving on `host`; raises UsageError if it
    must not start (see access_mode). Loopback gets a live OpenAccess, so that accounts added or
    removed while the server runs take effect at once; a non-loopback bind stays closed even if
    every account is removed later."""
    _, warning = access_mode(host, store, insecure=insecure)
    if insecure:
        return True, warning
    return (OpenAccess(store) if is_loopback(host) else False), warning


def is_open(open_access: bool | Callable[[], bool]) -> bool:
    """Whether a request arriving now gets open access."""
    return open_access() if callable(open_access) else bool(open_access)


# -- login rate limiting -----------------------------------------------------------------------


@dataclass
class _Entry:
    failures: list[float] = field(default_factory=list)  # times of recent failures
    pending: int = 0  # attempts being checked right now
    locked_until: float = 0.0
    strikes: int = 0  # lockouts in a row; each doubles the next
    last_failure: float = 0.0


class LoginLimiter:
    """Failed logins per key ("ip:…", "user:…"): `limit` failures within `window` seconds lock the
    key for `window` * 2**strikes seconds (at most `max_lock`); a key with no failure for
    `max_lock` seconds starts over. Attempts still being checked count too, so parallel guesses
    cannot overrun the limit. In memory: per process, forgotten on restart; at most `max_keys`
    keys are remembered (the least recently used are dropped)."""

    def __init__(self, *, limit: int = 5, window: float = 60.0, max_lock: float = 3600.0,
                 max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.max_lock = limit, window, max_lock
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def _entry(self, key: str, now: float) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        self._expire(entry, now)
        return entry

    def _expire(self, entry: _Entry, now: float) -> None:
        entry.failures = [t for t in entry.failures if now - t < self.window]
        if entry.strikes and now >= entry.locked_until and now - entry.last_failure > self.max_lock:
            entry.strikes = 0

    def retry_after(self, keys: list[str]) -> float:
        """Seconds until every key may try again (0 when all may try now)."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                continue
            self._expire(entry, now)
            if entry.locked_until > now:
                wait = max(wait, entry.locked_until - now)
            elif len(entry.failures) + entry.pending >= self.limit:
                wait = max(wait, 1.0)  # the rest of the allowance is being checked right now
        return wait

    def start(self, keys: list[str]) -> None:
        """An attempt for these keys is being checked."""
        now = self._clock()
        for key in keys:
            self._entry(key, now).pending += 1

    def finish(self, keys: list[str], ok: bool) -> None:
        """The attempt started for these keys was right (`ok`) or wrong.

        A right password clears its user name's record (not the IP's: one account of one's own
        must not buy more guesses at others)."""
        now = self._clock()
        for key in keys:
            entry = self._entry(key, now)
            entry.pending = max(0, entry.pending - 1)
            if ok:
                if key.startswith("user:"):
                    entry.failures.clear()
                    entry.strikes = 0
            else:
                entry.failures.append(now)
                entry.last_failure = now
                if len(entry.failures) >= self.limit:
                    entry.locked_until = now + min(self.window * 2**entry.strikes, self.max_lock)
                    entry.strikes += 1
                    entry.failures.clear()
            if (not entry.failures and not entry.pending and not entry.strikes
                    and entry.locked_until <= now):
                del self._entries[key]


LIMITER_KEY = web.AppKey("samplemind_login_limiter", LoginLimiter)


# -- helpers -----------------------------------------------------------------------------------


def _origin_of(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme.lower(), (url.host or "").lower(), url.port)


def _same_origin(request: web.Request, origin: str, trusted: frozenset) -> bool:
    """Whether an Origin (or Referer) URL names the host this request was sent to, or one of
    the trusted origins (the server's --allow-origin)."""
    try:
        url = URL(origin)
        host_url = URL(f"{url.scheme or request.scheme}://{request.host}")
    except (ValueError, TypeError):
        return False
    if not url.is_absolute() or url.scheme not in ("http", "https") or not url.host:
        return False
    if _origin_of(url) in trusted:
        return True
    return url.host.lower() == (host_url.host or "").lower() and url.port == host_url.port


def _origin_ok(request: web.Request, trusted: frozenset, *, required: bool) -> bool:
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        origin = request.headers.get(hdrs.REFERER)
    if origin is None:
        return not required
    return _same_origin(request, origin, trusted)


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get(hdrs.AUTHORIZATION)
    if value is None:
        return None
    scheme, _, secret = value.strip().partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def _set_cookie(request: web.Request, response: web.StreamResponse, session_id: str) -> None:
    response.set_cookie(COOKIE_NAME, session_id, max_age=int(SESSION_LIFETIME), path="/",
                        httponly=True, samesite="Strict", secure=request.secure)


def _clear_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Strict",
                        secure=request.secure)


def _required_role(request: web.Request, route_roles: Mapping[str, str], open_access: bool) -> str:
    path = request.path
    if path.startswith("/health/"):
        return PUBLIC
    route = request.match_info.route
    name = getattr(route, "name", None)
    role = route_roles.get(name) if name else None
    if role is None:
        role = "viewer" if request.method in SAFE_METHODS else "editor"
    if path == "/metrics" and role == PUBLIC and not open_access:
        role = "viewer"
    return role


def _csrf_ok(request: web.Request, session: dict[str, Any]) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    return bool(sent) and hmac.compare_digest(sent.encode(), session["csrf_token"].encode())


def _is_websocket(request: web.Request) -> bool:
    upgrade = request.headers.get(hdrs.UPGRADE)  # on every GET: nothing to lower when absent
    return upgrade is not None and upgrade.lower() == "websocket"


async def _while_open(request: web.Request, handler: Handler,
                      open_access: Callable[[], bool]) -> web.StreamResponse:
    """Run a WebSocket opened with open access, dropping its connection once access closes
    (an account was added): a socket must not keep listening anonymously after that."""

    async def watch() -> None:
        while open_access():
            await asyncio.sleep(OPEN_SOCKET_POLL)
        if request.transport is not None:
            request.transport.close()  # the handler sees the socket close and returns

    watcher = asyncio.ensure_future(watch())
    try:
        return await handler(request)
    finally:
        watcher.cancel()


async def _set_cookie_after(request: web.Request, handler: Handler,
                            session: dict[str, Any] | None, stale_cookie: bool) -> web.StreamResponse:
    """Run handler, then renew the session cookie (a refreshed session) or clear it (a
    stale one), unless the answer has been sent already (a stream, a WebSocket)."""
    response = await handler(request)
    if session is not None and session["refreshed"] and not response.prepared:
        _set_cookie(request, response, request.cookies[COOKIE_NAME])
    elif stale_cookie and not response.prepared:
        _clear_cookie(request, response)
    return response


# -- the middleware and routes ------------------------------------------------------------------


def install_security(app: web.Application, store: AccountStore, *, route_roles: Mapping[str, str],
                     open_access: bool | Callable[[], bool], limiter: LoginLimiter | None = None,
                     trusted_origins: Iterable[str] = ()) -> None:
    """Add the auth middleware and the login, logout and me routes to an app.

    open_access: True (everyone is the local admin), False, or a callable asked on every request
    (an OpenAccess from access_policy).

    limiter: the login rate limiter (a fresh LoginLimiter by default).
    trusted_origins: origins besides the request's own Host that may send cookie-authenticated
    writes and WebSocket handshakes (the server's --allow-origin), e.g. "https://ui.example".
    """
    trusted = frozenset(_origin_of(URL(origin.strip())) for origin in trusted_origins)
    for name, role in route_roles.items():
        if role != PUBLIC and role not in ROLE_ORDER:
            raise ValueError(f"route {name!r}: unknown role {role!r}")
    route_roles = dict(route_roles)
    route_roles.update(ROUTE_ROLES)
    limiter = limiter or LoginLimiter()
    app[STORE_KEY] = store
    app[LIMITER_KEY] = limiter
    app[OPEN_ACCESS_KEY] = open_access
    app[TRUSTED_KEY] = trusted
    app[VERIFY_SLOTS_KEY] = asyncio.Semaphore(2)  # scrypt takes 32 MiB and a core: two at a time

    def admit(request: web.Request, handler: Handler) -> Verdict:
        """The checks of one request: None lets it through to handler, an answer refuses it,
        an awaitable calls handler itself (to watch a WebSocket or to set the cookie)."""
        unsafe = request.method in UNSAFE_METHODS
        if is_open(open_access):
            # No cookies here, so a page on another site could write through the user's browser:
            # browsers always send Origin on such requests; scripts and curl send none.
            websocket = _is_websocket(request)
            if (unsafe or websocket) and not _origin_ok(request, trusted, required=False):
                return error_body("cross-site request refused (Origin does not match Host)", 403)
            request[USER_KEY] = {"name": "local", "role": "admin", "via": "local"}
            if websocket and callable(open_access):
                return _while_open(request, handler, open_access)
            return None

        required = _required_role(request, route_roles, False)
        if getattr(request.match_info.route, "name", None) == LOGIN_ROUTE:
            request[USER_KEY] = None  # login checks its own Origin; a stale cookie must not block it
            return None
        user: dict[str, Any] | None = None
        session: dict[str, Any] | None = None
        stale_cookie = False
        bearer = _bearer(request)
        if bearer is not None:
            token = store.verify_token(bearer) if bearer else None
            if token is None and required == PUBLIC:
                pass
            elif token is None:
                return error_body("invalid API token", 401,
                                  {hdrs.WWW_AUTHENTICATE: 'Bearer realm="samplemind", error="invalid_token"'})
            else:
                user = {"name": token["name"], "role": token["role"], "via": "token"}
        else:
            cookie = request.cookies.get(COOKIE_NAME)
            if cookie:
                session = store.session(cookie)
                if session is None:
                    stale_cookie = True
                else:
                    user = {"name": session["user"], "role": session["role"], "via": "session"}

        if user is None and required != PUBLIC:
            hint = "" if store.configured() else (
                " (no account or token exists yet: add one with `samplemind user add NAME --role "
                "admin` or `samplemind token add NAME`)")
            response = error_body("log in first (POST /api/v1/login), or send "
                                  "Authorization: Bearer TOKEN" + hint, 401,
                                  {hdrs.WWW_AUTHENTICATE: 'Bearer realm="samplemind"'})
            if stale_cookie:
                _clear_cookie(request, response)
            return response
        if user is not None and required != PUBLIC and not role_allows(user["role"], required):
            return error_body(f"this needs the {required} role; {user['name']} is {user['role']}", 403)
        if session is not None:
            if (unsafe or _is_websocket(request)) and not _origin_ok(request, trusted, required=True):
                return error_body("cross-site request refused (Origin or Referer must match Host)", 403)
            if unsafe and not _csrf_ok(request, session):
                return error_body(f"missing or wrong {CSRF_HEADER} header (GET /api/v1/me gives "
                                  "the token)", 403)
        request[USER_KEY] = user
        if (session is not None and session["refreshed"]) or stale_cookie:
            return _set_cookie_after(request, handler, session, stale_cookie)
        return None

    admission = app.get(ADMISSION)
    if (admission is not None and admission.check is None and app.middlewares
            and app.middlewares[-1] is admission.front):
        admission.check = admit  # the server's front middleware runs it (routing.Admission)
    else:
        @web.middleware
        async def security(request: web.Request, handler: Handler) -> web.StreamResponse:
            verdict = admit(request, handler)
            if verdict is None:
                return await handler(request)
            if isinstance(verdict, web.StreamResponse):
                return verdict
            return await verdict

        app.middlewares.append(security)
    add_routes(app, ROUTES)


# -- the routes: declared like every other route, so the OpenAPI document lists them -----------

async def login(request: web.Request) -> web.Response:
    """POST {name, password}: sets the session cookie; answers {user, role, csrf_token}."""
    store, limiter = request.app[STORE_KEY], request.app[LIMITER_KEY]
    if not _origin_ok(request, request.app[TRUSTED_KEY], required=False):
        return error_body("cross-site login refused (Origin does not match Host)", 403)
    if request.content_length is not None and request.content_length > MAX_LOGIN_BODY:
        return error_body("login body too large", 413)
    # Read at most the limit whatever the headers say (a chunked body has no length), and
    # parse with the one bounded parser (a deeply nested body was a RecursionError, 500).
    raw = await request.content.read(MAX_LOGIN_BODY + 1)
    if len(raw) > MAX_LOGIN_BODY:
        return error_body("login body too large", 413)
    try:
        body = parse_json(raw)
    except UsageError:
        return error_body('send JSON: {"name": ..., "password": ...}', 400)
    try:
        check_body(_LOGIN.body_check, body)  # the route's schema (own_body: read here)
    except BodyError as error:
        return error_body(str(error), 400)
    name, password = body["name"], body["password"]
    ip_key = f"ip:{request.remote or '?'}"
    user_key = f"user:{name.strip().lower()[:128]}"
    wait = limiter.retry_after([ip_key, user_key])
    if wait > 0:
        return error_body(f"too many failed logins; try again in {math.ceil(wait)} s", 429,
                          {hdrs.RETRY_AFTER: str(math.ceil(wait))})
    keys = [ip_key, user_key]
    limiter.start(keys)  # in flight attempts count: parallel guesses cannot overrun the limit
    account = None
    try:
        async with request.app[VERIFY_SLOTS_KEY]:
            account = await asyncio.get_running_loop().run_in_executor(
                None, store.verify_password, name, password)
    finally:
        limiter.finish(keys, ok=account is not None)
    if account is None:
        return error_body("wrong name or password", 401)
    old = request.cookies.get(COOKIE_NAME)
    if old:  # never keep a session id that existed before the login
        store.end_session(old)
    session_id, csrf = store.create_session(account["name"])
    response = json_response({"ok": True, "user": account["name"],
                              "role": account["role"], "csrf_token": csrf})
    _set_cookie(request, response, session_id)
    return response

async def logout(request: web.Request) -> web.Response:
    """POST: ends the session of the cookie and clears the cookie."""
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        request.app[STORE_KEY].end_session(cookie)
    response = json_response({"ok": True})
    _clear_cookie(request, response)
    return response

async def me(request: web.Request) -> web.Response:
    """GET: who this request is, with the CSRF token when it came with the session cookie."""
    user = request[USER_KEY]
    answer: dict[str, Any] = {"ok": True, "user": user["name"], "role": user["role"],
                              "via": user["via"], "open_access": user["via"] == "local"}
    if user["via"] == "session":
        answer["csrf_token"] = AccountStore.csrf_token(request.cookies[COOKIE_NAME])
    return json_response(answer)


_CREDENTIALS = {"type": "object", "required": ["name", "password"],
                "properties": {"name": {"type": "string", "minLength": 1},
                               "password": {"type": "string"}}}
# own_body: the origin and the size limit come before the body is read and checked.
_LOGIN = Route("POST", "/api/v1/login", LOGIN_ROUTE, login, PUBLIC,
               "Log in with a name and password: sets the session cookie and answers "
               "{user, role, csrf_token}.", body=_CREDENTIALS, own_body=True,
               responses={401: "Wrong name or password.", 403: "Cross-site login refused.",
                          413: "Body over 8 KiB.", 429: "Too many failed logins (Retry-After)."})
ROUTES = [
    _LOGIN,
    Route("POST", "/api/v1/logout", LOGOUT_ROUTE, logout, PUBLIC,
          "End the session of the cookie and clear the cookie."),
    Route("GET", "/api/v1/me", ME_ROUTE, me, VIEWER,
          "Who this request is (any signed-in role): {user, role, via, open_access}, and the "
          "CSRF token when it came with the session cookie."),
]
ROUTE_ROLES = {route.name: route.role for route in ROUTES}
