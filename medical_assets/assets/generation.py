"""Resumable generation in chunks, shared by the stages that ask an LLM many questions
(`eval_responses`, `synthetic_traces`): each chunk's completions are turned into rows and stored
as a partial file as soon as they exist, so a run killed halfway resumes with what is missing;
progress (done / total, rate, time left) is logged at a steady pace, not per chunk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import polars as pl

from medical_assets.assets.progress import Progress
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse

@dataclass(frozen=True)
class Chunk:
    """One generate call: its questions, their prompts, the seed, its number in the stage's own
    numbering (chunk, attempt), and the partial file's name."""

    name: str
    questions: pl.DataFrame
    prompts: Sequence[Any]
    seed: int
    number: int


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
