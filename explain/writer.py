"""One-line, personal, *true* reasons for recommendation cards.

Every card first gets a content plan (explain/content_plan.py): its facts ranked by how personal they are and
one story hook, realised as complete lines that rest on those facts alone. The LLM then writes from the plan only,
in one of these ways (Settings.explain_mode):

- ``rerank`` (the default): the LLM scores the openings of the plan's realisations after a short prompt and the
  most likely one's line is shown (over-generate and score; it cannot invent);
- ``template`` (fastest at equal support): no LLM, the plan's first realisation;
- ``grammar``: the LLM decodes under a GBNF grammar built from the plan's phrases and a closed set of
  connectives (needs a model whose ``complete`` takes ``grammar=``; otherwise ``rerank`` is used);
- ``free``: the LLM writes freely after few-shot examples (assets/golden_explanations.json); the 270M model's
  free lines almost never pass the support check, so this is the old path kept for larger models and benchmarks.

Whatever the path, the shown line passes the content-word support check (explain/support_check.py), or the
plan's first realisation is shown instead; a plan with nothing to say beyond the title, year and genre shows no
line at all. `Explanation.source` records which path produced it. A model that fails (`LLMError`) costs the card
its LLM line, never the line itself.
"""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from core.cache import LRUCache
from core.errors import FixableError
from core.settings import Settings
from explain.content_plan import ContentPlan, Realisation, build_plan, plan_grammar, realisations, sentence
from explain.evidence import Evidence
from explain.support_check import check_support
from llm.text_model import LLMError

log = logging.getLogger(__name__)

GRAMMAR_MAX_TOKENS = 96
"""The grammar bounds a line (one opener and at most one detail of the plan); this only stops a runaway decode."""
INSTRUCTION = "Each line tells a friend, in one sentence, why they will like the film, using only the facts given."


@dataclass
class Explanation:
    text: str
    grounded: bool
    """True when the line passed the support check (every shown line does; False only marks a plan that had
    nothing to say, whose text is empty: the card shows no reason, which the evaluation reports)."""
    source: str
    """grammar | rerank | llm (free writing) | template | cache"""
    leads_with_link: bool = False
    """True when the line opens with the plan's strongest personal link."""
    plan_key: str = ""
    model_failed: bool = False
    """True when the model raised LLMError and the planned line stands in (the reply tells the user once)."""


def evidence_block(evidence: Evidence) -> str:
    """The evidence as the free-writing prompt shows it (the golden examples use the same form)."""
    facts = [f"{evidence.title} ({evidence.year})" if evidence.year else evidence.title]
    if evidence.genres:
        facts.append(", ".join(g.lower() for g in evidence.genres[:3]))
    if evidence.directors:
        facts.append("directed by " + ", ".join(evidence.directors[:2]))
    if evidence.stars:
        facts.append("with " + ", ".join(evidence.stars[:2]))
    if evidence.keywords:
        facts.append("about " + ", ".join(evidence.keywords[:3]))
    links = "; ".join(m.describe() for m in evidence.matches[:3]) or "none, a popular pick"
    story_line = f"\nStory: {evidence.overview}" if evidence.overview else ""
    return f"Film: {'; '.join(facts)}{story_line}\nLinks: {links}"


def template_line(evidence: Evidence) -> str:
    """The plan's first realisation: true in every word, leading with the strongest personal link; empty when
    the plan has nothing to say beyond the title, year and genre."""
    lines = realisations(build_plan(evidence), evidence)
    return lines[0].text if lines else ""


def load_golden(path: Path) -> list[dict]:
    try:
        examples = json.loads(path.read_text())
        return [{"evidence": str(e["evidence"]), "line": str(e["line"])} for e in examples]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FixableError(f"golden explanations {path} are missing or unreadable ({exc}): restore them with "
                           f"`git checkout -- assets/golden_explanations.json` or point LINER_ASSETS_DIR at a "
                           f"copy") from exc


def _accepts_grammar(model) -> bool:
    try:
        return "grammar" in inspect.signature(model.complete).parameters
    except (TypeError, ValueError, AttributeError):
        return False


class Explainer:
    def __init__(self, llm, settings: Settings):
        """`llm` is the text model (llm.model.LLM or anything with its methods); None writes templates."""
        self.llm = llm
        self.settings = settings
        self.mode = settings.explain_mode if llm is not None else "template"
        if self.mode == "grammar" and not _accepts_grammar(llm):
            log.info("the text model takes no grammar: explanations rerank the plan's lines instead")
            self.mode = "rerank"
        self._prefix: str | None = None
        self._cache: LRUCache[tuple[str, str, str], Explanation] = LRUCache(settings.explanation_cache_size)

    # --- prompts ---------------------------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        """Free writing's few-shot prefix: the instruction and as many golden examples as fit the context."""
        if self._prefix is None:
            golden = load_golden(self.settings.assets_dir / "golden_explanations.json")

            def render(examples: list[dict]) -> str:
                return INSTRUCTION + "\n\n" + "".join(f"{g['evidence']}\nLine: {g['line']}\n\n" for g in examples)

            budget = self.settings.n_ctx - self.settings.explain_max_tokens - 160
            count = len(golden)
            while count > 1 and self.llm.count_tokens(render(golden[:count])) > budget:
                count -= 1
            self._prefix = render(golden[:count])
        return self._prefix

    @staticmethod
    def plan_prompt(plan: ContentPlan) -> str:
        """The short prompt the plan's lines are scored or decoded after."""
        return f"Why a friend will enjoy {plan.title}, in one line:"

    # --- realisation paths -----------------------------------------------------------------------------
    def _rerank(self, plan: ContentPlan, lines: list[Realisation]) -> str | None:
        """The plan's line whose opening phrase the LLM finds most likely (mean per-token log-probability) among
        the first few lines' openings (None when the plan offers only one, so the model is not asked); the detail
        then follows the plan's order. Only the openings are scored:
        every scored token costs a full output projection (Gemma 3 has a 262k-word vocabulary), and scoring four
        whole lines took 21 s a line on the loaded 2-core dev machine against 2.4 s for the openings."""
        openers = list(dict.fromkeys(r.parts[0] for r in lines[: self.settings.explain_candidates] if r.parts))
        if len(openers) < 2:
            return None
        scores = self.llm.score_continuations(self.plan_prompt(plan), [f" {sentence(o)}" for o in openers])
        best = openers[max(range(len(openers)), key=lambda i: (scores[i], -i))]  # ties: the plan's order
        return next(r.text for r in lines if r.parts and r.parts[0] == best)

    def _grammar(self, plan: ContentPlan, lines: list[Realisation]) -> str:
        return self.llm.complete(self.plan_prompt(plan), GRAMMAR_MAX_TOKENS, temperature=0.0, stop=("\n",),
                                 grammar=plan_grammar(plan, lines)).strip()

    def _free(self, evidence: Evidence) -> list[str]:
        prompt = f"{self.prefix}{evidence_block(evidence)}\nLine:"
        written = []
        for attempt in range(self.settings.explain_samples):
            # The first sample is greedy; later ones sample so a rejected line is not simply repeated.
            written.append(self.llm.complete(prompt, self.settings.explain_max_tokens,
                                             temperature=0.0 if attempt == 0 else 0.8, stop=("\n",),
                                             seed=attempt).strip())
            if check_support(written[-1], evidence, max_words=self.settings.explain_max_words).ok:
                break
        return written

    def _write(self, plan: ContentPlan, evidence: Evidence, lines: list[Realisation],
               use_model: bool = True) -> tuple[str, str, bool]:
        """(line, source, model failed) from the configured path; the plan's first line when the path fails or
        invents, or when the model is not to be used; no line when the plan has none."""
        if not lines:
            return "", "template", False
        if self.mode == "template" or not use_model:
            return lines[0].text, "template", False
        try:
            if self.mode == "rerank":
                chosen = self._rerank(plan, lines)
                if chosen is None:
                    return lines[0].text, "template", False
                candidates, source = [chosen], "rerank"
            elif self.mode == "grammar":
                candidates, source = [self._grammar(plan, lines)], "grammar"
            else:
                candidates, source = self._free(evidence), "llm"
        except LLMError as exc:
            log.warning("explanation model failed, showing the planned line for %s: %s", evidence.item_id, exc)
            return lines[0].text, "template", True
        for line in candidates:
            report = check_support(line, evidence, max_words=self.settings.explain_max_words)
            if report.ok:
                return line, source, False
            log.debug("explanation for %s rejected %s: %r", evidence.item_id, report.problems, line)
        return lines[0].text, "template", False

    # --- the API ---------------------------------------------------------------------------------------
    def explain(self, item, evidence: Evidence, use_model: bool = True) -> Explanation:
        """A supported one-line reason for recommending `item` (an Item) with this evidence; with use_model False,
        the plan's first line (no model call: explanations are off)."""
        plan = build_plan(evidence)
        key = (item.item_id, plan.key(), self.mode if use_model else "template")
        cached = self._cache.get(key)
        if cached is not None:
            return Explanation(cached.text, cached.grounded, "cache", cached.leads_with_link, cached.plan_key)
        lines = realisations(plan, evidence, self.settings.explain_max_words)
        text, source, failed = self._write(plan, evidence, lines, use_model)
        explanation = Explanation(text, check_support(text, evidence, max_words=self.settings.explain_max_words).ok,
                                  source, leads_with_link(text, plan), plan.key(), model_failed=failed)
        if failed:  # not cached: once the model is back, this card gets its written line
            return explanation
        self._cache.put(key, explanation)
        return explanation

    def explain_many(self, pairs: Iterable[tuple]) -> Iterator[Explanation]:
        """Explanations of (item, evidence) pairs, in order, each yielded as soon as it is written."""
        for item, evidence in pairs:
            yield self.explain(item, evidence)


def leads_with_link(text: str, plan: ContentPlan) -> bool:
    """True when the line's first sentence names the plan's lead fact before any other fact (no lead: False)."""
    lead = plan.lead
    if lead is None:
        return False
    terms = sorted({t.lower() for t in lead.key_terms}, key=len, reverse=True)
    marked = text.lower()
    for index, term in enumerate(terms):  # "Mr. & Mrs. Smith" or "J. J. Abrams" end no sentence
        marked = marked.replace(term, f"\x00{index}\x00")
    first = marked.split(". ")[0]
    present = {term for index, term in enumerate(terms) if f"\x00{index}\x00" in first}
    # "christmas" said inside "A Christmas Story" is said.
    return all(term in present or any(term in longer for longer in present) for term in terms)
