"""One-line, personal, *true* reasons for recommendation cards.

The LLM completes a short few-shot prompt (golden examples from assets/golden_explanations.json, a fixed shared
prefix that llama.cpp keeps evaluated between cards); each sampled line must pass `check_grounding` against the
evidence, else a template line built from the evidence is shown (grounded by construction).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from recommender.catalog import normalize_title
from recommender.evidence import Evidence, Match
from recommender.llm import LLM
from recommender.settings import Settings

log = logging.getLogger(__name__)

INSTRUCTION = "Each line tells a friend, in one sentence, why they will like the film, using only the facts given."

# Capitalized words that may start a sentence without being a name or title.
SENTENCE_STARTERS = frozenset("""
a an the and but so yet plus also another again same more less here this that these those it its it's if
for from with without by in on at as to of like because after before once still just even both all every
each one two three expect think imagine picture meet enjoy watch see follow fans anyone director directed
starring written music scored set made perfect great big small dark light funny tense smart sweet
gentle quiet warm clever twisty moody strange beautiful romantic scary tender wild stylish gripping
heartfelt charming thoughtful classic popular modern old new fresh true epic brilliant stunning haunting
pure sharp slow fast long short there then now when while where what who how not no only some you your
""".split())

_FIRST_PERSON = re.compile(r"\b(I|I'm|I've|I'd|I'll|I’m|I’ve)\b|\b(me|my|mine|myself|we|we're|we've|our|ours)\b",
                           re.IGNORECASE)
_CONNECTORS = frozenset({"of", "the", "and", "a", "an", "in", "on", "de", "del", "la", "le", "von", "van", "da",
                         "du", "di", "der", "to", "at", "&"})
_TOKEN = re.compile(r"\S+")
_LEADING = "\"'“‘«([{"
_TRAILING = "\"'”’».,;:!?)]}…"
_BOUNDARY = set(".!?:;—–")


@dataclass
class Explanation:
    text: str
    grounded: bool
    """True when the line passed the grounding check (LLM) or was built from the evidence (template)."""
    source: str
    """llm | template | cache"""


def _words(line: str) -> list[tuple[str, bool]]:
    """(word without surrounding punctuation or possessive, starts a sentence)."""
    words: list[tuple[str, bool]] = []
    initial = True
    for raw in _TOKEN.findall(line):
        word = raw.lstrip(_LEADING).rstrip(_TRAILING)
        word = re.sub(r"['’]s$", "", word)
        if word and not all(ch in "-—–" for ch in word):
            words.append((word, initial))
            initial = False
        if raw[-1] in _BOUNDARY or all(ch in "-—–" for ch in raw):
            initial = True
    return words


def _is_name_like(word: str) -> bool:
    return word[:1].isupper() or any(ch.isdigit() for ch in word)


def _repeats(text: str) -> bool:
    """A small model can loop ("a killer, a killer, a killer"): the same lower-case two-word phrase twice is a
    tell (names may repeat: "You like Tom Hanks, and this stars Tom Hanks")."""
    words = [w.strip(".,!…\"'()") for w in text.split()]
    pairs = [(a, b) for a, b in zip(words, words[1:]) if a.islower() and b.islower()]
    return len(pairs) != len(set(pairs))


def check_grounding(line: str, evidence: Evidence) -> list[str]:
    """The terms of `line` that the evidence does not support (empty = grounded). Every capitalized name or
    title, number and quoted string must be among evidence.allowed_terms() or in its overview; off-voice lines
    (empty, first person, questions, over 30 words, repeating itself, only the title) are rejected too."""
    text = line.strip()
    if not text:
        return ["(empty line)"]
    problems = []
    if len(text.split()) > 30:
        problems.append("(over 30 words)")
    if "?" in text:
        problems.append("(a question)")
    problems += [f"(first person: {m.group(0)})" for m in _FIRST_PERSON.finditer(text)]
    if text[-1] not in ".!…\"”)":
        problems.append("(unfinished)")
    if ";" in text:
        problems.append("(copies the evidence format)")
    if _repeats(text):
        problems.append("(repeats itself)")
    if normalize_title(text) in {normalize_title(evidence.title), normalize_title(f"{evidence.title} {evidence.year}")}:
        problems.append("(only the title)")
    problems += _unsupported_likes(text, evidence)
    allowed = evidence.allowed_terms()
    overview = f" {normalize_title(evidence.overview)} "

    def supported(term: str) -> bool:
        key = normalize_title(term)
        return bool(key) and (key in allowed or f" {key} " in overview)

    for quoted in re.findall(r"[\"“]([^\"”]+)[\"”]", text):
        if not supported(quoted):
            problems.append(quoted)
    words = _words(text)
    pending: list[str] = []
    i = 0
    while i < len(words):
        word, initial = words[i]
        if not _is_name_like(word):
            if not (pending and word.lower() in _CONNECTORS):
                problems += [" ".join(pending)] if pending else []
                pending = []
            i += 1
            continue
        # The longest supported span starting here; it may run on into lower-case words ("Science fiction").
        end = next((e for e in range(min(len(words), i + 8), i, -1)
                    if supported(" ".join(w for w, _ in words[i:e]))), None)
        if end is not None:
            problems += [" ".join(pending)] if pending else []
            pending = []
            i = end
            continue
        if not (initial and word.lower() in SENTENCE_STARTERS):
            pending.append(word)
        i += 1
    return problems + ([" ".join(pending)] if pending else [])


_CLAIM_AFTER = re.compile(r"\byou(?:'ve)? (?:loved|love|liked|like|enjoyed)\s+([^,;:.!?—–]+)", re.IGNORECASE)
_CLAIM_BEFORE = re.compile(
    r"([^,;:.!?—–]+?),?\s+(?:who|whom|which|that) you(?:'ve)? (?:loved|love|liked|like|enjoyed)\b", re.IGNORECASE)


def _unsupported_likes(text: str, evidence: Evidence) -> list[str]:
    """"Because you loved X" / "X, whom you like": X must be something this user liked, per the matches."""
    liked = {normalize_title(m.because) for m in evidence.matches}
    liked |= {normalize_title(m.label) for m in evidence.matches if not m.via_title}
    problems = []
    for pattern, from_end in ((_CLAIM_AFTER, False), (_CLAIM_BEFORE, True)):
        for found in pattern.finditer(text):
            words = normalize_title(found.group(1)).split()
            if words in (["it"], ["them"], ["this"], ["that"], ["these"]):
                continue
            # Any leading (or trailing) part of the phrase may be the liked thing: "Arrival again", "a Nolan".
            spans = [words[-n:] if from_end else words[:n] for n in range(1, len(words) + 1)]
            if words and not any(" ".join(span) in liked for span in spans):
                problems.append(f"(not something you liked: {found.group(1).strip()})")
    return problems


def evidence_block(evidence: Evidence) -> str:
    """The evidence as the prompt shows it (two lines; the golden examples use the same form)."""
    facts = [f"{evidence.title} ({evidence.year})" if evidence.year else evidence.title]
    if evidence.genres:
        facts.append(", ".join(g.lower() for g in evidence.genres[:3]))
    if evidence.directors:
        facts.append("directed by " + ", ".join(evidence.directors[:2]))
    if evidence.stars:
        facts.append("with " + ", ".join(evidence.stars[:2]))
    if evidence.keywords:
        facts.append("about " + ", ".join(evidence.keywords[:3]))
    links = "; ".join(m.describe() for m in evidence.matches[:3]) or "none, a popular pick"
    story_line = f"\nStory: {evidence.overview}" if evidence.overview else ""
    return f"Film: {'; '.join(facts)}{story_line}\nLinks: {links}"


# --- templates ---------------------------------------------------------------------------------------
def _pick(options: list[str], evidence: Evidence) -> str:
    """A stable choice among phrasings, so neighbouring cards don't all read alike."""
    digest = hashlib.sha1(evidence.item_id.encode()).digest()
    return options[digest[0] % len(options)]


def _with_star(evidence: Evidence, exclude: str = "") -> str:
    star = next((s for s in evidence.stars if s != exclude), "")
    return f", with {star}" if star else ""


def _match_line(match: Match, evidence: Evidence) -> str:
    genre = match.label.lower() if match.kind == "genre" else match.label
    if match.via_title and match.kind == "person":
        return _pick([f"Because you loved {match.because}: also {match.relation} {match.label}.",
                      f"{match.relation.capitalize()} {match.label}, like {match.because}, which you loved."],
                     evidence)
    if match.via_title and match.kind == "keyword":
        return _pick([f"Like {match.because}, it's about {match.label}{_with_star(evidence)}.",
                      f"Because you loved {match.because}: another film about {match.label}."], evidence)
    if match.via_title:
        return _pick([f"More {genre} in the spirit of {match.because}{_with_star(evidence)}.",
                      f"Because you loved {match.because}: more {genre}{_with_star(evidence)}."], evidence)
    if match.kind == "person":
        return _pick([f"{match.relation.capitalize()} {match.label}, one of your favourites.",
                      f"You like {match.label}, and this is {match.relation} {match.label}."], evidence)
    if match.kind == "genre":
        return _pick([f"{genre.capitalize()}, just as you like it{_with_star(evidence)}.",
                      f"Some {genre}, as you wanted{_with_star(evidence)}."], evidence)
    if match.kind == "decade":
        return f"From {evidence.year}, right in the {match.label} you like{_with_star(evidence)}."
    return f"A film about {match.label}, as you wanted{_with_star(evidence)}."


def template_line(evidence: Evidence) -> str:
    """A reason built only from the evidence (always passes check_grounding)."""
    if evidence.matches:
        return _match_line(evidence.matches[0], evidence)
    what = evidence.genres[0].lower() if evidence.genres else "film"
    when = f"{evidence.year} " if evidence.year else ""
    by = f", directed by {evidence.directors[0]}" if evidence.directors else _with_star(evidence)
    return f"A popular {when}{what} pick{by}."


# --- the explainer ---------------------------------------------------------------------------------
def load_golden(path: Path) -> list[dict]:
    try:
        examples = json.loads(path.read_text())
        return [{"evidence": str(e["evidence"]), "line": str(e["line"])} for e in examples]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"golden explanations {path} are missing or unreadable ({exc}): restore them with "
                           f"`git checkout -- assets/golden_explanations.json` or point LINER_ASSETS_DIR at a "
                           f"copy") from exc


class Explainer:
    def __init__(self, llm: LLM | None, settings: Settings, cache_size: int = 4096):
        """`llm=None` writes template lines only."""
        self.llm = llm
        self.settings = settings
        self.golden = load_golden(settings.assets_dir / "golden_explanations.json")
        self.prefix = self._few_shot_prefix()
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.stats = {"llm": 0, "template": 0, "cache": 0}

    def _few_shot_prefix(self) -> str:
        """The instruction and as many golden examples as fit in the context, leaving room for one card's
        evidence (~120 tokens) and its line. The same text for every card: llama.cpp keeps it evaluated."""
        def render(examples: list[dict]) -> str:
            return INSTRUCTION + "\n\n" + "".join(f"{g['evidence']}\nLine: {g['line']}\n\n" for g in examples)

        budget = self.settings.n_ctx - self.settings.explain_max_tokens - 160
        count = len(self.golden)
        if self.llm is not None:
            while count > 1 and self.llm.count_tokens(render(self.golden[:count])) > budget:
                count -= 1
            log.info("explanation prompt uses %d of %d golden examples (n_ctx=%d)", count, len(self.golden),
                     self.settings.n_ctx)
        return render(self.golden[:count])

    def prompt(self, evidence: Evidence) -> str:
        return f"{self.prefix}{evidence_block(evidence)}\nLine:"

    def _sample(self, evidence: Evidence) -> str | None:
        """The first sampled line that passes the grounding check, or None."""
        prompt = self.prompt(evidence)
        for attempt in range(self.settings.explain_samples):
            # The first sample is greedy; later ones sample so a rejected line is not simply repeated.
            line = self.llm.complete(prompt, self.settings.explain_max_tokens,
                                     temperature=0.0 if attempt == 0 else 0.8, stop=("\n",), seed=attempt)
            line = self._tidy(line)
            problems = check_grounding(line, evidence)
            if not problems:
                return line
            log.debug("explanation for %s rejected %s: %r", evidence.item_id, problems, line)
        return None

    def _tidy(self, line: str) -> str:
        """Repair the two common slips of a small model before checking: echoing the evidence format
        ("…, like Fargo; music by …": keep the first clause) and running out of tokens mid-clause (cut back to
        the last complete clause). Lines that stopped by themselves just get their full stop."""
        line = line.split(";")[0].strip().rstrip(",")
        if line and line[-1] not in ".!…\"”)":
            truncated = self.llm is not None and self.llm.count_tokens(line) >= self.settings.explain_max_tokens - 1
            if truncated and "," in line:
                line = line[: line.rindex(",")]
            line = line.rstrip(" ,") + "."
        return line[:1].upper() + line[1:]

    def explain(self, item, evidence: Evidence) -> Explanation:
        """A grounded one-line reason for recommending `item` (an Item) with this evidence."""
        key = (item.item_id, evidence.key())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                self.stats["cache"] += 1
                return Explanation(self._cache[key], True, "cache")
        line = self._sample(evidence) if self.llm is not None and self.settings.explain_samples > 0 else None
        explanation = Explanation(line, True, "llm") if line else Explanation(template_line(evidence), True,
                                                                             "template")
        with self._lock:
            self.stats[explanation.source] += 1
            self._cache[key] = explanation.text
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return explanation

    def explain_many(self, pairs: Iterable[tuple]) -> Iterator[Explanation]:
        """Explanations of (item, evidence) pairs, in order, each yielded as soon as it is written."""
        for item, evidence in pairs:
            yield self.explain(item, evidence)
