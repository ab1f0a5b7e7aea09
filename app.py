"""The browser UI of Liner Notes: chat, recommendation cards, the "why?" view and the profile panel.

UI only. Every decision is made by `conversation.session`; this file turns its typed replies into Gradio
components and sends the user's clicks back to it. Each browser session holds its own `ChatSession` in a
`gr.State`, so one visitor never sees another's data.
"""

from __future__ import annotations

import argparse
import functools
import html
import io
import json
import logging
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import matplotlib

matplotlib.use("Agg")  # server-side drawing, no display

import gradio as gr  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402

from conversation.reply import Card, Reply  # noqa: E402
from recommender.profile import Profile  # noqa: E402
from recommender.settings import Settings, load_settings  # noqa: E402

log = logging.getLogger("liner.app")

MORE_PICKS_MESSAGE = "Show me more picks"
"""What the "New picks" button says on the user's behalf."""
START_OVER_MESSAGE = "Start over"

RELATION_WORDS = {
    "directed_by": "directed by",
    "stars": "stars",
    "written_by": "written by",
    "composed_by": "music by",
    "has_genre": "genre",
    "has_keyword": "about",
    "from_decade": "from the",
}
KIND_COLOURS = {
    "source": "#1f6f8b",
    "target": "#b8572b",
    "person": "#6b8f3c",
    "genre": "#8a6bb1",
    "keyword": "#8c8c8c",
    "decade": "#b59a2f",
    "item": "#4a7fb5",
}
FEEDBACK_NOTES = {
    "like": "Liked. Your next picks will lean this way.",
    "dislike": "Not for you. It won't be shown again.",
    "seen": "Seen. It won't be suggested again.",
}

CSS = """
#liner-header h1 { margin: 0; font-size: 1.6rem; }
#liner-header p { margin: 0.2rem 0 0; color: var(--body-text-color-subdued); }
#chips { flex-wrap: wrap; gap: 0.4rem; }
#chips button.chip { flex: 0 0 auto; min-width: 0; width: auto; border-radius: 999px; }
#cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 0.6rem; }
.card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 0.6rem; }
.card-title { font-weight: 600; font-size: 1.05rem; }
.card-meta { color: var(--body-text-color-subdued); font-size: 0.85rem; }
.card-reason { margin-top: 0.4rem; }
.card-reason.pending { color: var(--body-text-color-subdued); font-style: italic; }
.card-mark { margin-top: 0.4rem; font-weight: 600; font-size: 0.85rem; }
.card-dimmed { opacity: 0.55; }
.card-actions { flex-wrap: wrap; gap: 0.3rem; }
.card-actions button { flex: 1 1 auto; min-width: 0; }
#why-panel { border: 2px solid var(--color-accent); border-radius: 10px; padding: 0.6rem; }
.why-graph svg { width: 100%; max-width: 640px; height: auto; }
.why-legend { font-size: 0.85rem; color: var(--body-text-color-subdued); }
.fit-yes li::marker { content: "+ "; }
.fit-no li::marker { content: "- "; }
.profile-section h4 { margin: 0.6rem 0 0.2rem; }
.profile-entry { align-items: center; gap: 0.3rem; flex-wrap: nowrap; }
.profile-entry .entry-label { flex: 1 1 auto; }
.profile-entry button { flex: 0 0 auto; min-width: 0; width: auto; }
.weight { color: var(--body-text-color-subdued); font-size: 0.85rem; margin-left: 0.3rem; }
.scale-ends { display: flex; justify-content: space-between; font-size: 0.85rem;
              color: var(--body-text-color-subdued); }
button:focus-visible, a:focus-visible, input:focus-visible, textarea:focus-visible {
    outline: 3px solid var(--color-accent); outline-offset: 2px; }
"""


def theme() -> gr.themes.Base:
    # System fonts only: the default web fonts would be fetched from the network, and emoji are avoided.
    return gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])


# --- view models: plain data kept in gr.State --------------------------------------------------------------
@dataclass
class ShownCards:
    """The cards on screen and what the user already said about each (item_id -> like|dislike|seen)."""

    cards: list[Card]
    marks: dict[str, str]


def profile_sections(profile: Profile | None, label_of) -> list[dict[str, Any]]:
    """The profile grouped for display: [{"title", "entries": [{"node_id", "label", "weight"}]}]."""
    if profile is None:
        return []

    def rows(entries) -> list[dict[str, Any]]:
        ordered = sorted(entries, key=lambda e: -e.weight)
        return [{"node_id": e.node_id, "label": e.label, "weight": round(e.weight, 2)} for e in ordered]

    liked = profile.liked()
    disliked_ids = {e.node_id for e in profile.disliked()}
    groups = [
        ("Titles you like", rows(e for e in liked if e.kind == "item")),
        ("People you like", rows(e for e in liked if e.kind == "person")),
        ("Genres you like", rows(e for e in liked if e.kind == "genre")),
        ("Moods", rows(e for e in liked if e.kind == "mood")),
        ("Other things you like", rows(e for e in liked if e.kind in {"keyword", "decade"})),
        ("Not for you", rows(profile.disliked()) + [
            {"node_id": f"item:{i}", "label": label_of(f"item:{i}"), "weight": None}
            for i in sorted(profile.rejected) if f"item:{i}" not in disliked_ids]),
        ("Seen", [{"node_id": f"item:{i}", "label": label_of(f"item:{i}"), "weight": None}
                  for i in sorted(profile.seen)]),
    ]
    return [{"title": title, "entries": entries} for title, entries in groups if entries]


def card_html(card: Card, mark: str | None) -> str:
    meta = " · ".join(part for part in (str(card.year) if card.year else "", ", ".join(card.genres[:3])) if part)
    if card.explanation:
        reason = f'<div class="card-reason">{html.escape(card.explanation)}</div>'
    else:
        reason = '<div class="card-reason pending">Writing a reason for you...</div>'
    note = f'<div class="card-mark" role="status">{FEEDBACK_NOTES[mark]}</div>' if mark else ""
    dim = " card-dimmed" if mark in {"dislike", "seen"} else ""
    return (f'<div class="card-inner{dim}" data-item-id="{html.escape(card.item_id)}">'
            f'<div class="card-title">{html.escape(card.title)}</div>'
            f'<div class="card-meta">{html.escape(meta)}</div>{reason}{note}</div>')


def wrap_label(text: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(text, width)[:3]) or text


def draw_paths_svg(paths, label_of, target: str) -> str:
    """A small left-to-right picture of the knowledge-graph paths, as inline SVG: the user's likes on the
    left, the recommended item on the right, the connecting people/genres/keywords in between."""
    graph = nx.Graph()
    positions: dict[str, tuple[float, float]] = {}
    edge_words: dict[tuple[str, str], str] = {}
    longest = max(len(p.nodes) for p in paths)
    for row, path in enumerate(paths):
        for step, node in enumerate(path.nodes):
            graph.add_node(node)
            # Right-align every path so they all end on the same target node.
            positions.setdefault(node, (float(longest - len(path.nodes) + step), -float(row)))
        for step, (a, b) in enumerate(zip(path.nodes, path.nodes[1:])):
            graph.add_edge(a, b)
            relation = path.relations[step] if step < len(path.relations) else ()
            names = (relation,) if isinstance(relation, str) else tuple(relation)
            edge_words[(a, b)] = ", ".join(RELATION_WORDS.get(n, n.replace("_", " ")) for n in names)
    if target in positions:
        positions[target] = (float(longest - 1), -(len(paths) - 1) / 2)
    sources = {p.nodes[0] for p in paths}
    colours = [KIND_COLOURS["target"] if n == target else KIND_COLOURS["source"] if n in sources
               else KIND_COLOURS.get(n.split(":", 1)[0], "#777777") for n in graph.nodes]
    ys = [y for _, y in positions.values()]
    rows = max(ys) - min(ys) + 1
    fig, ax = plt.subplots(figsize=(max(3.6, 1.9 * longest), 0.5 + 1.1 * rows), dpi=100)
    nx.draw_networkx_edges(graph, positions, ax=ax, edge_color="#999999", width=1.5)
    nx.draw_networkx_edge_labels(graph, positions, edge_labels=edge_words, ax=ax, font_size=8,
                                 font_color="#444444", rotate=False)
    nx.draw_networkx_nodes(graph, positions, ax=ax, node_color=colours, node_size=260)
    for node, (x, y) in positions.items():
        ax.text(x, y - 0.22, wrap_label(label_of(node)), ha="center", va="top", fontsize=10)
    ax.set_xlim(-0.6, longest - 0.4)
    ax.set_ylim(min(ys) - 0.75, max(ys) + 0.3)
    ax.axis("off")
    fig.tight_layout(pad=0.2)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", transparent=True)
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    description = "; ".join(" - ".join(label_of(n) for n in p.nodes) for p in paths)
    return svg.replace("<svg", f'<svg role="img" aria-label="{html.escape(description)}"', 1)


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def why_html(view, label_of) -> str:
    item = view.item
    parts = [f"<h3 id='why-title'>Why {html.escape(item.label)}</h3>"]
    if view.explanation is not None and view.explanation.text:
        parts.append(f"<p class='why-line'>{html.escape(view.explanation.text)}</p>")
    if view.paths:
        parts.append("<h4>How it connects to what you like</h4>")
        parts.append(f"<div class='why-graph'>{draw_paths_svg(view.paths, label_of, 'item:' + item.item_id)}</div>"
                     "<p class='why-legend'>Left, in blue: what you liked. Right, in orange: this pick. "
                     "In between: what they share.</p>")
    else:
        parts.append("<p class='why-graph-empty'>No path yet from your likes to this title: "
                     "like a title or two and the connections will show here.</p>")
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
    parts.append("<h4>Facts used</h4><ul class='why-facts'>"
                 + "".join(f"<li>{html.escape(f)}</li>" for f in facts) + "</ul>")
    parts.append("<h4>How you match</h4>")
    parts.append(f"<p class='fit-summary'>{_count(len(evidence.matches), 'thing')} in common with your tastes; "
                 f"{_count(len(evidence.cautions), 'possible mismatch', 'possible mismatches')}.</p>")
    if evidence.matches:
        parts.append("<ul class='fit-yes'>" + "".join(f"<li>{html.escape(m.describe())}</li>"
                                                       for m in evidence.matches) + "</ul>")
    else:
        parts.append("<p class='fit-yes-empty'>Nothing you told me matches directly yet.</p>")
    parts.append("<h4>What may not fit</h4>")
    if evidence.cautions:
        parts.append("<ul class='fit-no'>" + "".join(f"<li>{html.escape(c)}</li>"
                                                      for c in evidence.cautions) + "</ul>")
    else:
        parts.append("<p class='fit-no-empty'>Nothing I know of works against it.</p>")
    return "\n".join(parts)


# --- the app -----------------------------------------------------------------------------------------------
def build_app(assistant) -> gr.Blocks:
    """The whole UI over one process-wide `Assistant`."""
    settings: Settings = assistant.settings
    catalog = assistant.engine.catalog
    n_chips = max((len(q.chips) for q in assistant.onboarding.questions), default=0)
    n_cards = settings.cards

    def label_of(node_id: str) -> str:
        kind, _, key = node_id.partition(":")
        if kind == "item":
            item = catalog.get(key)
            return item.label if item is not None else key
        return key

    with gr.Blocks(title="Liner Notes") as demo:
        session_state = gr.State(None)
        shown_state = gr.State(ShownCards([], {}))
        profile_state = gr.State([])

        gr.HTML("<h1>Liner Notes</h1><p>Film picks, each with a short, honest reason.</p>",
                elem_id="liner-header")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                chat = gr.Chatbot(elem_id="chat", label="Conversation", show_label=False, height=340,
                                  feedback_options=None, buttons=[])
                with gr.Row(elem_id="chips"):
                    chips = [gr.Button("", visible=False, size="sm", elem_classes=["chip"],
                                       elem_id=f"chip-{i}") for i in range(n_chips)]
                with gr.Row():
                    message = gr.Textbox(placeholder="Tell me a film you liked, a mood, or ask for picks",
                                         show_label=False, scale=5, elem_id="message", max_lines=4,
                                         max_length=settings.max_message_chars)
                    send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="send")
                notes = gr.Markdown("", elem_id="notes")
                with gr.Column(elem_id="cards"):
                    slots = []
                    for i in range(n_cards):
                        with gr.Column(visible=False, elem_classes=["card"], elem_id=f"card-{i}") as box:
                            body = gr.HTML("", elem_classes=["card-body"])
                            with gr.Row(elem_classes=["card-actions"]):
                                buttons = {
                                    "like": gr.Button("Like", size="sm", elem_classes=["card-like"]),
                                    "dislike": gr.Button("Not for me", size="sm", elem_classes=["card-dislike"]),
                                    "seen": gr.Button("Seen it", size="sm", elem_classes=["card-seen"]),
                                    "why": gr.Button("Why?", size="sm", elem_classes=["card-why"]),
                                }
                        slots.append((box, body, buttons))
                more = gr.Button("New picks", elem_id="more-picks", visible=False)
                with gr.Column(visible=False, elem_id="why-panel") as why_panel:
                    why_body = gr.HTML("", elem_id="why-body")
                    why_close = gr.Button("Close", size="sm", elem_id="why-close")
            with gr.Column(scale=2, min_width=260, elem_id="side"):
                gr.Markdown("### What I believe about you")

                @gr.render(inputs=[profile_state])
                def render_profile(sections):
                    with gr.Column(elem_id="profile"):
                        if not sections:
                            gr.Markdown("Nothing yet: tell me a film you liked.", elem_id="profile-empty")
                        for section in sections:
                            with gr.Column(elem_classes=["profile-section"]):
                                gr.HTML(f"<h4>{html.escape(section['title'])}</h4>")
                                for entry in section["entries"]:
                                    weight = (f"<span class='weight'>weight {entry['weight']:.2f}</span>"
                                              if entry["weight"] is not None else "")
                                    with gr.Row(elem_classes=["profile-entry"]):
                                        gr.HTML(f"<span class='entry-label'>{html.escape(entry['label'])}</span>"
                                                f"{weight}", elem_classes=["entry-text"])
                                        remove = gr.Button("Remove", size="sm", elem_classes=["remove-entry"])
                                    remove.click(lambda s, node_id=entry["node_id"]: remove_entry(s, node_id),
                                                 inputs=[session_state], outputs=[profile_state])

                with gr.Group():
                    diversity = gr.Slider(0, 1, value=settings.diversity, step=0.1, label="Variety of picks",
                                          elem_id="diversity")
                    gr.HTML("<div class='scale-ends'><span>More of the same</span><span>Surprise me</span></div>")
                diversity_note = gr.Markdown("", elem_id="diversity-note")
                with gr.Row():
                    start_over = gr.Button("Start over", size="sm", elem_id="start-over")
                    export = gr.Button("Export my data", size="sm", elem_id="export")
                    forget = gr.Button("Forget me", size="sm", variant="stop", elem_id="forget")
                export_file = gr.File(label="Your data (JSON)", visible=False, elem_id="export-file",
                                      interactive=False)
                with gr.Group(visible=False, elem_id="forget-confirm") as forget_confirm:
                    gr.Markdown("This deletes everything stored about you. Continue?")
                    with gr.Row():
                        forget_yes = gr.Button("Yes, forget me", variant="stop", size="sm", elem_id="forget-yes")
                        forget_no = gr.Button("Cancel", size="sm", elem_id="forget-no")
                with gr.Row():
                    name = gr.Textbox(label="Your name (optional, to come back later)", elem_id="user-name",
                                      scale=3, max_lines=1)
                    use_name = gr.Button("Use name", size="sm", scale=1, min_width=90, elem_id="use-name")
                status = gr.Markdown("", elem_id="status")

        card_outputs = [c for box, body, _ in slots for c in (box, body)]
        view_outputs = [chat, *chips, *card_outputs, shown_state, profile_state, notes, more]

        def profile_updates(profile: Profile | None) -> dict:
            return {profile_state: profile_sections(profile, label_of)}

        def chip_updates(values: list[str]) -> dict:
            return {chip: gr.update(value=values[i] if i < len(values) else "", visible=i < len(values))
                    for i, chip in enumerate(chips)}

        def card_updates(shown: ShownCards) -> dict:
            out = {}
            for i, (box, body, _) in enumerate(slots):
                if i < len(shown.cards):
                    card = shown.cards[i]
                    out[box] = gr.update(visible=True)
                    out[body] = card_html(card, shown.marks.get(card.item_id))
                else:
                    out[box] = gr.update(visible=False)
                    out[body] = ""
            return out

        def show_reply(history: list, reply: Reply, shown: ShownCards) -> dict:
            """Everything a reply changes on screen."""
            if reply.action in {"recommend", "explain"} or reply.cards:
                shown = ShownCards(list(reply.cards), {})
            elif reply.action == "reset":
                shown = ShownCards([], {})
            out = {chat: history, shown_state: shown, notes: " ".join(reply.notes),
                   more: gr.update(visible=bool(shown.cards))}
            out.update(chip_updates(list(reply.chips)))
            out.update(card_updates(shown))
            if reply.profile is not None:
                out.update(profile_updates(reply.profile))
            return out

        def fresh_view(session) -> dict:
            greeting = session.greeting()
            history = [{"role": "assistant", "content": greeting.text}]
            out = show_reply(history, greeting, ShownCards([], {}))
            out.update(profile_updates(session.profile()))
            return out

        def start():
            session = assistant.session()
            return {session_state: session, **fresh_view(session)}

        def turn(text: str, session, history: list, shown: ShownCards) -> Iterator[dict]:
            text = (text or "").strip()
            if not text or session is None:
                yield {}
                return
            history = list(history) + [{"role": "user", "content": text},
                                       {"role": "assistant", "content": "Thinking..."}]
            yield {chat: history, message: "", **chip_updates([])}
            for reply in session.handle_stream(text):
                history[-1] = {"role": "assistant", "content": reply.text}
                out = show_reply(history, reply, shown)
                shown = out[shown_state]
                yield out

        def give_feedback(index: int, kind: str, session, shown: ShownCards) -> dict:
            if session is None or index >= len(shown.cards):
                return {}
            card = shown.cards[index]
            profile = session.feedback(card.item_id, kind)
            shown = ShownCards(shown.cards, {**shown.marks, card.item_id: kind})
            _, body, _ = slots[index]
            return {shown_state: shown, body: card_html(card, kind), **profile_updates(profile)}

        def open_why(index: int, session, shown: ShownCards) -> dict:
            if session is None or index >= len(shown.cards):
                return {}
            view = session.why(shown.cards[index].item_id)
            if view is None:
                return {why_panel: gr.update(visible=True),
                        why_body: "<p>I don't know that title well enough to explain it.</p>"}
            return {why_panel: gr.update(visible=True), why_body: why_html(view, label_of)}

        def remove_entry(session, node_id: str) -> dict:
            if session is None:
                return {}
            return profile_updates(session.remove(node_id))

        def set_diversity(value: float, session) -> str:
            if session is not None:
                session.diversity = float(value)
            return f"Variety set to {value:.1f}: applies to your next picks."

        def do_export(session) -> dict:
            if session is None:
                return {}
            folder = Path(tempfile.mkdtemp(prefix="liner-export-"))
            path = folder / "liner-notes-my-data.json"
            path.write_text(json.dumps(session.export(), ensure_ascii=False, indent=2, default=str),
                            encoding="utf-8")
            return {export_file: gr.update(value=str(path), visible=True),
                    status: "Your data is ready to download below."}

        def do_forget(session, user_name: str) -> dict:
            if session is not None:
                session.forget()
            # The forgotten user's rows are gone: carry on as a brand-new visitor.
            session = assistant.session((user_name or "").strip() or None)
            out = fresh_view(session)
            out.update({session_state: session, forget_confirm: gr.update(visible=False),
                        export_file: gr.update(value=None, visible=False), why_panel: gr.update(visible=False),
                        status: "Done: everything stored about you was deleted."})
            return out

        def switch_user(user_name: str) -> dict:
            session = assistant.session((user_name or "").strip() or None)
            out = fresh_view(session)
            out.update({session_state: session, why_panel: gr.update(visible=False),
                        status: f"Signed in as {user_name.strip()}." if user_name.strip() else "Anonymous session."})
            return out

        all_view = [*view_outputs, session_state, why_panel, forget_confirm, export_file, status]
        demo.load(start, outputs=[session_state, *view_outputs])
        turn_outputs = [*view_outputs, message]
        # Turns and "why?" views run the one in-process LLM: queue them together, one at a time.
        llm = {"concurrency_id": "llm", "concurrency_limit": 1}
        message.submit(turn, [message, session_state, chat, shown_state], turn_outputs, **llm)
        send.click(turn, [message, session_state, chat, shown_state], turn_outputs, **llm)
        for chip in chips:
            chip.click(turn, [chip, session_state, chat, shown_state], turn_outputs, **llm)
        more.click(functools.partial(turn, MORE_PICKS_MESSAGE), [session_state, chat, shown_state], turn_outputs,
                   **llm)
        start_over.click(functools.partial(turn, START_OVER_MESSAGE), [session_state, chat, shown_state],
                         turn_outputs, **llm).then(lambda: gr.update(visible=False), outputs=[why_panel])
        for index, (_, body, buttons) in enumerate(slots):
            for kind in ("like", "dislike", "seen"):
                buttons[kind].click(lambda s, c, i=index, k=kind: give_feedback(i, k, s, c),
                                    [session_state, shown_state], [shown_state, body, profile_state])
            buttons["why"].click(lambda s, c, i=index: open_why(i, s, c), [session_state, shown_state],
                                 [why_panel, why_body], **llm).then(
                None, js="() => { document.getElementById('why-panel')?.scrollIntoView({block: 'start'});"
                         " document.getElementById('why-close')?.focus({preventScroll: true}); }")
        why_close.click(lambda: gr.update(visible=False), outputs=[why_panel])
        diversity.release(set_diversity, [diversity, session_state], [diversity_note])
        export.click(do_export, [session_state], [export_file, status])
        forget.click(lambda: gr.update(visible=True), outputs=[forget_confirm]).then(
            None, js="() => document.getElementById('forget-no')?.focus()")
        forget_no.click(lambda: gr.update(visible=False), outputs=[forget_confirm])
        forget_yes.click(do_forget, [session_state, name], all_view)
        use_name.click(switch_user, [name], all_view)
        name.submit(switch_user, [name], all_view)
    return demo


def launch(demo: gr.Blocks, host: str, port: int, **kwargs: Any):
    """Serve the app with its theme and stylesheet (Gradio 6 takes both at launch time)."""
    return demo.launch(server_name=host, server_port=port, theme=theme(), css=CSS, show_error=True,
                       footer_links=[], **kwargs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Liner Notes in the browser.")
    parser.add_argument("--host", help="interface to listen on (setting: host)")
    parser.add_argument("--port", type=int, help="port to listen on (setting: port)")
    parser.add_argument("--set", action="append", metavar="FIELD=VALUE",
                        help="override any setting (see recommender/settings.py), e.g. --set cards=3")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    malformed = [item for item in args.set or [] if "=" not in item]
    if malformed:
        parser.error(f"--set expects FIELD=VALUE, got {', '.join(malformed)}")
    overrides: dict[str, Any] = dict(item.split("=", 1) for item in (args.set or []))
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = str(args.port)
    try:
        settings = load_settings(**overrides)
    except ValueError as exc:
        parser.error(str(exc))

    from conversation.session import Assistant

    log.info("loading the recommender (the first start builds embeddings, the index and the graph)")
    assistant = Assistant(settings)
    launch(build_app(assistant), settings.host, settings.port)


if __name__ == "__main__":
    main()
