"""The source registry: every dataset of the recipe's training mix.

Each entry says where the data lives on the hub (id, config, split), which
part of the mix it feeds, and how its columns map to the canonical schema
(`core.layouts.Layout`). Column layouts follow the datasets' cards and public
loaders; the ones marked `unconfirmed` were not verified against the real
files, and every field of an entry can be overridden without a code edit (see
`resources.sources.SourceCatalog`).

In the demo each entry reads a mock file in the same layout from
`medical_assets/sample/sources/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from medical_assets.core.layouts import Layout

Part = Literal["curated_r1", "public_medical", "synthetic_qa", "math"]

R1_MODEL_NAMES = ("DeepSeek/DeepSeek-R1",)


@dataclass(frozen=True)
class SourceSpec:
    """One dataset of the recipe and how to read it."""

    name: str  # the partition key of raw_traces
    part: Part
    hub_id: str
    layout: Layout
    split: str = "train"
    config: str | None = None
    data_files: str | None = None  # a file inside the hub repo, when the default config is not the one
    demo_file: str = ""  # mock file under medical_assets/sample/sources/
    recipe_count: int | None = None  # samples the card takes from it (None: not stated)
    unconfirmed: tuple[str, ...] = ()  # mapping facts not verified on the real files
    path: str | None = None  # a local file (JSONL, JSON array or Parquet) instead of the hub

    @property
    def kind(self) -> str:
        return self.layout.kind


def _chat_think(messages: str, role_key: str, content: str, user: str = "user", assistant: str = "assistant") -> Layout:
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
        layout=_chat_think("messages", "role", "content"),
        demo_file="synthetic1_sft.jsonl",
        unconfirmed=("assistant content carries <think>...</think>",),
    ),
    SourceSpec(
        name="generalthought",
        part="curated_r1",
        hub_id="GeneralReasoning/GeneralThought-430K",
        layout=_generalthought(keep_if={"model_name": R1_MODEL_NAMES}),
        demo_file="generalthought.parquet",
        unconfirmed=("model_name spelling of DeepSeek-R1",),
    ),
    SourceSpec(
        name="am_r1",
        part="curated_r1",
        hub_id="a-m-team/AM-DeepSeek-R1-Distilled-1.4M",
        config="am_0.9M",
        layout=Layout(
            prompt="messages[role=user].content",
            reasoning="messages[role=assistant,last].info.think_content",
            response="messages[role=assistant,last].info.answer_content",
            answer="messages[role=user].info.reference_answer",
        ),
        demo_file="am_r1.jsonl",
    ),
    SourceSpec(
        name="openthoughts2",
        part="curated_r1",
        hub_id="open-thoughts/OpenThoughts2-1M",
        layout=_chat_think("conversations", "from", "value"),
        demo_file="openthoughts2.jsonl",
        unconfirmed=("<think> inside the assistant value",),
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
        layout=Layout(prompt="messages[role=user,last].content", reasoning="reasoning", response="answer"),
        demo_file="dolphin_r1.jsonl",
        unconfirmed=("column names from third-party loaders",),
    ),
    SourceSpec(
        name="servicenow_r1",
        part="curated_r1",
        hub_id="ServiceNow-AI/R1-Distill-SFT",
        config="v0",
        layout=Layout(prompt="problem", response="reannotated_assistant_content", answer="solution", think_tags=True),
        demo_file="servicenow_r1.jsonl",
    ),
    # Public medical reasoning sets, taken whole (after filters and decontamination).
    SourceSpec(
        name="generalthought_medical",
        part="public_medical",
        hub_id="GeneralReasoning/GeneralThought-430K",
        layout=_generalthought(keep_if={"task": ("Medicine", "Biology")}),
        demo_file="generalthought.parquet",
        recipe_count=40_544,
        unconfirmed=("which task values make the card's 40,544 medical samples",),
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
        layout=_MEDICAL_R1_DISTILL,
        demo_file="medical_r1_distill_zh.json",
        recipe_count=17_000,
        unconfirmed=("config name (zh on an earlier card revision)",),
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
            answer="cop",
            answer_kind="index",
        ),
        demo_file="medmcqa_seed.jsonl",
        recipe_count=183_000,
    ),
    SourceSpec(
        name="medqa_seed",
        part="synthetic_qa",
        hub_id="bigbio/med_qa",
        config="med_qa_en_4options_source",
        layout=Layout(kind="questions", prompt="question", options="options", answer="answer_idx", answer_kind="letter"),
        demo_file="medqa_seed.jsonl",
        recipe_count=10_000,
        unconfirmed=("script-based dataset: needs trust_remote_code or a parquet mirror",),
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
        data_files="stage1-76k.json",
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
