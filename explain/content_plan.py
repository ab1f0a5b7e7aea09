"""What one card's line will say, decided from the evidence before any text is written.

The plan ranks the facts by how personal and specific they are — the next film (or another) of a liked film's
series as the catalog's collections name it, a person shared with a liked title (director > writer > lead actor >
composer, each said in the role they hold), a series guessed from titles, a specific shared theme, a person or
theme the user named, then genre/decade fit with what the user asked for (a genre shared with a liked title only
when nothing stronger exists) — and picks one short story hook from the item's own description, a whole clause
that says more than the title, year and genre. Its realisations are complete lines built only from those facts
(so they pass the support check by construction), in plain English: themes as noun phrases (inflect, wordfreq),
one full stop a sentence; the LLM may choose among and join them (see explain/writer.py), never add to them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import inflect
from wordfreq import word_frequency

from core.catalog import normalize_title
from core.vocabulary import Relation
from explain.evidence import LEAD_BILLING, Evidence, Match
from explain.explanation_vocabulary import Vocabulary, load_vocabulary, stem
from explain.support_check import ROLE_OF_RELATION, check_support, support_facts, words

# How personal and specific each kind of link is (higher leads). People by role: director > writer > star > composer.
_ROLE_STRENGTH = {"director": 100, "writer": 95, "star": 90, "composer": 80}
_LIKED_PERSON_DISCOUNT = 3
"""A person the user named outranks the same role shared through a liked title by a little less."""
_STRENGTH = {"series": 110, "next_in_series": 120, "franchise": 75, "keyword_title": 65, "keyword": 60, "mood": 55,
             "genre": 45, "decade": 40, "genre_title": 30}
PERSONAL_MIN = 55
"""Facts at least this strong count as a personal link (people, series, a theme shared or asked for)."""
LEAD_STARS = LEAD_BILLING
"""Only the first-billed stars count as lead actors for a shared-star link."""
HOOK_WORDS = (5, 16)
"""A story hook is a clause of the description with this many words (min, max)."""
PLURAL_SHARE = 0.25
"""A noun whose plural is at least this common against its singular (wordfreq) names things one counts and reads
best in the plural ("about witches", "about superheroes")."""
COUNTABLE_SHARE = 0.05
"""Below PLURAL_SHARE but at least this: countable, said with an article ("about a heist", "about a wedding");
below it a mass noun, said bare ("about revenge", "about magic")."""
COMPOUND_COUNTABLE_SHARE = 0.15
"""COUNTABLE_SHARE for a compound's head ("a road trip", but "time travel")."""

_INFLECT = inflect.engine()


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
    because_lead: bool = False
    """For a star shared with a liked title: a lead there too (else only "also in" it)."""
    series: str = ""
    """For a series: its name ("Toy Story") when the catalog's collections name it."""
    next_in_series: bool = False
    """For a series: the item comes right after the liked title in it."""
    phrase: str = ""
    """For a theme: the keyword as a noun phrase in correct English ("witches", "a heist", "the CIA")."""

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
    """In billing order, as the catalog lists them."""
    language: str = ""
    """The original language's English name when it is not English ("French"); empty otherwise."""

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
        return PlanFact("person", _ROLE_STRENGTH[role], match.label, match.because, role, because_role,
                        because_lead=match.because_lead)
    return PlanFact("person", _ROLE_STRENGTH[role] - _LIKED_PERSON_DISCOUNT, match.label, "", role)


def plan_facts(evidence: Evidence, vocabulary: Vocabulary | None = None) -> list[PlanFact]:
    """Every usable link of the evidence as a fact, strongest first (ties keep the evidence's order)."""
    vocabulary = vocabulary or load_vocabulary()
    facts: list[PlanFact] = []
    for match in evidence.matches:
        if match.kind == "person":
            fact = _person_fact(match, evidence)
        elif match.kind == "franchise":
            # A series the catalog's collections name is the most telling link of all (a sequel to a liked
            # film); one guessed from titles ranks below the people.
            strength = _STRENGTH["next_in_series" if match.next_in_series else "series" if match.series
                                 else "franchise"]
            fact = PlanFact("franchise", strength, match.because, match.because,
                            series=match.series, next_in_series=match.next_in_series)
        elif match.kind == "keyword":
            if vocabulary.weak_keyword(match.label):
                continue
            phrase = keyword_phrase(match.label, evidence.keyword_forms.get(match.label.lower(), ""), vocabulary)
            if not phrase:
                continue
            if match.via_title:
                fact = PlanFact("keyword", _STRENGTH["keyword_title"], match.label, match.because, phrase=phrase)
            elif match.label.lower() != match.because.lower():
                # A mood word that is also a keyword.
                fact = PlanFact("mood", _STRENGTH["mood"], match.label, phrase=phrase)
            else:
                fact = PlanFact("keyword", _STRENGTH["keyword"], match.label, phrase=phrase)
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
    kept = list(unique.values())
    if any(f.personal for f in kept):
        # A genre shared with a liked title says next to nothing: it is only said when nothing stronger exists.
        kept = [f for f in kept if not (f.kind == "genre" and f.because)]
    return kept


# --- keyword phrases ----------------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def plural_share(noun: str) -> float:
    """How common the noun's plural is against the noun itself in English text (wordfreq), 0 when neither is
    known: a countable noun's plural is common ("witches" / "witch" 0.32), a mass noun's is not ("revenges")."""
    singular = word_frequency(noun, "en")
    return word_frequency(_INFLECT.plural_noun(noun), "en") / singular if singular else 0.0


def is_plural(noun: str) -> bool:
    """"friends", "nazis": the word is the plural of a more common singular ("christmas" is not "christma")."""
    singular = _INFLECT.singular_noun(noun)
    return bool(singular) and word_frequency(singular, "en") > word_frequency(noun, "en")


def film_type(keyword: str, vocabulary: Vocabulary) -> bool:
    """The keyword names a kind of film ("musical", "romantic comedy"): said as "a musical", not "about"."""
    return keyword.lower() in vocabulary.film_type_keywords


def keyword_phrase(keyword: str, written: str = "", vocabulary: Vocabulary | None = None) -> str:
    """The keyword as a noun phrase that reads after "about": "witches", "a heist", "revenge", "the CIA",
    "New York", "the 1970s"; a kind of film with its article ("a musical"). `written` is how the catalog's
    descriptions write it (Evidence.keyword_forms), which settles proper nouns and their article. Empty when the
    keyword is no noun phrase ("on the run")."""
    vocabulary = vocabulary or load_vocabulary()
    if film_type(keyword, vocabulary):
        return _INFLECT.a(keyword.lower())
    words = keyword.split()
    last = words[-1].lower()
    if re.fullmatch(r"\d{4}s", last):
        return f"the {keyword}"
    share = plural_share(last)
    # The catalog's own usage settles proper nouns ("New York", "the FBI"), mass nouns with their article ("the
    # future") and compounds ("a small town", "time travel"); a countable single noun reads best in the plural.
    if written and (len(words) > 1 or written[:1].isupper() or share < COUNTABLE_SHARE):
        return written
    if len(words) > 1 and words[0].lower() in vocabulary.function_words - _ARTICLES:
        return ""  # "on the run" is no noun phrase: "about on the run" cannot be said
    if len(words) > 1 and {w.lower() for w in words} & vocabulary.function_words:
        return keyword  # "falling in love", "good vs evil": a phrase of its own, said as it is
    if is_plural(last):
        return keyword
    if share >= PLURAL_SHARE:
        return " ".join(words[:-1] + [_INFLECT.plural_noun(words[-1])])
    # A compound's last word is its head, but the compound is rarer as a count noun than the head ("time
    # travel"): it takes an article only when the head is clearly countable.
    if share >= (COMPOUND_COUNTABLE_SHARE if len(words) > 1 else COUNTABLE_SHARE):
        return _INFLECT.a(keyword)
    return keyword


# --- the story hook -----------------------------------------------------------------------------------------
_ARTICLES = {"a", "an", "the"}
# A sentence ends at a stop before a capital, but not after an initial or a title ("T.E. Lawrence", "A. Michael
# Baldwin", "Mr. Smith", "Cuba Gooding Jr. and").
_SENTENCE = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)(?<!\bMrs\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bJr\.)"
                       r"(?<!\bSr\.)(?<!\bvs\.)\s+(?=[A-Z\"“])")
_SUBORDINATORS = ("when", "while", "who", "after", "before", "because", "until", "where", "whose")
# A bare "and"/"but" may join two verbs of one clause ("when their car hits and kills a pedestrian"): only one
# after a comma starts a new clause. "as" opens a clause too rarely to cut at ("doesn't go as planned", "known
# as"), but a clause with one in it may be left open.
_CLAUSE_CUT = re.compile(r",\s+(?:and\s+|but\s+)?|\s+[-–—]\s+|;\s+|\s+(?=(?:" + "|".join(_SUBORDINATORS) + r")\s)")
_OPEN_CLAUSE = re.compile(r"\s(?:" + "|".join(_SUBORDINATORS + ("as",)) + r")\s")


def split_sentences(text: str, titles: tuple[str, ...] = ()) -> list[str]:
    """The sentences of a line or description, initials and abbreviations kept inside their sentence, and so
    are `titles` with a stop inside ("The Super Mario Bros. Movie")."""
    protected = text.strip()
    for title in titles:
        protected = protected.replace(title, title.replace(". ", ".\x00"))
    return [s.replace(".\x00", ". ") for s in _SENTENCE.split(protected) if s]


def story_hook(description: str, vocabulary: Vocabulary | None = None) -> str:
    """One clause of the description's first sentence that reads on its own: the sentence itself when short,
    else its opening main clause (skipping a leading "During a mission to Mars," and similar), cut at a clause
    boundary. Empty when nothing of a fitting length reads as a clause."""
    vocabulary = vocabulary or load_vocabulary()
    text = " ".join(description.split())
    if not text:
        return ""
    sentence = split_sentences(text)[0].rstrip(".!?… ")
    low, high = HOOK_WORDS
    if "..." in sentence or "…" in sentence or '"' in sentence or "(" in sentence:
        return ""
    if low <= len(sentence.split()) <= high:
        return _tidy_hook(sentence, vocabulary)
    pieces = re.split(r",\s+", sentence)
    if len(pieces) > 1 and pieces[0].split()[0].lower() in vocabulary.subordinate_openers:
        # "During a manned mission to Mars, Astronaut Mark Watney is presumed dead...": start at the main clause.
        skipped = 1
        # "Set in Franklin County, Virginia, a gang ...": a place's name after the opener belongs to it.
        while skipped < len(pieces) - 1 and len(pieces[skipped].split()) <= 3 \
                and all(w[:1].isupper() for w in pieces[skipped].split()):
            skipped += 1
        rest = ", ".join(pieces[skipped:])
        if not rest or rest.split()[0].lower() in vocabulary.dangling_words - _ARTICLES:
            return ""  # "..., and threatens": the cut did not fall between two clauses
        sentence = rest[:1].upper() + rest[1:]
    boundaries = [m.start() for m in _CLAUSE_CUT.finditer(sentence) if continues_as_clause(sentence[m.start():],
                                                                                           vocabulary)]
    for cut in reversed(boundaries + [len(sentence)]):
        clause = sentence[:cut].rstrip(" ,;")
        count = len(clause.split())
        last_piece = re.split(r",\s+|\s+[-–—]\s+", clause)[-1]
        # "..., Mia - a beautiful" stops inside an apposition: not a clause that reads on its own.
        dangling = clause != sentence and last_piece != clause and last_piece.split()[0].lower() in _ARTICLES
        last = clause.split()[-1].lower()
        # "... accident when their car hits" ends inside the clause that "when" opened: not a whole clause.
        unclosed = clause != sentence and bool(_OPEN_CLAUSE.search(clause))
        # "A young Donald Trump, eager to make his name": a comma inside that no clause follows.
        unclosed |= not all(continues_as_clause(clause[m.start():], vocabulary) for m in re.finditer(r",", clause))
        if low <= count <= high and not dangling and not unclosed \
                and last not in vocabulary.dangling_words | vocabulary.pronouns:
            return _tidy_hook(clause, vocabulary)
    return ""


def continues_as_clause(rest: str, vocabulary: Vocabulary | None = None) -> bool:
    """Whether the description after a cut opens a new clause or an adjunct (", and the ...", ", who ...",
    ", leaving ...", ", in which ...") rather than finishing the one before it (", become aware of ...": the
    cut took the subject and left its verb behind)."""
    vocabulary = vocabulary or load_vocabulary()
    if not rest.startswith(","):
        return True  # a dash, a semicolon or a subordinator
    following = rest.lstrip(" ,").lower().split(maxsplit=2)
    word = following[0] if following else ""
    relative = len(following) > 1 and following[1] in {"which", "whom"}  # ", in which the hero ..."
    # A number after a comma goes on a list of measures ("9-foot-tall, 643-pound villain").
    return word in vocabulary.clause_openers or word.endswith(("ing", "ed")) or relative or word[:1].isdigit()


def _tidy_hook(clause: str, vocabulary: Vocabulary) -> str:
    # A clause cut after an abbreviation ("... named Fix-It Felix Jr., in which") keeps its full stop; every
    # realisation ends the hook with its own, so it goes here rather than doubling there.
    clause = clause.strip().rstrip(",;:.")
    if clause.split()[0].lower() in vocabulary.pronouns:
        return ""  # "She finds that...": the one it is about was cut off with the opening clause
    return clause[:1].upper() + clause[1:]


def restates_the_listing(text: str, evidence: Evidence, vocabulary: Vocabulary | None = None) -> bool:
    """True when the text says nothing beyond the item's title, year and genres ("Revenge of the Nerds is a 1984
    comedy film"): a tautology as a hook, an empty line as a reason."""
    vocabulary = vocabulary or load_vocabulary()
    folded = normalize_title(text)
    if any(m.via_title and normalize_title(m.because) in folded for m in evidence.matches):
        return False  # it names a liked title ("A drama, like Her"): a link, however weak, not the listing
    listing = {stem(w) for w in words(" ".join([evidence.title, *evidence.genres]))}
    listing |= {stem(w) for genre in evidence.genres for phrase in vocabulary.genre_words.get(genre, ())
                for w in words(phrase)}
    listing |= {str(evidence.year)} if evidence.year else set()
    return all(stem(w) in listing or stem(w) in vocabulary.always_supported for w in words(text))


def build_plan(evidence: Evidence, vocabulary: Vocabulary | None = None) -> ContentPlan:
    vocabulary = vocabulary or load_vocabulary()
    hook = story_hook(evidence.description or evidence.overview, vocabulary)
    return ContentPlan(
        item_id=evidence.item_id, title=evidence.title, year=evidence.year,
        facts=tuple(plan_facts(evidence, vocabulary)),
        hook="" if restates_the_listing(hook, evidence, vocabulary) else hook,
        genres=tuple(evidence.genres), directors=tuple(evidence.directors), stars=tuple(evidence.stars),
        language=evidence.language_name if evidence.language_name and evidence.language != "en" else "",
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
        return f"about {fact.phrase}, like {fact.because}" if fact.because else f"about {fact.phrase}, as you asked"
    if fact.kind == "genre":
        return f"{_genre(fact.label)}, like {fact.because}" if fact.because else f"{_genre(fact.label)}, as you asked"
    return f"from the {fact.label}, as you asked"


def _genre(genre: str) -> str:
    return genre.lower() if genre != "TV Movie" else "TV film"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def sentence(text: str) -> str:
    """The phrase as a sentence: one full stop, none added after one that is there ("Cuba Gooding Jr.") or after
    a title's own "!" or "?"."""
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _the_series(series: str) -> str:
    """"Toy Story" -> "the Toy Story series"; "The Dark Knight" -> "The Dark Knight series"."""
    return f"{series} series" if series.lower().startswith("the ") else f"the {series} series"


def _theme_phrases(fact: PlanFact, title: str) -> list[str]:
    """A shared theme, or a kind of film, said as English: "Like Heat, it is about a heist", "A musical, like
    Les Misérables"."""
    if film_type(fact.label, load_vocabulary()):
        kind = fact.phrase
        return [f"{_cap(kind)}, like {title}", f"Like {title}, it is {kind}"] if title else \
            [f"{_cap(kind)}, as you asked", f"Just as you asked, {kind}"]
    if title:
        return [f"Like {title}, it is about {fact.phrase}", f"Another film about {fact.phrase}, like {title}"]
    return [f"A film about {fact.phrase}, as you asked", f"About {fact.phrase}, just as you asked"]


def lead_phrases(fact: PlanFact, year: int | None) -> list[str]:
    """Ways to open a line with this fact, each true in every word (roles as held)."""
    name, title = fact.label, fact.because
    if fact.kind == "person" and title:
        role, was = fact.role, fact.because_role
        # "the star of" a liked title only for one of its leads; "starred in" holds for anyone in its cast.
        lead_there = was != "star" or fact.because_lead
        if role == was:
            return {
                "director": [f"Directed by {name}, who also directed {title}", f"From {name}, the director of {title}"],
                "writer": [f"Written by {name}, who also wrote {title}", f"From {name}, the writer of {title}"],
                "star": [f"Starring {name}, also the star of {title}", f"{name}, the star of {title}, stars here too"]
                if lead_there else [f"Starring {name}, who was also in {title}", f"{name}, also in {title}, stars here"],
                "composer": [f"Music by {name}, who also scored {title}", f"Scored by {name}, as was {title}"],
            }[role]
        # Another role than on the liked title: said as two facts, never as "back" (which would claim the role
        # there too).
        first = f"the {was} of {title}" if lead_there else f"who {_role_did(was)} {title}"
        return [f"{_cap(_role_phrase(role))} {name}, {first}",
                f"{name}, who {_role_did(was)} {title}, {_role_does(role)} this one"]
    if fact.kind == "person":
        return [f"{_cap(_role_phrase(fact.role))} {name}, whom you like",
                f"{name}, one of your favourites, is the {fact.role}"]
    if fact.kind == "franchise" and fact.series and fact.next_in_series:
        return [f"The next film in {_the_series(fact.series)} after {title}",
                f"After {title}, the next film in {_the_series(fact.series)}"]
    if fact.kind == "franchise" and fact.series:
        return [f"Another film in {_the_series(fact.series)}, like {title}",
                f"From {_the_series(fact.series)}, like {title}"]
    if fact.kind == "franchise":
        return [f"From the same series as {name}", f"More from the series of {name}, which you loved"]
    if fact.kind in {"keyword", "mood"}:
        return _theme_phrases(fact, title)
    if fact.kind == "genre":
        # Only a genre links it to what the user liked or asked for: said plainly, with nothing more claimed.
        kind = _INFLECT.a(load_vocabulary().genre_noun(name))
        return [f"{_cap(kind)}, like {title}", f"Like {title}, it is {kind}"] if title else \
            [f"{_cap(kind)}, as you asked", f"Just as you asked, {kind}"]
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
        if fact.kind == "franchise" and fact.series:
            return f"Like {fact.because}, it is in {_the_series(fact.series)}"
        if fact.kind == "franchise":
            return f"It is from the same series as {fact.because}"
        if fact.kind == "keyword" and fact.because:
            return _theme_phrases(fact, fact.because)[1 if film_type(fact.label, load_vocabulary()) else 0]
    return ""


def detail_phrases(plan: ContentPlan, used: str, vocabulary: Vocabulary | None = None) -> list[str]:
    """Item-specific sentences (without the full stop) for a line's second half, or for a line with no link:
    the next personal link with the story hook, the hook, the next link alone, then the two leads by billing and
    the kind of film with its director (or with the leads when no director is known). Never one that only
    restates the title, year and genre."""
    vocabulary = vocabulary or load_vocabulary()
    sentences = []
    second = second_link(plan)
    if second and plan.hook:
        sentences.append(f"{sentence(second)} {plan.hook}")
    if plan.hook:
        sentences.append(plan.hook)
    if second:
        sentences.append(second)
    stars = [s for s in plan.stars[:2] if s not in used]
    directors = [d for d in plan.directors[:1] if d not in used]
    genre = vocabulary.genre_noun(plan.genres[0]) if plan.genres else ""
    language = f"{plan.language}-language " if plan.language else ""
    kind = " ".join(p for p in (str(plan.year) if plan.year else "", f"{language}{genre or 'film'}") if p)
    leads = " and ".join(stars)
    if directors:
        sentences += [f"It stars {leads}"] if stars else []
        sentences.append(f"{_cap(_INFLECT.a(kind))} directed by {directors[0]}")
    elif stars:
        sentences.append(f"{_cap(_INFLECT.a(kind))} starring {leads}")
    return sentences


def realisations(plan: ContentPlan, evidence: Evidence, max_words: int = 32) -> list[Realisation]:
    """Complete lines from the plan, best first: the lead fact (when there is one) then one item-specific detail;
    lines that would fail the support check (a repeated name, too long) are left out. Empty when the plan has
    nothing to say beyond the title, year and genre: no line is better than an empty one."""
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
                lines.append(Realisation(f"{sentence(opener)} {sentence(detail)}", lead is not None,
                                         (opener, detail)))
    lines += [Realisation(sentence(opener), lead is not None, (opener,)) for opener in openers]
    if not openers:
        details = detail_phrases(plan, "")
        for first, second in zip(details, details[1:] + [""]):
            text = f"{sentence(first)} {sentence(second)}" if second else sentence(first)
            lines.append(Realisation(text, False, tuple(p for p in (first, second) if p)))
    facts = support_facts(evidence)
    return [r for r in lines if check_support(r.text, evidence, max_words=max_words, facts=facts).ok]


# --- the grammar ---------------------------------------------------------------------------------------------
_GBNF_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _gbnf_literal(text: str) -> str:
    """The text as a GBNF string literal matching exactly it. Quotes and backslashes are escaped; so are control
    characters (a NUL would end the grammar where llama.cpp reads it as a C string; a newline would split the
    rule across lines). Other characters stay as they are: llama.cpp reads a literal as UTF-8."""
    def escape(char: str) -> str:
        if char in _GBNF_ESCAPES:
            return _GBNF_ESCAPES[char]
        return f"\\x{ord(char):02x}" if unicodedata.category(char) == "Cc" else char

    return '"' + "".join(escape(c) for c in text) + '"'


def _gbnf_choice(name: str, texts: list[str]) -> str:
    return f"{name} ::= " + " | ".join(_gbnf_literal(t) for t in texts)


def plan_grammar(plan: ContentPlan, lines: list[Realisation], vocabulary: Vocabulary | None = None) -> str:
    """A GBNF grammar whose sentences are exactly the plan's phrases, each a sentence with its one full stop,
    joined by the closed set of connectives: an opener (the lead, when there is one) and optionally one detail.
    Decoding under it cannot invent. A plan with no line has only the empty line (the writer shows none and
    does not decode); a rule is written only when it has an alternative, as llama.cpp rejects an empty one."""
    vocabulary = vocabulary or load_vocabulary()
    openers = list(dict.fromkeys(sentence(r.parts[0]) for r in lines if r.parts))
    details = list(dict.fromkeys(sentence(r.parts[1]) for r in lines if len(r.parts) > 1))
    if not openers:
        return 'root ::= ""\n'
    if not details or not vocabulary.connectives:
        return "\n".join(["root ::= opener", _gbnf_choice("opener", openers)]) + "\n"
    return "\n".join(["root ::= opener tail", _gbnf_choice("opener", openers), 'tail ::= "" | connective detail',
                      _gbnf_choice("connective", list(vocabulary.connectives)), _gbnf_choice("detail", details)]) + "\n"
