"""Questions about films, references to the cards, and the runtime / language / recency constraints: the reading
rules on their own (a tiny fake linker, pure logic), then whole conversations through `liner chat --json` over
the real catalog, graph and store, the expected facts read from the catalog itself."""

from __future__ import annotations

import pytest

from conversation.nlu import understand
from conversation.questions import QuestionKind
from conversation.references import ShownFilm
from conversation.signals import Intent
from core.settings import REPO_ROOT, Settings
from recommender.audience import load_family_rules
from fake_linker import exact_linker
from test_conversation import run_chat

SETTINGS = Settings()

_FAKE = {
    "Arrival": ("item:arrival", "item", "Arrival (2016)"),
    "Heat": ("item:heat", "item", "Heat (1995)"),
    "The Town": ("item:town", "item", "The Town (2010)"),
    "Christopher Nolan": ("person:Christopher Nolan", "person", "Christopher Nolan"),
    "Nolan": ("person:Christopher Nolan", "person", "Christopher Nolan"),
    "French": ("keyword:french", "keyword", "french"),
}

SHOWN = [ShownFilm("inception", "Inception (2010)", "Inception", ("Christopher Nolan", "Leonardo DiCaprio")),
         ShownFilm("heat", "Heat (1995)", "Heat", ("Michael Mann", "Al Pacino")),
         ShownFilm("interstellar", "Interstellar (2014)", "Interstellar", ("Christopher Nolan",)),
         ShownFilm("alien", "Alien (1979)", "Alien", ("Ridley Scott", "Sigourney Weaver")),
         ShownFilm("up", "Up (2009)", "Up", ("Pete Docter",))]


fake_link = exact_linker(_FAKE)


def read(message: str, **context):
    return understand(message, fake_link, SETTINGS, **context)


@pytest.mark.parametrize("message, kind, items", [
    ("Who directed Arrival?", QuestionKind.DIRECTOR, ("arrival",)),
    ("who wrote Heat", QuestionKind.WRITER, ("heat",)),
    ("who did the music for Arrival?", QuestionKind.COMPOSER, ("arrival",)),
    ("Who is in Heat?", QuestionKind.CAST, ("heat",)),
    ("What is Arrival about?", QuestionKind.PLOT, ("arrival",)),
    ("when did Heat come out?", QuestionKind.YEAR, ("heat",)),
    ("How long is Arrival?", QuestionKind.RUNTIME, ("arrival",)),
    ("what genre is Heat?", QuestionKind.GENRES, ("heat",)),
    ("Is Arrival ok for kids?", QuestionKind.FAMILY, ("arrival",)),
    ("is Heat part of a series?", QuestionKind.SERIES, ("heat",)),
    ("what comes after Heat?", QuestionKind.SERIES, ("heat",)),
    ("Is Heat like The Town?", QuestionKind.SIMILAR, ("heat", "town")),
    ("tell me more about Arrival", QuestionKind.OVERVIEW, ("arrival",)),
])
def test_question_kinds_state_no_taste(message, kind, items):
    signals = read(message)
    assert signals.intent == Intent.QUESTION, signals
    assert signals.question.kind == kind and signals.question.items == items
    assert signals.preferences == [] and signals.seen == [] and signals.constraints.is_empty


def test_filmography_and_what_is_not_a_question():
    question = read("What else did Christopher Nolan make?").question
    assert question.kind == QuestionKind.FILMOGRAPHY and question.person[1] == "Christopher Nolan"
    for message in ("I loved Arrival", "what else?", "any good love story?", "I liked the story of Heat",
                    "more like Arrival", "why Arrival?"):
        assert read(message, last_item=("heat", "Heat (1995)")).intent != Intent.QUESTION, message


def test_pronouns_and_bare_questions_mean_the_film_last_talked_about():
    last = ("heat", "Heat (1995)")
    assert read("how long is it?", last_item=last).question.items == ("heat",)
    assert read("who directed?", last_item=last).question.items == ("heat",)
    assert read("is it like Arrival?", last_item=last).question.items == ("heat", "arrival")
    nothing = read("who directed it?")
    assert nothing.intent == Intent.CLARIFY and "Which film" in nothing.clarify


@pytest.mark.parametrize("message, items", [
    ("who directed the second one?", ["heat"]),
    ("tell me more about the third", ["interstellar"]),
    ("what is the last pick about?", ["up"]),
    ("how long is number 4?", ["alien"]),
    ("who is in the Ridley Scott one?", ["alien"]),
    ("how long is the Pacino movie?", ["heat"]),
    ("who directed interstellar?", ["interstellar"]),
])
def test_references_to_the_cards(message, items):
    signals = read(message, shown=SHOWN)
    assert signals.intent == Intent.QUESTION, signals
    assert list(signals.question.items) == items


def test_seen_and_liked_through_references():
    seen = read("I've seen the first two", shown=SHOWN)
    assert seen.seen == ["inception", "heat"]
    liked = read("I loved the last one", shown=SHOWN)
    assert [p.node_id for p in liked.preferences if p.polarity > 0] == ["item:up"]
    why = read("why the third?", shown=SHOWN)
    assert why.intent == Intent.WHY and why.target_item == "interstellar"


def test_ambiguous_or_missing_references_get_a_question():
    both = read("who wrote the Nolan one?", shown=SHOWN, last_item=("heat", "Heat (1995)"))
    assert both.intent == Intent.CLARIFY and "Inception" in both.clarify and "Interstellar" in both.clarify
    assert both.clarify_options == ["inception", "interstellar"]
    beyond = read("tell me about number 7", shown=SHOWN)
    assert beyond.intent == Intent.CLARIFY and "5" in beyond.clarify
    # Not references: an ordinal that is about something else, and no cards to point at.
    assert read("the first time I saw Heat I loved it", shown=SHOWN).intent != Intent.CLARIFY
    assert read("I loved the second one").preferences == []


@pytest.mark.parametrize("message, low, high", [
    ("something short and funny", None, 100),
    ("a film under two hours", None, 120),
    ("not too long please", None, 120),
    ("something 90 minutes or less", None, 90),
    ("I want a long epic", 150, None),
    ("nothing shorter than 2.5 hours", 150, None),
])
def test_runtime_constraints(message, low, high):
    constraints = read(message).constraints
    assert (constraints.runtime_min, constraints.runtime_max) == (low, high)


@pytest.mark.parametrize("message, languages, excluded", [
    ("a good French film", ["fr"], []),
    ("something Korean", ["ko"], []),
    ("a foreign-language film", [], ["en"]),
    ("something with subtitles", [], ["en"]),
    ("a foreign film in Japanese", ["ja"], []),
    ("I love French fries and Heat", [], []),
])
def test_language_constraints(message, languages, excluded):
    signals = read(message)
    assert signals.constraints.languages == languages
    assert signals.constraints.exclude_languages == excluded
    if languages:  # "French" asked for a language, not for the keyword
        assert not any(p.kind == "keyword" for p in signals.preferences)


def test_recent_counts_back_from_the_newest_film():
    for message in ("something from the last few years", "something released recently", "new releases please"):
        assert read(message, newest_year=2025).constraints.year_min == 2025 - SETTINGS.recent_years + 1, message


# --- through `liner chat --json` over the real catalog --------------------------------------------------------
def _item(catalog, title: str, year: int | None = None):
    matches = [i for i in catalog if i.title == title and (year is None or i.year == year)]
    return max(matches, key=lambda i: i.popularity)


def _state(reply: dict) -> tuple:
    profile = reply["profile"]
    return ([e["node_id"] for e in profile["liked"]], [e["node_id"] for e in profile["disliked"]],
            profile["seen"], profile["rejected"])


def _facts_of(reply: dict, item) -> None:
    assert [c["item_id"] for c in reply["cards"]][:1] == [item.item_id], reply


def test_questions_answer_from_the_catalog_and_change_nothing(cli_env, tmp_path, catalog):
    env = dict(cli_env, LINER_EXPLAIN="false")
    arrival, toy_story = _item(catalog, "Arrival", 2016), _item(catalog, "Toy Story", 1995)
    dark_knight, inception = _item(catalog, "The Dark Knight", 2008), _item(catalog, "Inception", 2010)
    replies = run_chat([
        "I loved Heat",
        "Who directed Arrival?",
        "who is in it?",
        "what is it about?",
        "when did it come out?",
        "how long is it?",
        "what genre is it?",
        "who wrote it?",
        "who did the music for it?",
        "Is Toy Story ok for kids?",
        "what comes after Toy Story?",
        "is The Dark Knight like Inception?",
        "What else did Christopher Nolan make?",
    ], env, f"sqlite:///{tmp_path / 'q.sqlite'}")
    liked, director, cast, plot, year, runtime, genres, writer, composer, kids, after, like, nolan = replies
    assert liked["action"] == "recommend"
    for reply in replies[1:]:
        assert reply["action"] == "answer", reply
        assert _state(reply) == _state(liked), "a question changed the profile"
    for reply in (director, cast, plot, year, runtime, genres, writer, composer):
        _facts_of(reply, arrival)
    assert "Noted" not in director["text"]
    assert director["text"] == f"Arrival was directed by {arrival.people['director'][0]}."
    assert arrival.people["star"][0] in cast["text"]
    assert arrival.description.split(".")[0] in plot["text"]
    assert str(arrival.year) in year["text"]
    if arrival.runtime:
        assert f"{arrival.runtime} minutes" in runtime["text"]
    else:
        assert runtime["text"] == "I don't know the runtime of Arrival."
    assert all(g.lower() in genres["text"] for g in arrival.genres)
    for reply, role, unknown in ((writer, "writer", "I don't know who wrote Arrival."),
                                 (composer, "composer", "I don't know who wrote the music for Arrival.")):
        names = arrival.people.get(role, ())
        assert all(n in reply["text"] for n in names) if names else reply["text"] == unknown

    _facts_of(kids, toy_story)
    assert load_family_rules(REPO_ROOT / "assets").suitable(toy_story) and "fine for children" in kids["text"]
    sequel = [c for c in after["cards"] if c["item_id"] != toy_story.item_id]
    assert sequel and sequel[0]["title"] == "Toy Story 2" and "Toy Story 2" in after["text"]
    assert [c["item_id"] for c in like["cards"]] == [dark_knight.item_id, inception.item_id]
    assert "Christopher Nolan directed both" in like["text"]
    assert nolan["cards"] and all("Christopher Nolan" in catalog.get(c["item_id"]).people.get("director", ())
                                  for c in nolan["cards"])


def test_missing_facts_and_unrelated_films_are_said_plainly(cli_env, tmp_path, catalog):
    env = dict(cli_env, LINER_EXPLAIN="false")
    known = [i for i in catalog if i.popularity > 0.6 and ":" not in i.title and i.year]
    no_runtime = max((i for i in known if i.runtime is None), key=lambda i: i.popularity, default=None)
    no_writer = max((i for i in known if not i.people.get("writer")), key=lambda i: i.popularity)
    toy_story, exorcist = _item(catalog, "Toy Story", 1995), _item(catalog, "The Exorcist", 1973)
    messages = [f"who wrote {no_writer.title} ({no_writer.year})?", "is Toy Story like The Exorcist?",
                "is The Exorcist ok for kids?"]
    if no_runtime is not None:
        messages.append(f"how long is {no_runtime.title} ({no_runtime.year})?")
    replies = run_chat(messages, env, f"sqlite:///{tmp_path / 'm.sqlite'}")
    assert replies[0]["text"] == f"I don't know who wrote {no_writer.title}."
    assert replies[0]["cards"][0]["item_id"] == no_writer.item_id
    assert [c["item_id"] for c in replies[1]["cards"]] == [toy_story.item_id, exorcist.item_id]
    assert "share little" in replies[1]["text"]
    assert "not one for children" in replies[2]["text"]
    if no_runtime is not None:
        assert replies[3]["text"] == f"I don't know the runtime of {no_runtime.title}."


def test_references_follow_the_cards(cli_env, tmp_path, catalog):
    env = dict(cli_env, LINER_EXPLAIN="false")
    first = run_chat(["I loved The Dark Knight and Heat"], env, f"sqlite:///{tmp_path / 'r1.sqlite'}")[0]
    cards = [catalog.get(c["item_id"]) for c in first["cards"]]
    assert len(cards) == 5
    named = next((card, surname) for card, surname in _surnames(cards) if len(surname) >= 4)
    # `liner chat` starts a new session per run: the same first message gives the same cards.
    replies = run_chat(["I loved The Dark Knight and Heat", "who directed the second one?",
                        "tell me more about the third", "what is it about?", f"who is in the {named[1]} one?",
                        "when did the last pick come out?", "how long is number 7?",
                        f"how long is {cards[3].title.lower()}?", "I've seen the first two"],
                       env, f"sqlite:///{tmp_path / 'r2.sqlite'}")
    picks, second, third, about, by_name, last, beyond, by_title, seen = replies
    assert [c["item_id"] for c in picks["cards"]] == [c.item_id for c in cards]
    _facts_of(by_title, cards[3])
    _facts_of(second, cards[1])
    _facts_of(third, cards[2])
    assert str(cards[2].year) in third["text"]
    _facts_of(about, cards[2])  # "it": the film last talked about
    _facts_of(by_name, named[0])
    _facts_of(last, cards[4])
    assert beyond["action"] == "clarify" and "5" in beyond["text"]
    assert seen["action"] == "recommend"
    assert {cards[0].item_id, cards[1].item_id} <= set(seen["profile"]["seen"])
    assert _state(third)[:2] == _state(picks)[:2]


def _surnames(cards) -> list[tuple[object, str]]:
    """(card, surname) for each surname of a person on exactly one of the cards."""
    surnames = [(card, name.split()[-1]) for card in cards for _, name in card.all_people()]
    return [(card, surname) for card, surname in surnames if surname.isalpha()
            and len({c.item_id for c, s in surnames if s == surname}) == 1]


@pytest.mark.llm
def test_a_question_after_explained_cards_with_the_real_model(cli_env, tmp_path, catalog):
    replies = run_chat(["I loved Alien", "who directed the first one?"], cli_env,
                       f"sqlite:///{tmp_path / 'llm.sqlite'}")
    picks, answer = replies
    explained = [card for card in picks["cards"] if card["explanation"]]
    assert len(explained) >= 3 and all(card["grounded"] for card in explained), picks["cards"]
    assert any(card["explanation_source"] in {"rerank", "cache"} for card in explained)
    first = catalog.get(picks["cards"][0]["item_id"])
    assert answer["action"] == "answer" and answer["cards"][0]["item_id"] == first.item_id
    directors = first.people.get("director", ())
    assert all(d in answer["text"] for d in directors) if directors else "don't know" in answer["text"]
