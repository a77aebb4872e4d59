"""The server's security layer on a small aiohttp app: roles, tokens, cookies, CSRF, rate limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import WSServerHandshakeError, web
from body_cases import invalid_bodies

from samplemind.accounts import SESSION_REFRESH, AccountStore
from samplemind.errors import UsageError
from samplemind.server.auth import (
    COOKIE_NAME,
    CSRF_HEADER,
    LOGIN_ROUTE,
    ROLE_ORDER,
    USER_KEY,
    LoginLimiter,
    OpenAccess,
    access_mode,
    access_policy,
    install_security,
    is_loopback,
)
from samplemind.server.auth import (
    ROUTES as AUTH_ROUTES,
)

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

PASSWORDS = {role: f"{role} password 123" for role in ROLE_ORDER}
ROUTE_ROLES = {"samples_list": "viewer", "scans_start": "editor", "sample_delete_file": "admin",
               "ui_index": "public", "metrics": "public"}
# (method, path): the role each needs
ROUTES = {("GET", "/api/v1/samples"): "viewer", ("POST", "/api/v1/scans"): "editor",
          ("DELETE", "/api/v1/samples/7/file"): "admin"}
STATUS = {  # who gets what on a route that needs each role
    "viewer": {None: 401, "viewer": 200, "editor": 200, "admin": 200},
    "editor": {None: 401, "viewer": 403, "editor": 200, "admin": 200},
    "admin": {None: 401, "viewer": 403, "editor": 403, "admin": 200},
}


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A data folder with a user and a token of each role (hashing is slow: made once)."""
    folder = tmp_path_factory.mktemp("accounts")
    with AccountStore(folder) as store:
        for role in ROLE_ORDER:
            store.add_user(role, PASSWORDS[role], role)
        tokens = {role: store.add_token(f"{role}-token", role) for role in ROLE_ORDER}
    return folder, tokens


@pytest.fixture
def store(seeded):
    with AccountStore(seeded[0]) as opened:
        yield opened


@pytest.fixture
def tokens(seeded) -> dict[str, str]:
    return seeded[1]


async def _whoami(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "user": request[USER_KEY]})


async def _socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_json({"user": request[USER_KEY]})
    await ws.close()
    return ws


def make_app(store: AccountStore, *, open_access: bool | OpenAccess = False,
             limiter: LoginLimiter | None = None, https: bool = False,
             trusted_origins: tuple[str, ...] = ()) -> web.Application:
    """Routes named like the real server's, each answering with request[USER_KEY]."""
    middlewares = []
    if https:  # as a TLS-terminating front (or aiohttp-remotes) would mark the request
        @web.middleware
        async def as_https(request, handler):
            return await handler(request.clone(scheme="https"))
        middlewares.append(as_https)
    app = web.Application(middlewares=middlewares)
    app.router.add_get("/api/v1/samples", _whoami, name="samples_list")
    app.router.add_post("/api/v1/scans", _whoami, name="scans_start")
    app.router.add_delete("/api/v1/samples/{id}/file", _whoami, name="sample_delete_file")
    app.router.add_post("/api/v1/tags", _whoami)  # unnamed: a write needs editor
    app.router.add_get("/health/live", _whoami, name="health_live")
    app.router.add_get("/metrics", _whoami, name="metrics")
    app.router.add_get("/", _whoami, name="ui_index")
    app.router.add_get("/api/v1/ws", _socket, name="ws")
    install_security(app, store, route_roles=ROUTE_ROLES, open_access=open_access,
                     limiter=limiter, trusted_origins=trusted_origins)
    return app


def origin(client) -> str:
    url = client.make_url("/")
    return f"{url.scheme}://{url.host}:{url.port}"


async def login(client, name: str, password: str | None = None) -> tuple[str, str]:
    """Log in; returns (session id, csrf token) and leaves the client's cookie jar empty."""
    response = await client.post("/api/v1/login", json={"name": name,
                                                        "password": password or PASSWORDS[name]})
    assert response.status == 200, await response.text()
    body = await response.json()
    session_id = response.cookies[COOKIE_NAME].value
    client.session.cookie_jar.clear()
    return session_id, body["csrf_token"]


def session_headers(client, session_id: str, csrf: str | None = None, **extra: str) -> dict:
    headers = {"Cookie": f"{COOKIE_NAME}={session_id}", "Origin": origin(client)}
    if csrf is not None:
        headers[CSRF_HEADER] = csrf
    headers.update(extra)
    return {key: value for key, value in headers.items() if value is not None}


# -- the role matrix --------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["token", "session"])
@pytest.mark.asyncio
async def test_role_matrix(aiohttp_client, store, tokens, via: str) -> None:
    client = await aiohttp_client(make_app(store))
    identities: dict[str | None, dict[str, str]] = {None: {}}
    for role in ROLE_ORDER:
        if via == "token":
            identities[role] = {"Authorization": f"Bearer {tokens[role]}"}
        else:
            session_id, csrf = await login(client, role)
            identities[role] = session_headers(client, session_id, csrf)
    seen = {}
    for (method, path), needs in ROUTES.items():
        for who, headers in identities.items():
            response = await client.request(method, path, headers=headers)
            body = await response.json()
            seen[(method, path, who)] = response.status
            assert response.status == STATUS[needs][who], (method, path, who, body)
            if response.status == 200:
                assert body["user"]["role"] == who and body["user"]["via"] == via
                expected = f"{who}-token" if via == "token" else who
                assert body["user"]["name"] == expected
            else:
                assert body == {"ok": False, "error": body["error"], "status": response.status}
                assert body["error"]
    assert len(seen) == 12


@pytest.mark.asyncio
async def test_unlisted_routes_default_by_method(aiohttp_client, store, tokens) -> None:
    client = await aiohttp_client(make_app(store))
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    assert (await client.post("/api/v1/tags", headers=viewer)).status == 403
    assert (await client.post("/api/v1/tags", headers=editor)).status == 200
    assert (await client.get("/api/v1/nothing-here")).status == 401  # no probing anonymously
    assert (await client.get("/api/v1/nothing-here", headers=viewer)).status == 404


@pytest.mark.asyncio
async def test_public_health_and_protected_metrics(aiohttp_client, store, tokens) -> None:
    client = await aiohttp_client(make_app(store))
    health = await client.get("/health/live")
    assert health.status == 200 and (await health.json())["user"] is None
    index = await client.get("/")
    assert index.status == 200  # the UI page itself, so that it can show the login form
    assert (await client.get("/metrics")).status == 401  # even though route_roles says public
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert (await client.get("/metrics", headers=viewer)).status == 200
    bad = {"Authorization": "Bearer smt_not-a-token"}
    assert (await client.get("/health/live", headers=bad)).status == 200


@pytest.mark.asyncio
async def test_bad_tokens(aiohttp_client, store, tokens) -> None:
    client = await aiohttp_client(make_app(store))
    for header in ("Bearer smt_wrong", "Bearer ", "Basic dXNlcjpwYXNz", tokens["admin"]):
        response = await client.get("/api/v1/samples", headers={"Authorization": header})
        assert response.status == 401, header
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # a bad token is not rescued by a good cookie
    session_id, _ = await login(client, "admin")
    response = await client.get("/api/v1/samples", headers={
        "Authorization": "Bearer smt_wrong", **session_headers(client, session_id)})
    assert response.status == 401


@pytest.mark.asyncio
async def test_unknown_route_role_is_refused(store) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        install_security(web.Application(), store, route_roles={"x": "owner"}, open_access=False)


# -- login, cookies, sessions ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_login_sets_a_strict_httponly_cookie(aiohttp_client, store) -> None:
    client = await aiohttp_client(make_app(store))
    response = await client.post("/api/v1/login", json={"name": "editor",
                                                        "password": PASSWORDS["editor"]})
    assert response.status == 200
    body = await response.json()
    assert body["user"] == "editor" and body["role"] == "editor" and body["csrf_token"]
    header = response.headers["Set-Cookie"]
    attributes = [part.strip().lower() for part in header.split(";")]
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert "secure" not in attributes  # plain http on loopback: a Secure cookie would be dropped
    assert f"max-age={14 * 24 * 3600}" in attributes
    session_id = response.cookies[COOKIE_NAME].value
    assert store.session(session_id)["user"] == "editor"

    me = await client.get("/api/v1/me")  # the jar sends the cookie
    assert await me.json() == {"ok": True, "user": "editor", "role": "editor", "via": "session",
                               "open_access": False, "csrf_token": body["csrf_token"]}


@pytest.mark.asyncio
async def test_cookie_is_secure_over_https(aiohttp_client, store) -> None:
    client = await aiohttp_client(make_app(store, https=True))
    response = await client.post("/api/v1/login", json={"name": "viewer",
                                                        "password": PASSWORDS["viewer"]})
    assert response.status == 200
    attributes = [part.strip().lower() for part in response.headers["Set-Cookie"].split(";")]
    assert "secure" in attributes and "httponly" in attributes and "samesite=strict" in attributes


@pytest.mark.asyncio
async def test_wrong_login(aiohttp_client, store) -> None:
    client = await aiohttp_client(make_app(store))
    for body in ({"name": "editor", "password": "wrong password"},
                 {"name": "nobody", "password": "wrong password"}):
        response = await client.post("/api/v1/login", json=body)
        assert response.status == 401
        assert (await response.json())["error"] == "wrong name or password"  # the same for both
        assert COOKIE_NAME not in response.cookies
    assert (await client.post("/api/v1/login", data="name=x")).status == 400
    assert (await client.post("/api/v1/login", json=["editor"])).status == 400
    assert (await client.post("/api/v1/login", json={"name": "editor", "password": 5})).status == 400
    evil = await client.post("/api/v1/login", json={"name": "editor", "password": PASSWORDS["editor"]},
                             headers={"Origin": "http://evil.example"})
    assert evil.status == 403  # login CSRF: another site may not log the browser in
    # A hostile body is a 400 or 413, never a 500: deep nesting (sent chunked, so no length
    # header stops it early), lone surrogates, and more than the login limit.
    async def chunks(data: bytes, size: int = 4096):
        for start in range(0, len(data), size):
            yield data[start:start + size]

    for raw, status in ((b"[" * 5000, 400), (b'{"name": "\\ud800", "password": "x"}', 400),
                        (b"[" * 100_000, 413)):
        response = await client.post("/api/v1/login", data=chunks(raw),
                                     headers={"Content-Type": "application/json"})
        assert response.status == status, (raw[:20], await response.text())


@pytest.mark.asyncio
async def test_login_body_is_checked_against_its_schema(aiohttp_client, store) -> None:
    """Login reads its own body (origin and size first) but refuses what the schema in the
    OpenAPI document refuses, naming the field by JSON pointer."""
    client = await aiohttp_client(make_app(store))
    login_route = next(route for route in AUTH_ROUTES if route.name == LOGIN_ROUTE)
    assert login_route.own_body and login_route.body is not None
    for body, pointer in invalid_bodies(login_route.body):
        response = await client.post("/api/v1/login", json=body)
        data = await response.json()
        assert response.status == 400 and data["status"] == 400 and pointer in data["error"], (
            body, data)


@pytest.mark.asyncio
async def test_logout_ends_the_session(aiohttp_client, store) -> None:
    client = await aiohttp_client(make_app(store))
    session_id, csrf = await login(client, "viewer")
    headers = session_headers(client, session_id, csrf)
    assert (await client.get("/api/v1/samples", headers=headers)).status == 200
    refused = await client.post("/api/v1/logout", headers=session_headers(client, session_id))
    assert refused.status == 403  # no CSRF token: another site cannot log you out either
    response = await client.post("/api/v1/logout", headers=headers)
    assert response.status == 200
    cleared = response.cookies[COOKIE_NAME]
    assert cleared.value == "" and cleared["max-age"] == "0"
    assert store.session(session_id) is None
    after = await client.get("/api/v1/samples", headers=headers)
    assert after.status == 401
    assert after.cookies[COOKIE_NAME]["max-age"] == "0"  # the dead cookie is cleared


@pytest.mark.asyncio
async def test_login_replaces_an_old_session(aiohttp_client, store) -> None:
    client = await aiohttp_client(make_app(store))
    old, _ = await login(client, "viewer")
    response = await client.post("/api/v1/login", json={"name": "editor",
                                                        "password": PASSWORDS["editor"]},
                                 headers={"Cookie": f"{COOKIE_NAME}={old}"})
    assert response.status == 200
    assert store.session(old) is None
    assert response.cookies[COOKIE_NAME].value != old


@pytest.mark.asyncio
async def test_sliding_session_sends_the_cookie_again(aiohttp_client, seeded) -> None:
    clock = Clock(2_000_000_000.0)
    with AccountStore(seeded[0], clock=clock) as store:
        client = await aiohttp_client(make_app(store))
        session_id, csrf = await login(client, "viewer")
        headers = session_headers(client, session_id, csrf)
        first = await client.get("/api/v1/samples", headers=headers)
        assert first.status == 200 and COOKIE_NAME not in first.cookies
        clock.now += SESSION_REFRESH + 1
        later = await client.get("/api/v1/samples", headers=headers)
        assert later.status == 200
        assert later.cookies[COOKIE_NAME].value == session_id
        assert later.cookies[COOKIE_NAME]["samesite"] == "Strict"


@pytest.mark.asyncio
async def test_role_change_and_removal_apply_at_once(aiohttp_client, seeded) -> None:
    with AccountStore(seeded[0]) as store:
        store.add_user("temp", "temporary password", "viewer")
        try:
            client = await aiohttp_client(make_app(store))
            session_id, csrf = await login(client, "temp", "temporary password")
            headers = session_headers(client, session_id, csrf)
            assert (await client.post("/api/v1/scans", headers=headers)).status == 403
            store.set_role("temp", "editor")
            assert (await client.post("/api/v1/scans", headers=headers)).status == 200
            store.remove_user("temp")
            assert (await client.post("/api/v1/scans", headers=headers)).status == 401
        finally:
            if any(user["name"] == "temp" for user in store.users()):
                store.remove_user("temp")


# -- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_csrf(aiohttp_client, store, tokens) -> None:
    client = await aiohttp_client(make_app(store))
    session_id, csrf = await login(client, "editor")
    cases = {
        "no token": (session_headers(client, session_id), 403),
        "wrong token": (session_headers(client, session_id, csrf[:-2] + "xx"), 403),
        "another session's token": (session_headers(client, session_id,
                                                    store.create_session("editor")[1]), 403),
        "foreign origin": (session_headers(client, session_id, csrf,
                                           Origin="http://evil.example"), 403),
        "foreign port": (session_headers(client, session_id, csrf,
                                         Origin=origin(client).rsplit(":", 1)[0] + ":1"), 403),
        "null origin": (session_headers(client, session_id, csrf, Origin="null"), 403),
        "no origin or referer": (session_headers(client, session_id, csrf, Origin=None), 403),
        "foreign referer": (session_headers(client, session_id, csrf, Origin=None,
                                            Referer="http://evil.example/page"), 403),
        "same-origin referer": (session_headers(client, session_id, csrf, Origin=None,
                                                Referer=origin(client) + "/ui"), 200),
        "all good": (session_headers(client, session_id, csrf), 200),
    }
    for label, (headers, status) in cases.items():
        for method, path in (("POST", "/api/v1/scans"), ("POST", "/api/v1/tags")):
            response = await client.request(method, path, headers=headers)
            assert response.status == status, label
            if status == 403:
                assert (await response.json())["status"] == 403
    # reads need no CSRF token
    read = await client.get("/api/v1/samples", headers=session_headers(client, session_id))
    assert read.status == 200
    # bearer requests are exempt: a browser never adds that header by itself
    bearer = await client.post("/api/v1/scans", headers={
        "Authorization": f"Bearer {tokens['editor']}", "Origin": "http://evil.example"})
    assert bearer.status == 200


@pytest.mark.asyncio
async def test_trusted_origins(aiohttp_client, store) -> None:
    client = await aiohttp_client(make_app(store, trusted_origins=("https://UI.example/",)))
    session_id, csrf = await login(client, "editor")
    for sent, status in (("https://ui.example", 200), ("https://ui.example:8443", 403),
                         ("http://ui.example", 403)):
        response = await client.post("/api/v1/scans",
                                     headers=session_headers(client, session_id, csrf, Origin=sent))
        assert response.status == status, sent


@pytest.mark.asyncio
async def test_websocket_needs_same_origin_with_a_cookie(aiohttp_client, store, tokens) -> None:
    client = await aiohttp_client(make_app(store))
    session_id, _ = await login(client, "viewer")
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/api/v1/ws", headers=session_headers(
            client, session_id, Origin="http://evil.example"))
    assert refused.value.status == 403
    with pytest.raises(WSServerHandshakeError) as anonymous:
        await client.ws_connect("/api/v1/ws")
    assert anonymous.value.status == 401
    ws = await client.ws_connect("/api/v1/ws", headers=session_headers(client, session_id))
    assert (await ws.receive_json())["user"]["name"] == "viewer"
    await ws.close()
    ws = await client.ws_connect("/api/v1/ws", headers={"Authorization": f"Bearer {tokens['viewer']}"})
    assert (await ws.receive_json())["user"]["via"] == "token"
    await ws.close()


# -- rate limiting -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_login_rate_limit(aiohttp_client, store) -> None:
    clock = Clock()
    client = await aiohttp_client(make_app(store, limiter=LoginLimiter(clock=clock)))

    async def attempt(name: str, password: str):
        return await client.post("/api/v1/login", json={"name": name, "password": password})

    for _ in range(5):
        assert (await attempt("admin", "wrong password")).status == 401
    locked = await attempt("admin", PASSWORDS["admin"])  # even the right password waits
    assert locked.status == 429
    assert int(locked.headers["Retry-After"]) == 60
    assert (await locked.json())["status"] == 429
    clock.now += 30
    assert int((await attempt("admin", "wrong password")).headers["Retry-After"]) == 30
    clock.now += 31
    for _ in range(5):  # free again: five more failures lock for twice as long
        assert (await attempt("admin", "wrong password")).status == 401
    again = await attempt("admin", "wrong password")
    assert again.status == 429 and int(again.headers["Retry-After"]) == 120
    clock.now += 121
    assert (await attempt("admin", PASSWORDS["admin"])).status == 200


@pytest.mark.asyncio
async def test_login_rate_limit_per_ip_and_parallel(aiohttp_client, store) -> None:
    clock = Clock()
    client = await aiohttp_client(make_app(store, limiter=LoginLimiter(clock=clock)))
    for number in range(5):  # one IP trying many names
        response = await client.post("/api/v1/login", json={"name": f"guess{number}",
                                                            "password": "wrong password"})
        assert response.status == 401
    response = await client.post("/api/v1/login", json={"name": "viewer",
                                                        "password": PASSWORDS["viewer"]})
    assert response.status == 429 and int(response.headers["Retry-After"]) == 60

    clock.now += 3600 * 2  # quiet for long enough: every count starts over
    answers = await asyncio.gather(*(client.post("/api/v1/login", json={
        "name": "editor", "password": f"wrong password {n}"}) for n in range(8)))
    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(401) <= 5 and statuses.count(429) >= 3  # in-flight guesses count


@pytest.mark.asyncio
async def test_right_password_resets_the_name_but_not_the_ip(aiohttp_client, store) -> None:
    limiter = LoginLimiter(clock=Clock())
    client = await aiohttp_client(make_app(store, limiter=limiter))
    for _ in range(4):
        assert (await client.post("/api/v1/login", json={
            "name": "editor", "password": "wrong password"})).status == 401
    assert (await client.post("/api/v1/login", json={
        "name": "editor", "password": PASSWORDS["editor"]})).status == 200
    assert limiter.retry_after(["user:editor"]) == 0
    failed = await client.post("/api/v1/login", json={"name": "other", "password": "wrong password"})
    assert failed.status == 401  # the fifth failure from this IP within the minute
    assert limiter.retry_after(["ip:127.0.0.1"]) == 60


def test_limiter_memory_is_bounded() -> None:
    limiter = LoginLimiter(max_keys=100, clock=Clock())
    for number in range(1000):
        keys = [f"user:n{number}"]
        limiter.start(keys)
        limiter.finish(keys, ok=False)
    assert len(limiter._entries) <= 100
    limiter.start(["user:ok"])
    limiter.finish(["user:ok"], ok=True)
    assert "user:ok" not in limiter._entries  # nothing to remember about a clean key


# -- open access and the bind policy --------------------------------------------------------------


@pytest.mark.asyncio
async def test_open_access(aiohttp_client, store) -> None:
    client = await aiohttp_client(make_app(store, open_access=True))
    for (method, path) in ROUTES:
        response = await client.request(method, path)
        assert response.status == 200
        assert (await response.json())["user"] == {"name": "local", "role": "admin", "via": "local"}
    assert (await client.get("/metrics")).status == 200
    me = await client.get("/api/v1/me")
    assert (await me.json())["via"] == "local"
    same_site = await client.post("/api/v1/scans", headers={"Origin": origin(client)})
    assert same_site.status == 200
    # no cookies to steal, but a page on another site must not drive a local server
    evil = await client.post("/api/v1/scans", headers={"Origin": "http://evil.example"})
    assert evil.status == 403
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/api/v1/ws", headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403


def test_is_loopback() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.com", "", "localhost.example.com"):
        assert not is_loopback(host), host


def test_access_mode(tmp_path: Path) -> None:
    with AccountStore(tmp_path) as empty:
        assert access_mode("127.0.0.1", empty) == (True, None)
        with pytest.raises(UsageError, match="user add"):
            access_mode("0.0.0.0", empty)
        open_access, warning = access_mode("0.0.0.0", empty, insecure=True)
        assert open_access and "--insecure" in warning
        empty.add_token("ci", "viewer")
        assert access_mode("127.0.0.1", empty) == (False, None)  # accounts count on loopback too
        assert access_mode("0.0.0.0", empty) == (False, None)


def test_access_policy_is_live_on_loopback_only(tmp_path: Path) -> None:
    with AccountStore(tmp_path) as store, AccountStore(tmp_path) as other_process:
        policy, warning = access_policy("127.0.0.1", store)
        assert isinstance(policy, OpenAccess) and policy() and warning is None
        other_process.add_user("alice", "correct horse battery", "admin")
        assert not policy()  # another connection's write is seen at once
        other_process.remove_user("alice")
        assert policy()
        other_process.add_token("ci", "viewer")
        assert access_policy("0.0.0.0", store) == (False, None)
        other_process.remove_token("ci")
        # a network bind never opens itself when the last account goes; --insecure always open
        assert access_policy("0.0.0.0", store, insecure=True)[0] is True


@pytest.mark.asyncio
async def test_account_added_while_serving_closes_open_access(aiohttp_client, tmp_path: Path,
                                                              monkeypatch) -> None:
    import samplemind.server.auth as auth

    monkeypatch.setattr(auth, "OPEN_SOCKET_POLL", 0.05)

    async def listener(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"user": request[USER_KEY]})
        async for _ in ws:  # stays open until the client or the server closes it
            pass
        return ws

    with AccountStore(tmp_path) as store, AccountStore(tmp_path) as cli:
        app = make_app(store, open_access=OpenAccess(store))
        app.router.add_get("/listen", listener, name="listen")
        client = await aiohttp_client(app)
        assert (await client.get("/api/v1/samples")).status == 200
        ws = await client.ws_connect("/listen")
        assert (await ws.receive_json())["user"]["via"] == "local"
        cli.add_user("alice", "correct horse battery", "admin")
        assert (await client.get("/api/v1/samples")).status == 401
        assert (await client.delete("/api/v1/samples/49/file")).status == 401
        message = await asyncio.wait_for(ws.receive(), timeout=60)  # dropped, not kept anonymous
        assert message.type.name in ("CLOSE", "CLOSED", "CLOSING", "ERROR")
        await ws.close()
