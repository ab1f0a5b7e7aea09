"""`liner eval explain`: are the one-line reasons true, personal and worth reading, over sampled (profile, item) pairs.

Profiles are real ReDial train seekers' liked movies (from their post-dialogue answers); synthetic ones (a popular
item's title, genre and director, as a user might state them) fill in only when no ReDial file is at hand. Items are
the system's own top cards for that profile. Every shown line is checked again here with the runtime's support
check (explain/support_check.py). Figures: share fully supported, role errors, share of lines with a personal
link available that lead with it, distinct-line ratio, repeated phrases, length, fallback rate, the sources, 20
random examples, and catalog items whose facts contradict each other (e.g. a namesake film merged wrongly).

Each line is also read for the defects that make a true line read badly (issue 16), one plain function each, with
examples of every kind: two full stops in a row, a story hook cut inside its clause, a sentence that only restates
the title, year and genre, a line that says nothing else at all, role words the facts do not bear out ("is back as
director"), a link through a genre alone when something stronger links the film to the user, and a theme that is
not English ("about superhero").
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from bench.redial import MOVIE_LIST, load_movie_names, map_movies
from core.catalog import Catalog, normalize_title
from core.ids import item_node, node_id
from core.item import Item
from core.profile import Profile, ProfileEntry
from core.vocabulary import Kind
from explain.content_plan import (COMPOUND_COUNTABLE_SHARE, COUNTABLE_SHARE, ContentPlan, build_plan,
                                  continues_as_clause, film_type, is_plural, plural_share, restates_the_listing,
                                  split_sentences)
from explain.evidence import Evidence
from explain.explanation_vocabulary import load_vocabulary
from explain.support_check import SupportReport, check_support
from explain.writer import leads_with_link
from recommender.candidates import Query
from recommender.engine import RecommenderEngine

RECOMMENDED_POOL = 5
"""An item is drawn from the profile's top cards, as a user would see them."""
MAX_LIKED = 5
EXAMPLES = 20
DEFECT_EXAMPLES = 3
"""Examples printed for each defect type."""
_SOURCE_YEAR = re.compile(r"\((\d{4})(?:_[a-z]+)*_film\)")


@dataclass
class ExplainedPair:
    profile: str
    """A short description of the profile: its liked labels."""
    item_id: str
    item: str
    text: str
    source: str
    """rerank | grammar | llm | template | cache"""
    supported: bool
    """The support check, run again here on the shown line."""
    unsupported: list[str] = field(default_factory=list)
    role_errors: list[str] = field(default_factory=list)
    repeats: list[str] = field(default_factory=list)
    form: list[str] = field(default_factory=list)
    link_available: bool = False
    """The plan had a personal link (a shared person, series or theme, or one the user named)."""
    leads_with_link: bool = False
    lead: str = ""
    """The plan's strongest personal link, as the plan states it."""
    defects: list[str] = field(default_factory=list)
    """The DEFECTS this line has."""


@dataclass
class ExplainReport:
    pairs: list[ExplainedPair]
    contradictory: list[dict] = field(default_factory=list)
    """Items among the explained ones whose catalog facts contradict each other."""
    mode: str = ""
    """The explainer's path (Settings.explain_mode as it ran): in template mode a planned line is no fallback."""

    @property
    def shown(self) -> list[ExplainedPair]:
        """The pairs whose card shows a line (a plan with nothing to say shows none)."""
        return [p for p in self.pairs if p.text]

    def figures(self) -> dict:
        n = len(self.pairs) or 1
        shown = self.shown
        words = sorted(len(p.text.split()) for p in shown) or [0]
        sources = Counter(p.source for p in shown)
        linked = [p for p in self.pairs if p.link_available]
        texts = [normalize_title(p.text) for p in shown]
        return {
            "pairs": len(self.pairs),
            "without_a_line": len(self.pairs) - len(shown),
            "supported": round(sum(p.supported for p in shown) / (len(shown) or 1), 4),
            "role_errors": sum(len(p.role_errors) for p in shown),
            "lines_with_unsupported_words": sum(bool(p.unsupported) for p in shown),
            "lines_with_repeats": sum(bool(p.repeats) for p in shown),
            "lines_off_form": sum(bool(p.form) for p in shown),
            "link_available": round(len(linked) / n, 4),
            "leads_with_link": round(sum(p.leads_with_link for p in linked) / (len(linked) or 1), 4),
            "distinct_line_ratio": round(len(set(texts)) / (len(shown) or 1), 4),
            "mode": self.mode,
            "fallback_rate": round(sources["template"] / (len(shown) or 1), 4) if self.mode != "template" else 0.0,
            "sources": {k: round(v / (len(shown) or 1), 4) for k, v in sorted(sources.items())},
            "length_words": {"mean": round(sum(words) / len(words), 1), "median": words[len(words) // 2],
                             "min": words[0], "max": words[-1]},
            "contradictory_items": len(self.contradictory),
            "defects": {d: sum(d in p.defects for p in self.pairs) for d in DEFECTS},
        }

    def to_json(self) -> dict:
        return {**self.figures(), "contradictory": self.contradictory, "per_pair": [asdict(p) for p in self.pairs]}


# --- profiles -----------------------------------------------------------------------------------------------
def redial_profiles(path: Path, catalog: Catalog) -> list[Profile]:
    """One profile per ReDial conversation: the movies its seeker said they liked."""
    mapping = map_movies(load_movie_names(path.parent / MOVIE_LIST), catalog)
    profiles = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            raw = json.loads(line)
            answers = raw.get("initiatorQuestions") or {}
            liked = [mapping.get(m) for m, a in answers.items() if isinstance(a, dict) and a.get("liked") == 1]
            items = [catalog.by_id[i] for i in dict.fromkeys(liked) if i][:MAX_LIKED]
            if items:
                entries = [ProfileEntry(item_node(it.item_id), "item", it.label, 1, 1.0) for it in items]
                profiles.append(Profile(f"redial-{raw['conversationId']}", entries))
    return profiles


def synthetic_profiles(catalog: Catalog, count: int, rng: random.Random) -> list[Profile]:
    """A liked popular item plus its first genre and director, as a user might state them."""
    popular = sorted((it for it in catalog if it.genres), key=lambda it: -it.popularity)[:1000]
    profiles = []
    for index in range(count):
        item = rng.choice(popular)
        entries = [ProfileEntry(item_node(item.item_id), "item", item.label, 1, 1.0),
                   ProfileEntry(node_id(Kind.GENRE, item.genres[0]), "genre", item.genres[0], 1, 0.8)]
        for name in item.people.get("director", ())[:1]:
            entries.append(ProfileEntry(node_id(Kind.PERSON, name), "person", name, 1, 0.8))
        profiles.append(Profile(f"synthetic-{index}", entries))
    return profiles


# --- contradictory facts ------------------------------------------------------------------------------------
def contradictions(item: Item) -> list[str]:
    """Facts of one item that cannot all be true: a DBpedia page of a film from another year (a namesake merged
    in), a description dated after the release by a decade or more in the past tense, or one person billed as
    both director and star of an animated film with no voice cast."""
    found = []
    page = item.sources.get("dbpedia", "")
    year = _SOURCE_YEAR.search(page)
    if year and item.year and abs(int(year.group(1)) - item.year) > 1:
        found.append(f"DBpedia page {page} is of a {year.group(1)} film, the item is from {item.year}")
    if item.year:
        later = [int(y) for y in re.findall(r"\b(?:in|since) ((?:19|20)\d\d)\b", item.description)]
        if any(y > item.year + 1 and y <= 2026 for y in later) and re.search(r"\b(?:was|were|had)\b",
                                                                              item.description):
            found.append(f"description tells of {max(later)}, after the {item.year} release")
    return found


# --- defects ------------------------------------------------------------------------------------------------
_SUBORDINATORS = {"when", "while", "who", "after", "before", "because", "until", "where", "whose", "which"}
"""Words a clause may end before; "as" is not one ("doesn't go as planned")."""


def _titles(evidence: Evidence) -> tuple[str, ...]:
    return (evidence.title, *(m.because for m in evidence.matches if m.via_title))


def double_stop(text: str) -> bool:
    """"It stars Cuba Gooding Jr.." (an ellipsis "..." never reaches a card: the support check refuses it)."""
    return bool(re.search(r"(?<!\.)\.\.(?!\.)|\.\s+\.", text))


def cut_hook(text: str, plan: ContentPlan, description: str) -> bool:
    """The line's story hook stops inside a clause of the description: what follows it there neither ends nor
    opens a clause ("... when their car hits" + "and apparently kills a pedestrian")."""
    hook = plan.hook.rstrip(".")
    if not hook or hook not in text:
        return False
    found = re.search(re.escape(hook[1:]), description)
    if not found:
        return False
    rest = description[found.end():]
    if not rest or rest[0] in ".!?;:" or rest.lstrip().startswith(("-", "–", "—")):
        return False
    if rest[0] == ",":  # a comma ends a clause only when a clause or an adjunct opens after it
        return not continues_as_clause(rest)
    return rest.split(maxsplit=1)[0].lower() not in _SUBORDINATORS


def tautological(text: str, evidence: Evidence) -> bool:
    """A sentence (not the whole line) that only restates the title, year and genre ("Revenge of the Nerds is a
    1984 comedy.")."""
    sentences = split_sentences(text, _titles(evidence))
    return len(sentences) > 1 and any(restates_the_listing(s, evidence) for s in sentences)


def empty_line(text: str, evidence: Evidence) -> bool:
    """A shown line that says nothing beyond the title, year and genre ("A film called Breathe, from 2017.")."""
    return bool(text) and restates_the_listing(text, evidence)


def false_role_words(report: SupportReport) -> bool:
    """A person in a role they do not hold, on this film or on the liked one ("John Waters, who starred in Seed of
    Chucky, is back as director" when he did not direct it)."""
    return bool(report.role_errors)


def genre_only_link(text: str, plan: ContentPlan, evidence: Evidence) -> bool:
    """A sentence that ties the film to a liked title through a genre alone when the plan had something stronger
    (a person, series or theme), or that says more than a genre does ("in the spirit of")."""
    if "in the spirit of" in text.lower():
        return True
    if plan.lead is None:
        return False
    genre_titles = {m.because for m in evidence.matches if m.kind == "genre" and m.via_title}
    stronger = {t for f in plan.facts if f.kind != "genre" for t in (f.label, f.phrase, f.series) if t}
    return any(title in sentence and not any(t in sentence for t in stronger)
               for sentence in split_sentences(text, _titles(evidence)) for title in genre_titles)


def ungrammatical_theme(text: str, evidence: Evidence) -> bool:
    """A theme said as no English sentence would: a countable noun with no article or plural after "about"
    ("it is about superhero", "about witch"), or a kind of film as a theme ("about musical")."""
    vocabulary = load_vocabulary()
    themes = {*evidence.keywords, *(m.label for m in evidence.matches if m.kind == "keyword")}
    lowered = text.lower()
    for theme in themes:
        if not re.search(rf"\babout {re.escape(theme.lower())}\b(?![-'])", lowered):
            continue
        last = theme.split()[-1].lower()
        countable = COUNTABLE_SHARE if " " not in theme else COMPOUND_COUNTABLE_SHARE
        if film_type(theme, vocabulary) or (not is_plural(last) and plural_share(last) >= countable
                                            and theme[:1].islower() and f"about {theme}" in text):
            return True
    return False


DEFECTS = ("double_stops", "cut_hooks", "tautological_hooks", "empty_lines", "false_role_words",
           "genre_only_links", "ungrammatical_themes")


def line_defects(text: str, plan: ContentPlan, evidence: Evidence, report: SupportReport) -> list[str]:
    """The DEFECTS of one shown line."""
    found = {
        "double_stops": double_stop(text),
        "cut_hooks": cut_hook(text, plan, evidence.description),
        "tautological_hooks": tautological(text, evidence),
        "empty_lines": empty_line(text, evidence),
        "false_role_words": false_role_words(report),
        "genre_only_links": genre_only_link(text, plan, evidence),
        "ungrammatical_themes": ungrammatical_theme(text, evidence),
    }
    return [name for name in DEFECTS if found[name]]


# --- the run ------------------------------------------------------------------------------------------------
def evaluate_explanations(engine: RecommenderEngine, *, n: int, seed: int = 0,
                          redial_path: Path | None = None) -> ExplainReport:
    rng = random.Random(seed)
    catalog = engine.catalog
    profiles = redial_profiles(redial_path, catalog) if redial_path else []
    profiles = rng.sample(profiles, min(n, len(profiles)))
    profiles += synthetic_profiles(catalog, n - len(profiles), rng)
    pairs, contradictory = [], {}
    for profile in tqdm(profiles, desc="eval explain", unit="pair"):
        ranked = engine.recommend(profile, Query(), RECOMMENDED_POOL, rank=False).candidates
        if not ranked:
            continue
        item = rng.choice(ranked).item
        evidence = engine.evidence(item, profile)
        plan = build_plan(evidence)
        explanation = engine.explainer.explain(item, evidence)
        report = check_support(explanation.text, evidence, max_words=engine.settings.explain_max_words)
        lead = plan.lead
        pairs.append(ExplainedPair(
            profile="; ".join(e.label for e in profile.liked()), item_id=item.item_id, item=item.label,
            text=explanation.text, source=explanation.source, supported=report.ok, unsupported=report.unsupported,
            role_errors=report.role_errors, repeats=report.repeats, form=report.form,
            link_available=lead is not None, leads_with_link=leads_with_link(explanation.text, plan),
            lead=plan.describe().split("; ")[0] if lead else "",
            defects=line_defects(explanation.text, plan, evidence, report) if explanation.text else [],
        ))
        problems = contradictions(item)
        if problems:
            contradictory[item.item_id] = {"item_id": item.item_id, "item": item.label, "problems": problems}
    return ExplainReport(pairs, list(contradictory.values()), engine.explainer.mode)


def format_report(report: ExplainReport, seed: int = 0, examples: int = EXAMPLES) -> str:
    f = report.figures()
    lines = [
        f"{f['pairs']} explained (profile, item) pairs; {f['without_a_line']} with no line (nothing to say beyond "
        f"title, year and genre)",
        f"fully supported (content-word check):  {f['supported']:.1%}  (of the lines shown)",
        f"  lines with unsupported words:        {f['lines_with_unsupported_words']}",
        f"  role errors:                         {f['role_errors']}",
        f"  lines repeating a phrase:            {f['lines_with_repeats']}",
        f"  lines off form (cut off, too long):  {f['lines_off_form']}",
        f"personal link available:               {f['link_available']:.1%}",
        f"  of those, the line leads with it:    {f['leads_with_link']:.1%}",
        f"distinct-line ratio:                   {f['distinct_line_ratio']:.3f}",
        f"template fallback rate:                {f['fallback_rate']:.1%}  (path: {f['mode']}; sources: "
        f"{f['sources']})",
        f"length in words:                       {f['length_words']}",
        f"items with contradictory facts:        {f['contradictory_items']}",
    ]
    lines += [f"  - {c['item']}: {'; '.join(c['problems'])}" for c in report.contradictory[:10]]
    lines.append("defects (lines):")
    for defect in DEFECTS:
        hits = [p for p in report.pairs if defect in p.defects]
        lines.append(f"  {defect.replace('_', ' '):<35}  {len(hits)}")
        lines += [f"    - {p.item}: {p.text}" for p in hits[:DEFECT_EXAMPLES]]
    lines += ["", f"{min(examples, len(report.pairs))} random examples:"]
    rng = random.Random(seed)
    for pair in rng.sample(report.pairs, min(examples, len(report.pairs))):
        verdict = "no line" if not pair.text else "supported" if pair.supported else "NOT supported: " + ", ".join(
            pair.unsupported + pair.role_errors + pair.repeats + pair.form)
        lines.append(f"- likes {pair.profile[:70]}\n  → {pair.item} [{pair.source}, {verdict}]: {pair.text}")
    return "\n".join(lines)
