"""``doctor``: is each part of a library usable, and what to do when it is not.

The core (catalog, caches, index) decides whether samplemind works; Ollama is optional
and only needed by ``describe`` and ``ls --ask`` (which falls back to its built-in
translator), so its absence is reported with the fix but is not a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ComponentMissing, SampleMindError
from .cache import AICache, ai_cache_dir
from .client import OllamaClient, ollama_host

if TYPE_CHECKING:
    from ..cache import FeatureCache
    from ..catalog import Catalog

STATUS_TIMEOUT = 5.0  # seconds: listing models is instant when Ollama runs


def library_health(catalog: Catalog, *, cache: Callable[[], FeatureCache], cache_dir: Path,
                   index_folder: Path) -> dict[str, Any]:
    """Checks of the catalog, the caches (cache opens the feature cache: a failure to open it
    is reported) and the vector index saved in index_folder; "ok" is their verdict."""
    checks = {"catalog": _catalog(catalog), "cache": _caches(cache, cache_dir),
              "index": _index(catalog, index_folder)}
    return {"ok": all(check["ok"] for check in checks.values()), **checks}


def _catalog(catalog: Catalog) -> dict[str, Any]:
    try:
        integrity = catalog.scalar("PRAGMA quick_check(1)")
        return {"ok": integrity == "ok", "path": str(catalog.path), "samples": catalog.count(),
                "generation": catalog.generation,
                "journal_mode": catalog.scalar("PRAGMA journal_mode"), "integrity": integrity}
    except Exception as exc:  # a damaged file: report it, don't crash the report
        return {"ok": False, "path": str(catalog.path), "error": str(exc),
                "fix": "move the catalog aside and scan again (cached analysis makes it quick)"}


def _caches(cache: Callable[[], FeatureCache], cache_dir: Path) -> dict[str, Any]:
    try:
        features = cache().stats()
        with AICache(ai_cache_dir(cache_dir)) as answers:
            ai = answers.stats()
        return {"ok": True, "features": features, "ai": ai}
    except Exception as exc:
        return {"ok": False, "directory": str(cache_dir), "error": str(exc),
                "fix": "samplemind cache clear (the cache only holds derived data)"}


def _index(catalog: Catalog, folder: Path) -> dict[str, Any]:
    """The saved index as found on disk; a missing or old one is rebuilt or caught up on the
    next search (derived data), so only an unreadable folder is a failure."""
    generation = catalog.generation
    meta_file = folder / "index.json"
    try:
        saved = json.loads(meta_file.read_text())["generation"] if meta_file.exists() else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return {"ok": True, "folder": str(folder), "saved_generation": None,
                "catalog_generation": generation,
                "note": f"the saved index is unreadable ({exc}); the next search rebuilds it"}
    note = ("none saved yet: the first search builds it" if saved is None else
            "up to date" if saved == generation else
            "behind the catalog: the next search catches it up")
    return {"ok": True, "folder": str(folder), "saved_generation": saved,
            "catalog_generation": generation, "note": note}


def _same_model(wanted: str, pulled: str) -> bool:
    """Ollama names models NAME:TAG; a name without a tag means :latest."""
    def full(name: str) -> str:
        return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
    return full(wanted) == full(pulled)


def ollama_status(model: str, host: str | None = None) -> dict[str, Any]:
    """Reachability of Ollama, its models, and whether `model` is pulled, with the fix."""
    status: dict[str, Any] = {"host": ollama_host(host), "model": model, "reachable": False,
                              "models": [], "model_pulled": False}
    try:
        with OllamaClient(host, timeout=STATUS_TIMEOUT) as client:
            models = client.models()
    except ComponentMissing as error:
        return {**status, "ok": False, "error": str(error), "fix": "ollama serve"}
    except SampleMindError as error:  # it answered, but not as Ollama does
        return {**status, "ok": False, "error": str(error),
                "fix": "check that OLLAMA_HOST points at Ollama"}
    pulled = any(_same_model(model, item["name"] or "") for item in models)
    status.update(reachable=True, models=models, model_pulled=pulled, ok=pulled)
    if not pulled:
        status.update(error=f"the model {model} is not pulled", fix=f"ollama pull {model}")
    return status
