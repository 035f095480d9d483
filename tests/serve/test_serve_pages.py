"""The pages in headless Chromium: write and watch it stream, follow a long-form job,
vote, watch the leaderboard change. Screenshots go to artifacts/serve/.

Needs Debian's `chromium` package at /usr/bin/chromium (Playwright drives it; its
own browser downloads are never used).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_util import stub_server_process

from needs import unavailable

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
KEY = "page-key-123"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):  # skipped with the reason here, a failure under CI=true
        unavailable(f"{CHROMIUM} not found: install Debian's 'chromium' package (make browser)")
    try:
        from playwright import sync_api
    except ImportError:
        unavailable("the playwright Python package is not installed: pip install 'bimo[dev]'")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def stub_server(tmp_path_factory) -> Iterator[str]:
    """Fake backend + stub long-form writer, behind an API key (on loopback)."""
    with stub_server_process(tmp_path_factory.mktemp("stub"), KEY) as base:
        yield base


def test_write_streams(page, tiny_server: str, artifacts: Path) -> None:
    page.goto(tiny_server + "/")
    page.wait_for_selector("#task option[value=chat]", state="attached")
    assert page.locator("#model").inner_text() == "local:tiny"
    page.select_option("#task", "chat")
    page.fill("#input", "Write two sentences about autumn rain.")
    page.click("#go")
    page.wait_for_function("document.querySelector('#output').textContent.length > 20")
    first = len(page.inner_text("#output"))
    page.wait_for_function(f"document.querySelector('#output').textContent.length > {first}")
    page.screenshot(path=str(artifacts / "write-streaming.png"), full_page=True)
    if page.is_enabled("#stop"):
        page.click("#stop")
    page.wait_for_function("!document.querySelector('#go').disabled")


def test_language_toggle(page, tiny_server: str) -> None:
    page.goto(tiny_server + "/")
    page.wait_for_selector("#task option[value=chat]", state="attached")
    before = page.inner_text("#go")
    page.click("#lang-toggle")
    after = page.inner_text("#go")
    assert {before, after} == {"Write", "开始写作"}
    assert re.search(r"[\u4e00-\u9fff]", page.inner_text("#task option[value=chat]") + after)


def test_vote_updates_leaderboard(page, tiny_server: str, artifacts: Path) -> None:
    page.goto(tiny_server + "/arena")
    page.wait_for_function("document.querySelector('#out-a').textContent.length > 0")
    assert page.locator("#board tbody tr").count() == 0
    page.click("[data-verdict=a]")
    page.wait_for_function("document.querySelectorAll('#board tbody tr').length === 2")
    assert "1" in page.inner_text("#board-status")
    assert "model-" in page.inner_text("#status")  # models revealed after the vote
    page.click("#next")
    page.wait_for_function("!document.querySelector('[data-verdict=b]').disabled")
    page.click("[data-verdict=both_bad]")
    page.wait_for_function("document.querySelector('#board-status').textContent.includes('2')")
    rows = page.locator("#board tbody tr").all_inner_texts()
    assert len(rows) == 2 and all("–" in r for r in rows), rows  # ratings with intervals
    page.screenshot(path=str(artifacts / "arena.png"), full_page=True)


def test_longform_plan_and_progress_behind_a_key(page, stub_server: str, artifacts: Path) -> None:
    page.goto(stub_server + "/")
    assert "invalid_api_key" in page.content()
    page.goto(f"{stub_server}/?key={KEY}")
    assert "key=" not in page.url
    page.wait_for_selector("#task option[value=longform]", state="attached")
    page.select_option("#task", "longform")
    page.fill("#length", "1200")
    page.fill("#input", "An essay on rivers")
    page.click("#go")
    page.wait_for_selector("#plan-list li")
    page.wait_for_function("document.querySelectorAll('#plan-list li.done').length === 6", timeout=30_000)
    page.wait_for_function("!document.querySelector('#go').disabled")
    assert page.inner_text("#output").count("Part") == 6
    assert "#job=" in page.url  # a reload follows the same job
    page.screenshot(path=str(artifacts / "longform.png"), full_page=True)


@pytest.fixture
def context_for(browser) -> Iterator:
    """New browser contexts with a given locale (and optionally navigator.languages)."""
    made = []

    def make(locale: str, languages: list[str] | None = None):
        ctx = browser.new_context(viewport={"width": 1200, "height": 900}, locale=locale)
        if languages is not None:
            ctx.add_init_script(f"Object.defineProperty(navigator, 'languages', {{get: () => {languages!r}}});")
        made.append(ctx)
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        return pg

    yield make
    for ctx in made:
        ctx.close()


def test_arena_without_pairs_shows_how_to_set_them_up(context_for, stub_server: str, artifacts: Path) -> None:
    for locale, title in (("zh-CN", "还没有可评的对比"), ("en-US", "no pairs to vote on yet")):
        pg = context_for(locale)
        pg.goto(f"{stub_server}/arena?key={KEY}")
        pg.wait_for_selector("#setup", state="visible")
        setup = pg.inner_text("#setup")
        assert title in setup
        assert "--arena-pairs" in setup and "--arena-models" in setup and "--arena-prompts" in setup
        assert not pg.is_visible("#board")  # no votes yet: no empty leaderboard
        assert not pg.is_visible("#battle")
        pg.screenshot(path=str(artifacts / f"arena-setup-{locale}.png"), full_page=True)


@pytest.mark.parametrize(("languages", "want"), [
    (["fr-FR"], "开始写作"),  # none the pages speak: Chinese
    (["de-DE", "zh-TW", "en-US"], "开始写作"),  # the first one spoken wins
    (["ja-JP", "en-GB", "zh-CN"], "Write"),
])
def test_pages_follow_the_browser_languages_until_switched(context_for, tiny_server: str, languages: list[str],
                                                           want: str) -> None:
    pg = context_for(languages[0], languages)
    pg.goto(tiny_server + "/")
    pg.wait_for_selector("#task option[value=chat]", state="attached")
    assert pg.inner_text("#go") == want
    pg.click("#lang-toggle")
    switched = pg.inner_text("#go")
    assert switched != want
    pg.goto(tiny_server + "/arena")  # the choice is remembered across pages and reloads
    pg.goto(tiny_server + "/")
    pg.wait_for_selector("#task option[value=chat]", state="attached")
    assert pg.inner_text("#go") == switched


def test_cross_origin_page_uses_the_api_with_a_key(context_for, tmp_path_factory) -> None:
    """A page on another loopback origin calls the API: Chromium's own preflight, then the keyed request."""
    import functools
    import http.server
    import threading

    from serve_util import free_port

    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text("<!doctype html><title>other origin</title>", encoding="utf-8")
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{port}"
    try:
        with stub_server_process(tmp_path_factory.mktemp("cors"), KEY, config={"cors_origins": [origin]}) as api:
            pg = context_for("en-US")
            pg.goto(origin + "/")
            call = """async ([url, key]) => {
                const headers = {"content-type": "application/json"};
                if (key) headers.authorization = "Bearer " + key;
                const r = await fetch(url, {method: "POST", headers,
                    body: JSON.stringify({messages: [{role: "user", content: "hi"}]})});
                return [r.status, await r.text()];
            }"""
            status, text = pg.evaluate(call, [f"{api}/v1/chat/completions", KEY])
            assert status == 200 and "word0" in text, text
            status, text = pg.evaluate(call, [f"{api}/v1/chat/completions", "wrong"])
            assert status == 401 and "invalid_api_key" in text, text
    finally:
        httpd.shutdown()
