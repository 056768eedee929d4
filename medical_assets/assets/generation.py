"""Resumable generation in chunks, shared by the stages that ask an LLM many questions
(`eval_responses`, `synthetic_traces`): each chunk's completions are turned into rows and stored
as a partial file as soon as they exist, so a run killed halfway resumes with what is missing;
progress (done / total, rate, time left) is logged at a steady pace, not per chunk."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import polars as pl

from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse

PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class Chunk:
    """One generate call: its questions, their prompts, the seed, its number in the stage's own
    numbering (chunk, attempt), and the partial file's name."""

    name: str
    questions: pl.DataFrame
    prompts: Sequence[Any]
    seed: int
    number: int


class Progress:
    """Logs `done / total` items with the rate and the time left, at most every `every_s` seconds."""

    def __init__(self, log: Any, what: str, total: int, every_s: float = PROGRESS_EVERY_S):
        self.log, self.what, self.total, self.every_s = log, what, total, every_s
        self.done = 0
        self.started = self._last = time.perf_counter()

    def advance(self, items: int) -> None:
        self.done += items
        now = time.perf_counter()
        if now - self._last >= self.every_s or self.done >= self.total:
            self._last = now
            rate = self.done / max(now - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else float("inf")
            self.log.info(f"{self.what}: {self.done:,} / {self.total:,} ({rate:,.2f}/s, about {left:,.0f} s left)")


def generate_chunks(
    warehouse: Warehouse, partials: Path, llm: LLM, chunks: Iterable[Chunk], to_rows: Callable[[Chunk, list], pl.DataFrame],
    progress: Progress, **decoding: Any,
) -> Iterator[pl.DataFrame]:
    """For each chunk: `llm.generate(chunk.prompts, seed=chunk.seed, **decoding)`, the rows
    `to_rows(chunk, completions)` stored as partials/<chunk.name>.parquet (whole or not at all),
    then yielded; `progress` advances by the chunk's questions."""
    for chunk in chunks:
        completions = llm.generate(list(chunk.prompts), seed=chunk.seed, **decoding)
        rows = to_rows(chunk, completions)
        warehouse.write_partial(partials, chunk.name, rows)
        progress.advance(chunk.questions.height)
        yield rows
