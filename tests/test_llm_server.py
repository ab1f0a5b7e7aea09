"""The OpenAI-compatible server backend under faults (real loopback sockets, no model): every failure is one
LLMError naming LINER_LLM_SERVER_URL, and a failed server is not asked again for every card until its pause
(LINER_LLM_RETRY_AFTER_S, on a clock the test steps) is over. The end-to-end runs through `liner chat` with a real
llama_cpp.server are in test_faults.py."""

from __future__ import annotations

import json
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import pytest

from core.settings import Settings
from llm.model import LLM
from llm.server_backend import ServerBackend
from llm.text_model import LLMError, TextModel

from local_services import FrozenServer

Handler = Callable[[BaseHTTPRequestHandler], None]


def _reply_json(payload: object, status: int = 200) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        body = (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
    return handle


def _reset(request: BaseHTTPRequestHandler) -> None:
    """Close with RST after reading the request: "Connection reset by peer" mid-call, as a killed server does."""
    request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.close_connection = True
    request.connection.close()


class _Server:
    """A loopback HTTP server whose behaviour a test swaps at will; it records the request bodies."""

    def __init__(self) -> None:
        self.handler: Handler = _reply_json({"choices": [{"text": " a fine line"}]})
        self.bodies: list[dict] = []
        outer = self

        class Dispatch(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                outer.handler(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Dispatch)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    yield running
    running.close()


def _settings(url: str, tmp_path, **settings: object) -> Settings:
    values = {"llm_read_timeout_s": 1.0, "llm_connect_timeout_s": 1.0, "llm_retry_after_s": 30.0, **settings}
    return Settings(data_dir=tmp_path, llm_server_url=url, model_path="served-model", **values)


def _llm(url: str, tmp_path, **settings: object) -> LLM:
    return LLM(_settings(url, tmp_path, **settings))


class _Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fails(llm: LLM | ServerBackend) -> str:
    with pytest.raises(LLMError) as caught:
        llm.complete("Film: Heat (1995)\nLine:", 16)
    message = str(caught.value)
    assert "LINER_LLM_SERVER_URL" in message and "\n" not in message
    return message


def test_backends_and_the_fake_follow_the_text_model_protocol(tmp_path, fake_model) -> None:
    assert isinstance(_llm("http://127.0.0.1:9", tmp_path), TextModel)
    assert isinstance(ServerBackend(Settings(data_dir=tmp_path, llm_server_url="http://127.0.0.1:9",
                                             model_path="served-model")), TextModel)
    assert isinstance(fake_model, TextModel)


def test_a_working_server_completes_and_gets_the_settings(server: _Server, tmp_path) -> None:
    llm = _llm(server.url, tmp_path)
    assert llm.complete("Film: Heat (1995)\nLine:", 16, stop=["\n"], seed=3) == "a fine line"
    assert server.bodies[0] | {"prompt": ""} == {"model": "served-model", "max_tokens": 16, "temperature": 0.0,
                                                 "stop": ["\n"], "seed": 3, "prompt": ""}


def test_dead_port_is_one_llm_error(tmp_path) -> None:
    assert "refused the connection" in _fails(_llm("http://127.0.0.1:9", tmp_path))


def test_frozen_server_times_out_once_then_is_not_asked_again(frozen_server: FrozenServer, tmp_path) -> None:
    llm = _llm(frozen_server.url, tmp_path)
    # The read timeout, not the server, ended the call (the frozen server never answers; it closes a connection
    # only long after any timeout, which would read "dropped the connection").
    assert "did not answer within 1 s (LINER_LLM_READ_TIMEOUT_S)" in _fails(llm)
    assert frozen_server.wait_for_connections(1) == 1
    # Every further card fails without a request instead of waiting again (five cards, two samples each: no 10
    # timeouts); the message is raised before any request is made.
    assert "failed a moment ago" in _fails(llm)
    assert "failed a moment ago" in _fails(llm)
    assert frozen_server.connections == 1


@pytest.mark.parametrize("handler, problem", [
    (_reset, "dropped the connection"),
    (_reply_json(b"<html>Bad gateway</html>"), "not OpenAI-style JSON"),
    (_reply_json({"error": "overloaded"}, status=503), "HTTP 503"),
    (_reply_json({"error": "boom"}, status=500), "HTTP 500"),
    (_reply_json({"choices": []}), "without choices.0.text"),
    (_reply_json([1, 2, 3]), "not OpenAI-style JSON"),
])
def test_every_server_fault_is_one_llm_error(server: _Server, tmp_path, handler: Handler, problem: str) -> None:
    server.handler = handler
    assert problem in _fails(_llm(server.url, tmp_path))


def test_the_server_is_tried_again_after_the_pause(server: _Server, tmp_path) -> None:
    clock = _Clock()
    backend = ServerBackend(_settings(server.url, tmp_path, llm_retry_after_s=30.0), clock=clock)
    server.handler = _reply_json({"error": "starting"}, status=503)
    assert "HTTP 503" in _fails(backend)
    server.handler = _reply_json({"choices": [{"text": " back again"}]})
    clock.now += 29.0
    assert "not retried for 1 s more" in _fails(backend)  # still inside the pause: the server is not asked
    assert len(server.bodies) == 1
    clock.now += 1.5
    assert backend.complete("Line:", 8) == " back again"  # the backend returns the text as served
    assert len(server.bodies) == 2


def test_model_name_comes_from_the_server_when_not_set(server: _Server, tmp_path) -> None:
    llm = LLM(Settings(data_dir=tmp_path, llm_server_url=server.url + "/v1/"))
    with pytest.raises(LLMError, match="LINER_LLM_SERVER_URL"):  # our stub has no GET /models
        llm.model_id
