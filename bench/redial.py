"""`liner eval redial`: score the system on ReDial dialogues (Li et al. 2018, CC BY 4.0) as CRS papers do.

For every recommender turn that mentions a movie and has an earlier message, the context (all earlier messages,
mentions written "Title (Year)") is fed to the same session code the app uses — seeker turns through
`ChatSession.handle`, recommender turns through `ChatSession.observe_assistant` — and each movie of that turn is
one sample scored against the system's top 50 (context items removed). Each dialogue is walked once: the reply
to the seeker turn just before a scored recommender turn *is* the top-50 of the state at that point. A fresh user
per dialogue; the collaborative signals hold only what the split allows (SignalHistory): for the validation split,
nothing said after its time cut, so that its dialogues — by crowd workers never seen before the cut, like ReDial's
test set and like this app's real users — are scored as strangers.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import logging
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
from tqdm import tqdm

from bench.metrics import bootstrap_interval, paired_bootstrap_difference, ranking_report, success_rate
from core.catalog import Catalog, split_title_year
from core.errors import FixableError
from core.files import open_text
from recommender.cooccurrence import Cooccurrence

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

TIME_CUT = 13100
"""The time-ordered split's cut (a ReDial conversation number; ReDial numbers conversations as they were collected,
and its test conversations, 20001 on, all came later, from workers never seen in train). Near this cut about 290
later dialogues are by workers of no earlier dialogue, with ~900 earlier dialogues and ~5,400 earlier item lists."""
HISTORY_BLOCK = 1000
"""Tune dialogues are scored in blocks of this many conversation numbers; a dialogue's signals come from the
conversations before its block (a worker's burst of conversations stays out of its own signals)."""
MIN_HISTORY = 2000
"""Tune dialogues numbered below this have too little before them to score; they only feed the signals."""
RANDOM_VALIDATION_SIZE = 300
"""Dialogues of the old random split (a salted hash of the id), kept as a labelled comparison: it shares crowd
workers with its tune part, so it overstated accuracy for new people almost threefold."""
TUNE, VALIDATION, ALL = "tune", "validation", "all"
RANDOM_TUNE, RANDOM_VALIDATION = "random-tune", "random-validation"
SPLITS = (TUNE, VALIDATION, RANDOM_TUNE, RANDOM_VALIDATION, ALL)
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
    workers: frozenset[str] = frozenset()
    """The seeker's and the recommender's crowd-worker ids."""

    @property
    def number(self) -> int:
        """ReDial numbers conversations in the order they were collected."""
        return int(self.conversation_id)


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
    """Which dialogues were scored (see select_split)."""
    scored_list: str = SCORED_LIST
    sameness: dict = field(default_factory=dict)
    """How alike the cards are across turns (see sameness)."""

    def to_json(self) -> dict:
        data = {"split": self.split, "scored_list": self.scored_list, "all": self.all, "new": self.new,
                "coverage": self.coverage, "sameness": self.sameness,
                "per_sample": [asdict(s) for s in self.per_sample]}
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
    dialogues = []
    with open_text(path) as handle:
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
            workers = frozenset(str(raw[key]) for key in ("initiatorWorkerId", "respondentWorkerId") if key in raw)
            dialogues.append(Dialogue(str(raw["conversationId"]), turns, workers))
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


def random_validation_ids(conversation_ids: list[str], size: int = RANDOM_VALIDATION_SIZE) -> set[str]:
    """The old random split: the `size` conversations whose salted SHA-256 of the id is smallest."""
    return set(sorted(conversation_ids, key=_split_key)[:size])


def new_worker_ids(dialogues: list[Dialogue], cut: int = TIME_CUT) -> set[str]:
    """The validation split: dialogues numbered from `cut` on whose seeker and recommender took part in no dialogue
    before the cut — people the system has never met, as in ReDial's test set and in real use."""
    known = {worker for d in dialogues if d.number < cut for worker in d.workers}
    return {d.conversation_id for d in dialogues if d.number >= cut and not d.workers & known}


def select_split(dialogues: list[Dialogue], split: str) -> list[Dialogue]:
    """validation: new workers after TIME_CUT; tune: the dialogues before the cut that have MIN_HISTORY before
    them; random-validation / random-tune: the old hash split; all: every dialogue."""
    if split not in SPLITS:
        raise FixableError(f"unknown split {split!r}: use one of {', '.join(SPLITS)} (liner eval redial --split)")
    if split == ALL:
        return dialogues
    if split in (RANDOM_TUNE, RANDOM_VALIDATION):
        held_out = random_validation_ids([d.conversation_id for d in dialogues])
        return [d for d in dialogues if (d.conversation_id in held_out) == (split == RANDOM_VALIDATION)]
    if split == VALIDATION:
        chosen = new_worker_ids(dialogues)
        return [d for d in dialogues if d.conversation_id in chosen]
    return [d for d in dialogues if MIN_HISTORY <= d.number < TIME_CUT]


class SignalHistory:
    """Which train conversations feed the collaborative signals (co-mentions, "often talked about", sequence)
    while a dialogue of a split is scored, so that no dialogue is scored with what its own people said:

    - validation: only conversations before TIME_CUT;
    - tune: only conversations before the dialogue's HISTORY_BLOCK, less every earlier dialogue of its workers;
    - random splits and all: everything but the dialogue itself (the old leave-one-out)."""

    def __init__(self, cooc: Cooccurrence, split: str):
        self.cooc = cooc
        self.split = split
        self._before: dict[int, Cooccurrence] = {}
        self._by_worker: dict[str, list[str]] = {}
        for conversation, workers in cooc.workers().items():
            for worker in workers:
                self._by_worker.setdefault(worker, []).append(conversation)

    def _built_before(self, number: int) -> Cooccurrence:
        if number not in self._before:
            self._before[number] = self.cooc.before(number)
        return self._before[number]

    def for_dialogue(self, dialogue: Dialogue) -> Cooccurrence:
        if self.split == VALIDATION:
            return self._built_before(TIME_CUT)
        if self.split == TUNE:
            history = self._built_before(dialogue.number // HISTORY_BLOCK * HISTORY_BLOCK)
            own = {c for worker in dialogue.workers for c in self._by_worker.get(worker, ())}
            return history.without(own)
        return self.cooc.without([dialogue.conversation_id])


# --- running the system -------------------------------------------------------------------------------------
@contextmanager
def signals_for(assistant: Assistant, history: SignalHistory, dialogue: Dialogue) -> Iterator[None]:
    """Score a dialogue with the collaborative signals its split allows (SignalHistory)."""
    artifacts = assistant.engine.artifacts
    base = artifacts.cooc
    artifacts.cooc = history.for_dialogue(dialogue)
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
    by_dialogue = _by_dialogue(results)
    report["success_rate"] = success_rate(list(by_dialogue.values()))
    report["dialogues"] = len(by_dialogue)
    for k in INTERVAL_CUTOFFS:
        low, high = bootstrap_interval([[_hit(rank, k) for rank in ranks] for ranks in by_dialogue.values()])
        report[f"recall@{k}_low"], report[f"recall@{k}_high"] = low, high
    low, high = bootstrap_interval([[float(any(rank == 1 for rank in ranks))] for ranks in by_dialogue.values()])
    report["success_rate_low"], report["success_rate_high"] = low, high
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in report.items()}


INTERVAL_CUTOFFS = (1, 10, 50)
"""Recall cut-offs reported with a bootstrap 95 % interval over dialogues."""
FREQUENT_ITEMS = 20
"""The sameness measure: the share of top-five slots taken by the 20 items shown most often."""


def _hit(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def _by_dialogue(results: list[SampleResult]) -> dict[str, list[int | None]]:
    by_dialogue: dict[str, list[int | None]] = {}
    for r in results:
        by_dialogue.setdefault(r.conversation, []).append(r.rank)
    return by_dialogue


def sameness(results: list[SampleResult], catalog: Catalog) -> dict[str, float | int]:
    """How alike everyone's cards are (issue: accuracy without sameness), over the scored turns' top fives:
    distinct items shown, the share of slots the 20 most shown items take, the mean popularity percentile of the
    cards, and new-item recall@10 on long-tail targets (popularity below the catalog's median)."""
    tops = {(r.conversation, r.turn): r.predictions[:5] for r in results}
    shown = Counter(item for top in tops.values() for item in top)
    slots = sum(shown.values())
    median = float(np.median([item.popularity for item in catalog.items]))
    tail = [r for r in results if r.new and r.item_id and catalog.by_id[r.item_id].popularity < median]
    return {
        "turns": len(tops),
        "distinct_top5": len(shown),
        "top20_share": round(sum(n for _, n in shown.most_common(FREQUENT_ITEMS)) / slots, 4) if slots else 0.0,
        "mean_popularity_top5": round(float(np.mean([catalog.by_id[i].popularity for i in shown.elements()])), 4)
        if slots else 0.0,
        "long_tail_samples": len(tail),
        "long_tail_recall@10": round(sum(_hit(r.rank, 10) for r in tail) / len(tail), 4) if tail else 0.0,
        "most_shown": [[catalog.by_id[i].label, n] for i, n in shown.most_common(5)],
    }


def summarize(results: list[SampleResult]) -> tuple[dict, dict, float]:
    """(all-samples metrics, new-items metrics, catalog coverage of the ground truth)."""
    coverage = sum(r.item_id is not None for r in results) / len(results) if results else 0.0
    return _metrics(results), _metrics([r for r in results if r.new]), round(coverage, 4)


def compare_reports(a: dict, b: dict, k: int = 10) -> dict[str, float]:
    """Paired bootstrap of new-item recall@k between two `liner eval redial --json` reports of the same split:
    the samples both scored, grouped by dialogue. The interval excluding 0 is what lets one configuration
    replace another."""
    def keyed(report: dict) -> dict[tuple, float]:
        return {(s["conversation"], s["turn"], s["movie"]): _hit(s["rank"], k)
                for s in report["per_sample"] if s["new"]}

    hits_a, hits_b = keyed(a), keyed(b)
    shared = sorted(hits_a.keys() & hits_b.keys())
    dialogues: dict[str, list[tuple]] = {}
    for key in shared:
        dialogues.setdefault(key[0], []).append(key)
    groups_a = [[hits_a[key] for key in keys] for keys in dialogues.values()]
    groups_b = [[hits_b[key] for key in keys] for keys in dialogues.values()]
    mean, low, high = paired_bootstrap_difference(groups_a, groups_b)
    return {"samples": len(shared), "dialogues": len(dialogues), f"recall@{k}_a": round(
        sum(map(sum, groups_a)) / max(len(shared), 1), 4), f"recall@{k}_b": round(
        sum(map(sum, groups_b)) / max(len(shared), 1), 4), "difference": round(mean, 4), "low": round(low, 4),
        "high": round(high, 4)}


def load_redial(path: Path, limit: int | None = None, split: str = ALL) -> tuple[list[Dialogue], dict[str, str]]:
    """The dialogues of one split of a ReDial JSONL file (the first `limit` of them) and the movie list beside it.
    The split is drawn from the whole file, so --limit never changes which dialogues are validation."""
    movie_names = load_movie_names(path.parent / MOVIE_LIST)
    dialogues = select_split(read_dialogues(path, movie_names), split)
    return dialogues[:limit] if limit is not None else dialogues, movie_names


def evaluate_redial(assistant: Assistant, dialogues: list[Dialogue], movie_names: dict[str, str], *,
                    llm: bool = True, ablation: bool = False, progress: bool = True,
                    split: str = ALL) -> RedialReport:
    """Score the dialogues load_redial(..., split=split) returned; split also picks the signal history."""
    catalog = assistant.engine.catalog
    mapping = map_movies(movie_names, catalog)
    history = SignalHistory(assistant.engine.artifacts.cooc, split)
    modes = [FUSION, FUSION_LLM] if ablation else [FUSION_LLM if llm else FUSION]
    results: dict[str, list[SampleResult]] = {mode: [] for mode in modes}
    bar = tqdm(dialogues, desc="eval redial", unit="dialogue", disable=not progress)
    for dialogue in bar:
        points = sample_points(dialogue)
        if not points:
            continue
        with signals_for(assistant, history, dialogue):
            for mode in modes:
                session = assistant.session()
                results[mode] += score_dialogue(session, dialogue, points, mapping, movie_names,
                                                rank=mode == FUSION_LLM)
        main = results[modes[-1]]
        bar.set_postfix(samples=len(main), r10=f"{sum(1 for r in main if r.rank and r.rank <= 10) / len(main):.3f}")
    main = results[modes[-1]]
    all_metrics, new_metrics, coverage = summarize(main)
    report = RedialReport(all_metrics, new_metrics, coverage, main, split=split, sameness=sameness(main, catalog))
    if ablation:
        report.ablation = {}
        for mode in modes:
            mode_all, mode_new, _ = summarize(results[mode])
            report.ablation[mode] = {"all": mode_all, "new": mode_new, "sameness": sameness(results[mode], catalog)}
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
    lines.append("new-item 95 % intervals (bootstrap over dialogues): " + ", ".join(
        f"R@{k} {report.new[f'recall@{k}_low']:.3f}-{report.new[f'recall@{k}_high']:.3f}" for k in INTERVAL_CUTOFFS)
        + f", SR {report.new['success_rate_low']:.3f}-{report.new['success_rate_high']:.3f}")
    for name, same in ([("", report.sameness)] if not report.ablation else
                       [(f"{mode}: ", report.ablation[mode]["sameness"]) for mode in report.ablation]):
        lines.append(f"{name}sameness over {same['turns']} turns' top five: {same['distinct_top5']} distinct items, "
                     f"the {FREQUENT_ITEMS} most shown take {same['top20_share']:.1%} of the slots, mean popularity "
                     f"percentile {same['mean_popularity_top5']:.3f}; long-tail new-item R@10 "
                     f"{same['long_tail_recall@10']:.3f} ({same['long_tail_samples']} samples); most shown: "
                     + ", ".join(f"{label} {n}" for label, n in same["most_shown"]))
    lines.append("SR: share of dialogues with a relevant item ranked first at some turn")
    lines.append(f"catalog coverage of the ground truth: {report.coverage:.1%}")
    lines.append(ANCHORS)
    return "\n".join(lines)
