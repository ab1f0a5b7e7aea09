"""The content-word support check, shared by the explainer (runtime) and `liner eval explain` (evaluation).

A line passes when every content word is supported by the item's facts (title, year, genres, people, keywords,
description), the liked titles' facts named in the evidence, or the generic vocabulary
(assets/explanation_vocabulary.json); every person it names is named in a role they hold (on the item, or on the
liked title the line ties them to); it repeats no phrase; it claims no like the user did not state; and it is a
complete sentence in the card's voice. Word lists are data, not code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import inflect
import langcodes

from core.catalog import normalize_title
from core.vocabulary import Relation
from explain.evidence import Evidence
from explain.explanation_vocabulary import Vocabulary, fold_word, load_vocabulary, stem

ROLE_OF_RELATION = {relation.phrase: relation.role for relation in Relation if relation.role}
"""Evidence relation phrase -> catalog role: "directed by" -> "director"."""

_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|our|ours)\b")
# A role said just before a name ("directed by X", "starring X"), or just after it ("X, who directed T",
# "X's score", "X, the director of T", "X directs").
_ROLE_BEFORE = [
    (re.compile(r"(?:directed by|director|a film by|from director)\s*$"), "director"),
    (re.compile(r"(?:written by|screenplay by|script by|writer|from writer)\s*$"), "writer"),
    (re.compile(r"(?:starring|stars|with|featuring|star)\s*$"), "star"),
    (re.compile(r"(?:music by|score by|scored by|composer)\s*$"), "composer"),
]
_VERB_ROLES = {"directed": "director", "directs": "director", "direct": "director", "wrote": "writer",
               "writes": "writer", "write": "writer", "starred": "star", "stars": "star", "star": "star",
               "scored": "composer", "scores": "composer", "composed": "composer"}
_NOUN_ROLES = {"director": "director", "writer": "writer", "star": "star", "composer": "composer",
               "direction": "director", "script": "writer", "screenplay": "writer", "score": "composer",
               "music": "composer"}
_ROLE_AFTER = re.compile(
    r"^(?:,\s*|\s+)(?:who\s+|which\s+)?(?:also\s+)?(?P<verb>directed|directs|direct|wrote|writes|write|starred|"
    r"stars|star|scored|scores|composed)\b(?:\s+in)?(?P<rest>.*)")
_ROLE_NOUN_AFTER = re.compile(r"^(?:['’]s\s+|,\s*(?:the\s+)?)(?P<noun>director|writer|star|composer|direction|"
                              r"script|screenplay|score|music)\b(?:\s+of\s+(?P<rest>.*))?")
_BACK_AS = re.compile(r"\b(?:is|are)\s+back\s+as\s+(?:the\s+)?(?P<noun>director|writer|star|composer)\b")
_LIST_JOIN = re.compile(r"^(?:,\s*|\s+and\s+|,\s*and\s+)$")
_CLAIM_AFTER = re.compile(r"\byou(?:'ve)? (?:loved|love|liked|like|enjoyed)\s+([^,;:.!?—–]+)", re.IGNORECASE)
_CLAIM_BEFORE = re.compile(
    r"([^,;:.!?—–]+?),?\s+(?:who|whom|which|that) you(?:'ve)? (?:loved|love|liked|like|enjoyed)\b", re.IGNORECASE)
_PRONOUNS = {"it", "them", "this", "that", "these", "those"}
_INFLECT = inflect.engine()


def words(text: str) -> list[str]:
    return _WORD.findall(fold_word(text))


@dataclass
class SupportReport:
    unsupported: list[str] = field(default_factory=list)
    """Content words no fact supports."""
    role_errors: list[str] = field(default_factory=list)
    """People named in a role they do not hold ("Ridley Scott as writer")."""
    repeats: list[str] = field(default_factory=list)
    """Phrases said twice ("idris elba"), or one content word three times or twice in a row."""
    form: list[str] = field(default_factory=list)
    """Off-voice or unfinished: empty, first person, a question, over length, cut off, only the title."""

    @property
    def ok(self) -> bool:
        return not (self.unsupported or self.role_errors or self.repeats or self.form)

    @property
    def problems(self) -> list[str]:
        return ([f"unsupported: {w}" for w in self.unsupported] + [f"role: {r}" for r in self.role_errors]
                + [f"repeat: {r}" for r in self.repeats] + self.form)


@dataclass(frozen=True)
class SupportFacts:
    """What a line about one item, for one user, may rest on."""

    words: frozenset[str]
    """Stems of every supported word (facts, liked titles, generic vocabulary)."""
    item_roles: dict[str, frozenset[str]]
    """Folded person name -> roles on the item."""
    liked_roles: dict[tuple[str, str], frozenset[str]]
    """(folded person name, normalized liked title) -> roles there, as far as the evidence knows."""
    liked: frozenset[str]
    """Normalized labels of what the user liked (titles, people, genres, ...)."""
    title: str
    year: int | None
    runtime: int | None = None
    language: str | None = None
    """The original language's English name ("French"), None when unknown."""
    series: frozenset[str] = frozenset()
    """Normalized names the item's series may be called by: its collection, and liked titles of the same series."""
    follows: frozenset[str] = frozenset()
    """Normalized liked titles the item is the next film after, in their series."""


def support_facts(evidence: Evidence, vocabulary: Vocabulary | None = None) -> SupportFacts:
    vocabulary = vocabulary or load_vocabulary()
    texts = [evidence.title, *evidence.genres, *evidence.keywords, *evidence.people(), evidence.overview,
             evidence.description, evidence.series, *evidence.keyword_forms.values()]
    for match in evidence.matches:
        texts += [match.label, match.because]
    supported = {stem(w) for text in texts for w in words(text)} | vocabulary.always_supported
    # A theme may be said in the plural ("vigilante" -> "about vigilantes"), which the light stem does not meet.
    themes = [*evidence.keywords, *(m.label for m in evidence.matches if m.kind == "keyword")]
    supported |= {stem(_INFLECT.plural_noun(w)) for theme in themes for w in words(theme) if not w.isdigit()}
    for genre in evidence.genres:
        supported |= {stem(w) for phrase in vocabulary.genre_words.get(genre, ()) for w in words(phrase)}
        supported |= {stem(phrase) for phrase in vocabulary.genre_words.get(genre, ())}
    if evidence.year:
        decade = evidence.year // 10 * 10
        supported |= {str(evidence.year), f"{decade}s", f"{decade % 100:02d}s", f"'{decade % 100:02d}s"}
    # The new facts support their own words only when known; _fact_claims checks that what is said of them holds.
    if evidence.runtime:
        supported |= {str(evidence.runtime), stem("minutes"), stem("minute"), stem("runtime")}
    if evidence.language_name:
        supported |= {stem(w) for w in words(evidence.language_name)} | {stem("language")}
    franchises = [m for m in evidence.matches if m.kind == "franchise"]
    if any(m.next_in_series for m in franchises):
        supported.add(stem("next"))
    roles: dict[str, set[str]] = {}
    for role, names in (("director", evidence.directors), ("star", evidence.stars), ("writer", evidence.writers),
                        ("composer", evidence.composers)):
        for name in names:
            roles.setdefault(fold_word(name), set()).add(role)
    liked_roles: dict[tuple[str, str], set[str]] = {}
    for match in evidence.matches:
        if match.kind == "person" and match.relation in ROLE_OF_RELATION:  # billed below the evidence's top stars
            roles.setdefault(fold_word(match.label), set()).add(ROLE_OF_RELATION[match.relation])
        if match.kind == "person" and match.via_title and match.because_relation in ROLE_OF_RELATION:
            key = (fold_word(match.label), normalize_title(match.because))
            liked_roles.setdefault(key, set()).add(ROLE_OF_RELATION[match.because_relation])
    liked = {normalize_title(m.because) for m in evidence.matches}
    liked |= {normalize_title(m.label) for m in evidence.matches if not m.via_title}
    series = {normalize_title(n) for n in [evidence.series, *(x for m in franchises for x in (m.series, m.because))]
              if n}
    return SupportFacts(frozenset(supported), {k: frozenset(v) for k, v in roles.items()},
                        {k: frozenset(v) for k, v in liked_roles.items()}, frozenset(liked), evidence.title,
                        evidence.year, evidence.runtime, evidence.language_name, frozenset(series),
                        frozenset(normalize_title(m.because) for m in franchises if m.next_in_series))


def check_support(line: str, evidence: Evidence, *, max_words: int = 32,
                  facts: SupportFacts | None = None) -> SupportReport:
    """Everything wrong with `line` as a card's reason for this evidence (an empty report = shown as is)."""
    vocabulary = load_vocabulary()
    facts = facts or support_facts(evidence, vocabulary)
    report = SupportReport()
    text = line.strip()
    report.form = _form_problems(text, facts, max_words, _titles_as_tokens(text, evidence))
    if not text:
        return report
    for word in words(text):
        if stem(word) in facts.words or word in facts.words:
            continue
        parts = [p for p in re.split(r"[-']", word) if p]
        if len(parts) > 1 and all(stem(p) in facts.words for p in parts):
            continue
        if word.isdigit() and len(word) < 4 and int(word) <= 10:
            continue  # "2 hours", "3 friends": small counts read as wording, and the description often has them
        report.unsupported.append(word)
    report.unsupported = list(dict.fromkeys(report.unsupported))
    report.unsupported += _unsupported_likes(text, facts) + _fact_claims(text, facts)
    report.role_errors = _role_errors(text, evidence, facts)
    report.repeats = repeated_phrases(_titles_as_tokens(text, evidence), vocabulary)
    return report


def _titles_as_tokens(text: str, evidence: Evidence) -> str:
    """The line with each title it names folded into one token, so that a title repeating itself ("Léon: The
    Professional (a.k.a. The Professional)") is not a repeat while naming one title twice still is."""
    folded = fold_word(text)
    titles = {evidence.title, *(m.because for m in evidence.matches)}
    for index, title in enumerate(sorted(titles, key=len, reverse=True)):
        folded = folded.replace(fold_word(title), f" title{index} ")
    return folded


def _form_problems(text: str, facts: SupportFacts, max_words: int, untitled: str) -> list[str]:
    """`untitled` is the line with its titles as tokens ("I, Robot" says nothing in the first person)."""
    if not text:
        return ["(empty line)"]
    problems = []
    tokens = text.split()
    if len(tokens) > max_words:
        problems.append(f"(over {max_words} words)")
    if len(tokens) < 4:
        problems.append("(too short to say anything)")
    if "?" in text:
        problems.append("(a question)")
    if _FIRST_PERSON.search(untitled):
        problems.append("(first person)")
    if text[-1] not in ".!" or text.endswith("...") or "…" in text[-3:]:
        problems.append("(unfinished)")
    last = words(text)[-1:] or [""]
    if last[0] in load_vocabulary().dangling_words:
        problems.append("(ends on a function word)")
    if not (text[0].isupper() or text[0].isdigit() or text[0] in "\"“'"):
        problems.append("(does not start a sentence)")
    label = f"{facts.title} {facts.year}" if facts.year else facts.title
    if normalize_title(text) in {normalize_title(facts.title), normalize_title(label)}:
        problems.append("(only the title)")
    return problems


def repeated_phrases(text: str, vocabulary: Vocabulary | None = None) -> list[str]:
    """A phrase (two words) said twice, one content word said three times, or a word twice in a row."""
    vocabulary = vocabulary or load_vocabulary()
    tokens = words(text)
    repeats = []
    bigrams = list(zip(tokens, tokens[1:]))
    seen: set[tuple[str, str]] = set()
    for pair in bigrams:
        if pair in seen and not set(pair) <= vocabulary.function_words:
            repeats.append(" ".join(pair))
        seen.add(pair)
    repeats += [f"{a} {b}" for a, b in bigrams if a == b and len(a) > 1]  # "J. J. Abrams" is a name
    content = [stem(t) for t in tokens if t not in vocabulary.function_words and t not in vocabulary.generic_words]
    repeats += [w for w in dict.fromkeys(content) if content.count(w) >= 3]
    return list(dict.fromkeys(repeats))


def _unsupported_likes(text: str, facts: SupportFacts) -> list[str]:
    """"Because you loved X" / "X, whom you like": X must be something this user liked, per the matches."""
    problems = []
    for pattern, from_end in ((_CLAIM_AFTER, False), (_CLAIM_BEFORE, True)):
        for found in pattern.finditer(text):
            phrase = normalize_title(found.group(1)).split()
            if not phrase or phrase[0] in _PRONOUNS or (from_end and phrase[-1] in _PRONOUNS):
                continue
            spans = [phrase[-n:] if from_end else phrase[:n] for n in range(1, len(phrase) + 1)]
            if not any(" ".join(span) in facts.liked for span in spans):
                problems.append(f"(not something you liked: {found.group(1).strip()})")
    return problems


_LANGUAGE_CLAIM = re.compile(r"\b([A-Z]\w+)-language\b|\bin ([A-Z]\w+)\b")
_RUNTIME_CLAIM = re.compile(r"\b(\d+)[- ]minutes?\b", re.IGNORECASE)
_SERIES_CLAIMS = (re.compile(r"\b(?:in|from) (?:the )?(?!same\b)([^,;:.]+?) series\b", re.IGNORECASE),
                  re.compile(r"\bseries (?:as|of) ([^,;:.]+)", re.IGNORECASE))
_NEXT_CLAIM = re.compile(r"\bnext\b[^.;]*?\bafter ([^,;:.]+)|\bafter ([^,;:.]+?), the next\b", re.IGNORECASE)


def _is_language(name: str) -> bool:
    """"French" is a language; "Paris", "Georgia" and "The" are not (langcodes.find also matches names of others,
    and knows small languages by names that are English words: the catalog's languages have ISO 639-1 codes)."""
    try:
        language = langcodes.find(name)
        return len(language.language or "") == 2 and language.display_name() == name
    except LookupError:
        return False


def _names_one_of(said: str, names: frozenset[str]) -> bool:
    """The phrase names one of the (normalized) names, with or without its leading "the"."""
    def bare(name: str) -> str:
        return name.removeprefix("the ")

    key = bare(normalize_title(said))
    return any(key == bare(name) or key.startswith(bare(name) + " ") for name in names if name)


def _fact_claims(text: str, facts: SupportFacts) -> list[str]:
    """What a line says of the runtime, the original language and the series must be the item's: "a
    French-language drama" only for a film in French, "a 95-minute" only for one of 95 minutes, "the next film in
    the Toy Story series after Toy Story" only where it follows that liked title in that series."""
    problems = []
    for found in _LANGUAGE_CLAIM.finditer(text):
        said = found.group(1) or found.group(2)
        # "in Paris" is a place: only a language's name makes "in X" a language claim.
        if (found.group(1) or _is_language(said)) and fold_word(said) != fold_word(facts.language or ""):
            problems.append(f"(not its language: {said})")
    for found in _RUNTIME_CLAIM.finditer(text):
        if facts.runtime is None or int(found.group(1)) != facts.runtime:
            problems.append(f"(not its runtime: {found.group(0)})")
    for pattern in _SERIES_CLAIMS:
        for found in pattern.finditer(text):
            if not _names_one_of(found.group(1), facts.series):
                problems.append(f"(not its series: {found.group(1).strip()})")
    for found in _NEXT_CLAIM.finditer(text):
        if not _names_one_of(found.group(1) or found.group(2), facts.follows):
            problems.append(f"(not the next film after: {(found.group(1) or found.group(2)).strip()})")
    return problems


def _person_spans(text: str, names: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, folded name) of every person named in the text, longest names first, no overlaps."""
    folded = fold_word(text)
    spans: list[tuple[int, int, str]] = []
    for name in sorted({fold_word(n) for n in names}, key=len, reverse=True):
        for found in re.finditer(rf"(?<![\w]){re.escape(name)}(?![\w])", folded):
            if all(found.end() <= s or found.start() >= e for s, e, _ in spans):
                spans.append((found.start(), found.end(), name))
    return sorted(spans)


def _title_in(rest: str, facts: SupportFacts) -> str | None:
    """The liked title (normalized) that a clause after a role names, or the item's own, or None."""
    key = normalize_title(rest)
    candidates = {title for _, title in facts.liked_roles} | facts.liked | {normalize_title(facts.title)}
    for title in sorted(candidates, key=len, reverse=True):
        if title and (key == title or key.startswith(title + " ")):
            return title
    return None


def _role_errors(text: str, evidence: Evidence, facts: SupportFacts) -> list[str]:
    """Every role the line gives a person — before the name ("written by X"), after it ("X, who directed T"), or
    through a list ("starring X and Y") — checked against the roles they hold on the item or on that liked title."""
    names = evidence.people() + [m.label for m in evidence.matches if m.kind == "person"]
    folded = fold_word(text)
    item_title = normalize_title(facts.title)
    errors = []
    previous: tuple[int, str | None] | None = None  # (end, role said before) of the last name, for lists
    for start, end, name in _person_spans(text, names):
        claims: list[tuple[str, str]] = []  # (role, normalized title it is claimed on)
        before, after = folded[max(0, start - 24):start], folded[end:end + 120]
        role_before = next((claimed for pattern, claimed in _ROLE_BEFORE if pattern.search(before)), None)
        if role_before is None and previous is not None and _LIST_JOIN.match(folded[previous[0]:start]):
            role_before = previous[1]
        if role_before:
            claims.append((role_before, item_title))
        verb, noun = _ROLE_AFTER.match(after), _ROLE_NOUN_AFTER.match(after)
        if verb or noun:
            role = _VERB_ROLES[verb.group("verb")] if verb else _NOUN_ROLES[noun.group("noun")]
            rest = ((verb or noun).group("rest") or "").strip(" ,")
            title = (_title_in(rest, facts) if rest else None) or item_title
            claims.append((role, title))
            back = _BACK_AS.search(rest)
            if back:
                # "X, who starred in T, is back as director" says X directed T before, and directs this one.
                back_role = _NOUN_ROLES[back.group("noun")]
                claims += [(back_role, title), (back_role, item_title)]
        previous = (end, role_before)
        for role, title in claims:
            held = facts.liked_roles.get((name, title), frozenset())
            if title == item_title:  # a remake may share the liked title's name: either film can be meant
                held |= facts.item_roles.get(name, frozenset())
            if role not in held:
                errors.append(f"{name} as {role} of {title}")
    return errors
