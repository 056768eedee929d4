"""The ten medical benchmarks of the model card, and where their files live.

The public harness (HuatuoGPT-o1, MedReason, m1) ships them as two JSON files
of `{name: [rows]}`: `eval_data.json` (the first five) and `m1_eval_data.json`
(the other five). II-Medical-Evaluation loads the same sets from hub datasets
named `Medical-Eval-<name>`. `key` is the partition key used everywhere here;
`column` is the model card's leaderboard column.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalSet:
    key: str
    column: str
    harness_name: str  # the name inside the harness JSON file
    harness_file: str
    hub_split: str = "train"
    question_ends_at: str | None = None  # the question is cut here, as the harness does (MedXpertQA's own option list)

    @property
    def hub_name(self) -> str:
        return "MedXpertQA" if self.key == "medxpertqa" else f"Medical-Eval-{self.harness_name}"


EVAL_SETS: tuple[EvalSet, ...] = (
    EvalSet("medmcqa", "MedMC", "MedMCQA_validation", "eval_data.json"),
    EvalSet("medqa", "MedQA", "MedQA_USLME_test", "eval_data.json"),
    EvalSet("pubmedqa", "PubMed", "PubMedQA_test", "eval_data.json"),
    EvalSet("mmlu_pro_medical", "MMLU-P", "MMLU-Pro_Medical_test", "eval_data.json"),
    EvalSet("gpqa_medical", "GPQA", "GPQA_Medical_test", "eval_data.json"),
    EvalSet("lancet", "Lancet", "Lancet", "m1_eval_data.json"),
    EvalSet("medbullets_op4", "MedB-4", "MedBullets_op4", "m1_eval_data.json"),
    EvalSet("medbullets_op5", "MedB-5", "MedBullets_op5", "m1_eval_data.json"),
    EvalSet("medxpertqa", "MedX", "MedXpertQA", "m1_eval_data.json", hub_split="test", question_ends_at="Answer Choices:"),
    EvalSet("nejm", "NEJM", "NEJM", "m1_eval_data.json"),
)

EVAL_SET_KEYS: tuple[str, ...] = tuple(s.key for s in EVAL_SETS)


def eval_set(key: str) -> EvalSet:
    for spec in EVAL_SETS:
        if spec.key == key:
            return spec
    raise KeyError(f"unknown benchmark {key!r}; known: {', '.join(EVAL_SET_KEYS)}")
