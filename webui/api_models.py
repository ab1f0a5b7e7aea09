"""Every request and response body of the JSON API (webui/api.py), in one file: the wire format at a glance."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FeedbackKind = Literal["like", "dislike", "seen"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(_Body):
    """Every error answer (4xx, 5xx)."""

    code: str = Field(description="Stable, machine-readable: bad_api_key, api_key_required, bad_token, "
                                  "not_a_card, message_too_long, body_too_large, invalid_request, rate_limited, "
                                  "origin_not_allowed, store_unavailable, not_found, internal_error.")
    message: str = Field(description="What went wrong and what to do, for a developer.")


class ProfileEntry(_Body):
    node_id: str = Field(description="\"item:ml1\", \"person:Jane Campion\", \"genre:Comedy\", \"mood:light\"...")
    kind: str = Field(description="item | person | genre | keyword | decade | mood")
    label: str
    weight: float = Field(description="0..1, decaying by Settings.preference_decay each turn it is not repeated.")


class Profile(_Body):
    """What the recommender believes about the visitor now."""

    liked: list[ProfileEntry]
    disliked: list[ProfileEntry]
    seen: list[str] = Field(description="Item ids the visitor has seen.")
    rejected: list[str] = Field(description="Item ids the visitor turned down (\"not for me\").")
    novelty: Literal["familiar", "new"] | None
    turns: int


class Card(_Body):
    item_id: str = Field(description="Catalog id; use it for feedback and why.")
    title: str
    year: int | None
    genres: list[str]
    external_ids: dict[str, str] = Field(description="tmdb, imdb, movielens ids where the catalog knows them.")
    reason: str = Field(description="The personal line on why it fits; empty while it is being written.")
    reason_state: str = Field(description="pending (being written) | how it was written: rerank, llm, grammar, "
                                          "cache, template | \"\" (no reason for this card).")
    mark: FeedbackKind | None = Field(description="What the visitor said about it with feedback.")


class Reply(_Body):
    action: Literal["ask", "recommend", "explain", "answer", "clarify", "reset", "info"] = Field(
        description="ask (an onboarding question) | recommend (new cards) | explain (why one film) | answer (to a "
                    "question about a film) | clarify (which film was meant) | reset (start over) | info")
    text: str = Field(description="What the assistant says.")
    chips: list[str] = Field(description="Onboarding quick picks: send one as the next message.")
    cards: list[Card] = Field(description="The cards on screen after this reply (a question or an answer leaves "
                                          "them as they were).")
    about: list[Card] = Field(description="For answer and clarify: the films the text is about (not on screen).")
    reasons_pending: bool = Field(description="Some reasons are still being written: GET /visitor/cards shows "
                                              "them as they come (at most Settings.explain_wait_s).")
    notes: list[str] = Field(description="Short notes: a truncated message, an unsaved turn, template reasons.")
    profile: Profile


class VisitorStarted(_Body):
    token: str = Field(description="The visitor's secret: send it as `Authorization: Bearer TOKEN`. Whoever holds "
                                   "it is this visitor, so hand it only to that visitor's browser.")
    reply: Reply = Field(description="The greeting (with the first onboarding question and its chips).")


class Message(_Body):
    text: str = Field(min_length=1, description="What the visitor says, or a chip (at most "
                                                "Settings.max_message_chars characters).")
    reasons: bool | None = Field(None, description="Write the cards' reasons with the language model (default: "
                                                   "Settings.explain); false gives their planned lines at once.")
    wait_for_reasons: bool = Field(False, description="Answer only once every reason is written (at most "
                                                      "Settings.explain_wait_s) instead of at once.")


class Cards(_Body):
    cards: list[Card]
    reasons_pending: bool


class Feedback(_Body):
    kind: FeedbackKind = Field(description="like | dislike (\"not for me\": never shown again) | seen")


class FeedbackDone(_Body):
    card: Card
    profile: Profile


class Why(_Body):
    """Why a card was picked: its reason, the graph paths from what the visitor liked, the facts and the fit."""

    item_id: str
    title: str
    year: int | None
    reason: str
    paths: list[str] = Field(description="Knowledge-graph paths from the visitor's likes to the film, in words.")
    matches: list[str] = Field(description="What fits the visitor, strongest first.")
    cautions: list[str] = Field(description="What may not fit.")
    genres: list[str]
    directors: list[str]
    stars: list[str]
    overview: str
