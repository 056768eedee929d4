"""The DAPO prompt set (the recipe's RL stage): multiple-choice questions with a gold letter the
reward can verify, and the split by the SFT model's pass rate (a group whose completions are all
right or all wrong carries no signal)."""

from __future__ import annotations

import polars as pl

from medical_assets.core.eval_questions import with_prompts
from medical_assets.core.synthetic import seed_questions

DAPO_PROMPT_SCHEMA: dict[str, pl.DataType] = {
    "prompt_id": pl.String(),  # the sample_id of the trace or seed row it came from
    "source": pl.String(),
    "prompt": pl.String(),  # the evaluation prompt: question, "A. text" lines, the \boxed{} instruction
    "options": pl.List(pl.Struct({"letter": pl.String(), "text": pl.String()})),
    "gold": pl.String(),  # the gold option's letter
    "pass_rate": pl.Float64(),  # share of the SFT model's k samples that were right; null when not measured
}
DAPO_REJECT_SCHEMA: dict[str, pl.DataType] = {"prompt_id": pl.String(), "source": pl.String(), "reason": pl.String()}


def dapo_questions(rows: pl.DataFrame, instruction: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(questions, rejects) of canonical rows whose prompt ends with lettered options and whose
    answer names one of them; `prompt` is the evaluation's (question, "K. text" lines, `instruction`)."""
    kept, rejected = [], []
    for (source,), group in rows.group_by(["source"], maintain_order=True):
        questions, rejects = seed_questions(group, source)
        kept.append(questions)
        rejected.append(rejects)
    if not kept:
        return pl.DataFrame(schema=DAPO_PROMPT_SCHEMA), pl.DataFrame()
    questions = with_prompts(pl.concat(kept), instruction)
    return (questions.select(prompt_id="sample_id", source="seed_set", prompt="prompt", options="options", gold="gold",
                             pass_rate=pl.lit(None, pl.Float64)).cast(DAPO_PROMPT_SCHEMA), pl.concat(rejected))


def pass_rate_split(questions: pl.DataFrame, passes: list[int], samples: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, rejects) by pass rate: a prompt solved in all `samples` or in none gives every
    completion of its group the same reward, so DAPO learns nothing from it."""
    scored = questions.with_columns(passes=pl.Series(passes, dtype=pl.Int64), samples=pl.lit(samples, pl.Int64))
    scored = scored.with_columns(pass_rate=pl.col("passes") / pl.col("samples"))
    trivial = (pl.col("passes") == 0) | (pl.col("passes") == pl.col("samples"))
    reason = (pl.when(pl.col("passes") == 0).then(pl.lit("never solved by the SFT model"))
              .otherwise(pl.lit("always solved by the SFT model"))
              + pl.format(" ({}/{} samples)", "passes", "samples"))
    return scored.filter(~trivial), scored.filter(trivial).with_columns(reason=reason)
