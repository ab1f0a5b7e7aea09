"""One turn, end to end: understand → update the profile (one transaction) → ask or recommend → explain.

`Assistant` holds what is built once per process (the recommender, the store); `ChatSession` is one user's
conversation. Nothing here knows about Gradio: the app, the terminal chat and the evaluators all use it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from conversation.answers import Answerer
from conversation.moods import FAMILY_MOOD, Mood, load_moods
from conversation.nlu import understand
from conversation.onboarding import Onboarding
from conversation.policy import decide
from conversation.references import ShownFilm
from conversation.reply import Card, Reply
from conversation.signals import Intent, Signals
from core.ids import NodeId, item_id_of, node_id
from core.item import Item
from core.preferences import Constraints
from core.profile import Profile, ProfileEntry
from core.settings import Settings
from core.text import join_words
from core.vocabulary import Kind
from explain.evidence import language_name
from recommender.candidates import Candidate, Query
from recommender.engine import RecommenderEngine, WhyView
from store.profile_store import ProfileStore, ShownCard, StoreError

log = logging.getLogger(__name__)

UNSAVED_NOTE = "I couldn't save this turn ({error}); your picks below still take it into account."
MODEL_DOWN_NOTE = "The language model is not answering right now, so these reasons are plain summaries of the facts."
FAMILY_ON = "Keeping it family-friendly: no horror and nothing marked adult."
FAMILY_OFF = "Grown-ups only again: the family filter is off."
WARM_UP_MESSAGE = "I loved Jurassic Park"
"""The turn an app process runs on itself before serving (Assistant.warm_up)."""


class Assistant:
    """Process-wide state shared by every user's session."""

    def __init__(self, settings: Settings, engine: RecommenderEngine | None = None,
                 store: ProfileStore | None = None):
        self.settings = settings
        self.engine = engine or RecommenderEngine(settings)
        self.store = store or ProfileStore(settings.resolved_database_url(), settings)
        self.onboarding = Onboarding.load(settings.assets_dir, self.engine.catalog)
        self.moods = load_moods(settings.assets_dir / "moods.json")
        self.answerer = Answerer(self.engine, settings)
        self.newest_year = max((item.year for item in self.engine.catalog if item.year), default=None)
        """The catalog's newest film's year: "from the last few years" counts back from it."""

    def session(self, user_name: str | None = None, user_id: str | None = None) -> ChatSession:
        user_id = user_id or self.store.ensure_user(user_name)
        return ChatSession(self, user_id, self.store.start_session(user_id))

    def warm_up(self, explain: bool = False) -> None:
        """One turn on a throwaway profile held in memory (the store is not touched), before the first visitor
        comes: the sentence encoder loads its weights on its first query (about 3 s on 2 cores), and without this
        the first visitor of every new app process would wait for it. With explain, the turn's reasons are written
        too (the model's first-use costs: its prompt prefix)."""
        spare = Assistant(self.settings, engine=self.engine, store=ProfileStore("sqlite://", self.settings))
        spare.session().handle(WARM_UP_MESSAGE, explain=explain)


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
    shown: list[str] = field(default_factory=list)
    """Items shown as cards in this session, oldest first: never shown again in it ("more" means new ones)."""
    last_cards: list[str] = field(default_factory=list)
    """The cards of the latest recommend turn (withdrawn from shown when a transcript's reply replaces them)."""
    focus: dict[str, float] = field(default_factory=dict)
    """Genres of the latest mood or genre request, 0..1 (see Query.focus_genres)."""


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
        self._last_profile: Profile | None = None
        """The last profile read from the store: what a turn works from when the store cannot be read."""

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
        """Yield the reply as it grows: first the cards, then once per explanation written.

        A store that fails (disk full, database gone) does not end the conversation: the turn is answered from
        the profile as it would have been, and the reply says the turn could not be saved."""
        started = time.perf_counter()
        engine = self.engine
        signals = understand(message, engine.artifacts.aliases.link, self.settings, last_item=self.state.last_item,
                             shown=self._shown_films(), newest_year=self.assistant.newest_year)
        understood_ms = (time.perf_counter() - started) * 1000
        notes = list(signals.notes)
        profile_before = self._read_profile(notes)
        self._remember(signals)
        decision = decide(signals, _with_preferences(profile_before, signals), self.state.questions_asked,
                          self._questions_total(), bool(profile_before.shown or self.state.shown),
                          self.state.last_item[0] if self.state.last_item else None)

        if decision.action == "reset":
            try:
                self.store.reset(self.user_id)
            except StoreError as error:
                _note_unsaved(notes, error)
            self.state = _State()
            question = self.assistant.onboarding.question(0)
            reply = Reply("reset", f"Fresh start — I've forgotten your tastes. {question.text}",
                          chips=list(question.chips), notes=notes)
            self._record(message, signals, reply, notes)
            reply.profile = self._read_profile(notes)
            yield reply
            return

        if decision.action == "ask":
            question = self.assistant.onboarding.question(self.state.questions_asked)
            self.state.questions_asked += 1
            prefix = _acknowledge(signals) or ("Happy to help!" if signals.intent != Intent.GREET else "Hi!")
            reply = Reply("ask", f"{prefix} {question.text}", chips=list(question.chips), notes=notes)
            self._record(message, signals, reply, notes)
            reply.profile = self._read_profile(notes)
            reply.timings_ms = {"understand": understood_ms}
            yield reply
            return

        if decision.action == "explain":
            reply = self._explain_reply(decision.target_item, signals, notes,
                                        self.settings.explain if explain is None else explain)
            self._record(message, signals, reply, notes)
            yield reply
            return

        if decision.action in ("answer", "clarify"):
            # A question states no taste: the turn is stored with an empty profile update, and the cards the
            # user was looking at stay the ones "the second one" refers to.
            reply = self._answer_reply(signals, notes) if decision.action == "answer" else Reply(
                "clarify", signals.clarify or "", cards=self._cards_of(signals.clarify_options), notes=notes)
            reply.timings_ms = {"understand": understood_ms}
            self._record(message, signals, reply, notes)
            reply.profile = self._read_profile(notes)
            yield reply
            return

        # Recommend: the profile update is committed first (one transaction), then the cards are built from it.
        # The reply's words depend only on what was said, so they are stored with the turn.
        store_started = time.perf_counter()
        expected = _with_preferences(profile_before, signals)
        text, chips = self._recommend_text(signals, expected)
        turn_id = self._record(message, signals, Reply("recommend", text), notes)
        profile = self._read_profile(notes) if turn_id is not None else expected
        store_ms = (time.perf_counter() - store_started) * 1000
        n = n_cards or self.settings.cards
        ranked = engine.recommend(profile, self._query(signals, profile), n, rank=rank, diversity=self.diversity)
        timings = {"understand": understood_ms, "store": store_ms, **ranked.times.ms}
        cards = [_card(c) for c in ranked.candidates]
        if cards:
            self.state.last_item = (cards[0].item_id, cards[0].title)
            self.state.last_cards = [c.item_id for c in cards[: self.settings.cards]]
            self.state.shown += self.state.last_cards
        else:
            text, chips = _no_cards(self.state.constraints), []
        reply = Reply("recommend", text, cards=cards, chips=chips, profile=profile, notes=notes,
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
                if explanation.model_failed and MODEL_DOWN_NOTE not in notes:
                    notes.append(MODEL_DOWN_NOTE)
                timings["explain"] = (time.perf_counter() - explain_started) * 1000
                yield reply
        if turn_id is not None:
            try:
                self.store.record_shown(self.user_id, turn_id, [
                    ShownCard(c.item_id, rank, c.explanation, c.grounded, c.explanation_source)
                    for rank, c in enumerate(cards[: self.settings.cards])
                ])
            except StoreError as error:
                _note_unsaved(notes, error)
        timings["total"] = (time.perf_counter() - started) * 1000
        reply.done = True
        yield reply

    def observe_assistant(self, text: str) -> None:
        """Read a message the other side of the conversation wrote (ReDial contexts, transcripts): the items
        it names are part of the conversation, so they are not recommended back. That message is what the user
        saw in place of our latest cards, so those cards do not count as shown."""
        self.state.shown = [i for i in self.state.shown if i not in self.state.last_cards]
        self.state.last_cards = []
        for mention in self.engine.artifacts.aliases.link(text[: self.settings.max_message_chars]):
            if mention.kind == "item":
                item_id = item_id_of(mention.node_id)
                self.state.mentioned.add(item_id)
                self.state.suggested.append(item_id)
                self.state.last_item = (item_id, mention.label)

    # --- feedback and profile control ---------------------------------------------------------------
    def feedback(self, item_id: str, kind: str) -> Profile:
        """like | dislike | seen, from a card's buttons; takes effect on the next turn."""
        item = self.engine.catalog.get(item_id)
        if item is None:
            raise KeyError(f"unknown item {item_id!r}")
        self.store.record_feedback(self.user_id, item_id, kind, label=item.label)
        return self.profile()

    def why(self, item_id: str, profile: Profile | None = None, use_model: bool = True) -> WhyView | None:
        view = self.engine.why(item_id, profile or self.profile())
        if view is not None:
            view.explanation = self.engine.explainer.explain(view.item, view.evidence, use_model)
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
    def _shown_films(self) -> list[ShownFilm]:
        """The cards of the latest recommend turn, in order, for "the second one" and "the Nolan one"."""
        films = [self.engine.catalog.get(item_id) for item_id in self.state.last_cards]
        return [ShownFilm(f.item_id, f.label, f.title, tuple(name for _, name in f.all_people()))
                for f in films if f is not None]

    def _cards_of(self, item_ids: list[str]) -> list[Card]:
        items = [self.engine.catalog.get(item_id) for item_id in item_ids]
        return [_item_card(item) for item in items if item is not None]

    def _answer_reply(self, signals: Signals, notes: list[str]) -> Reply:
        assert signals.question is not None
        answer = self.assistant.answerer.answer(signals.question)
        subject = self.engine.catalog.get(answer.item_ids[0]) if answer.item_ids else None
        if signals.question.items and subject is not None:
            self.state.last_item = (subject.item_id, subject.label)  # the film last talked about, for "it"
        return Reply("answer", answer.text, cards=self._cards_of(answer.item_ids), notes=notes)

    def _questions_total(self) -> int:
        return min(self.settings.onboarding_questions, len(self.assistant.onboarding.questions))

    def _read_profile(self, notes: list[str]) -> Profile:
        """The stored profile; when the store cannot be read, the last one read (or an empty one) and a note."""
        try:
            self._last_profile = self.store.profile(self.user_id)
        except StoreError as error:
            _note_unsaved(notes, error)
        return self._last_profile or Profile(self.user_id)

    def _remember(self, signals: Signals) -> None:
        if signals.text and signals.intent not in (Intent.QUESTION, Intent.CLARIFY):
            # A question's words are not a taste: they stay out of the next picks' text query.
            self.state.recent_texts = (self.state.recent_texts + [signals.text])[-self.settings.query_recent_messages:]
        self.state.constraints = _merge_constraints(self.state.constraints, signals.constraints,
                                                    self.assistant.moods)
        if signals.constraints.include_genres:
            self.state.focus = _focus(self.state.constraints, signals, self.assistant.moods)
        for mention in signals.mentions:
            if mention.kind == "item":
                item_id = item_id_of(mention.node_id)
                self.state.mentioned.add(item_id)
                self.state.last_item = (item_id, mention.label)

    def _query(self, signals: Signals, profile: Profile) -> Query:
        # What the other side suggested is context to recommend around, weakly, unless the user turned it down.
        disliked = {e.item_id for e in profile.disliked("item")} | profile.rejected
        weight = self.settings.suggested_item_weight
        anchors = {item: weight for item in self.state.suggested if item not in disliked} if weight > 0 else {}
        if signals.intent == Intent.MORE_LIKE and signals.target_item:
            anchors[signals.target_item] = self.settings.more_like_anchor_weight
        constraints = self.state.constraints
        words = list(constraints.moods) + list(constraints.include_genres)
        text = " ".join(words + self.state.recent_texts)
        moods = self.assistant.moods
        boost = {node_id(Kind.KEYWORD, kw): 1.0
                 for mood in constraints.moods if mood in moods for kw in moods[mood].keywords}
        shown = set(self.state.shown) if self.settings.exclude_shown else set()
        return Query(text=text, constraints=constraints, exclude=self.state.mentioned | shown,
                     anchor_items=anchors, boost_nodes=boost, focus_genres=dict(self.state.focus))

    def _record(self, message: str, signals: Signals, reply: Reply, notes: list[str]) -> int | None:
        """Store the turn; None (and a note for the user) when the store fails."""
        try:
            return self.store.record_turn(self.user_id, self.session_id, message, signals.profile_update(), reply.text,
                                          reply.action, [])
        except StoreError as error:
            _note_unsaved(notes, error)
            return None

    def _recommend_text(self, signals: Signals, profile: Profile) -> tuple[str, list[str]]:
        """The reply's words for a turn with cards, and the chips of the onboarding follow-up question when one
        is still open."""
        heard = _acknowledge(signals)
        if not profile.liked() and self.state.constraints.is_empty:
            lead = "Here are some popular, varied picks to start with"
        elif signals.intent == Intent.RECOMMEND and self.state.shown and signals.constraints.is_empty \
                and not signals.preferences:
            lead = "Here are some new picks"
        else:
            lead = "Here are a few picks for you"
        text = f"{heard} {lead}.".strip()
        if signals.constraints.family is False:
            text = f"{FAMILY_OFF} {text}"
        elif self.state.constraints.family:
            text = f"{FAMILY_ON} {text}"
        asked = max(self.state.questions_asked, 1)
        follow = self.assistant.onboarding.question(asked) if asked < self._questions_total() else None
        if follow is not None and profile.novelty is None and self.state.constraints.is_empty:
            self.state.questions_asked = self._questions_total()
            return f"{text} {follow.text}", list(follow.chips)
        return text, []

    def _explain_reply(self, item_id: str, signals: Signals, notes: list[str], use_model: bool) -> Reply:
        profile = self._read_profile(notes)
        view = self.why(item_id, profile, use_model)
        if view is None:
            return Reply("explain", "I don't know that title, so I can't say why.", profile=profile, notes=notes)
        lines = [f"Why {view.item.label}: {view.explanation.text if view.explanation else ''}".strip()]
        lines += [f"• {text}" for text in view.path_texts[:3]]
        lines += [f"• May not fit: {c}" for c in view.evidence.cautions[:2]]
        card = Card(view.item.item_id, view.item.title, view.item.year, list(view.item.genres),
                    view.explanation.text, view.explanation.grounded, view.explanation.source)
        return Reply("explain", "\n".join(lines), cards=[card], profile=profile, notes=notes)


def _card(candidate: Candidate) -> Card:
    return _item_card(candidate.item, round(candidate.score, 6))


def _item_card(item: Item, score: float = 0.0) -> Card:
    return Card(item.item_id, item.title, item.year, list(item.genres), score=score)


NO_CARDS = ("I couldn't find anything that fits all of that{limits}. Try loosening a constraint, "
            "or say \"start over\".")


def _no_cards(constraints: Constraints) -> str:
    """The reply when nothing fits, naming the limits in force so the user knows which to loosen."""
    limits = _film_limits(constraints)
    if constraints.year_min:
        limits.append(f"from {constraints.year_min} on")
    if constraints.year_max:
        limits.append(f"up to {constraints.year_max}")
    return NO_CARDS.format(limits=f" ({', '.join(limits)})" if limits else "")


def _film_limits(constraints: Constraints) -> list[str]:
    """The runtime and language limits as words: "in French", "100 minutes or less"."""
    limits = []
    if constraints.languages:
        limits.append("in " + join_words([language_name(code) or code for code in constraints.languages]))
    if constraints.exclude_languages:
        limits.append("not in " + join_words([language_name(code) or code
                                              for code in constraints.exclude_languages]))
    if constraints.runtime_max:
        limits.append(f"{constraints.runtime_max} minutes or less")
    if constraints.runtime_min:
        limits.append(f"at least {constraints.runtime_min} minutes long")
    return limits


def _note_unsaved(notes: list[str], error: StoreError) -> None:
    log.warning("profile store failed during a turn: %s", error)
    note = UNSAVED_NOTE.format(error=error)
    if note not in notes:
        notes.append(note)


def _merge_constraints(old: Constraints, new: Constraints, moods: dict[str, Mood]) -> Constraints:
    """A constraint said this turn replaces the same kind of constraint said before; others carry over.
    "Grown-ups only" lifts the family flag and the family mood's genre limits with it."""
    if new.is_empty and new.family is None:
        return old
    if new.family is False and FAMILY_MOOD in old.moods and FAMILY_MOOD in moods:
        family = moods[FAMILY_MOOD]
        kept = [m for m in old.moods if m != FAMILY_MOOD]
        others = {g for name in kept if name in moods for g in moods[name].include}
        old = replace(old, include_genres=[g for g in old.include_genres if g not in family.include or g in others],
                      exclude_genres=[g for g in old.exclude_genres if g not in family.exclude], moods=kept)
    include = new.include_genres or old.include_genres
    exclude = sorted(set(old.exclude_genres) - set(new.include_genres) | set(new.exclude_genres))
    return Constraints(
        year_min=new.year_min if (new.year_min or new.year_max) else old.year_min,
        year_max=new.year_max if (new.year_min or new.year_max) else old.year_max,
        include_genres=[g for g in include if g not in exclude],
        exclude_genres=exclude,
        moods=new.moods or old.moods,
        runtime_min=new.runtime_min if (new.runtime_min or new.runtime_max) else old.runtime_min,
        runtime_max=new.runtime_max if (new.runtime_min or new.runtime_max) else old.runtime_max,
        languages=new.languages or ([] if new.exclude_languages else old.languages),
        exclude_languages=new.exclude_languages or ([] if new.languages else old.exclude_languages),
        family=new.family if new.family is not None else old.family,
    )


def _focus(constraints: Constraints, signals: Signals, moods: dict[str, Mood]) -> dict[str, float]:
    """Genres of the latest request, 0..1: a mood's main genre and a genre named outright count 1, a mood's
    other genres 0.5 (the family mood's are left to the family filter's own preference)."""
    focus = {genre: 0.5 for genre in constraints.include_genres}
    for name in constraints.moods:
        mood = moods.get(name)
        if mood is not None and mood.include and name != FAMILY_MOOD:
            focus[mood.include[0]] = 1.0
    for preference in signals.preferences:
        if preference.kind == "genre" and preference.polarity > 0:
            genre = NodeId.parse(preference.node_id).key
            if genre in focus:
                focus[genre] = 1.0
    return {genre: weight for genre, weight in focus.items() if genre not in constraints.exclude_genres}


def _with_preferences(profile: Profile, signals: Signals) -> Profile:
    """The profile as it will be after this turn's preferences (without the store's decay): for the policy's
    decision, the reply's words, and the cards of a turn the store could not save."""
    extra = [ProfileEntry(p.node_id, p.kind, p.label, p.polarity, p.strength) for p in signals.preferences]
    return Profile(profile.user_id, profile.entries + extra, set(profile.seen) | set(signals.seen),
                   set(profile.rejected), list(profile.shown), profile.turns, signals.novelty or profile.novelty)


def _acknowledge(signals: Signals) -> str:
    """One short sentence saying what was understood, so the user can correct it."""
    likes = [p.label for p in signals.preferences if p.polarity > 0 and p.kind != "mood"]
    dislikes = [p.label for p in signals.preferences if p.polarity < 0]
    moods = [p.label for p in signals.preferences if p.kind == "mood" and p.polarity > 0]
    parts = []
    if likes:
        parts.append(f"you like {join_words(likes)}")
    if dislikes:
        parts.append(f"you're not into {join_words(dislikes)}")
    if moods:
        parts.append(f"you're in the mood for something {join_words(moods)}")
    if signals.seen:
        parts.append(f"you've seen {len(signals.seen)} of those")
    limits = _film_limits(signals.constraints)
    if limits:
        parts.append(f"films {' and '.join(limits)}")
    return f"Noted: {'; '.join(parts)}." if parts else ""
