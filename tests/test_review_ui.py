"""The web UI's Review view (samplemind/server/ui/review.js, issue 19) in real headless
Chromium against a real server on 127.0.0.1, over unnamed generated drum hits: answer by
key, see how many sounds the answer changed, undo it; Enter accepts the guess, s skips,
p plays; a viewer gets no answer controls and the server refuses their answer (403)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_ui_browser as ui
from playwright.sync_api import expect
from server_fixtures import copy_home
from test_review import build, truth_of
from test_ui_browser import PASSWORD, WAIT_MS, LiveServer, log_in, screenshot, wait_js

pytestmark = pytest.mark.slow
browser, page, page_errors, shots = ui.browser, ui.page, ui.page_errors, ui.shots  # fixtures
expect.set_options(timeout=WAIT_MS)  # an answer teaches the whole library: a busy machine is slow


@pytest.fixture(scope="module")
def unnamed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(base, home): generated drum hits named sample_NN.wav, scanned once."""
    base = tmp_path_factory.mktemp("review-ui")
    home, _ = build(base / "built")
    return base, home


@pytest.fixture
def open_server(unnamed: tuple[Path, Path], tmp_path: Path) -> Iterator[LiveServer]:
    """No accounts (everyone is the admin "local"), on a private copy of the catalog."""
    _, home = unnamed
    live = LiveServer(copy_home(home, tmp_path / "home"), open_access=True,
                      upload_dir=tmp_path / "uploads").start()
    yield live
    live.stop()


def categories(server: LiveServer) -> dict[int, tuple]:
    """Every sample's (category, source), through the API."""
    samples = server.get("/api/v1/samples?limit=1000")["samples"]
    return {s["id"]: (s["category"], s["category_source"]) for s in samples}


def question(page: Any) -> dict[str, Any]:
    """The question on screen: its sample (by name) and the answer buttons in key order."""
    name = page.locator("#review-name").text_content()
    return {"name": name, "choices": page.eval_on_selector_all(
        ".review-choice", "buttons => buttons.map(b => b.dataset.value)")}


def open_review(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/")
    page.wait_for_selector(".tr[data-id]")
    page.click("#tab-review")
    expect(page.locator("#review-name")).to_be_visible()


def test_answer_by_key_see_the_count_and_undo(page: Any, open_server: LiveServer,
                                              shots: Path, page_errors: list[str]) -> None:
    before = categories(open_server)
    ids = {s["name"]: s["id"] for s in open_server.get("/api/v1/samples?limit=1000")["samples"]}
    open_review(page, open_server)
    screenshot(page, shots, "review")
    asked = question(page)
    truth = truth_of(asked["name"])
    # the waveform of the sound asked about is drawn: peaks reach well above the centre line
    # (right of the play cursor, a line over the whole height at the start)
    wait_js(page, """(() => { const c = document.querySelector('#review-wave');
        const left = Math.ceil(8 * (window.devicePixelRatio || 1));
        const data = c.getContext('2d').getImageData(left, 0, c.width - left,
                                                     Math.floor(c.height * 0.4)).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
        return false; })()""")
    # p plays the sound in the view's own player
    page.keyboard.press("p")
    wait_js(page, "(() => { const a = document.querySelector('#review-player');"
                  " return !a.paused || a.ended; })()")
    # a digit answers with that category: the truth, or when the guess already is the truth
    # (the answer would change nothing) another category, so that the answer changes a sound
    shown = page.locator("#review-guess").text_content()
    answer = truth if truth != shown else next(c for c in asked["choices"] if c != shown)
    page.keyboard.press(str(asked["choices"].index(answer) + 1))
    expect(page.locator("#review-result")).to_contain_text(f"{asked['name']} is {answer}: ")
    changed = int(page.get_attribute("#review-result", "data-changed"))
    after = categories(open_server)
    assert after[ids[asked["name"]]] == (answer, "user")
    assert changed >= 1 and changed == sum(after[i][0] != before[i][0] for i in before)
    expect(page.locator("#review-tally")).to_have_text(
        f"1 answer, {changed} sound{'s' if changed != 1 else ''} changed")
    # the next question is another sound
    expect(page.locator("#review-name")).not_to_have_text(asked["name"])
    # u takes the answer back: every sound it changed goes back
    page.keyboard.press("u")
    expect(page.locator("#review-result")).to_contain_text("changed back")
    assert categories(open_server) == before
    expect(page.locator("#review-tally")).to_have_text("")
    # s skips to another question; Enter accepts the guess shown
    skipped = question(page)["name"]
    page.keyboard.press("s")
    expect(page.locator("#review-name")).not_to_have_text(skipped)
    accepted = question(page)["name"]
    guess = page.locator("#review-guess").text_content()
    page.keyboard.press("Enter")
    expect(page.locator("#review-result")).to_contain_text(f"{accepted} is {guess}: ")
    assert categories(open_server)[ids[accepted]] == (guess, "user")
    # the undo button does what u does
    page.click("#review-undo")
    expect(page.locator("#review-result")).to_contain_text("changed back")
    assert categories(open_server) == before
    assert page_errors == []


@pytest.fixture
def account_server(unnamed: tuple[Path, Path], tmp_path: Path) -> Iterator[LiveServer]:
    """Accounts on: bob is a viewer."""
    _, home = unnamed
    live = LiveServer(copy_home(home, tmp_path / "home"), open_access=False,
                      upload_dir=tmp_path / "uploads")
    live.store.add_user("bob", PASSWORD, "viewer")
    live.token = live.store.add_token("ui-tests", "viewer")
    live.start()
    yield live
    live.stop()


def test_a_viewer_cannot_answer(page: Any, account_server: LiveServer) -> None:
    before = categories(account_server)
    page.goto(account_server.url + "/")
    log_in(page, account_server, "bob")
    page.wait_for_selector(".tr[data-id]")
    page.click("#tab-review")
    expect(page.locator("#review-status")).to_have_text("Review is for editors.")
    assert page.locator(".review-choice, #review-accept, #review-undo").count() == 0
    page.keyboard.press("1")  # no key answers either
    page.keyboard.press("Enter")
    sample_id = next(iter(before))
    # and the server refuses the viewer's answer, with the session's CSRF token and all
    status = page.evaluate("""async (id) => {
        const me = await (await fetch('/api/v1/me')).json();
        const answer = await fetch('/api/v1/review/answers', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
            body: JSON.stringify({sample_id: id, field: 'category', value: 'tom'})});
        const next = await fetch('/api/v1/review/next');
        return [answer.status, next.status]; }""", sample_id)
    assert status == [403, 403]
    assert categories(account_server) == before
    request = urllib.request.Request(account_server.url + "/api/v1/review/next",
                                     headers={"Authorization": f"Bearer {account_server.token}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
