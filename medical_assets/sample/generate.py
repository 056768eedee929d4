"""Generate the bundled mock corpus: sources/, benchmarks/ and truth.jsonl.

    python -m medical_assets.sample.generate               # rewrite the bundled files
    python -m medical_assets.sample.generate --out DIR     # write elsewhere
    python -m medical_assets.sample.generate --scale 10    # 10x the trace rows (benchmarks)

Everything is deterministic: one seeded `random.Random` per file (string
seeds, so no hash randomization), fixed key orders, `\\n` line endings and
Parquet written with fixed compression and row groups. Two runs give
byte-identical files. All text comes from the templates and vocabulary
lists of this package; nothing is copied from a real dataset or benchmark.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from medical_assets.sample import seeds as S
from medical_assets.sample import textgen as T
from medical_assets.sample import vocab as V
from medical_assets.sample.benchgen import LETTERS, Benchmarks, bench_rows, build_benchmarks, deterministic_uuid
from medical_assets.sample.plants import THRESHOLD, BenchIndex, PlantFactory, ngrams, plant_problem

SEED = 20240611
SAMPLE_DIR = Path(__file__).resolve().parent
FLAG_RATE = 0.03  # incomplete, short_prompt, many_wait: each about 3% of a file's rows
PARQUET_ROW_GROUP = 512
OT2 = "openthoughts2.jsonl"
BAD_ROWS = {37: "missing_conversations", 149: "int_value", 262: "empty_value", 351: "invalid_utf8"}
WAIT_RE = re.compile(r"\bwait\b", re.IGNORECASE)


@dataclass(frozen=True)
class FileSpec:
    """One mock source file: size, domain mix and which flags it can carry."""

    name: str
    rows: int
    domains: dict[str, float]
    plant_rate: float = 0.0
    incomplete: bool = True
    short: bool = True
    many_wait: bool = True
    mcq: bool = False  # prompts are "question + A..D options" (m23k)
    zh: bool = False


MIXED = {"medical": .25, "biology": .15, "math": .20, "code": .15, "chemistry": .10, "physics": .08, "general": .07}
SPECS: tuple[FileSpec, ...] = (
    FileSpec("synthetic1_sft.jsonl", 400, MIXED, plant_rate=0.04),
    FileSpec("generalthought.parquet", 500, {"medical": .22, "biology": .18, "math": .20, "chemistry": .10,
                                             "physics": .10, "code": .10, "general": .10}, plant_rate=0.04),
    FileSpec("am_r1.jsonl", 400, {"medical": .25, "biology": .15, "math": .20, "code": .15, "general": .10,
                                  "chemistry": .08, "physics": .07}, plant_rate=0.04),
    FileSpec(OT2, 400, {"medical": .20, "biology": .25, "math": .15, "chemistry": .15, "physics": .15,
                        "code": .05, "general": .05}, plant_rate=0.04),
    FileSpec("nemotron_science.jsonl", 300, {"medical": .30, "biology": .40, "chemistry": .18, "physics": .12},
             plant_rate=0.04),
    FileSpec("dolphin_r1.jsonl", 250, {"medical": .25, "biology": .10, "general": .25, "math": .15, "code": .15,
                                       "chemistry": .05, "physics": .05}, plant_rate=0.04),
    FileSpec("servicenow_r1.jsonl", 250, {"math": 1.0}),
    FileSpec("medical_r1_distill.json", 250, {"medical": 1.0}, plant_rate=0.08),
    FileSpec("medical_r1_distill_zh.json", 120, {"medical": 1.0}, short=False, many_wait=False, zh=True),
    FileSpec("m23k.parquet", 200, {"medical": 1.0}, plant_rate=0.08, short=False, mcq=True),
    FileSpec("light_r1.json", 150, {"math": 1.0}),
)
SEED_FILES: tuple[tuple[str, int, Callable[[random.Random], dict]], ...] = (
    ("medmcqa_seed.jsonl", 150, S.medmcqa_seed_row),
    ("medqa_seed.jsonl", 80, S.medqa_seed_row),
    ("medreason_seed.jsonl", 80, S.medreason_seed_row),
)


@dataclass
class Trace:
    """One generated trace row, before it is put into a file's layout."""

    domain: str
    prompt: str
    reasoning: str  # "" when the row has no reasoning (nemotron reasoning off)
    answer: str  # "" when the generation is incomplete
    final: str
    flags: list[str] = field(default_factory=list)
    plant: dict | None = None
    options: list[str] | None = None  # m23k rows
    answer_idx: int | None = None
    reasoning_on: bool = True
    steps: list[str] = field(default_factory=list)  # the problem's own reasoning steps (reference solutions)

    @property
    def incomplete(self) -> bool:
        return "incomplete" in self.flags

    @property
    def wait_count(self) -> int:
        return T.count_waits(self.reasoning)


# ------------------------------------------------------------------------ trace rows


def allot(rng: random.Random, n: int, weights: dict[str, float]) -> list[str]:
    """n domain labels with counts proportional to weights (largest remainder), shuffled."""
    raw = {d: n * w / sum(weights.values()) for d, w in weights.items()}
    counts = {d: int(v) for d, v in raw.items()}
    for d in sorted(raw, key=lambda d: (counts[d] - raw[d], d))[: n - sum(counts.values())]:
        counts[d] += 1
    labels = [d for d in weights for _ in range(counts[d])]
    rng.shuffle(labels)
    return labels


def assign_flags(rng: random.Random, spec: FileSpec, domains: list[str], reserved: set[int]) -> dict[int, str]:
    """Row -> one of plant / incomplete / short_prompt / many_wait (disjoint, exact counts)."""
    n = len(domains)
    free = [i for i in range(n) if i not in reserved]
    rng.shuffle(free)
    flags: dict[int, str] = {}
    medical = [i for i in free if domains[i] == "medical"]
    for i in medical[: round(spec.plant_rate * n)]:
        flags[i] = "plant"
    rest = [i for i in free if i not in flags]
    wanted = [("incomplete", spec.incomplete), ("short_prompt", spec.short), ("many_wait", spec.many_wait)]
    for flag, enabled in wanted:
        if enabled:
            for i in rest[: round(FLAG_RATE * n)]:
                flags[i] = flag
            rest = rest[round(FLAG_RATE * n):]
    return flags


def clean_problem(rng: random.Random, spec: FileSpec, domain: str, index: BenchIndex) -> tuple[T.Problem, T.MCQ | None]:
    """A fresh training problem whose prompt shares no word 10-gram with any benchmark text."""
    for _ in range(50):
        if spec.mcq:
            mcq = T.training_mcq(rng)
            prompt = mcq.question + "\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(mcq.options))
            problem = T.mcq_problem(rng, mcq, prompt)
        else:
            mcq, problem = None, T.make_problem(rng, domain)
        if not index.hits_any(problem.prompt):
            return problem, mcq
    raise RuntimeError(f"could not build a clean {domain} prompt for {spec.name}")


def short_prompt(rng: random.Random, domain: str) -> T.Problem:
    choices = [(p, f) for p, d, f in V.SHORT_PROMPTS if d == domain] or [(p, f) for p, _, f in V.SHORT_PROMPTS]
    prompt, final = T.pick(rng, choices)
    return T.short_problem(rng, prompt, domain, final)


def make_trace(rng: random.Random, spec: FileSpec, domain: str, flag: str | None, factory: PlantFactory,
               index: BenchIndex) -> Trace:
    """Build one row's prompt, reasoning and answer according to its flag."""
    plant, mcq = None, None
    if flag == "plant":
        p = factory.next(options_required=spec.mcq)
        problem, plant = plant_problem(p), p.truth
        if spec.mcq:
            mcq = T.MCQ(p.item.question, [v.strip() for v in p.item.options.values()],
                        LETTERS.index(p.item.answer_idx), p.item.topic, [])
    elif flag == "short_prompt":
        problem = short_prompt(rng, domain)
    else:
        problem, mcq = clean_problem(rng, spec, domain, index)
    if flag == "many_wait":
        reasoning = T.build_reasoning(rng, problem, rng.randint(3000, 6500), rng.randint(50, 120), many=True)
    else:
        reasoning = T.build_reasoning(rng, problem, T.target_length(rng), T.wait_count_for(rng))
    answer = problem.answer
    if flag == "incomplete":
        reasoning, answer = T.truncate(rng, reasoning), ""
    trace = Trace(domain, problem.prompt, reasoning, answer, problem.final,
                  flags=[flag] if flag in ("incomplete", "short_prompt", "many_wait") else [], plant=plant,
                  steps=list(problem.steps))
    if mcq is not None:
        trace.options, trace.answer_idx = mcq.options, mcq.answer_idx
    return trace


def zh_trace(rng: random.Random, flag: str | None) -> Trace:
    question, reasoning, response = T.zh_problem(rng)
    flags = []
    if flag == "incomplete":
        cut = rng.randint(len(reasoning) // 3, 2 * len(reasoning) // 3)
        while cut > 1 and reasoning[cut - 1] in "。，、；：\n":
            cut -= 1
        reasoning, response, flags = reasoning[:cut], "", ["incomplete"]
    return Trace("medical", question, reasoning, response, "", flags=flags)


def build_file_traces(spec: FileSpec, scale: int, seed: int, factory: PlantFactory, index: BenchIndex) -> list[Trace]:
    rng = random.Random(f"{seed}:{spec.name}")
    n = spec.rows * scale
    domains = allot(rng, n, spec.domains)
    reserved = set(BAD_ROWS) if spec.name == OT2 else set()
    flags = assign_flags(rng, spec, domains, reserved)
    traces = []
    for i in range(n):
        if spec.zh:
            traces.append(zh_trace(rng, flags.get(i)))
        else:
            traces.append(make_trace(rng, spec, domains[i], flags.get(i), factory, index))
    if spec.name == "nemotron_science.jsonl":
        plain = [i for i, t in enumerate(traces) if not t.flags]
        for i in rng.sample(plain, round(0.15 * n)):
            traces[i].reasoning, traces[i].reasoning_on = "", False
    return traces


# --------------------------------------------------------------------------- layouts


def think(t: Trace, sep: str = "\n\n") -> str:
    """The assistant text with the reasoning in <think> tags (never closed when incomplete)."""
    if not t.reasoning_on:
        return t.answer
    if t.incomplete:
        return f"<think>\n{t.reasoning}"
    return f"<think>\n{t.reasoning}\n</think>{sep}{t.answer}"


def hexid(rng: random.Random, bits: int = 32) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def synthetic1_record(rng: random.Random, t: Trace, i: int) -> dict:
    task = {"math": "verifiable_math", "code": "code_output_prediction"}.get(
        t.domain, T.pick(rng, ("stackexchange_question_answering", "llm_judgeable_groundtruth_similarity")))
    score = 1.0 if t.domain in ("math", "code") and rng.random() < 0.8 else round(rng.uniform(0.4, 1.0), 2)
    return {"response_id": f"vfm_{hexid(rng)}_{hexid(rng)}", "problem_id": f"{task[:4]}_{rng.randint(1000, 999999)}",
            "task_type": task, "score": score,
            "messages": [{"content": t.prompt, "role": "user"}, {"content": think(t), "role": "assistant"}]}


GT_TASK = {"medical": "Medicine", "biology": "Biology", "chemistry": "Chemistry", "math": "Mathematics",
           "code": "Computer Science", "physics": "Physics", "general": "General"}
GT_OTHER_MODELS = ("Qwen/QwQ-32B-Preview", "Google/gemini-2.0-flash-thinking-exp-01-21", "open-r1/OpenR1-Qwen-7B")


def generalthought_record(rng: random.Random, t: Trace, i: int) -> dict:
    slug = "-".join(re.findall(r"[a-z0-9]+", t.prompt.lower())[:8]) or "question"
    return {"question_id": rng.randint(10_000, 9_999_999), "question_url": f"https://gr.inc/question/{slug}",
            "question_license": T.pick(rng, ("MIT", "CC BY-SA 4.0", "Apache-2.0", "CC BY 4.0")),
            "question_source": T.pick(rng, ("Meta/natural_reasoning", "RJT1990/GeneralThoughtArchive",
                                            "INFLYTECH/SCP-116K", "open-r1/OpenR1-Math-220k")),
            "question": t.prompt, "prev_messages": None,
            "reference_answer": t.final if rng.random() < 0.6 else "",
            "model_name": "DeepSeek/DeepSeek-R1" if rng.random() < 0.85 else T.pick(rng, GT_OTHER_MODELS),
            "model_reasoning": t.reasoning, "model_answer": t.answer, "task": GT_TASK[t.domain],
            "community_answer_score": float(rng.randint(-1, 5)) if rng.random() < 0.5 else None,
            "community_question_score": float(rng.randint(-1, 5)) if rng.random() < 0.5 else None,
            "verifier_score": round(rng.random(), 2) if rng.random() < 0.6 else None}


AM_SOURCES = {"math": ("MATH", "NuminaMath_1.5", "big_math"), "code": ("codeio", "OpenCoderStage2"),
              "general": ("InfinityInstruct",)}


def am_record(rng: random.Random, t: Trace, i: int) -> dict:
    source = T.pick(rng, AM_SOURCES.get(t.domain, ("natural_reasoning", "InfinityInstruct")))
    ref = t.final if t.domain in ("math", "chemistry", "physics") else None
    content = f"<think>\n{t.reasoning}" if t.incomplete else \
        f"<think>\n{t.reasoning}\n</think>\n<answer>\n{t.answer}\n</answer>"
    return {"messages": [
        {"role": "user", "content": t.prompt, "info": {"source": source, "reference_answer": ref, "test_case": None}},
        {"role": "assistant", "content": content,
         "info": {"source": "am-0309", "think_content": t.reasoning, "answer_content": t.answer,
                  "reference_answer": None, "test_case": None, "instruction_constrain": None}}]}


OT2_SOURCES = {"math": ("automath", "nvidia_math"), "biology": ("camelai",),
               "chemistry": ("camelai", "organic-chemistry-questions"), "physics": ("camelai", "stackexchange-physics"),
               "medical": ("camelai", "sharegpt"), "code": ("sharegpt",), "general": ("sharegpt",)}


def ot2_record(rng: random.Random, t: Trace, i: int) -> dict:
    return {"conversations": [{"from": "user", "value": t.prompt}, {"from": "assistant", "value": think(t)}],
            "question": t.prompt, "source": T.pick(rng, OT2_SOURCES[t.domain]), "id": 100_000 + 7 * i}


def nemotron_record(rng: random.Random, t: Trace, i: int) -> dict:
    on = t.reasoning_on
    return {"input": [{"role": "user", "content": t.prompt}], "output": think(t), "category": "science",
            "license": "cc-by-4.0", "reasoning": "on" if on else "off", "generator": "DeepSeek-R1",
            "used_in_training": "yes", "version": "v1",
            "system_prompt": "detailed thinking on" if on else "detailed thinking off"}


def dolphin_record(rng: random.Random, t: Trace, i: int) -> dict:
    messages = [{"role": "system", "content": "You are a helpful assistant."}] if rng.random() < 0.5 else []
    messages.append({"role": "user", "content": t.prompt})
    return {"messages": messages, "reasoning": t.reasoning, "answer": t.answer}


SN_SOURCES = ("cn_k12", "olympiads", "synthetic_math", "orca_math", "amc_aime", "aops_forum", "synthetic_amc")


def servicenow_record(rng: random.Random, t: Trace, i: int) -> dict:
    final = t.final or "0"
    solution = " ".join(t.steps) + f"\n\nThus, the answer is $\\boxed{{{final}}}$."
    return {"id": f"{rng.getrandbits(48):012x}", "reannotated_assistant_content": think(t), "problem": t.prompt,
            "source": T.pick(rng, SN_SOURCES), "solution": solution, "verified": None, "quality_metrics": None}


def medical_r1_record(rng: random.Random, t: Trace, i: int) -> dict:
    return {"question": t.prompt, "reasoning (reasoning_content)": t.reasoning, "response (content)": t.answer}


def light_record(rng: random.Random, t: Trace, i: int) -> dict:
    return {"conversations": [{"from": "user", "value": t.prompt}, {"from": "assistant", "value": think(t)}]}


M23K_SOURCES = ("openlifescienceai/medmcqa", "GBaker/MedQA-USMLE-4-options", "UCSC-VLAA/MedReason")
M23K_DOMAINS = (("C01", "Infections"), ("C04", "Neoplasms"), ("C06", "Digestive System Diseases"),
                ("C08", "Respiratory Tract Diseases"), ("C10", "Nervous System Diseases"),
                ("C14", "Cardiovascular Diseases"), ("C19", "Endocrine System Diseases"),
                ("D27", "Chemical Actions and Uses"), ("G07", "Physiological Phenomena"))


def m23k_record(rng: random.Random, t: Trace, i: int) -> dict:
    letter = LETTERS[t.answer_idx]
    source = T.pick(rng, M23K_SOURCES)
    question = t.prompt.split("\nA. ")[0]
    if source == "openlifescienceai/medmcqa":
        meta: dict[str, Any] = {"id": deterministic_uuid(rng), "question": question, "opa": t.options[0],
                                "opb": t.options[1], "opc": t.options[2], "opd": t.options[3],
                                "cop": t.answer_idx, "choice_type": "single", "exp": None,
                                "subject_name": "Medicine", "topic_name": None}
    else:
        meta = {"question": question, "answer": t.options[t.answer_idx],
                "options": {LETTERS[k]: o for k, o in enumerate(t.options)},
                "meta_info": T.pick(rng, ("step1", "step2&3")), "answer_idx": letter}
    code, name = T.pick(rng, M23K_DOMAINS)
    distilled = f"The answer is {letter}. {t.options[t.answer_idx]}. \\boxed{{{letter}}}" if not t.incomplete else ""
    text = f"<|im_start|>user\n{t.prompt}<|im_end|>\n<|im_start|>assistant\n<|im_start|>think\n{t.reasoning}"
    if not t.incomplete:
        text += f"\n<|im_start|>answer\nAnswer: {distilled}<|im_end|>"
    return {"prompt": t.prompt, "reasoning": t.reasoning, "distilled_answer_string": distilled,
            "answer_letter": letter, "answer_idx": t.answer_idx, "answer_string": t.options[t.answer_idx],
            "source": source, "metadata": str(meta), "domain_code": code, "domain_name": name, "text": text}


RECORDERS: dict[str, Callable[[random.Random, Trace, int], dict]] = {
    "synthetic1_sft.jsonl": synthetic1_record, "generalthought.parquet": generalthought_record,
    "am_r1.jsonl": am_record, OT2: ot2_record, "nemotron_science.jsonl": nemotron_record,
    "dolphin_r1.jsonl": dolphin_record, "servicenow_r1.jsonl": servicenow_record,
    "medical_r1_distill.json": medical_r1_record, "medical_r1_distill_zh.json": medical_r1_record,
    "m23k.parquet": m23k_record, "light_r1.json": light_record,
}
PARQUET_SCHEMAS = {
    "generalthought.parquet": pa.schema([
        ("question_id", pa.int64()), ("question_url", pa.string()), ("question_license", pa.string()),
        ("question_source", pa.string()), ("question", pa.string()), ("prev_messages", pa.null()),
        ("reference_answer", pa.string()), ("model_name", pa.string()), ("model_reasoning", pa.string()),
        ("model_answer", pa.string()), ("task", pa.string()), ("community_answer_score", pa.float64()),
        ("community_question_score", pa.float64()), ("verifier_score", pa.float64())]),
    "m23k.parquet": pa.schema([
        ("prompt", pa.string()), ("reasoning", pa.string()), ("distilled_answer_string", pa.string()),
        ("answer_letter", pa.string()), ("answer_idx", pa.int64()), ("answer_string", pa.string()),
        ("source", pa.string()), ("metadata", pa.string()), ("domain_code", pa.string()),
        ("domain_name", pa.string()), ("text", pa.string())]),
}


def bad_line(record: dict, kind: str) -> bytes:
    """One deliberately broken openthoughts2 line."""
    record = json.loads(json.dumps(record))
    if kind == "missing_conversations":
        del record["conversations"]
    elif kind == "int_value":
        record["conversations"][0]["value"] = 40213
    elif kind == "empty_value":
        record["conversations"][0]["value"] = ""
    else:
        record["conversations"][0]["value"] = "@@BAD@@" + record["conversations"][0]["value"]
        return json.dumps(record, ensure_ascii=False).encode("utf-8").replace(b"@@BAD@@", b"\xff\xfe") + b"\n"
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


# --------------------------------------------------------------------------- writing


def dump_jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def dump_json(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_parquet(path: Path, records: list[dict], schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(records, schema=schema)
    pq.write_table(table, path, compression="zstd", compression_level=3, row_group_size=PARQUET_ROW_GROUP,
                   use_dictionary=True, write_statistics=True)


def write_source(out: Path, spec: FileSpec, traces: list[Trace], seed: int) -> None:
    rng = random.Random(f"{seed}:{spec.name}:layout")
    records = [RECORDERS[spec.name](rng, t, i) for i, t in enumerate(traces)]
    path = out / "sources" / spec.name
    if spec.name in PARQUET_SCHEMAS:
        write_parquet(path, records, PARQUET_SCHEMAS[spec.name])
    elif spec.name.endswith(".json"):
        write_bytes(path, dump_json(records))
    elif spec.name == OT2:
        lines = [bad_line(r, BAD_ROWS[i]) if i in BAD_ROWS else dump_jsonl([r]) for i, r in enumerate(records)]
        write_bytes(path, b"".join(lines))
    else:
        write_bytes(path, dump_jsonl(records))


def write_benchmarks(out: Path, bench: Benchmarks) -> None:
    write_bytes(out / "benchmarks" / "eval_data.json", dump_json({n: bench_rows(bench, n) for n in bench.huatuo_names}))
    write_bytes(out / "benchmarks" / "m1_eval_data.json", dump_json({n: bench_rows(bench, n) for n in bench.m1_names}))
    write_bytes(out / "benchmarks" / "healthbench_demo.jsonl", dump_jsonl(bench.healthbench))


def build_seeds(seed: int, index: BenchIndex) -> dict[str, list[dict]]:
    """Seed question rows, each regenerated until clean against the benchmarks."""
    out = {}
    for name, n, make in SEED_FILES:
        rng = random.Random(f"{seed}:{name}")
        rows = []
        while len(rows) < n:
            row = make(rng)
            if not index.hits_any(S.seed_prompt(name, row)):
                rows.append(row)
        out[name] = rows
    return out


def truth_rows(traces: dict[str, list[Trace]], seeds: dict[str, list[dict]]) -> list[dict]:
    rows = []
    for name, ts in traces.items():
        for i, t in enumerate(ts):
            flags = ["bad_row"] if name == OT2 and i in BAD_ROWS else list(t.flags)
            rows.append({"file": name, "row": i, "domain": t.domain, "flags": flags, "wait_count": t.wait_count,
                         "plant": t.plant})
    for name, rs in seeds.items():
        rows += [{"file": name, "row": i, "domain": "medical", "flags": [], "wait_count": 0, "plant": None}
                 for i in range(len(rs))]
    return rows


# -------------------------------------------------------------------------- checks


def verify(traces: dict[str, list[Trace]], seeds: dict[str, list[dict]], index: BenchIndex, bench: Benchmarks,
           full: bool) -> None:
    """Raise if a clean prompt could be mistaken for contamination, or a label is wrong."""
    clean: list[tuple[str, str]] = []
    for name, ts in traces.items():
        for i, t in enumerate(ts):
            where = f"{name}[{i}]"
            waits = len(WAIT_RE.findall(t.reasoning))
            if waits != t.wait_count:
                raise AssertionError(f"{where}: {waits} 'wait' words but {t.wait_count} 'Wait' markers")
            words = len(t.prompt.split())
            if not name.endswith("_zh.json") and ("short_prompt" in t.flags) != (words <= 3):
                raise AssertionError(f"{where}: {words}-word prompt vs flags {t.flags}")
            if t.plant is None:
                clean.append((where, t.prompt))
            else:
                _check_plant(where, t, bench)
    for name, rows in seeds.items():
        for i, row in enumerate(rows):
            clean += [(f"{name}[{i}]", S.seed_prompt(name, row)), (f"{name}[{i}]", row["question"])]
    for where, text in clean:
        if index.hits_any(text):
            raise AssertionError(f"{where}: clean prompt shares a word {10}-gram with a benchmark: {text[:80]!r}")
    if full:
        scores = cdist([t for _, t in clean], index.questions, scorer=fuzz.ratio, score_cutoff=THRESHOLD, workers=-1)
        hits = scores.nonzero()
        if len(hits[0]):
            r, c = int(hits[0][0]), int(hits[1][0])
            raise AssertionError(f"{clean[r][0]}: fuzz.ratio {scores[r, c]} with benchmark {index.questions[c][:80]!r}")
    malformed = [(n, i) for n in bench.huatuo_names for i, row in enumerate(bench_rows(bench, n))
                 if row["answer"] != row["options"][row["answer_idx"]]]
    if malformed != [bench.malformed]:
        raise AssertionError(f"expected exactly one malformed benchmark row, found {malformed}")


def _check_plant(where: str, t: Trace, bench: Benchmarks) -> None:
    item = bench.sets[t.plant["benchmark"]][t.plant["index"]]
    q = item.question
    score = round(float(fuzz.ratio(t.prompt, q)), 2)
    hit = not ngrams(t.prompt).isdisjoint(ngrams(q) | ngrams(q + "\n" + item.options_text()))
    if score != t.plant["fuzzy_score"] or hit != t.plant["ngram_hit"]:
        raise AssertionError(f"{where}: plant label disagrees with a re-measurement")


# --------------------------------------------------------------------------- summary


def summarize(out: Path, traces: dict[str, list[Trace]], seeds: dict[str, list[dict]], truth: list[dict],
              bench: Benchmarks, seconds: float) -> str:
    lines = [f"{'file':<45}{'rows':>7}{'bytes':>11}"]
    total = 0
    entries = [(f"sources/{n}", len(ts)) for n, ts in traces.items()]
    entries += [(f"sources/{n}", len(rs)) for n, rs in seeds.items()]
    entries += [("benchmarks/eval_data.json", sum(len(bench.sets[n]) for n in bench.huatuo_names)),
                ("benchmarks/m1_eval_data.json", sum(len(bench.sets[n]) for n in bench.m1_names)),
                ("benchmarks/healthbench_demo.jsonl", len(bench.healthbench)), ("truth.jsonl", len(truth))]
    for rel, rows in entries:
        size = (out / rel).stat().st_size
        total += size
        lines.append(f"{rel:<45}{rows:>7}{size:>11,}")
    lines.append(f"{'total':<45}{'':>7}{total:>11,}")
    flags = Counter(f for r in truth for f in r["flags"])
    lines.append("flags: " + ", ".join(f"{k}={v}" for k, v in sorted(flags.items())))
    plants = [r["plant"] for r in truth if r["plant"]]
    for kind in ("copy", "edit", "paraphrase"):
        ps = [p for p in plants if p["kind"] == kind]
        lines.append(f"plants {kind}: {len(ps)} (ngram_hit {sum(p['ngram_hit'] for p in ps)}, "
                     f"fuzzy>=90 {sum(p['fuzzy_score'] >= THRESHOLD for p in ps)}, "
                     f"neither {sum(not p['ngram_hit'] and p['fuzzy_score'] < THRESHOLD for p in ps)}, "
                     f"with_options {sum(p['with_options'] for p in ps)})")
    domains = Counter(r["domain"] for r in truth if not r["file"].endswith("_seed.jsonl"))
    lines.append("trace domains: " + ", ".join(f"{k}={v}" for k, v in sorted(domains.items())))
    lines.append(f"generated in {seconds:.1f}s")
    return "\n".join(lines)


def generate(out: Path, scale: int = 1, seed: int = SEED, check: bool = True) -> str:
    """Write every file under `out`; return the summary text."""
    start = time.perf_counter()
    bench = build_benchmarks(seed)
    index = BenchIndex(bench)
    factory = PlantFactory(seed, bench, index)
    traces = {spec.name: build_file_traces(spec, scale, seed, factory, index) for spec in SPECS}
    seeds = build_seeds(seed, index)
    if check:
        verify(traces, seeds, index, bench, full=scale == 1)
    for spec in SPECS:
        write_source(out, spec, traces[spec.name], seed)
    for name, rows in seeds.items():
        write_bytes(out / "sources" / name, dump_jsonl(rows))
    write_benchmarks(out, bench)
    truth = truth_rows(traces, seeds)
    write_bytes(out / "truth.jsonl", dump_jsonl(truth))
    return summarize(out, traces, seeds, truth, bench, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder (default: the package's sample/)")
    parser.add_argument("--scale", type=int, default=1, help="multiply the number of trace rows by K")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--no-check", action="store_true", help="skip the final cleanliness checks")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be >= 1")
    print(generate(args.out, args.scale, args.seed, check=not args.no_check))


if __name__ == "__main__":
    main()
