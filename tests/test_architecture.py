"""The layering ARCHITECTURE.md promises, read from the source: the CLI and the server reach
the catalog, SQLite, FAISS and the feature cache only through Library (and the change feed it
hands out), never by importing them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import samplemind

PACKAGE = Path(samplemind.__file__).parent
BELOW_LIBRARY = {
    "sqlite3", "sqlite_utils", "faiss", "diskcache",
    "samplemind.catalog", "samplemind.migrations", "samplemind.cache", "samplemind.walcommits",
    "samplemind.similarity.index", "samplemind.similarity.manager",
    "samplemind.similarity.neighbours", "samplemind.similarity.search",
}


def _type_checking_only(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING")


def runtime_imports(path: Path) -> set[str]:
    """Every module path imports when it runs (imports inside functions included; those
    under `if TYPE_CHECKING:` left out), with `from X import name` also as X.name."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in node.orelse:  # the else branch runs
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def test_the_import_reader_sees_relative_and_nested_imports() -> None:
    probe = PACKAGE / "server" / "neighbour_keeper.py"
    imports = runtime_imports(probe)
    assert "samplemind.server.libraries.LibraryPool" in imports
    assert "samplemind.similarity.neighbours" not in imports  # a TYPE_CHECKING import only


def attributes_used(path: Path) -> set[str]:
    return {node.attr for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Attribute)}


@pytest.mark.parametrize("layer", ["server", "commands"])
def test_the_cli_and_the_server_reach_no_librarys_catalog(layer: str) -> None:
    """Library.catalog (and a catalog's SQLite connection) are below the door: a server or
    CLI need is a Library method (as Library.facets_at, query_ids)."""
    reached = {str(path.relative_to(PACKAGE)): sorted(attributes_used(path) & {"catalog", "conn"})
               for path in sorted((PACKAGE / layer).rglob("*.py"))}
    assert {path: names for path, names in reached.items() if names} == {}


@pytest.mark.parametrize("layer", ["server", "commands"])
def test_the_cli_and_the_server_import_nothing_below_library(layer: str) -> None:
    reached = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        below = sorted(name for name in runtime_imports(path)
                       if name in BELOW_LIBRARY or name.split(".")[0] in BELOW_LIBRARY)
        if below:
            reached[str(path.relative_to(PACKAGE))] = below
    assert reached == {}
