"""An OpenAI-compatible completion server (llama.cpp's server, llama_cpp.server, vLLM) as a TextModel; calls may
run in parallel (the server's slots serve them)."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

import httpx
import numpy as np

from core.settings import Settings
from llm.text_model import LLMError


_SERVER_HELP = "check that it runs, or unset LINER_LLM_SERVER_URL to use the in-process model"


class ServerBackend:
    """An OpenAI-compatible server (llama.cpp server, llama_cpp.server, vLLM) over httpx, with connect/read
    timeouts and retries of refused connections from the settings. After a failure the backend fails at once for
    Settings.llm_retry_after_s, so a dead or frozen server costs one timeout, not one per card.

    Scoring needs prompt log-probabilities (`echo` + `logprobs` on /v1/completions, as vLLM serves them;
    llama.cpp's C++ server does not echo), sends one request per continuation and relies on the server's own
    prefix caching."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        """`clock` times the pause after a failure (tests pass a fake one to step over the pause)."""
        self.settings = settings
        self._clock = clock
        base = settings.llm_server_url.rstrip("/")
        self.base = base if base.endswith("/v1") else f"{base}/v1"
        self._model: str | None = settings.model_path or None
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.llm_read_timeout_s, connect=settings.llm_connect_timeout_s),
            transport=httpx.HTTPTransport(retries=settings.llm_retries),
        )
        self._state_lock = threading.Lock()
        self._down_until = 0.0
        self._down_because = ""

    @property
    def model(self) -> str:
        if self._model is None:
            models = self._request("GET", "/models").get("data") or []
            try:
                self._model = str(models[0]["id"])
            except (IndexError, KeyError, TypeError) as exc:
                raise LLMError(f"LLM server LINER_LLM_SERVER_URL={self.base} lists no models: set "
                               "LINER_MODEL_PATH to the served model name") from exc
        return self._model

    @property
    def model_id(self) -> str:
        return f"{self.base}|{self.model}"

    def _request(self, method: str, path: str, payload: dict | None = None) -> dict:
        with self._state_lock:
            wait = self._down_until - self._clock()
            if wait > 0:
                raise LLMError(f"LLM server LINER_LLM_SERVER_URL={self.base} failed a moment ago "
                               f"({self._down_because}); not retried for {wait:.0f} s more: {_SERVER_HELP}")
        try:
            response = self._client.request(method, f"{self.base}{path}", json=payload)
            response.raise_for_status()
            answer = response.json()
            if not isinstance(answer, dict):
                raise ValueError("not a JSON object")
            return answer
        except httpx.TimeoutException as exc:
            problem = (f"did not answer within {self.settings.llm_read_timeout_s:g} s (LINER_LLM_READ_TIMEOUT_S)"
                       if isinstance(exc, httpx.ReadTimeout) else "did not accept the connection in time")
        except httpx.ConnectError:
            problem = "refused the connection"
        except httpx.HTTPStatusError as exc:
            problem = f"answered HTTP {exc.response.status_code} to {method} {path}"
        except httpx.HTTPError as exc:  # reset or dropped mid-call, protocol errors
            problem = f"dropped the connection ({type(exc).__name__})"
        except ValueError:  # json.JSONDecodeError included
            problem = f"sent an answer to {method} {path} that is not OpenAI-style JSON"
        with self._state_lock:
            self._down_until = self._clock() + self.settings.llm_retry_after_s
            self._down_because = problem
        raise LLMError(f"LLM server LINER_LLM_SERVER_URL={self.base} {problem}: {_SERVER_HELP}")

    def _answer(self, out: dict, *keys: str | int) -> Any:
        """out[keys[0]][keys[1]]... or LLMError when the server's JSON has another shape."""
        try:
            for key in keys:
                out = out[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"LLM server LINER_LLM_SERVER_URL={self.base} sent an answer without "
                           f"{'.'.join(map(str, keys))}: {_SERVER_HELP}") from exc
        return out

    def score_continuations(self, prefix: str, continuations: Sequence[str]) -> list[float]:
        scores = []
        for continuation in continuations:
            text = prefix + continuation
            out = self._request("POST", "/completions", {
                "model": self.model, "prompt": text, "max_tokens": 1, "temperature": 0.0, "echo": True,
                "logprobs": 1,
            })
            logprobs = self._answer(out, "choices", 0)
            logprobs = logprobs.get("logprobs") if isinstance(logprobs, dict) else None
            logprobs = logprobs if isinstance(logprobs, dict) else {}
            offsets, values = logprobs.get("text_offset"), logprobs.get("token_logprobs")
            if not offsets or not values:
                raise LLMError(f"server {self.base} returned no prompt log-probabilities (needs `echo` with "
                               f"`logprobs`, as vLLM serves them): set LINER_LLM_RANK=0, or unset "
                               f"LINER_LLM_SERVER_URL to score in-process")
            # Tokens starting inside the continuation, excluding the one generated token after the text.
            picked = [v for o, v in zip(offsets, values) if len(prefix) <= o < len(text) and v is not None]
            if not picked:
                raise LLMError(f"server {self.base} returned no log-probabilities for {continuation!r}")
            scores.append(float(np.mean(picked)))
        return scores

    def count_tokens(self, text: str) -> int:
        # English runs ~4 characters a token; 3 over-estimates so prompts stay inside the server's context.
        return len(text) // 3 + 1

    def complete(self, prompt: str, max_tokens: int, temperature: float = 0.0, stop: Sequence[str] = ("\n",),
                 seed: int | None = None, grammar: str | None = None) -> str:
        payload: dict = {"model": self.model, "max_tokens": max_tokens, "temperature": temperature,
                         "stop": list(stop)}
        if seed is not None:
            payload["seed"] = seed
        if grammar is not None:
            payload["grammar"] = grammar
        if self.settings.chat_format:
            payload["messages"] = [{"role": "user", "content": prompt}]
            out = self._request("POST", "/chat/completions", payload)
            return str(self._answer(out, "choices", 0, "message", "content") or "")
        payload["prompt"] = prompt
        return str(self._answer(self._request("POST", "/completions", payload), "choices", 0, "text") or "")
