"""The contract between the recommender and a language model: four operations and one error.

Ranking (recommender/ranking.py) and explanations (explain/writer.py) depend on this protocol only, so logic tests
run on a fake model (tests/conftest.py, fixture ``fake_model``) and the app runs on any backend: llama-cpp-python
in-process (llm/llama_local.py) or an OpenAI-compatible server (llm/server_backend.py), picked by llm/model.py.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from core.errors import FixableError


class LLMError(FixableError):
    """The model or server cannot be used now. The only exception a TextModel raises for a model or server fault
    (missing or corrupt file, server refused / reset / frozen / bad JSON / HTTP error); the message is one line
    naming the file or setting and the fix. Callers degrade: template explanation lines, fusion order."""


@runtime_checkable
class TextModel(Protocol):
    @property
    def model_id(self) -> str:
        """Identifies the model for caches keyed by it (file name and size, or server and model name)."""

    def score_continuations(self, prefix: str, continuations: Sequence[str]) -> list[float]:
        """Mean per-token log-probability of each continuation right after the prefix. Continuations start with
        a space ("... watch:" + " Contact") and are not empty."""

    def complete(self, prompt: str, max_tokens: int, temperature: float = 0.0, stop: Sequence[str] = ("\n",),
                 seed: int | None = None) -> str:
        """Text generated after the prompt, stripped of surrounding whitespace."""

    def count_tokens(self, text: str) -> int:
        """Prompt length in tokens (exact, or a conservative estimate where the backend cannot tokenize)."""
