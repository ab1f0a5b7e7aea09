"""Candidate fusion, filtering, diversification and the session's turn logic, on the real artefacts
(real FAISS, knowledge graph, co-occurrence, SQLite). LLM ranking and explanations are switched off here;
tests/test_conversation.py runs them through the real model."""

from __future__ import annotations

import pytest

from conversation.session import Assistant
from core.preferences import Constraints
from core.profile import Profile, ProfileEntry
from llm.text_model import LLMError
from recommender.candidates import CandidateGenerator, Query
from recommender.engine import RecommenderEngine
from store.profile_store import ProfileStore, StoreError

MATRIX, TITANIC, INCEPTION = "ml2571", "ml1721", "ml79132"


@pytest.fixture(scope="module")
def fast_settings(settings):
    return settings.with_overrides(llm_rank=False, explain=False)


@pytest.fixture(scope="module")
def generator(artifacts, fast_settings):
    return CandidateGenerator(artifacts, fast_settings)


@pytest.fixture
def fast_assistant(fast_settings, artifacts, tmp_path, fake_model):
    # A fake model, so that a test that reached for the LLM with ranking and explanations off would show it.
    engine = RecommenderEngine(fast_settings, artifacts=artifacts, llm=fake_model)
    return Assistant(fast_settings, engine=engine,
                     store=ProfileStore(f"sqlite:///{tmp_path / 'p.sqlite'}", fast_settings))


def test_with_ranking_and_explanations_off_no_turn_asks_the_model(fast_assistant, fake_model):
    session = fast_assistant.session("nomodel")
    for message in ("I loved Alien and Aliens", "recommend some science fiction please", "why the first one?",
                    "more like that"):
        session.handle(message, explain=False)
    assert fast_assistant.engine.llm is fake_model
    assert fake_model.prompts == [] and fake_model.scored == []


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
        # An unknown genre is not a mismatch (it is kept, ranked by the rest of its evidence); an unknown year is.
        assert c.item.year is not None and 1990 <= c.item.year <= 1999
        assert "Horror" not in c.item.genres


def test_impossible_genre_is_relaxed_rather_than_empty(generator, monkeypatch):
    calls: list[str] = []
    for source in ("_dense", "_kg", "_cooc", "_sequence"):
        original = getattr(generator, source)
        monkeypatch.setattr(generator, source, lambda *a, _s=source, _f=original: calls.append(_s) or _f(*a))
    query = Query(constraints=Constraints(include_genres=["No Such Genre"]))
    relaxed = generator.generate(likes(MATRIX), query)
    # Relaxed, not filled with the records whose genres the catalog does not know (they pass any genre).
    assert len(relaxed) >= 5 and sum(bool(c.item.genres) for c in relaxed[:5]) >= 3
    # Relaxing re-filters: the sources that do not depend on the genre ran once (and were timed once).
    assert sorted(calls) == ["_cooc", "_dense", "_kg", "_sequence"]


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


# --- session robustness (issue 7) ------------------------------------------------------------------------------
def test_recommend_turns_are_stored_with_their_reply_text(fast_assistant):
    session = fast_assistant.session()
    reply = session.handle("I loved The Matrix")
    assert reply.action == "recommend" and reply.cards
    (turn,) = fast_assistant.store.export(session.user_id)["turns"]
    assert turn["action"] == "recommend" and turn["reply_text"] == reply.text and reply.text


def test_a_failing_store_keeps_the_chat_alive(fast_assistant, monkeypatch):
    session = fast_assistant.session()
    session.handle("I loved The Matrix")

    def full(*args, **kwargs):
        raise StoreError("database or disk is full: free space under LINER_HOME")

    monkeypatch.setattr(fast_assistant.store, "record_turn", full)
    monkeypatch.setattr(fast_assistant.store, "record_shown", full)
    reply = session.handle("I also loved Inception")
    assert reply.action == "recommend" and len(reply.cards) == 5
    assert any("couldn't save this turn" in note for note in reply.notes)
    assert INCEPTION not in {c.item_id for c in reply.cards}
    monkeypatch.setattr(fast_assistant.store, "profile", full)
    again = session.handle("something funny")
    assert again.cards and any("couldn't save" in note for note in again.notes)


def test_a_failing_llm_leaves_the_fusion_order(fast_settings, artifacts, fake_model):
    ranked_settings = fast_settings.with_overrides(llm_rank=True, rank_weight=0.5)
    plain = RecommenderEngine(fast_settings, artifacts=artifacts).recommend(likes(MATRIX), Query(), 5)
    fake_model.error = LLMError("LLM server http://127.0.0.1:9 refused the connection")
    engine = RecommenderEngine(ranked_settings, artifacts=artifacts, llm=fake_model)
    ranked = engine.recommend(likes(MATRIX), Query(), 5)
    assert [c.item.item_id for c in ranked.candidates] == [c.item.item_id for c in plain.candidates]


# --- shown cards, focus and family at the candidate level ---------------------------------------------------------
def test_family_constraint_filters_horror_and_adult_items(generator, catalog):
    conjuring = catalog.find_title("The Conjuring", 2013)
    assert conjuring is not None
    query = Query(constraints=Constraints(include_genres=["Comedy"], family=True), focus_genres={"Comedy": 1.0})
    candidates = generator.generate(likes(conjuring.item_id), query)[:20]
    rules = generator.family
    assert candidates and all(rules.suitable(c.item) for c in candidates)
    assert sum(bool({"Family", "Animation"} & set(c.item.genres)) for c in candidates[:5]) == 5


def test_focus_genres_lead_the_ranking(generator):
    plain = generator.generate(likes(MATRIX), Query())[:10]
    focused = generator.generate(likes(MATRIX), Query(focus_genres={"Comedy": 1.0}))[:10]
    assert sum("Comedy" in c.item.genres for c in focused) > sum("Comedy" in c.item.genres for c in plain)


# --- learned ranker --------------------------------------------------------------------------------------------
def test_shipped_ranker_matches_the_features_and_bad_files_name_the_fix(fast_settings, tmp_path):
    from recommender.learned_ranker import LearnedRanker, RankerError
    from recommender.ranker_features import FEATURES

    assert tuple(LearnedRanker.load(fast_settings.ranker_path).booster.feature_name()) == FEATURES
    with pytest.raises(RankerError, match="liner train-ranker"):
        LearnedRanker.load(tmp_path / "missing.txt")
    broken = tmp_path / "broken.txt"
    broken.write_text("not a model")
    with pytest.raises(RankerError, match="liner train-ranker"):
        LearnedRanker.load(broken)


def test_learned_ranker_keeps_the_turn_factors(fast_settings, artifacts):
    # "something lighter, funny please": the mood's genres filter, its main genre (Comedy) is the focus.
    engine = RecommenderEngine(fast_settings.with_overrides(learned_ranker=True), artifacts=artifacts)
    light = Constraints(include_genres=["Comedy", "Family", "Animation", "Romance"])
    plain = engine.recommend(likes(MATRIX), Query(constraints=light), 10)
    focused = engine.recommend(likes(MATRIX), Query(constraints=light, focus_genres={"Comedy": 1.0}), 10)
    comedies = [sum("Comedy" in c.item.genres for c in r.candidates[:5]) for r in (plain, focused)]
    assert comedies[1] >= 3 and comedies[1] > comedies[0], comedies
    assert "learned_rank" in focused.times.ms
