"""The browser app of Liner Notes: `serve(settings, host, port)` loads the recommender and serves the page, with
the JSON API (and its embeddable widget) beside it at /api/v1.

The page lives in webui/ (layout, templates, handlers), the API in webui/api.py; every decision is made by
`conversation.session`. The command line (`liner app --host --port`) calls `serve`; nothing in the packages imports
this file.
"""

from __future__ import annotations

import logging

from core.settings import Settings, load_settings

log = logging.getLogger("liner.app")


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Load the recommender (the first start builds what is missing, with progress bars) and serve the page on
    host:port (default Settings.host / Settings.port) until interrupted."""
    import torch

    from conversation.session import Assistant
    from webui.api import create_api
    from webui.handlers import WebApp
    from webui.layout import build, launch

    torch.set_num_threads(settings.app_torch_threads)
    log.info("loading the recommender")
    assistant = Assistant(settings)
    log.info("warming up (one turn on a throwaway profile)")
    assistant.warm_up()
    app = WebApp.over(assistant)
    try:
        launch(build(app), host or settings.host, port or settings.port, api=create_api(app),
               cors_origins=settings.cors_origins)
    finally:
        app.reasons.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    serve(load_settings())
