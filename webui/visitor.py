"""One browser tab's visitor: who they are (by a secret token only their browser holds), their conversation, and
the cards on their screen.

A returning browser sends its token (kept in the browser's local storage); the store maps it to a user. A name
typed in the page never opens a profile by itself: only a name *with its passphrase* does (ProfileStore.sign_in),
so two browsers are two users unless the person proves they are the same.
"""

from __future__ import annotations

import threading

from conversation.session import Assistant, ChatSession
from store.profile_store import Identity
from webui.views import CardView


class Visitor:
    """Held per browser session in a gr.State; handlers change it in place."""

    def __init__(self, assistant: Assistant, identity: Identity, name: str | None = None):
        self.assistant = assistant
        self.token = identity.token
        self.session: ChatSession = assistant.session(user_id=identity.user_id)
        self.name = name
        """The name signed in with, if any (shown in the status line)."""
        self.cards: list[CardView] = []
        self.generation = 0
        """Counts the visitor's turns: a turn still writing reasons stops once a newer turn has shown cards."""
        self.turn_lock = threading.Lock()
        """One turn of a visitor reads and writes their conversation at a time."""

    @classmethod
    def arrive(cls, assistant: Assistant, token: str | None) -> "Visitor":
        """The visitor a browser's token opens; a new anonymous one (with a new token) for no or an unknown token."""
        user_id = assistant.store.user_for_token(token) if token else None
        identity = Identity(user_id, token) if user_id and token else assistant.store.new_anonymous()
        return cls(assistant, identity)

    @property
    def user_id(self) -> str:
        return self.session.user_id

    def become(self, identity: Identity, name: str | None = None) -> None:
        """Switch to another user (after a sign-in, or as a fresh anonymous user after "Forget me")."""
        self.token = identity.token
        self.session = self.assistant.session(user_id=identity.user_id)
        self.name = name
        self.show([])

    def show(self, cards: list[CardView]) -> int:
        """Put new cards on screen; returns the turn number that owns them."""
        self.generation += 1
        self.cards = list(cards)
        return self.generation

    def update_card(self, generation: int, index: int, card: CardView) -> bool:
        """Replace one card if the turn that showed it is still the latest; False when it is not."""
        if generation != self.generation or index >= len(self.cards):
            return False
        self.cards[index] = card
        return True
