"""The web UI as a producer lives in it (issue 23), in real headless Chromium against a real
server on 127.0.0.1: a player that never goes silent, lists you can walk with the arrow keys
(similar sounds, the history), messages that fit the person, the transport (click plays,
loops loop, project tempo and key) and the layout at phone, tablet and laptop widths.

The server, the catalog and the browser are test_ui_browser.py's fixtures.
"""

from __future__ import annotations

import base64
import io
import json
import re
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

import pytest
import test_ui_browser as ui
from playwright.sync_api import expect
from test_ui_browser import (
    LiveServer,
    log_in,
    open_row,
    open_ui,
    run_query,
    screenshot,
    settled,
    visible_names,
    wait_js,
    wait_playing,
)

from samplemind import Library

from helpers import write_hit

# test_ui_browser.py's fixtures: the scanned demo catalog, its servers, the browser, the page
catalog, server, account_server = ui.catalog, ui.server, ui.account_server
browser, page, page_errors, shots = ui.browser, ui.page, ui.page_errors, ui.shots

pytestmark = pytest.mark.slow  # a browser: `pytest -m "not slow"` leaves it out


def stop_audio(page: Any) -> None:
    page.evaluate("(() => { const a = document.querySelector('#player'); a.pause(); })()")
    wait_js(page, "document.querySelector('#player').paused")


def row_ids(page: Any) -> list[int]:
    """Every row the list holds (not only the rendered ones), in order."""
    return page.evaluate("window.samplemind.rows().map(r => r.id)")


# -- defect 1: play never goes silent ---------------------------------------------------------


def test_play_still_works_after_tagging_and_a_teammates_edit(page: Any, server: LiveServer) -> None:
    open_ui(page, server, "cat:snare sort:name")
    page.locator(".tr[data-id]").first.click()
    sample_id = int(page.get_attribute(".tr.active", "data-id"))
    stop_audio(page)
    # my own tag: the open record is replaced by the server's answer
    page.fill("#tag-input", "crispy")
    page.press("#tag-input", "Enter")
    expect(page.locator(".tag-list .tag", has_text="crispy")).to_have_count(1)
    page.click("#play-button")
    wait_playing(page)
    stop_audio(page)
    # a teammate's tag arrives over the WebSocket and replaces the record again
    with Library(server.home) as library:
        library.tag([str(sample_id)], ["teammate"])
    expect(page.locator(".tag-list .tag", has_text="teammate")).to_have_count(1)
    page.locator("#grid").focus()
    page.keyboard.press("Space")
    wait_playing(page)
    stop_audio(page)
    # a correction, then a click on the waveform
    page.fill("#fix-bpm", "97")
    page.click("#save-corrections")
    expect(page.locator(".estimates [data-field=bpm]")).to_contain_text("97")
    page.locator("#wave").click(position={"x": 12, "y": 30})  # waits for the re-drawn panel
    wait_playing(page)


# -- defect 3: a selection never hides ---------------------------------------------------------


def test_a_map_selection_is_cleared_on_leaving_the_map(page: Any, server: LiveServer) -> None:
    open_ui(page, server)
    page.click("#tab-map")
    expect(page.locator("#map-status")).to_contain_text("49 samples")
    box = page.locator("#map").bounding_box()
    page.keyboard.down("Shift")  # Shift+drag selects a region (a plain drag pans the map)
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")
    expect(page.locator("#map-selection-bar")).to_contain_text("49 selected")
    page.click("#tab-browse")
    run_query(page, "cat:kick")
    expect(page.locator("#selection-bar")).to_be_hidden()
    assert page.evaluate("window.samplemind.state.selection.size") == 0
    kicks = server.get("/api/v1/samples?limit=1000&q=cat:kick")["samples"]
    with page.expect_download() as download:
        page.click("#export-button")
    with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as kit:
        manifest = json.loads(kit.read("samplemind-export.json"))
    assert sorted(item["id"] for item in manifest["items"]) == sorted(s["id"] for s in kicks)


# -- defect 4: similar sounds are a list you walk ----------------------------------------------


def test_similar_sounds_load_into_the_list_and_the_arrow_keys_walk_them(
        page: Any, server: LiveServer, shots: Path, page_errors: list[str]) -> None:
    open_ui(page, server, "cat:kick sort:name")
    page.locator(".tr[data-id]", has_text="kick_deep.wav").first.click()
    expect(page.locator("#detail-name")).to_have_text("kick_deep.wav")
    anchor = int(page.get_attribute(".tr.active", "data-id"))
    page.eval_on_selector("#aspect-rhythm", "el => { el.value = '0'; el.dispatchEvent(new Event('input')); }")
    page.locator("#grid").focus()
    page.keyboard.press("s")
    expected = server.get(f"/api/v1/samples/{anchor}/similar?k=12&aspect="
                          + urllib.parse.quote("timbre=1,spectral=1,envelope=1,tonal=1,rhythm=0"))
    hits = [h["id"] for h in expected["hits"]]
    wait_js(page, "ids => JSON.stringify(window.samplemind.rows().map(r => r.id)) === JSON.stringify(ids)",
            arg=[anchor, *hits])
    expect(page.locator("#list-source")).to_contain_text("Similar to kick_deep.wav")
    screenshot(page, shots, "similar-list")
    # the arrow keys audition the hits in turn; the list, the sliders and the highlight follow
    for step, hit in enumerate(expected["hits"][:3], start=1):
        page.keyboard.press("ArrowDown")
        expect(page.locator("#detail-name")).to_have_text(hit["name"])
        expect(page.locator(".tr.active")).to_have_attribute("data-id", str(hit["id"]))
        wait_js(page, f"document.querySelector('#player').src.endsWith('/samples/{hit['id']}/audio')")
        wait_playing(page)
        assert row_ids(page) == [anchor, *hits], step
        expect(page.locator("#aspect-rhythm")).to_have_value("0")
    # a click on another hit opens it and keeps the list
    page.locator(f".tr[data-id='{hits[5]}']").click()
    expect(page.locator("#detail-name")).to_have_text(expected["hits"][5]["name"])
    expect(page.locator(".tr.active")).to_have_attribute("data-id", str(hits[5]))
    assert row_ids(page) == [anchor, *hits]
    # Back returns to the query the list came from
    page.go_back()
    expect(page.locator("#q")).to_have_value("cat:kick sort:name")
    settled(page)
    expect(page.locator("#list-source")).to_be_hidden()
    assert [r["category"] for r in page.evaluate("window.samplemind.rows()")] == ["kick"] * len(row_ids(page))
    assert page_errors == []


def test_a_duplicate_group_loads_into_the_list_and_the_arrow_keys_walk_it(
        page: Any, server: LiveServer, page_errors: list[str]) -> None:
    groups = server.get("/api/v1/dupes")["groups"]
    group = max(groups, key=lambda g: len(g["others"]))
    order = [group["keeper"]["id"], *(other["id"] for other in group["others"])]
    open_ui(page, server, "cat:kick sort:name")
    page.click("#tab-dupes")
    article = page.locator("#dupes article.group").nth(groups.index(group))
    article.locator("button.list-them").click()
    expect(page.locator("#view-browse")).to_be_visible()
    expect(page.locator("#list-source")).to_contain_text("A group of duplicates")
    # exactly the group's files, in the group's order (the keeper first)
    wait_js(page, "ids => JSON.stringify(window.samplemind.rows().map(r => r.id)) === JSON.stringify(ids)",
            arg=order)
    expect(page.locator(".tr.active")).to_have_attribute("data-id", str(order[0]))
    # the arrow keys audition the group in turn
    page.keyboard.press("ArrowDown")
    second = server.get(f"/api/v1/samples/{order[1]}")
    expect(page.locator("#detail-name")).to_have_text(second["name"])
    expect(page.locator(".tr.active")).to_have_attribute("data-id", str(order[1]))
    wait_js(page, f"document.querySelector('#player').src.endsWith('/samples/{order[1]}/audio')")
    wait_playing(page)
    assert row_ids(page) == order
    # Back returns to the query's list; Forward brings the group back
    page.go_back()
    expect(page.locator("#q")).to_have_value("cat:kick sort:name")
    settled(page)
    expect(page.locator("#list-source")).to_be_hidden()
    assert {r["category"] for r in page.evaluate("window.samplemind.rows()")} == {"kick"}
    page.go_forward()
    wait_js(page, "ids => JSON.stringify(window.samplemind.rows().map(r => r.id)) === JSON.stringify(ids)",
            arg=order)
    page.click("#list-back")  # the line above the list leads back to the Duplicates view
    expect(page.locator("#view-dupes")).to_be_visible()
    assert page_errors == []


# -- defect 5: the detail panel starts at its top ------------------------------------------------


def test_the_detail_panel_starts_at_the_top_for_each_sample(page: Any, server: LiveServer) -> None:
    open_ui(page, server, "cat:kick sort:name")
    names = visible_names(page)
    page.locator(".tr[data-id]").first.click()
    expect(page.locator("#detail-name")).to_have_text(names[0])
    page.click(".all-fields summary")  # long enough to scroll
    page.evaluate("(() => { const d = document.querySelector('#detail'); d.scrollTop = d.scrollHeight; })()")
    wait_js(page, "document.querySelector('#detail').scrollTop > 200")
    page.locator("#grid").focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#detail-name")).to_have_text(names[1])
    assert page.evaluate("document.querySelector('#detail').scrollTop") == 0


# -- defect 6: Back and Forward walk the lists ---------------------------------------------------


def test_back_and_forward_change_the_list_with_the_address(page: Any, server: LiveServer) -> None:
    open_ui(page, server)
    run_query(page, "cat:kick")
    run_query(page, "cat:snare")
    page.go_back()
    expect(page.locator("#q")).to_have_value("cat:kick")
    settled(page)
    assert {r["category"] for r in page.evaluate("window.samplemind.rows()")} == {"kick"}
    page.go_back()
    expect(page.locator("#q")).to_have_value("")
    settled(page)
    expect(page.locator("#result-count")).to_have_text("49 samples")
    page.go_forward()
    expect(page.locator("#q")).to_have_value("cat:kick")
    settled(page)
    assert {r["category"] for r in page.evaluate("window.samplemind.rows()")} == {"kick"}
    # a facet click is a step in the history too
    page.click("#facet-type .chip[data-facet='type:loop']")
    expect(page.locator("#q")).to_have_value("cat:kick type:loop")
    page.go_back()
    expect(page.locator("#q")).to_have_value("cat:kick")


# -- defect 8: messages that fit the person --------------------------------------------------------


def dead_ollama(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_ai_fake_ollama import free_port_with_nothing_listening

    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port_with_nothing_listening()}")


def test_a_viewer_is_told_ai_is_unavailable_and_an_admin_gets_the_fix(
        page: Any, server: LiveServer, account_server: LiveServer, browser: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dead_ollama(monkeypatch)
    page.goto(account_server.url + "/")
    log_in(page, account_server, "bob")
    page.wait_for_selector(".tr[data-id]")
    page.fill("#q", "punchy kick drums")
    page.click("#ask-button")
    expect(page.locator("#banner")).to_contain_text("AI is not available on this server")
    assert "ollama" not in page.locator("#banner").inner_text().lower()
    # the admin (open access: everyone is the local admin) sees what to run
    admin = browser.new_page()
    try:
        open_ui(admin, server)
        admin.fill("#q", "punchy kick drums")
        admin.click("#ask-button")
        expect(admin.locator("#banner")).to_contain_text("ollama serve")
    finally:
        admin.close()


def test_a_viewer_dropping_a_file_stays_on_the_page(page: Any, account_server: LiveServer,
                                                   tmp_path: Path) -> None:
    page.goto(account_server.url + "/")
    log_in(page, account_server, "bob")
    page.wait_for_selector(".tr[data-id]")
    url = page.url
    wav = write_hit(tmp_path / "stray.wav", freq=300.0, seconds=0.3, seed=3)
    data = base64.b64encode(wav.read_bytes()).decode()
    prevented = page.evaluate("""data => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'stray.wav', {type: 'audio/wav'}));
        const fire = (type) => window.dispatchEvent(
            new DragEvent(type, {dataTransfer: transfer, cancelable: true}));
        const over = !fire('dragover');
        const drop = !fire('drop');
        return [over, drop];
    }""", data)
    assert prevented == [True, True]  # the browser would otherwise open the file instead of the app
    expect(page.locator("#banner")).to_contain_text("editor role")
    assert page.url == url


# -- the transport ----------------------------------------------------------------------------


def test_a_click_plays_and_the_setting_turns_it_off(page: Any, server: LiveServer) -> None:
    open_ui(page, server, "cat:kick sort:name")
    expect(page.locator("#autoplay")).to_be_checked()  # on by default
    page.locator(".tr[data-id]").nth(1).click()
    wait_playing(page, 0.01)
    stop_audio(page)
    page.uncheck("#autoplay")
    page.locator(".tr[data-id]").nth(2).click()
    expect(page.locator("#detail-name")).to_have_text(visible_names(page)[2])
    page.wait_for_timeout(300)  # a click that would play has started by now
    assert page.evaluate("document.querySelector('#player').paused")
    # the setting is remembered
    page.reload()
    page.wait_for_selector(".tr[data-id]")
    expect(page.locator("#autoplay")).not_to_be_checked()


def test_loops_loop_and_one_shots_do_not(page: Any, server: LiveServer) -> None:
    open_ui(page, server)
    expect(page.locator("#loop-toggle")).to_be_checked()
    open_row(page, "drum_loop_174bpm.ogg")  # 2.8 s
    wait_playing(page)
    assert page.evaluate("document.querySelector('#player').loop")
    wait_js(page, "(() => { const a = document.querySelector('#player');"
                  " return a.currentTime > a.duration * 0.7; })()")
    # it goes round: the time comes back near the start and it is still playing
    wait_js(page, "(() => { const a = document.querySelector('#player');"
                  " return !a.paused && a.currentTime < a.duration * 0.3; })()")
    # a one-shot plays once
    open_row(page, "clap_dry.wav")
    wait_js(page, "document.querySelector('#player').src.includes('/audio')"
                  " && !document.querySelector('#player').loop")
    wait_js(page, "document.querySelector('#player').ended")
    # the toggle turns looping off for loops too
    open_row(page, "drum_loop_174bpm.ogg")
    page.uncheck("#loop-toggle")
    wait_js(page, "!document.querySelector('#player').loop")


def test_project_tempo_and_key_preview_at_the_projects_speed(page: Any, server: LiveServer) -> None:
    open_ui(page, server)
    page.fill("#tempo", "150")
    page.press("#tempo", "Enter")
    open_row(page, "drum_loop_120bpm.flac")
    wait_playing(page)
    assert page.evaluate("document.querySelector('#player').playbackRate") == pytest.approx(150 / 120)
    assert page.evaluate("document.querySelector('#player').preservesPitch") is True
    expect(page.locator("#preview-note")).to_contain_text("120 → 150 BPM")
    # one-shots with a note: transposed to the project key (A1 -> C is 3 semitones up)
    page.select_option("#project-key", "C")
    open_row(page, "bass_A1.wav")
    wait_playing(page)
    assert page.evaluate("document.querySelector('#player').playbackRate") == pytest.approx(2 ** (3 / 12))
    assert page.evaluate("document.querySelector('#player').preservesPitch") is False
    # a sound with no note plays as it is
    open_row(page, "kick_punchy.wav")
    wait_playing(page)
    assert page.evaluate("document.querySelector('#player').playbackRate") == 1
    # volume
    page.fill("#volume", "0.25")
    page.dispatch_event("#volume", "input")
    assert page.evaluate("document.querySelector('#player').volume") == pytest.approx(0.25)


def test_the_waveform_scrubs(page: Any, server: LiveServer) -> None:
    open_ui(page, server)
    open_row(page, "drum_loop_90bpm.wav")  # 5.3 s
    wait_playing(page)
    box = page.locator("#wave").bounding_box()
    middle = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.1, middle)
    page.mouse.down()
    wait_js(page, "(() => { const a = document.querySelector('#player');"
                  " return a.currentTime < a.duration * 0.3; })()")
    page.mouse.move(box["x"] + box["width"] * 0.7, middle, steps=8)  # dragged: the sound follows
    wait_js(page, "(() => { const a = document.querySelector('#player');"
                  " return a.currentTime >= a.duration * 0.65 && a.currentTime < a.duration * 0.95; })()")
    page.mouse.up()
    wait_js(page, "+document.querySelector('#wave').getAttribute('aria-valuenow') >= 65")


# -- any screen ------------------------------------------------------------------------------


def tappable(page: Any, selector: str) -> bool:
    """Visible, in the viewport, and the element a tap at its centre lands on."""
    return page.evaluate("""selector => {
        const node = document.querySelector(selector);
        if (!node) return false;
        const box = node.getBoundingClientRect();
        if (box.width < 1 || box.height < 1) return false;
        const x = box.left + box.width / 2, y = box.top + box.height / 2;
        if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return false;
        const hit = document.elementFromPoint(x, y);
        return hit === node || node.contains(hit);
    }""", selector)


def no_horizontal_overflow(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"
                         " && document.body.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [420, 768, 1366])
def test_every_view_fits_and_answers_a_tap(browser: Any, server: LiveServer, shots: Path,
                                           width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800}, has_touch=True)
    try:
        page = context.new_page()
        open_ui(page, server, "cat:snare sort:name")
        narrow = width < 900
        assert no_horizontal_overflow(page)
        grid = page.locator("#grid").bounding_box()
        assert grid["width"] >= (width * 0.9 if narrow else 500)
        first = page.locator(".tr[data-id]").first
        assert tappable(page, ".tr[data-id] .row-play")
        # filters: a drawer below 900 px, a column above
        if narrow:
            expect(page.locator(".facets")).to_be_hidden()
            page.locator("#filters-button").tap()
            expect(page.locator(".facets")).to_be_visible()
            assert tappable(page, "#facet-type .chip[data-facet='type:oneshot']")
            page.locator("#facet-type .chip[data-facet='type:oneshot']").tap()
            expect(page.locator("#q")).to_have_value("cat:snare sort:name type:oneshot")
            page.locator("#filters-close").tap()
            expect(page.locator(".facets")).to_be_hidden()
            settled(page)
        else:
            expect(page.locator("#filters-button")).to_be_hidden()
            expect(page.locator(".facets")).to_be_visible()
        # a row's play button plays it; the details show (a bottom sheet when narrow)
        first.locator(".row-play").tap()
        wait_playing(page)
        expect(page.locator("#detail-name")).to_be_visible()
        assert tappable(page, "#play-button")
        assert no_horizontal_overflow(page)
        screenshot(page, shots, f"browse-{width}")
        if narrow:
            sheet = page.locator("#detail").bounding_box()
            assert sheet["y"] > 800 * 0.3 and sheet["y"] + sheet["height"] <= 800 + 1
            # the transport stays reachable under the open sheet: every control answers a tap
            for control in ("#autoplay", "#loop-toggle", "#volume", "#tempo", "#project-key"):
                assert tappable(page, control), control
            looping = page.locator("#loop-toggle").is_checked()
            page.locator("#loop-toggle").tap()
            expect(page.locator("#loop-toggle")).to_be_checked(checked=not looping)
            page.locator("#loop-toggle").tap()
            page.locator("#tempo").tap()
            expect(page.locator("#tempo")).to_be_focused()
            expect(page.locator("#detail-name")).to_be_visible()  # the sheet is still open
            page.locator("#detail-close").tap()
            expect(page.locator("#detail-name")).to_be_hidden()
            assert tappable(page, ".tr[data-id] .row-play")
        # the map and the duplicates
        page.locator("#tab-map").tap()
        expect(page.locator("#map-status")).to_contain_text("samples")
        assert tappable(page, "#map")
        assert no_horizontal_overflow(page)
        screenshot(page, shots, f"map-{width}")
        page.locator("#tab-dupes").tap()
        expect(page.locator(".group").first).to_be_visible()
        assert tappable(page, ".group li.other .play")
        assert no_horizontal_overflow(page)
        page.locator(".group li.other .play").first.tap()
        wait_playing(page)
        screenshot(page, shots, f"dupes-{width}")
    finally:
        context.close()


# -- favourites --------------------------------------------------------------------------------


def test_favourites_are_each_accounts_own_in_the_ui(browser: Any, account_server: LiveServer) -> None:
    contexts = []
    try:
        pages = {}
        for name in ("alice", "bob"):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            contexts.append(context)
            pages[name] = context.new_page()
            pages[name].goto(account_server.url + "/#q=" + urllib.parse.quote("cat:snare sort:name"))
            log_in(pages[name], account_server, name)
            pages[name].wait_for_selector(".tr[data-id]")
            settled(pages[name])
        alice, bob = pages["alice"], pages["bob"]
        second = alice.locator(".tr[data-id]").nth(1)
        sample_id = int(second.get_attribute("data-id"))
        # alice stars a row with its star; it is hers, kept on the server
        second.locator(".row-star").click()
        star = f".tr[data-id='{sample_id}'] .row-star"
        expect(alice.locator(star)).to_have_attribute("aria-pressed", "true")
        starred = account_server.get("/api/v1/samples?q=" + urllib.parse.quote("fav:alice"))["samples"]
        assert [s["id"] for s in starred] == [sample_id]
        # and with f on the open sample
        alice.locator(".tr[data-id]").nth(2).click()
        third = int(alice.get_attribute(".tr.active", "data-id"))
        alice.locator("#grid").focus()
        alice.keyboard.press("f")
        expect(alice.locator("#fav-button")).to_have_attribute("aria-pressed", "true")
        expect(alice.locator("#facet-fav .chip")).to_contain_text("2")
        alice.click("#facet-fav .chip")
        expect(alice.locator("#q")).to_have_value("cat:snare sort:name fav:alice")
        settled(alice)
        assert sorted(row_ids(alice)) == sorted([sample_id, third])
        # bob's stars are his own: none yet
        bob.reload()
        bob.wait_for_selector(".tr[data-id]")
        expect(bob.locator(star)).to_have_attribute("aria-pressed", "false")
        bob.click("#facet-fav .chip")
        expect(bob.locator("#q")).to_have_value("cat:snare sort:name fav:bob")
        settled(bob)
        expect(bob.locator("#result-count")).to_have_text("0 samples")
        # alice unstars; the list of her favourites on the server follows
        alice.click("#fav-button")
        expect(alice.locator("#fav-button")).to_have_attribute("aria-pressed", "false")
        starred = account_server.get("/api/v1/samples?q=" + urllib.parse.quote("fav:alice"))["samples"]
        assert [s["id"] for s in starred] == [sample_id]
    finally:
        for context in contexts:
            context.close()


# -- facet counts for the current results, the folder tree, uncategorised ------------------------


def chip_count(page: Any, facet: str) -> int:
    return int(page.locator(f".chip[data-facet='{facet}'] .count").inner_text())


def test_facet_counts_follow_the_results_and_the_folder_tree_filters(page: Any, server: LiveServer,
                                                                     page_errors: list[str]) -> None:
    def count(query: str) -> int:
        return len(server.get("/api/v1/samples?limit=1000&q=" + urllib.parse.quote(query))["samples"])

    open_ui(page, server, "type:loop")
    # categories count what a click would add to the loops; types as if no type were chosen
    expect(page.locator(".chip[data-facet='uncategorised'] .count")).to_have_text(
        str(count("type:loop -cat:*")))
    expect(page.locator(".chip[data-facet='category:kick'] .count")).to_have_text("0")
    expect(page.locator(".chip[data-facet='type:oneshot'] .count")).to_have_text(str(count("type:oneshot")))
    page.click(".chip[data-facet='uncategorised']")
    expect(page.locator("#q")).to_have_value("type:loop -cat:*")
    settled(page)
    assert {r["category"] for r in page.evaluate("window.samplemind.rows()")} == {None}
    # the folder tree: the Kicks folder of the pack, with what it holds
    run_query(page, "")
    kicks_folder = page.locator(".folder[data-folder='pack/Drums/Kicks']")
    expect(kicks_folder.locator(".count")).to_have_text(str(count("path:/Drums/Kicks/")))
    drums = page.locator(".folder[data-folder='pack/Drums']")
    assert int(drums.locator(".count").inner_text()) > int(kicks_folder.locator(".count").inner_text())
    kicks_folder.click()
    expect(page.locator("#q")).to_have_value(re.compile(r'^path:"?/.*/Drums/Kicks/"?$'))
    settled(page)
    paths = [r["path"] for r in page.evaluate("window.samplemind.rows()")]
    assert paths and all("/Drums/Kicks/" in path for path in paths)
    expect(page.locator(".tr[data-id] .folder-cell").first).to_have_text("Drums/Kicks")
    expect(kicks_folder).to_have_attribute("aria-pressed", "true")
    assert page_errors == []  # nothing the page's CSP refused, no script errors
