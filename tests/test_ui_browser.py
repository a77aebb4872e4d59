"""The web UI end to end: real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright) against a real server on 127.0.0.1 over a scanned demo catalog.

Screenshots of the main views go to this run's temporary folder (ui-shots/) and are copied to
/tmp/ui-shots/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import shutil
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import test_ai_fake_ollama as fake
from playwright.sync_api import expect, sync_playwright
from server_fixtures import build_catalog, copy_home, private_pack
from test_server_exports import id_term, tiny_library

from samplemind import Library
from samplemind.accounts import AccountStore
from samplemind.config import resolve_paths
from samplemind.server import ROUTE_ROLES, ServerConfig, make_app
from samplemind.server.auth import install_security

from helpers import write_hit

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

CHROMIUM = "/usr/bin/chromium"
fake_ollama = fake.fake_ollama  # the fake Ollama fixture, for the describe button
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"]
PASSWORD = "correct horse battery"
SHOTS_FOR_PEOPLE = Path("/tmp/ui-shots")
WAIT_MS = 15_000


# -- a real server in a thread ---------------------------------------------------------------


class LiveServer:
    """make_app over a home on a free loopback port, with the account layer as `serve` adds it."""

    def __init__(self, home: Path, *, open_access: bool, upload_dir: Path) -> None:
        self.home = home
        self.store = AccountStore(resolve_paths(home).data_dir)
        self.open_access = open_access
        self.upload_dir = upload_dir
        self.loop: asyncio.AbstractEventLoop | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.token: str | None = None

    def _serve(self) -> None:
        from aiohttp import web

        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            config = ServerConfig(upload_dir=self.upload_dir, poll_interval=0.2, threads=2)
            app = make_app(self.home, config=config, security=lambda app: install_security(
                app, self.store, route_roles=ROUTE_ROLES, open_access=self.open_access))
            runner = web.AppRunner(app, shutdown_timeout=2)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._started.set()
            return
        self._started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def start(self) -> LiveServer:
        self._thread.start()
        assert self._started.wait(60), "the server did not start"
        if self._error:
            raise self._error
        return self

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(60)
        self.store.close()

    def get(self, path: str) -> Any:
        """GET a JSON answer the way a script would (no Origin, no cookie)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        request = urllib.request.Request(self.url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(base, home, pack): the demo pack scanned once, plus a copy of one kick (a duplicate)
    and two samples tagged "dark"."""
    base = tmp_path_factory.mktemp("ui")
    home, pack = build_catalog(base / "built")
    home, _ = private_pack(home, pack, base / "dupe", ["Drums/Kicks/kick_deep.wav"])
    with Library(home, jobs=1, timeout=60) as library:
        ids = [s.id for s in library.ls("cat:bass type:oneshot limit:2")]
        library.tag([str(i) for i in ids], ["dark"])
    return base, home, pack


@pytest.fixture(scope="module")
def server(catalog: tuple[Path, Path, Path]) -> Iterator[LiveServer]:
    """Loopback with no accounts: everyone is the admin "local"."""
    base, home, _ = catalog
    live = LiveServer(copy_home(home, base / "open-home"), open_access=True,
                      upload_dir=base / "open-uploads").start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def account_server(catalog: tuple[Path, Path, Path]) -> Iterator[LiveServer]:
    """Accounts on: alice is an editor, bob a viewer."""
    base, home, _ = catalog
    own = copy_home(home, base / "account-home")
    live = LiveServer(own, open_access=False, upload_dir=base / "account-uploads")
    live.store.add_user("alice", PASSWORD, "editor")
    live.store.add_user("bob", PASSWORD, "viewer")
    live.token = live.store.add_token("ui-tests", "viewer")  # for the tests' own reads
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-shots")


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def page(browser: Any, page_errors: list[str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    new_page = context.new_page()
    new_page.on("pageerror", lambda error: page_errors.append(str(error)))
    new_page.on("console", lambda message: page_errors.append(message.text)
                if message.type == "error" and "401" not in message.text else None)
    yield new_page
    context.close()


def wait_js(page: Any, expression: str, arg: Any = None, timeout: float = WAIT_MS) -> None:
    """Poll a JavaScript expression (or function of arg) until it is truthy. (Playwright's
    wait_for_function evaluates strings with eval, which the page's CSP rightly forbids.)"""
    deadline = time.monotonic() + timeout / 1000
    while True:
        if page.evaluate(expression, arg):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout / 1000:g} s: {expression}")
        page.wait_for_timeout(50)


def screenshot(page: Any, shots: Path, name: str) -> Path:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path))
    SHOTS_FOR_PEOPLE.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS_FOR_PEOPLE / path.name)
    return path


def open_ui(page: Any, server: LiveServer, query: str = "") -> None:
    page.goto(server.url + "/" + (f"#q={urllib.parse.quote(query)}" if query else ""))
    page.wait_for_selector(".tr[data-id]")
    settled(page)


def count_text(server: LiveServer, query: str) -> str:
    """What the result line says for a query, from the API's own answer."""
    count = len(server.get("/api/v1/samples?limit=1000&q=" + urllib.parse.quote(query))["samples"])
    return f"{count} sample" if count == 1 else f"{count} samples"


def visible_names(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        ".tr[data-id]", "rows => rows.sort((a, b) => a.dataset.index - b.dataset.index)"
                        ".map(r => r.querySelector('.name').textContent)")


def column(page: Any, field: str) -> list[str]:
    """The text of one column in every rendered row, top to bottom."""
    index = page.eval_on_selector_all(".thead [role=columnheader]",
                                      f"cells => cells.findIndex(c => c.dataset.field === '{field}')")
    return page.eval_on_selector_all(
        ".tr[data-id]", f"rows => rows.sort((a, b) => a.dataset.index - b.dataset.index)"
                        f".map(r => r.children[{index}].textContent)")


def settled(page: Any) -> None:
    """Wait until the rows shown answer the query in the query bar."""
    wait_js(page, "(() => { const grid = document.querySelector('#grid');"
                  " return grid.dataset.query === document.querySelector('#q').value.trim()"
                  " && !grid.hasAttribute('aria-busy'); })()")


def run_query(page: Any, query: str) -> None:
    page.fill("#q", query)
    page.press("#q", "Enter")
    settled(page)


def audio_time(page: Any) -> float:
    return page.evaluate("document.querySelector('#player').currentTime")


def wait_playing(page: Any, at_least: float = 0.05) -> None:
    wait_js(page, f"(() => {{ const a = document.querySelector('#player');"
                           f" return !a.paused && a.currentTime > {at_least}; }})()")


def open_row(page: Any, name: str) -> None:
    run_query(page, f'name:"{name}"')
    page.locator(".tr[data-id]").first.click()
    expect(page.locator("#detail-name")).to_have_text(name)


# -- browse ---------------------------------------------------------------------------------


def test_the_page_loads_and_lists_the_library(page: Any, server: LiveServer, shots: Path,
                                              page_errors: list[str]) -> None:
    response = page.goto(server.url + "/")
    assert response.status == 200
    page.wait_for_selector(".tr[data-id]")
    expect(page.locator("#result-count")).to_have_text("49 samples")
    expect(page.locator("#grid")).to_have_attribute("aria-rowcount", "50")  # the header and 49
    assert 10 < page.locator(".tr[data-id]").count() < 49  # only the rows in view exist
    expect(page.locator("#who")).to_contain_text("local admin")
    expect(page.locator("#facet-category .chip[data-facet='category:kick']")).to_contain_text("kick")
    # the first row opens with its waveform
    page.locator(".tr[data-id]").first.click()
    expect(page.locator("#detail-name")).to_have_text(visible_names(page)[0])
    wait_js(page, "document.querySelector('#wave').width > 0")
    screenshot(page, shots, "browse-1280")
    assert page_errors == []


def test_the_query_bar_filters_and_sorts_like_the_cli(page: Any, server: LiveServer) -> None:
    open_ui(page, server)
    run_query(page, "cat:kick sort:duration-")
    expect(page.locator("#result-count")).to_have_text(count_text(server, "cat:kick"))
    assert set(column(page, "category")) == {"kick"}
    lengths = [float(text.split()[0]) for text in column(page, "duration")]
    assert lengths == sorted(lengths, reverse=True)
    expect(page.locator(".thead [data-field=duration]")).to_have_attribute("aria-sort", "descending")
    # clicking a header rewrites the sort: term of the query
    page.click(".thead [data-field=name] button")
    expect(page.locator("#q")).to_have_value("cat:kick sort:name")
    settled(page)
    names = visible_names(page)
    assert names == sorted(names)
    page.click(".thead [data-field=name] button")
    expect(page.locator("#q")).to_have_value("cat:kick sort:name-")
    settled(page)
    assert visible_names(page) == sorted(names, reverse=True)
    # a bad query says what is wrong, as the CLI does
    run_query(page, "bmp:120")
    expect(page.locator("#result-count")).to_contain_text("unknown field 'bmp'")
    expect(page.locator("#q")).to_have_attribute("aria-invalid", "true")
    # the query is kept in the address, so a reload shows the same list
    run_query(page, "type:loop")
    page.reload()
    page.wait_for_selector(".tr[data-id]")
    expect(page.locator("#q")).to_have_value("type:loop")
    settled(page)
    assert set(column(page, "type")) == {"loop"}


def test_facets_edit_the_query_text(page: Any, server: LiveServer, shots: Path) -> None:
    open_ui(page, server)
    page.click("#facet-category .chip[data-facet='category:snare']")
    expect(page.locator("#q")).to_have_value("cat:snare")
    expect(page.locator("#facet-category .chip[data-facet='category:snare']")).to_have_attribute(
        "aria-pressed", "true")
    expect(page.locator("#result-count")).to_have_text(count_text(server, "cat:snare"))
    page.click("#facet-category .chip[data-facet='category:clap']")
    expect(page.locator("#q")).to_have_value("cat:snare,clap")
    expect(page.locator("#result-count")).to_have_text(count_text(server, "cat:snare,clap"))
    settled(page)
    assert set(column(page, "category")) == {"snare", "clap"}
    page.click("#clear-query")
    expect(page.locator("#q")).to_have_value("")
    # type, BPM range, key
    page.click("#facet-type .chip[data-facet='type:loop']")
    expect(page.locator("#q")).to_have_value("type:loop")
    page.fill("#facet-bpm-min", "100")
    page.fill("#facet-bpm-max", "130")
    page.press("#facet-bpm-max", "Tab")
    expect(page.locator("#q")).to_have_value("type:loop bpm:100..130")
    settled(page)
    bpms = [float(text) for text in column(page, "bpm")]
    assert bpms and all(100 <= bpm <= 130 for bpm in bpms)
    page.select_option("#facet-key", "Am")
    expect(page.locator("#q")).to_have_value("type:loop bpm:100..130 key:Am")
    page.check("#facet-key-compat")
    expect(page.locator("#q")).to_have_value("type:loop bpm:100..130 key:Am~")
    settled(page)
    expect(page.locator("#result-count")).to_have_text(re.compile(r"^\d+ samples?$"))
    keys = column(page, "key")
    assert keys and set(keys) <= {"Am", "C", "Em", "Dm", "G", "F"}
    screenshot(page, shots, "facets")
    # tags: the two "dark" samples of the fixture
    page.click("#clear-query")
    page.click("#facet-tags .chip[data-facet='tag:dark']")
    expect(page.locator("#q")).to_have_value("tag:dark")
    expect(page.locator("#result-count")).to_have_text("2 samples")
    settled(page)
    assert all("dark" in tags for tags in column(page, "tags"))


# -- audition ---------------------------------------------------------------------------------


def test_play_stop_seek_and_arrow_keys(page: Any, server: LiveServer, shots: Path) -> None:
    open_ui(page, server, "type:loop sort:name")
    first, second = visible_names(page)[:2]
    page.locator(".tr[data-id]").first.click()  # a click plays (the default)
    expect(page.locator("#detail-name")).to_have_text(first)
    wait_playing(page)
    expect(page.locator("#play-button")).to_have_text("■")
    page.keyboard.press("Space")  # stop
    wait_js(page, "document.querySelector('#player').paused")
    page.keyboard.press("Space")  # and again
    wait_playing(page)
    page.keyboard.press("Space")
    wait_js(page, "document.querySelector('#player').paused")
    # click on the waveform at 75 %: playback starts there
    box = page.locator("#wave").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    wait_js(page, "(() => { const a = document.querySelector('#player'); return !a.paused"
                           " && a.currentTime > a.duration * 0.7; })()")
    wait_js(page, "+document.querySelector('#wave').getAttribute('aria-valuenow') >= 70")
    screenshot(page, shots, "audition")
    # the arrow key moves to the next sample and plays it
    page.keyboard.press("ArrowDown")
    expect(page.locator("#detail-name")).to_have_text(second)
    expect(page.locator(".tr.active .name")).to_have_text(second)
    wait_js(page, "document.querySelector('#player').src.endsWith('/audio')"
                           " && !document.querySelector('#player').paused")
    wait_playing(page, 0.05)
    active_id = page.get_attribute(".tr.active", "data-id")
    assert page.evaluate("document.querySelector('#player').src").endswith(f"/samples/{active_id}/audio")
    page.keyboard.press("ArrowUp")
    expect(page.locator("#detail-name")).to_have_text(first)


def test_aiff_files_play_in_the_browser(page: Any, server: LiveServer) -> None:
    # Chromium has no AIFF decoder: the UI converts the file to WAV in memory.
    open_ui(page, server)
    open_row(page, "bass_E1.aiff")  # a click plays
    wait_playing(page)
    assert page.evaluate("document.querySelector('#player').src").startswith("blob:")


def test_auto_play_plays_on_selection(page: Any, server: LiveServer) -> None:
    open_ui(page, server, "cat:kick")
    expect(page.locator("#autoplay")).to_be_checked()  # "Click plays", on by default
    page.locator(".tr[data-id]").nth(1).click()
    wait_playing(page)


# -- detail: tags, corrections; similar; duplicates --------------------------------------------


def test_detail_shows_every_field_with_confidence_and_source(page: Any, server: LiveServer) -> None:
    open_ui(page, server)
    open_row(page, "bass_A1.wav")
    record = server.get("/api/v1/samples?q=" + urllib.parse.quote('name:"bass_A1.wav"'))["samples"][0]
    row = page.locator(".estimates tbody tr", has=page.locator("th", has_text="note"))
    expect(row.locator(".value")).to_contain_text(record["note"])
    expect(row.locator("meter")).to_have_attribute("value", str(record["note_confidence"]))
    expect(row.locator(".source")).to_have_text(record["note_source"])
    page.click(".all-fields summary")
    shown = set(page.eval_on_selector_all(".fields dt", "items => items.map(i => i.textContent)"))
    wanted = {name for name in record if not name.endswith(("_confidence", "_source"))} - {"schema_version"}
    assert wanted <= shown


def test_a_damaged_file_says_so_in_the_detail_panel(page: Any, tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    tone = (0.5 * np.sin(np.arange(44100) * 0.05)).astype(np.float32)
    sf.write(folder / "whole.wav", tone, 44100, subtype="PCM_16")
    data = (folder / "whole.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: len(data) // 3])
    with Library(tmp_path / "home", jobs=1, timeout=60) as library:
        library.scan([folder])
    live = LiveServer(tmp_path / "home", open_access=True, upload_dir=tmp_path / "up").start()
    try:
        open_ui(page, live)
        open_row(page, "cut.wav")
        expect(page.locator("#detail .damage")).to_contain_text("truncated: header declares 1.00 s")
        open_row(page, "whole.wav")
        expect(page.locator("#detail .damage")).to_have_count(0)
    finally:
        page.close()
        live.stop()


def test_tag_and_correct_a_sample(page: Any, server: LiveServer, shots: Path) -> None:
    open_ui(page, server)
    open_row(page, "kick_hard.wav")
    sample_id = int(page.get_attribute(".tr.active", "data-id"))
    page.fill("#tag-input", "Punchy")
    page.press("#tag-input", "Enter")
    expect(page.locator(".tag-list .tag", has_text="punchy")).to_have_count(1)
    assert "punchy" in server.get(f"/api/v1/samples/{sample_id}")["tags"]
    expect(page.locator("#facet-tags .chip[data-facet='tag:punchy']")).to_be_visible()
    expect(page.locator(f".tr[data-id='{sample_id}'] .tags-cell")).to_contain_text("punchy")
    # corrections: bpm and category, with source user
    page.fill("#fix-bpm", "99")
    page.select_option("#fix-category", "perc")
    page.click("#save-corrections")
    bpm_row = page.locator(".estimates tbody tr", has=page.locator("th", has_text="bpm"))
    expect(bpm_row.locator(".value")).to_contain_text("99")
    expect(bpm_row.locator(".source")).to_have_text("user")
    record = server.get(f"/api/v1/samples/{sample_id}")
    assert record["bpm"] == 99 and record["bpm_source"] == "user"
    assert record["category"] == "perc" and record["category_source"] == "user"
    expect(page.locator(f".tr[data-id='{sample_id}'] .num").first).to_have_text("99")
    screenshot(page, shots, "detail-corrected")
    # "auto" removes a correction; × removes a tag
    bpm_row.locator("button", has_text="auto").click()
    expect(bpm_row.locator(".value")).to_have_text("—")
    page.click("button[aria-label='Remove tag punchy']")
    expect(page.locator(".tag-list .tag", has_text="punchy")).to_have_count(0)
    record = server.get(f"/api/v1/samples/{sample_id}")
    assert record["bpm"] is None and "punchy" not in record["tags"] and record["category"] == "perc"


def test_similar_sounds_with_aspect_weights(page: Any, server: LiveServer, shots: Path) -> None:
    open_ui(page, server)
    open_row(page, "kick_deep.wav")
    sample_id = page.get_attribute(".tr.active", "data-id")
    with page.expect_response(lambda r: f"/samples/{sample_id}/similar" in r.url) as answer:
        page.keyboard.press("s")
    assert "aspect=timbre%3D1" in answer.value.url
    # the hits are the main list, after the sample they are like
    expect(page.locator("#list-source")).to_contain_text("Similar to kick_deep.wav")
    expected = server.get(f"/api/v1/samples/{sample_id}/similar?k=12&aspect="
                          + urllib.parse.quote("timbre=1,spectral=1,envelope=1,tonal=1,rhythm=1"))
    listed = "JSON.stringify(window.samplemind.rows().map(r => r.id)) === JSON.stringify(ids)"
    wait_js(page, f"ids => {listed}", arg=[int(sample_id), *(h["id"] for h in expected["hits"])])
    # weights: rhythm off, timbre x3 -> a new search with those weights
    with page.expect_response(lambda r: "timbre%3D3" in r.url and "rhythm%3D0" in r.url) as answer:
        page.eval_on_selector("#aspect-rhythm",
                              "el => { el.value = '0'; el.dispatchEvent(new Event('input')); }")
        page.focus("#aspect-timbre")
        for _ in range(4):
            page.keyboard.press("ArrowRight")
    assert answer.value.status == 200
    expect(page.locator("output[for=aspect-timbre]")).to_have_text("3")
    weighted = server.get(f"/api/v1/samples/{sample_id}/similar?k=12&aspect="
                          + urllib.parse.quote("timbre=3,spectral=1,envelope=1,tonal=1,rhythm=0"))
    wait_js(page, f"ids => {listed}", arg=[int(sample_id), *(h["id"] for h in weighted["hits"])])
    screenshot(page, shots, "similar")
    # a hit opens (and plays) that sample
    hit = weighted["hits"][1]
    page.locator(f".tr[data-id='{hit['id']}']").click()
    expect(page.locator("#detail-name")).to_have_text(hit["name"])
    wait_playing(page)


def test_duplicate_groups_show_the_keeper(page: Any, server: LiveServer, shots: Path) -> None:
    open_ui(page, server)
    page.click("#tab-dupes")
    group = page.locator(".group").first
    expect(group).to_be_visible()
    (expected,) = server.get("/api/v1/dupes")["groups"]
    expect(group.locator("li.keeper .name")).to_have_text("kick_deep.wav")
    expect(group.locator("li.keeper .badge")).to_have_text("keep")
    expect(group.locator("li.keeper .path")).to_have_text(expected["keeper"]["path"])
    expect(group.locator("li.other .path")).to_have_text([other["path"] for other in expected["others"]])
    expect(group).to_contain_text(expected["reason"])
    expect(page.locator("#dupes-status")).to_contain_text("1 group(s), 1 redundant")
    screenshot(page, shots, "duplicates")
    group.locator("li.other .play").click()
    wait_playing(page)


# -- map: tests/test_ui_map.py -----------------------------------------------------------------


def test_export_the_selected_rows_as_a_zip(page: Any, server: LiveServer) -> None:
    open_ui(page, server, "cat:hihat sort:name")
    names = visible_names(page)
    rows = page.locator(".tr[data-id]")
    rows.nth(0).click()
    rows.nth(2).click(modifiers=["Control"])
    page.keyboard.press("Shift+ArrowDown")  # from the anchor (row 2) to row 3
    expect(page.locator("#selection-bar")).to_contain_text("3 selected")
    with page.expect_download() as download:
        page.click("#export-button")
    assert download.value.suggested_filename == "samplemind-3-samples.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as kit:
        exported = sorted(Path(name).name for name in kit.namelist() if not name.endswith(".json"))
    assert exported == sorted([names[0], names[2], names[3]])
    page.keyboard.press("Escape")
    expect(page.locator("#selection-bar")).to_be_hidden()


def test_export_a_selection_too_scattered_for_one_query(page: Any, tmp_path: Path) -> None:
    # 600 kicks with every other id: as an id: query that is ~2,500 characters, over the
    # 2,000 a query may have, so the UI posts the ids and downloads the URL it gets back
    live = LiveServer(tiny_library(tmp_path / "many", 1200), open_access=True,
                      upload_dir=tmp_path / "uploads").start()
    try:
        kicks = live.get("/api/v1/samples?limit=1000&q=cat:kick")["samples"]
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        open_ui(page, live, "cat:kick")
        expect(page.locator("#result-count")).to_contain_text("600 samples")
        page.focus("#grid")
        for _ in range(40):  # to the last row, pages fetched on the way
            page.keyboard.press("End")
            if page.locator(".tr.active .name").text_content() == kicks[-1]["name"]:
                break
            wait_js(page, "!window.samplemind.state.loading")
        page.keyboard.press("Shift+Home")
        expect(page.locator("#selection-bar")).to_contain_text("600 selected")
        selected = page.evaluate("[...window.samplemind.state.selection]")
        assert sorted(selected) == sorted(s["id"] for s in kicks)
        assert len(id_term(selected)) > 2000
        with page.expect_download() as download:
            page.click("#export-button")
        assert download.value.suggested_filename == "samplemind-600-samples.zip"
        assert posts == [live.url + "/api/v1/exports"]
        assert download.value.url.startswith(live.url + "/api/v1/exports/")
        with zipfile.ZipFile(download.value.path()) as kit:
            manifest = json.loads(kit.read("samplemind-export.json"))
            audio = [name for name in kit.namelist() if not name.endswith(".json")]
        assert sorted(item["id"] for item in manifest["items"]) == sorted(selected)
        assert sorted(Path(name).name for name in audio) == sorted(s["name"] for s in kicks)
        expect(page.locator("#banner")).to_contain_text("Exporting 600 selected sample(s)")
    finally:
        page.close()  # its WebSocket too, so the server stops at once
        live.stop()


# -- uploads and scans --------------------------------------------------------------------------


def test_drag_and_drop_upload_shows_live_progress(page: Any, server: LiveServer, tmp_path: Path,
                                                  shots: Path) -> None:
    open_ui(page, server)
    wav = write_hit(tmp_path / "dropped_rimshot.wav", freq=412.0, seconds=0.6, seed=41)
    data = base64.b64encode(wav.read_bytes()).decode()
    page.evaluate("""data => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'dropped_rimshot.wav', {type: 'audio/wav'}));
        window.dispatchEvent(new DragEvent('dragenter', {dataTransfer: transfer}));
        window.__dropOverlayShown = !document.querySelector('#drop').hidden;
        window.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, cancelable: true}));
    }""", data)
    assert page.evaluate("window.__dropOverlayShown")
    card = page.locator(".job").first
    expect(card).to_have_attribute("data-status", "done", timeout=60_000)
    assert int(card.get_attribute("data-uploaded")) >= len(wav.read_bytes())
    assert card.get_attribute("data-via") == "ws"  # the finish came over the WebSocket
    expect(card.locator(".job-text")).to_contain_text("1 added")
    screenshot(page, shots, "upload-done")
    # the new sample shows up in the list by itself (samples.added)
    run_query(page, "dropped")
    expect(page.locator(".tr[data-id] .name")).to_have_text(["dropped_rimshot.wav"])


def test_a_scan_reports_progress_over_the_websocket(page: Any, server: LiveServer, catalog: tuple) -> None:
    open_ui(page, server)
    page.click("#scan-button")
    stats = server.get("/api/v1/stats")
    expect(page.locator("#scan-path")).to_have_value(stats["roots"][0])
    page.click("#scan-start")
    card = page.locator(".job").first
    expect(card).to_have_attribute("data-status", "done", timeout=60_000)
    expect(card.locator(".job-text")).to_contain_text("0 added")
    # a folder the server may not scan is refused with the server's reason
    page.click("#scan-button")
    page.fill("#scan-path", "/etc")
    page.click("#scan-start")
    expect(page.locator("#scan-error")).to_contain_text("outside the folders")


# -- many rows -----------------------------------------------------------------------------------


def bulk_home(home: Path, count: int) -> Path:
    """A catalog of `count` generated records (no audio), written in one transaction."""
    categories = ("kick", "snare", "hihat", "bass", "pad", None)
    with Library(home) as library:
        catalog = library.catalog
        with catalog.transaction():
            catalog.conn.executemany(
                "INSERT INTO samples (path, root, name, hash, format, type, category, bpm, duration, "
                "loudness_lufs, sample_rate) VALUES (?, ?, ?, ?, 'wav', ?, ?, ?, ?, ?, 44100)",
                [(f"/lib/Pack{i % 50:02d}/row_{i:05d}.wav", "/lib", f"row_{i:05d}.wav", f"{i:032x}",
                  "loop" if i % 3 == 0 else "oneshot", categories[i % len(categories)],
                  90 + i % 80 if i % 3 == 0 else None, 0.5 + (i % 40) / 10, -30 + i % 25)
                 for i in range(count)])
    return home


def test_thousands_of_rows_scroll_with_few_in_the_dom(page: Any, tmp_path: Path) -> None:
    live = LiveServer(bulk_home(tmp_path / "bulk", 3000), open_access=True,
                      upload_dir=tmp_path / "uploads").start()
    try:
        cursors: list[str] = []
        page.on("request", lambda r: cursors.append(r.url) if "cursor=" in r.url else None)
        open_ui(page, live)
        expect(page.locator("#result-count")).to_contain_text("3,000 samples")
        page.focus("#grid")
        most = 0
        for _ in range(80):
            page.keyboard.press("End")
            most = max(most, page.locator(".tr").count())
            if page.locator(".tr.active .name").text_content() == "row_02999.wav":
                break
            wait_js(page, "!window.samplemind.state.loading")
        expect(page.locator(".tr.active .name")).to_have_text("row_02999.wav")
        expect(page.locator("#result-count")).to_have_text("3,000 samples")
        assert most < 120, most  # virtualised: a screenful and a margin, not 3,000 rows
        assert len(cursors) >= 3  # pages fetched by cursor as the view moved down
        page.keyboard.press("Home")
        expect(page.locator(".tr.active .name")).to_have_text("row_00000.wav")
    finally:
        page.close()  # its WebSocket too, so the server stops at once
        live.stop()


# -- layout and keyboard -------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 1920])
def test_readable_at_laptop_and_desktop_widths(browser: Any, server: LiveServer, shots: Path,
                                              width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900 if width == 1280 else 1080})
    try:
        page = context.new_page()
        open_ui(page, server, "type:loop")
        page.locator(".tr[data-id]").first.click()
        expect(page.locator("#detail-name")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        grid = page.locator("#grid").bounding_box()
        for field in ("name", "bpm", "key", "tags"):  # every column header fits in the grid
            cell = page.locator(f".thead [data-field={field}]").bounding_box()
            assert cell["x"] >= grid["x"] and cell["x"] + cell["width"] <= grid["x"] + grid["width"] + 1
        for selector in ("#save-corrections", "#similar-button", "#q"):
            box = page.locator(selector).bounding_box()
            assert box["x"] + box["width"] <= width, selector
        font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.tr')).fontSize)")
        assert font >= 13
        screenshot(page, shots, f"browse-{width}")
    finally:
        context.close()


def test_keyboard_only_use(page: Any, server: LiveServer) -> None:
    open_ui(page, server)
    # focus order starts with the skip link, then the query
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "grid"
    page.keyboard.press("ArrowDown")
    expect(page.locator(".tr.active")).to_have_attribute("aria-selected", "true")
    active = page.get_attribute(".tr.active", "id")
    assert page.get_attribute("#grid", "aria-activedescendant") == active
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    # tabs move with the arrow keys
    page.focus("#tab-browse")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-map")).to_have_attribute("aria-selected", "true")
    assert page.evaluate("document.activeElement.id") == "tab-map"
    page.keyboard.press("1")
    expect(page.locator("#tab-browse")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()
    # every control has a name a screen reader can say
    unnamed = page.evaluate("""[...document.querySelectorAll('button, input, select, canvas, [role=grid]')]
        .filter(e => e.offsetParent !== null || e.id === 'grid')
        .filter(e => !(e.getAttribute('aria-label') || e.textContent.trim() || e.labels?.length
                       || e.getAttribute('title') || e.getAttribute('placeholder')))
        .map(e => e.outerHTML.slice(0, 80))""")
    assert unnamed == []


# -- accounts ----------------------------------------------------------------------------------


def log_in(page: Any, server: LiveServer, name: str, password: str = PASSWORD) -> None:
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")


def test_login_page_when_accounts_are_on(page: Any, account_server: LiveServer, shots: Path) -> None:
    page.goto(account_server.url + "/")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    screenshot(page, shots, "login")
    log_in(page, account_server, "alice", "not the password")
    expect(page.locator("#login-error")).to_have_text("Wrong name or password.")
    log_in(page, account_server, "alice")
    page.wait_for_selector(".tr[data-id]")
    expect(page.locator("#who")).to_contain_text("alice")
    expect(page.locator("#who .role")).to_have_text("editor")
    # an editor sees edit controls, and they work with the session's CSRF token
    expect(page.locator("#upload-button")).to_be_visible()
    page.locator(".tr[data-id]").first.click()
    page.fill("#tag-input", "alice-was-here")
    page.press("#tag-input", "Enter")
    expect(page.locator(".tag-list .tag")).to_contain_text(["alice-was-here×"])
    # log out: back to the login page
    page.click("#logout-button")
    expect(page.locator("#login")).to_be_visible()


def test_a_viewer_sees_no_edit_controls(page: Any, account_server: LiveServer, shots: Path) -> None:
    page.goto(account_server.url + "/")
    log_in(page, account_server, "bob")
    page.wait_for_selector(".tr[data-id]")
    expect(page.locator("#who .role")).to_have_text("viewer")
    page.locator(".tr[data-id]").first.click()
    expect(page.locator("#detail-name")).to_be_visible()
    for selector in ("#upload-button", "#scan-button", "#save-corrections", "#tag-input",
                     "#correct-form", ".tag .remove", "#fix-bpm"):
        assert page.locator(selector).count() == 0, selector
    # a viewer still listens, searches, finds similar sounds and exports
    wait_playing(page)  # the click played it
    page.click("#similar-button")
    expect(page.locator("#list-source")).to_contain_text("Similar to")
    page.locator(".tr[data-id]").nth(1).click(modifiers=["Control"])
    expect(page.locator("#selection-bar")).to_contain_text("2 selected")
    assert page.locator("#selection-bar input").count() == 0
    expect(page.locator("#export-button")).to_be_visible()
    screenshot(page, shots, "viewer")
    with page.expect_download() as download:  # the POST carries the session's CSRF token
        page.click("#export-button")
    with zipfile.ZipFile(download.value.path()) as kit:
        assert len([name for name in kit.namelist() if not name.endswith(".json")]) == 2


def test_an_expired_session_says_so_and_logs_in_again(page: Any, account_server: LiveServer,
                                                      shots: Path) -> None:
    page.goto(account_server.url + "/")
    log_in(page, account_server, "alice")
    page.wait_for_selector(".tr[data-id]")
    assert account_server.store.end_sessions("alice") >= 1  # expired, or ended elsewhere
    page.fill("#q", "cat:kick")
    page.press("#q", "Enter")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-why")).to_contain_text("session has expired")
    expect(page.locator("#login-name")).to_have_value("alice")
    screenshot(page, shots, "session-expired")
    log_in(page, account_server, "alice")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#result-count")).to_have_text(count_text(account_server, "cat:kick"))
    settled(page)
    assert set(column(page, "category")) == {"kick"}


# -- local AI: plain words and describe (the fake Ollama of test_ai_fake_ollama.py) --------


def test_ask_turns_plain_words_into_the_query(page: Any, server: LiveServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from test_ai_fake_ollama import free_port_with_nothing_listening

    # No Ollama here: the built-in translator answers, and says so.
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port_with_nothing_listening()}")
    open_ui(page, server)
    page.fill("#q", "snare one-shots")
    page.click("#ask-button")
    expect(page.locator("#q")).to_have_value("cat:snare type:oneshot")
    expect(page.locator("#banner")).to_contain_text("built-in translator")
    expect(page.locator("#result-count")).to_have_text(count_text(server, "cat:snare type:oneshot"))


def test_describe_shows_the_models_answer(page: Any, server: LiveServer, fake_ollama: Any) -> None:
    open_ui(page, server, "cat:kick sort:name")
    first = page.locator(".tr[data-id]").first
    sample_id = first.get_attribute("data-id")
    first.click()
    name = page.locator("#detail-name").inner_text()
    page.click("#describe-button")
    stem = name.rsplit(".", 1)[0].lower()
    expect(page.locator("#ai-description")).to_contain_text(f"A clean test sound called {stem}.")
    expect(page.locator("#ai-description")).to_contain_text("mood: calm")
    assert any(f"name: {name}" in prompt for prompt in fake_ollama.prompts())
    # the model's tags are stored (source ai) and the open detail shows them
    assert "warm" in server.get(f"/api/v1/samples/{sample_id}")["tags"]
    expect(page.locator(".tags-box .tag-list")).to_contain_text("warm")
