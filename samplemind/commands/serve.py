"""serve: the HTTP and WebSocket API (and `--get PATH`: one request, in-process, for scripts)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ..output import err_console
from .common import state

# Connections the kernel completes before the server accepts them: a team's browsers (1,000
# connections, benchmarks/serve.py) connect at once; past the backlog a connection waits for
# a SYN retry (1 s, then 3 s) or is refused.
BACKLOG = 1024

app = typer.Typer()


async def _get_once(application: object, path: str) -> int:
    """Send one GET to the app on a private loopback port; body to stdout."""
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(application)) as client:
        response = await client.get(path, headers={"Accept-Encoding": "identity"})
        body = await response.read()
    sys.stdout.buffer.write(body)
    if body and not body.endswith(b"\n") and response.content_type.startswith(
            ("application/json", "text/")):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
    return 0 if 200 <= response.status < 300 else 1


@app.command()
def serve(
    host: Annotated[str, typer.Option(
        "--host", metavar="HOST", help="Address to listen on. Anything but loopback needs accounts or a "
        "token (samplemind user add / token add), or --insecure.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", metavar="PORT", min=0, max=65535,
                                   help="Port (0: any free one).")] = 8000,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Serve a non-loopback --host without logins: anyone who can reach "
        "it is admin (a warning is printed).")] = False,
    allow_host: Annotated[list[str] | None, typer.Option(
        "--allow-host", metavar="NAME", help="Another Host header name to accept (the name "
        "browsers use to reach the server); '*' accepts any. Repeatable.")] = None,
    allow_origin: Annotated[list[str] | None, typer.Option(
        "--allow-origin", metavar="ORIGIN", help="Another browser origin allowed to call the "
        "API and open the WebSocket, e.g. https://ui.example:8443. Repeatable.")] = None,
    allow_delete: Annotated[bool, typer.Option(
        "--allow-delete", help="Let DELETE /api/v1/samples/{id}/file delete files on disk.")
    ] = False,
    upload_dir: Annotated[Path | None, typer.Option(
        "--upload-dir", metavar="DIR", help="Where uploads are stored (default: "
        "<data dir>/uploads).")] = None,
    max_upload_mb: Annotated[float, typer.Option(
        "--max-upload-mb", metavar="MIB", min=0.001, help="Largest upload (all files of one request), MiB.")
    ] = 512.0,
    scan_root: Annotated[list[str] | None, typer.Option(
        "--scan-root", metavar="DIR", help="A folder POST /api/v1/scans may scan, besides the "
        "catalog's roots. Repeatable.")] = None,
    record_cache_mb: Annotated[float, typer.Option(
        "--record-cache-mb", metavar="MIB", min=0.0, help="Memory for sample records kept encoded and ready "
        "to send, filled newest first at start; 0 turns it off.")] = 256.0,
    get: Annotated[str | None, typer.Option(
        "--get", metavar="PATH", help="Answer one GET of PATH in-process, print the body and "
        "exit (0 on 2xx, 1 otherwise).")] = None,
) -> None:
    """Serve the web UI and the HTTP and WebSocket API (loopback by default; accounts for
    anything else); prints their addresses."""
    from aiohttp import web

    from ..server import RUNNER_OPTIONS, ServerConfig, make_app

    if get is not None and not get.startswith("/"):
        raise UsageError(f"--get takes a path starting with '/', e.g. /api/v1/stats (not {get!r})")
    from ..accounts import AccountStore
    from ..config import resolve_paths
    from ..server import ROUTE_ROLES
    from ..server.auth import access_policy, install_security

    store = AccountStore(resolve_paths(state.home).data_dir)
    if get is not None:
        # One request from this shell: whoever can run it can read the catalog file anyway.
        open_access, warning = True, None
    else:
        # Decided per request on loopback: an account added while serving closes it at once.
        open_access, warning = access_policy(host, store, insecure=insecure)
    if warning:
        err_console().print(f"warning: {warning}", markup=False, highlight=False)
    config = ServerConfig(
        host=host, port=port, allow_hosts=tuple(allow_host or ()),
        allow_origins=tuple(allow_origin or ()), allow_delete=allow_delete,
        upload_dir=Path(os.path.abspath(upload_dir)) if upload_dir else None,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        scan_roots=tuple(os.path.abspath(os.path.expanduser(r)) for r in scan_root or ()),
        # One request from a script does not need the records of the whole library.
        record_cache_mb=0.0 if get is not None else record_cache_mb)
    application = make_app(
        state.home, config=config,
        security=lambda app: install_security(app, store, route_roles=ROUTE_ROLES,
                                              open_access=open_access,
                                              trusted_origins=config.allow_origins))
    if get is not None:
        raise typer.Exit(asyncio.run(_get_once(application, get)))
    sock = _listen(host, port)  # bound first, so that the address printed is the real one
    _announce(host, sock.getsockname()[1], store, open_access is True)
    # backlog again: aiohttp listens on the socket anew with its own (128 by default), and
    # asyncio accepts that many connections per wake-up.
    web.run_app(application, sock=sock, print=None, access_log=None, handle_signals=True,
                backlog=BACKLOG, **RUNNER_OPTIONS)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), as aiohttp would bind it."""
    from ..errors import SampleMindError

    try:
        family, _, _, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        return socket.create_server(address, family=family, backlog=BACKLOG)
    except OSError as exc:
        raise SampleMindError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _announce(host: str, port: int, store: object, everyone: bool) -> None:
    """Where the UI and the API are, and (with accounts) how to get in: on stderr."""
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    lines = [f"samplemind serving on {base}/ (Ctrl-C stops)",
             f"  web UI:  {base}/",
             f"  API:     {base}/api/v1  (OpenAPI document: {base}/api/v1/openapi.json)"]
    if not everyone and store.configured():  # type: ignore[attr-defined]
        lines += ["  log in:  in the web UI with an account (samplemind user ls lists them, "
                  "samplemind user add NAME makes one);",
                  "           scripts send a token: Authorization: Bearer SECRET "
                  "(samplemind token add NAME)"]
    elif not everyone:
        lines.append("  log in:  no account yet: open to this machine until samplemind user add "
                     "NAME makes one")
    else:
        lines.append("  log in:  not needed (--insecure: everyone who can reach it is admin)")
    err_console().print("\n".join(lines), markup=False, highlight=False)
