"""Writing the cards' reasons without holding up anyone's cards.

Cards come from retrieval and ranking, which need no LLM; only the reasons do. Writer threads take one card at a
time, first come first served: one thread with the in-process model (a llama.cpp context writes one thing at a
time), Settings.llm_server_slots threads with an LLM server (LINER_LLM_SERVER_URL), so that every slot the server
serves in parallel has a card to write. A visitor hands in their next card only when the last
one is written, so visitors take turns card by card and nobody waits for another's five. A card whose reason is
not written by its deadline shows the planned template line (true by construction) and its job is dropped
from the queue; a card whose reason the writers' recent pace says cannot be written by its deadline gets its
planned line at once, instead of after waiting the deadline out (many visitors at once on a few cores;
Settings.reasons_early_template); any
failure of the model gives the template line too, with a note. Cards come first on the CPU
as well: the writer starts no reason while some visitor's cards are being computed (at most
Settings.reasons_yield_to_cards_s).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from core.item import Item
from explain.evidence import Evidence
from explain.writer import template_line
from recommender.engine import RecommenderEngine

log = logging.getLogger(__name__)

TEMPLATE = "template"


@dataclass(frozen=True)
class Reason:
    text: str
    source: str
    """The explainer's source (llm, rerank, grammar, cache, template), or template when it came too late."""
    model_failed: bool = False
    """True when the model raised: the page shows conversation.session.MODEL_DOWN_NOTE."""


class ReasonPace:
    """How long the writers take over one reason lately (an exponentially weighted mean over the reasons written),
    and so when a reason handed in now would be done."""

    NEWEST_SHARE = 0.3
    """The newest reason's share of the mean: enough to follow a change of load within a few reasons."""

    def __init__(self) -> None:
        self.mean_s: float | None = None
        """None until a first reason is written: nothing is known, nothing is given up."""
        self._lock = threading.Lock()

    def record(self, seconds: float) -> None:
        with self._lock:
            self.mean_s = seconds if self.mean_s is None else \
                self.NEWEST_SHARE * seconds + (1 - self.NEWEST_SHARE) * self.mean_s

    def done_by(self, now: float, ahead: int, writers: int) -> float | None:
        """When a reason handed in at `now` behind `ahead` others (queued or being written) would be written by
        `writers` threads at the recent pace; None before any reason was written."""
        mean = self.mean_s
        return None if mean is None else now + (ahead // writers + 1) * mean


@dataclass
class _Job:
    item: Item
    evidence: Evidence
    future: Future


class ReasonWriter:
    """The one queue in front of the LLM for reasons; shared by every visitor of the app."""

    def __init__(self, engine: RecommenderEngine):
        self.engine = engine
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        settings = engine.settings
        self.writers = max(1, settings.llm_server_slots) if settings.llm_server_url else 1
        """Threads writing reasons at once."""
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self.pace = ReasonPace()
        self._writing = 0
        """Reasons being written now (the model's calls in flight)."""
        self._writing_lock = threading.Lock()
        self._cards_busy = 0
        self._cards_done = threading.Condition()
        self.handed_in = 0
        """Reasons queued for the model since the start (not those that got their planned line at once)."""
        self._handed_in_changed = threading.Condition()

    @contextmanager
    def computing_cards(self) -> Iterator[None]:
        """Around a turn's retrieval and ranking: the model waits, so the cards get the CPU (two cores are
        shared with llama.cpp, and the turn's Python shares the interpreter lock with the writer)."""
        with self._cards_done:
            self._cards_busy += 1
        try:
            yield
        finally:
            with self._cards_done:
                self._cards_busy -= 1
                self._cards_done.notify_all()

    @staticmethod
    def template(evidence: Evidence) -> Reason:
        """The planned line: what a card shows when the model is late, failing or switched off."""
        return Reason(template_line(evidence), TEMPLATE)

    def write(self, item: Item, evidence: Evidence, deadline: float) -> Reason:
        """The model's reason for one card if it is written before `deadline` (time.monotonic()), else the
        template line: at once when the recent pace says it cannot be, at the deadline when it was not."""
        if self.engine.settings.reasons_early_template:
            done_by = self.pace.done_by(time.monotonic(), self.waiting() + self._writing, self.writers)
            if done_by is not None and done_by > deadline:
                return self.template(evidence)
        job = _Job(item, evidence, Future())
        self._ensure_threads()
        self._jobs.put(job)
        with self._handed_in_changed:
            self.handed_in += 1
            self._handed_in_changed.notify_all()
        try:
            return job.future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            # Still queued: dropped before it reaches the model. Being written: it finishes and fills the
            # explainer's cache, so a later look at the same card is instant.
            job.future.cancel()
            return self.template(evidence)

    def waiting(self) -> int:
        """Reasons queued and not yet taken by a writer."""
        return self._jobs.qsize()

    def wait_for_handed_in(self, count: int, timeout: float) -> bool:
        """Whether `count` reasons have been queued within `timeout` seconds (for whoever watches the queue)."""
        with self._handed_in_changed:
            return self._handed_in_changed.wait_for(lambda: self.handed_in >= count, timeout)

    def close(self) -> None:
        """Stop the writer threads once the jobs before this call are done."""
        with self._start_lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)  # one stop mark per thread: each takes one and returns
        for thread in threads:
            thread.join(timeout=30)

    def _ensure_threads(self) -> None:
        with self._start_lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            while len(self._threads) < self.writers:
                thread = threading.Thread(target=self._run, name=f"liner-reasons-{len(self._threads)}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            with self._cards_done:
                self._cards_done.wait_for(lambda: self._cards_busy == 0,
                                          timeout=self.engine.settings.reasons_yield_to_cards_s)
            if not job.future.set_running_or_notify_cancel():
                continue  # its card already shows the template line
            with self._writing_lock:
                self._writing += 1
            started = time.monotonic()
            try:
                explanation = self.engine.explainer.explain(job.item, job.evidence)
                if not explanation.model_failed:
                    self.pace.record(time.monotonic() - started)
                job.future.set_result(Reason(explanation.text, explanation.source, explanation.model_failed))
            except Exception as exc:  # noqa: BLE001 - any model fault must leave the card with a true line
                log.warning("writing the reason for %s failed, showing its template line: %s",
                            job.item.item_id, exc)
                job.future.set_result(Reason(template_line(job.evidence), TEMPLATE, model_failed=True))
            finally:
                with self._writing_lock:
                    self._writing -= 1
