"""Message understanding: one chat message → Signals (intent, mentions with sentiment, seen items, constraints).

Rule-based on purpose: a turn must understand a message in a few milliseconds on a CPU, the same way every time,
and every decision must be explainable. The message is cleaned and entity-linked (the linker is passed in), then
cut into units (words, cue phrases, linked mentions, mood words), clauses (at . ! ? ; : and "but"/"although")
and segments (at commas and "and"/"or"). Each target (a mention or a mood) takes its verdict from the cues of
its own segment — sentiment with negation and intensity, exclusion ("no horror"), seen — or, without one, from
its list neighbours ("I loved Superbad, Juno and Up") or from the clause's kind (a request seeds positively,
a question weakly, a bare answer like "The Matrix (1999)" positively).

The steps live in their own modules: message_text (cleaning, words), lexicon (assets/nlu_lexicon.json and the mood
words as one phrase table), mentions, units (units and clauses), verdicts and reading (each target's verdict),
year_constraints, film_constraints (runtime, language), references (to the cards shown) and questions (about a
film); this module decides the intent and gathers the preferences and constraints. A question states no taste:
it changes no preference, seen item or constraint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from conversation.film_constraints import FilmConstraints, constraint_words, film_constraints
from conversation.lexicon import PLAIN, WEAK, Cue, PhraseTable, phrase_table
from conversation.mentions import Linker, find_mentions
from conversation.message_text import clean_message
from conversation.moods import FAMILY_MOOD
from conversation.questions import find_kind, item_ids, question_about, question_words
from conversation.reading import Reading, read, resolve_pronoun
from conversation.references import References, ShownFilm, find_references, reference_words
from conversation.signals import Intent, Signals
from conversation.units import CLAUSE_END, Clause, Target, Unit, is_open
from conversation.verdicts import excluded
from conversation.year_constraints import year_constraints
from core.ids import NodeId, item_id_of, item_node
from core.mention import Mention
from core.preferences import Preference
from core.settings import Settings
from recommender.audience import load_family_rules

TRUNCATED_NOTE = "Your message was long, so I only read the first {n} characters."
EMPTY_NOTE = "I didn't catch anything in that message. Tell me a film you like, or what you're in the mood for."


def understand(text: str, link: Linker, settings: Settings, *,
               last_item: tuple[str, str] | None = None, shown: Sequence[ShownFilm] = (),
               newest_year: int | None = None) -> Signals:
    """Read one user message.

    text: the raw message (any string; never raises on its content). link: the entity linker.
    last_item: (item id, label) of what the conversation was last about — the last card shown or the film last
    asked about — so that "I already saw that one" or "how long is it?" can refer to it; None when there is none.
    shown: the cards the user is looking at, in order ("the second one"). newest_year: the year of the catalog's
    newest film ("from the last few years" counts back from it).
    """
    cleaned, truncated = clean_message(text, settings.max_message_chars)
    signals = Signals(text=cleaned)
    if truncated:
        signals.notes.append(TRUNCATED_NOTE.format(n=settings.max_message_chars))
    if not cleaned:
        signals.notes.append(EMPTY_NOTE)
        return signals

    assets = Path(settings.assets_dir)
    table = phrase_table(assets)
    mentions = find_mentions(cleaned, link, table)
    references = find_references(cleaned, list(shown), mentions, reference_words(assets))
    mentions = _with_references(mentions, references.mentions)
    limits = film_constraints(cleaned, mentions, constraint_words(assets))
    # "a French film": the words asked for a language, not for the keyword "french"
    mentions = [m for m in mentions if m.kind in ("item", "person")
                or not any(s < m.end and m.start < e for s, e in limits.spans)]
    signals.mentions = mentions
    reading = read(cleaned, mentions, table, last_item)
    units = reading.units
    if _question(signals, reading, settings, last_item, references) or _clarify(signals, references):
        return signals

    intent, target = _intent(reading, last_item)
    signals.intent = intent
    if target is not None:
        signals.target_item = item_id_of(target.node_id)

    _fill_preferences(signals, reading, target)
    _family(signals, table, settings)
    signals.constraints.year_min, signals.constraints.year_max = year_constraints(reading, settings, newest_year)
    _film_limits(signals, limits)
    signals.novelty = _novelty(reading)

    if intent in (Intent.INFORM, Intent.UNKNOWN) and _is_fragment(units, signals):
        intent = signals.intent = Intent.RECOMMEND
    if intent == Intent.UNKNOWN and (signals.preferences or signals.seen or not signals.constraints.is_empty
                                     or signals.novelty):
        signals.intent = Intent.INFORM
    return signals


def _with_references(linked: list[Mention], references: list[Mention]) -> list[Mention]:
    """The linker's mentions, where a reference to a card takes the words it covers ("the Nolan one")."""
    if not references:
        return linked
    spans = {(m.start, m.end) for m in references}
    kept = [m for m in linked if not any(s < m.end and m.start < e for s, e in spans)]
    return sorted(kept + references, key=lambda m: m.start)


def _question(signals: Signals, reading: Reading, settings: Settings, last_item: tuple[str, str] | None,
              references: References) -> bool:
    """Fill a QUESTION (or the CLARIFY it needs) and say whether the message was one. "Why ...?" is not read
    here: it asks why a film was picked (Intent.WHY)."""
    units = reading.units
    if any(Cue.WHY in u.cats or Cue.RESET in u.cats for u in units):
        return False
    has_pronoun = any(Cue.PRONOUN in u.cats for u in units)
    kind = find_kind(signals.text, signals.mentions, has_pronoun, question_words(Path(settings.assets_dir)))
    if kind is None:
        return False
    items = item_ids(signals.mentions)
    people = [m for m in signals.mentions if m.kind == "person"]
    # An unclear reference is asked about before the film last talked about stands in for it.
    question = None if references.clarify and not items else question_about(kind, items, people, last_item)
    if question is None:
        _ask_which(signals, references.clarify or reference_words(Path(settings.assets_dir)).clarify_none,
                   references.options)
        return True
    signals.intent = Intent.QUESTION
    signals.question = question
    return True


def _clarify(signals: Signals, references: References) -> bool:
    """A reference that fits several cards (or a card that was not shown), with no film named otherwise."""
    if references.clarify is None or any(m.kind == "item" for m in signals.mentions):
        return False
    _ask_which(signals, references.clarify, references.options)
    return True


def _ask_which(signals: Signals, question: str, options: list[str]) -> None:
    signals.intent = Intent.CLARIFY
    signals.clarify = question
    signals.clarify_options = list(options)


def _film_limits(signals: Signals, limits: FilmConstraints) -> None:
    constraints = signals.constraints
    constraints.runtime_min, constraints.runtime_max = limits.runtime_min, limits.runtime_max
    constraints.languages = list(limits.languages)
    constraints.exclude_languages = list(limits.exclude_languages)


def _intent(reading: Reading, last_item: tuple[str, str] | None) -> tuple[Intent, Target | None]:
    units = reading.units
    if any(Cue.RESET in u.cats and not (i and Cue.NEG in units[i - 1].cats) for i, u in enumerate(units)):
        return Intent.RESET, None
    for clause in reading.clauses:
        first = _first_word(units, clause, reading.lexicon.yes)
        for index in clause.units:
            if Cue.WHY in units[index].cats and (clause.question or index == first):
                target = _find_target_after(reading, clause, index, last_item, fallback_before=False)
                if target is not None:
                    target.why_target = True
                return Intent.WHY, target
    for clause in reading.clauses:
        for index in clause.units:
            if Cue.SIMILAR in units[index].cats:
                target = _find_target_after(reading, clause, index, last_item, fallback_before=True)
                if target is not None:
                    return Intent.MORE_LIKE, target
    if any(clause.request for clause in reading.clauses):
        return Intent.RECOMMEND, None
    if _greeting_only(units):
        return Intent.GREET, None
    return Intent.UNKNOWN, None


def _find_target_after(reading: Reading, clause: Clause, position: int, last_item: tuple[str, str] | None,
                       fallback_before: bool) -> Target | None:
    units = reading.units
    after = [i for i in clause.units if i > position]
    for index in after:
        items = [t for t in units[index].targets if t.kind == "item"]
        if items:
            return items[0]
        if Cue.PRONOUN in units[index].cats:
            ref = resolve_pronoun([t for t in reading.targets if t.kind == "item" and t.unit < position],
                                  last_item, index)
            if ref is not None:
                units[index].targets.append(ref)
                reading.targets.append(ref)
            return ref
        if units[index].targets:
            return None  # "more like Tom Hanks": not an item to recommend around
    if fallback_before:
        earlier = [t for t in reading.targets if t.kind == "item" and t.unit < position and t.polarity >= 0]
        if earlier:
            return earlier[-1]
        if last_item:
            ref = Target(item_node(last_item[0]), "item", last_item[1], position)
            reading.targets.append(ref)
            return ref
    return None


def _first_word(units: list[Unit], clause: Clause, yes: frozenset[str]) -> int | None:
    for index in clause.units:
        if units[index].text not in yes and units[index].text != "so" and Cue.GREET not in units[index].cats:
            return index
    return None


def _greeting_only(units: list[Unit]) -> bool:
    words = [u for u in units if u.text not in CLAUSE_END and u.text != ","]
    return bool(words) and any(Cue.GREET in u.cats for u in words) and all(
        Cue.GREET in u.cats or Cue.SOCIAL in u.cats or (not u.text[:1].isalnum() and not u.cats and not u.is_target)
        for u in words)


def _is_fragment(units: list[Unit], signals: Signals) -> bool:
    """A reply with no statement in it ("recent stuff", "mind-bending") asks for recommendations."""
    if any(Cue.FIRST in u.cats or Cue.SENT in u.cats or Cue.SEEN in u.cats for u in units):
        return False
    if any(p.kind in ("item", "person") for p in signals.preferences):
        return False
    return not signals.constraints.is_empty or signals.novelty is not None


def _fill_preferences(signals: Signals, reading: Reading, target: Target | None) -> None:
    """Preferences, seen items, genres and moods from the targets' verdicts; a target without a verdict of its
    own is liked when its clause is open or it is the intent's target, liked weakly in a question."""
    units = reading.units
    constraints = signals.constraints
    prefs: dict[str, Preference] = {}
    explicit_include: list[str] = []
    explicit_exclude: list[str] = []
    mood_include: list[str] = []
    mood_exclude: list[str] = []
    clause_of = {i: clause for clause in reading.clauses for i in clause.units}

    for t in reading.targets:
        item_id = item_id_of(t.node_id) if t.seen else None
        if item_id is not None and item_id not in signals.seen:
            signals.seen.append(item_id)
        if t.why_target:
            continue
        clause = clause_of.get(t.unit)
        polarity, strength = t.polarity, t.strength
        if not t.decided and not (t.seen and polarity == 0) and clause is not None:
            if is_open(units, clause) or (target is not None and t.node_id == target.node_id):
                polarity, strength = 1, PLAIN
            elif clause.question:
                polarity, strength = 1, WEAK
        if not polarity:
            continue
        prefs.pop(t.node_id, None)  # a later statement about the same thing overrides an earlier one
        prefs[t.node_id] = Preference(t.node_id, t.kind, t.label, polarity, strength)
        if t.kind == "genre":
            genre = NodeId.parse(t.node_id).key
            if polarity < 0 and (t.excluded or strength >= PLAIN):
                explicit_exclude.append(genre)
            elif polarity > 0 and clause is not None and is_open(units, clause):
                explicit_include.append(genre)
        elif t.mood is not None:
            if polarity > 0:
                _add_unique(constraints.moods, [t.mood.name])
                _add_unique(mood_include, t.mood.include)
                _add_unique(mood_exclude, t.mood.exclude)
            else:
                _add_unique(mood_exclude, t.mood.negated_exclude)
    signals.preferences = list(prefs.values())

    exclude = list(dict.fromkeys(explicit_exclude))
    _add_unique(exclude, [g for g in mood_exclude if g not in explicit_include and g not in mood_include])
    include = [g for g in dict.fromkeys(explicit_include + mood_include) if g not in exclude]
    constraints.include_genres = include
    constraints.exclude_genres = exclude


def _add_unique(values: list[str], new: tuple[str, ...] | list[str]) -> None:
    for value in new:
        if value not in values:
            values.append(value)


def _family(signals: Signals, table: PhraseTable, settings: Settings) -> None:
    """"With the kids" / "grown-ups only now": the family flag. When it is lifted, the family mood's genre
    limits said in the same message go too ("no kids tonight" must not make a family request)."""
    found = load_family_rules(Path(settings.assets_dir)).said(signals.text)
    if found is None:
        return
    said, (start, end) = found
    # The phrase is about who is watching, not a title: "grown-ups only" must not like the film Grown Ups.
    inside = {m.node_id for m in signals.mentions if m.start < end and m.end > start}
    signals.mentions = [m for m in signals.mentions if m.node_id not in inside]
    signals.preferences = [p for p in signals.preferences if p.node_id not in inside]
    constraints = signals.constraints
    constraints.family = said
    family = table.moods.get(FAMILY_MOOD)
    if said or family is None or FAMILY_MOOD not in constraints.moods:
        return
    constraints.moods.remove(FAMILY_MOOD)
    others = {g for name in constraints.moods if name in table.moods for g in table.moods[name].include}
    constraints.include_genres = [g for g in constraints.include_genres if g not in family.include or g in others]
    constraints.exclude_genres = [g for g in constraints.exclude_genres if g not in family.exclude]


def _novelty(reading: Reading) -> str | None:
    units = reading.units
    novelty = None
    for clause in reading.clauses:
        for seg in clause.segments:
            has_item = any(t.kind == "item" for i in seg for t in units[i].targets)
            for at, index in enumerate(seg):
                unit = units[index]
                if Cue.NEW in unit.cats:
                    if has_item and unit.text.startswith("i"):
                        continue  # "I haven't seen Titanic" is about Titanic, not about novelty
                    value = "new"
                elif Cue.FAMILIAR in unit.cats or Cue.CLASSICS in unit.cats:
                    value = "familiar"
                else:
                    continue
                prev = units[seg[at - 1]] if at else None
                if excluded(units, seg, at) or (prev is not None and Cue.NEG in prev.cats):
                    value = "familiar" if value == "new" else "new"
                novelty = value
    return novelty
