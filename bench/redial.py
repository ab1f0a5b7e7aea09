"""`liner eval redial`: score the system on ReDial dialogues by the protocol in DESIGN.md.

For every recommender turn that mentions a movie and has an earlier message, the context (all earlier messages,
mentions written "Title (Year)") is fed to the same session code the app uses — seeker turns through
`ChatSession.handle`, recommender turns through `ChatSession.observe_assistant` — and each movie of that turn is
one sample scored against the system's top 50 (context items removed). Each dialogue is walked once: the reply
to the seeker turn just before a scored recommender turn *is* the top-50 of the state at that point. A fresh user
per dialogue, and the dialogue's own ReDial co-mentions are left out of the co-occurrence source.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import html
import json
import logging
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from tqdm import tqdm

from bench.metrics import ranking_report, success_rate
from recommender.catalog import Catalog, split_title_year

if TYPE_CHECKING:
    from conversation.reply import Reply
    from conversation.session import Assistant, ChatSession

log = logging.getLogger(__name__)

TOP_K = 50
"""The protocol scores a top-50 list."""
SHOWN_PREDICTIONS = 10
"""How many predicted ids each per-sample record keeps (for reading failures, not for scoring)."""
MOVIE_LIST = "movies_with_mentions.csv"
SEEKER, RECOMMENDER = "seeker", "recommender"
FUSION, FUSION_LLM = "fusion", "fusion+llm"

ANCHORS = (
    "published anchors (ReDial test): new items — GPT-4 zero-shot R@10 0.201, UniCRS 0.180, "
    "ReFICR R@10 0.213 / R@50 0.465; all samples — UniCRS R@1/10/50 0.049/0.213/0.421"
)

_MENTION = re.compile(r"@(\d+)")

VALIDATION_SIZE = 300
"""Dialogues of the validation split: never tuned on (no weight, threshold, prompt or ranker sees them)."""
TUNE, VALIDATION, ALL = "tune", "validation", "all"
SPLITS = (TUNE, VALIDATION, ALL)
SCORED_LIST = ("the list the app ships: the diversified cards first, then the rest of the ranked list, "
               "context items removed, cut at 50")


@dataclass
class Turn:
    role: str
    """seeker | recommender"""
    text: str
    """Consecutive messages of one sender joined, mentions written as "Title (Year)"."""
    movies: list[str] = field(default_factory=list)
    """ReDial movie ids mentioned in this turn, in order of first mention."""


@dataclass
class Dialogue:
    conversation_id: str
    turns: list[Turn]


@dataclass(frozen=True)
class SamplePoint:
    turn: int
    """Index of the recommender turn whose movie is the ground truth."""
    movie: str
    new: bool
    """The movie was not mentioned earlier in the dialogue."""
    context_movies: frozenset[str]


@dataclass
class SampleResult:
    conversation: str
    turn: int
    movie: str
    title: str
    item_id: str | None
    """The catalog item the ReDial movie maps to; None = not in the catalog (always a miss)."""
    new: bool
    rank: int | None
    """1-based position of the ground truth in the top 50 after removing context items; None = not found."""
    action: str
    """What the session did with the seeker turn before (recommend; anything else gives no predictions)."""
    predictions: list[str]
    rank_fusion: int | None = None
    """With --ablation: the rank the same sample got from fusion alone (rank is then fusion + LLM)."""


@dataclass
class RedialReport:
    all: dict[str, float | int]
    new: dict[str, float | int]
    coverage: float
    per_sample: list[SampleResult]
    ablation: dict[str, dict[str, dict[str, float | int]]] | None = None
    split: str = ALL
    """Which dialogues were scored: tune | validation | all (see select_split)."""
    scored_list: str = SCORED_LIST

    def to_json(self) -> dict:
        data = {"split": self.split, "scored_list": self.scored_list, "all": self.all, "new": self.new,
                "coverage": self.coverage, "per_sample": [asdict(s) for s in self.per_sample]}
        if self.ablation is not None:
            data["ablation"] = self.ablation
        return data


# --- reading the data ---------------------------------------------------------------------------------------
def load_movie_names(path: Path) -> dict[str, str]:
    """ReDial movie id -> "Title (Year)" from movies_with_mentions.csv (double spaces collapsed)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"ReDial movie list {path} not found: it must sit beside the dialogue file "
            f"(copy ../shared/data/redial/{MOVIE_LIST} there)"
        )
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["movieId"]: _clean_name(row["movieName"]) for row in csv.DictReader(handle)}


def _clean_name(name: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(name)).strip()


def read_dialogues(path: Path, movie_names: dict[str, str], limit: int | None = None) -> list[Dialogue]:
    """Dialogues of a ReDial JSONL file, consecutive messages of one sender joined into one turn."""
    opener = gzip.open if path.suffix == ".gz" else open
    dialogues = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            if limit is not None and len(dialogues) >= limit:
                break
            raw = json.loads(line)
            names = {**{k: _clean_name(v) for k, v in (raw.get("movieMentions") or {}).items() if v},
                     **movie_names}
            turns: list[Turn] = []
            for message in raw["messages"]:
                role = SEEKER if message["senderWorkerId"] == raw["initiatorWorkerId"] else RECOMMENDER
                text, movies = _resolve_mentions(html.unescape(message["text"]), names)
                if turns and turns[-1].role == role:
                    turns[-1].text = f"{turns[-1].text} {text}".strip()
                    turns[-1].movies += [m for m in movies if m not in turns[-1].movies]
                else:
                    turns.append(Turn(role, text, movies))
            dialogues.append(Dialogue(str(raw["conversationId"]), turns))
    return dialogues


def _resolve_mentions(text: str, names: dict[str, str]) -> tuple[str, list[str]]:
    movies: list[str] = []

    def replace(match: re.Match) -> str:
        movie = match.group(1)
        if movie not in movies:
            movies.append(movie)
        return names.get(movie, "a movie")

    return _MENTION.sub(replace, text).strip(), movies


def sample_points(dialogue: Dialogue) -> list[SamplePoint]:
    """One sample per movie of each recommender turn that has an earlier turn."""
    points = []
    context: set[str] = set()
    for index, turn in enumerate(dialogue.turns):
        if turn.role == RECOMMENDER and index > 0:
            frozen = frozenset(context)
            points += [SamplePoint(index, movie, movie not in frozen, frozen) for movie in turn.movies]
        context.update(turn.movies)
    return points


def map_movies(movie_names: dict[str, str], catalog: Catalog) -> dict[str, str | None]:
    """ReDial movie id -> catalog item id: the catalog's own ReDial id (merged records included), else normalized
    title + year (None when the catalog lacks it). The same mapping the co-occurrence data was built with."""
    mapping = {}
    for movie, name in movie_names.items():
        item = catalog.get(f"rd{movie}") or catalog.find_title(*split_title_year(name))
        mapping[movie] = item.item_id if item else None
    return mapping


def _split_key(conversation_id: str) -> str:
    return hashlib.sha256(f"liner-notes-validation:{conversation_id}".encode()).hexdigest()


def validation_ids(conversation_ids: list[str], size: int = VALIDATION_SIZE) -> set[str]:
    """The validation split: the `size` conversations whose salted SHA-256 of the id is smallest. Stable: it
    depends on the ids alone, not on file order; with the 1,401 dialogues of train_data_subset.jsonl it is
    always the same 300."""
    return set(sorted(conversation_ids, key=_split_key)[:size])


def select_split(dialogues: list[Dialogue], split: str) -> list[Dialogue]:
    """tune = every dialogue outside the validation split; validation = the held-out 300; all = both."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)} (liner eval redial --split)")
    if split == ALL:
        return dialogues
    held_out = validation_ids([d.conversation_id for d in dialogues])
    return [d for d in dialogues if (d.conversation_id in held_out) == (split == VALIDATION)]


# --- running the system -------------------------------------------------------------------------------------
@contextmanager
def comentions_without(assistant: Assistant, conversation_id: str) -> Iterator[None]:
    """Score a dialogue with a co-occurrence source that never saw that dialogue's own co-mentions."""
    artifacts = assistant.engine.artifacts
    base = artifacts.cooc
    artifacts.cooc = base.without([conversation_id])
    try:
        yield
    finally:
        artifacts.cooc = base


def score_dialogue(session: ChatSession, dialogue: Dialogue, points: list[SamplePoint],
                   mapping: dict[str, str | None], movie_names: dict[str, str], *, rank: bool) -> list[SampleResult]:
    """Walk the dialogue once; at each scored recommender turn, score the reply to the seeker turn before it."""
    by_turn: dict[int, list[SamplePoint]] = {}
    for point in points:
        by_turn.setdefault(point.turn, []).append(point)
    results = []
    last_reply = None
    for index, turn in enumerate(dialogue.turns):
        if turn.role == SEEKER:
            scored_next = index + 1 in by_turn
            context = by_turn[index + 1][0].context_movies if scored_next else frozenset()
            # Only the turns right before a scored one need the LLM ranking; the others just update the state.
            last_reply = session.handle(turn.text, explain=False, n_cards=TOP_K + len(context),
                                        rank=rank and scored_next)
            continue
        for point in by_turn.get(index, []):
            results.append(_score_point(dialogue.conversation_id, point, last_reply, mapping, movie_names))
        session.observe_assistant(turn.text)
    return results


def _score_point(conversation_id: str, point: SamplePoint, reply: Reply | None, mapping: dict[str, str | None],
                 movie_names: dict[str, str]) -> SampleResult:
    removed = {mapping.get(m) for m in point.context_movies} - {None}
    action = reply.action if reply is not None else "none"
    ranked = [c.item_id for c in reply.cards] if reply is not None and reply.action == "recommend" else []
    ranked = [item_id for item_id in ranked if item_id not in removed][:TOP_K]
    truth = mapping.get(point.movie)
    rank = ranked.index(truth) + 1 if truth in ranked else None
    return SampleResult(conversation_id, point.turn, point.movie, movie_names.get(point.movie, ""), truth,
                        point.new, rank, action, ranked[:SHOWN_PREDICTIONS])


def _metrics(results: list[SampleResult]) -> dict[str, float | int]:
    truth = [{r.item_id} if r.item_id else set() for r in results]
    # Only the ground truth's rank matters for binary single-item metrics: rebuild a list placing it there.
    predictions = [[None] * (r.rank - 1) + [r.item_id] if r.rank else [] for r in results]
    report = ranking_report(truth, predictions)
    by_dialogue: dict[str, list[int | None]] = {}
    for r in results:
        by_dialogue.setdefault(r.conversation, []).append(r.rank)
    report["success_rate"] = success_rate(list(by_dialogue.values()))
    report["dialogues"] = len(by_dialogue)
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in report.items()}


def summarize(results: list[SampleResult]) -> tuple[dict, dict, float]:
    """(all-samples metrics, new-items metrics, catalog coverage of the ground truth)."""
    coverage = sum(r.item_id is not None for r in results) / len(results) if results else 0.0
    return _metrics(results), _metrics([r for r in results if r.new]), round(coverage, 4)


def load_redial(path: Path, limit: int | None = None, split: str = ALL) -> tuple[list[Dialogue], dict[str, str]]:
    """The dialogues of one split of a ReDial JSONL file (the first `limit` of them) and the movie list beside it.
    The split is drawn from the whole file, so --limit never changes which dialogues are validation."""
    movie_names = load_movie_names(path.parent / MOVIE_LIST)
    dialogues = select_split(read_dialogues(path, movie_names), split)
    return dialogues[:limit] if limit is not None else dialogues, movie_names


def evaluate_redial(assistant: Assistant, dialogues: list[Dialogue], movie_names: dict[str, str], *,
                    llm: bool = True, ablation: bool = False, progress: bool = True,
                    split: str = ALL) -> RedialReport:
    """split only labels the report: pass the dialogues load_redial(..., split=split) returned."""
    mapping = map_movies(movie_names, assistant.engine.catalog)
    modes = [FUSION, FUSION_LLM] if ablation else [FUSION_LLM if llm else FUSION]
    results: dict[str, list[SampleResult]] = {mode: [] for mode in modes}
    bar = tqdm(dialogues, desc="eval redial", unit="dialogue", disable=not progress)
    for dialogue in bar:
        points = sample_points(dialogue)
        if not points:
            continue
        with comentions_without(assistant, dialogue.conversation_id):
            for mode in modes:
                session = assistant.session()
                results[mode] += score_dialogue(session, dialogue, points, mapping, movie_names,
                                                rank=mode == FUSION_LLM)
        main = results[modes[-1]]
        bar.set_postfix(samples=len(main), r10=f"{sum(1 for r in main if r.rank and r.rank <= 10) / len(main):.3f}")
    main = results[modes[-1]]
    all_metrics, new_metrics, coverage = summarize(main)
    report = RedialReport(all_metrics, new_metrics, coverage, main, split=split)
    if ablation:
        report.ablation = {}
        for mode in modes:
            mode_all, mode_new, _ = summarize(results[mode])
            report.ablation[mode] = {"all": mode_all, "new": mode_new}
        fusion_ranks = {(r.conversation, r.turn, r.movie): r.rank for r in results[FUSION]}
        for record in main:
            record.rank_fusion = fusion_ranks.get((record.conversation, record.turn, record.movie))
    return report


def format_report(report: RedialReport) -> str:
    keys = ["recall@1", "recall@10", "recall@50", "ndcg@10", "ndcg@50", "mrr@10", "mrr@50", "success_rate",
            "samples"]
    rows = [("all", report.all), ("new", report.new)]
    if report.ablation:
        rows = [(f"{split} {mode}", report.ablation[mode][split]) for split in ("all", "new")
                for mode in report.ablation]
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"split: {report.split} ({report.all.get('dialogues', 0)} dialogues scored); "
             f"scored list: {report.scored_list}",
             "".ljust(width) + "".join(k.replace("success_rate", "SR").rjust(10) for k in keys)]
    for name, metrics in rows:
        lines.append(name.ljust(width) + "".join(
            (f"{metrics[k]:.4f}" if k != "samples" else str(metrics[k])).rjust(10) for k in keys))
    lines.append("SR: share of dialogues with a relevant item ranked first at some turn")
    lines.append(f"catalog coverage of the ground truth: {report.coverage:.1%}")
    lines.append(ANCHORS)
    return "\n".join(lines)
