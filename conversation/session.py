"""One turn, end to end: understand → update the profile (one transaction) → ask or recommend → explain.

`Assistant` holds what is built once per process (the recommender, the store); `ChatSession` is one user's
conversation. Nothing here knows about Gradio: the app, the terminal chat and the evaluators all use it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Iterator

from conversation.nlu import load_moods, understand
from conversation.onboarding import Onboarding
from conversation.policy import decide
from conversation.reply import Card, Reply
from conversation.signals import Constraints, Intent, Signals
from recommender.candidates import Candidate, Query
from recommender.engine import RecommenderEngine, WhyView
from recommender.profile import Profile, ProfileEntry
from recommender.settings import Settings
from recommender.store import ProfileStore, ShownCard

log = logging.getLogger(__name__)

RECENT_USER_MESSAGES = 2
"""How many recent user messages form the free-text part of the retrieval query."""


class Assistant:
    """Process-wide state shared by every user's session."""

    def __init__(self, settings: Settings, engine: RecommenderEngine | None = None,
                 store: ProfileStore | None = None):
        self.settings = settings
        self.engine = engine or RecommenderEngine(settings)
        self.store = store or ProfileStore(settings.resolved_database_url(), settings)
        self.onboarding = Onboarding.load(settings.assets_dir, self.engine.catalog)
        self.moods = load_moods(settings.assets_dir / "moods.json")

    def session(self, user_name: str | None = None, user_id: str | None = None) -> "ChatSession":
        user_id = user_id or self.store.ensure_user(user_name)
        return ChatSession(self, user_id, self.store.start_session(user_id))


@dataclass
class _State:
    """What a session remembers between turns beyond the stored profile."""

    constraints: Constraints = field(default_factory=Constraints)
    recent_texts: list[str] = field(default_factory=list)
    questions_asked: int = 0
    mentioned: set[str] = field(default_factory=set)
    """Items named in this conversation (by either side): not recommended back."""
    suggested: list[str] = field(default_factory=list)
    """Items the other side of a transcript suggested (observe_assistant), oldest first."""
    last_item: tuple[str, str] | None = None
    """(item id, label) the conversation was last about, for "that one" / "loved it"."""


class ChatSession:
    def __init__(self, assistant: Assistant, user_id: str, session_id: str):
        self.assistant = assistant
        self.settings = assistant.settings
        self.engine = assistant.engine
        self.store = assistant.store
        self.user_id = user_id
        self.session_id = session_id
        self.state = _State()
        self.diversity: float | None = None

    # --- reading ------------------------------------------------------------------------------------
    def profile(self) -> Profile:
        return self.store.profile(self.user_id)

    def greeting(self) -> Reply:
        """What a new (or returning) user sees before typing anything."""
        profile = self.profile()
        if profile.is_empty:
            question = self.assistant.onboarding.question(0)
            # The greeting asks the first onboarding question: the user's answer is answer one of at most two.
            self.state.questions_asked = max(self.state.questions_asked, 1)
            return Reply("ask", f"{self.assistant.onboarding.welcome}\n\n{question.text}",
                         chips=list(question.chips), profile=profile)
        liked = ", ".join(e.label for e in profile.liked()[:3])
        return Reply("info", f"Welcome back! I remember you like {liked or 'a few things'}. "
                             "Ask for recommendations any time.", profile=profile)

    # --- a turn -------------------------------------------------------------------------------------
    def handle(self, message: str, *, explain: bool | None = None, n_cards: int | None = None,
               rank: bool | None = None) -> Reply:
        reply = None
        for reply in self.handle_stream(message, explain=explain, n_cards=n_cards, rank=rank):
            pass
        assert reply is not None
        return reply

    def handle_stream(self, message: str, *, explain: bool | None = None, n_cards: int | None = None,
                      rank: bool | None = None) -> Iterator[Reply]:
        """Yield the reply as it grows: first the cards, then once per explanation written."""
        started = time.perf_counter()
        engine = self.engine
        signals = understand(message, engine.artifacts.aliases.link, self.settings, last_item=self.state.last_item)
        understood_ms = (time.perf_counter() - started) * 1000
        profile_before = self.profile()
        self._remember(signals)
        decision = decide(signals, _with_preferences(profile_before, signals), self.state.questions_asked,
                          self._questions_total(), bool(profile_before.shown),
                          self.state.last_item[0] if self.state.last_item else None)

        if decision.action == "reset":
            self.store.reset(self.user_id)
            self.state = _State()
            question = self.assistant.onboarding.question(0)
            reply = Reply("reset", f"Fresh start — I've forgotten your tastes. {question.text}",
                          chips=list(question.chips), notes=signals.notes)
            self._record(message, signals, reply, [])
            reply.profile = self.profile()
            yield reply
            return

        if decision.action == "ask":
            question = self.assistant.onboarding.question(self.state.questions_asked)
            self.state.questions_asked += 1
            prefix = _acknowledge(signals) or ("Happy to help!" if signals.intent != Intent.GREET else "Hi!")
            reply = Reply("ask", f"{prefix} {question.text}", chips=list(question.chips), notes=signals.notes)
            self._record(message, signals, reply, [])
            reply.profile = self.profile()
            reply.timings_ms = {"understand": understood_ms}
            yield reply
            return

        if decision.action == "explain":
            self._record(message, signals, Reply("explain", ""), [])
            yield self._explain_reply(decision.target_item, signals)
            return

        # Recommend: the profile update is committed first (one transaction), then the cards are built from it.
        store_started = time.perf_counter()
        turn_id = self._record(message, signals, Reply("recommend", ""), [])
        profile = self.profile()
        store_ms = (time.perf_counter() - store_started) * 1000
        n = n_cards or self.settings.cards
        ranked = engine.recommend(profile, self._query(signals, profile), n, rank=rank, diversity=self.diversity)
        timings = {"understand": understood_ms, "store": store_ms, **ranked.times.ms}
        cards = [_card(c) for c in ranked.candidates]
        if cards:
            self.state.last_item = (cards[0].item_id, cards[0].title)
        text, chips = self._recommend_text(signals, profile, cards)
        reply = Reply("recommend", text, cards=cards, chips=chips, profile=profile, notes=signals.notes,
                      timings_ms=timings, done=False)
        timings["cards"] = (time.perf_counter() - started) * 1000
        yield reply

        explain = self.settings.explain if explain is None else explain
        if explain and cards:
            explain_started = time.perf_counter()
            items = [c.item for c in ranked.candidates[: self.settings.cards]]
            for index, explanation in engine.explain_stream(items, profile):
                cards[index].explanation = explanation.text
                cards[index].grounded = explanation.grounded
                cards[index].explanation_source = explanation.source
                timings["explain"] = (time.perf_counter() - explain_started) * 1000
                yield reply
        self.store.record_shown(self.user_id, turn_id, [
            ShownCard(c.item_id, rank, c.explanation, c.grounded, c.explanation_source)
            for rank, c in enumerate(cards[: self.settings.cards])
        ])
        timings["total"] = (time.perf_counter() - started) * 1000
        reply.done = True
        yield reply

    def observe_assistant(self, text: str) -> None:
        """Read a message the other side of the conversation wrote (ReDial contexts, transcripts): the items
        it names are part of the conversation, so they are not recommended back."""
        for mention in self.engine.artifacts.aliases.link(text[: self.settings.max_message_chars]):
            if mention.kind == "item":
                self.state.mentioned.add(mention.node_id.removeprefix("item:"))
                self.state.suggested.append(mention.node_id.removeprefix("item:"))
                self.state.last_item = (mention.node_id.removeprefix("item:"), mention.label)

    # --- feedback and profile control ---------------------------------------------------------------
    def feedback(self, item_id: str, kind: str) -> Profile:
        """like | dislike | seen, from a card's buttons; takes effect on the next turn."""
        item = self.engine.catalog.get(item_id)
        if item is None:
            raise KeyError(f"unknown item {item_id!r}")
        self.store.record_feedback(self.user_id, item_id, kind, label=item.label)
        return self.profile()

    def why(self, item_id: str) -> WhyView | None:
        view = self.engine.why(item_id, self.profile())
        if view is not None:
            view.explanation = self.engine.explainer.explain(view.item, view.evidence)
        return view

    def remove(self, node_id: str) -> Profile:
        self.store.remove_entry(self.user_id, node_id)
        return self.profile()

    def export(self) -> dict:
        return self.store.export(self.user_id)

    def forget(self) -> None:
        """Delete every row about this user; the session carries on as a brand-new anonymous user."""
        self.store.forget(self.user_id)
        self.state = _State()
        self.user_id = self.store.ensure_user()
        self.session_id = self.store.start_session(self.user_id)

    # --- internals ----------------------------------------------------------------------------------
    def _questions_total(self) -> int:
        return min(self.settings.onboarding_questions, len(self.assistant.onboarding.questions))

    def _remember(self, signals: Signals) -> None:
        if signals.text:
            self.state.recent_texts = (self.state.recent_texts + [signals.text])[-RECENT_USER_MESSAGES:]
        self.state.constraints = _merge_constraints(self.state.constraints, signals.constraints)
        for mention in signals.mentions:
            if mention.kind == "item":
                self.state.mentioned.add(mention.node_id.removeprefix("item:"))
                self.state.last_item = (mention.node_id.removeprefix("item:"), mention.label)

    def _query(self, signals: Signals, profile: Profile) -> Query:
        # What the other side suggested is context to recommend around, weakly, unless the user turned it down.
        disliked = {e.node_id.removeprefix("item:") for e in profile.disliked("item")} | profile.rejected
        weight = self.settings.suggested_item_weight
        anchors = {item: weight for item in self.state.suggested if item not in disliked} if weight > 0 else {}
        if signals.intent == Intent.MORE_LIKE and signals.target_item:
            anchors[signals.target_item] = 1.5
        constraints = self.state.constraints
        words = list(constraints.moods) + list(constraints.include_genres)
        text = " ".join(words + self.state.recent_texts)
        moods = self.assistant.moods
        boost = {f"keyword:{kw}": 1.0 for mood in constraints.moods if mood in moods for kw in moods[mood].keywords}
        return Query(text=text, constraints=constraints, exclude=set(self.state.mentioned), anchor_items=anchors,
                     boost_nodes=boost)

    def _record(self, message: str, signals: Signals, reply: Reply, cards: list[ShownCard]) -> int:
        return self.store.record_turn(self.user_id, self.session_id, message, signals, reply.text,
                                      reply.action, cards)

    def _recommend_text(self, signals: Signals, profile: Profile, cards: list[Card]) -> tuple[str, list[str]]:
        """The reply's words, and the chips of the onboarding follow-up question when one is still open."""
        if not cards:
            return ("I couldn't find anything that fits all of that. Try loosening a constraint, "
                    "or say \"start over\".", [])
        heard = _acknowledge(signals)
        if not profile.liked() and self.state.constraints.is_empty:
            lead = "Here are some popular, varied picks to start with"
        else:
            lead = "Here are a few picks for you"
        text = f"{heard} {lead}.".strip()
        asked = max(self.state.questions_asked, 1)
        follow = self.assistant.onboarding.question(asked) if asked < self._questions_total() else None
        if follow is not None and profile.novelty is None and self.state.constraints.is_empty:
            self.state.questions_asked = self._questions_total()
            return f"{text} {follow.text}", list(follow.chips)
        return text, []

    def _explain_reply(self, item_id: str, signals: Signals) -> Reply:
        view = self.why(item_id)
        profile = self.profile()
        if view is None:
            return Reply("explain", "I don't know that title, so I can't say why.", profile=profile)
        lines = [f"Why {view.item.label}: {view.explanation.text if view.explanation else ''}".strip()]
        lines += [f"• {text}" for text in view.path_texts[:3]]
        lines += [f"• May not fit: {c}" for c in view.evidence.cautions[:2]]
        card = Card(view.item.item_id, view.item.title, view.item.year, list(view.item.genres),
                    view.explanation.text, view.explanation.grounded, view.explanation.source)
        return Reply("explain", "\n".join(lines), cards=[card], profile=profile, notes=signals.notes)


def _card(candidate: Candidate) -> Card:
    item = candidate.item
    return Card(item.item_id, item.title, item.year, list(item.genres), score=round(candidate.score, 6))


def _merge_constraints(old: Constraints, new: Constraints) -> Constraints:
    """A constraint said this turn replaces the same kind of constraint said before; others carry over."""
    if new.is_empty:
        return old
    include = new.include_genres or old.include_genres
    exclude = sorted(set(old.exclude_genres) - set(new.include_genres) | set(new.exclude_genres))
    return Constraints(
        year_min=new.year_min if (new.year_min or new.year_max) else old.year_min,
        year_max=new.year_max if (new.year_min or new.year_max) else old.year_max,
        include_genres=[g for g in include if g not in exclude],
        exclude_genres=exclude,
        moods=new.moods or old.moods,
    )


def _with_preferences(profile: Profile, signals: Signals) -> Profile:
    """The profile as it will be after this turn's preferences, for the policy's decision only."""
    extra = [ProfileEntry(p.node_id, p.kind, p.label, p.polarity, p.strength) for p in signals.preferences]
    return Profile(profile.user_id, profile.entries + extra, set(profile.seen), set(profile.rejected),
                   list(profile.shown), profile.turns, profile.novelty)


def _acknowledge(signals: Signals) -> str:
    """One short sentence saying what was understood, so the user can correct it."""
    likes = [p.label for p in signals.preferences if p.polarity > 0 and p.kind != "mood"]
    dislikes = [p.label for p in signals.preferences if p.polarity < 0]
    moods = [p.label for p in signals.preferences if p.kind == "mood" and p.polarity > 0]
    parts = []
    if likes:
        parts.append(f"you like {_join(likes)}")
    if dislikes:
        parts.append(f"you're not into {_join(dislikes)}")
    if moods:
        parts.append(f"you're in the mood for something {_join(moods)}")
    if signals.seen:
        parts.append(f"you've seen {len(signals.seen)} of those")
    return f"Noted: {'; '.join(parts)}." if parts else ""


def _join(labels: list[str]) -> str:
    labels = list(dict.fromkeys(labels))
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]

