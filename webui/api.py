"""The JSON API (version 1), served beside the Gradio page at /api/v1 (webui.layout.launch mounts it), with its
OpenAPI docs at /api/v1/docs and the embeddable widget at /api/v1/widget.

Who may do what:
- a product's server, with an API key (X-API-Key, from Settings.api_keys), starts visitors: each gets a token;
- a visitor's token (Authorization: Bearer TOKEN) reaches that visitor only, with or without a key: the visitor
  is found from the token alone, never from an id in the URL, so no request can name another visitor;
- the widget page mints its own visitor, for host pages whose origin is in Settings.cors_origins.
Requests with a key are rate-limited per key, the others per IP address (429 with Retry-After).

Every step reuses the page's own code (webui.handlers over conversation.session): a message runs the same turn,
its reasons go through the same queue in front of the LLM, and cards, feedback and "why?" are the same calls.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run time, and they name
# dependencies defined inside create_api.
import hmac
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any, Iterator

from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message as AsgiMessage, Receive, Scope, Send

from conversation.reply import profile_to_json
from conversation.reply import Reply as TurnReply
from store.profile_store import Identity, StoreError
from webui import api_models as m
from webui.handlers import QUESTION_ACTIONS, WebApp, begin_turn, mark_card, why_card, write_reasons
from webui.handoff import EXTERNAL_ID_SOURCES, SCHEMA_PATH, HandoffProfile, SaidConstraints, handoff_profile
from webui.rate_limit import RateLimiter, retry_after_header
from webui.views import PENDING, CardView
from webui.visitor import Visitor
from webui.widget import widget_page, widget_script

log = logging.getLogger(__name__)

API_PATH = "/api/v1"
"""Where webui.layout.launch mounts the API; a breaking change gets a new version path beside it."""
DOCS_PATH = "/docs"
"""The OpenAPI docs, under API_PATH (the machine-readable spec is at /openapi.json beside it)."""


class ApiError(Exception):
    """An error answer: HTTP status, a stable code and a message for the developer."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


@dataclass
class ApiVisitor:
    """A visitor of the API: the page's Visitor (conversation, cards on screen) and when their limits were said."""

    visitor: Visitor
    said: SaidConstraints


class Visitors:
    """The API's visitors in memory, by token, least recently seen dropped beyond a bound (they carry on from
    their stored profile). A token opens a visitor only when this app issued it and it is still held here, or
    when the store holds something of its user: a made-up token opens nobody."""

    def __init__(self, web: WebApp):
        self.web = web
        self.capacity = web.settings.api_visitors_in_memory
        self._held: OrderedDict[str, ApiVisitor] = OrderedDict()
        self._lock = threading.Lock()

    def start(self) -> ApiVisitor:
        return self._hold(Visitor.arrive(self.web.assistant, None))

    def open(self, token: str) -> ApiVisitor | None:
        with self._lock:
            held = self._held.get(token)
            if held is not None:
                self._held.move_to_end(token)
                return held
        store = self.web.assistant.store
        user_id = store.user_for_token(token)
        if user_id is None:
            return None
        profile = store.profile(user_id)
        if not profile.turns and profile.is_empty:
            return None
        return self._hold(Visitor(self.web.assistant, Identity(user_id, token)))

    def drop(self, token: str) -> None:
        with self._lock:
            self._held.pop(token, None)

    def _hold(self, visitor: Visitor) -> ApiVisitor:
        with self._lock:
            # Two first requests of one returning visitor at once: both get the conversation held first.
            held = self._held.setdefault(visitor.token, ApiVisitor(visitor, SaidConstraints()))
            self._held.move_to_end(visitor.token)
            while len(self._held) > self.capacity:
                self._held.popitem(last=False)
        return held


class BodyLimit:
    """Refuses a request body over `limit` bytes (413) before any of it is parsed, whether or not the client sent
    a Content-Length."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> AsgiMessage:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error_response(413, "body_too_large",
                                   f"request bodies are limited to {self.limit} bytes (Settings.api_max_body_bytes)")
        await response(scope, receive, send)


def _error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(m.Error(code=code, message=message).model_dump(), status_code=status, headers=headers)


def _parse_keys(entries: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """(name, secret) of each Settings.api_keys entry (their form is checked when the settings load)."""
    return [(name.strip(), secret.strip().encode()) for name, _, secret in (e.partition("=") for e in entries)]


_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="A server's API key (Settings.api_keys).")
_bearer = HTTPBearer(auto_error=False, description="A visitor's token, from POST /visitors or the widget.")
_ERRORS = {status: {"model": m.Error} for status in (401, 403, 404, 413, 422, 429, 503)}


def create_api(web: WebApp) -> FastAPI:
    """The API over the app's one WebApp (shared with the Gradio page)."""
    settings = web.settings
    keys = _parse_keys(settings.api_keys)
    per_key = RateLimiter(settings.api_rate_per_key, settings.api_rate_window_s)
    per_ip = RateLimiter(settings.api_rate_per_ip, settings.api_rate_window_s)
    visitors = Visitors(web)
    catalog = web.assistant.engine.catalog

    def caller(request: Request, secret: Annotated[str | None, Security(_key_header)]) -> str | None:
        """The name of the caller's API key (None without one), once the request is within its rate limit: per
        key, else per address. A key that is not (or no longer) valid is 401, after being counted against the
        address, so that guessing keys spends its allowance."""
        given = secret.encode() if secret is not None else None
        # Compare with every key, all the way: the time taken says nothing about which one came close.
        matches = [name for name, known in keys if given is not None and hmac.compare_digest(given, known)]
        key = matches[0] if matches else None
        client = request.client.host if request.client else "unknown"
        wait = per_key.take(key) if key is not None else per_ip.take(client)
        if wait > 0:
            who = f"API key {key!r}" if key is not None else f"address {client}"
            raise ApiError(429, "rate_limited", f"too many requests from {who}; retry after the Retry-After seconds",
                           {"Retry-After": retry_after_header(wait)})
        if secret is not None and key is None:
            raise ApiError(401, "bad_api_key", "this API key is not valid (it may have been revoked)")
        return key

    def require_key(key: Annotated[str | None, Depends(caller)]) -> str:
        if key is None:
            raise ApiError(401, "api_key_required", "starting a visitor needs an API key in the X-API-Key header"
                           + ("" if keys else " (this server has none: set LINER_API_KEYS=NAME=SECRET)"))
        return key

    def current(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> ApiVisitor:
        if credentials is None:
            raise ApiError(401, "bad_token", "send the visitor's token as `Authorization: Bearer TOKEN`")
        opened = visitors.open(credentials.credentials)
        if opened is None:
            raise ApiError(401, "bad_token", "this token opens no visitor: start one with POST /visitors")
        return opened

    Current = Annotated[ApiVisitor, Depends(current)]

    # The docs page's scripts are served from here, not from a CDN: nothing is fetched from the network at run time.
    api = FastAPIOffline(title="Liner Notes API", version="1", docs_url=DOCS_PATH, redoc_url=None,
                         static_url=DOCS_PATH + "-assets", openapi_url="/openapi.json",
                         dependencies=[Depends(caller)], responses=_ERRORS,
                         description="Onboarding as a service: chat with a visitor, show explained film cards, and "
                                     "take away what was learned as a profile (see /api/v1/schemas/profile.json).")
    api.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    _add_error_handlers(api)

    def card_of(view: CardView) -> m.Card:
        item = catalog.get(view.item_id)
        ids = {k: v for k, v in item.sources.items() if k in EXTERNAL_ID_SOURCES} if item else {}
        return m.Card(item_id=view.item_id, title=view.title, year=item.year if item else None,
                      genres=list(item.genres) if item else [], external_ids=ids, reason=view.reason,
                      reason_state=view.reason_state, mark=view.mark)

    def cards_of(visitor: Visitor) -> list[m.Card]:
        return [card_of(view) for view in list(visitor.cards)]

    def reply_of(reply: TurnReply, visitor: Visitor) -> m.Reply:
        cards = cards_of(visitor)
        about = [card_of(CardView.of(card, pending=False)) for card in reply.cards] \
            if reply.action in QUESTION_ACTIONS else []
        return m.Reply(action=reply.action, text=reply.text, chips=list(reply.chips), cards=cards, about=about,
                       reasons_pending=any(c.reason_state == PENDING for c in cards), notes=list(reply.notes),
                       profile=profile_of(reply.profile or visitor.session.profile()))

    def card_index(visitor: Visitor, item_id: str) -> int:
        for index, card in enumerate(list(visitor.cards)):
            if card.item_id == item_id:
                return index
        raise ApiError(404, "not_a_card", f"{item_id!r} is not one of the visitor's cards now "
                                          "(GET /visitor/cards lists them)")

    def greeted(opened: ApiVisitor) -> m.VisitorStarted:
        reply = opened.visitor.session.greeting()
        opened.visitor.show([])
        return m.VisitorStarted(token=opened.visitor.token, reply=reply_of(reply, opened.visitor))

    @api.post("/visitors", status_code=201, response_model=m.VisitorStarted, tags=["visitor"])
    def start_visitor(_key: Annotated[str, Depends(require_key)]) -> m.VisitorStarted:
        """Start a visitor (API key required): their token and the greeting, with the first onboarding question."""
        return greeted(visitors.start())

    @api.post("/visitor/messages", response_model=m.Reply, tags=["visitor"])
    def send_message(message: m.Message, opened: Current) -> m.Reply:
        """A message from the visitor (typed, or a chip): the reply, the cards with their reasons (pending ones
        fill in on GET /visitor/cards unless wait_for_reasons), the onboarding chips and the profile."""
        text = message.text.strip()
        if not text:
            raise ApiError(422, "invalid_request", "the message is empty")
        if len(text) > settings.max_message_chars:
            raise ApiError(422, "message_too_long", f"messages are limited to {settings.max_message_chars} "
                                                    "characters (Settings.max_message_chars)")
        visitor = opened.visitor
        started = begin_turn(web, visitor, text, explain=message.reasons)
        started.finish()
        opened.said.update(visitor.session.state.constraints)
        if started.explain:
            reasons = write_reasons(web, visitor, started)
            if message.wait_for_reasons:
                _drain(reasons)
            else:
                threading.Thread(target=_drain, args=(reasons,), name="liner-api-reasons", daemon=True).start()
        return reply_of(started.reply, visitor)

    @api.get("/visitor/cards", response_model=m.Cards, tags=["visitor"])
    def cards(opened: Current) -> m.Cards:
        """The visitor's cards now, with each reason as far as it is written."""
        shown = cards_of(opened.visitor)
        return m.Cards(cards=shown, reasons_pending=any(c.reason_state == PENDING for c in shown))

    @api.post("/visitor/cards/{item_id}/feedback", response_model=m.FeedbackDone, tags=["visitor"])
    def feedback(item_id: str, body: m.Feedback, opened: Current) -> m.FeedbackDone:
        """like / dislike ("not for me": never shown again) / seen on one of the visitor's cards."""
        index = card_index(opened.visitor, item_id)
        profile = mark_card(opened.visitor, index, body.kind)
        return m.FeedbackDone(card=card_of(opened.visitor.cards[index]), profile=profile_of(profile))

    @api.get("/visitor/cards/{item_id}/why", response_model=m.Why, tags=["visitor"])
    def why(item_id: str, opened: Current) -> m.Why:
        """Why this card: its reason, the knowledge-graph paths from the visitor's likes, the facts and the fit."""
        view, line = why_card(web, opened.visitor, card_index(opened.visitor, item_id))
        if view is None:
            raise ApiError(404, "not_found", f"the catalog has no facts about {item_id!r} any more")
        evidence = view.evidence
        return m.Why(item_id=view.item.item_id, title=view.item.title, year=view.item.year, reason=line,
                     paths=list(view.path_texts), matches=[match.describe() for match in evidence.matches],
                     cautions=list(evidence.cautions), genres=list(evidence.genres),
                     directors=list(evidence.directors), stars=list(evidence.stars), overview=evidence.overview)

    @api.get("/visitor/profile", response_model=m.Profile, tags=["profile"])
    def profile(opened: Current) -> m.Profile:
        """What the recommender believes about the visitor now."""
        return profile_of(opened.visitor.session.profile())

    @api.get("/visitor/export", response_model=HandoffProfile, tags=["profile"])
    def export(opened: Current) -> HandoffProfile:
        """The visitor's profile in the hand-off format (schema: GET /schemas/profile.json), for another
        recommender to seed a new user from."""
        return export_of(web, opened)

    @api.delete("/visitor", status_code=204, response_class=Response, tags=["profile"])
    def forget(opened: Current) -> Response:
        """Delete everything stored about the visitor; the token opens nobody afterwards."""
        web.assistant.store.forget(opened.visitor.user_id)
        visitors.drop(opened.visitor.token)
        return Response(status_code=204)

    @api.get("/schemas/profile.json", tags=["profile"], response_class=FileResponse)
    def profile_schema() -> FileResponse:
        """The JSON Schema of GET /visitor/export."""
        return FileResponse(SCHEMA_PATH, media_type="application/schema+json")

    @api.get("/widget", response_class=HTMLResponse, tags=["widget"])
    def widget(origin: str) -> HTMLResponse:
        """The onboarding chat for an iframe on the page at `origin` (one of Settings.cors_origins), which gets
        the visitor's profile by postMessage. A new visitor per load."""
        if origin not in settings.cors_origins:
            raise ApiError(403, "origin_not_allowed", f"{origin!r} is not in Settings.cors_origins (LINER_CORS_ORIGINS)")
        started = greeted(visitors.start())
        return widget_page(origin, started.model_dump(mode="json"), API_PATH)

    @api.get("/widget.js", tags=["widget"])
    def widget_loader() -> Response:
        """A script tag's way in: <script src=".../api/v1/widget.js" data-target="#where"></script>."""
        return widget_script()

    return api


def export_of(web: WebApp, opened: ApiVisitor) -> HandoffProfile:
    session = opened.visitor.session
    return handoff_profile(web.assistant.store, web.assistant.engine.catalog, session.user_id,
                           opened.said.export(session.state.focus), web.settings.preference_min_weight)


def profile_of(profile: Any) -> m.Profile:
    data = profile_to_json(profile)
    data.pop("user_id")  # internal: the token is the visitor's only handle
    return m.Profile(**data)


def _drain(changes: Iterator[Any]) -> None:
    try:
        for _ in changes:
            pass
    except Exception:  # noqa: BLE001 - a background writer must not die silently
        log.exception("writing reasons for an API visitor failed")


def _add_error_handlers(api: FastAPI) -> None:
    """Every error answers as JSON {code, message}."""

    @api.exception_handler(ApiError)
    def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return _error_response(error.status, error.code, error.message, error.headers)

    @api.exception_handler(RequestValidationError)
    def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:5])
        return _error_response(422, "invalid_request", problems)

    @api.exception_handler(StarletteHTTPException)
    def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return _error_response(error.status_code, code, str(error.detail))

    @api.exception_handler(StoreError)
    def store_down(_request: Request, error: StoreError) -> JSONResponse:
        log.warning("an API call failed in the profile store: %s", error)
        return _error_response(503, "store_unavailable", f"the profile store failed: {error}", {"Retry-After": "5"})

    @api.exception_handler(Exception)
    def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("an API call failed", exc_info=error)
        return _error_response(500, "internal_error", "something went wrong on the server; it is logged")
