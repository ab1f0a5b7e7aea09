"""What each click and message does, as plain functions: they take the visitor and the user's input and return
`Changes` (webui.views) for the layout to apply. No Gradio here, so they are unit-tested without a browser.

Store faults never end the page: they come back as a note or status line saying what went wrong.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Iterator

from conversation.reply import Reply
from conversation.session import MODEL_DOWN_NOTE, Assistant
from core.ids import NodeId
from core.profile import Profile
from core.vocabulary import Kind
from recommender.engine import WhyView
from store.profile_store import StoreError, UnknownUserError
from webui.reasons import Reason, ReasonWriter
from webui.render import answer_cards_markdown, why_html
from webui.views import CardView, Changes, profile_sections
from webui.visitor import Visitor

log = logging.getLogger(__name__)

MORE_PICKS_MESSAGE = "Show me more picks"
"""What the "New picks" button says on the user's behalf."""
START_OVER_MESSAGE = "Start over"
THINKING = "Thinking..."


@dataclass
class WebApp:
    """What every handler shares: the process-wide assistant and the one queue in front of the LLM."""

    assistant: Assistant
    reasons: ReasonWriter

    @classmethod
    def over(cls, assistant: Assistant) -> "WebApp":
        return cls(assistant, ReasonWriter(assistant.engine))

    @property
    def settings(self):
        return self.assistant.settings

    def label_of(self, node_id: str) -> str:
        """A node's readable name: "item:ml1" -> "Toy Story (1995)", "person:Jane Campion" -> "Jane Campion"."""
        try:
            node = NodeId.parse(node_id)
        except ValueError:
            return node_id
        if node.kind == Kind.ITEM:
            item = self.assistant.engine.catalog.get(node.key)
            return item.label if item is not None else node.key
        return node.key

    def deadline(self) -> float:
        """When a reason started now must be on screen (time.monotonic())."""
        return time.monotonic() + self.settings.explain_wait_s


# --- arriving -------------------------------------------------------------------------------------------------
def start(app: WebApp, token: str | None) -> tuple[Visitor, Changes]:
    """A page load: the visitor the browser's token opens (or a new one), greeted."""
    visitor = Visitor.arrive(app.assistant, token)
    return visitor, _greeting(app, visitor).merged(Changes(token=visitor.token))


def _greeting(app: WebApp, visitor: Visitor) -> Changes:
    try:
        reply = visitor.session.greeting()
    except StoreError as error:
        log.warning("could not read the profile for the greeting: %s", error)
        return Changes(history=[{"role": "assistant", "content": "Hello! Tell me a film you liked."}], chips=[],
                       cards=[], profile=[], notes=f"Your profile could not be read: {error}")
    visitor.show([])
    return _reply_changes(app, [{"role": "assistant", "content": reply.text}], reply, cards=[])


# --- a turn ---------------------------------------------------------------------------------------------------
def turn(app: WebApp, visitor: Visitor, text: str, history: list[dict[str, Any]] | None) -> Iterator[Changes]:
    """A message (typed, a chip, "New picks", "Start over"): first the reply and its cards, at once; then each
    card's reason as it is written, or its template line at the deadline (Settings.explain_wait_s)."""
    text = (text or "").strip()
    if not text:
        return
    history = list(history or []) + [{"role": "user", "content": text}, {"role": "assistant", "content": THINKING}]
    yield Changes(history=list(history), message="", chips=[])
    try:
        started = begin_turn(app, visitor, text)
    except StoreError as error:
        log.warning("a turn failed in the profile store: %s", error)
        yield Changes(history=history[:-1] + [{"role": "assistant", "content": "Sorry, I couldn't do that now."}],
                      notes=f"That turn could not be handled: {error}")
        return
    history = history[:-1] + [{"role": "assistant", "content": chat_text(started.reply)}]
    yield _reply_changes(app, history, started.reply, cards=started.cards)
    started.finish()
    if started.explain:
        yield from write_reasons(app, visitor, started)


QUESTION_ACTIONS = frozenset({"answer", "clarify"})
"""Replies about films (conversation.answers) rather than new picks."""


def chat_text(reply: Reply) -> str:
    """What the chat shows for a reply: its text, and for an answer the card line of each film it is about."""
    if reply.action in QUESTION_ACTIONS and reply.cards:
        return f"{reply.text}\n\n{answer_cards_markdown(reply.cards)}"
    return reply.text


@dataclass
class TurnStart:
    """A turn up to its cards: what the page (or the JSON API) shows at once, before any reason is written."""

    reply: Reply
    cards: list[CardView] | None
    """The cards now on screen; None when the turn left the earlier ones as they were (a question)."""
    generation: int
    """The visitor's turn that owns these cards (see Visitor.show)."""
    explain: bool
    """True when the cards' reasons are still to be written (write_reasons)."""
    rest: Iterator[Reply]
    """The rest of the engine's turn (reasons off): it only stores the shown cards."""

    def finish(self) -> None:
        for _ in self.rest:
            pass


def begin_turn(app: WebApp, visitor: Visitor, text: str, explain: bool | None = None) -> TurnStart:
    """Run a message up to its cards; the cards' reasons are pending when they are to be written
    (Settings.explain, or `explain` when given), else their template lines. Raises StoreError when the turn
    could not be handled; call `finish()` on the result once its cards are shown."""
    with visitor.turn_lock, app.reasons.computing_cards():
        stream = visitor.session.handle_stream(text, explain=False)
        reply = next(stream)
    explain = (app.settings.explain if explain is None else explain) and reply.action == "recommend"
    cards = [CardView.of(card, pending=explain) for card in reply.cards[: app.settings.cards]]
    if not explain and reply.action == "recommend":
        cards = [card.with_reason(reason.text, reason.source)
                 for card, reason in zip(cards, _templates(app, visitor, reply))]
    # An answer about a film leaves the picks on screen ("the second one" still means the second card there);
    # the films it talks about come with its text in the chat (chat_text).
    new_cards = reply.action in {"recommend", "explain", "reset"} or (
        bool(reply.cards) and reply.action not in QUESTION_ACTIONS)
    generation = visitor.show(cards) if new_cards else visitor.generation
    return TurnStart(reply, cards if new_cards else None, generation, explain and bool(cards), stream)


def _templates(app: WebApp, visitor: Visitor, reply: Reply) -> list[Reason]:
    engine = app.assistant.engine
    profile = reply.profile or visitor.session.profile()
    reasons = []
    for card in reply.cards[: app.settings.cards]:
        item = engine.catalog.get(card.item_id)
        reasons.append(app.reasons.template(engine.evidence(item, profile)))
    return reasons


def write_reasons(app: WebApp, visitor: Visitor, started: TurnStart) -> Iterator[Changes]:
    """Each card's reason as it is written, or its template line at the deadline (Settings.explain_wait_s);
    stops once a newer turn of the visitor has replaced the cards."""
    reply, generation = started.reply, started.generation
    engine = app.assistant.engine
    profile = reply.profile or visitor.session.profile()
    deadline = app.deadline()
    model_down = False
    shown = reply.cards[: app.settings.cards]
    for index, card in enumerate(shown):
        if generation != visitor.generation:
            return  # a newer turn replaced these cards
        evidence = engine.evidence(engine.catalog.get(card.item_id), profile)
        late = model_down or time.monotonic() >= deadline
        reason = app.reasons.template(evidence) if late else \
            app.reasons.write(engine.catalog.get(card.item_id), evidence, deadline)
        model_down = model_down or reason.model_failed
        if not visitor.update_card(generation, index, visitor.cards[index].with_reason(reason.text, reason.source)):
            return
        if late and index < len(shown) - 1:
            continue  # past the deadline: every remaining template line goes out in one update
        changes = Changes(cards=list(visitor.cards))
        if model_down:
            changes.notes = " ".join([*reply.notes, MODEL_DOWN_NOTE])
        yield changes


def _reply_changes(app: WebApp, history: list[dict[str, Any]], reply: Reply, cards: list[CardView] | None) -> Changes:
    changes = Changes(history=history, chips=list(reply.chips), notes=" ".join(reply.notes), cards=cards)
    if reply.profile is not None:
        changes.profile = profile_sections(reply.profile, app.label_of)
    return changes


# --- card buttons ---------------------------------------------------------------------------------------------
def feedback(app: WebApp, visitor: Visitor, index: int, kind: str) -> Changes:
    """Like / Not for me / Seen it on card `index`: the card says so, the profile panel shows it at once."""
    if index >= len(visitor.cards):
        return Changes()
    try:
        profile = mark_card(visitor, index, kind)
    except StoreError as error:
        return Changes(notes=f"That could not be saved: {error}")
    return Changes(cards=list(visitor.cards), profile=profile_sections(profile, app.label_of))


def mark_card(visitor: Visitor, index: int, kind: str) -> Profile:
    """Store the feedback on card `index` (StoreError when it cannot be) and mark the card; the new profile."""
    card = visitor.cards[index]
    profile = visitor.session.feedback(card.item_id, kind)
    visitor.update_card(visitor.generation, index, card.marked(kind))
    return profile


def why(app: WebApp, visitor: Visitor, index: int) -> Changes:
    """The "why?" panel for card `index`: its reason, the graph paths from the user's likes, facts and fit."""
    if index >= len(visitor.cards):
        return Changes()
    try:
        view, line = why_card(app, visitor, index)
    except StoreError as error:
        return Changes(notes=f"Your profile could not be read: {error}")
    return Changes(why_open=True, why_html=why_html(view, line, app.label_of))


def why_card(app: WebApp, visitor: Visitor, index: int) -> tuple[WhyView | None, str]:
    """The "why?" view of card `index` (None for an item the engine cannot explain) and its reason: the card's own
    once written, else one written now (within Settings.explain_wait_s). StoreError when the profile is unreadable."""
    card = visitor.cards[index]
    view = app.assistant.engine.why(card.item_id, visitor.session.profile())
    if view is None:
        return None, ""
    line = card.reason if card.reason and not card.pending else \
        app.reasons.write(view.item, view.evidence, app.deadline()).text
    return view, line


# --- the profile panel ----------------------------------------------------------------------------------------
def remove(app: WebApp, visitor: Visitor, node_id: str) -> Changes:
    try:
        profile = visitor.session.remove(node_id)
    except StoreError as error:
        return Changes(status=f"That could not be removed: {error}")
    return Changes(profile=profile_sections(profile, app.label_of))


def set_diversity(visitor: Visitor, value: float) -> Changes:
    visitor.session.diversity = float(value)
    return Changes(diversity_note=f"Variety set to {value:.1f}: applies to your next picks.")


def export(visitor: Visitor) -> Changes:
    """This visitor's stored data as JSON, handed to their own page to save (no file on the server)."""
    try:
        data = visitor.session.export()
    except UnknownUserError:
        return Changes(status="Nothing is stored about you yet.")
    except StoreError as error:  # the store is down: say so, without asking it anything more
        return Changes(status=f"Your data could not be read: {error}")
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return Changes(export_json=text, status="Your data is downloading as liner-notes-my-data.json.")


def forget(app: WebApp, visitor: Visitor) -> Changes:
    """Delete every row about this visitor; the page carries on as a brand-new anonymous visitor (nothing is
    stored for them until they say something)."""
    store = app.assistant.store
    try:
        store.forget(visitor.user_id)
    except StoreError as error:
        return Changes(forget_confirm=False, status=f"Nothing was deleted: {error}")
    visitor.become(store.new_anonymous())
    changes = _greeting(app, visitor).merged(Changes(
        token=visitor.token, forget_confirm=False, why_open=False, export_json="",
        status="Done: everything stored about you was deleted."))
    return changes


def sign_in(app: WebApp, visitor: Visitor, name: str, passphrase: str) -> Changes:
    """A name with a passphrase: opens the profile saved under that name (from any browser), or saves this
    profile under the name when nobody has it. A name alone opens nothing."""
    name = (name or "").strip()
    passphrase = passphrase or ""
    store = app.assistant.store
    if not name:
        return Changes(status="Type a name and a passphrase to keep this profile or open yours.")
    if not passphrase:
        return Changes(status="A name alone never opens a profile: add your passphrase "
                              f"(at least {app.settings.passphrase_min_chars} characters).")
    try:
        identity = store.sign_in(name, passphrase)
        if identity is None:
            store.set_passphrase(visitor.user_id, name, passphrase)
            visitor.name = name
            return Changes(passphrase="", status=f"Saved as {name}. Open this profile from another browser with "
                                                 "this name and passphrase.")
    except StoreError as error:
        return Changes(passphrase="", status=f"Not signed in: {error}")
    visitor.become(identity, name)
    changes = _greeting(app, visitor)
    return changes.merged(Changes(token=visitor.token, passphrase="", why_open=False,
                                  status=f"Signed in as {name}."))
