"""The SFT mix (recipe, "Training mix"): the decontaminated traces of every part, exact
duplicates removed, each part capped at its recipe count.

Plain functions on Polars frames with `part`, `source`, `source_row`, `sample_id`,
`prompt`, `response` columns (the canonical schema plus `part`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import polars as pl

# Which copy of a duplicate is kept: the first part in this order (answer-verified synthetic
# traces, then the public medical sets, the curated R1 traces, the math supplement), then by
# source name and source row. The others are recorded with the `sample_id` they duplicate.
PART_PRIORITY: tuple[str, ...] = ("synthetic_qa", "public_medical", "curated_r1", "math")


def content_key() -> pl.Expr:
    """Hash of the normalized prompt + response (lowercased, whitespace collapsed): equal for
    rows that differ only in case or spacing."""
    def normalized(column: str) -> pl.Expr:
        return pl.col(column).fill_null("").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()

    return pl.concat_str([normalized("prompt"), pl.lit("\x1f"), normalized("response")]).hash(seed=0)


def _priority(parts: Sequence[str]) -> pl.Expr:
    order = {part: i for i, part in enumerate(parts)}
    return pl.col("part").replace_strict(order, default=len(order), return_dtype=pl.UInt32)


def drop_duplicates(traces: pl.DataFrame, parts: Sequence[str] = PART_PRIORITY) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, duplicates): one row per normalized prompt + response, the first by `parts` order,
    source and source row; each duplicate gets `duplicate_of`, the `sample_id` it repeats.
    `traces` holds the texts, or only the row keys, `part` and each row's `content_key` (a hash
    per row: all the mix keeps in memory for millions of rows)."""
    key = pl.col("content_key") if "content_key" in traces.columns else content_key()
    ranked = traces.with_columns(_key=key, _rank=_priority(parts)).sort("_rank", "source", "source_row")
    ranked = ranked.with_columns(duplicate_of=pl.col("sample_id").first().over("_key"),
                                 _first=pl.int_range(pl.len()).over("_key") == 0)
    kept = ranked.filter(pl.col("_first")).drop("_key", "_rank", "_first", "duplicate_of")
    duplicates = ranked.filter(~pl.col("_first")).drop("_key", "_rank", "_first")
    return kept, duplicates


def cap_parts(traces: pl.DataFrame, caps: Mapping[str, int | None], seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, over_cap): each part sampled down to its cap with `seed` (a part under its cap, or
    with no cap, is kept whole). The same rows and seed give the same mix."""
    kept, over = [], []
    for (part,), rows in traces.sort("source", "source_row").group_by("part", maintain_order=True):
        cap = caps.get(part)
        if cap is None or rows.height <= cap:
            kept.append(rows)
            continue
        chosen = rows.sample(cap, seed=seed, shuffle=False)
        kept.append(chosen)
        over.append(rows.join(chosen.select("sample_id", "source", "source_row"),
                              on=["sample_id", "source", "source_row"], how="anti")
                    .with_columns(cap=pl.lit(cap, dtype=pl.Int64)))
    empty = traces.clear()
    return (pl.concat(kept) if kept else empty,
            pl.concat(over) if over else empty.with_columns(cap=pl.lit(None, dtype=pl.Int64)))


def mix_table(mix: pl.DataFrame, targets: Mapping[str, int]) -> pl.DataFrame:
    """The card's mix table: part, recipe target, rows kept, share of the mix."""
    counts = dict(mix.group_by("part").len().iter_rows())
    total = max(mix.height, 1)
    return pl.DataFrame(
        [{"part": part, "recipe_target": target, "rows": counts.get(part, 0),
          "share": round(counts.get(part, 0) / total, 4)} for part, target in targets.items()],
        schema={"part": pl.String, "recipe_target": pl.Int64, "rows": pl.Int64, "share": pl.Float64},
    )


_USER, _ASSISTANT = "\x00user-turn\x00", "\x00assistant-turn\x00"  # markers no prompt holds
CHECKED_ROWS = 64  # rows rendered both ways before the fast rendering is trusted


def chat_template_parts(tokenizer) -> tuple[str, str, str] | None:
    """(before the user turn, between the turns, after the assistant turn) of the tokenizer's chat
    template, found by rendering it once around two markers; None when the template does not
    copy the turns verbatim (it trims or rewrites them), so each row must be rendered by it."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": _USER},
                                         {"role": "assistant", "content": _ASSISTANT}], tokenize=False)
    if text.count(_USER) != 1 or text.count(_ASSISTANT) != 1 or text.index(_USER) > text.index(_ASSISTANT):
        return None
    before, rest = text.split(_USER)
    between, after = rest.split(_ASSISTANT)
    return before, between, after


def chat_texts(messages: pl.DataFrame, tokenizer) -> tuple[list[str], str]:
    """The text the trainer tokenizes for each row of `messages` (a `messages` column of
    [user, assistant] turns), and how it was made: by Polars string expressions around the
    template's fixed parts when the template copies the turns verbatim and the first
    `CHECKED_ROWS` rows render identically both ways, else by the template row by row."""
    parts = chat_template_parts(tokenizer)
    turns = messages.select(user=pl.col("messages").list.get(0).struct.field("content"),
                            assistant=pl.col("messages").list.get(1).struct.field("content"))
    if parts is not None:
        before, between, after = parts
        texts = turns.select(pl.concat_str([pl.lit(before), pl.col("user"), pl.lit(between), pl.col("assistant"),
                                            pl.lit(after)]))[:, 0].to_list()
        checked = messages["messages"].head(CHECKED_ROWS).to_list()
        if all(tokenizer.apply_chat_template(m, tokenize=False) == t for m, t in zip(checked, texts)):
            return texts, "template parts"
    return [tokenizer.apply_chat_template(m, tokenize=False) for m in messages["messages"].to_list()], "template per row"


def token_lengths(texts: Sequence[str], tokenizer, chunk_rows: int = 256, chunk_chars: int = 4_000_000) -> list[int]:
    """Token count of each text, no special tokens added, with the fast tokenizer's batch encoder
    on every core (the caller turns tokenizers' thread pool on, see `assets/mix.py`). Texts are
    encoded `chunk_rows` at a time, fewer when they pass `chunk_chars` characters: each encoding
    holds ~40 bytes a token until its count is taken (4,096 traces of 20 KB at once: ~0.8 GB)."""
    backend = tokenizer.backend_tokenizer
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)  # no offsets when it can
    lengths: list[int] = []
    start = 0
    while start < len(texts):
        stop, chars = start, 0
        while stop < len(texts) and stop - start < chunk_rows and (chars < chunk_chars or stop == start):
            chars += len(texts[stop])
            stop += 1
        lengths += [len(encoding) for encoding in encode(list(texts[start:stop]), add_special_tokens=False)]
        start = stop
    return lengths
