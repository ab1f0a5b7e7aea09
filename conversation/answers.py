"""Answers to questions about a film, from the catalog and the knowledge graph only.

Each answer is planned from the film's facts (its evidence, as for a card's reason) into the templates of the
"answers" section of assets/nlu_lexicon.json, and every line that states a fact passes the same support check as
a card's reason (explain.support_check), with the template's own words as its frame. A fact the catalog lacks
is said to be missing ("I don't know the runtime of Heat."), never guessed; a line that fails the check is not
shown. The answer carries the card(s) it talks about.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from conversation.lexicon import LEXICON_FILE, load_section
from conversation.questions import Question, QuestionKind
from core.ids import NodeId, item_node
from core.item import Item
from core.profile import Profile, ProfileEntry
from core.settings import Settings
from core.text import join_words
from core.vocabulary import Kind, Relation
from explain.evidence import Evidence, same_series
from explain.explanation_vocabulary import load_vocabulary, stem
from explain.support_check import check_support, support_facts, words
from recommender.audience import load_family_rules
from recommender.engine import RecommenderEngine

log = logging.getLogger(__name__)

_SLOT = re.compile(r"\{\w+\}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
PLOT_WORDS = 60
"""A plot answer is the description's first sentence, and the next ones while it stays within this many words."""
_ROLES = {QuestionKind.DIRECTOR: "director", QuestionKind.WRITER: "writer", QuestionKind.COMPOSER: "composer",
          QuestionKind.CAST: "star"}
SIMILAR_LINES = 3
"""At most this many shared facts in an answer to "is X like Y?", strongest first."""
_CAST_SHOWN = 4
"""The leads named when asked who is in a film (billing order)."""


@dataclass
class Answer:
    text: str
    item_ids: list[str] = field(default_factory=list)
    """The films the answer talks about, shown as its cards."""


@dataclass(frozen=True)
class _Template:
    known: str = ""
    unknown: str = ""


@lru_cache(maxsize=4)
def _templates(assets_dir: Path) -> dict[str, _Template | str]:
    data = load_section(Path(assets_dir) / LEXICON_FILE, "answers")
    return {name: _Template(**entry) if isinstance(entry, dict) else str(entry) for name, entry in data.items()}


class Answerer:
    """Answers questions about the catalog's films for one process (shared by every session)."""

    def __init__(self, engine: RecommenderEngine, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.templates = _templates(Path(settings.assets_dir))
        self.family = load_family_rules(Path(settings.assets_dir))

    def answer(self, question: Question) -> Answer:
        if question.kind == QuestionKind.FILMOGRAPHY and question.person is not None:
            return self._filmography(*question.person)
        items = [self.engine.catalog.get(i) for i in question.items]
        if not items or any(item is None for item in items):
            return Answer(str(self.templates["no_film"]))
        item = items[0]
        if question.kind == QuestionKind.SIMILAR and len(items) > 1:
            return self._similar(item, items[1])
        evidence = self.engine.evidence(item, Profile(""))
        kind = question.kind
        if kind in _ROLES:
            lines = [self._people(item, evidence, kind)]
        elif kind == QuestionKind.PLOT:
            lines = [self._plot(item, evidence)]
        elif kind == QuestionKind.YEAR:
            lines = [self._fact("year", item, evidence, year=item.year)]
        elif kind == QuestionKind.RUNTIME:
            lines = [self._fact("runtime", item, evidence, runtime=item.runtime)]
        elif kind == QuestionKind.GENRES:
            lines = [self._fact("genres", item, evidence, genres=_genres(item.genres))]
        elif kind == QuestionKind.FAMILY:
            lines = [self._family(item, evidence)]
        elif kind == QuestionKind.SERIES:
            return self._series(item, evidence)
        else:
            lines = self._overview(item, evidence)
        # Every line failed the check (logged there): say so rather than say nothing.
        text = " ".join(line for line in lines if line) or str(self.templates["unsure"]).format(title=item.title)
        return Answer(text, [item.item_id])

    # --- one kind of fact each ------------------------------------------------------------------------
    def _people(self, item: Item, evidence: Evidence, kind: QuestionKind) -> str:
        names = list(item.people.get(_ROLES[kind], ()))
        if kind == QuestionKind.CAST:
            names = names[:_CAST_SHOWN]
        return self._fact(kind.value, item, evidence, names=join_words(names) if names else None)

    def _plot(self, item: Item, evidence: Evidence) -> str:
        if not evidence.description:
            return self._fact("plot", item, evidence, description=None)
        kept: list[str] = []
        for sentence in _SENTENCE_END.split(evidence.description.strip()):
            if kept and len(" ".join(kept + [sentence]).split()) > PLOT_WORDS:
                break
            kept.append(sentence)
        text = " ".join(kept).strip()
        if text[-1:].isalnum():
            text += "."
        # The description is quoted as the catalog gives it: "we", "our" in it are its words, not ours.
        return self._fact("plot", item, evidence, tolerated={"(first person)"}, description=text)

    def _family(self, item: Item, evidence: Evidence) -> str:
        note = str(self.templates["family_note"])
        if not item.genres:
            return self._fact("family", item, evidence, genres=None)
        blocked = [g for g in item.genres if g in self.family.exclude_genres]
        adult = [k for k in item.keywords if k in self.family.adult_keywords]
        if blocked:
            line = self._fact("family_genre", item, evidence, genre=blocked[0].lower())
        elif adult:
            line = self._fact("family_adult", item, evidence, keyword=adult[0])
        else:
            line = self._fact("family_yes", item, evidence, genres=_genres(item.genres))
        return f"{line} {note}" if line else ""

    def _series(self, item: Item, evidence: Evidence) -> Answer:
        members = self._series_members(item)
        if not members:
            return Answer(self._fact("series", item, evidence, series=None), [item.item_id])
        # "the Dark Knight series", not "the The Dark Knight series"
        name = re.sub(r"^the\s+", "", evidence.series or _series_stem_label(item, members), flags=re.IGNORECASE)
        line = self._fact("series", item, evidence, series=name)
        later = [m for m in members if (m.year or 0) > (item.year or 0)]
        following = later[0] if later else None
        template = self.templates["series_next"]
        assert isinstance(template, _Template)
        tail = template.known.format(next=following.label) if following else template.unknown
        ids = [item.item_id] + ([following.item_id] if following else [])
        return Answer(f"{line} {tail}".strip(), ids)

    def _series_members(self, item: Item) -> list[Item]:
        """The other films of the item's series in release order: its collection where the catalog names one,
        else titles of one series (explain.evidence.same_series)."""
        catalog = self.engine.catalog
        if item.series:
            members = [i for i in catalog if i.series == item.series and i.item_id != item.item_id]
        else:
            keywords = load_vocabulary().series_keywords
            members = [i for i in catalog if i.item_id != item.item_id and same_series(item, i, keywords)]
        return sorted(members, key=lambda i: (i.year or 9999, i.item_id))

    def _overview(self, item: Item, evidence: Evidence) -> list[str]:
        """"Tell me more about it": who made it, who is in it, when, how long, and what it is about."""
        lines = [self._fact("director", item, evidence, names=join_words(list(item.people.get("director", ())))
                            or None, say_unknown=False),
                 self._people(item, evidence, QuestionKind.CAST) if item.people.get("star") else "",
                 self._fact("year", item, evidence, year=item.year, say_unknown=False),
                 self._fact("runtime", item, evidence, runtime=item.runtime, say_unknown=False),
                 self._plot(item, evidence) if evidence.description else ""]
        lines = [line for line in lines if line]
        if not lines:
            return [self._fact("plot", item, evidence, description=None)]
        # Checked with the title; said once, then "It", so that the answer does not read like a form.
        return lines[:1] + [_as_it(line, item.title) for line in lines[1:]]

    def _similar(self, first: Item, second: Item) -> Answer:
        """"Is X like Y?": the facts they share (as the evidence for X to someone who liked Y finds them)."""
        liked = Profile("", [ProfileEntry(item_node(second.item_id), "item", second.label, 1, 1.0)])
        evidence = self.engine.evidence(first, liked)
        planned: list[tuple[str, dict[str, str]]] = []
        if any(m.kind == "franchise" for m in evidence.matches):
            planned.append(("similar_series", {}))
        people = [m for m in evidence.matches if m.kind == "person" and m.relation == m.because_relation]
        for match in people[:2]:
            did = Relation.for_role(_role_of(match.relation)).did or ""
            planned.append(("similar_person", {"name": match.label, "did": did}))
        keywords = [m.label for m in evidence.matches if m.kind == "keyword"][:2]
        if keywords:
            planned.append(("similar_keyword", {"keywords": join_words(keywords)}))
        genres = [g for g in first.genres if g in second.genres]
        if genres:
            planned.append(("similar_genre", {"genres": _genres(genres) or ""}))
        lines: list[str] = []
        for name, slots in planned[:SIMILAR_LINES]:
            # The two titles are said once; the lines after it say "both" ("Both are listed as drama.").
            again = f"{name}_again"
            template = again if lines and again in self.templates else name
            line = self._fact(template, first, evidence, first=first.title, second=second.title, **slots)
            if line:
                lines.append(line)
        if not lines:
            lines = [self._fact("similar", first, evidence, first=first.title, second=second.title)]
        elif len(lines) == 1 and genres:
            lines.append(str(self.templates["similar_only_genre"]))
        return Answer(" ".join(lines), [first.item_id, second.item_id])

    def _filmography(self, person: str, name: str) -> Answer:
        kg = self.engine.artifacts.kg
        films = []
        for neighbour in kg.neighbours_of(person):
            if NodeId.parse(neighbour).kind == Kind.ITEM:
                item = self.engine.catalog.get(NodeId.parse(neighbour).key)
                if item is not None:
                    films.append(item)
        films.sort(key=lambda i: (-i.popularity, i.item_id))
        template = self.templates["filmography"]
        assert isinstance(template, _Template)
        if not films:
            return Answer(template.unknown.format(name=name))
        return Answer(template.known.format(name=name), [i.item_id for i in films[: self.settings.cards]])

    # --- planning and checking ------------------------------------------------------------------------
    def _fact(self, template_name: str, item: Item, evidence: Evidence, /, say_unknown: bool = True,
              tolerated: frozenset[str] | set[str] = frozenset(), **slots) -> str:
        """The template filled with the facts, checked; its "unknown" line when a fact is missing (or nothing
        when say_unknown is False); nothing when the filled line fails the check."""
        template = self.templates[template_name]
        assert isinstance(template, _Template)
        if any(value is None or value == "" for value in slots.values()) or not template.known:
            return template.unknown.format(title=item.title, **{k: v or "" for k, v in slots.items()}) \
                if say_unknown else ""
        line = template.known.format(title=item.title, **slots)
        frame = {stem(w) for w in words(_SLOT.sub(" ", template.known))}
        facts = support_facts(evidence)
        report = check_support(line, evidence, max_words=2 * PLOT_WORDS,
                               facts=replace(facts, words=facts.words | frame))
        if [p for p in report.problems if p not in tolerated]:
            log.warning("answer line for %s failed the support check (%s): %s", item.item_id,
                        "; ".join(report.problems), line)
            return ""
        return line


def _as_it(line: str, title: str) -> str:
    return "It" + line[len(title):] if line.startswith(title + " ") else line


def _genres(genres: tuple[str, ...] | list[str]) -> str | None:
    return join_words([g.lower() for g in genres]) if genres else None


def _role_of(relation_phrase: str) -> str:
    return next(r.role for r in Relation if r.phrase == relation_phrase and r.role)


def _series_stem_label(item: Item, members: list[Item]) -> str:
    """A series named by the catalog's titles only: the shortest title among its films ("Toy Story")."""
    return min([item.title] + [m.title for m in members], key=len)
