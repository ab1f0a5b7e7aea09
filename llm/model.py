"""The model the app uses, picked from the settings: the server backend when LINER_LLM_SERVER_URL is set, else
llama.cpp in-process. Every fault is raised as LLMError (llm.text_model): callers fall back to template lines and
fusion order."""

from __future__ import annotations

from typing import Sequence

from core.settings import Settings
from llm.llama_local import LlamaCppBackend
from llm.server_backend import ServerBackend


class LLM:
    """The model the app uses: the server backend when Settings.llm_server_url is set, else llama.cpp in-process.
    Checks arguments once for every backend."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._backend: LlamaCppBackend | ServerBackend = (
            ServerBackend(settings) if settings.llm_server_url else LlamaCppBackend(settings))

    @property
    def model_id(self) -> str:
        return self._backend.model_id

    def score_continuations(self, prefix: str, continuations: Sequence[str]) -> list[float]:
        """Mean per-token log-probability of each continuation right after the prefix (the prefix is
        evaluated once and reused). Continuations should start with a space ("... watch:" + " Contact")."""
        if any(not c.strip() for c in continuations):
            raise ValueError("continuations must not be empty")
        if not continuations:
            return []
        return self._backend.score_continuations(prefix, list(continuations))

    def count_tokens(self, text: str) -> int:
        """Prompt length in tokens (exact in-process; a conservative estimate over a server)."""
        return self._backend.count_tokens(text)

    def complete(self, prompt: str, max_tokens: int, temperature: float = 0.0, stop: Sequence[str] = ("\n",),
                 seed: int | None = None, grammar: str | None = None) -> str:
        """Text generated after the prompt (through the chat template when Settings.chat_format is set).
        Calls sharing a prompt prefix reuse its evaluated state. ``grammar`` (GBNF) constrains the output; both
        backends take it (llama.cpp's servers read the request's "grammar" field)."""
        return self._backend.complete(prompt, max_tokens, temperature, list(stop), seed, grammar).strip()
