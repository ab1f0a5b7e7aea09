"""The "why?" view's picture: knowledge-graph paths from the user's likes to a pick, drawn as inline SVG."""

from __future__ import annotations

import io
import textwrap
from typing import Callable, Sequence

import networkx as nx
from markupsafe import escape
from matplotlib.figure import Figure

from core.ids import NodeId
from core.vocabulary import Relation
from knowledge_graph.paths import EvidencePath

KIND_COLOURS = {
    "source": "#1f6f8b",
    "target": "#b8572b",
    "person": "#6b8f3c",
    "genre": "#8a6bb1",
    "keyword": "#8c8c8c",
    "decade": "#b59a2f",
    "series": "#2f8f83",
    "item": "#4a7fb5",
}


def _wrap_label(text: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(text, width)[:3]) or text


def _edge_words(relations: Sequence[str]) -> str:
    known = {r.value for r in Relation}
    return ", ".join(Relation(n).phrase if n in known else n.replace("_", " ") for n in relations)


def draw_paths_svg(paths: Sequence[EvidencePath], label_of: Callable[[str], str], target: str) -> str:
    """A small left-to-right picture of the paths: the user's likes on the left, the recommended item on the
    right, the connecting people/genres/keywords in between. Carries an aria-label reading the paths out."""
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
            edge_words[(a, b)] = _edge_words((relation,) if isinstance(relation, str) else tuple(relation))
    if target in positions:
        positions[target] = (float(longest - 1), -(len(paths) - 1) / 2)
    sources = {p.nodes[0] for p in paths}
    colours = [KIND_COLOURS["target"] if n == target else KIND_COLOURS["source"] if n in sources
               else KIND_COLOURS.get(NodeId.parse(n).kind, "#777777") for n in graph.nodes]
    ys = [y for _, y in positions.values()]
    rows = max(ys) - min(ys) + 1
    # A Figure of its own, not pyplot: pyplot's global state is not safe across the app's worker threads.
    fig = Figure(figsize=(max(3.6, 1.9 * longest), 0.5 + 1.1 * rows), dpi=100)
    ax = fig.subplots()
    nx.draw_networkx_edges(graph, positions, ax=ax, edge_color="#999999", width=1.5)
    nx.draw_networkx_edge_labels(graph, positions, edge_labels=edge_words, ax=ax, font_size=8,
                                 font_color="#444444", rotate=False)
    nx.draw_networkx_nodes(graph, positions, ax=ax, node_color=colours, node_size=260)
    for node, (x, y) in positions.items():
        ax.text(x, y - 0.22, _wrap_label(label_of(node)), ha="center", va="top", fontsize=10)
    ax.set_xlim(-0.6, longest - 0.4)
    ax.set_ylim(min(ys) - 0.75, max(ys) + 0.3)
    ax.axis("off")
    fig.tight_layout(pad=0.2)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", transparent=True)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    description = "; ".join(" - ".join(label_of(n) for n in p.nodes) for p in paths)
    return svg.replace("<svg", f'<svg role="img" aria-label="{escape(description)}"', 1)
