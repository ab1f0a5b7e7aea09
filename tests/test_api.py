"""The JSON API over real HTTP: one app (the Gradio page with the API beside it, as `liner app` serves them) on a
loopback port for the module, over the real catalog, artefacts, profile store and, for one test, the real GGUF
model. Most tests ask for template reasons (`"reasons": false`) so that they need no model."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import httpx
import jsonschema
import pytest

from local_services import free_port, served

KEY = "k-tests-0123456789abcdef"
BURST_KEY = "k-burst-0123456789abcdef"
REVOKED_KEY = "k-revoked-0123456789abcd"
"""Was valid once: not in Settings.api_keys any more."""
HOST_ORIGIN = "https://shop.example"
RATE_LIMIT = 5
RATE_WINDOW_S = 10.0
"""The rate-limit test's allowance: 5 requests, then one more every 2 s."""
BURST = 20


@pytest.fixture(scope="module")
def api_web(settings, engine, tmp_path_factory):
    """The app's WebApp over a fresh store, with two API keys and one allowed host origin."""
    from conversation.session import Assistant
    from store.profile_store import ProfileStore
    from webui.handlers import WebApp

    api_settings = settings.with_overrides(
        api_keys=(f"tests={KEY}", f"burst={BURST_KEY}"), cors_origins=(HOST_ORIGIN,), api_max_body_bytes=4096,
        max_message_chars=500, explain_wait_s=60.0)
    folder = tmp_path_factory.mktemp("api_store")
    web = WebApp.over(Assistant(api_settings, engine=engine,
                                store=ProfileStore(f"sqlite:///{folder / 'profiles.sqlite'}", api_settings)))
    yield web
    web.reasons.close()


@pytest.fixture(scope="module")
def api_url(api_web) -> Iterator[str]:
    from webui.api import API_PATH

    with served(api_web, api=True) as base:
        yield f"{base}{API_PATH}"


@pytest.fixture
def client(api_url) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=120) as http:
        yield http


def start(client: httpx.Client) -> tuple[str, dict[str, Any]]:
    response = client.post("/visitors", headers={"X-API-Key": KEY})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["token"], body["reply"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def say(client: httpx.Client, token: str, text: str, **options: Any) -> dict[str, Any]:
    response = client.post("/visitor/messages", json={"text": text, "reasons": False, **options},
                           headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def until_cards(client: httpx.Client, token: str, text: str) -> dict[str, Any]:
    """Answer onboarding questions with `text` until cards come (at most the two onboarding answers)."""
    for _ in range(3):
        reply = say(client, token, text)
        if reply["cards"]:
            return reply
    raise AssertionError(f"no cards after three messages: {reply}")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code and body["message"], body
    return body


def profile_schema() -> dict[str, Any]:
    from webui.handoff import SCHEMA_PATH

    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


# --- the schema ---------------------------------------------------------------------------------------------
def test_schema_file_is_the_models_schema_and_valid():
    from webui.handoff import json_schema

    schema = profile_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == json_schema(), "schemas/profile.schema.json is stale: python -m webui.handoff > it"
    film = schema["$defs"]["Film"]
    assert set(film["properties"]["external_ids"]["$ref"].split("/")[-1:]) == {"ExternalIds"}
    assert {"tmdb", "imdb", "movielens"} <= set(schema["$defs"]["ExternalIds"]["properties"])


def test_an_export_breaking_the_schema_is_caught():
    validator = jsonschema.Draft202012Validator(profile_schema())
    assert list(validator.iter_errors({"format": "liner-notes-profile", "version": 1}))
    bad_film = {"item_id": "ml1", "title": "Toy Story", "year": 1995, "external_ids": {"tmdb": 862, "imdb": None, "movielens": None},
                "weight": 2, "said_at": None}
    errors = list(jsonschema.Draft202012Validator(profile_schema()["$defs"]["Film"] | {
        "$defs": profile_schema()["$defs"]}).iter_errors(bad_film))
    assert len(errors) == 2, errors  # tmdb must be a string, weight at most 1


def test_keys_and_origins_come_from_the_environment(monkeypatch):
    from core.settings import SettingsError, load_settings

    monkeypatch.setenv("LINER_API_KEYS", f"shop={KEY}, partner={BURST_KEY}")
    monkeypatch.setenv("LINER_CORS_ORIGINS", "https://shop.example,https://partner.example")
    loaded = load_settings()
    assert loaded.api_keys == (f"shop={KEY}", f"partner={BURST_KEY}")
    assert loaded.cors_origins == ("https://shop.example", "https://partner.example")
    # A malformed key stops the start, before any model loads, and the error never repeats the secret.
    monkeypatch.setenv("LINER_API_KEYS", "shop=tooshort-secret")
    with pytest.raises(SettingsError, match="at least 16 characters") as caught:
        load_settings()
    assert "tooshort-secret" not in str(caught.value) and "'shop'" in str(caught.value)


# --- the endpoints ------------------------------------------------------------------------------------------
def test_docs_and_page_are_served_side_by_side(client, api_url):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "Liner Notes API"
    assert {"/visitors", "/visitor/messages", "/visitor/cards", "/visitor/cards/{item_id}/feedback",
            "/visitor/cards/{item_id}/why", "/visitor/profile", "/visitor/export", "/visitor"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn" not in docs.text.lower(), "the docs page must not fetch its scripts from the network"
    assets = re.findall(r'(?:src|href)="(/api/v1/[^"]+)"', docs.text)
    assert len(assets) >= 2 and all(client.get(a.removeprefix("/api/v1")).status_code == 200 for a in assets), assets
    root = api_url.removesuffix("/api/v1")
    assert httpx.get(f"{root}/config", timeout=30).status_code == 200, "the Gradio page is not served any more"
    schema = client.get("/schemas/profile.json")
    assert schema.status_code == 200 and schema.json() == profile_schema()


def test_a_visitor_from_start_to_forget(client):
    token, greeting = start(client)
    assert greeting["action"] == "ask" and greeting["chips"] and greeting["cards"] == []
    assert greeting["profile"]["turns"] == 0

    reply = until_cards(client, token, "I loved Alien (1979) and Heat (1995)")
    assert reply["action"] == "recommend" and not reply["reasons_pending"]
    cards = reply["cards"]
    assert 3 <= len(cards) <= 5
    # Template lines, written at once (a card with nothing to say has an empty one).
    assert all(card["item_id"] and card["reason_state"] == "template" for card in cards), cards
    assert any(card["reason"] for card in cards), cards
    liked = {entry["label"] for entry in reply["profile"]["liked"]}
    assert {"Alien (1979)", "Heat (1995)"} <= liked, liked
    assert any(card["external_ids"].get("tmdb") for card in cards)

    reply = say(client, token, "Something funny from the 90s")
    assert reply["cards"] and reply["cards"][0]["item_id"] != cards[0]["item_id"]
    cards = reply["cards"]
    assert client.get("/visitor/cards", headers=bearer(token)).json()["cards"] == cards

    first, second = cards[0], cards[1]
    done = client.post(f"/visitor/cards/{first['item_id']}/feedback", json={"kind": "like"}, headers=bearer(token))
    assert done.status_code == 200, done.text
    assert done.json()["card"]["mark"] == "like"
    assert first["item_id"] in {e["node_id"].removeprefix("item:") for e in done.json()["profile"]["liked"]}
    seen = client.post(f"/visitor/cards/{second['item_id']}/feedback", json={"kind": "seen"}, headers=bearer(token))
    assert second["item_id"] in seen.json()["profile"]["seen"]

    why = client.get(f"/visitor/cards/{second['item_id']}/why", headers=bearer(token))
    assert why.status_code == 200, why.text
    assert why.json()["title"] == second["title"] and why.json()["reason"]

    profile = client.get("/visitor/profile", headers=bearer(token)).json()
    assert profile["turns"] >= 2 and "user_id" not in profile

    exported = client.get("/visitor/export", headers=bearer(token)).json()
    jsonschema.validate(exported, profile_schema())
    films = {film["title"]: film for film in exported["liked_films"]}
    assert {"Alien", "Heat", first["title"]} <= set(films), films
    assert films["Alien"]["external_ids"] == {"tmdb": "348", "imdb": "tt0078748", "movielens": "1214"}
    assert all(film["said_at"] and 0 < film["weight"] <= 1 for film in films.values())
    assert [film["title"] for film in exported["seen_films"]] == [second["title"]]
    said = {(c["field"], c["value"]) for c in exported["constraints"]}
    assert ("year_min", 1990) in said and ("year_max", 1999) in said, exported["constraints"]
    assert all(c["said_at"] and 0 < c["weight"] <= 1 for c in exported["constraints"])

    assert client.delete("/visitor", headers=bearer(token)).status_code == 204
    assert_error(client.get("/visitor/profile", headers=bearer(token)), 401, "bad_token")


def test_a_question_about_a_film_leaves_the_cards(client):
    token, _ = start(client)
    cards = until_cards(client, token, "I loved Jaws (1975)")["cards"]
    reply = say(client, token, "Who directed Alien (1979)?")
    assert reply["action"] == "answer", reply
    assert "Ridley Scott" in reply["text"] and [film["title"] for film in reply["about"]] == ["Alien"]
    assert reply["cards"] == cards


def test_keys_and_tokens_are_checked(client):
    assert_error(client.post("/visitors"), 401, "api_key_required")
    assert_error(client.post("/visitors", headers={"X-API-Key": "not-a-key"}), 401, "bad_api_key")
    assert_error(client.post("/visitors", headers={"X-API-Key": REVOKED_KEY}), 401, "bad_api_key")
    assert_error(client.get("/visitor/profile"), 401, "bad_token")
    assert_error(client.get("/visitor/profile", headers={"X-API-Key": KEY}), 401, "bad_token")
    made_up = "A" * 43  # shaped like a token, issued by nobody
    assert_error(client.get("/visitor/profile", headers=bearer(made_up)), 401, "bad_token")
    assert_error(client.post("/visitor/messages", json={"text": "hi"}, headers=bearer("x")), 401, "bad_token")
    token, _ = start(client)
    # A valid token with a revoked key is refused: a key, when sent, must be valid.
    assert_error(client.get("/visitor/profile", headers={**bearer(token), "X-API-Key": REVOKED_KEY}), 401,
                 "bad_api_key")
    assert client.get("/visitor/profile", headers={**bearer(token), "X-API-Key": KEY}).status_code == 200


def test_sizes_and_bad_requests_answer_json_errors(client):
    token, _ = start(client)
    assert_error(client.post("/visitor/messages", content=b'{"text": "' + b"a" * 5000 + b'"}',
                             headers={**bearer(token), "Content-Type": "application/json"}), 413, "body_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body comes
        yield b'{"text": "'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"}'

    assert_error(client.post("/visitor/messages", content=chunks(),
                             headers={**bearer(token), "Content-Type": "application/json"}), 413, "body_too_large")
    assert_error(client.post("/visitor/messages", json={"text": "a " * 300}, headers=bearer(token)), 422,
                 "message_too_long")
    assert_error(client.post("/visitor/messages", json={"text": "   "}, headers=bearer(token)), 422,
                 "invalid_request")
    assert_error(client.post("/visitor/messages", content=b"{not json", headers={
        **bearer(token), "Content-Type": "application/json"}), 422, "invalid_request")
    assert_error(client.post("/visitor/messages", json={"text": "hi", "extra": 1}, headers=bearer(token)), 422,
                 "invalid_request")
    reply = until_cards(client, token, "I loved Toy Story (1995)")
    item = reply["cards"][0]["item_id"]
    assert_error(client.post(f"/visitor/cards/{item}/feedback", json={"kind": "love"}, headers=bearer(token)), 422,
                 "invalid_request")
    assert_error(client.post("/visitor/cards/ml999999/feedback", json={"kind": "like"}, headers=bearer(token)),
                 404, "not_a_card")
    assert_error(client.get("/visitor/cards/ml999999/why", headers=bearer(token)), 404, "not_a_card")
    assert_error(client.get("/no-such-endpoint"), 404, "not_found")


def test_cors_allows_only_the_listed_origins(client):
    def preflight(origin: str) -> httpx.Response:
        return client.options("/visitor/messages", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})

    allowed = preflight(HOST_ORIGIN)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == HOST_ORIGIN
    refused = preflight("https://evil.example")
    assert "access-control-allow-origin" not in refused.headers
    # The Gradio page falls under the same policy (Gradio's own would allow any origin on a public server).
    root = str(client.base_url).removesuffix("/api/v1")
    page = httpx.options(f"{root}/gradio_api/queue/join", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in page.headers


def test_widget_is_served_only_for_listed_origins(client):
    assert_error(client.get("/widget", params={"origin": "https://evil.example"}), 403, "origin_not_allowed")
    page = client.get("/widget", params={"origin": HOST_ORIGIN})
    assert page.status_code == 200 and page.headers["content-security-policy"] == f"frame-ancestors {HOST_ORIGIN}"
    assert page.headers["cache-control"] == "no-store"
    loader = client.get("/widget.js")
    assert loader.status_code == 200 and "javascript" in loader.headers["content-type"]


def test_one_visitor_cannot_reach_another(client):
    alice, _ = start(client)
    bob, _ = start(client)
    assert alice != bob
    alice_cards = until_cards(client, alice, "I loved Finding Nemo (2003)")["cards"]
    bob_cards = until_cards(client, bob, "I loved The Godfather (1972), I hate cartoons")["cards"]
    bob_only = [c["item_id"] for c in bob_cards if c["item_id"] not in {a["item_id"] for a in alice_cards}]
    assert bob_only

    # With Alice's token, Bob's cards are not hers to touch, and nothing of Bob's comes back.
    assert_error(client.post(f"/visitor/cards/{bob_only[0]}/feedback", json={"kind": "dislike"},
                             headers=bearer(alice)), 404, "not_a_card")
    assert_error(client.get(f"/visitor/cards/{bob_only[0]}/why", headers=bearer(alice)), 404, "not_a_card")
    for path in ("/visitor/cards", "/visitor/profile", "/visitor/export"):
        text = client.get(path, headers=bearer(alice)).text
        assert "Godfather" not in text and "cartoon" not in text.lower(), (path, text[:300])
        assert "Godfather" in client.get(path, headers=bearer(bob)).text or path == "/visitor/cards"
    assert {c["item_id"] for c in client.get("/visitor/cards", headers=bearer(bob)).json()["cards"]} == \
        {c["item_id"] for c in bob_cards}

    # Alice forgetting herself leaves Bob whole.
    assert client.delete("/visitor", headers=bearer(alice)).status_code == 204
    assert_error(client.get("/visitor/export", headers=bearer(alice)), 401, "bad_token")
    bob_export = client.get("/visitor/export", headers=bearer(bob)).json()
    assert "The Godfather" in {film["title"] for film in bob_export["liked_films"]}


def test_export_and_forget_with_the_store_down_answer_503_and_say_why(settings, engine, tmp_path):
    from fastapi.testclient import TestClient

    from conversation.session import Assistant
    from store.profile_store import ProfileStore
    from webui.api import create_api
    from webui.handlers import WebApp

    api_settings = settings.with_overrides(api_keys=(f"tests={KEY}",))
    store = ProfileStore(f"sqlite:///{tmp_path / 'profiles.sqlite'}", api_settings)
    web = WebApp.over(Assistant(api_settings, engine=engine, store=store))
    with TestClient(create_api(web)) as client:
        token, _ = start(client)
        until_cards(client, token, "I loved Heat (1995)")
        store.engine.dispose()  # the last connection closes: SQLite folds its WAL into the file
        Path(store.url.database).write_bytes(b"not a database any more " * 512)  # every query fails from now on
        for response in (client.get("/visitor/export", headers=bearer(token)),
                         client.delete("/visitor", headers=bearer(token))):
            body = assert_error(response, 503, "store_unavailable")
            assert "move it aside" in body["message"] and response.headers["retry-after"], body
    web.reasons.close()


@pytest.fixture
def limited_url(api_web) -> Iterator[str]:
    """The API alone on another port, with small allowances (the module's server has ample ones, so that no other
    test depends on timing)."""
    import uvicorn
    from gradio.http_server import Server

    from conversation.session import Assistant
    from webui.api import create_api
    from webui.handlers import WebApp

    assistant = api_web.assistant
    limited = assistant.settings.with_overrides(api_rate_per_key=RATE_LIMIT, api_rate_per_ip=RATE_LIMIT,
                                                api_rate_window_s=RATE_WINDOW_S)
    web = WebApp(Assistant(limited, engine=assistant.engine, store=assistant.store), api_web.reasons)
    port = free_port()
    server = Server(uvicorn.Config(create_api(web), host="127.0.0.1", port=port, log_level="warning"))
    server.run_in_thread()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_refills_evenly():
    from webui.rate_limit import RateLimiter, retry_after_header

    clock = _Clock()
    limiter = RateLimiter(5, 10.0, clock=clock)
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    assert limiter.take("a") == pytest.approx(2.0) and retry_after_header(limiter.take("a")) == "2"
    assert limiter.take("b") == 0.0, "one client's flood leaves another's allowance alone"
    clock.now += 1.999
    assert limiter.take("a") > 0
    clock.now += 0.001
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0, "the window gives one request back every 2 s"
    clock.now += 60
    assert [limiter.take("a") for _ in range(6)].count(0.0) == 5, "a refill never exceeds the allowance"


def test_a_full_table_forgets_refilled_clients_first():
    from webui.rate_limit import RateLimiter

    clock = _Clock()
    limiter = RateLimiter(2, 10.0, max_clients=3, clock=clock)
    limiter.take("flood")
    limiter.take("flood")
    limiter.take("quiet")
    clock.now += 5  # "quiet" has refilled, "flood" has one of its two back
    limiter.take("third")
    limiter.take("fourth")  # the table is full: the refilled buckets go, the flood's stays
    assert limiter.take("flood") == 0.0 and limiter.take("flood") > 0


def test_rate_limits_per_key_and_per_address(limited_url):
    with httpx.Client(base_url=limited_url, timeout=60) as client:
        token, _ = start(client)
        for label, headers in (("per key", {**bearer(token), "X-API-Key": BURST_KEY}),
                               ("per address", bearer(token))):
            # All at once, so that the allowance coming back meanwhile stays small however busy the machine is.
            with ThreadPoolExecutor(max_workers=BURST) as pool:
                answers = list(pool.map(lambda _: client.get("/visitor/profile", headers=headers), range(BURST)))
            allowed = sum(a.status_code == 200 for a in answers)
            limited = [a for a in answers if a.status_code == 429]
            assert RATE_LIMIT <= allowed < BURST and len(limited) == BURST - allowed, (label, allowed)
            assert_error(limited[0], 429, "rate_limited")
            wait = int(limited[0].headers["retry-after"])
            assert 1 <= wait <= RATE_WINDOW_S / RATE_LIMIT + 1, (label, wait)
            time.sleep(wait)
            assert client.get("/visitor/profile", headers=headers).status_code == 200, label
        # One key's flood leaves the other keys alone; guessing keys spends the address's allowance.
        assert client.get("/visitor/profile", headers={**bearer(token), "X-API-Key": KEY}).status_code == 200
        guesses = [client.post("/visitors", headers={"X-API-Key": f"guess-{n:016d}"}).status_code
                   for n in range(BURST)]
        assert set(guesses) <= {401, 429} and guesses.count(429) >= BURST - RATE_LIMIT, guesses


@pytest.mark.llm
def test_reasons_are_written_by_the_model(client):
    token, _ = start(client)
    reply = None
    for _ in range(3):
        reply = client.post("/visitor/messages", json={"text": "I loved Jaws (1975)", "reasons": True},
                            headers=bearer(token)).json()
        if reply["cards"]:
            break
    assert reply and reply["cards"] and reply["reasons_pending"], reply
    assert all(card["reason_state"] == "pending" and card["reason"] == "" for card in reply["cards"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = client.get("/visitor/cards", headers=bearer(token)).json()
        if not now["reasons_pending"]:
            break
        time.sleep(0.5)
    assert not now["reasons_pending"], now
    assert [c["item_id"] for c in now["cards"]] == [c["item_id"] for c in reply["cards"]]
    assert all(card["reason_state"] not in ("pending", "") for card in now["cards"]), now["cards"]
    assert sum(bool(card["reason"]) for card in now["cards"]) >= len(now["cards"]) - 1, now["cards"]
    sources = {card["reason_state"] for card in now["cards"]}
    assert sources & {"rerank", "llm", "grammar", "cache"}, f"no reason came from the model: {sources}"
