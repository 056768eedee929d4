"""Scale benchmark of the data stages: every stage from ingestion to `sft_mix`, each in its own
process, on a generated corpus at two sizes; wall time, peak RSS and rows per stage, and how the
peak memory grows with the input.

    .venv/bin/python benchmarks/scale.py [--rows 100000,400000] [--row-chars 20000] [--embedder tiny]
                                         [--file-factor light_r1.json=4] [--stages raw_traces,...]
                                         [--clusters 32] [--per-cluster 2] [--out scale.json] [--keep]

The corpus. `--rows N` is the number of R1 trace rows in total across the seven curated R1
source files (the demo's 2,500 per `--scale` unit). The corpus is made by the demo generator
(`medical_assets/sample/generate.py`) with its own pieces: the same benchmarks, plant factory and
per-file trace builder, each file at `round(rows_in_demo x N / 2,500)` rows, so that for N a
multiple of 2,500 the traces are exactly those of `generate --scale N/2500` (flags, plants, bad
lines and domains at the demo's rates; the public medical and math files scale with the same
factor, or with `--file-factor FILE=K` times that: e.g. light_r1.json=4 gives the math source
4 x its demo share at both sizes, so that math_traces' 15,000-row sample is drawn from more rows
than it keeps at both, as from the real Light-R1 set; seed sets and benchmarks keep their size).
Each trace's reasoning is then padded to a row length drawn uniformly in [0.5, 1.5] x
`--row-chars` (prompt + reasoning + answer), with the generator's own kind of text: its domain
and generic filler sentences and the problem's own steps (the Chinese rows: sentences of their
own reasoning), never a "Wait", inserted after the first paragraph, so an unclosed `<think>` stays
unclosed and the Wait counts, flags and prompts (what the filters and decontamination read) are
those the generator made. The padding is seeded per file
(deterministic). Rows without reasoning (Nemotron `reasoning: off`) are not padded. Padding
happens on the generator's traces before they are put into the files' layouts, and every file is
written as a stream (JSONL lines, JSON array items, Parquet row groups of 512) rather than with
`generate()`, which builds each file in memory: at 400,000 rows x 20,000 characters that is
~12 GB of text. The generator's final cleanliness checks are skipped (they check the unpadded
demo; the prompts are the generator's own, made clean by construction). Every source is pointed
at its file with MEDICAL_ASSETS_SOURCE_OVERRIDES (`path`), with MEDICAL_ASSETS_SOURCES=hub so
that no bundled demo file, and no demo-only check against the bundled truth, is read (nothing is
downloaded: every source has a path); the benchmarks are the generated ones (harness mode).

The stages. For each size, in a fresh data home and DAGSTER_HOME, every stage runs as its own
child process (this script with `--child-stage`), which loads `medical_assets.definitions` and
materializes that selection (and partition) with `execute_in_process` as `demo.py`'s `_run` does,
with the demo's kind of run config: `prompt_clusters` n_clusters `--clusters` (32),
`cluster_exemplars` per_cluster `--per-cluster` (2), so the labeller (exemplar_domains: the
embedded SmolLM2-135M by default) labels 64 exemplars whatever the corpus size; the synthetic
stages tiny (2 seed questions per set, 1 attempt of 16 tokens). The other stages keep their
defaults (math sample 15,000, the card's caps). `source_summary` and `contamination_report` are
left out (audit summaries off the path to `sft_mix`). Each child reports the materialization's
own seconds and its peak RSS, its VmHWM from /proc/self/status at the end (also right after the
imports, shown as "after imports": Dagster, Polars and the Definitions, the same in every stage).
Not getrusage: RUSAGE_CHILDREN is a running maximum over all children, and Linux carries the
RSS of the pre-exec image (the parent's, at fork) into a child's `ru_maxrss`; `os.wait4`'s is
kept only as the fallback for a child killed before it reports. The parent times the whole
process (wall, imports included) and counts the rows of the stage's table (Parquet footer).

Input: the text the stage reads, in GB. For raw_traces, the source file's records as JSON
(a JSONL file's size; a Parquet file's records as they would be in JSON); for the other stages, the
UTF-8 bytes of the prompt/reasoning/response/answer columns of the tables it reads (DuckDB over
the Parquet files), e.g. all R1 raw traces for prompt_clusters (whose vectors are made from them).
The memory slope is (peak RSS at size 2 - at size 1) / (input at size 2 - at size 1), MB per GB:
~0 for a stage that streams its rows. Stages whose input does not grow (benchmarks, seed sets,
the labelled exemplars) get no slope, and a slope marked * is measured below the stage's chunk
(raw_traces 10,000 rows, prompt_embeddings 8,192, sft_mix's token counts 4,096), where even a
chunked stage grows with its rows. The `kind` column and the legend under the table say which
stages hold corpus-wide state by design (read from the code: what each keeps in memory).

`--embedder tiny` (the default) embeds with a random-initialized one-layer BERT of MiniLM's
shape (384-d output, MiniLM's tokenizer, mean pooling, normalized; its position and segment
embeddings zeroed, so that unrelated prompts are at cosine ~0.2 as with a real model, not all at
~0.94, which would send every pair past semantic_matches' 0.75 floor), seeded, saved to the
temporary folder and set through MEDICAL_ASSETS_EMBEDDER_MODEL: prompt_embeddings and
semantic_matches then measure the pipeline, not the model. `--embedder minilm` uses the packaged all-MiniLM-L6-v2; any other
value is passed as the model (hub id or directory).

`--stages a,b` runs only the stages named (every partition of each), for a quicker look at a few:
name with them every stage whose tables they read (e.g. raw_traces,prompt_embeddings).

A child that fails stops that size (its error is printed and saved); `--keep` keeps the
temporary folder (corpus and data homes), otherwise each size's files are removed after it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
TEXT_COLUMNS = ("prompt", "reasoning", "response", "answer")
PAD_INSERT = "\n\n"
MIN_GROWTH = 0.2  # a slope only where the input grows by at least this share between the sizes

# ------------------------------------------------------------------------------------------- corpus


def make_corpus(out: Path, r1_rows: int, row_chars: int, seed: int,
                file_factors: dict[str, float] | None = None) -> dict:
    """Write sources/ and benchmarks/ under `out` (see the module docstring); per file: rows, bytes
    (as JSON records) and characters of prompt + reasoning + answer. `file_factors` multiplies the
    rows of the files it names."""
    import dataclasses
    import random

    from medical_assets.sample import generate as G
    from medical_assets.sample.benchgen import build_benchmarks
    from medical_assets.sample.plants import BenchIndex, PlantFactory
    from medical_assets.sources import SOURCES

    r1_files = {s.demo_file for s in SOURCES if s.part == "curated_r1"}
    per_unit = sum(spec.rows for spec in G.SPECS if spec.name in r1_files)
    factor = r1_rows / per_unit
    bench = build_benchmarks(seed)
    index = BenchIndex(bench)
    factory = PlantFactory(seed, bench, index)
    files: dict[str, dict] = {}
    for spec in G.SPECS:  # in the generator's order: the plant factory is shared and sequential
        rows = spec.rows * factor * (file_factors or {}).get(spec.name, 1)
        scaled = dataclasses.replace(spec, rows=max(1, round(rows)))
        traces = G.build_file_traces(scaled, 1, seed, factory, index)
        pad_rng = random.Random(f"{seed}:{spec.name}:pad")
        for trace in traces:
            pad_trace(pad_rng, trace, row_chars, spec.zh)
        files[spec.name] = write_file(out / "sources" / spec.name, spec.name, traces, seed)
        files[spec.name]["r1"] = spec.name in r1_files
        del traces
    for name, rows in G.build_seeds(seed, index).items():
        data = G.dump_jsonl(rows)
        G.write_bytes(out / "sources" / name, data)
        files[name] = {"rows": len(rows), "bytes": len(data), "text_chars": None, "r1": False}
    G.write_benchmarks(out, bench)
    return {"factor": factor, "file_factors": file_factors or {}, "r1_rows_per_scale_unit": per_unit, "files": files}


def _filler_pool(trace, zh: bool) -> tuple[str, ...]:
    """Sentences of the generator's kind for this trace, none with a "Wait"."""
    from medical_assets.sample import textgen as T

    if zh:
        pool = [s + "。" for s in trace.reasoning.replace("\n", "").split("。") if s.strip()]
    else:
        pool = [s for s in T.DOMAIN_FILLERS.get(trace.domain, ()) + T.GENERIC_FILLERS if "{" not in s]
        pool += [s for s in trace.steps if s.strip()]
    return tuple(s for s in pool if "wait" not in s.lower()) or tuple(T.GENERIC_FILLERS)


def pad_trace(rng, trace, row_chars: int, zh: bool) -> None:
    """Lengthen the reasoning to a row of about U(0.5, 1.5) x row_chars characters, in place."""
    if not trace.reasoning:
        return
    target = round(row_chars * rng.uniform(0.5, 1.5))
    need = target - len(trace.prompt) - len(trace.reasoning) - len(trace.answer)
    if need <= 0:
        return
    pool = _filler_pool(trace, zh)
    mean = sum(len(s) + 1 for s in pool) / len(pool)
    sentences = rng.choices(pool, k=max(1, math.ceil(need / mean)))
    sizes = rng.choices((2, 3, 4, 5), k=len(sentences) // 2 + 1)
    paragraphs, start = [], 0
    for size in sizes:
        if start >= len(sentences):
            break
        paragraphs.append(("" if zh else " ").join(sentences[start:start + size]))
        start += size
    pad = PAD_INSERT.join(paragraphs)
    head, sep, tail = trace.reasoning.partition(PAD_INSERT)
    trace.reasoning = f"{head}{PAD_INSERT}{pad}{PAD_INSERT}{tail}" if sep else f"{pad}{PAD_INSERT}{trace.reasoning}"


def write_file(path: Path, name: str, traces: list, seed: int) -> dict:
    """One source file in its layout, record by record (G.write_source's records, streamed)."""
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    from medical_assets.sample import generate as G

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{seed}:{name}:layout")
    record_of = G.RECORDERS[name]
    stats = {"rows": len(traces), "bytes": 0, "text_chars": 0}
    parquet_schema = G.PARQUET_SCHEMAS.get(name)
    writer = (pq.ParquetWriter(path, parquet_schema, compression="zstd", compression_level=3, use_dictionary=True)
              if parquet_schema is not None else None)
    batch: list[dict] = []
    with (open(os.devnull, "wb") if writer else path.open("wb")) as handle:
        if name.endswith(".json"):
            handle.write(b"[\n")
        for i, trace in enumerate(traces):
            record = record_of(rng, trace, i)
            stats["text_chars"] += len(trace.prompt) + len(trace.reasoning) + len(trace.answer)
            line = json.dumps(record, ensure_ascii=False).encode("utf-8")
            stats["bytes"] += len(line) + 1
            if writer is not None:
                batch.append(record)
                if len(batch) == G.PARQUET_ROW_GROUP:
                    writer.write_table(pa.Table.from_pylist(batch, schema=parquet_schema))
                    batch = []
            elif name.endswith(".json"):
                handle.write((b",\n" if i else b"") + line)
            elif name == G.OT2 and i in G.BAD_ROWS:
                handle.write(G.bad_line(record, G.BAD_ROWS[i]))
            else:
                handle.write(line + b"\n")
        if name.endswith(".json"):
            handle.write(b"\n]\n")
    if writer is not None:
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=parquet_schema))
        writer.close()
    return stats


def make_tiny_embedder(out: Path, seed: int = 0) -> Path:
    """A random-initialized one-layer BERT with MiniLM's tokenizer, pooling and 384-d output."""
    import torch
    from transformers import BertConfig, BertModel

    from medical_assets.resources.embedder import packaged_model_path

    packaged = Path(packaged_model_path())
    shutil.copytree(packaged, out, ignore=shutil.ignore_patterns("model.safetensors", "*.bin", "README.md"))
    config = BertConfig.from_pretrained(packaged)
    config.num_hidden_layers, config.num_attention_heads, config.intermediate_size = 1, 4, 384
    torch.manual_seed(seed)
    model = BertModel(config)
    with torch.no_grad():  # else every text gets nearly the same vector (cosine ~0.94): every pair would pass
        model.embeddings.position_embeddings.weight.zero_()  # semantic_matches' 0.75 floor; without them
        model.embeddings.token_type_embeddings.weight.zero_()  # unrelated prompts are at ~0.2, 1% >= 0.75
    model.save_pretrained(out)
    from sentence_transformers import SentenceTransformer

    dim = SentenceTransformer(str(out), device="cpu").get_embedding_dimension()
    if dim != 384:
        raise RuntimeError(f"tiny embedder has {dim} dimensions, not 384")
    return out


# ------------------------------------------------------------------------------------------- stages


@dataclass
class Stage:
    label: str
    selection: list[str]
    partition: str | None
    table: str  # whose rows are counted
    inputs: list[tuple]  # ("file", name) | ("table", name, [partitions] or None)
    state: str  # what the stage keeps in memory, by design
    constant: bool = False  # its input does not grow with the corpus

    @property
    def kind(self) -> str:
        return "constant" if self.constant else "corpus-wide" if self.state.startswith("corpus-wide") else "row-wise"


STREAMED = "row-wise: streamed"


def selected(plan: list[Stage], stages: list[str]) -> list[Stage]:
    """The stages whose name (the label without its partition) is in `stages`; all when it is empty."""
    return [stage for stage in plan if not stages or stage.label.split("[")[0] in stages]


def stage_plan() -> list[Stage]:
    # The partitions as the asset modules define them (curation.R1_SOURCES, parts.*, synthetic.SEED_SETS),
    # from the registry: the parent does not import Dagster or the assets.
    from medical_assets.eval_sets import EVAL_SET_KEYS
    from medical_assets.sources import SOURCES

    def part(name: str) -> list[str]:
        return [s.name for s in SOURCES if s.part == name]

    R1_SOURCES, PUBLIC_MEDICAL_SOURCES, MATH_SOURCES, SEED_SETS = (
        part("curated_r1"), part("public_medical"), part("math"), part("synthetic_qa"))

    r1 = ("table", "raw_traces", list(R1_SOURCES))
    plan = [Stage(f"raw_traces[{s.name}]", ["raw_traces", "raw_trace_rejects"], s.name, "raw_traces",
                  [("file", s.demo_file)],
                  "row-wise: chunks of 10k records or 50 MB of text, plus a set of 128-bit row hashes "
                  "(~100 B/row) for duplicates",
                  constant=s.part == "synthetic_qa") for s in SOURCES]
    plan += [Stage(f"prompt_embeddings[{s}]", ["prompt_embeddings"], s, "prompt_embeddings",
                   [("table", "raw_traces", [s])],
                   "row-wise: 8k-row chunks of prompts; the partition's row keys (~60 B/row)")
             for s in R1_SOURCES]
    plan += [
        Stage("prompt_clusters", ["prompt_clusters"], None, "prompt_clusters", [r1],
              "corpus-wide: every R1 embedding (1.5 KB/row, one float32 matrix) and its keys, for k-means"),
        Stage("cluster_exemplars", ["cluster_exemplars"], None, "cluster_exemplars", [r1],
              "corpus-wide: every R1 row's cluster and distance (~60 B/row); only the exemplars' prompts"),
        Stage("exemplar_domains", ["exemplar_domains"], None, "exemplar_domains",
              [("table", "cluster_exemplars", None)], "constant: clusters x per_cluster exemplars", constant=True),
        Stage("cluster_domains", ["cluster_domains"], None, "cluster_domains", [("table", "exemplar_domains", None)],
              "constant: one vote per exemplar", constant=True),
        Stage("domain_traces", ["domain_traces", "domain_rejects"], None, "domain_traces", [r1],
              f"{STREAMED} (lazy joins sunk to Parquet)"),
    ]
    plan += [Stage(f"synthetic_seed_questions[{s}]", ["synthetic_seed_questions", "synthetic_seed_rejects"], s,
                   "synthetic_seed_questions", [("table", "raw_traces", [s])], "constant: the seed set (fixed size)",
                   constant=True) for s in SEED_SETS]
    plan += [Stage(f"synthetic_traces[{s}]", ["synthetic_traces", "synthetic_attempts", "synthetic_rejects"], s,
                   "synthetic_traces", [("table", "synthetic_seed_questions", [s])],
                   "constant: 2 questions, the generator LLM", constant=True) for s in SEED_SETS]
    plan += [
        Stage("public_medical_traces", ["public_medical_traces"], None, "public_medical_traces",
              [("table", "raw_traces", list(PUBLIC_MEDICAL_SOURCES))],
              f"{STREAMED} (sink; row groups of 512 rows of text)"),
        Stage("math_traces", ["math_traces", "math_rejects"], None, "math_traces",
              [("table", "raw_traces", list(MATH_SOURCES))],
              "row-wise: the draw on the math rows' keys (~60 B/row); the drawn rows copied a row group at a time"),
        Stage("candidate_traces", ["candidate_traces"], None, "candidate_traces",
              [("table", "domain_traces", None), ("table", "public_medical_traces", None),
               ("table", "math_traces", None), ("table", "synthetic_traces", list(SEED_SETS))],
              f"{STREAMED} (concat sunk)"),
        Stage("quality_traces", ["quality_traces", "quality_rejects"], None, "quality_traces",
              [("table", "candidate_traces", None)],
              "row-wise: a row group at a time, kept rows and rejects in one pass; every row's Wait count "
              "collected for the percentile (8 B/row)"),
    ]
    plan += [Stage(f"eval_questions[{b}]", ["eval_questions", "eval_question_rejects"], b, "eval_questions", [],
                   "constant: one benchmark file", constant=True) for b in EVAL_SET_KEYS]
    quality = [("table", "quality_traces", None)]
    plan += [
        Stage("healthbench_examples", ["healthbench_examples", "healthbench_rejects"], None, "healthbench_examples",
              [], "constant: the HealthBench file", constant=True),
        Stage("ngram_matches", ["ngram_matches"], None, "ngram_matches", quality,
              "row-wise: the eval index and 200k candidate prompts at a time"),
        Stage("fuzzy_matches", ["fuzzy_matches"], None, "fuzzy_matches", quality,
              "row-wise: the eval index and 200k candidate prompts at a time"),
        Stage("semantic_matches", ["semantic_matches"], None, "semantic_matches", quality,
              "corpus-wide: every candidate's sample_id (~40 B/row); vectors and prompts a batch at a time"),
        Stage("decontaminated_traces", ["decontaminated_traces", "decontamination_rejects"], None,
              "decontaminated_traces", quality,
              "row-wise: a row group at a time, kept rows and rejects in one pass, beside one row per "
              "contaminated trace; re-check reads 2,000 sampled prompts"),
        Stage("sft_mix", ["sft_mix", "sft_mix_rejects", "sft_messages"], None, "sft_mix",
              [("table", "decontaminated_traces", None)],
              "corpus-wide: a hash and the keys per row (~80 B/row) for duplicates and caps; the rows "
              "ordered by an external bucket sort and tokenized 1,024 at a time"),
    ]
    return plan


def run_config(args) -> dict[str, dict]:
    return {
        "prompt_clusters": {"config": {"n_clusters": args.clusters}},
        "cluster_exemplars": {"config": {"per_cluster": args.per_cluster}},
        "exemplar_domains": {"config": {"max_prompt_chars": 400}},
        "synthetic_seed_questions": {"config": {"sample_size": 2}},
        "synthetic_traces": {"config": {"max_attempts": 1, "max_new_tokens": 16, "chunk_questions": 8}},
    }


def child_stage(spec: dict) -> None:
    """Materialize one selection against the project's Definitions (demo.py's `_run`)."""
    import dagster as dg

    from medical_assets.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.get()
    baseline_mb = _vm("VmHWM")
    peaks = RssPeaks()
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(name) for name in spec["selection"]],
        partition_key=spec["partition"], raise_on_error=False,
        run_config={**QUIET, "ops": spec["ops"]},
    )
    seconds = time.perf_counter() - started
    errors = [event.event_specific_data.error.message.strip()
              for event in result.all_events if event.is_step_failure and event.event_specific_data.error]
    failed_checks = [event.event_specific_data.check_name for event in result.all_events
                     if event.event_type_value == "ASSET_CHECK_EVALUATION"
                     and not event.event_specific_data.passed]
    peaks.stop()
    print("RESULT " + json.dumps({"success": result.success, "seconds": seconds, "baseline_mb": baseline_mb,
                                  "vm_hwm_mb": _vm("VmHWM"), "anon_peak_mb": peaks.peak["RssAnon"],
                                  "file_peak_mb": peaks.peak["RssFile"], "errors": errors,
                                  "failed_checks": failed_checks}))


class RssPeaks:
    """The highest anonymous and file-backed resident memory of this process, sampled every 20 ms.

    VmHWM counts both. File-backed pages are mostly the Parquet inputs that Polars memory-maps: clean
    page cache, which the kernel takes back under pressure, and which grows with the bytes read even
    when a stage streams. Anonymous memory (heap, buffers, arrays) is what a stage needs."""

    def __init__(self, interval: float = 0.02):
        self.peak = {"RssAnon": 0.0, "RssFile": 0.0}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def _sample(self, interval: float) -> None:
        while True:
            for key in self.peak:
                value = _vm(key)
                if value is not None and value > self.peak[key]:
                    self.peak[key] = value
            if self._done.wait(interval):
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _vm(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ------------------------------------------------------------------------------------------- measuring


def run_child(argv: list[str], env: dict, log: Path, timeout: float | None) -> tuple[int, float, float, dict | None]:
    """(exit code, wall s, peak RSS MB, its RESULT line) of one child process. The peak is the child's
    own VmHWM at its end (/proc/self/status: the high-water mark of the process image after exec);
    `ru_maxrss` from wait4 is only the fallback (a child killed before it reports), because Linux
    carries the pre-exec image's RSS into it, i.e. the parent's at fork time."""
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, __file__, *argv], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        if timer:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    result = None
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    peak = result.get("vm_hwm_mb") if result else None
    return proc.returncode, wall, peak if peak is not None else usage.ru_maxrss / 1024, result


def table_files(home: Path, table: str, partitions: list[str] | None) -> list[Path]:
    from medical_assets.resources.storage import partition_file_name

    tables = home / "tables"
    if partitions is not None:
        return [tables / table / partition_file_name(p) for p in partitions]
    single = tables / f"{table}.parquet"
    return [single] if single.exists() else sorted(p for p in (tables / table).glob("*.parquet") if p.exists())


def count_rows(home: Path, table: str, partition: str | None) -> int | None:
    import pyarrow.parquet as pq

    files = [f for f in table_files(home, table, [partition] if partition else None) if f.exists()]
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files) if files else None


def text_bytes(files: list[Path]) -> int:
    """UTF-8 bytes of the trace text columns of these Parquet files (DuckDB, streamed)."""
    import duckdb
    import pyarrow.parquet as pq

    total = 0
    with duckdb.connect(config={"memory_limit": "1GB", "threads": "2"}) as con:
        for f in files:
            names = pq.ParquetFile(f).schema_arrow.names
            columns = [c for c in TEXT_COLUMNS if c in names]
            if columns:
                sums = " + ".join(f'coalesce(sum(strlen("{c}")), 0)' for c in columns)
                total += con.execute(f"SELECT {sums} FROM read_parquet('{f}')").fetchone()[0]
    return int(total)


class Inputs:
    """Input text sizes, each table measured once per data home."""

    def __init__(self, home: Path, corpus: dict):
        self.home, self.corpus, self.cache = home, corpus, {}

    def gb(self, inputs: list[tuple]) -> float:
        total = 0
        for item in inputs:
            if item[0] == "file":
                total += self.corpus["files"][item[1]]["bytes"]
                continue
            _, table, partitions = item
            for f in table_files(self.home, table, partitions):
                if f not in self.cache:
                    self.cache[f] = text_bytes([f]) if f.exists() else 0
                total += self.cache[f]
        return total / 1e9


@dataclass
class Measured:
    label: str
    rows: int | None = None
    wall_s: float | None = None
    run_s: float | None = None
    peak_rss_mb: float | None = None
    peak_anon_mb: float | None = None
    peak_file_mb: float | None = None
    baseline_mb: float | None = None
    input_gb: float | None = None
    error: str | None = None
    failed_checks: list[str] = field(default_factory=list)


def measure_size(args, r1_rows: int, work: Path, embedder: str | None, embedder_note: str) -> dict:
    size_dir = work / f"rows-{r1_rows}"
    corpus_dir, home, logs = size_dir / "corpus", size_dir / "home", size_dir / "logs"
    (home / "dagster").mkdir(parents=True)
    logs.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster" / "dagster.yaml")
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
           "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM", "false")}
    code, wall, rss, corpus = run_child(["--child-corpus", str(corpus_dir), "--rows", str(r1_rows), "--row-chars",
                                         str(args.row_chars), "--seed", str(args.seed),
                                         *(f"--file-factor={f}" for f in args.file_factor)],
                                        env, logs / "corpus.log", None)
    if code != 0 or corpus is None:
        raise SystemExit(f"corpus generation failed (exit {code}); see {logs / 'corpus.log'}:\n"
                         + (logs / "corpus.log").read_text(errors="replace")[-3000:])
    files = corpus["files"]
    r1_total = sum(f["rows"] for f in files.values() if f["r1"])
    source_gb = sum(f["bytes"] for f in files.values()) / 1e9
    chars = [f["text_chars"] / f["rows"] for f in files.values() if f["text_chars"]]
    print(f"\n== {r1_rows:,} R1 rows requested: {r1_total:,} R1 rows written, "
          f"{sum(f['rows'] for f in files.values()):,} rows in all, {source_gb:.3f} GB of source records, "
          f"{sum(f['text_chars'] or 0 for f in files.values()) / sum(f['rows'] for f in files.values() if f['text_chars']):,.0f} "
          f"chars/row on average (files {min(chars):,.0f}-{max(chars):,.0f}); generated in {wall:.0f}s "
          f"(peak {rss:,.0f} MB): {corpus_dir}")
    overrides = size_dir / "sources.yaml"
    from medical_assets.sources import SOURCES

    overrides.write_text("".join(f"{s.name}:\n  path: {corpus_dir / 'sources' / s.demo_file}\n" for s in SOURCES))
    env |= {
        "MEDICAL_ASSETS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
        "MEDICAL_ASSETS_SOURCES": "hub", "MEDICAL_ASSETS_SOURCE_OVERRIDES": str(overrides),
        "MEDICAL_ASSETS_DROP_DIR": str(home / "drop"),
        "MEDICAL_ASSETS_EVAL_FILES": "harness", "MEDICAL_ASSETS_EVAL_DIR": str(corpus_dir / "benchmarks"),
        "MEDICAL_ASSETS_HEALTHBENCH_FILE": str(corpus_dir / "benchmarks" / "healthbench_demo.jsonl"),
    }
    if embedder:
        env["MEDICAL_ASSETS_EMBEDDER_MODEL"] = embedder
    else:
        env.pop("MEDICAL_ASSETS_EMBEDDER_MODEL", None)
    print(f"   embedder: {embedder_note}")
    ops = run_config(args)
    inputs = Inputs(home, corpus)
    measured: list[Measured] = []
    for stage in selected(stage_plan(), args.stages):
        spec = {"selection": stage.selection, "partition": stage.partition,
                "ops": {op: ops[op] for op in stage.selection if op in ops}}
        log = logs / (stage.label.replace("[", "_").replace("]", "") + ".log")
        m = Measured(stage.label, input_gb=inputs.gb(stage.inputs))
        code, m.wall_s, m.peak_rss_mb, result = run_child(["--child-stage", json.dumps(spec)], env, log,
                                                          args.stage_timeout or None)
        m.run_s = result["seconds"] if result else None
        m.baseline_mb = result["baseline_mb"] if result else None
        m.peak_anon_mb = result.get("anon_peak_mb") if result else None
        m.peak_file_mb = result.get("file_peak_mb") if result else None
        m.rows = count_rows(home, stage.table, stage.partition)
        m.failed_checks = result["failed_checks"] if result else []
        if code != 0 or not result or not result["success"]:
            tail = (log.read_text(errors="replace")[-2000:]).strip()
            m.error = "; ".join(result["errors"]) if result and result["errors"] else f"exit {code}: {tail}"
        measured.append(m)
        print(f"   {stage.label:<44} {m.rows if m.rows is not None else '-':>9} rows {m.wall_s:8.1f}s "
              f"(run {m.run_s or 0:7.1f}s)  peak {m.peak_rss_mb:8,.0f} MB (anonymous {m.peak_anon_mb or 0:6,.0f}, file-backed {m.peak_file_mb or 0:6,.0f}; "
              f"after imports {m.baseline_mb or 0:5,.0f})"
              f"  input {m.input_gb:8.4f} GB"
              + (f"  FAILED: {m.error[:300]}" if m.error else "")
              + (f"  failed checks: {m.failed_checks}" if m.failed_checks else ""), flush=True)
        if m.error:
            print(f"   stopping this size: {stage.label} failed (log: {log})")
            break
    return {"r1_rows_requested": r1_rows, "r1_rows": r1_total, "source_gb": source_gb, "corpus": corpus,
            "generation_s": wall, "stages": [asdict(m) for m in measured], "home": str(home), "logs": str(logs)}


def chunk_rows(row_chars: int) -> dict[str, int]:
    """Rows a stage holds at once when it works in chunks: below this, its memory grows with the rows.
    Ingestion's chunk closes at `chunk_rows` records or `chunk_bytes` bytes of text."""
    from medical_assets.assets.curation import EMBED_CHUNK_ROWS
    from medical_assets.assets.mix import MIX_BATCH_ROWS
    from medical_assets.resources.sources import SourceCatalog

    fields = SourceCatalog.model_fields
    ingest = min(fields["chunk_rows"].default, max(1, fields["chunk_bytes"].default // max(1, row_chars)))
    return {"raw_traces": ingest, "prompt_embeddings": EMBED_CHUNK_ROWS, "sft_mix": MIX_BATCH_ROWS}


def summary_rows(sizes: list[dict], row_chars: int, stages: list[str] = ()) -> list[dict]:
    plan = {stage.label: stage for stage in selected(stage_plan(), stages)}
    chunks = chunk_rows(row_chars)
    rows = []
    for label, stage in plan.items():
        per = [next((s for s in size["stages"] if s["label"] == label), None) for size in sizes]
        row = {"stage": label, "kind": stage.kind, "state": stage.state, "constant_input": stage.constant}
        chunk = chunks.get(label.split("[")[0])
        row["within_one_chunk"] = bool(chunk and per[0] and per[0]["rows"] is not None and per[0]["rows"] < chunk)
        for i, m in enumerate(per, start=1):
            for key in ("rows", "wall_s", "run_s", "peak_rss_mb", "peak_anon_mb", "peak_file_mb", "input_gb", "error"):
                row[f"{key}_{i}"] = m[key] if m else None
        row["delta_rss_mb"] = row["slope_mb_per_gb"] = row["delta_anon_mb"] = row["anon_slope_mb_per_gb"] = None
        if len(per) == 2 and all(m and m["peak_rss_mb"] is not None and not m["error"] for m in per):
            row["delta_rss_mb"] = per[1]["peak_rss_mb"] - per[0]["peak_rss_mb"]
            if all(m.get("peak_anon_mb") is not None for m in per):
                row["delta_anon_mb"] = per[1]["peak_anon_mb"] - per[0]["peak_anon_mb"]
            grown = per[1]["input_gb"] - per[0]["input_gb"]
            if not stage.constant and grown > 0 and grown >= MIN_GROWTH * per[0]["input_gb"]:
                row["slope_mb_per_gb"] = row["delta_rss_mb"] / grown
                if row["delta_anon_mb"] is not None:
                    row["anon_slope_mb_per_gb"] = row["delta_anon_mb"] / grown
        rows.append(row)
    return rows


def print_table(rows: list[dict], sizes: list[dict], row_chars: int) -> None:
    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    names = [f"{s['r1_rows']:,}" for s in sizes]
    print(f"\nPer stage, at {' and '.join(names)} R1 rows (each stage its own process). peak MB: its peak RSS "
          "(VmHWM); anon MB: its peak anonymous RSS (heap and buffers, without the page cache of memory-mapped "
          "input files, which the kernel takes back under pressure); MB/GB: growth of each per additional GB of input")
    header = (f"{'stage':<42}" + "".join(f"{'rows@' + n:>13}" for n in names) + "".join(f"{'wall s@' + str(i):>10}" for i in (1, 2))
              + "".join(f"{'peak MB@' + str(i):>11}" for i in (1, 2)) + "".join(f"{'anon MB@' + str(i):>11}" for i in (1, 2))
              + "".join(f"{'in GB@' + str(i):>10}" for i in (1, 2))
              + f"{'dRSS MB':>9}{'MB/GB':>8}{'dAnon MB':>10}{'MB/GB':>8}  kind")
    print(header)
    print("-" * len(header))
    for r in rows:
        star = "*" if r["within_one_chunk"] else ""
        slope = "const" if r["constant_input"] else fmt(r["slope_mb_per_gb"], ",.0f") + star
        anon_slope = "const" if r["constant_input"] else fmt(r.get("anon_slope_mb_per_gb"), ",.0f") + star
        failed = "  FAILED" if r.get("error_1") or r.get("error_2") else ""
        print(f"{r['stage']:<42}" + "".join(f"{fmt(r.get(f'rows_{i}'), ','):>13}" for i in (1, 2))
              + "".join(f"{fmt(r.get(f'wall_s_{i}'), '.1f'):>10}" for i in (1, 2))
              + "".join(f"{fmt(r.get(f'peak_rss_mb_{i}'), ',.0f'):>11}" for i in (1, 2))
              + "".join(f"{fmt(r.get(f'peak_anon_mb_{i}'), ',.0f'):>11}" for i in (1, 2))
              + "".join(f"{fmt(r.get(f'input_gb_{i}'), '.4f'):>10}" for i in (1, 2))
              + f"{fmt(r['delta_rss_mb'], '+,.0f'):>9}{slope:>8}{fmt(r.get('delta_anon_mb'), '+,.0f'):>10}"
              + f"{anon_slope:>8}  {r['kind']}{failed}")
    chunks = chunk_rows(row_chars)
    if any(r["within_one_chunk"] for r in rows):
        print("* the smaller size is below the stage's chunk (" + ", ".join(f"{k} {v:,} rows" for k, v in chunks.items())
              + "): its memory still grows within one chunk there, so this slope is not its plateau")
    print("\nWhat each stage keeps in memory, by design (read from the code):")
    seen: dict[str, list[str]] = {}
    for r in rows:
        seen.setdefault(r["state"], []).append(r["stage"].split("[")[0])
    for state, stages in seen.items():
        print(f"  {', '.join(dict.fromkeys(stages))}: {state}")
    print("Corpus-wide state by design: " + ", ".join(dict.fromkeys(
        r["stage"].split("[")[0] for r in rows if r["kind"] == "corpus-wide")))
    growing = [r for r in rows if r.get("anon_slope_mb_per_gb") is not None]
    if growing:
        print("\nPeak anonymous RSS per additional GB of input, largest first (~0 expected for row-wise stages):")
        for r in sorted(growing, key=lambda r: -r["anon_slope_mb_per_gb"])[:10]:
            mark = " (within one chunk at the smaller size)" if r["within_one_chunk"] else ""
            print(f"  {r['stage']:<42} {r['anon_slope_mb_per_gb']:>9,.0f} MB/GB  ({r['delta_anon_mb']:+,.0f} MB; "
                  f"peak RSS {r['delta_rss_mb']:+,.0f} MB)  {r['kind']}{mark}")


def parse_file_factors(parser: argparse.ArgumentParser, values: list[str]) -> dict[str, float]:
    """{file: factor} from `--file-factor FILE=K` values, each FILE one of the generator's source files."""
    from medical_assets.sample.generate import SPECS

    names, factors = {spec.name for spec in SPECS}, {}
    for value in values:
        name, sep, factor = value.partition("=")
        try:
            factors[name] = float(factor)
        except ValueError:
            factors[name] = -1.0
        if not sep or name not in names or factors[name] <= 0:
            parser.error(f"--file-factor {value!r}: expected FILE=K with K > 0 and FILE one of {', '.join(sorted(names))}")
    return factors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,400000", help="R1 rows in total at the two sizes (comma-separated)")
    parser.add_argument("--row-chars", type=int, default=20_000, help="mean characters per row after padding")
    parser.add_argument("--embedder", default="tiny", help="tiny (random 1-layer, 384-d), minilm (the packaged "
                        "all-MiniLM-L6-v2), or a sentence-transformers hub id / directory")
    parser.add_argument("--file-factor", action="append", default=[], metavar="FILE=K",
                        help="multiply one source file's rows by K at both sizes (repeatable), e.g. light_r1.json=4")
    parser.add_argument("--stages", type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
                        default=[], help="run only these stages, comma-separated (e.g. raw_traces,prompt_embeddings); "
                        "name every stage whose tables they read")
    parser.add_argument("--clusters", type=int, default=32, help="prompt_clusters n_clusters")
    parser.add_argument("--per-cluster", type=int, default=2, help="cluster_exemplars per_cluster (labeller work)")
    parser.add_argument("--seed", type=int, default=20240611, help="the generator's seed (its default)")
    parser.add_argument("--stage-timeout", type=float, default=0, help="kill a stage after this many seconds (0: none)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary folder is made")
    parser.add_argument("--out", type=Path, help="save the table (and every measurement) as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the corpora, data homes and logs")
    parser.add_argument("--child-stage", help=argparse.SUPPRESS)
    parser.add_argument("--child-corpus", help=argparse.SUPPRESS)
    parser.add_argument("--child-embedder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_stage:
        child_stage(json.loads(args.child_stage))
        return
    file_factors = parse_file_factors(parser, args.file_factor)
    known = dict.fromkeys(stage.label.split("[")[0] for stage in stage_plan())
    if unknown := [name for name in args.stages if name not in known]:
        parser.error(f"--stages: unknown {', '.join(unknown)}; the stages are {', '.join(known)}")
    if args.child_corpus:
        started = time.perf_counter()
        corpus = make_corpus(Path(args.child_corpus), int(args.rows), args.row_chars, args.seed, file_factors)
        print("RESULT " + json.dumps({**corpus, "seconds": time.perf_counter() - started, "vm_hwm_mb": _vm("VmHWM")}))
        return
    if args.child_embedder:
        make_tiny_embedder(Path(args.child_embedder))
        print("RESULT " + json.dumps({"vm_hwm_mb": _vm("VmHWM")}))
        return
    sizes_wanted = [int(r) for r in args.rows.split(",")]
    if len(sizes_wanted) != 2:
        parser.error("--rows takes two sizes, e.g. 100000,400000")
    work = Path(tempfile.mkdtemp(prefix="scale-bench-", dir=args.workdir))
    print(f"scale benchmark in {work}: {args.row_chars:,} chars per row on average, clusters {args.clusters}, "
          f"per_cluster {args.per_cluster}"
          + "".join(f", {name} x{k:g} its demo share" for name, k in file_factors.items()))
    if args.embedder == "tiny":
        embedder = str(work / "tiny-embedder")
        code, _, _, _ = run_child(["--child-embedder", embedder], os.environ.copy(), work / "tiny-embedder.log", None)
        if code != 0:
            raise SystemExit(f"making the tiny embedder failed: {(work / 'tiny-embedder.log').read_text()[-3000:]}")
        note = (f"tiny random-initialized 1-layer BERT, 384-d like MiniLM (its tokenizer), at {embedder}: "
                "prompt_embeddings and semantic_matches measure the pipeline, not the model")
    elif args.embedder == "minilm":
        embedder, note = None, "the packaged all-MiniLM-L6-v2 (the recipe's embedder)"
    else:
        embedder, note = args.embedder, f"{args.embedder}"
    labeller = os.environ.get("MEDICAL_ASSETS_LABELLER_MODEL") or "the embedded SmolLM2-135M-Instruct"
    print(f"labeller (exemplar_domains): {labeller}, on {args.clusters} clusters x {args.per_cluster} exemplars "
          f"= {args.clusters * args.per_cluster} prompts at every size (constant work, kept small on purpose); "
          "synthetic stages tiny (2 seed questions per set, 1 attempt of 16 tokens)")
    sizes = []
    try:
        for rows in sizes_wanted:
            sizes.append(measure_size(args, rows, work, embedder, note))
            if not args.keep:
                shutil.rmtree(work / f"rows-{rows}", ignore_errors=True)
    finally:
        if sizes:
            table = summary_rows(sizes, args.row_chars, args.stages) if len(sizes) == 2 else []
            if table:
                print_table(table, sizes, args.row_chars)
            if args.out:
                args.out.write_text(json.dumps({
                    "settings": {"rows": sizes_wanted, "row_chars": args.row_chars, "file_factors": file_factors,
                                 "embedder": note,
                                 "labeller": labeller, "clusters": args.clusters, "per_cluster": args.per_cluster,
                                 "seed": args.seed, "cpus": os.cpu_count()},
                    "table": table, "sizes": sizes}, indent=2))
                print(f"\nsaved {args.out}")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    failed = [s["label"] for size in sizes for s in size["stages"] if s["error"]]
    if failed or len(sizes) < 2:
        raise SystemExit(f"failed stages: {', '.join(failed) or 'none'}; sizes done: {len(sizes)} of 2")


if __name__ == "__main__":
    main()
