"""What the tests that talk to local servers and a headless browser share: a free loopback port, the app served
on one, a server that never answers, and Debian's Chromium with the flags and marks its tests run under."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
NEEDS_CHROMIUM = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                       "(apt-get install -y chromium chromium-driver)"),
]
"""pytestmark of a module of browser tests."""


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(web, *, api: bool = False) -> Iterator[str]:
    """The app of `web` (a webui.handlers.WebApp), with its JSON API and CORS origins when `api`, on a free loopback
    port: yields its base URL ("http://127.0.0.1:PORT"), stops it afterwards."""
    from webui.api import create_api
    from webui.layout import build, launch

    demo = build(web)
    port = free_port()
    with_api = {"api": create_api(web), "cors_origins": web.settings.cors_origins} if api else {}
    launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True, **with_api)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


class FrozenServer:
    """A loopback server that accepts connections and never answers: a hung LLM server. It counts the
    connections it accepted, so a test sees how many requests a client sent it; each is closed after `hold_s`
    (far beyond any read timeout a test sets), so a client without a timeout fails instead of hanging the run."""

    def __init__(self, hold_s: float = 120.0):
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.1)  # how often the accepting thread looks at the stop flag
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.hold_s = hold_s
        self._held: list[tuple[socket.socket, float]] = []
        self._accepted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="frozen-server", daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        with self._lock:
            return self._accepted

    def wait_for_connections(self, count: int, within_s: float = 60.0) -> int:
        """The connection count once it reaches `count`, or what it is after `within_s` (a generous bound: the
        client has already sent its request when a test asks)."""
        deadline = time.monotonic() + within_s
        while self.connections < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.connections

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                connection = None
            now = time.monotonic()
            with self._lock:
                if connection is not None:
                    self._accepted += 1
                    self._held.append((connection, now))
                expired = [c for c, since in self._held if now - since > self.hold_s]
                self._held = [(c, since) for c, since in self._held if now - since <= self.hold_s]
            for old in expired:
                old.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._listener.close()
        for connection, _ in self._held:
            connection.close()
