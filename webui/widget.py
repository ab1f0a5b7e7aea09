"""The embeddable widget: an onboarding chat with cards that a host product puts in an iframe (or adds with one
script tag, webui/static/widget.js), and that hands the visitor's profile to the host page by postMessage.

Only host origins in Settings.cors_origins get the page (webui.api checks the `origin` parameter), the page may
be framed only by that origin (Content-Security-Policy frame-ancestors), and the page posts the profile to that
origin only (postMessage's target origin), so another site that frames it receives nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOADER_SCRIPT = Path(__file__).resolve().parent / "static" / "widget.js"
MESSAGE_PREFIX = "liner-notes:"
"""postMessage types: liner-notes:profile ({profile, final}) and liner-notes:resize ({height})."""

_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined)


def widget_page(origin: str, started: dict[str, Any], api_path: str) -> HTMLResponse:
    """The widget for a host page at `origin` (already checked against the allow-list), with its new visitor
    (`started`: the token and the greeting, as the API's VisitorStarted)."""
    html = _ENV.get_template("widget.html").render(
        boot={"origin": origin, "api": api_path, "token": started["token"], "reply": started["reply"],
              "prefix": MESSAGE_PREFIX})
    # The token is in the page: it must not be cached or framed by anyone but the host.
    return HTMLResponse(html, headers={"Content-Security-Policy": f"frame-ancestors {origin}",
                                       "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def widget_script() -> Response:
    return Response(LOADER_SCRIPT.read_text(encoding="utf-8"), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=300"})
