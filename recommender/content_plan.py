"""What one card's line will say, decided from the evidence before any text is written.

The plan ranks the facts by how personal and specific they are — a person shared with a liked title (director >
writer > lead actor > composer, each said in the role they hold), the same series, a specific shared theme, a
person or theme the user named, then genre/decade fit with what the user asked for — and picks one short story
hook from the item's own description. Its realisations are complete lines built only from those facts (so they
pass the support check by construction); the LLM may choose among and join them (see recommender/explain.py),
never add to them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from core.vocabulary import Relation
from recommender.evidence import Evidence, Match
from recommender.support_check import ROLE_OF_RELATION, Vocabulary, check_support, load_vocabulary, support_facts

# How personal and specific each kind of link is (higher leads). People by role: director > writer > star > composer.
_ROLE_STRENGTH = {"director": 100, "writer": 95, "star": 90, "composer": 80}
_LIKED_PERSON_DISCOUNT = 3
"""A person the user named outranks the same role shared through a liked title by a little less."""
_STRENGTH = {"franchise": 75, "keyword_title": 65, "keyword": 60, "mood": 55, "genre": 45, "decade": 40,
             "genre_title": 30}
PERSONAL_MIN = 55
"""Facts at least this strong count as a personal link (people, series, a theme shared or asked for)."""
LEAD_STARS = 3
"""Only the first-billed stars count as lead actors for a shared-star link."""
HOOK_WORDS = (5, 16)
"""A story hook is a clause of the description with this many words (min, max)."""


def _role_phrase(role: str) -> str:
    """"director" -> "directed by"."""
    return Relation.for_role(role).phrase


def _role_did(role: str) -> str:
    """"director" -> "directed" (as in "who directed Alien")."""
    return Relation.for_role(role).did or role


def _role_does(role: str) -> str:
    """"director" -> "directs" (as in "directs too")."""
    return Relation.for_role(role).does or role


@dataclass(frozen=True)
class PlanFact:
    """One thing the line may say, with how strongly it ties the item to this user."""

    kind: str
    """person | franchise | keyword | mood | genre | decade"""
    strength: int
    label: str
    """What is named: a person, a series' liked title, a keyword, a genre, a decade."""
    because: str = ""
    """The liked title it is shared with, or empty when the user named the thing itself."""
    role: str = ""
    """For people: their role on the item (director | writer | star | composer)."""
    because_role: str = ""
    """For people shared with a liked title: their role there."""

    @property
    def personal(self) -> bool:
        return self.strength >= PERSONAL_MIN

    @property
    def key_terms(self) -> tuple[str, ...]:
        """What a line must name to have said this fact (the evaluation looks for these up front)."""
        return tuple(t for t in (self.label, self.because) if t)


@dataclass(frozen=True)
class ContentPlan:
    item_id: str
    title: str
    year: int | None
    facts: tuple[PlanFact, ...]
    """Strongest first; facts[0] leads the line when it is personal."""
    hook: str = ""
    """A clause of the item's own description, as a sentence without its full stop; empty if none fits."""
    genres: tuple[str, ...] = ()
    directors: tuple[str, ...] = ()
    stars: tuple[str, ...] = ()

    @property
    def lead(self) -> PlanFact | None:
        return self.facts[0] if self.facts and self.facts[0].personal else None

    def key(self) -> str:
        """Identifies what a line from this plan says: the cache key with the item id."""
        text = repr((self.item_id, self.facts[:3], self.hook))
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """The plan as the prompt shows it: one fact a line."""
        facts = [_fact_clause(f) for f in self.facts[:3]]
        return "; ".join(facts) + (f"; story: {self.hook}" if self.hook else "")


@dataclass
class Realisation:
    text: str
    lead: bool
    """True when the line opens with the plan's lead fact."""
    parts: tuple[str, ...] = field(default_factory=tuple)
    """The planned phrases the line joins (the grammar's alternatives are built from these)."""


# --- facts --------------------------------------------------------------------------------------------------
def _person_fact(match: Match, evidence: Evidence) -> PlanFact | None:
    role = ROLE_OF_RELATION.get(match.relation, "")
    if not role or (role == "star" and match.label not in evidence.stars[:LEAD_STARS]):
        return None
    if match.via_title:
        because_role = ROLE_OF_RELATION.get(match.because_relation, "")
        if not because_role:
            return None
        return PlanFact("person", _ROLE_STRENGTH[role], match.label, match.because, role, because_role)
    return PlanFact("person", _ROLE_STRENGTH[role] - _LIKED_PERSON_DISCOUNT, match.label, "", role)


def plan_facts(evidence: Evidence, vocabulary: Vocabulary | None = None) -> list[PlanFact]:
    """Every usable link of the evidence as a fact, strongest first (ties keep the evidence's order)."""
    vocabulary = vocabulary or load_vocabulary()
    facts: list[PlanFact] = []
    for match in evidence.matches:
        if match.kind == "person":
            fact = _person_fact(match, evidence)
        elif match.kind == "franchise":
            fact = PlanFact("franchise", _STRENGTH["franchise"], match.because, match.because)
        elif match.kind == "keyword":
            if vocabulary.weak_keyword(match.label):
                continue
            if match.via_title:
                fact = PlanFact("keyword", _STRENGTH["keyword_title"], match.label, match.because)
            elif match.label.lower() != match.because.lower():
                fact = PlanFact("mood", _STRENGTH["mood"], match.label)  # a mood word that is also a keyword
            else:
                fact = PlanFact("keyword", _STRENGTH["keyword"], match.label)
        elif match.kind == "genre":
            fact = PlanFact("genre", _STRENGTH["genre_title" if match.via_title else "genre"], match.label,
                            match.because if match.via_title else "")
        elif match.kind == "decade" and evidence.year:
            fact = PlanFact("decade", _STRENGTH["decade"], match.label)
        else:
            fact = None
        if fact is not None:
            facts.append(fact)
    facts.sort(key=lambda f: -f.strength)
    # One fact per person and per liked title's series: the strongest role wins.
    unique: dict[tuple[str, str], PlanFact] = {}
    for fact in facts:
        unique.setdefault((fact.kind, fact.label.lower()), fact)
    return list(unique.values())


# --- the story hook -----------------------------------------------------------------------------------------
_ARTICLES = {"a", "an", "the"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
_CLAUSE_CUT = re.compile(r",\s+|\s+[-–—]\s+|;\s+|\s+and\s+|\s+but\s+|\s+as\s+|\s+who\s+|\s+when\s+|\s+while\s+")


def story_hook(description: str, vocabulary: Vocabulary | None = None) -> str:
    """One clause of the description's first sentence that reads on its own: the sentence itself when short,
    else its opening main clause (skipping a leading "During a mission to Mars," and similar), cut at a clause
    boundary. Empty when nothing of a fitting length reads as a clause."""
    vocabulary = vocabulary or load_vocabulary()
    text = " ".join(description.split())
    if not text:
        return ""
    sentence = _SENTENCE.split(text, maxsplit=1)[0].rstrip(".!?… ")
    low, high = HOOK_WORDS
    if "..." in sentence or "…" in sentence or '"' in sentence or "(" in sentence:
        return ""
    if low <= len(sentence.split()) <= high:
        return _tidy_hook(sentence, vocabulary)
    pieces = _CLAUSE_CUT.split(sentence)
    if len(pieces) > 1 and pieces[0].split()[0].lower() in vocabulary.subordinate_openers:
        # "During a manned mission to Mars, Astronaut Mark Watney is presumed dead...": start at the main clause.
        rest = sentence[len(pieces[0]):].lstrip(" ,")
        if not rest or rest.split()[0].lower() in vocabulary.dangling_words:
            return ""  # "..., and threatens": the cut did not fall between two clauses
        sentence = rest[:1].upper() + rest[1:]
    boundaries = [m.start() for m in _CLAUSE_CUT.finditer(sentence)] + [len(sentence)]
    for cut in reversed(boundaries):
        clause = sentence[:cut].rstrip(" ,;")
        count = len(clause.split())
        last_piece = re.split(r",\s+|\s+[-–—]\s+", clause)[-1]
        # "..., Mia - a beautiful" stops inside an apposition: not a clause that reads on its own.
        dangling = clause != sentence and last_piece != clause and last_piece.split()[0].lower() in _ARTICLES
        last = clause.split()[-1].lower()
        if low <= count <= high and not dangling and last not in vocabulary.dangling_words | vocabulary.pronouns:
            return _tidy_hook(clause, vocabulary)
    return ""


def _tidy_hook(clause: str, vocabulary: Vocabulary) -> str:
    # A clause cut after an abbreviation ("... named Fix-It Felix Jr., in which") keeps its full stop; every
    # realisation ends the hook with its own, so it goes here rather than doubling there.
    clause = clause.strip().rstrip(",;:.")
    if clause.split()[0].lower() in vocabulary.pronouns:
        return ""  # "She finds that...": the one it is about was cut off with the opening clause
    return clause[:1].upper() + clause[1:]


def build_plan(evidence: Evidence, vocabulary: Vocabulary | None = None) -> ContentPlan:
    vocabulary = vocabulary or load_vocabulary()
    return ContentPlan(
        item_id=evidence.item_id, title=evidence.title, year=evidence.year,
        facts=tuple(plan_facts(evidence, vocabulary)),
        hook=story_hook(evidence.description or evidence.overview, vocabulary),
        genres=tuple(evidence.genres), directors=tuple(evidence.directors), stars=tuple(evidence.stars),
    )


# --- phrases ------------------------------------------------------------------------------------------------
def _fact_clause(fact: PlanFact) -> str:
    """The fact in the prompt's plain form ("directed by Ridley Scott, who directed Alien")."""
    if fact.kind == "person":
        said = f"{_role_phrase(fact.role)} {fact.label}"
        return f"{said}, who {_role_did(fact.because_role)} {fact.because}" if fact.because else \
            f"{said}, whom you like"
    if fact.kind == "franchise":
        return f"same series as {fact.label}"
    if fact.kind in {"keyword", "mood"}:
        return f"about {fact.label}, like {fact.because}" if fact.because else f"about {fact.label}, as you asked"
    if fact.kind == "genre":
        return f"{_genre(fact.label)}, like {fact.because}" if fact.because else f"{_genre(fact.label)}, as you asked"
    return f"from the {fact.label}, as you asked"


def _genre(genre: str) -> str:
    return genre.lower() if genre != "TV Movie" else "TV film"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def lead_phrases(fact: PlanFact, year: int | None) -> list[str]:
    """Ways to open a line with this fact, each true in every word (roles as held)."""
    name, title = fact.label, fact.because
    if fact.kind == "person" and title:
        role, was = fact.role, fact.because_role
        if role == was:
            options = {
                "director": [f"Directed by {name}, who also directed {title}", f"From {name}, the director of {title}"],
                "writer": [f"Written by {name}, who also wrote {title}", f"From {name}, the writer of {title}"],
                "star": [f"Starring {name}, also the star of {title}", f"{name}, the star of {title}, leads this one"],
                "composer": [f"Music by {name}, who also scored {title}", f"Scored by {name}, as was {title}"],
            }[role]
        else:
            options = [f"{_cap(_role_phrase(role))} {name}, the {was} of {title}",
                       f"{name}, who {_role_did(was)} {title}, is back as {role}"]
        return options
    if fact.kind == "person":
        return [f"{_cap(_role_phrase(fact.role))} {name}, whom you like",
                f"{name}, one of your favourites, is the {fact.role}"]
    if fact.kind == "franchise":
        return [f"From the same series as {name}", f"More from the series of {name}, which you loved"]
    if fact.kind == "keyword" and title:
        return [f"Shares a theme with {title}: {name}", f"Like {title}, it is about {name}"]
    if fact.kind in {"keyword", "mood"}:
        return [f"A film about {name}, as you asked", f"On a theme you asked for: {name}"]
    if fact.kind == "genre" and title:
        return [f"More {_genre(name)}, like {title}", f"{_cap(_genre(name))} in the spirit of {title}"]
    if fact.kind == "genre":
        return [f"{_cap(_genre(name))}, as you asked", f"Some {_genre(name)}, just as you wanted"]
    when = f"From {year}, right" if year else "Right"
    return [f"{when} in the {name} you asked for"]


def second_link(plan: ContentPlan) -> str:
    """The next personal link after the lead, as a sentence without its full stop ("Tim Roth, from Reservoir
    Dogs, stars too"); empty when there is none."""
    lead = plan.lead
    if lead is None:
        return ""
    for fact in plan.facts[1:]:
        if not fact.personal or fact.label == lead.label:
            continue
        if fact.kind == "person" and fact.because:
            return f"{fact.label}, from {fact.because}, {_role_does(fact.role)} too"
        if fact.kind == "person":
            return f"{fact.label}, whom you like, {_role_does(fact.role)} too"
        if fact.kind == "franchise":
            return f"It is from the same series as {fact.because}"
        if fact.kind == "keyword" and fact.because:
            return f"Like {fact.because}, it is about {fact.label}"
    return ""


def detail_phrases(plan: ContentPlan, used: str, vocabulary: Vocabulary | None = None) -> list[str]:
    """Item-specific sentences (without the full stop) for a line's second half, or for a line with no link:
    the next personal link with the story hook, the hook, the next link alone, then stars, genre and director."""
    vocabulary = vocabulary or load_vocabulary()
    sentences = []
    second = second_link(plan)
    if second and plan.hook:
        sentences.append(f"{second}. {plan.hook}")
    if plan.hook:
        sentences.append(plan.hook)
    if second:
        sentences.append(second)
    stars = [s for s in plan.stars[:2] if s not in used]
    directors = [d for d in plan.directors[:1] if d not in used]
    genre = vocabulary.genre_noun(plan.genres[0]) if plan.genres else ""
    when = f"{plan.year} " if plan.year else ""
    article = "An" if (when or genre)[:1].lower() in "aeio8" or when.startswith("18") else "A"
    if stars:
        sentences.append(f"It stars {' and '.join(stars)}")
    if directors and genre:
        sentences.append(f"{article} {when}{genre} directed by {directors[0]}")
    elif genre and stars:
        sentences.append(f"{article} {when}{genre} with {stars[0]}")
    elif genre:
        sentences.append(f"{plan.title} is {article.lower()} {when}{genre}")
    return sentences


def realisations(plan: ContentPlan, evidence: Evidence, max_words: int = 32) -> list[Realisation]:
    """Complete lines from the plan, best first: the lead fact (when there is one) then one item-specific detail;
    lines that would fail the support check (a repeated name, too long) are left out."""
    lead = plan.lead
    openers = lead_phrases(lead, plan.year) if lead else []
    if not openers and plan.facts:
        openers = lead_phrases(plan.facts[0], plan.year)  # a weak link still goes first: it is about the user
    lines: list[Realisation] = []
    # Detail-major order: the first few lines (the ones the LLM chooses among) vary the opener's wording and
    # lead with the story hook, the most item-specific detail.
    details = {opener: detail_phrases(plan, opener) for opener in openers}
    for rank in range(max((len(d) for d in details.values()), default=0)):
        for opener in openers:
            if rank < len(details[opener]):
                detail = details[opener][rank]
                lines.append(Realisation(f"{opener}. {detail}.", lead is not None, (opener, detail)))
    lines += [Realisation(f"{opener}.", lead is not None, (opener,)) for opener in openers]
    if not openers:
        details = detail_phrases(plan, "")
        for first, second in zip(details, details[1:] + [""]):
            text = f"{first}. {second}." if second else f"{first}."
            lines.append(Realisation(text, False, tuple(p for p in (first, second) if p)))
    if not lines:
        lines.append(Realisation(f"A film called {plan.title}, from {plan.year}." if plan.year else
                                 f"A film called {plan.title}, picked for you.", False, ()))
    facts = support_facts(evidence)
    return [r for r in lines if check_support(r.text, evidence, max_words=max_words, facts=facts).ok] or lines[-1:]


# --- the grammar --------------------------------------------------------------------------------------------
def _gbnf_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plan_grammar(plan: ContentPlan, lines: list[Realisation], vocabulary: Vocabulary | None = None) -> str:
    """A GBNF grammar whose sentences are exactly the plan's phrases joined by the closed set of connectives:
    an opener (the lead, when there is one) and optionally one detail. Decoding under it cannot invent."""
    vocabulary = vocabulary or load_vocabulary()
    openers = list(dict.fromkeys(r.parts[0] for r in lines if r.parts))
    details = list(dict.fromkeys(r.parts[1] for r in lines if len(r.parts) > 1))
    rules = ["root ::= opener tail", "opener ::= " + " | ".join(_gbnf_literal(o) for o in openers)]
    if details:
        rules.append('tail ::= "." | connective detail "."')
        rules.append("connective ::= " + " | ".join(_gbnf_literal(c) for c in vocabulary.connectives))
        rules.append("detail ::= " + " | ".join(_gbnf_literal(d) for d in details))
    else:
        rules.append('tail ::= "."')
    return "\n".join(rules) + "\n"
