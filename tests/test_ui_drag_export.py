"""Dragging sounds out of the web UI (Chromium's DownloadURL drag data) and exporting a kit
with a sampler instrument from the export control: real headless Chromium against a real
server over the scanned demo catalog (the fixtures of test_ui_browser)."""

from __future__ import annotations

import io
import json
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
import test_ui_browser as ui
from playwright.sync_api import expect
from test_ui_browser import LiveServer, open_ui, visible_names, wait_js

pytestmark = pytest.mark.slow
# test_ui_browser's fixtures: the scanned demo catalog, its server, Chromium and a page.
catalog, server, browser, page, page_errors = ui.catalog, ui.server, ui.browser, ui.page, ui.page_errors

# Dispatch a dragstart as the browser would, with a DataTransfer we can read back after.
DRAG = """(selector) => {
  const element = document.querySelector(selector);
  const data = new DataTransfer();
  element.dispatchEvent(new DragEvent('dragstart', { bubbles: true, cancelable: true, dataTransfer: data }));
  return { downloadUrl: data.getData('DownloadURL'), uris: data.getData('text/uri-list'),
           draggable: element.draggable };
}"""


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def split_download_url(value: str) -> tuple[str, str, str]:
    mime, name, url = value.split(":", 2)
    return mime, name, url


def test_dragging_a_row_carries_its_audio_file(page: Any, server: LiveServer) -> None:
    open_ui(page, server, "cat:kick sort:name")
    first = server.get("/api/v1/samples?limit=1&q=" + urllib.parse.quote("cat:kick sort:name"))["samples"][0]
    data = page.evaluate(DRAG, f'.tr[data-id="{first["id"]}"]')
    assert data["draggable"] is True
    mime, name, url = split_download_url(data["downloadUrl"])
    assert (mime, name) == ({"wav": "audio/wav", "aiff": "audio/aiff", "flac": "audio/flac",
                             "mp3": "audio/mpeg", "ogg": "audio/ogg"}[first["format"]], first["name"])
    assert url == f"{server.url}/api/v1/samples/{first['id']}/audio" and data["uris"] == url
    assert fetch(url) == Path(first["path"]).read_bytes()


def test_dragging_one_of_several_selected_rows_carries_them_all_as_a_zip(page: Any,
                                                                         server: LiveServer) -> None:
    open_ui(page, server, "cat:hihat sort:name")
    names = visible_names(page)
    rows = page.locator(".tr[data-id]")
    rows.nth(0).click()
    rows.nth(2).click(modifiers=["Control"])
    rows.nth(3).click(modifiers=["Shift"])
    expect(page.locator("#selection-bar")).to_contain_text("3 selected")
    selected = page.evaluate("[...window.samplemind.state.selection]")
    data = page.evaluate(DRAG, f'.tr[data-id="{selected[1]}"]')
    mime, name, url = split_download_url(data["downloadUrl"])
    assert (mime, name) == ("application/zip", "samplemind-3-samples.zip")
    assert sorted(data["uris"].split("\r\n")) == sorted(
        f"{server.url}/api/v1/samples/{i}/audio" for i in selected)
    with zipfile.ZipFile(io.BytesIO(fetch(url))) as kit:
        manifest = json.loads(kit.read("samplemind-export.json"))
    assert sorted(item["id"] for item in manifest["items"]) == sorted(selected)
    assert sorted(Path(item["target"]).name for item in manifest["items"]) == sorted(
        [names[0], names[2], names[3]])
    # A row outside the selection drags only itself.
    outside = page.evaluate(f"[...document.querySelectorAll('.tr[data-id]')].map(r => Number(r.dataset.id))"
                            f".find(id => !{json.dumps(selected)}.includes(id))")
    alone = page.evaluate(DRAG, f'.tr[data-id="{outside}"]')
    assert split_download_url(alone["downloadUrl"])[2].endswith(f"/api/v1/samples/{outside}/audio")


def test_a_real_mouse_drag_starts_with_the_file_and_a_similar_hit_drags_too(page: Any,
                                                                             server: LiveServer) -> None:
    open_ui(page, server, "cat:snare sort:name")
    # What the page's own handler put in the drag, read by a listener after it.
    page.evaluate("""() => { window.dragged = [];
      window.addEventListener('dragstart', (e) => window.dragged.push(
        [e.dataTransfer.getData('DownloadURL'), e.dataTransfer.effectAllowed])); }""")
    row = page.locator(".tr[data-id]").first
    box = row.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 80, box["y"] + 60, steps=8)
    page.mouse.move(box["x"] + 200, box["y"] + 200, steps=8)
    wait_js(page, "window.dragged.length > 0")
    page.mouse.up()
    name = row.locator(".name").inner_text()
    download_url, effect = page.evaluate("window.dragged[0]")
    assert download_url.split(":", 2)[1] == name and effect == "copy"
    # A similar sound: "Similar to X" lists them in the main list, the reference first.
    row.click()
    reference = page.get_attribute(".tr[data-id] >> nth=0", "data-id")
    page.click("#similar-button")
    wait_js(page, "window.samplemind.state.list && window.samplemind.state.list.kind === 'similar'"
                  " && document.querySelectorAll('.tr[data-id]').length > 1")
    hit_id = page.evaluate("[...document.querySelectorAll('.tr[data-id]')].map(r => r.dataset.id)"
                           f".find(id => id !== {json.dumps(reference)})")
    hit_name = page.inner_text(f'.tr[data-id="{hit_id}"] .name-text')  # the cell also shows a score
    data = page.evaluate(DRAG, f'.tr[data-id="{hit_id}"]')
    mime, dragged_name, url = split_download_url(data["downloadUrl"])
    assert dragged_name == hit_name and mime.startswith("audio/")
    assert url == f"{server.url}/api/v1/samples/{hit_id}/audio"


def test_the_export_control_adds_a_sampler_instrument(page: Any, server: LiveServer) -> None:
    open_ui(page, server, "cat:kick,snare,hihat")
    page.select_option("#export-as", "sfz")
    with page.expect_download() as download:
        page.click("#export-button")
    assert download.value.suggested_filename == "samplemind-kit.zip"
    with zipfile.ZipFile(download.value.path()) as kit:
        manifest = json.loads(kit.read("samplemind-export.json"))
        assert manifest["instrument"]["file"] in kit.namelist()
        sfz = kit.read(manifest["instrument"]["file"]).decode()
    keys = {zone["key"] for zone in manifest["instrument"]["zones"]}
    assert {36, 38}.issubset(keys) and "sample=" in sfz
    expect(page.locator("#banner")).to_contain_text("with a SFZ instrument")
    page.select_option("#export-as", "")
