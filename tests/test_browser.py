"""The browser experience, driven in Debian's headless Chromium through Playwright.

The app runs in this process (a background server thread) over the real Assistant: real catalog, artefacts,
knowledge graph, profile store and LLM. Screenshots go to a temporary folder whose path is printed.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from local_services import CHROMIUM, CHROMIUM_FLAGS, NEEDS_CHROMIUM, served

TURN_TIMEOUT_MS = 90_000
"""A first turn may load the LLM and write five explanations on two busy CPU cores."""
CLICK_TIMEOUT_MS = 15_000

pytestmark = NEEDS_CHROMIUM


@pytest.fixture(scope="module")
def browser_assistant(settings, engine, tmp_path_factory):
    from conversation.session import Assistant
    from store.profile_store import ProfileStore

    folder = tmp_path_factory.mktemp("browser_store")
    return Assistant(settings, engine=engine, store=ProfileStore(f"sqlite:///{folder / 'profiles.sqlite'}", settings))


@pytest.fixture(scope="module")
def app_url(browser_assistant) -> Iterator[str]:
    from webui.handlers import WebApp

    web = WebApp.over(browser_assistant)
    try:
        with served(web) as base:
            yield f"{base}/"
    finally:
        web.reasons.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("liner_screenshots")
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@contextmanager
def browser_page(playwright, folder: Path, width: int = 1200, height: int = 900):
    """A fresh Chromium profile (a new visitor) and page; yields (page, console_errors)."""
    errors: list[str] = []
    context = playwright.chromium.launch_persistent_context(
        str(folder), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": width, "height": height}, accept_downloads=True)
    try:
        page = context.new_page()
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page, errors
    finally:
        context.close()


def open_app(page, url: str) -> None:
    # A Gradio page keeps a connection open, so "networkidle" may never come: wait for the first chip.
    page.goto(url, wait_until="load")
    page.locator("#chip-0").wait_for(state="visible", timeout=TURN_TIMEOUT_MS)


def wait_for_reasons(page) -> None:
    page.locator("#card-0").wait_for(state="visible", timeout=TURN_TIMEOUT_MS)
    page.wait_for_function("() => !document.querySelector('#cards .card-reason.pending')",
                           timeout=TURN_TIMEOUT_MS)


def profile_text(page) -> str:
    return page.locator("#profile").inner_text()


def test_onboarding_feedback_why_profile_export_forget(app_url, playwright, shots, tmp_path):
    with browser_page(playwright, tmp_path / "chromium") as (page, errors):
        open_app(page, app_url)
        assert "What's a film you enjoyed recently?" in page.locator("#chat").inner_text()
        page.locator("#profile-empty").wait_for(timeout=CLICK_TIMEOUT_MS)
        page.screenshot(path=str(shots / "1_onboarding.png"), full_page=True)

        # Onboarding: a quick pick, and useful cards after at most two answers.
        picked = page.locator("#chip-0").inner_text().strip()
        page.locator("#chip-0").click()
        for _ in range(2):
            page.wait_for_function(
                "() => document.querySelector('#card-0:not(.hidden)')?.offsetParent"
                " || document.querySelector('#chip-0')?.offsetParent", timeout=TURN_TIMEOUT_MS)
            if page.locator("#card-0").is_visible():
                break
            page.locator("#chip-0").click()
        wait_for_reasons(page)
        titles = page.locator("#cards .card-title").all_inner_texts()
        assert len(titles) >= 3, titles
        reasons = page.locator("#cards .card-reason").all_inner_texts()
        assert all(r.strip() for r in reasons), reasons
        assert picked.split(" (")[0] in profile_text(page)
        page.screenshot(path=str(shots / "2_cards.png"), full_page=True)

        # Like: the card says so and the profile panel shows it at once.
        liked_title = titles[0]
        page.locator("#card-0 .card-like").click()
        page.locator("#card-0 .card-mark").wait_for(timeout=CLICK_TIMEOUT_MS)
        page.wait_for_function("t => document.querySelector('#profile')?.innerText.includes(t)", arg=liked_title,
                               timeout=CLICK_TIMEOUT_MS)
        disliked_title = titles[1]
        page.locator("#card-1 .card-dislike").click()
        page.locator("#card-1 .card-mark").wait_for(timeout=CLICK_TIMEOUT_MS)
        assert "Not for you" in page.locator("#card-1").inner_text()
        page.wait_for_function("t => document.querySelector('#profile')?.innerText.includes(t)",
                               arg=disliked_title, timeout=CLICK_TIMEOUT_MS)

        # Feedback takes effect on the next turn: new picks leave out what was liked or turned down.
        page.locator("#more-picks").click()
        page.wait_for_function("old => { const t = document.querySelector('#card-0 .card-title');"
                               " return t && t.innerText !== old; }", arg=liked_title, timeout=TURN_TIMEOUT_MS)
        wait_for_reasons(page)
        new_titles = page.locator("#cards .card-title").all_inner_texts()
        assert liked_title not in new_titles and disliked_title not in new_titles, new_titles

        # Why?: the graph picture, the facts and the fit breakdown.
        page.locator("#card-0 .card-why").click()
        panel = page.locator("#why-panel")
        panel.wait_for(state="visible", timeout=TURN_TIMEOUT_MS)
        page.locator("#why-title").wait_for(timeout=TURN_TIMEOUT_MS)
        why_text = panel.inner_text()
        assert new_titles[0] in why_text
        for heading in ("Facts used", "How you match", "What may not fit"):
            assert heading in why_text
        assert page.locator("#why-panel .why-graph svg").count() == 1, "no knowledge-graph picture"
        assert page.locator("#why-panel .why-facts li").count() >= 2
        page.screenshot(path=str(shots / "3_why.png"), full_page=True)
        page.locator("#why-close").click()
        panel.wait_for(state="hidden", timeout=CLICK_TIMEOUT_MS)

        # Remove one profile entry.
        # By its whole label: "Dune" must not also pick "Dune: Part Two" from the onboarding chips.
        label = re.compile(rf"(^|\s){re.escape(liked_title)} \(\d{{4}}\)")
        entry = page.locator(".profile-entry", has_text=label)
        entry.locator(".remove-entry").click()
        entry.wait_for(state="detached", timeout=CLICK_TIMEOUT_MS)
        assert not label.search(profile_text(page))

        # Export my data: a JSON download of this user's rows, saved by the page itself: no file on the server,
        # so no URL that another session (or no session) could fetch.
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        with page.expect_download(timeout=CLICK_TIMEOUT_MS) as download:
            page.locator("#export").click()
        assert download.value.url.startswith("blob:"), download.value.url
        data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert "user" in data
        assert picked.split(" (")[0] in json.dumps(data), "the export misses the quick pick"
        assert not [url for url in requests if "/file=" in url or "/upload" in url], requests
        assert page.locator("#export-data textarea").count() == 0 or \
            page.locator("#export-data textarea").input_value() == ""

        # Forget me: everything goes, the page starts over as a new visitor.
        page.locator("#forget").click()
        page.locator("#forget-yes").click()
        page.locator("#profile-empty").wait_for(state="visible", timeout=CLICK_TIMEOUT_MS)
        assert page.locator(".profile-entry").count() == 0
        assert "deleted" in page.locator("#status").inner_text()
        assert not page.locator("#card-0").is_visible()
        assert errors == [], errors


def test_sessions_are_separate_users(app_url, playwright, tmp_path):
    with browser_page(playwright, tmp_path / "first") as (first, first_errors):
        open_app(first, app_url)
        first.locator("#chip-0").click()
        first.locator(".profile-entry").first.wait_for(timeout=TURN_TIMEOUT_MS)
        first_label = first.locator(".profile-entry .entry-label").first.inner_text()
        with browser_page(playwright, tmp_path / "second") as (second, second_errors):
            open_app(second, app_url)
            second.locator("#profile-empty").wait_for(timeout=CLICK_TIMEOUT_MS)
            assert second.locator(".profile-entry").count() == 0
            second.locator("#message textarea").fill("Something light and funny")
            second.locator("#send").click()
            second.locator("#chat .message", has_text="Something light and funny").first.wait_for(
                timeout=TURN_TIMEOUT_MS)
            second.wait_for_function("() => !document.querySelector('#chat')?.innerText.endsWith('...')",
                                     timeout=TURN_TIMEOUT_MS)
            assert first_label not in profile_text(second) if second.locator("#profile").count() else True
        assert first_errors == [] and second_errors == [], first_errors + second_errors


def test_phone_width_and_keyboard_only(app_url, playwright, shots, tmp_path):
    with browser_page(playwright, tmp_path / "phone", width=390, height=844) as (page, errors):
        open_app(page, app_url)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"page is {overflow}px wider than a phone screen"

        def tab_to(selector: str, limit: int = 80) -> None:
            for _ in range(limit):
                page.keyboard.press("Tab")
                if page.evaluate("s => document.activeElement?.matches(s)", selector):
                    return
            raise AssertionError(f"{selector} is not reachable with the Tab key")

        tab_to("#message textarea, #message input")
        page.keyboard.type("Pulp Fiction (1994)")
        page.keyboard.press("Enter")
        wait_for_reasons(page)
        tab_to("#card-0 .card-like")
        page.keyboard.press("Enter")
        page.locator("#card-0 .card-mark").wait_for(timeout=CLICK_TIMEOUT_MS)
        tab_to("#card-0 .card-why", limit=10)
        page.keyboard.press("Enter")
        page.locator("#why-title").wait_for(timeout=TURN_TIMEOUT_MS)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"page with cards is {overflow}px wider than a phone screen"
        page.screenshot(path=str(shots / "4_phone.png"), full_page=True)
        assert errors == [], errors


def test_a_typed_name_cannot_open_someone_elses_profile(app_url, playwright, tmp_path):
    with browser_page(playwright, tmp_path / "alice") as (alice, alice_errors):
        open_app(alice, app_url)
        alice.locator("#chip-0").click()
        alice.locator(".profile-entry").first.wait_for(timeout=TURN_TIMEOUT_MS)
        alice_label = alice.locator(".profile-entry .entry-label").first.inner_text()
        alice.locator("#user-name input").fill("alice")
        alice.locator("#passphrase input").fill("correct horse battery")
        alice.locator("#use-name").click()
        alice.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Saved as alice')",
                                timeout=CLICK_TIMEOUT_MS)
        # The same browser comes back as the same user: its token is in local storage, no name needed.
        alice.reload(wait_until="load")
        alice.locator(".profile-entry", has_text=alice_label).wait_for(timeout=TURN_TIMEOUT_MS)

        with browser_page(playwright, tmp_path / "mallory") as (mallory, mallory_errors):
            open_app(mallory, app_url)
            for passphrase, answer in (("", "A name alone never opens a profile"), ("guess-guess", "Not signed in")):
                mallory.locator("#user-name input").fill("alice")
                mallory.locator("#passphrase input").fill(passphrase)
                mallory.locator("#use-name").click()
                mallory.wait_for_function("a => document.querySelector('#status')?.innerText.includes(a)",
                                          arg=answer, timeout=CLICK_TIMEOUT_MS)
                assert mallory.locator(".profile-entry").count() == 0
                assert alice_label not in profile_text(mallory)
            # Whatever Mallory now says or exports is Mallory's own.
            mallory.locator("#message textarea").fill("I hate everything with robots")
            mallory.locator("#send").click()
            mallory.wait_for_function("() => !document.querySelector('#chat')?.innerText.endsWith('...')",
                                      timeout=TURN_TIMEOUT_MS)
            with mallory.expect_download(timeout=CLICK_TIMEOUT_MS) as download:
                mallory.locator("#export").click()
            exported = Path(download.value.path()).read_text(encoding="utf-8")
            assert alice_label.split(" (")[0] not in exported and "robots" in exported

        # Alice's profile is as she left it.
        alice.reload(wait_until="load")
        alice.locator(".profile-entry", has_text=alice_label).wait_for(timeout=TURN_TIMEOUT_MS)
        with alice.expect_download(timeout=CLICK_TIMEOUT_MS) as download:
            alice.locator("#export").click()
        exported = Path(download.value.path()).read_text(encoding="utf-8")
        assert "robots" not in exported and alice_label.split(" (")[0] in exported
        assert alice_errors == [] and mallory_errors == [], alice_errors + mallory_errors


def test_asking_about_the_second_card_answers_with_its_facts(app_url, playwright, tmp_path, catalog):
    with browser_page(playwright, tmp_path / "question") as (page, errors):
        open_app(page, app_url)
        page.locator("#message textarea").fill("I loved Heat and The Dark Knight")
        page.locator("#send").click()
        wait_for_reasons(page)
        titles = page.locator("#cards .card-title").all_inner_texts()
        assert len(titles) >= 2, titles
        second = catalog.get(page.locator("#card-1 .card-inner").get_attribute("data-item-id"))
        page.locator("#message textarea").fill("tell me more about the second one")
        page.locator("#send").click()
        answer = page.locator("#chat .message", has_text=f"{second.title} ").last
        answer.wait_for(timeout=TURN_TIMEOUT_MS)
        page.wait_for_function("() => !document.querySelector('#chat')?.innerText.endsWith('...')",
                               timeout=TURN_TIMEOUT_MS)
        text = page.locator("#chat .message").last.inner_text()
        assert second.title in text
        facts = [str(second.year)] + list(second.people.get("director", ()))
        assert any(fact in text for fact in facts), text
        # A question leaves the picks on screen.
        assert page.locator("#cards .card-title").all_inner_texts() == titles
        assert errors == [], errors
