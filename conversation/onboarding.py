"""The cold-start flow: which question to ask a new user, with quick-pick chips from assets/onboarding.json."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from core.catalog import Catalog, split_title_year
from core.errors import FixableError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Question:
    question_id: str
    text: str
    chips: tuple[str, ...]


class Onboarding:
    def __init__(self, questions: list[Question], welcome: str):
        self.questions = questions
        self.welcome = welcome

    @classmethod
    def load(cls, assets_dir: Path, catalog: Catalog) -> Onboarding:
        path = Path(assets_dir) / "onboarding.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise FixableError(f"onboarding file {path} is missing or corrupt ({exc}): restore it from git") from exc
        questions = []
        for raw in data["questions"]:
            chips = list(raw["chips"])
            if raw["id"] == "recent_title":
                # Only offer titles the catalog really has, labelled as the catalog labels them.
                found = [catalog.find_title(*split_title_year(chip)) for chip in chips]
                missing = [chip for chip, item in zip(chips, found) if item is None]
                if missing:
                    log.warning("quick picks not in the catalog, left out: %s", ", ".join(missing))
                chips = [item.label for item in found if item is not None]
            questions.append(Question(raw["id"], raw["text"], tuple(chips)))
        return cls(questions, data["welcome"])

    def question(self, asked_so_far: int) -> Question | None:
        """The next question, or None once every onboarding question was asked."""
        return self.questions[asked_so_far] if asked_so_far < len(self.questions) else None
