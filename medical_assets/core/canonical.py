"""The canonical trace schema shared by every stage, defined once.

A trace is one prompt with the model's reasoning and final answer. Every
stage keeps `sample_id`, so any row downstream can be traced to its raw row.
"""

from __future__ import annotations

import hashlib

import polars as pl

TRACE_SCHEMA: dict[str, pl.DataType] = {
    "sample_id": pl.String(),  # stable content hash of source + prompt + reasoning + response
    "source": pl.String(),  # registry name of the source (the raw_traces partition)
    "source_row": pl.Int64(),  # 0-based position of the record in its source
    "prompt": pl.String(),
    "reasoning": pl.String(),  # null when the source has no reasoning
    "response": pl.String(),  # final answer text; null when the generation never finished
    "answer": pl.String(),  # gold answer when the source has one
}

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "file": pl.String(),  # local path or hub id[/config]:split the record came from
    "source_row": pl.Int64(),
    "field": pl.String(),  # the source's own field name (path) at fault, null for whole-record faults
    "reason": pl.String(),
    "record": pl.String(),  # the raw record as text (invalid bytes replaced), so nothing is lost
}

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def sample_id(source: str, prompt: str, reasoning: str | None, response: str | None) -> str:
    """Stable 128-bit content hash (hex) of a trace; the same on every machine and version."""
    text = "\x1f".join((source, prompt, reasoning or "", response or ""))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def empty_traces() -> pl.DataFrame:
    return pl.DataFrame(schema=TRACE_SCHEMA)


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def assistant_text(reasoning: pl.Expr, response: pl.Expr) -> pl.Expr:
    """The assistant turn with its reasoning inside `<think>`, as the SFT chat template expects."""
    with_reasoning = pl.concat_str(
        [pl.lit(THINK_OPEN + "\n"), reasoning, pl.lit("\n" + THINK_CLOSE + "\n\n"), response.fill_null("")]
    )
    return pl.when(reasoning.is_null()).then(response.fill_null("")).otherwise(with_reasoning)


def to_messages(traces: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """`sample_id` plus a chat `messages` column ([user, assistant]) loadable by `datasets`/TRL."""
    turn = pl.Struct({"role": pl.String(), "content": pl.String()})
    user = pl.struct(role=pl.lit("user"), content=pl.col("prompt")).cast(turn)
    assistant = pl.struct(
        role=pl.lit("assistant"), content=assistant_text(pl.col("reasoning"), pl.col("response"))
    ).cast(turn)
    return traces.select("sample_id", pl.concat_list([user, assistant]).alias("messages"))
