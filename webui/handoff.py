"""The profile hand-off: what one visitor told Liner Notes, in a documented format another recommender can seed a
new user from (liked and disliked films with their TMDb / IMDb / MovieLens ids, genres, people, moods, and the
conversation's constraints, each with its weight and when it was said).

The format is the pydantic model `HandoffProfile`; its JSON Schema is the file schemas/profile.schema.json, written
from the model by `python -m webui.handoff > schemas/profile.schema.json` (a test keeps the two equal).
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.catalog import Catalog
from core.ids import item_id_of
from core.preferences import Constraints
from core.settings import REPO_ROOT
from store.profile_store import ProfileStore, UnknownUserError

SCHEMA_PATH = REPO_ROOT / "schemas" / "profile.schema.json"
FORMAT = "liner-notes-profile"
VERSION = 1
EXTERNAL_ID_SOURCES = ("tmdb", "imdb", "movielens")
"""The catalog sources (Item.sources) a receiving recommender can map films by."""
TASTE_KINDS = {"genre": "genres", "person": "people", "mood": "moods", "keyword": "keywords", "decade": "decades"}
"""Profile entry kind -> the hand-off list holding it."""


class _Strict(BaseModel):
    # Every field is always written, so the schema lists every field as required.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class ExternalIds(_Strict):
    """The film's ids in public databases, where the catalog knows them."""

    tmdb: str | None = Field(None, description="The Movie Database id, e.g. \"862\" (themoviedb.org/movie/862).")
    imdb: str | None = Field(None, description="IMDb title id, e.g. \"tt0114709\".")
    movielens: str | None = Field(None, description="MovieLens movieId, e.g. \"1\".")


class Film(_Strict):
    item_id: str = Field(description="Liner Notes catalog id (stable for a given catalog).")
    title: str
    year: int | None
    external_ids: ExternalIds
    weight: float | None = Field(ge=0, le=1, description=(
        "How strongly it is held now, 0..1: 1 = said firmly in the latest turn; each later turn that does not "
        "repeat it multiplies it by the preference decay (0.9). null for films only marked as seen."))
    said_at: datetime | None = Field(description="When the visitor last said it (UTC), in chat or by a button.")


class Taste(_Strict):
    name: str = Field(description="The genre, person, mood, keyword or decade as the catalog names it.")
    polarity: Literal["like", "dislike"]
    weight: float = Field(ge=0, le=1, description="As Film.weight.")
    said_at: datetime | None = Field(description="When the visitor last said it (UTC).")


class Constraint(_Strict):
    """A limit the visitor set in this conversation ("something from the 90s", "nothing scary", "for the kids")."""

    field: str = Field(description=(
        "What it limits: year_min, year_max, include_genres, exclude_genres, moods, runtime_min, runtime_max "
        "(minutes), languages, exclude_languages (ISO 639-1), family (true = suitable for children)."))
    value: str | int | bool = Field(description="One value; a list-valued limit gives one Constraint per value.")
    weight: float = Field(ge=0, le=1, description=(
        "1 for a hard filter; for include_genres the share of the request it carries (1 = named outright or a "
        "mood's main genre, 0.5 = a mood's other genres)."))
    said_at: datetime = Field(description="When the visitor set it (UTC).")


class HandoffProfile(_Strict):
    """A Liner Notes visitor's profile, exported for another recommender to seed a new user from."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True,
                              title="Liner Notes profile hand-off")

    format: Literal["liner-notes-profile"] = FORMAT
    version: Literal[1] = VERSION
    exported_at: datetime
    liked_films: list[Film] = Field(description="Strongest first.")
    disliked_films: list[Film] = Field(description="Strongest first; never to be recommended to this person.")
    seen_films: list[Film] = Field(description="Films the visitor has seen (no verdict): do not recommend them.")
    genres: list[Taste]
    people: list[Taste] = Field(description="Directors, actors, writers, composers.")
    moods: list[Taste]
    keywords: list[Taste]
    decades: list[Taste] = Field(description="Names like \"1990s\".")
    novelty: Literal["familiar", "new"] | None = Field(description=(
        "Whether the visitor asked for well-known films or for ones they have not heard of; null = not said."))
    constraints: list[Constraint] = Field(description=(
        "Limits set in the visitor's current conversation (they are not kept across conversations)."))


class SaidConstraints:
    """When each constraint of a conversation was set: the session keeps the constraints themselves, not the
    times. `update` after every turn; a value said again keeps its first time."""

    def __init__(self) -> None:
        self._said: dict[tuple[str, Any], datetime] = {}

    def update(self, constraints: Constraints) -> None:
        now = datetime.now(timezone.utc)
        current = set(_constraint_values(constraints))
        self._said = {key: self._said.get(key, now) for key in current}

    def export(self, focus: dict[str, float]) -> list[Constraint]:
        """The constraints in force; `focus` is the session's genre weights of the latest request."""
        return [Constraint(field=name, value=value, said_at=said,
                           weight=focus.get(str(value), 1.0) if name == "include_genres" else 1.0)
                for (name, value), said in sorted(self._said.items(), key=lambda kv: (kv[1], kv[0][0]))]


def _constraint_values(constraints: Constraints) -> list[tuple[str, Any]]:
    values: list[tuple[str, Any]] = []
    for spec in fields(constraints):
        value = getattr(constraints, spec.name)
        if isinstance(value, list):
            values += [(spec.name, v) for v in value]
        elif value is not None:
            values.append((spec.name, value))
    return values


def handoff_profile(store: ProfileStore, catalog: Catalog, user_id: str, constraints: list[Constraint],
                    min_weight: float) -> HandoffProfile:
    """The visitor's stored profile in the hand-off format. Beliefs that decayed below `min_weight`
    (Settings.preference_min_weight) are left out, as the recommender leaves them out."""
    try:
        data = store.export(user_id)
    except UnknownUserError:  # nothing stored about them (yet, or any more): the empty profile is the answer
        data = {}
    profile = store.profile(user_id)
    turn_times = {row["id"]: _utc(row["created"]) for row in data.get("turns", [])}
    button_times: dict[tuple[str, str], datetime] = {}
    for row in data.get("feedback", []):
        button_times[(row["item_id"], row["kind"])] = _utc(row["created"])

    lists: dict[str, list[Any]] = {name: [] for name in ("liked_films", "disliked_films", *TASTE_KINDS.values())}
    rows = sorted((r for r in data.get("preferences", []) if r["weight"] >= min_weight),
                  key=lambda r: (-r["weight"], r["node_id"]))
    for row in rows:
        polarity = "like" if row["polarity"] > 0 else "dislike"
        said = turn_times.get(row["updated_turn"])
        item_id = item_id_of(row["node_id"])
        if item_id is not None:
            said = max(filter(None, (said, button_times.get((item_id, polarity)))), default=None)
            lists["liked_films" if polarity == "like" else "disliked_films"].append(
                _film(catalog, item_id, row["label"], round(row["weight"], 3), said))
        elif row["kind"] in TASTE_KINDS:
            lists[TASTE_KINDS[row["kind"]]].append(
                Taste(name=row["label"], polarity=polarity, weight=round(row["weight"], 3), said_at=said))
    seen = [_film(catalog, item_id, item_id, None, button_times.get((item_id, "seen")))
            for item_id in sorted(profile.seen)]
    return HandoffProfile(exported_at=datetime.now(timezone.utc), seen_films=seen, novelty=profile.novelty,
                          constraints=constraints, **lists)


def _film(catalog: Catalog, item_id: str, label: str, weight: float | None, said: datetime | None) -> Film:
    item = catalog.get(item_id)
    if item is None:  # the catalog changed since it was said: the stored label is all there is
        return Film(item_id=item_id, title=label, year=None, external_ids=ExternalIds(), weight=weight,
                    said_at=said)
    ids = {source: item.sources[source] for source in EXTERNAL_ID_SOURCES if item.sources.get(source)}
    return Film(item_id=item_id, title=item.title, year=item.year, external_ids=ExternalIds(**ids), weight=weight,
                said_at=said)


def _utc(value: str | datetime) -> datetime:
    # SQLite hands timestamps back without their zone; the store writes them in UTC.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the hand-off, as kept in schemas/profile.schema.json."""
    schema = HandoffProfile.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
