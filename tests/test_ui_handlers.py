"""The page's handlers (webui.handlers) and pieces, without a browser: real catalog, artefacts, graph and SQLite
store; a fake text model for the logic (slow, failing or recorded on purpose), the real GGUF in the llm test."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from conversation.session import MODEL_DOWN_NOTE, Assistant
from core.profile import Profile
from llm.text_model import LLMError
from recommender.engine import RecommenderEngine
from store.profile_store import ProfileStore
from webui import handlers
from webui.handlers import WebApp
from webui.reasons import ReasonWriter
from webui.render import card_html, why_html
from webui.views import PENDING, CardView, Changes

FIRST_FILM = "I loved The Matrix (1999)"
OTHER_FILM = "I loved Toy Story (1995)"


class GatedModel:
    """Wraps a fake model so that every call waits until the test opens `gate`, one call at a time like the real
    model, and records which item it was about: the model is busy exactly as long as the test says."""

    def __init__(self, model):
        self.model = model
        self.model_id = "gated-fake"
        self.calls: list[str] = []
        self.called = threading.Event()
        """Set once a call has reached the model."""
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def _wait(self, text: str) -> None:
        with self._lock:
            self.calls.append(text)
            self.called.set()
            self.gate.wait()

    def score_continuations(self, prefix, continuations):
        self._wait(prefix)
        return self.model.score_continuations(prefix, continuations)

    def complete(self, prompt, max_tokens, temperature=0.0, stop=("\n",), seed=None):
        self._wait(prompt)
        return self.model.complete(prompt, max_tokens, temperature, stop, seed)

    def count_tokens(self, text):
        return self.model.count_tokens(text)


def _web(settings, artifacts, model, tmp_path, **overrides) -> WebApp:
    # Reasons through the model (rerank): the queue, deadline and fallback are what these tests are about.
    settings = settings.with_overrides(**{"explain_mode": "rerank", **overrides})
    engine = RecommenderEngine(settings, artifacts=artifacts, llm=model)
    store = ProfileStore(f"sqlite:///{tmp_path / 'profiles.sqlite'}", settings)
    return WebApp.over(Assistant(settings, engine=engine, store=store))


@pytest.fixture
def web(settings, artifacts, fake_model, tmp_path):
    app = _web(settings, artifacts, fake_model, tmp_path)
    yield app
    app.reasons.close()


def _run_turn(app: WebApp, visitor, text: str, history=None) -> list[Changes]:
    return list(handlers.turn(app, visitor, text, history or []))


def _final_cards(steps: list[Changes]) -> list[CardView]:
    return [s.cards for s in steps if s.cards is not None][-1]


def _profile_labels(changes: Changes) -> str:
    return " | ".join(row.label for section in changes.profile or [] for row in section.rows)


# --- arriving and identity -----------------------------------------------------------------------------------
def test_warming_up_loads_the_encoder_and_stores_nobody(settings, artifacts, tmp_path):
    """What `liner app` does before it serves: one turn through the real components, on a profile kept in memory."""
    import dataclasses

    import sqlalchemy

    from recommender.encoder import Encoder

    fresh = dataclasses.replace(artifacts, encoder=Encoder(settings))  # not loaded by an earlier test
    engine = RecommenderEngine(settings, artifacts=fresh)
    database = tmp_path / "profiles.sqlite"
    store = ProfileStore(f"sqlite:///{database}", settings)
    assistant = Assistant(settings, engine=engine, store=store)
    assert not fresh.encoder.loaded
    assistant.warm_up()
    assert fresh.encoder.loaded
    with sqlalchemy.create_engine(f"sqlite:///{database}").connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT count(*) FROM users")).scalar() == 0


def test_start_greets_a_new_visitor_and_hands_out_a_token(web):
    visitor, changes = handlers.start(web, None)
    assert changes.token and len(changes.token) >= 32
    assert changes.history[0]["role"] == "assistant" and changes.chips
    assert changes.profile == [] and changes.cards == []


def test_a_token_brings_back_the_same_user_and_a_garbage_token_opens_nobody(web):
    first, changes = handlers.start(web, None)
    _run_turn(web, first, FIRST_FILM)
    again, again_changes = handlers.start(web, changes.token)
    assert again.user_id == first.user_id
    assert "Matrix" in _profile_labels(again_changes)
    stranger, stranger_changes = handlers.start(web, "not a token")
    assert stranger.user_id != first.user_id and stranger_changes.token != changes.token
    assert "Matrix" not in _profile_labels(stranger_changes)


def test_a_page_load_stores_no_user(web):
    from sqlalchemy import text

    for _ in range(3):
        handlers.start(web, None)
    with web.assistant.store.engine.connect() as connection:
        assert connection.execute(text("select count(*) from users")).scalar() == 0
        assert connection.execute(text("select count(*) from sessions")).scalar() == 0


def test_a_typed_name_alone_never_opens_another_profile(web):
    alice, _ = handlers.start(web, None)
    _run_turn(web, alice, FIRST_FILM)
    saved = handlers.sign_in(web, alice, "alice", "correct horse battery")
    assert "Saved as alice" in saved.status

    mallory, _ = handlers.start(web, None)
    for passphrase in ("", "wrong passphrase!"):
        refused = handlers.sign_in(web, mallory, "alice", passphrase)
        assert refused.profile is None and refused.token is None, refused
        assert mallory.user_id != alice.user_id
    assert "Matrix" not in json.dumps(mallory.session.profile().entries, default=str)
    # Mallory's own turn changes Mallory's profile only.
    _run_turn(web, mallory, "I hated The Matrix (1999)")
    assert any(e.polarity > 0 and "Matrix" in e.label for e in alice.session.profile().entries)

    # The same person on a second browser proves who they are with the passphrase.
    laptop, _ = handlers.start(web, None)
    signed_in = handlers.sign_in(web, laptop, "alice", "correct horse battery")
    assert signed_in.status == "Signed in as alice." and signed_in.token
    assert laptop.user_id == alice.user_id and "Matrix" in _profile_labels(signed_in)
    # ...and that browser's token now opens alice's profile on its next visit.
    assert handlers.start(web, signed_in.token)[0].user_id == alice.user_id


# --- turns: cards first, reasons after ------------------------------------------------------------------------
def test_a_turn_shows_cards_at_once_then_every_reason(web):
    visitor, _ = handlers.start(web, None)
    steps = _run_turn(web, visitor, FIRST_FILM)
    assert steps[0].message == "" and steps[0].history[-1]["content"] == handlers.THINKING
    first_cards = steps[1].cards
    assert len(first_cards) == web.settings.cards
    assert all(card.pending for card in first_cards), "cards come before any reason"
    assert "Matrix" in _profile_labels(steps[1])
    final = _final_cards(steps)
    assert all(card.reason and not card.pending for card in final), final
    assert len(steps) == 2 + web.settings.cards  # one update per reason
    assert "Writing a reason" not in "".join(card_html(c) for c in final)


def test_explanations_off_shows_template_lines_and_never_a_pending_card(settings, artifacts, fake_model, tmp_path):
    app = _web(settings, artifacts, fake_model, tmp_path, explain=False)
    visitor, _ = handlers.start(app, None)
    steps = _run_turn(app, visitor, FIRST_FILM)
    shown = [card for step in steps if step.cards for card in step.cards]
    assert shown and not any(card.pending for card in shown)
    assert all(card.reason and card.reason_state == "template" for card in shown)
    assert fake_model.prompts == [] and fake_model.scored == []
    assert "Writing a reason" not in "".join(card_html(c) for c in shown)


def test_a_busy_model_never_delays_another_visitors_cards(settings, artifacts, fake_model, tmp_path):
    gated = GatedModel(fake_model)
    # A deadline far off: the busy visitor's turn goes on for as long as the model is held.
    app = _web(settings, artifacts, gated, tmp_path, explain_wait_s=120)
    busy, _ = handlers.start(app, None)
    other, _ = handlers.start(app, None)
    busy_steps: list[Changes] = []
    writer = threading.Thread(target=lambda: busy_steps.extend(_run_turn(app, busy, FIRST_FILM)))
    writer.start()
    assert gated.called.wait(timeout=120), "no reason reached the model"
    stream = handlers.turn(app, other, OTHER_FILM, [])
    next(stream)
    cards = next(stream)
    # The other visitor's cards are on screen while the model is still held on the first visitor's reason.
    assert cards.cards and all(card.pending for card in cards.cards)
    assert writer.is_alive(), "the cards waited for the other visitor's reasons"
    gated.gate.set()
    rest = list(stream)
    writer.join(timeout=120)
    for steps in (busy_steps, [cards, *rest]):
        assert all(card.reason and not card.pending for card in _final_cards(steps))
    app.reasons.close()


def test_reasons_not_written_by_the_deadline_show_their_template_lines(settings, artifacts, fake_model, tmp_path):
    gated = GatedModel(fake_model)  # held for the whole turn: no reason can come from it before the deadline
    app = _web(settings, artifacts, gated, tmp_path, explain_wait_s=1.0)
    visitor, _ = handlers.start(app, None)
    final = _final_cards(_run_turn(app, visitor, FIRST_FILM))
    assert gated.calls and all(card.reason and not card.pending for card in final)
    assert any(card.reason_state == "template" for card in final), [card.reason_state for card in final]
    gated.gate.set()
    app.reasons.close()


def test_visitors_take_turns_card_by_card(settings, artifacts, fake_model, tmp_path):
    gated = GatedModel(fake_model)
    app = _web(settings, artifacts, gated, tmp_path, explain_wait_s=120)
    a, _ = handlers.start(app, None)
    b, _ = handlers.start(app, None)
    done: dict[str, list[Changes]] = {}
    threads = [threading.Thread(target=lambda v=v, k=k, t=t: done.__setitem__(k, _run_turn(app, v, t)))
               for v, k, t in ((a, "a", FIRST_FILM), (b, "b", OTHER_FILM))]
    threads[0].start()
    assert gated.called.wait(timeout=120), "no reason reached the model"
    handed_in = app.reasons.handed_in  # a waits for the model now, so the next job handed in is b's first
    threads[1].start()
    assert app.reasons.wait_for_handed_in(handed_in + 1, timeout=120), "b's first reason never reached the queue"
    gated.gate.set()
    for thread in threads:
        thread.join(timeout=120)
    titles = {key: {card.title for card in _final_cards(steps)} for key, steps in done.items()}
    order = ["a" if any(t in call for t in titles["a"]) else "b" for call in gated.calls]
    # Neither visitor has all five reasons written before the other gets a first one.
    assert order[:5] != ["a"] * 5 and order[:5] != ["b"] * 5, order
    app.reasons.close()


@pytest.mark.parametrize("failure", [RuntimeError("connection reset by peer"), LLMError("server gone")])
def test_a_failing_model_gives_template_lines_not_errors(settings, artifacts, fake_model, tmp_path, failure):
    fake_model.error = failure
    app = _web(settings, artifacts, fake_model, tmp_path)
    visitor, _ = handlers.start(app, None)
    steps = _run_turn(app, visitor, FIRST_FILM)
    final = _final_cards(steps)
    # Every card has a true line; the ones the model was asked about fell back to the template (a plan with a
    # single line needs no model and keeps the explainer's source).
    assert final and all(card.reason and not card.pending for card in final)
    assert any(card.reason_state == "template" for card in final)
    if not isinstance(failure, LLMError):  # the explainer absorbs LLMError itself, without telling (see report)
        assert MODEL_DOWN_NOTE in steps[-1].notes
    app.reasons.close()


def test_a_newer_turn_stops_the_older_turns_reasons(web):
    visitor, _ = handlers.start(web, None)
    old = handlers.turn(web, visitor, FIRST_FILM, [])
    next(old)
    next(old)  # cards shown, reasons not written yet
    _run_turn(web, visitor, "Show me more picks")
    assert list(old) == []


# --- card buttons, why, profile panel -------------------------------------------------------------------------
def test_feedback_marks_the_card_and_updates_the_profile(web):
    visitor, _ = handlers.start(web, None)
    cards = _final_cards(_run_turn(web, visitor, FIRST_FILM))
    liked = handlers.feedback(web, visitor, 0, "like")
    assert liked.cards[0].mark == "like" and cards[0].title in _profile_labels(liked)
    disliked = handlers.feedback(web, visitor, 1, "dislike")
    assert "Not for you" in [section.title for section in disliked.profile]
    assert "Not for you" in card_html(disliked.cards[1]) and "card-dimmed" in card_html(disliked.cards[1])
    assert handlers.feedback(web, visitor, 99, "like") == Changes()
    new = _final_cards(_run_turn(web, visitor, handlers.MORE_PICKS_MESSAGE))
    assert {cards[0].item_id, cards[1].item_id}.isdisjoint(c.item_id for c in new)


def test_why_shows_the_cards_reason_graph_facts_and_fit(web):
    visitor, _ = handlers.start(web, None)
    cards = _final_cards(_run_turn(web, visitor, FIRST_FILM))
    view = handlers.why(web, visitor, 0)
    assert view.why_open is True
    for text in (f"Why {cards[0].title}", "Facts used", "How you match", "What may not fit"):
        assert text in view.why_html
    assert cards[0].reason.replace("'", "&#39;").replace('"', "&#34;") in view.why_html
    assert "<svg" in view.why_html, "no knowledge-graph picture although the user liked a title"


def test_remove_a_profile_entry(web):
    visitor, _ = handlers.start(web, None)
    steps = _run_turn(web, visitor, FIRST_FILM)
    node = next(row.node_id for section in steps[-1].profile or steps[1].profile for row in section.rows)
    removed = handlers.remove(web, visitor, node)
    assert node not in [row.node_id for section in removed.profile for row in section.rows]


def test_variety_slider_applies_to_the_session(web):
    visitor, _ = handlers.start(web, None)
    changes = handlers.set_diversity(visitor, 0.8)
    assert visitor.session.diversity == 0.8 and "0.8" in changes.diversity_note


# --- export and forget ----------------------------------------------------------------------------------------
def test_export_holds_only_this_visitors_data_and_writes_no_file(web, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    nothing = handlers.export(handlers.start(web, None)[0])
    assert nothing.export_json is None and "Nothing is stored" in nothing.status
    mine, _ = handlers.start(web, None)
    other, _ = handlers.start(web, None)
    _run_turn(web, mine, FIRST_FILM)
    _run_turn(web, other, OTHER_FILM)
    data = json.loads(handlers.export(mine).export_json)
    assert data["user"]["id"] == mine.user_id
    text = json.dumps(data)
    assert "Matrix" in text and "Toy Story" not in text
    assert list((tmp_path / "tmp").iterdir()) == []


def test_export_and_forget_with_the_database_gone_say_so_on_the_page(web):
    visitor, _ = handlers.start(web, None)
    _run_turn(web, visitor, FIRST_FILM)
    store = web.assistant.store
    store.engine.dispose()  # the last connection closes: SQLite folds its WAL into the file
    Path(store.url.database).write_bytes(b"not a database any more " * 512)  # every query fails from now on

    exported = handlers.export(visitor)
    assert exported.export_json is None
    assert "could not be read" in exported.status and "move it aside" in exported.status, exported.status
    forgotten = handlers.forget(web, visitor)
    assert "Nothing was deleted" in forgotten.status and forgotten.token is None, forgotten.status


def test_forget_deletes_everything_and_adds_no_user(web):
    from sqlalchemy import text

    visitor, start = handlers.start(web, None)
    old_user = visitor.user_id
    _run_turn(web, visitor, FIRST_FILM)
    forgotten = handlers.forget(web, visitor)
    assert "deleted" in forgotten.status and forgotten.token != start.token
    assert forgotten.profile == [] and forgotten.cards == [] and forgotten.export_json == ""
    assert visitor.user_id != old_user
    with web.assistant.store.engine.connect() as connection:
        assert connection.execute(text("select count(*) from users")).scalar() == 0
        for table in ("turns", "preferences", "feedback", "shown", "sessions"):
            assert connection.execute(text(f"select count(*) from {table}")).scalar() == 0, table
    # The old token no longer brings anything back.
    assert handlers.start(web, start.token)[1].profile == []


# --- rendering ------------------------------------------------------------------------------------------------
def test_templates_escape_catalog_and_user_text():
    card = CardView("x1", "<img src=x onerror=alert(1)>", "1999 · Drama", "A <b>bold</b> & true line.", "llm",
                    "like")
    html = card_html(card)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; true line." in html
    assert "Liked." in html
    pending = card_html(CardView("x2", "T", "", "", PENDING))
    assert "Writing a reason for you..." in pending
    assert why_html(None, "", str).startswith("<p>I don't know")


def test_layout_maps_changes_to_components(web):
    import gradio as gr

    from webui.layout import build, lay_out

    assert isinstance(build(web), gr.Blocks)
    with gr.Blocks():
        page = lay_out(web)
    cards = [CardView("i1", "Heat", "1995", "A reason.", "llm"), CardView("i2", "Up", "2009", "", PENDING)]
    out = page.apply(Changes(cards=cards, chips=["Alien (1979)"], token="t" * 43))
    assert "Heat" in out[page.slots[0].body] and "Writing a reason" in out[page.slots[1].body]
    assert out[page.slots[1].box]["visible"] is True and out[page.slots[2].box]["visible"] is False
    assert out[page.slots[2].body] == "" and out[page.more]["visible"] is True
    assert out[page.chips[0]]["value"] == "Alien (1979)" and out[page.chips[1]]["visible"] is False
    assert out[page.identity] == "t" * 43
    assert page.apply(Changes()) == {}, "unset fields must leave the page alone"


@pytest.mark.llm
def test_real_model_writes_the_reasons(settings, artifacts, tmp_path):
    app = _web(settings, artifacts, None, tmp_path, explain_wait_s=120)
    visitor, _ = handlers.start(app, None)
    final = _final_cards(_run_turn(app, visitor, FIRST_FILM))
    assert all(card.reason and not card.pending for card in final)
    assert any(card.reason_state != "template" for card in final), [c.reason_state for c in final]
    app.reasons.close()


@pytest.mark.parametrize("pace_s, early, shed", [(3.0, True, True), (0.5, True, False), (3.0, False, False)])
def test_a_reason_the_pace_says_is_too_late_gets_its_planned_line_at_once(settings, artifacts, fake_model, tmp_path,
                                                                           pace_s, early, shed):
    """One writer busy on a first reason and reasons taking pace_s lately: a second reason due in 2 s would be done
    in about 2·pace_s, so at 3 s a reason it shows its planned line at once and never reaches the queue; at 0.5 s,
    or with reasons_early_template off, it is queued for the model."""
    gated = GatedModel(fake_model)
    app = _web(settings, artifacts, gated, tmp_path, explain_wait_s=120, reasons_early_template=early)
    writer = app.reasons
    engine = app.assistant.engine
    first, second = engine.catalog.find_title("Heat"), engine.catalog.find_title("Alien")
    profile = Profile("nobody")
    busy = threading.Thread(target=writer.write, args=(first, engine.evidence(first, profile), time.monotonic() + 120))
    busy.start()
    assert gated.called.wait(timeout=120), "the first reason never reached the model"
    writer.pace.record(pace_s)
    evidence = engine.evidence(second, profile)
    if shed:
        reason = writer.write(second, evidence, time.monotonic() + 2)
        assert reason == ReasonWriter.template(evidence) and writer.handed_in == 1 and not gated.gate.is_set()
    else:
        waiting = threading.Thread(target=writer.write, args=(second, evidence, time.monotonic() + 120))
        waiting.start()
        assert writer.wait_for_handed_in(2, timeout=120), "the second reason was not queued"
    gated.gate.set()
    busy.join(timeout=120)
    writer.close()


def test_reason_writer_gives_the_template_at_the_deadline(web):
    writer = ReasonWriter(web.assistant.engine)
    item = web.assistant.engine.catalog.items[0]
    evidence = web.assistant.engine.evidence(item, Profile("nobody"))
    reason = writer.write(item, evidence, time.monotonic() - 1)
    assert reason.source == "template" and reason.text == ReasonWriter.template(evidence).text
    writer.close()
