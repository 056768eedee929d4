"""The source registry: every dataset of the recipe's training mix.

Each entry says where the data lives on the hub (id, config, split), which
part of the mix it feeds, and how its columns map to the canonical schema
(`core.layouts.Layout`). Column layouts follow the datasets' cards and public
loaders; the ones marked `unconfirmed` were not verified against the real
files, and every field of an entry can be overridden without a code edit (see
`resources.sources.SourceCatalog`).

In the demo each entry reads a mock file in the same layout from
`medical_assets/sample/sources/`. Hub entries may pin a `revision` (e.g. the hub's Parquet
export of a script-based dataset) and explicit `features` (column types Arrow cannot infer);
`value_count_columns` names columns whose value counts ingestion reports, to choose a filter from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from medical_assets.core.layouts import Layout

Part = Literal["curated_r1", "public_medical", "synthetic_qa", "math"]

R1_MODEL_NAMES = ("DeepSeek/DeepSeek-R1",)

# GeneralThought-430K: which rows are DeepSeek-R1 traces, and which are medical, is not settled
# (SOURCES.md): `model_name`, `task` and `question_source` are all candidates, and the card's
# 40,544 medical rows are explained nowhere. The selections below are settings: raw_traces reports
# the value counts of the candidate columns (metadata `value_counts_<column>`, also in a failed
# run's metadata), and an override changes the selection without a code edit, e.g.
#     generalthought_medical:
#       layout: {keep_if: {question_source: [...]}}
GENERALTHOUGHT_R1_ROWS: dict[str, tuple[str, ...]] = {"model_name": R1_MODEL_NAMES}
GENERALTHOUGHT_MEDICAL_ROWS: dict[str, tuple[str, ...]] = {"task": ("Medicine", "Biology")}
GENERALTHOUGHT_CANDIDATE_COLUMNS = ("model_name", "task", "question_source")
GENERALTHOUGHT_UNSETTLED = ("which column and values mark the DeepSeek-R1 rows and the card's 40,544 medical rows "
                            "(model_name, task or question_source: see the value counts)")

# AM-DeepSeek-R1-Distilled: `info.test_case` is a struct in some rows and a string in others, which
# Arrow cannot infer across chunks (the card types it as a string): explicit features, with
# test_case as "json" (any JSON value, stored as a JSON string).
AM_FEATURES = {"messages": [{
    "role": "string",
    "content": "string",
    "info": {"source": "string", "reference_answer": "string", "test_case": "json",
             "think_content": "string", "answer_content": "string"},
}]}


@dataclass(frozen=True)
class SourceSpec:
    """One dataset of the recipe and how to read it."""

    name: str  # the partition key of raw_traces
    part: Part
    hub_id: str
    layout: Layout
    split: str = "train"
    config: str | None = None  # the hub config (in the Parquet export: its folder)
    revision: str | None = None  # a hub branch or commit, e.g. refs/convert/parquet (the hub's Parquet export)
    data_files: str | None = None  # a file inside the hub repo, when the default config is not the one
    features: dict[str, Any] | None = None  # explicit hub column types (see resources.sources.hub_features)
    value_count_columns: tuple[str, ...] = ()  # columns whose value counts ingestion reports (with keep_if's)
    demo_file: str = ""  # mock file under medical_assets/sample/sources/
    recipe_count: int | None = None  # samples the card takes from it (None: not stated)
    unconfirmed: tuple[str, ...] = ()  # mapping facts not verified on the real files
    path: str | None = None  # a local file (JSONL, JSON array or Parquet) instead of the hub

    @property
    def kind(self) -> str:
        return self.layout.kind


def _chat_think(messages: str, role_key: str, content: str, user: str = "user", assistant: str = "assistant") -> Layout:
    """A chat-message list whose assistant turn is "<think>R</think>A" (or "R</think>A": split on </think>)."""
    return Layout(
        prompt=f"{messages}[{role_key}={user}].{content}",
        response=f"{messages}[{role_key}={assistant},last].{content}",
        think_tags=True,
    )


def _generalthought(keep_if: dict[str, tuple[str, ...]]) -> Layout:
    return Layout(prompt="question", reasoning="model_reasoning", response="model_answer",
                  answer="reference_answer", keep_if=keep_if)


_MEDICAL_R1_DISTILL = Layout(prompt="question", reasoning="reasoning (reasoning_content)", response="response (content)")


SOURCES: tuple[SourceSpec, ...] = (
    # Curated medical R1 traces: every R1 trace goes through embedding, clustering and domain voting.
    SourceSpec(
        name="synthetic1_sft",
        part="curated_r1",
        hub_id="PrimeIntellect/SYNTHETIC-1-SFT-Data",
        # The generator's prompt may end with <think>: the assistant text is split on </think>, with or
        # without an opening tag.
        layout=_chat_think("messages", "role", "content"),
        demo_file="synthetic1_sft.jsonl",
        unconfirmed=("whether the assistant content opens with <think> (either form is read)",),
    ),
    SourceSpec(
        name="generalthought",
        part="curated_r1",
        hub_id="GeneralReasoning/GeneralThought-430K",
        layout=_generalthought(keep_if=GENERALTHOUGHT_R1_ROWS),
        demo_file="generalthought.parquet",
        value_count_columns=GENERALTHOUGHT_CANDIDATE_COLUMNS,
        unconfirmed=(GENERALTHOUGHT_UNSETTLED,),
    ),
    SourceSpec(
        name="am_r1",
        part="curated_r1",
        hub_id="a-m-team/AM-DeepSeek-R1-Distilled-1.4M",
        config="am_0.9M",  # DeepSeek-R1 responses by AM; am_0.5M holds responses from other open datasets
        features=AM_FEATURES,
        # The assistant content is "<think>R</think> <answer>A</answer>".
        layout=Layout(
            prompt="messages[role=user].content",
            response="messages[role=assistant,last].content",
            think_tags=True,
            answer_tags=True,
            answer="messages[role=user].info.reference_answer",
        ),
        demo_file="am_r1.jsonl",
    ),
    SourceSpec(
        name="openthoughts2",
        part="curated_r1",
        hub_id="open-thoughts/OpenThoughts2-1M",
        layout=_chat_think("conversations", "from", "value"),  # R1-style <think>, not <|begin_of_thought|>
        demo_file="openthoughts2.jsonl",
    ),
    SourceSpec(
        name="nemotron_science",
        part="curated_r1",
        hub_id="nvidia/Llama-Nemotron-Post-Training-Dataset",
        config="SFT",
        split="science",
        layout=Layout(
            prompt="input[role=user,last].content",
            response="output",
            think_tags=True,
            keep_if={"reasoning": ("on",)},
        ),
        demo_file="nemotron_science.jsonl",
    ),
    SourceSpec(
        name="dolphin_r1",
        part="curated_r1",
        hub_id="cognitivecomputations/dolphin-r1",
        config="reasoning-deepseek",
        # `answer` is the model's final answer (the response), not a gold answer.
        layout=Layout(prompt="messages[role=user,last].content", reasoning="reasoning", response="answer"),
        demo_file="dolphin_r1.jsonl",
    ),
    SourceSpec(
        name="servicenow_r1",
        part="curated_r1",
        hub_id="ServiceNow-AI/R1-Distill-SFT",
        config="v0",
        # v0 has problem and solution (the source's own solution: the gold answer); v1 drops them and
        # adds messages/reannotated_messages, so `config: v1` reads the prompt from its messages.
        # Some rows lack the <think> tags: they are kept without reasoning.
        layout=Layout(prompt="problem | messages[role=user].content", response="reannotated_assistant_content",
                      answer="solution", think_tags=True),
        demo_file="servicenow_r1.jsonl",
        unconfirmed=("teacher model",),
    ),
    # Public medical reasoning sets, taken whole (after filters and decontamination).
    SourceSpec(
        name="generalthought_medical",
        part="public_medical",
        hub_id="GeneralReasoning/GeneralThought-430K",
        layout=_generalthought(keep_if=GENERALTHOUGHT_MEDICAL_ROWS),
        demo_file="generalthought.parquet",
        recipe_count=40_544,
        value_count_columns=GENERALTHOUGHT_CANDIDATE_COLUMNS,
        unconfirmed=(GENERALTHOUGHT_UNSETTLED,),
    ),
    SourceSpec(
        name="medical_r1_distill",
        part="public_medical",
        hub_id="FreedomIntelligence/Medical-R1-Distill-Data",
        config="en",
        layout=_MEDICAL_R1_DISTILL,
        demo_file="medical_r1_distill.json",
        recipe_count=22_000,
    ),
    SourceSpec(
        name="medical_r1_distill_zh",
        part="public_medical",
        hub_id="FreedomIntelligence/Medical-R1-Distill-Data-Chinese",
        config="zh",  # file medical_r1_distill_sft_Chinese.json
        layout=_MEDICAL_R1_DISTILL,
        demo_file="medical_r1_distill_zh.json",
        recipe_count=17_000,
    ),
    SourceSpec(
        name="m23k",
        part="public_medical",
        hub_id="UCSC-VLAA/m23k-tokenized",
        layout=Layout(prompt="prompt", reasoning="reasoning", response="distilled_answer_string", answer="answer_letter"),
        demo_file="m23k.parquet",
        recipe_count=23_487,
    ),
    # Seed questions of the synthetic QA part (traces are generated later and answer-checked).
    SourceSpec(
        name="medmcqa_seed",
        part="synthetic_qa",
        hub_id="openlifescienceai/medmcqa",
        layout=Layout(
            kind="questions",
            prompt="question",
            options=("opa", "opb", "opc", "opd"),
            answer="cop",  # 0-3 = a-d; the test split's hidden labels (-1) are rejected
            answer_kind="index",
        ),
        demo_file="medmcqa_seed.jsonl",
        recipe_count=183_000,
    ),
    SourceSpec(
        name="medqa_seed",
        part="synthetic_qa",
        hub_id="bigbio/med_qa",
        # A loading script on the hub; its auto-converted Parquet needs no remote code.
        config="med_qa_en_4options_source",
        revision="refs/convert/parquet",
        # options: a list of {key, value} (a {letter: text} dict is read too)
        layout=Layout(kind="questions", prompt="question", options="options", answer="answer_idx", answer_kind="letter"),
        demo_file="medqa_seed.jsonl",
        recipe_count=10_000,
    ),
    SourceSpec(
        name="medreason_seed",
        part="synthetic_qa",
        hub_id="UCSC-VLAA/MedReason",
        layout=Layout(kind="questions", prompt="question", options="options", answer="answer", reasoning="reasoning"),
        demo_file="medreason_seed.jsonl",
        recipe_count=32_700,
    ),
    # Math supplement.
    SourceSpec(
        name="light_r1",
        part="math",
        hub_id="qihoo360/Light-R1-SFTData",
        data_files="stage1-76k.json",  # stage 1 (76k); stage 2 (3k) is stage2-3k.json
        layout=_chat_think("conversations", "from", "value"),
        demo_file="light_r1.json",
        recipe_count=15_000,
        unconfirmed=("<think> inside the assistant value", "which stage file the card sampled"),
    ),
)

SOURCE_NAMES: tuple[str, ...] = tuple(spec.name for spec in SOURCES)


def source_spec(name: str) -> SourceSpec:
    for spec in SOURCES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown source {name!r}; the registry has: {', '.join(SOURCE_NAMES)}")
