"""serve: the HTTP and WebSocket API (and `--get PATH`: one request, in-process, for scripts)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ..output import err_console
from .common import state

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
        "--host", help="Address to listen on. Anything but loopback needs accounts or a "
        "token (samplemind user add / token add), or --insecure.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port.")] = 8000,
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
        "--max-upload-mb", min=0.001, help="Largest upload (all files of one request), MiB.")
    ] = 512.0,
    scan_root: Annotated[list[str] | None, typer.Option(
        "--scan-root", metavar="DIR", help="A folder POST /api/v1/scans may scan, besides the "
        "catalog's roots. Repeatable.")] = None,
    record_cache_mb: Annotated[float, typer.Option(
        "--record-cache-mb", min=0.0, help="Memory for sample records kept encoded and ready "
        "to send, filled newest first at start; 0 turns it off.")] = 256.0,
    get: Annotated[str | None, typer.Option(
        "--get", metavar="PATH", help="Answer one GET of PATH in-process, print the body and "
        "exit (0 on 2xx, 1 otherwise).")] = None,
) -> None:
    """Serve the HTTP and WebSocket API (loopback by default; accounts for anything else)."""
    from aiohttp import web

    from ..server import ServerConfig, make_app

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
    console = err_console()
    shown = f"[{host}]" if ":" in host else host
    console.print(f"samplemind serving on http://{shown}:{port}/api/v1 (Ctrl-C stops)",
                  markup=False, highlight=False)
    # backlog: a team's browsers (1,000 connections, benchmarks/serve.py) connect at once;
    # aiohttp's 128 would leave the rest waiting a SYN retry (a second) or refused.
    web.run_app(application, host=host, port=port, print=None, access_log=None,
                handle_signals=True, backlog=1024)
