"""The sound map in real headless Chromium over a real server (the fixtures of
test_ui_browser.py): it follows the query, fills the canvas, tells categories apart with a
legend, plays on hover, opens on click, pans, zooms and selects a region."""

from __future__ import annotations

import zipfile
from typing import Any

import pytest
import test_ui_browser as ui
from playwright.sync_api import expect
from test_ui_browser import LiveServer, open_ui, run_query, screenshot, wait_js, wait_playing

from samplemind import Library

# The browser suite's fixtures: a scanned demo catalog, a live server, Chromium, a fresh page.
browser, catalog, server, shots, page, page_errors = (
    ui.browser, ui.catalog, ui.server, ui.shots, ui.page, ui.page_errors)

pytestmark = pytest.mark.slow


def show_map(page: Any, server: LiveServer, query: str = "") -> dict:
    """Open the UI on a query, switch to the map; the API's own answer for that query."""
    open_ui(page, server, query)
    page.click("#tab-map")
    return wait_map(page, server, query)


def wait_map(page: Any, server: LiveServer, query: str) -> dict:
    import urllib.parse

    answer = server.get("/api/v1/map?q=" + urllib.parse.quote(query))
    expect(page.locator("#map-status")).to_contain_text(f"{answer['total']} samples")
    wait_js(page, "q => { const m = document.querySelector('#map').soundMap;"
                  " return m.data && m.query === q && m.data.points.id.length === m.data.total; }", query)
    return answer


def position(page: Any, sample_id: int) -> tuple[float, float]:
    """Where the map draws a sample, in page pixels (asked of the map itself)."""
    box = page.locator("#map").bounding_box()
    x, y = page.evaluate("id => document.querySelector('#map').soundMap.screenOf(id)", sample_id)
    return box["x"] + x, box["y"] + y


def test_the_map_follows_the_query_fills_the_canvas_and_has_a_legend(page: Any, server: LiveServer,
                                                                     shots) -> None:
    kicks = show_map(page, server, "cat:kick")
    expect(page.locator("#map-legend li")).to_have_count(1)
    expect(page.locator("#map-legend li").first).to_contain_text(f"kick{kicks['total']}")
    shown = page.evaluate("document.querySelector('#map').soundMap.data.points.id")
    assert sorted(shown) == sorted(kicks["points"]["id"])
    # the query bar drives the map while it is shown
    run_query(page, "")
    every = wait_map(page, server, "")
    legend = page.eval_on_selector_all("#map-legend li", "items => items.map(i => i.dataset.category)")
    assert legend == [item["category"] for item in every["legend"]] and len(legend) > 3
    # every sample on the canvas, spread over most of its width and height
    box = page.locator("#map").bounding_box()
    spots = [position(page, i) for i in every["points"]["id"]]
    xs = [x - box["x"] for x, _ in spots]
    ys = [y - box["y"] for _, y in spots]
    assert all(0 <= x <= box["width"] for x in xs) and all(0 <= y <= box["height"] for y in ys)
    assert max(xs) - min(xs) > 0.8 * box["width"] and max(ys) - min(ys) > 0.8 * box["height"]
    # categories differ by colour and by shape
    looks = page.eval_on_selector_all("#map-legend li svg > *", """shapes => shapes.map(s =>
        s.tagName + s.getAttribute('points') + s.getAttribute('fill'))""")
    assert len(set(looks)) == len(looks)
    screenshot(page, shots, "map-all")
    # the legend brings one category to the front; again for all
    first = page.locator("#map-legend button").first
    first.click()
    expect(first).to_have_attribute("aria-pressed", "true")
    first.click()
    expect(first).to_have_attribute("aria-pressed", "false")


def test_hover_plays_click_opens_and_shift_drag_selects(page: Any, server: LiveServer, shots) -> None:
    answer = show_map(page, server)
    snare = next(p for p in server.get("/api/v1/samples?q=name:snare_fat.wav")["samples"])
    x, y = position(page, snare["id"])
    page.mouse.move(x, y)
    expect(page.locator("#map-tip")).to_contain_text("snare_fat.wav")
    wait_playing(page)  # hovering auditions
    assert page.evaluate("document.querySelector('#player').src").endswith(f"/samples/{snare['id']}/audio")
    page.mouse.click(x, y)
    expect(page.locator("#detail-name")).to_have_text("snare_fat.wav")
    screenshot(page, shots, "map")
    # Shift+drag a rectangle around the whole canvas: every sample is selected; tag and export
    box = page.locator("#map").bounding_box()
    page.keyboard.down("Shift")
    page.mouse.move(box["x"] + 1, box["y"] + 1)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] - 1, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")
    total = answer["total"]
    bar = page.locator("#map-selection-bar")
    expect(bar).to_contain_text(f"{total} selected")
    screenshot(page, shots, "map-region")
    bar.locator("input").fill("mapped")
    bar.locator("button", has_text="Add tag").click()
    expect(page.locator("#banner")).to_contain_text(f"Tagged {total} sample(s)")
    assert {"tag": "mapped", "count": total, "sources": ["user"]} in server.get("/api/v1/tags")["tags"]
    with page.expect_download() as download:
        bar.locator("button", has_text="Export zip").click()
    with zipfile.ZipFile(download.value.path()) as kit:
        audio = [name for name in kit.namelist() if not name.endswith(".json")]
    assert len(audio) == total


def test_drag_pans_and_the_wheel_zooms_about_the_pointer(page: Any, server: LiveServer) -> None:
    answer = show_map(page, server)
    box = page.locator("#map").bounding_box()
    start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    spots = {i: position(page, i) for i in answer["points"]["id"]}
    some, other = sorted(spots, key=lambda i: abs(spots[i][0] - start[0]) + abs(spots[i][1] - start[1]))[:2]
    x, y = spots[some]
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] - 120, start[1] + 60, steps=8)
    page.mouse.up()
    moved = position(page, some)
    assert abs(moved[0] - (x - 120)) < 2 and abs(moved[1] - (y + 60)) < 2
    # zooming in about a point leaves that point where it is and spreads the others out
    page.mouse.move(*moved)
    before = position(page, other)
    width = "(v => v.x1 - v.x0)(document.querySelector('#map').soundMap.view)"
    span = page.evaluate(width)
    page.mouse.wheel(0, -300)
    wait_js(page, f"s => {width} < 0.8 * s", span)
    after_some, after_other = position(page, some), position(page, other)
    assert abs(after_some[0] - moved[0]) < 2 and abs(after_some[1] - moved[1]) < 2
    assert abs(after_other[0] - moved[0]) > abs(before[0] - moved[0]) or \
        abs(after_other[1] - moved[1]) > abs(before[1] - moved[1])
    # 0 fits the query again
    page.focus("#map")
    page.keyboard.press("0")
    wait_js(page, "([id, x, y]) => { const p = document.querySelector('#map').soundMap.screenOf(id);"
                  " return p && Math.abs(p[0] - x) < 2 && Math.abs(p[1] - y) < 2; }",
            [some, x - box["x"], y - box["y"]])
    assert position(page, some) == pytest.approx((x, y), abs=2)


def test_the_map_by_keyboard(page: Any, server: LiveServer) -> None:
    show_map(page, server)
    points = page.evaluate("""() => { const m = document.querySelector('#map').soundMap;
        return m.data.points.id.map((id, i) => ({ id, x: m.data.points.x[i], y: m.data.points.y[i] })); }""")
    middle_x, middle_y = page.evaluate("""() => { const m = document.querySelector('#map').soundMap;
        return m.toMap(m.width() / 2, m.height() / 2); }""")
    middle = min(points, key=lambda p: (p["x"] - middle_x) ** 2 + (p["y"] - middle_y) ** 2)
    name = server.get(f"/api/v1/samples/{middle['id']}")["name"]
    page.focus("#map")
    page.keyboard.press("ArrowRight")  # the first key starts at the sound nearest the middle
    expect(page.locator("#map-tip")).to_contain_text(name)
    wait_playing(page)
    page.keyboard.press("ArrowRight")
    right = {p["id"] for p in points if p["x"] > middle["x"]}
    if right:  # moved to a sound to the right of where it was
        wait_js(page, "() => document.querySelector('#map').soundMap.hovered !== null")
        assert page.evaluate("document.querySelector('#map').soundMap.hovered.id") in right
    expect(page.locator("#map-tip")).not_to_contain_text("…")
    shown = page.locator("#map-tip").inner_text().split(" · ")[0]
    page.keyboard.press("Enter")
    expect(page.locator("#detail-name")).to_have_text(shown)


def test_a_library_too_big_for_points_shows_bins_that_open_as_you_zoom(page: Any, server: LiveServer) -> None:
    """The level of detail at small scale: with a budget of 8 points per answer the map shows
    bins; hovering one plays its central sound; clicking zooms into it until sounds show."""
    answer = show_map(page, server)
    page.evaluate("() => { const m = document.querySelector('#map').soundMap; m.budget = 8;"
                  " m.show(m.query, { force: true }); }")
    wait_js(page, "() => { const d = document.querySelector('#map').soundMap.data;"
                  " return d && d.bins.count.length > 0; }")
    data = page.evaluate("document.querySelector('#map').soundMap.data")
    assert sum(data["bins"]["count"]) + len(data["points"]["id"]) == data["in_view"] == answer["total"]
    biggest = max(range(len(data["bins"]["count"])), key=lambda i: data["bins"]["count"][i])
    box = page.locator("#map").bounding_box()
    x, y = page.evaluate("([x, y]) => document.querySelector('#map').soundMap.toScreen(x, y)",
                         [data["bins"]["x"][biggest], data["bins"]["y"][biggest]])
    page.mouse.move(box["x"] + x, box["y"] + y)
    expect(page.locator("#map-tip")).to_contain_text(f"{data['bins']['count'][biggest]} samples")
    wait_playing(page)  # the bin's most central sound
    src = page.evaluate("document.querySelector('#player').src")
    assert src.endswith(f"/samples/{data['bins']['id'][biggest]}/audio")
    level = data["level"]
    page.mouse.click(box["x"] + x, box["y"] + y)  # zooms in: finer cells, or the sounds themselves
    wait_js(page, "l => { const d = document.querySelector('#map').soundMap.data;"
                  " return d.level > l || d.bins.count.length === 0; }", level)


def stop_audio(page: Any) -> None:
    page.evaluate("document.querySelector('#player').pause()")
    wait_js(page, "document.querySelector('#player').paused")


def test_a_sample_opened_on_the_map_still_plays_by_button_space_enter_and_waveform(
        page: Any, server: LiveServer) -> None:
    """Issue 23, defect 1 on the map: a teammate tags the sound a hover is auditioning; a click
    then opens the new record (with the tag), a different object from the one playing; Play,
    Space, Enter and the waveform must still play it."""
    show_map(page, server)
    snare = server.get("/api/v1/samples?q=name:snare_fat.wav")["samples"][0]
    src = f"/samples/{snare['id']}/audio"
    x, y = position(page, snare["id"])
    page.mouse.move(x, y)  # hover auditions it
    expect(page.locator("#map-tip")).to_contain_text("snare_fat.wav")
    wait_playing(page)
    with Library(server.home) as library:
        library.tag([str(snare["id"])], ["mapmate"])
    wait_js(page, "id => !document.querySelector('#map').soundMap.records.has(id)", snare["id"])
    wait_map(page, server, "")  # the map reloads after a change
    x, y = position(page, snare["id"])
    page.mouse.click(x, y)  # a click opens it (and plays it)
    expect(page.locator("#detail-name")).to_have_text("snare_fat.wav")
    expect(page.locator(".tag-list .tag", has_text="mapmate")).to_have_count(1)
    wait_playing(page)
    for how in ("button", "space", "enter", "waveform"):
        stop_audio(page)
        if how == "button":
            page.click("#play-button")
        elif how == "space":
            page.focus("#map")
            page.keyboard.press("Space")
        elif how == "enter":  # Enter on the list plays the open sample
            page.click("#tab-browse")
            page.locator("#grid").focus()
            page.keyboard.press("Enter")
        else:
            page.locator("#wave").click(position={"x": 12, "y": 30})
        wait_playing(page)
        assert page.evaluate("document.querySelector('#player').src").endswith(src), how
        expect(page.locator("#detail-name")).to_have_text("snare_fat.wav")
