"""Test data for training: the converted SmolLM2 checkpoint, through the `base_model` asset itself
(converted once per machine, ~540 MB, into the content-addressed model cache), and small synthetic
traces written by us."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import dagster as dg
import polars as pl
import pytest

from medical_assets.assets.training import base_model
from medical_assets.core.canonical import TRACE_SCHEMA, sample_id


class Converted(NamedTuple):
    path: Path
    metadata: dict[str, Any]  # the base_model materialization's metadata values


@pytest.fixture(scope="session")
def smol_checkpoint() -> Converted:
    """The embedded GGUF converted by `base_model` with its default config (no model given)."""
    result = dg.materialize([base_model], instance=dg.DagsterInstance.ephemeral())
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("base_model")[0].metadata.items()}
    return Converted(Path(metadata["checkpoint_path"]), metadata)


QUESTIONS = [
    ("Which drug reverses heparin?", ["Protamine sulfate", "Vitamin K", "Naloxone", "Flumazenil"], "A"),
    ("First-line treatment of anaphylaxis?", ["Oral antihistamine", "Intramuscular epinephrine", "Salbutamol",
                                               "Prednisolone"], "B"),
    ("Antidote for paracetamol overdose?", ["Atropine", "Glucagon", "N-acetylcysteine", "Digoxin Fab"], "C"),
    ("Drug of choice for absence seizures?", ["Phenytoin", "Carbamazepine", "Lamotrigine", "Ethosuximide"], "D"),
]


def mcq_traces(repeat: int = 2) -> pl.DataFrame:
    """Canonical m23k-like traces: a question with lettered options, reasoning, a boxed answer, a gold letter."""
    rows = []
    for copy in range(repeat):
        for question, options, gold in QUESTIONS:
            prompt = f"{question} (case {copy})\n" + "\n".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(options))
            reasoning = f"The question asks about {question.lower()} The best option is {gold}."
            response = f"The answer is {gold}. \\boxed{{{gold}}}"
            rows.append({"sample_id": sample_id("m23k", prompt, reasoning, response), "source": "m23k",
                         "source_row": len(rows), "prompt": prompt, "reasoning": reasoning, "response": response,
                         "answer": gold})
    return pl.DataFrame(rows, schema=TRACE_SCHEMA)
