"""The page: Gradio components, and the wiring from each event to its handler in webui.handlers.

Each wiring function here only adapts: Gradio inputs in, `Changes` out through `Page.apply`. Turns run beside
each other (Settings.app_concurrency); only the LLM is one at a time, behind webui.reasons.ReasonWriter, so a
visitor's cards never wait for anyone's reasons.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from gradio.http_server import Server

from webui import handlers
from webui.api import API_PATH, DOCS_PATH
from webui.handlers import MORE_PICKS_MESSAGE, START_OVER_MESSAGE, WebApp
from webui.render import card_html, header_html, profile_row_html, section_title_html
from webui.views import FEEDBACK_KINDS, Changes, ProfileSection
from webui.visitor import Visitor

log = logging.getLogger(__name__)

IDENTITY_KEY = "liner-notes-identity"
"""Local-storage key of the browser's identity token."""
IDENTITY_CIPHER_KEY = "liner-notes-identity-v1"
"""Gradio's key for scrambling the stored value. Gradio sends it to the page, so it protects nothing (the token's
own randomness and the browser's same-origin storage do); it is fixed so that a token stored before a restart of
the app can still be read after it (Gradio's default is a new random key per start)."""
FAILED_NOTE = "Something went wrong on my side; please try again."

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

DOWNLOAD_JS = """(text) => {
    if (!text) return;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
    link.download = 'liner-notes-my-data.json';
    document.body.appendChild(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
}"""
"""Saves the export in the browser: the data came over this visitor's own event stream, so no file is kept on
the server and no URL exists that another session (or no session) could fetch."""
FOCUS_WHY_JS = ("() => { document.getElementById('why-panel')?.scrollIntoView({block: 'start'});"
                " document.getElementById('why-close')?.focus({preventScroll: true}); }")


def theme() -> gr.themes.Base:
    # System fonts only: the default web fonts would be fetched from the network, and emoji are avoided.
    return gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])


@dataclass
class CardSlot:
    box: gr.Column
    body: gr.HTML
    buttons: dict[str, gr.Button]
    """like, dislike, seen, why."""


@dataclass
class Page:
    """The page's components: those a handler's Changes can touch, then those that only trigger events."""

    visitor: gr.State
    identity: gr.BrowserState
    chat: gr.Chatbot
    message: gr.Textbox
    chips: list[gr.Button]
    slots: list[CardSlot]
    more: gr.Button
    notes: gr.Markdown
    why_panel: gr.Column
    why_body: gr.HTML
    profile: gr.State
    diversity_note: gr.Markdown
    status: gr.Markdown
    forget_confirm: gr.Group
    export_data: gr.Textbox
    passphrase: gr.Textbox
    # triggers only
    send: gr.Button
    why_close: gr.Button
    diversity: gr.Slider
    start_over: gr.Button
    export: gr.Button
    forget: gr.Button
    forget_yes: gr.Button
    forget_no: gr.Button
    name: gr.Textbox
    use_name: gr.Button

    @property
    def outputs(self) -> list[Any]:
        """Everything `apply` may update (Gradio needs the list up front)."""
        cards = [c for slot in self.slots for c in (slot.box, slot.body)]
        return [self.chat, self.message, *self.chips, *cards, self.more, self.notes, self.why_panel, self.why_body,
                self.profile, self.diversity_note, self.status, self.forget_confirm, self.export_data,
                self.identity, self.passphrase]

    def apply(self, changes: Changes) -> dict[Any, Any]:
        """Gradio updates for the parts the handler changed."""
        out: dict[Any, Any] = {}
        if changes.history is not None:
            out[self.chat] = changes.history
        if changes.message is not None:
            out[self.message] = changes.message
        if changes.chips is not None:
            for i, chip in enumerate(self.chips):
                shown = i < len(changes.chips)
                out[chip] = gr.update(value=changes.chips[i] if shown else "", visible=shown)
        if changes.cards is not None:
            for i, slot in enumerate(self.slots):
                shown = i < len(changes.cards)
                out[slot.box] = gr.update(visible=shown)
                out[slot.body] = card_html(changes.cards[i]) if shown else ""
            out[self.more] = gr.update(visible=bool(changes.cards))
        simple = {self.notes: changes.notes, self.why_body: changes.why_html, self.profile: changes.profile,
                  self.diversity_note: changes.diversity_note, self.status: changes.status,
                  self.export_data: changes.export_json, self.identity: changes.token,
                  self.passphrase: changes.passphrase}
        out.update({component: value for component, value in simple.items() if value is not None})
        if changes.why_open is not None:
            out[self.why_panel] = gr.update(visible=changes.why_open)
        if changes.forget_confirm is not None:
            out[self.forget_confirm] = gr.update(visible=changes.forget_confirm)
        return out


def _guarded(handler: Callable[..., Changes]) -> Callable[..., Changes]:
    """Any unexpected fault becomes a short note, never Gradio's error badge (it is logged in full)."""
    @functools.wraps(handler)
    def run(*args: Any) -> Changes:
        try:
            return handler(*args)
        except Exception:  # noqa: BLE001 - the page must stay usable
            log.exception("%s failed", handler.__name__)
            return Changes(notes=FAILED_NOTE)
    return run


def _guarded_stream(handler: Callable[..., Iterator[Changes]]) -> Callable[..., Iterator[Changes]]:
    @functools.wraps(handler)
    def run(*args: Any) -> Iterator[Changes]:
        try:
            yield from handler(*args)
        except Exception:  # noqa: BLE001 - the page must stay usable
            log.exception("%s failed", handler.__name__)
            yield Changes(notes=FAILED_NOTE)
    return run


def build(app: WebApp) -> gr.Blocks:
    """The page over one process-wide WebApp."""
    with gr.Blocks(title="Liner Notes") as demo:
        page = lay_out(app)
        _wire(app, page, demo)
    demo.queue(default_concurrency_limit=app.settings.app_concurrency)
    return demo


def lay_out(app: WebApp) -> Page:
    """The components, in page order (call inside a gr.Blocks)."""
    settings = app.settings
    n_chips = max((len(q.chips) for q in app.assistant.onboarding.questions), default=0)
    visitor = gr.State(None)
    identity = gr.BrowserState("", storage_key=IDENTITY_KEY, secret=IDENTITY_CIPHER_KEY)
    profile = gr.State([])
    gr.HTML(header_html(), elem_id="liner-header")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            chat = gr.Chatbot(elem_id="chat", label="Conversation", show_label=False, height=340,
                              feedback_options=None, buttons=[])
            with gr.Row(elem_id="chips"):
                chips = [gr.Button("", visible=False, size="sm", elem_classes=["chip"], elem_id=f"chip-{i}")
                         for i in range(n_chips)]
            with gr.Row():
                message = gr.Textbox(placeholder="Tell me a film you liked, a mood, or ask for picks",
                                     show_label=False, scale=5, elem_id="message", max_lines=4,
                                     max_length=settings.max_message_chars)
                send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="send")
            notes = gr.Markdown("", elem_id="notes")
            with gr.Column(elem_id="cards"):
                slots = [_card_slot(i) for i in range(settings.cards)]
            more = gr.Button("New picks", elem_id="more-picks", visible=False)
            with gr.Column(visible=False, elem_id="why-panel") as why_panel:
                why_body = gr.HTML("", elem_id="why-body")
                why_close = gr.Button("Close", size="sm", elem_id="why-close")
        with gr.Column(scale=2, min_width=260, elem_id="side"):
            gr.Markdown("### What I believe about you")
            _profile_panel(app, visitor, profile)
            with gr.Group():
                diversity = gr.Slider(0, 1, value=settings.diversity, step=0.1, label="Variety of picks",
                                      elem_id="diversity")
                gr.HTML("<div class='scale-ends'><span>More of the same</span><span>Surprise me</span></div>")
            diversity_note = gr.Markdown("", elem_id="diversity-note")
            with gr.Row():
                start_over = gr.Button("Start over", size="sm", elem_id="start-over")
                export = gr.Button("Export my data", size="sm", elem_id="export")
                forget = gr.Button("Forget me", size="sm", variant="stop", elem_id="forget")
            export_data = gr.Textbox(visible=False, elem_id="export-data")
            with gr.Group(visible=False, elem_id="forget-confirm") as forget_confirm:
                gr.Markdown("This deletes everything stored about you. Continue?")
                with gr.Row():
                    forget_yes = gr.Button("Yes, forget me", variant="stop", size="sm", elem_id="forget-yes")
                    forget_no = gr.Button("Cancel", size="sm", elem_id="forget-no")
            gr.Markdown("To open this profile from another browser, give it a name and a passphrase; to open "
                        "yours here, type both.", elem_id="sign-in-help")
            with gr.Row():
                name = gr.Textbox(label="Your name", elem_id="user-name", scale=2, max_lines=1)
                passphrase = gr.Textbox(label="Passphrase", type="password", elem_id="passphrase", scale=2,
                                        max_lines=1)
            use_name = gr.Button("Save or sign in", size="sm", elem_id="use-name")
            status = gr.Markdown("", elem_id="status")
    return Page(visitor, identity, chat, message, chips, slots, more, notes, why_panel, why_body, profile,
                diversity_note, status, forget_confirm, export_data, passphrase, send, why_close, diversity,
                start_over, export, forget, forget_yes, forget_no, name, use_name)


def _card_slot(index: int) -> CardSlot:
    with gr.Column(visible=False, elem_classes=["card"], elem_id=f"card-{index}") as box:
        body = gr.HTML("", elem_classes=["card-body"], elem_id=f"card-{index}-body")
        with gr.Row(elem_classes=["card-actions"]):
            buttons = {
                "like": gr.Button("Like", size="sm", elem_classes=["card-like"]),
                "dislike": gr.Button("Not for me", size="sm", elem_classes=["card-dislike"]),
                "seen": gr.Button("Seen it", size="sm", elem_classes=["card-seen"]),
                "why": gr.Button("Why?", size="sm", elem_classes=["card-why"]),
            }
    return CardSlot(box, body, buttons)


def _profile_panel(app: WebApp, visitor: gr.State, profile: gr.State) -> None:
    """What the app believes about the visitor, one row per belief, each with a Remove button."""

    @gr.render(inputs=[profile])
    def render_profile(sections: list[ProfileSection]) -> None:
        with gr.Column(elem_id="profile"):
            if not sections:
                gr.Markdown("Nothing yet: tell me a film you liked.", elem_id="profile-empty")
            for section in sections:
                with gr.Column(elem_classes=["profile-section"]):
                    gr.HTML(section_title_html(section.title))
                    for row in section.rows:
                        with gr.Row(elem_classes=["profile-entry"]):
                            gr.HTML(profile_row_html(row), elem_classes=["entry-text"])
                            remove = gr.Button("Remove", size="sm", elem_classes=["remove-entry"])
                        remove.click(functools.partial(_remove, app, row.node_id), inputs=[visitor],
                                     outputs=[profile], show_progress="hidden")


def _remove(app: WebApp, node_id: str, visitor: Visitor | None) -> Any:
    changes = _guarded(handlers.remove)(app, visitor, node_id) if visitor is not None else Changes()
    return changes.profile if changes.profile is not None else gr.skip()


def _wire(app: WebApp, page: Page, demo: gr.Blocks) -> None:
    """Each event to its handler. Turns share one concurrency group as wide as Settings.app_concurrency."""
    outputs = page.outputs
    quiet = {"outputs": outputs, "show_progress": "hidden"}
    turns = {**quiet, "concurrency_id": "turn", "concurrency_limit": app.settings.app_concurrency}

    def start(token: str) -> dict[Any, Any]:
        try:
            visitor, changes = handlers.start(app, token or None)
        except Exception:  # noqa: BLE001 - the page must stay usable
            log.exception("opening the page failed")
            return page.apply(Changes(notes=FAILED_NOTE))
        return {page.visitor: visitor, **page.apply(changes)}

    def turn(text: str, visitor: Visitor | None, history: list) -> Iterator[dict[Any, Any]]:
        if visitor is None:
            return
        for changes in _guarded_stream(handlers.turn)(app, visitor, text, history):
            yield page.apply(changes)

    def on(handler: Callable[..., Changes], *args: Any) -> Callable[..., dict[Any, Any]]:
        """An event listener calling handler(app?, visitor, *args, *inputs) -> page updates."""
        def listener(visitor: Visitor | None, *inputs: Any) -> dict[Any, Any]:
            if visitor is None:
                return {}
            return page.apply(_guarded(handler)(*args, visitor, *inputs))
        return listener

    demo.load(start, inputs=[page.identity], outputs=[page.visitor, *outputs], show_progress="hidden",
              api_name="start")
    page.message.submit(turn, [page.message, page.visitor, page.chat], api_name="turn", **turns)
    page.send.click(turn, [page.message, page.visitor, page.chat], api_name=False, **turns)
    for chip in page.chips:
        chip.click(turn, [chip, page.visitor, page.chat], api_name=False, **turns)
    page.more.click(functools.partial(turn, MORE_PICKS_MESSAGE), [page.visitor, page.chat], api_name="more",
                    **turns)
    page.start_over.click(functools.partial(turn, START_OVER_MESSAGE), [page.visitor, page.chat],
                          api_name="start_over", **turns).then(
        lambda: gr.update(visible=False), outputs=[page.why_panel], api_name=False)
    for index, slot in enumerate(page.slots):
        for kind in FEEDBACK_KINDS:
            slot.buttons[kind].click(on(handlers.feedback, app), [page.visitor, gr.State(index), gr.State(kind)],
                                     api_name=f"{kind}_{index}", **quiet)
        slot.buttons["why"].click(on(handlers.why, app), [page.visitor, gr.State(index)], api_name=f"why_{index}",
                                  **quiet).then(None, js=FOCUS_WHY_JS, api_name=False)
    page.why_close.click(lambda: gr.update(visible=False), outputs=[page.why_panel], api_name=False)
    page.diversity.release(on(handlers.set_diversity), [page.visitor, page.diversity], api_name="diversity",
                           **quiet)
    page.export.click(on(handlers.export), [page.visitor], api_name="export", **quiet).then(
        None, inputs=[page.export_data], js=DOWNLOAD_JS, api_name=False).then(
        lambda: "", outputs=[page.export_data], api_name=False)
    page.forget.click(lambda: gr.update(visible=True), outputs=[page.forget_confirm], api_name=False).then(
        None, js="() => document.getElementById('forget-no')?.focus()", api_name=False)
    page.forget_no.click(lambda: gr.update(visible=False), outputs=[page.forget_confirm], api_name=False)
    page.forget_yes.click(on(handlers.forget, app), [page.visitor], api_name="forget", **quiet)
    sign_in = [page.visitor, page.name, page.passphrase]
    page.use_name.click(on(handlers.sign_in, app), sign_in, api_name="sign_in", **quiet)
    page.name.submit(on(handlers.sign_in, app), sign_in, api_name=False, **quiet)
    page.passphrase.submit(on(handlers.sign_in, app), sign_in, api_name=False, **quiet)


def launch(demo: gr.Blocks, host: str, port: int, *, api: FastAPI | None = None, cors_origins: Sequence[str] = (),
           prevent_thread_lock: bool = False, quiet: bool = False) -> Server:
    """Serve the page (with its theme and stylesheet) and, when given, the JSON API at API_PATH beside it, on one
    port. Blocks until interrupted unless prevent_thread_lock; demo.close() stops the server either way.

    The page is mounted on our own FastAPI app rather than served by demo.launch: that app's CORS policy (the
    allow-list `cors_origins`, Settings.cors_origins) then covers the page and the API alike, where Gradio's own
    would let any origin call a server that listens beyond localhost."""
    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    root.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST", "DELETE"],
                        allow_headers=["Authorization", "Content-Type", "X-API-Key"], expose_headers=["Retry-After"],
                        max_age=600)
    if api is not None:
        root.mount(API_PATH, api)
    gr.mount_gradio_app(root, demo, path="/", theme=theme(), css=CSS, show_error=False, footer_links=[])
    server = Server(uvicorn.Config(root, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5))
    demo.server = server  # as demo.launch does: demo.close() stops it
    server.run_in_thread()
    if not quiet:
        log.info("serving on http://%s:%d (JSON API docs at %s%s)", host, port, API_PATH, DOCS_PATH)
    if not prevent_thread_lock:
        demo.block_thread()
    return server
