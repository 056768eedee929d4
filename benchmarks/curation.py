"""Curation benchmark: embedding, k-means and domain labelling, each against its baseline.

    .venv/bin/python benchmarks/curation.py [--embed-rows 4096] [--kmeans-rows 200000] [--clusters 2000]
        [--label-prompts 64] [--threads N] [--skip embed,kmeans,label]

In one run, on this machine:

(a) embedding: the `prompt_embeddings` asset materialized by Dagster on a
    source of `--embed-rows` demo prompts (its own timer: reading the source,
    encoding in chunks, the fixed-size float32 column, the Parquet write) vs
    `SentenceTransformer.encode` alone on the same texts with the same batch
    size; prompts/s and the asset's overhead in percent;
(b) k-means: `--kmeans-rows` x 384 unit vectors (drawn around `--clusters`
    random directions) into `--clusters` clusters: faiss spherical k-means as
    `prompt_clusters` runs it (20 iterations) vs scikit-learn's
    MiniBatchKMeans (batch 4096, its default stopping rule); seconds and the
    mean cosine similarity of rows to their centroid (higher is tighter);
(c) labelling: `LLM.choose` over the 7 domain labels on `--label-prompts`
    demo prompts in the labelling prompt, with the embedded SmolLM2: one
    batched call (the shared instructions computed once) vs one call per
    prompt without prefix reuse (the naive loop); exemplars/s, and whether
    both pick the same labels.

On a CPU shared with other busy processes, torch's default of one thread per
core can slow down 10-20x; `--threads 1` gives steadier numbers there.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import polars as pl


def demo_prompts(n: int) -> list[str]:
    """`n` prompts of the bundled R1 sources (repeated with a suffix when more are asked for)."""
    from medical_assets.resources.sources import SAMPLE_SOURCES

    frames = [pl.read_ndjson(SAMPLE_SOURCES / name, infer_schema_length=None)
              for name in ("am_r1.jsonl", "dolphin_r1.jsonl")]
    base = [m[0]["content"] for m in frames[0]["messages"]] + [m[-1]["content"] for m in frames[1]["messages"]]
    return [base[i % len(base)] + ("" if i < len(base) else f" (variant {i // len(base)})") for i in range(n)]


def bench_embedding(rows: int) -> None:
    import dagster as dg
    from sentence_transformers import SentenceTransformer

    from medical_assets.assets import curation
    from medical_assets.core.canonical import TRACE_SCHEMA, sample_id
    from medical_assets.resources.embedder import Embedder, packaged_model_path
    from medical_assets.resources.storage import Warehouse, WarehouseIOManager

    texts = demo_prompts(rows)
    with tempfile.TemporaryDirectory() as home:
        warehouse = Warehouse(home=home)
        source = curation.R1_SOURCES[0]
        traces = pl.DataFrame({"sample_id": [sample_id(source, t, "", "") for t in texts], "source": source,
                               "source_row": range(rows), "prompt": texts, "reasoning": "", "response": ""})
        warehouse.write("raw_traces", traces.select(
            pl.col(c).cast(t) if c in traces.columns else pl.lit(None, t).alias(c) for c, t in TRACE_SCHEMA.items()
        ), source)
        embedder = Embedder(device="cpu")
        embedder.encode(texts[:64])  # load the model and warm up
        result = dg.materialize(
            [curation.prompt_embeddings], partition_key=source, instance=dg.DagsterInstance.ephemeral(),
            resources={"warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse),
                       "embedder": embedder},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        asset_s = result.get_asset_materialization_events()[0].materialization.metadata["seconds"].value
    network = SentenceTransformer(packaged_model_path(), device="cpu")
    network.encode(texts[:64], batch_size=embedder.batch_size)
    started = time.perf_counter()
    network.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    raw_s = time.perf_counter() - started
    print(f"(a) embedding {rows:,} prompts (all-MiniLM-L6-v2, CPU, batch {embedder.batch_size})")
    print(f"    prompt_embeddings asset : {asset_s:7.2f} s  {rows / asset_s:8.1f} prompts/s")
    print(f"    SentenceTransformer     : {raw_s:7.2f} s  {rows / raw_s:8.1f} prompts/s")
    print(f"    asset overhead          : {100 * (asset_s / raw_s - 1):+.1f} %")


def bench_kmeans(rows: int, clusters: int) -> None:
    from sklearn.cluster import MiniBatchKMeans

    from medical_assets.core.clustering import spherical_kmeans

    rng = np.random.default_rng(0)
    directions = rng.normal(size=(clusters, 384)).astype(np.float32)
    vectors = directions[rng.integers(0, clusters, rows)] + 0.9 * rng.normal(size=(rows, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ours = spherical_kmeans(vectors, clusters, seed=1234, niter=20, gpu=False)
    ours_tightness = float(1 - ours.distance.mean())
    started = time.perf_counter()
    baseline = MiniBatchKMeans(n_clusters=clusters, batch_size=4096, random_state=0, n_init=1).fit(vectors)
    baseline_s = time.perf_counter() - started
    centroids = baseline.cluster_centers_ / np.linalg.norm(baseline.cluster_centers_, axis=1, keepdims=True)
    baseline_tightness = float((vectors * centroids[baseline.labels_]).sum(axis=1).mean())
    print(f"(b) k-means {rows:,} x 384 -> {clusters:,} clusters")
    print(f"    faiss ({ours.backend}, 20 iter)   : {ours.seconds:7.1f} s  mean cos to centroid {ours_tightness:.4f}")
    print(f"    sklearn MiniBatchKMeans    : {baseline_s:7.1f} s  mean cos to centroid {baseline_tightness:.4f}")
    print(f"    speed-up                   : {baseline_s / ours.seconds:.1f}x")


def bench_labelling(prompts: int) -> None:
    from medical_assets.core.clustering import DOMAINS, domain_prompt
    from medical_assets.resources.llm import LLM

    conversations = [domain_prompt(t, 400) for t in demo_prompts(prompts)]
    batched, naive = LLM(device="cpu", batch_size=16), LLM(device="cpu", batch_size=1, share_prefix=False)
    batched.choose(conversations[:2], DOMAINS)  # load and warm up
    started = time.perf_counter()
    many = batched.choose(conversations, DOMAINS)
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    one_by_one = [naive.choose([c], DOMAINS)[0] for c in conversations]
    naive_s = time.perf_counter() - started
    agree = sum(max(a, key=a.get) == max(b, key=b.get) for a, b in zip(many, one_by_one))
    print(f"(c) domain labels of {prompts} exemplars (SmolLM2-135M, transformers on CPU, 7 labels)")
    print(f"    batched, shared prefix     : {batched_s:7.1f} s  {prompts / batched_s:6.2f} exemplars/s")
    print(f"    one call per exemplar      : {naive_s:7.1f} s  {prompts / naive_s:6.2f} exemplars/s")
    print(f"    speed-up                   : {naive_s / batched_s:.1f}x; same label {agree}/{prompts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embed-rows", type=int, default=4096)
    parser.add_argument("--kmeans-rows", type=int, default=200_000)
    parser.add_argument("--clusters", type=int, default=2_000)
    parser.add_argument("--label-prompts", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: embed, kmeans, label")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    print(f"curation benchmark on {os.cpu_count()} CPU cores\n")
    if "embed" not in skip:
        bench_embedding(args.embed_rows)
    if "kmeans" not in skip:
        bench_kmeans(args.kmeans_rows, args.clusters)
    if "label" not in skip:
        bench_labelling(args.label_prompts)


if __name__ == "__main__":
    main()
