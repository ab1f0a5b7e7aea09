"""The embeddable widget in headless Chromium: a host page served on another loopback port (another origin) adds
the widget with its script tag; a visitor names two films in it, and the host page receives the profile.

The app runs in this process (the Gradio page with the API beside it, as `liner app` serves them) over the real
components, with explanations off: the widget's hand-off is under test here, not the reasons.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Iterator

import jsonschema
import pytest

from local_services import CHROMIUM, CHROMIUM_FLAGS, NEEDS_CHROMIUM, free_port, served

TURN_TIMEOUT_MS = 90_000
HOST_WIDTH = 420
"""The host's column for the widget: narrower than the page, as in a sidebar or a phone."""

HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>A shop</title></head>
<body style="margin:0">
<h1>Welcome to the shop</h1>
<div id="slot" style="width:{width}px"></div>
<script>
  window.profiles = [];
  document.getElementById("slot").addEventListener("liner-notes:profile", (event) => {{
    window.profiles.push(event.detail);
  }});
</script>
<script src="{api}/widget.js" data-target="#slot"></script>
</body></html>
"""

pytestmark = NEEDS_CHROMIUM


def _serve(html: str, port: int = 0) -> tuple[str, http.server.ThreadingHTTPServer]:
    """A host page on its own loopback port: another origin than the app's."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture(scope="module")
def host_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def app_api(settings, engine, tmp_path_factory, host_port) -> Iterator[str]:
    """The app on one loopback port; the host page's origin (another port) is its only allowed origin."""
    from conversation.session import Assistant
    from store.profile_store import ProfileStore
    from webui.api import API_PATH
    from webui.handlers import WebApp

    embed_settings = settings.with_overrides(explain=False, cors_origins=(f"http://127.0.0.1:{host_port}",))
    folder = tmp_path_factory.mktemp("embed_store")
    web = WebApp.over(Assistant(embed_settings, engine=engine,
                                store=ProfileStore(f"sqlite:///{folder / 'profiles.sqlite'}", embed_settings)))
    try:
        with served(web, api=True) as base:
            yield f"{base}{API_PATH}"
    finally:
        web.reasons.close()


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
    try:
        yield browser
    finally:
        browser.close()


def test_host_page_receives_the_profile_of_two_named_films(app_api, host_port, browser):
    from webui.handoff import SCHEMA_PATH

    host_url, host = _serve(HOST_PAGE.format(width=HOST_WIDTH, api=app_api), host_port)
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(host_url + "/", wait_until="load")
        widget = page.frame_locator("#slot iframe")
        widget.locator("#chips .chip").first.wait_for(timeout=TURN_TIMEOUT_MS)
        assert "What's a film you enjoyed recently?" in widget.locator("#log").inner_text()

        frame_width = page.evaluate("() => document.querySelector('#slot iframe').getBoundingClientRect().width")
        assert abs(frame_width - HOST_WIDTH) <= 1, f"the widget is {frame_width}px wide in a {HOST_WIDTH}px column"

        for message in ("I loved Alien (1979)", "and Heat (1995) too"):
            widget.locator("#text").fill(message)
            widget.locator("#send").click()
            widget.locator(".msg.user", has_text=message).wait_for(timeout=TURN_TIMEOUT_MS)
            widget.locator("body[data-busy=false]").wait_for(state="attached", timeout=TURN_TIMEOUT_MS)
        assert "Something went wrong" not in widget.locator("#status").inner_text()
        page.wait_for_function(
            "() => window.profiles.some(p => p.profile.liked_films.length >= 2)", timeout=TURN_TIMEOUT_MS)
        widget.locator(".card").first.wait_for(timeout=TURN_TIMEOUT_MS)
        cards_fit = widget.locator("html").evaluate("root => root.scrollWidth <= root.clientWidth + 1")
        assert cards_fit, "the cards overflow the host's column"

        widget.locator("#done").click()
        page.wait_for_function("() => window.profiles.some(p => p.final)", timeout=TURN_TIMEOUT_MS)
        final = page.evaluate("() => window.profiles.find(p => p.final)")
        profile = final["profile"]
        jsonschema.validate(profile, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
        titles = {film["title"] for film in profile["liked_films"]}
        assert {"Alien", "Heat"} <= titles, titles
        alien = next(film for film in profile["liked_films"] if film["title"] == "Alien")
        assert alien["external_ids"]["imdb"] == "tt0078748"
        assert errors == [], errors
    finally:
        host.shutdown()


def test_a_site_not_on_the_allow_list_gets_no_widget(app_api, browser):
    """The widget is refused to an origin not on the list; and the page framed by a stranger hands over nothing."""
    stranger_url, stranger = _serve(HOST_PAGE.format(width=HOST_WIDTH, api=app_api))
    try:
        page = browser.new_page()
        page.goto(stranger_url + "/", wait_until="load")
        frame = page.frame_locator("#slot iframe")
        frame.locator("body").wait_for(timeout=TURN_TIMEOUT_MS)
        assert "origin_not_allowed" in frame.locator("body").inner_text()
        assert page.evaluate("() => window.profiles.length") == 0
    finally:
        stranger.shutdown()


def test_the_api_docs_render_without_the_network(app_api, browser):
    """The OpenAPI page draws every endpoint from scripts the app serves itself (no CDN)."""
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if "127.0.0.1" not in request.url else None)
    page.goto(app_api + "/docs", wait_until="load")
    page.locator(".opblock").first.wait_for(timeout=TURN_TIMEOUT_MS)
    assert page.locator(".opblock").count() >= 8
    assert "/visitor/messages" in page.locator("#swagger-ui").inner_text()
    assert outside == [], outside
