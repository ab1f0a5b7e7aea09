"""`liner eval explain`: how good are the one-line reasons, over sampled (profile, item) pairs.

Profiles are ReDial train seekers' liked movies (their post-dialogue form), or synthetic ones built from a popular
item's genre and director when no ReDial file is at hand; items are the system's own top recommendations for
that profile. Figures: the share of lines that pass the grounding check, the template-fallback rate, the share
that name a concrete detail of the item, length, and the share of lines repeated across different items.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from bench.redial import MOVIE_LIST, load_movie_names, map_movies
from recommender.candidates import Query
from recommender.catalog import Catalog, Item, normalize_title
from recommender.engine import RecommenderEngine
from recommender.explain import check_grounding
from recommender.profile import Profile, ProfileEntry

RECOMMENDED_POOL = 5
"""An item is drawn from the profile's top cards, as a user would see them."""
MAX_LIKED = 5
PLOT_WORD_MIN = 7
"""Description words this long or longer count as a plot element when the line repeats them."""
GENERIC_WORDS = frozenset({
    "another", "because", "similar", "features", "feature", "classic", "character", "characters",
    "everyone", "something", "stories", "through", "together", "himself", "herself", "themselves", "between",
    "against", "becomes", "finally", "believe", "however", "without", "whether", "members", "movies",
    "thriller", "familiar", "favourite", "favorite", "directed", "starring", "written",
})
"""Long words that say nothing specific about an item (genre names are matched as genres instead)."""


@dataclass
class ExplainedPair:
    profile: str
    """A short description of the profile: its liked labels."""
    item_id: str
    item: str
    text: str
    source: str
    """llm | template | cache"""
    grounded: bool
    """The explainer's own verdict."""
    rechecked: bool
    """check_grounding run again here on the final line."""
    detail: str | None
    """The kind of concrete detail the line names (person | genre | keyword | plot), None if none."""


@dataclass
class ExplainReport:
    pairs: list[ExplainedPair]

    def figures(self) -> dict:
        n = len(self.pairs) or 1
        words = sorted(len(p.text.split()) for p in self.pairs) or [0]
        items_by_line: dict[str, set[str]] = defaultdict(set)
        for pair in self.pairs:
            items_by_line[normalize_title(pair.text)].add(pair.item_id)
        sources = Counter(p.source for p in self.pairs)
        details = Counter(p.detail for p in self.pairs if p.detail)
        return {
            "pairs": len(self.pairs),
            "grounded": round(sum(p.rechecked for p in self.pairs) / n, 4),
            "grounded_by_explainer": round(sum(p.grounded for p in self.pairs) / n, 4),
            "fallback_rate": round(sources["template"] / n, 4),
            "sources": {k: round(v / n, 4) for k, v in sources.items()},
            "concrete_detail": round(sum(details.values()) / n, 4),
            "detail_by_kind": {k: round(v / n, 4) for k, v in details.items()},
            "length_words": {"mean": round(sum(words) / len(words), 1), "median": words[len(words) // 2],
                             "min": words[0], "max": words[-1]},
            "repeated_across_items": round(
                sum(len(items_by_line[normalize_title(p.text)]) > 1 for p in self.pairs) / n, 4),
        }

    def to_json(self) -> dict:
        return {**self.figures(), "per_pair": [asdict(p) for p in self.pairs]}


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
                entries = [ProfileEntry(f"item:{it.item_id}", "item", it.label, 1, 1.0) for it in items]
                profiles.append(Profile(f"redial-{raw['conversationId']}", entries))
    return profiles


def synthetic_profiles(catalog: Catalog, count: int, rng: random.Random) -> list[Profile]:
    """A liked popular item plus its first genre and director, as a user might state them."""
    popular = sorted((it for it in catalog if it.genres), key=lambda it: -it.popularity)[:1000]
    profiles = []
    for index in range(count):
        item = rng.choice(popular)
        entries = [ProfileEntry(f"item:{item.item_id}", "item", item.label, 1, 1.0),
                   ProfileEntry(f"genre:{item.genres[0]}", "genre", item.genres[0], 1, 0.8)]
        for name in item.people.get("director", ())[:1]:
            entries.append(ProfileEntry(f"person:{name}", "person", name, 1, 0.8))
        profiles.append(Profile(f"synthetic-{index}", entries))
    return profiles


# --- specificity --------------------------------------------------------------------------------------------
def concrete_detail(text: str, item: Item) -> str | None:
    """Which concrete detail of the item the line names, if any: a person, a genre, a keyword or a plot word."""
    lowered = text.lower()
    words = set(re.findall(r"[a-z0-9']+", lowered))
    for _, name in item.all_people():
        surname = name.split()[-1].lower()
        if name.lower() in lowered or (len(surname) >= 4 and surname in words):
            return "person"
    if any(genre.lower() in lowered for genre in item.genres) or (
            "Science Fiction" in item.genres and "sci-fi" in lowered):
        return "genre"
    if any(re.search(rf"\b{re.escape(k.lower())}\b", lowered) for k in item.keywords):
        return "keyword"
    plot = {w for w in re.findall(r"[a-z]+", item.description.lower()) if len(w) >= PLOT_WORD_MIN}
    title_words = set(re.findall(r"[a-z]+", item.title.lower()))
    if (plot - GENERIC_WORDS - title_words) & words:
        return "plot"
    return None


# --- the run ------------------------------------------------------------------------------------------------
def evaluate_explanations(engine: RecommenderEngine, *, n: int, seed: int = 0,
                          redial_path: Path | None = None) -> ExplainReport:
    rng = random.Random(seed)
    catalog = engine.catalog
    profiles = redial_profiles(redial_path, catalog) if redial_path else []
    profiles = rng.sample(profiles, min(n, len(profiles)))
    profiles += synthetic_profiles(catalog, n - len(profiles), rng)
    pairs = []
    for profile in tqdm(profiles, desc="eval explain", unit="pair"):
        ranked = engine.recommend(profile, Query(), RECOMMENDED_POOL, rank=False).candidates
        if not ranked:
            continue
        item = rng.choice(ranked).item
        evidence = engine.evidence(item, profile)
        explanation = engine.explainer.explain(item, evidence)
        pairs.append(ExplainedPair(
            profile="; ".join(e.label for e in profile.liked()), item_id=item.item_id, item=item.label,
            text=explanation.text, source=explanation.source, grounded=bool(explanation.grounded),
            rechecked=not check_grounding(explanation.text, evidence),
            detail=concrete_detail(explanation.text, item),
        ))
    return ExplainReport(pairs)


def format_report(report: ExplainReport, seed: int = 0, examples: int = 10) -> str:
    figures = report.figures()
    lines = [
        f"{figures['pairs']} explained (profile, item) pairs",
        f"pass the grounding check:        {figures['grounded']:.1%}",
        f"template fallback rate:          {figures['fallback_rate']:.1%}  (sources: {figures['sources']})",
        f"name a concrete detail:          {figures['concrete_detail']:.1%}  {figures['detail_by_kind']}",
        f"length in words:                 {figures['length_words']}",
        f"repeated across different items: {figures['repeated_across_items']:.1%}",
        "",
        "examples:",
    ]
    rng = random.Random(seed)
    for pair in rng.sample(report.pairs, min(examples, len(report.pairs))):
        lines.append(f"- likes {pair.profile[:70]}\n  → {pair.item} [{pair.source}, "
                     f"{'grounded' if pair.rechecked else 'NOT grounded'}]: {pair.text}")
    return "\n".join(lines)
