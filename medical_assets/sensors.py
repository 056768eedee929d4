"""Sensors: a source file dropped in the drop folder starts its ingestion; a new training
checkpoint is registered as a model and evaluated on every benchmark; a run whose process
died is marked failed.

The first two are stopped until turned on (UI: Automation, or `dagster sensor start <name>`);
`dead_run_sensor` runs from the start. Their ticks need the daemon that `make ui` (`dagster
dev`) starts.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import dagster as dg

from medical_assets.eval_sets import EVAL_SET_KEYS
from medical_assets.models import ModelSpec, evaluation_partitions, read_models, register_model
from medical_assets.resources.sources import DROP_SUFFIXES, SourceCatalog
from medical_assets.resources.storage import Warehouse
from medical_assets.sources import SOURCE_NAMES

PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")  # copies still being written
CHECKPOINT_ASSETS = ("sft_checkpoint", "dapo_checkpoint")


def _signature(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_mtime_ns}:{stat.st_size}"


@dg.sensor(job_name="ingest_sources", minimum_interval_seconds=30)
def source_drop_sensor(context: dg.SensorEvaluationContext, catalog: SourceCatalog) -> dg.SensorResult:
    """Ingest a source again when a file named after it (`<source>.jsonl|.ndjson|.json|.parquet`)
    appears or changes in the drop folder (MEDICAL_ASSETS_DROP_DIR, default <home>/drop): one
    `ingest_sources` run for that source partition, which reads the dropped file. Copy a large
    file under a hidden or `.part` name and rename it when complete."""
    if not catalog.drop_dir:
        return dg.SensorResult(skip_reason="no drop folder: set MEDICAL_ASSETS_DROP_DIR")
    folder = Path(catalog.drop_dir)
    if not folder.is_dir():
        return dg.SensorResult(cursor=context.cursor, skip_reason=f"drop folder {folder} does not exist: "
                               "create it, or set MEDICAL_ASSETS_DROP_DIR")
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current: dict[str, str] = {}
    requests, problems = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix in PARTIAL_SUFFIXES or not path.is_file():
            continue
        if path.suffix not in DROP_SUFFIXES:
            problems.append(f"{path.name}: not a source file type ({', '.join(DROP_SUFFIXES)})")
            continue
        if path.stem not in SOURCE_NAMES:
            problems.append(f"{path.name}: {path.stem!r} names no source; known sources: {', '.join(SOURCE_NAMES)}")
            continue
        try:
            catalog.dropped_file(path.stem)
        except ValueError as error:  # two files for one source
            problems.append(str(error))
            continue
        signature = current[path.name] = _signature(path)
        if seen.get(path.name) != signature:
            requests.append(dg.RunRequest(
                run_key=f"{path.name}:{signature}",
                partition_key=path.stem,
                tags={"medical_assets/dropped_file": str(path.resolve()), "medical_assets/file_signature": signature},
            ))
    problems = sorted(set(problems))
    cursor = json.dumps(current, sort_keys=True)
    if requests:
        for problem in problems:
            context.log.warning(f"{folder}: {problem}")
        return dg.SensorResult(run_requests=requests, cursor=cursor)
    reason = f"{folder}: " + "; ".join(problems) if problems else f"no new or changed source file in {folder}"
    return dg.SensorResult(skip_reason=reason, cursor=cursor)


def checkpoint_model(stage: str, record: dg.EventLogRecord, home: Path) -> ModelSpec | None:
    """The model spec of a checkpoint materialization: `<stage>-<run id prefix>` (or
    `<stage>-<UTC time>` for an event reported without a run) on the transformers backend;
    the name already registered for the same checkpoint directory is kept. None without a
    `checkpoint_path` in the metadata."""
    value = record.asset_materialization.metadata.get("checkpoint_path")
    if value is None:
        return None
    checkpoint = str(Path(str(value.value)).resolve())
    for spec in read_models(home).values():
        if spec.model == checkpoint and spec.backend == "transformers":
            return spec
    suffix = record.run_id[:8] if record.run_id else time.strftime("%Y%m%d-%H%M%S", time.gmtime(record.timestamp))
    return ModelSpec(name=f"{stage}-{suffix}", model=checkpoint).validate()


def evaluate_new_checkpoints(context: dg.MultiAssetSensorEvaluationContext, warehouse: Warehouse):
    """When `sft_checkpoint` or `dapo_checkpoint` materializes, register its `checkpoint_path` as a
    model (`sft-<run id>` / `dapo-<run id>` in models.yaml and the `models` partitions) and request
    `evaluate_model` for it on each of the ten benchmarks, once per model."""
    requests = []
    for key in context.asset_keys:
        stage = key.path[-1].removesuffix("_checkpoint")
        for record in context.materialization_records_for_key(key, limit=100):
            spec = checkpoint_model(stage, record, warehouse.root)
            problem = "no checkpoint_path metadata" if spec is None else None
            if spec is not None:
                try:
                    register_model(spec, context.instance, warehouse.root)
                except ValueError as error:  # the checkpoint was deleted, or is not one
                    problem = str(error)
            if problem:
                context.log.warning(f"{key.to_user_string()} materialization {record.storage_id} (run "
                                    f"{record.run_id or 'none'}): {problem}; not evaluated")
            else:
                context.log.info(f"registered {spec.name} = {spec.model}; evaluating on {len(EVAL_SET_KEYS)} "
                                 "benchmarks")
                requests += [
                    dg.RunRequest(run_key=f"{spec.name}|{partition}", partition_key=partition,
                                  tags={"medical_assets/checkpoint": spec.model})
                    for partition in evaluation_partitions(spec.name)
                ]
            context.advance_cursor({key: record})
    return requests or dg.SkipReason("no new checkpoint materialization")


with warnings.catch_warnings():
    # Declarative automation supersedes multi-asset sensors except for side effects, and
    # registering the model is one.
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    checkpoint_evaluation_sensor = dg.multi_asset_sensor(
        name="checkpoint_evaluation_sensor",
        monitored_assets=[dg.AssetKey(name) for name in CHECKPOINT_ASSETS],
        job_name="evaluate_model",
        minimum_interval_seconds=60,
    )(evaluate_new_checkpoints)


def _process_started_at(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), or None if there is no such process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:  # Linux: a PID reused by a later process started after the run did
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return 0.0  # alive, start time unknown


def _run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The PID of the process that executes the run: the first engine event that names one."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        metadata = entry.dagster_event.event_specific_data.metadata if entry.dagster_event else {}
        if "pid" in metadata and str(metadata["pid"].value).isdigit():
            return int(metadata["pid"].value)
    return None


def fail_dead_runs(instance: dg.DagsterInstance, min_age_s: float = 60) -> list[str]:
    """Mark failed every STARTED run (older than `min_age_s`) whose run worker process is gone,
    and return their ids. Dagster's run monitoring does this for launchers that can check their
    workers (Kubernetes, Docker); the local run launcher and in-process runs cannot, so a run
    killed with `kill -9` would stay STARTED. Runs of other machines are out of its sight: the
    check applies only with the local run launcher."""
    if type(instance.run_launcher).__name__ != "DefaultRunLauncher":
        return []
    failed = []
    now = time.time()
    for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        started = record.start_time or record.create_timestamp.timestamp()
        pid = _run_worker_pid(instance, record.dagster_run.run_id)
        if pid is None or now - started < min_age_s:
            continue
        process_start = _process_started_at(pid)
        if process_start is None or process_start > started + 1:
            instance.report_run_failed(record.dagster_run, f"its run worker process (pid {pid}) is gone: it was "
                                       "killed or crashed. Materialize again: a step's tables are committed "
                                       "whole, so nothing of the killed run is visible.")
            failed.append(record.dagster_run.run_id)
    return failed


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Runs whose process died (killed, out of memory) are marked failed instead of staying STARTED."""
    failed = fail_dead_runs(context.instance)
    for run_id in failed:
        context.log.warning(f"run {run_id}: its process is gone; marked failed")
    return dg.SkipReason(f"marked {len(failed)} dead runs failed" if failed else "no dead run")


SENSORS = [source_drop_sensor, checkpoint_evaluation_sensor, dead_run_sensor]
