"""Candidate fusion, filtering, diversification and the session's turn logic, on the real artefacts
(real FAISS, knowledge graph, co-occurrence, SQLite). LLM ranking and explanations are switched off here;
tests/test_conversation.py runs them through the real model."""

from __future__ import annotations

import pytest

from conversation.session import Assistant
from conversation.signals import Constraints
from recommender.candidates import CandidateGenerator, Query
from recommender.engine import RecommenderEngine
from recommender.profile import Profile, ProfileEntry
from recommender.store import ProfileStore, StoreError

MATRIX, TITANIC, INCEPTION = "ml2571", "ml1721", "ml79132"


@pytest.fixture(scope="module")
def fast_settings(settings):
    return settings.with_overrides(llm_rank=False, explain=False)


@pytest.fixture(scope="module")
def generator(artifacts, fast_settings):
    return CandidateGenerator(artifacts, fast_settings)


@pytest.fixture
def fast_assistant(fast_settings, artifacts, tmp_path):
    engine = RecommenderEngine(fast_settings, artifacts=artifacts)
    return Assistant(fast_settings, engine=engine,
                     store=ProfileStore(f"sqlite:///{tmp_path / 'p.sqlite'}", fast_settings))


def likes(*item_ids: str) -> Profile:
    return Profile("u", [ProfileEntry(f"item:{i}", "item", i, +1, 1.0) for i in item_ids])


def test_liked_sci_fi_brings_sci_fi_and_never_the_liked_item(generator, catalog):
    candidates = generator.generate(likes(MATRIX), Query())
    top = [c.item for c in candidates[:10]]
    assert MATRIX not in {i.item_id for i in top}
    assert sum("Science Fiction" in i.genres for i in top) >= 6, [i.label for i in top]
    assert all(len(c.ranks) >= 1 for c in candidates[:10])


def test_rejected_seen_and_excluded_items_are_filtered(generator):
    first = generator.generate(likes(MATRIX), Query())[:3]
    ids = [c.item.item_id for c in first]
    profile = likes(MATRIX)
    profile.rejected.add(ids[0])
    profile.seen.add(ids[1])
    again = {c.item.item_id for c in generator.generate(profile, Query(exclude={ids[2]}))}
    assert not set(ids) & again


def test_year_and_genre_constraints_hold(generator):
    query = Query(constraints=Constraints(year_min=1990, year_max=1999, exclude_genres=["Horror"]))
    candidates = generator.generate(likes(MATRIX), query)
    assert candidates
    for c in candidates:
        # An unknown year or genre is not a mismatch (it is kept, ranked by the rest of its evidence).
        assert c.item.year is None or 1990 <= c.item.year <= 1999
        assert "Horror" not in c.item.genres


def test_impossible_genre_is_relaxed_rather_than_empty(generator):
    query = Query(constraints=Constraints(include_genres=["No Such Genre"]))
    assert len(generator.generate(likes(MATRIX), query)) >= 5


def test_disliked_genre_pushes_it_down(generator):
    base = generator.generate(likes(INCEPTION), Query())[:20]
    profile = likes(INCEPTION)
    profile.entries.append(ProfileEntry("genre:Thriller", "genre", "Thriller", -1, 1.0))
    penalized = generator.generate(profile, Query())[:20]
    assert sum("Thriller" in c.item.genres for c in penalized) < sum("Thriller" in c.item.genres for c in base)


def _mean_similarity(artifacts, candidates) -> float:
    rows = [artifacts.catalog.index_of[c.item.item_id] for c in candidates]
    vectors = artifacts.item_vectors[rows]
    sims = vectors @ vectors.T
    return float((sims.sum() - len(rows)) / (len(rows) * (len(rows) - 1)))


def test_surprise_me_gives_more_varied_cards(generator, artifacts):
    candidates = generator.generate(likes(MATRIX, INCEPTION), Query())
    same = generator.diversify(candidates, 5, diversity=0.0)
    varied = generator.diversify(candidates, 5, diversity=0.9)
    assert len({c.item.item_id for c in varied}) == 5
    assert [c.item.item_id for c in same] == [c.item.item_id for c in candidates[:5]]
    assert _mean_similarity(artifacts, varied) < _mean_similarity(artifacts, same)


def test_cold_start_gives_cards_after_at_most_two_answers(fast_assistant):
    session = fast_assistant.session()
    greeting = session.greeting()
    assert greeting.action == "ask" and greeting.chips
    first = session.handle("hmm, not sure")
    assert first.action == "ask" and first.chips
    second = session.handle("no idea really")
    assert second.action == "recommend" and len(second.cards) == 5


def test_a_quick_pick_title_is_enough_for_cards(fast_assistant):
    session = fast_assistant.session()
    chip = session.greeting().chips[0]
    reply = session.handle(chip)
    assert reply.action == "recommend" and len(reply.cards) == 5
    assert any(e.kind == "item" for e in reply.profile.liked())


def test_more_like_why_feedback_and_reset(fast_assistant):
    session = fast_assistant.session()
    more = session.handle("more like The Matrix")
    assert more.action == "recommend"
    top = more.cards[0]
    bare_why = session.handle("why?")
    assert bare_why.action == "explain" and bare_why.cards[0].item_id == top.item_id
    why = session.handle(f"why {top.title}?")
    assert why.action == "explain" and why.cards[0].item_id == top.item_id
    assert why.cards[0].grounded and why.cards[0].explanation
    session.feedback(top.item_id, "dislike")
    after = session.handle("show me more")
    assert top.item_id not in {c.item_id for c in after.cards}
    reset = session.handle("start over")
    assert reset.action == "reset" and reset.profile.is_empty


def test_forget_deletes_the_user_and_continues_fresh(fast_assistant):
    session = fast_assistant.session(user_name="carol")
    session.handle("I loved Titanic")
    old_user = session.user_id
    session.forget()
    assert session.user_id != old_user
    with pytest.raises(StoreError):
        fast_assistant.store.export(old_user)
    assert session.profile().is_empty
    assert session.handle("I loved Inception").action == "recommend"


def test_users_are_isolated(fast_assistant):
    alice, bob = fast_assistant.session(), fast_assistant.session()
    alice.handle("I loved Titanic")
    assert bob.profile().is_empty
    assert any("Titanic" in e.label for e in alice.profile().liked())
