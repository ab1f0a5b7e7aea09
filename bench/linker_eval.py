"""`liner eval linker`: how well the entity linker forgives misspellings, and how rarely it sees a film where none
was named.

1. Misspellings: real catalog titles and people, each given one seeded error of a kind people make — a keyboard
   slip (a neighbouring key), a phonetic spelling ("shun" for "tion", "f" for "ph"), a dropped letter or a doubled
   one — typed in lower case, alone or inside a short chat sentence. Top-1 accuracy: the first title or person
   the linker finds is the one misspelled. Only titles no other film shares (after folding case and articles) and
   people the graph names on several films are used, so that the right answer is not itself a guess; an error
   that makes another known word ("heat" -> "beat") is not one the linker can see and is drawn again. A name is
   typed in lower case when, spelled right, it links in lower case; a title of everyday words ("Office Space"),
   which the linker only takes with its capitals, keeps them — the set measures spelling, not casing.
2. False links: real ReDial seeker messages with no @mention that do not spell out a title of their own
   dialogue's films either ("Not a Star Wars fan" names one without the @), and the share of them in which the
   linker finds a film. People found there are reported apart: they are not films.

Both print, with the linker's median and p95 time per message, and go to JSON with every miss.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.ids import item_node
from core.item import Item
from core.settings import Settings
from core.vocabulary import Kind
from knowledge_graph.aliases import AliasIndex, tokenize
from knowledge_graph.graph import KnowledgeGraph

MISSPELLING_TARGET = 0.90
FALSE_LINK_TARGET = 0.01

ERROR_KINDS = ("keyboard", "phonetic", "dropped", "doubled")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_PHONETIC = (("tion", "shun"), ("ph", "f"), ("ck", "k"), ("ee", "ea"), ("ie", "ei"), ("ou", "u"), ("c", "k"),
             ("s", "z"), ("y", "i"), ("x", "ks"), ("qu", "kw"), ("ea", "ee"), ("er", "ur"), ("ai", "ay"),
             ("ll", "l"), ("tt", "t"), ("ss", "s"), ("nn", "n"), ("mm", "m"), ("sc", "s"), ("wh", "w"),
             ("ght", "t"), ("i", "ee"), ("o", "oe"))
_SENTENCES = ("{}", "i really liked {}", "have you seen {}", "something like {} please", "{} was great",
              "i watched {} last week")
_MIN_WORD = 5
"""Errors go into words this long: a typo in a short word is a different real word as often as not."""


@dataclass
class Case:
    kind: str
    """item | person"""
    node_id: str
    name: str
    typed: str
    error: str
    found: str = ""
    """The label of the first title or person linked ("" = none)."""
    ok: bool = False


@dataclass
class LinkerReport:
    cases: int = 0
    top1: float = 0.0
    by_error: dict[str, float] = field(default_factory=dict)
    by_kind: dict[str, float] = field(default_factory=dict)
    messages: int = 0
    false_link_rate: float = 0.0
    person_link_rate: float = 0.0
    median_ms: float = 0.0
    p95_ms: float = 0.0
    misses: list[dict] = field(default_factory=list)
    false_links: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def misspellings(catalog: list[Item], kg: KnowledgeGraph, aliases: AliasIndex, n: int, seed: int) -> list[Case]:
    """n seeded misspelling cases, about two titles for every person, the error kinds in turn."""
    rng = random.Random(seed)
    titles = _unique_titles(catalog)
    people = sorted((kg.degree(node), kg.label(node), node) for node in kg.nodes_of_kind(Kind.PERSON)
                    if kg.degree(node) >= 8 and len(tokenize(kg.label(node))[0]) >= 2)
    names = [("item", node, title) for node, title in titles] + [("person", node, label)
                                                                   for _, label, node in people]
    rng.shuffle(names)
    wanted = {"item": n - n // 3, "person": n // 3}
    cases: list[Case] = []
    for kind, node, name in names:
        if wanted[kind] <= 0:
            continue
        error = ERROR_KINDS[len(cases) % len(ERROR_KINDS)]
        typed = _misspell(name, error, rng, aliases)
        if typed is None:
            continue
        sentence = rng.choice(_SENTENCES)
        cases.append(Case(kind, node, name, sentence.format(typed), error))
        wanted[kind] -= 1
    return cases


def _unique_titles(catalog: list[Item]) -> list[tuple[str, str]]:
    """(node id, title) of well-known films whose title, folded and without a leading article, no other film
    shares."""
    def key(title: str) -> tuple[str, ...]:
        words = tuple(tokenize(title)[0])
        return words[1:] if words[:1] in (("the",), ("a",), ("an",)) and len(words) > 1 else words

    counts = Counter(key(item.title) for item in catalog)
    return sorted((item_node(item.item_id), item.title) for item in catalog
                  if item.popularity >= 0.8 and counts[key(item.title)] == 1 and ":" not in item.title)


def _misspell(name: str, error: str, rng: random.Random, aliases: AliasIndex) -> str | None:
    """The name (in lower case where that links) with one error of this kind in one of its long words; None when
    it has no word that takes one without becoming another known word."""
    lower = name.lower()
    words = (lower if any(m.label == name or m.label.startswith(f"{name} (") for m in aliases.link(lower))
             else name).split()
    spots = [i for i, w in enumerate(words) if len(w) >= _MIN_WORD and w.isalpha() and w.isascii()]
    rng.shuffle(spots)
    for index in spots:
        word = words[index]
        for _ in range(8):
            wrong = _error(word, error, rng)
            if wrong and wrong != word and not aliases.is_known_word(wrong.lower()):
                return " ".join(words[:index] + [wrong] + words[index + 1:])
    return None


def _error(word: str, error: str, rng: random.Random) -> str | None:
    # The first letter stays: people rarely get it wrong, and it is where a reader anchors the word.
    at = rng.randrange(1, len(word))
    if error == "dropped":
        return word[:at] + word[at + 1:]
    if error == "doubled":
        return word[:at] + word[at] + word[at:]
    if error == "keyboard":
        near = _neighbours(word[at])
        return word[:at] + rng.choice(near) + word[at + 1:] if near else None
    rules = [(a, b) for a, b in _PHONETIC if a in word[1:]]
    if not rules:
        return None
    a, b = rng.choice(rules)
    start = word.index(a, 1)
    return word[:start] + b + word[start + len(a):]


def _neighbours(letter: str) -> str:
    for row_index, row in enumerate(_KEYBOARD_ROWS):
        column = row.find(letter)
        if column >= 0:
            near = row[max(0, column - 1):column] + row[column + 1:column + 2]
            for other in (row_index - 1, row_index + 1):
                if 0 <= other < len(_KEYBOARD_ROWS):
                    near += _KEYBOARD_ROWS[other][max(0, column - 1):column + 1]
            return near
    return ""


def seeker_messages(path: Path, n: int, seed: int) -> list[str]:
    """n seeded seeker messages from a ReDial JSONL file that name no film: no @mention, and no title of the
    dialogue's own films typed out."""
    messages = []
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            dialogue = json.loads(line)
            seeker = dialogue.get("initiatorWorkerId")
            titles = [_title_key(name) for name in (dialogue.get("movieMentions") or {}).values() if name]
            for message in dialogue["messages"]:
                text = message["text"]
                if message.get("senderWorkerId") != seeker or "@" in text or not text.strip():
                    continue
                typed = " " + " ".join(tokenize(text)[0]) + " "
                if not any(title and f" {title} " in typed for title in titles):
                    messages.append(text)
    messages = sorted(set(messages))
    random.Random(seed).shuffle(messages)
    return messages[:n]


def run(settings: Settings, *, n: int, messages: int, seed: int, redial: Path, json_out: Path | None) -> int:
    """`liner eval linker`: build the linker as the app does, measure, print, write JSON; 0 when both targets
    hold. Only the catalog, the graph and the alias index are built: linking needs no sentence vectors."""
    from core.files import atomic_write_text
    from core.catalog import load_catalog

    if not Path(redial).is_file():
        raise FileNotFoundError(f"no ReDial file at {redial}: pass --redial FILE")
    catalog = list(load_catalog(settings.catalog_path))
    kg = KnowledgeGraph.build(catalog, progress=False)
    report = evaluate_linker(AliasIndex.build(catalog, kg), catalog, kg, redial, n=n, messages=messages, seed=seed)
    print(format_report(report))
    if json_out:
        atomic_write_text(Path(json_out), json.dumps(report.to_json(), indent=1, ensure_ascii=False))
        print(f"wrote {json_out}")
    return 0 if report.top1 >= MISSPELLING_TARGET and report.false_link_rate <= FALSE_LINK_TARGET else 1


def _title_key(name: str) -> str:
    """A ReDial movie name as folded words, without its year or a leading article: "The Godfather (1972)" ->
    "godfather"."""
    words = tokenize(re.sub(r"\(\s*\d{4}\s*\)", "", name))[0]
    return " ".join(words[1:] if words[:1] in (["the"], ["a"], ["an"]) and len(words) > 1 else words)


def evaluate_linker(aliases: AliasIndex, catalog: list[Item], kg: KnowledgeGraph, redial: Path, *, n: int = 320,
                    messages: int = 1000, seed: int = 0) -> LinkerReport:
    report = LinkerReport()
    times: list[float] = []

    def link(text: str):
        started = time.perf_counter()
        found = aliases.link(text)
        times.append((time.perf_counter() - started) * 1000)
        return found

    cases = misspellings(catalog, kg, aliases, n, seed)
    for case in cases:
        found = [m for m in link(case.typed) if m.kind in (Kind.ITEM, Kind.PERSON)]
        case.found = found[0].label if found else ""
        case.ok = bool(found) and found[0].node_id == case.node_id
        if not case.ok:
            report.misses.append(asdict(case))
    report.cases = len(cases)
    report.top1 = _share([c.ok for c in cases])
    report.by_error = {e: _share([c.ok for c in cases if c.error == e]) for e in ERROR_KINDS}
    report.by_kind = {k: _share([c.ok for c in cases if c.kind == k]) for k in ("item", "person")}

    texts = seeker_messages(redial, messages, seed)
    films = people = 0
    for text in texts:
        found = link(text)
        items = [m for m in found if m.kind == Kind.ITEM]
        films += bool(items)
        people += any(m.kind == Kind.PERSON for m in found)
        if items:
            report.false_links.append({"message": text, "linked": [(m.surface, m.label) for m in items]})
    report.messages = len(texts)
    report.false_link_rate = films / len(texts) if texts else 0.0
    report.person_link_rate = people / len(texts) if texts else 0.0
    report.median_ms = statistics.median(times) if times else 0.0
    report.p95_ms = sorted(times)[int(0.95 * (len(times) - 1))] if times else 0.0
    return report


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def format_report(report: LinkerReport) -> str:
    mark = {True: "ok", False: "BELOW TARGET"}
    lines = [
        f"misspellings: {report.cases} cases, top-1 {report.top1:.1%} (target >= {MISSPELLING_TARGET:.0%}: "
        f"{mark[report.top1 >= MISSPELLING_TARGET]})",
        "  by error: " + ", ".join(f"{k} {v:.1%}" for k, v in report.by_error.items()),
        "  by kind: " + ", ".join(f"{k} {v:.1%}" for k, v in report.by_kind.items()),
        f"no-film ReDial seeker messages: {report.messages}, a film linked in {report.false_link_rate:.1%} (target "
        f"<= {FALSE_LINK_TARGET:.0%}: {mark[report.false_link_rate <= FALSE_LINK_TARGET]}); a person in "
        f"{report.person_link_rate:.1%}",
        f"link time per message: median {report.median_ms:.2f} ms, p95 {report.p95_ms:.2f} ms",
    ]
    lines += [f"  miss: {m['typed']!r} -> {m['found'] or '(nothing)'} (wanted {m['name']}, {m['error']})"
              for m in report.misses[:10]]
    lines += [f"  false link: {f['message'][:80]!r} -> {f['linked']}" for f in report.false_links[:10]]
    return "\n".join(lines)
