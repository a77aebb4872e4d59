"""Jobs: scans of folders the server may read, uploads, and their progress."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ..errors import NotFound, UsageError
from ..library import Library
from ..models import versioned
from ..scan import resolve_roots
from .errors import Forbidden, PayloadTooLarge, UnsupportedMediaType
from .http import checked_body, context, json_now
from .jobs import Job, JobFailed, Progress
from .routing import EDITOR, VIEWER, Param, Route
from .uploads import claim, client_text, safe_upload_name, temp_name

# What aiohttp's multipart reader raises on a malformed body.
BAD_MULTIPART = (ValueError, AssertionError, KeyError, RuntimeError, LookupError,
                 HttpProcessingError)
MAX_PATHS = 100
MAX_FILES = 100
MAX_PARTS = MAX_FILES + 100  # files plus the form fields that come with them
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers on top of the file bytes
WRITE_CHUNK = 1024 * 1024


def job_response(request: web.Request, job: Job) -> web.Response:
    response = json_now(request, job.to_json(), status=202)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return response


# -- scans ------------------------------------------------------------------------------------


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:
        return False


def allowed_scan_paths(library: Library, paths: list[str], scan_roots: list[str]) -> list[str]:
    """The paths, if each is under a catalog root, a --scan-root or the upload folder
    (symlinks resolved on both sides); Forbidden otherwise, NotFound if missing."""
    roots = [os.path.realpath(root) for root in [*library.roots(), *scan_roots]]
    checked: list[str] = []
    for path in paths:
        real = os.path.realpath(path)
        if not any(_inside(real, root) for root in roots):
            raise Forbidden(f"{path} is outside the folders this server may scan: the catalog's "
                            "roots and --scan-root folders")
        if not os.path.exists(real):
            raise NotFound(f"no such file or folder: {path}")
        # Only folders and audio files may be scanned: refused here (400) with the scan's own
        # sentence, rather than as a job that fails (scan.resolve_roots says why).
        resolve_roots([path])
        checked.append(path)
    return checked


def _scan_work(paths: list[str]) -> Any:
    def work(library: Library, progress: Progress) -> dict[str, Any]:
        return library.scan(paths, progress=progress).to_json()

    return work


async def start_scan(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    paths = checked_body(request)["paths"]  # the route's schema: 1 to MAX_PATHS strings
    for index, path in enumerate(paths):
        if "\x00" in path or not os.path.isabs(path):
            raise UsageError(f"/paths/{index} must be an absolute path, not {path!r}")
    scan_roots = [*ctx.config.scan_roots, str(ctx.upload_dir)]
    checked = await ctx.pool.run(allowed_scan_paths, paths, scan_roots)
    job = ctx.jobs.submit("scan", {"paths": checked}, _scan_work(checked))
    return job_response(request, job)


# -- uploads ----------------------------------------------------------------------------------


def _upload_work(folder: str, saved: list[tuple[str, str]]) -> Any:
    """Scan the upload folder; report each uploaded file; remove the ones that failed."""

    def work(library: Library, progress: Progress) -> dict[str, Any]:
        report = library.scan([folder], progress=progress)
        errors = {failure.path: failure.error for failure in report.failures}
        files: list[dict[str, Any]] = []
        failed: list[str] = []
        for original, path in saved:
            entry: dict[str, Any] = {"filename": original, "name": os.path.basename(path),
                                     "id": None, "error": errors.get(path)}
            if entry["error"] is None:
                try:
                    entry["id"] = library.get(path).id
                except NotFound:
                    entry["error"] = "not added to the catalog"
            if entry["error"] is not None:
                failed.append(path)
            files.append(entry)
        for path in failed:  # not audio after all: don't keep it in the upload folder
            try:
                os.unlink(path)
            except OSError:
                pass
        if failed:
            library.scan([folder])  # forgets the failure records of the removed files
        result = versioned(files=files, report=report.to_json())
        if failed:
            first = next(f for f in files if f["error"] is not None)
            raise JobFailed(f"{len(failed)} of {len(files)} uploaded file(s) could not be "
                            f"analysed ({first['filename']}: {first['error']})", result)
        return result

    return work


async def _read_chunk(part: BodyPartReader) -> bytes:
    try:
        return await part.read_chunk(256 * 1024)
    except BAD_MULTIPART as exc:
        raise UsageError(f"bad multipart body: {exc}") from None


def _remove_quietly(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass


async def upload(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    loop = asyncio.get_running_loop()
    limit = ctx.config.max_upload_bytes
    too_large = (f"the upload is larger than the server takes ({limit / 1024 / 1024:g} MiB, "
                 "files and form fields together; see --max-upload-mb)")
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(too_large)
    if not request.content_type.startswith("multipart/"):
        raise UnsupportedMediaType("send files as multipart/form-data")
    try:
        reader = await request.multipart()
    except BAD_MULTIPART as exc:
        raise UsageError(f"bad multipart body: {exc}") from None
    folder = str(ctx.upload_dir)
    written: list[str] = []  # every file this request created, for cleanup on error
    saved: list[tuple[str, str]] = []  # (client's name, final path)
    total = parts = 0
    try:
        while True:
            try:
                part = await reader.next()
            except BAD_MULTIPART as exc:
                raise UsageError(f"bad multipart body: {exc}") from None
            if part is None:
                break
            parts += 1
            if parts > MAX_PARTS:
                raise UsageError(f"too many parts in the upload (at most {MAX_PARTS})")
            if not isinstance(part, BodyPartReader):
                raise UsageError("bad multipart body: nested multipart parts are not taken")
            if part.filename is None:
                # Form fields other than files are ignored, but their bytes count: a 50 MB
                # field must not pass a 1 MiB --max-upload-mb.
                while chunk := await _read_chunk(part):
                    total += len(chunk)
                    if total > limit:
                        raise PayloadTooLarge(too_large)
                continue
            if len(saved) >= MAX_FILES:
                raise UsageError(f"at most {MAX_FILES} files per upload")
            original = client_text(part.filename)
            name = safe_upload_name(original)
            temp = os.path.join(folder, temp_name())
            handle = await loop.run_in_executor(ctx.pool.streams, open, temp, "xb")
            written.append(temp)
            size = 0
            buffer = bytearray()
            try:
                while chunk := await _read_chunk(part):
                    size += len(chunk)
                    total += len(chunk)
                    if total > limit:
                        raise PayloadTooLarge(too_large)
                    buffer += chunk
                    if len(buffer) >= WRITE_CHUNK:
                        await loop.run_in_executor(ctx.pool.streams, handle.write, bytes(buffer))
                        buffer.clear()
                if buffer:
                    await loop.run_in_executor(ctx.pool.streams, handle.write, bytes(buffer))
            finally:
                await loop.run_in_executor(ctx.pool.streams, handle.close)
            if size == 0:
                raise UsageError(f"{original!r} is empty")
            final = await loop.run_in_executor(ctx.pool.streams, claim, folder, temp, name)
            written.remove(temp)
            written.append(final)
            saved.append((original, final))
    except BaseException:
        await loop.run_in_executor(ctx.pool.streams, _remove_quietly, list(written))
        raise
    if not saved:
        raise UsageError("no files in the upload: send them as multipart/form-data file parts")
    job = ctx.jobs.submit("upload", {"files": [os.path.basename(path) for _, path in saved]},
                          _upload_work(folder, saved))
    return job_response(request, job)


# -- jobs ---------------------------------------------------------------------------------------


def _job(request: web.Request) -> Job:
    job = context(request).jobs.get(request.match_info["job_id"])
    if job is None:
        raise NotFound(f"no job {request.match_info['job_id']!r} (finished jobs are kept for a "
                       "while, not forever)")
    return job


async def list_jobs(request: web.Request) -> web.StreamResponse:
    jobs = context(request).jobs.list()
    return json_now(request, versioned(jobs=[job.to_json() for job in jobs]))


async def get_job(request: web.Request) -> web.StreamResponse:
    return json_now(request, _job(request).to_json())


async def cancel_job(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    context(request).jobs.cancel(job)
    return json_now(request, job.to_json(), status=202)


def upload_folder(path: Path) -> Path:
    """Create the upload folder if needed; it must be writable."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {path} for uploads: {exc.strerror or exc}") from exc
    return path


JOB_ID = Param("job_id", "path", {"type": "string"}, "Job id.", True)

ROUTES = [
    Route("POST", "/api/v1/scans", "scans_start", start_scan, EDITOR,
          "Scan folders or files (under the catalog's roots or a --scan-root) as a job.",
          body={"type": "object", "required": ["paths"], "additionalProperties": False,
                "properties": {"paths": {
              "type": "array", "minItems": 1, "maxItems": MAX_PATHS,
              "items": {"type": "string", "minLength": 1, "description": "An absolute path."}}}},
          responses={202: "The job (Location: /api/v1/jobs/{id}).",
                     403: "A path outside the allowed folders.", 404: "No such path."}),
    Route("POST", "/api/v1/uploads", "uploads_create", upload, EDITOR,
          "Upload audio files (multipart/form-data); they are stored in the upload folder and "
          "analysed as a job.", multipart=True,
          responses={202: "The job.", 413: "Larger than --max-upload-mb.",
                     415: "Not multipart, or not an audio file name."}),
    Route("GET", "/api/v1/jobs", "jobs_list", list_jobs, VIEWER, "Recent and running jobs."),
    Route("GET", "/api/v1/jobs/{job_id}", "job_get", get_job, VIEWER,
          "One job: status, progress, result or error.", (JOB_ID,),
          responses={404: "No such job."}),
    Route("DELETE", "/api/v1/jobs/{job_id}", "job_cancel", cancel_job, EDITOR,
          "Cancel a job (a scan stops at its next file; what it did is kept).", (JOB_ID,),
          responses={202: "Cancellation asked for.", 404: "No such job."}),
]
