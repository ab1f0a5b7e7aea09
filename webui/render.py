"""HTML for the page's pieces, from Jinja2 templates (webui/templates/) with autoescaping: every title, name and
line from the catalog or the user is escaped; only the knowledge-graph picture, drawn here, goes in as markup."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from conversation.reply import Card
from core.ids import item_node
from recommender.engine import WhyView
from webui.views import FEEDBACK_NOTES, CardView, ProfileRow
from webui.why_graph import draw_paths_svg

_MARKDOWN = re.compile(r"[\\`*_{}\[\]()#+!|<>~-]")
TEMPLATES = Path(__file__).resolve().parent / "templates"

_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, keep_trailing_newline=False)


def _render(name: str, **values) -> str:
    return _ENV.get_template(name).render(**values).strip()


def header_html() -> str:
    return _render("header.html")


def card_html(card: CardView) -> str:
    return _render("card.html", card=card, feedback_notes=FEEDBACK_NOTES)


def answer_cards_markdown(cards: list[Card]) -> str:
    """The films an answer talks about as chat lines: "**Arrival** (2016) · Science Fiction, Drama". Markdown
    characters in a title are escaped: the chat renders Markdown."""
    lines = []
    for card in cards:
        year = f" ({card.year})" if card.year else ""
        genres = f" · {', '.join(card.genres)}" if card.genres else ""
        title = _MARKDOWN.sub(r"\\\g<0>", card.title)
        lines.append(f"🎬 **{title}**{year}{genres}")
    return "\n".join(lines)


def section_title_html(title: str) -> str:
    return _render("section_title.html", title=title)


def profile_row_html(row: ProfileRow) -> str:
    return _render("profile_entry.html", entry=row)


def why_html(view: WhyView | None, line: str, label_of: Callable[[str], str]) -> str:
    """The "why?" panel: the reason, the knowledge-graph picture, the facts used and how the pick fits."""
    if view is None:
        return _render("why_unknown.html")
    evidence = view.evidence
    facts = [f"Released in {evidence.year}"] if evidence.year else []
    for words, values in (("Genres", evidence.genres), ("Directed by", evidence.directors),
                          ("Starring", evidence.stars), ("Written by", evidence.writers),
                          ("Music by", evidence.composers), ("About", evidence.keywords)):
        if values:
            facts.append(f"{words}: " + ", ".join(values))
    if evidence.overview:
        facts.append(evidence.overview)
    facts += view.path_texts
    svg = Markup(draw_paths_svg(view.paths, label_of, item_node(view.item.item_id))) if view.paths else ""
    return _render("why.html", item=view.item, evidence=evidence, line=line, graph_svg=svg, facts=facts,
                   matches=[m.describe() for m in evidence.matches], cautions=list(evidence.cautions))
