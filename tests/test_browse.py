"""What a person browsing needs beside the list (issue 23): favourites, each account's own
stars kept in the catalog (migration m015_favourites), listed with the query fav:NAME, over
HTTP per account (a real aiohttp server on loopback, real tokens); and facet counts for the
current results (GET /api/v1/facets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_server_exports import tiny_library

from samplemind import Library
from samplemind.accounts import AccountStore
from samplemind.config import resolve_paths
from samplemind.errors import NotFound, QueryError, UsageError
from samplemind.server import ROUTE_ROLES, ServerConfig, make_app
from samplemind.server.auth import install_security


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_library(tmp_path_factory.mktemp("favourites"), 12)


def ids_of(library: Library, query: str) -> list[int]:
    return sorted(sample.id for sample in library.ls(query))


def test_fav_command_stars_lists_and_unstars_per_account(tmp_path: Path) -> None:
    """`samplemind fav add|rm|ls` in a real process: the same stars the web UI shows."""
    import json

    from helpers import run_cli

    home = tiny_library(tmp_path, 6)
    with Library(home) as library:
        every = ids_of(library, "")
    starred = run_cli("fav", "add", str(every[2]), "--also", str(every[4]), home=home)
    assert starred.returncode == 0 and "Starred 2 sample(s) for local: 2 new." in starred.stderr
    run_cli("fav", "add", str(every[1]), "--account", "alice", home=home)
    listed = run_cli("fav", "ls", "-f", "json", home=home)
    assert [row["id"] for row in json.loads(listed.stdout)] == [every[2], every[4]]
    alice = run_cli("fav", "ls", "--account", "alice", "-f", "json", home=home)
    assert [row["id"] for row in json.loads(alice.stdout)] == [every[1]]
    removed = run_cli("fav", "rm", str(every[2]), home=home)
    assert removed.returncode == 0 and "Unstarred 1 of 1" in removed.stderr
    with Library(home) as library:
        assert library.favourites("local") == [every[4]]
        assert ids_of(library, "fav:local") == [every[4]]
    refused = run_cli("fav", "ls", "--account", " ", home=home)
    assert refused.returncode == 2 and "--account must be an account name" in refused.stderr


@pytest.mark.slow  # seven CLI processes; the spelling itself is test_accounts' served_spelling
def test_fav_command_uses_the_servers_spelling_of_an_account(tmp_path: Path) -> None:
    """Account names are case-blind (login, `user add`, fav:NAME): `fav --account alice`
    stars for the server's user Alice, the stars her web UI shows, and warns about an
    account the server does not have."""
    import json

    from helpers import run_cli

    home = tiny_library(tmp_path, 4)
    with AccountStore(resolve_paths(home).data_dir) as store:
        store.add_token("Alice", "viewer")
    with Library(home) as library:
        every = ids_of(library, "")
    starred = run_cli("fav", "add", str(every[1]), "--account", "alice", home=home)
    assert starred.returncode == 0, starred.stderr
    assert "for Alice" in starred.stderr and "warning" not in starred.stderr
    with Library(home) as library:
        assert library.favourites("Alice") == [every[1]]  # what GET /api/v1/favourites lists
    listed = run_cli("fav", "ls", "--account", "ALICE", "-f", "json", home=home)
    assert [row["id"] for row in json.loads(listed.stdout)] == [every[1]]
    removed = run_cli("fav", "rm", str(every[1]), "--account", "alice", home=home)
    assert "Unstarred 1 of 1" in removed.stderr
    typo = run_cli("fav", "add", str(every[2]), "--account", "alcie", home=home)
    assert typo.returncode == 0 and "warning: no account 'alcie'" in typo.stderr
    (resolve_paths(home).data_dir / "accounts.db").write_bytes(b"not a database")
    damaged = run_cli("fav", "ls", "--account", "alcie", "-f", "json", home=home)
    assert damaged.returncode == 0 and [r["id"] for r in json.loads(damaged.stdout)] == [every[2]]


def test_fav_add_with_nothing_on_stdin_says_nothing_to_star(tmp_path: Path) -> None:
    from helpers import run_cli

    home = tiny_library(tmp_path, 2)
    empty = run_cli("fav", "add", "-", home=home, input="")
    assert empty.returncode == 2
    assert "nothing on stdin to star" in empty.stderr and "to tag" not in empty.stderr
    untag = run_cli("tag", "rm", "-", "x", home=home, input="\n")
    assert untag.returncode == 2 and "nothing on stdin to untag" in untag.stderr


def test_favourites_list_the_first_starred_first_within_a_second(tmp_path: Path) -> None:
    """`fav ls` and GET /api/v1/favourites: the first starred first, also when the stars
    came within one second (the `added` timestamp's resolution), not by id."""
    from unittest import mock

    home = tiny_library(tmp_path, 6)
    with Library(home) as library, \
            mock.patch("samplemind.catalog.now_iso", return_value="2026-12-07T12:00:00Z"):
        every = ids_of(library, "")
        library.favourite("alice", [every[4]])
        library.favourite("alice", [every[1]])
        library.favourite("alice", [every[5], every[0]])
        assert library.favourites("alice") == [every[4], every[1], every[5], every[0]]


def test_favourites_are_kept_per_account_and_queried_with_fav(tmp_path: Path) -> None:
    home = tiny_library(tmp_path, 10)
    with Library(home) as library:
        every = ids_of(library, "")
        assert library.favourite("alice", [every[0], every[3]]) == {"samples": 2, "changed": 2}
        assert library.favourite("alice", [every[3]])["changed"] == 0  # already starred
        library.favourite("bob", [every[5]])
        assert library.favourites("alice") == [every[0], every[3]]
        assert library.favourites("bob") == [every[5]]
        assert library.favourites("carol") == []
        assert ids_of(library, "fav:alice") == [every[0], every[3]]
        assert ids_of(library, "favourite:bob") == [every[5]]
        assert ids_of(library, "fav:*") == [every[0], every[3], every[5]]
        assert ids_of(library, "fav:alice,bob") == [every[0], every[3], every[5]]
        assert ids_of(library, "-fav:alice") == [i for i in every if i not in (every[0], every[3])]
        assert ids_of(library, "fav:alice cat:kick") == sorted(
            i for i in (every[0], every[3]) if i in ids_of(library, "cat:kick"))
        library.favourite("alice", [every[0]], remove=True)
        assert library.favourites("alice") == [every[3]]
        # a forgotten sample takes its stars with it
        library.forget(every[3])
        assert library.favourites("alice") == []
        with pytest.raises(NotFound):
            library.favourite("alice", [999_999])
        with pytest.raises(UsageError, match="account"):
            library.favourite("", [every[1]])
        with pytest.raises(QueryError, match="cannot sort by 'fav'"):
            list(library.ls("sort:fav"))
        with pytest.raises(QueryError, match="fav:\\* = anyone's"):
            list(library.ls("fav:"))


@pytest.fixture
def secured(aiohttp_client, home: Path, tmp_path: Path):
    """A server with accounts on and two viewer tokens, alice's and bob's."""
    store = AccountStore(resolve_paths(tmp_path / "accounts").data_dir)
    tokens = {name: store.add_token(name, "viewer") for name in ("alice", "bob")}

    async def make():
        app = make_app(home, config=ServerConfig(threads=2, record_cache_mb=0),
                       security=lambda app: install_security(app, store, route_roles=ROUTE_ROLES,
                                                             open_access=False))
        client = await aiohttp_client(app)
        return client, {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}

    yield make
    store.close()


@pytest.mark.asyncio
async def test_favourites_over_http_are_each_accounts_own(secured, home: Path) -> None:
    client, auth = await secured()
    with Library(home) as library:
        every = ids_of(library, "")
    first, second, third = every[1], every[4], every[7]
    for name, sample in (("alice", first), ("alice", second), ("bob", third)):
        response = await client.put(f"/api/v1/favourites/{sample}", headers=auth[name])
        assert response.status == 200, await response.text()
        assert await response.json() == {"schema_version": 1, "account": name, "id": sample,
                                         "favourite": True}
    alice = await (await client.get("/api/v1/favourites", headers=auth["alice"])).json()
    bob = await (await client.get("/api/v1/favourites", headers=auth["bob"])).json()
    assert alice == {"schema_version": 1, "account": "alice", "ids": [first, second]}
    assert bob == {"schema_version": 1, "account": "bob", "ids": [third]}
    # the query language lists them
    page = await (await client.get("/api/v1/samples", params={"q": "fav:alice"},
                                   headers=auth["bob"])).json()
    assert sorted(s["id"] for s in page["samples"]) == [first, second]
    # unstar
    response = await client.delete(f"/api/v1/favourites/{first}", headers=auth["alice"])
    assert (await response.json())["favourite"] is False
    alice = await (await client.get("/api/v1/favourites", headers=auth["alice"])).json()
    assert alice["ids"] == [second]
    # an unknown sample; no account at all
    missing = await client.put("/api/v1/favourites/999999", headers=auth["alice"])
    assert missing.status == 404
    anonymous = await client.get("/api/v1/favourites")
    assert anonymous.status == 401
    # the routes are in the OpenAPI document, open to viewers
    doc = await (await client.get("/api/v1/openapi.json", headers=auth["alice"])).json()
    assert {"get"} <= set(doc["paths"]["/api/v1/favourites"])
    assert {"put", "delete"} <= set(doc["paths"]["/api/v1/favourites/{id}"])
    assert ROUTE_ROLES["favourite_add"] == ROUTE_ROLES["favourite_remove"] == "viewer"


@pytest.mark.asyncio
async def test_without_accounts_the_favourites_are_the_local_accounts(aiohttp_client, tmp_path: Path) -> None:
    home = tiny_library(tmp_path, 4)
    client = await aiohttp_client(make_app(home, config=ServerConfig(threads=2, record_cache_mb=0)))
    with Library(home) as library:
        sample = ids_of(library, "")[2]
    response = await client.put(f"/api/v1/favourites/{sample}")
    assert (await response.json())["account"] == "local"
    with Library(home) as library:
        assert ids_of(library, "fav:local") == [sample]


@pytest.mark.asyncio
async def test_facet_counts_are_for_the_current_results(aiohttp_client, home: Path) -> None:
    client = await aiohttp_client(make_app(home, config=ServerConfig(threads=2, record_cache_mb=0)))
    with Library(home) as library:
        kicks = ids_of(library, "cat:kick")
        library.tag([str(kicks[0]), str(kicks[1])], ["boomy"])
        every = [(s.id, s.path) for s in library.ls("")]
    answer = await (await client.get("/api/v1/facets", params={"q": "cat:kick"})).json()
    assert answer["total"] == len(kicks)
    assert answer["by_category"] == {"kick": len(kicks)}
    assert answer["by_type"] == {"oneshot": len(kicks)}
    assert {"tag": "boomy", "count": 2} in answer["tags"]
    # folders: each with its path, its name below the root, and how many matches it holds
    folders = {item["path"]: item for item in answer["folders"]}
    expected: dict[str, int] = {}
    for sample_id, path in every:
        if sample_id in kicks:
            expected[str(Path(path).parent)] = expected.get(str(Path(path).parent), 0) + 1
    assert {path: item["count"] for path, item in folders.items()} == expected
    assert all(item["folder"] == f"lib/{Path(path).name}" for path, item in folders.items())
    # every sample, and a bad query
    everything = await (await client.get("/api/v1/facets")).json()
    assert everything["total"] == len(every)
    assert sum(everything["by_category"].values()) == len(every)
    bad = await client.get("/api/v1/facets", params={"q": "bmp:120"})
    assert bad.status == 400


def test_a_missing_file_is_refused_not_searched(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    """A lone selection that names a file (a path, or a name with an audio extension) and
    matches none is NotFound: `fav add -- --also.wav` starred every sample lacking the word."""
    monkeypatch.chdir(tmp_path)
    with Library(home) as library:
        for text in ("--also.wav", "Kick 01.WAV"):
            with pytest.raises(NotFound, match="put it in quotes"):
                library.favourite("local", [text])
        for text in ("./gone.wav", "/no/such/dir/kick.flac"):  # plainly a path: no hint
            with pytest.raises(NotFound, match="not in the catalog") as refused:
                library.favourite("local", [text])
            assert "quotes" not in str(refused.value)
        assert library.favourites("local") == []
        # a catalogued path still selects its sample, and a quoted text is still a query
        first = next(iter(library.ls("", limit=1)))
        assert library.select([first.record["path"]]) == [first.id]
        assert library.select(['"no-such-text.wav"']) == []
