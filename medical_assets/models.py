"""The models under evaluation: a name (a partition of the `models` dynamic partitions)
and how to load it.

    python -m medical_assets.models add NAME [--model HUB_ID_OR_PATH] [--backend transformers|vllm|openai]
                                             [--dtype DTYPE] [--base-url URL] [--replace]
    python -m medical_assets.models list
    python -m medical_assets.models remove NAME
    python -m medical_assets.models partitions NAME   # its model x benchmark keys, for `dagster job backfill`

The registry is `models.yaml` in the data home (`MEDICAL_ASSETS_HOME`); `add` also adds
the partition to the Dagster instance of `$DAGSTER_HOME`, so it shows in the UI. A
partition added in the UI without a registry entry is read as a model id (hub id or
local path) on the transformers backend. `smollm2-135m-instruct`, the embedded
SmolLM2-135M-Instruct GGUF, is always known.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import dagster as dg
import yaml

from medical_assets.eval_sets import EVAL_SET_KEYS
from medical_assets.resources.embedded_model import GGUF_MODEL_NAME
from medical_assets.resources.llm import BACKENDS, BASE_URL_ENV, LLM
from medical_assets.resources.storage import default_home

MODELS_FILE = "models.yaml"
EMBEDDED_MODEL = "smollm2-135m-instruct"
_FORBIDDEN = ("|", ",", "[", "]", "\n", "\r", "\t")  # delimiters of multi-partition keys and of CLI lists

model_partitions = dg.DynamicPartitionsDefinition(name="models")


@dataclass(frozen=True)
class ModelSpec:
    """One model under evaluation; `model` None is the embedded SmolLM2 GGUF."""

    name: str
    model: str | None = None  # hub id, local path or checkpoint directory; the served name for openai
    backend: str = "transformers"
    dtype: str | None = None  # None: the LLM resource's (auto: bf16/fp16 on GPU, fp32 on CPU)
    base_url: str | None = None  # openai: the server, e.g. http://localhost:8000/v1

    @property
    def model_id(self) -> str:
        return self.model or GGUF_MODEL_NAME

    def llm(self, configured: LLM) -> LLM:
        """The LLM resource for this model: device, batching, retries... from `configured`;
        model, backend (and dtype, base_url when set) from the spec."""
        fields = {name: getattr(configured, name) for name in LLM.model_fields}
        fields |= {"model": self.model, "backend": self.backend}
        fields |= {name: value for name, value in (("dtype", self.dtype), ("base_url", self.base_url)) if value}
        return LLM(**fields)

    def validate(self) -> ModelSpec:
        bad = [c for c in _FORBIDDEN if c in self.name]
        if not self.name.strip() or bad or self.name != self.name.strip():
            raise ValueError(f"model name {self.name!r} cannot be a partition key: use a non-empty name without "
                             f"surrounding spaces or any of {' '.join(map(repr, _FORBIDDEN))}")
        if self.backend not in BACKENDS:
            raise ValueError(f"model {self.name!r}: backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.backend != "transformers" and not self.model:
            raise ValueError(f"model {self.name!r}: the {self.backend} backend needs --model (a hub id or checkpoint "
                             "directory; for openai, the name the server serves)")
        if self.base_url and self.backend != "openai":
            raise ValueError(f"model {self.name!r}: base_url is for the openai backend, not {self.backend}")
        return self


BUILTIN = {EMBEDDED_MODEL: ModelSpec(EMBEDDED_MODEL)}


def looks_like_a_path(model: str) -> bool:
    """A local path rather than a hub id (`org/name` or `name`)."""
    return model.startswith(("/", "./", "../", "~")) or model.count("/") > 1 or Path(model).expanduser().exists()


def check_loadable(spec: ModelSpec) -> ModelSpec:
    """What can be checked before any run: a local path exists and is a checkpoint directory;
    the openai backend knows its server. A hub id is checked when it is loaded."""
    if spec.backend == "openai":
        if not (spec.base_url or os.environ.get(BASE_URL_ENV)):
            raise ValueError(f"model {spec.name!r}: the openai backend needs the server's URL: --base-url "
                             f"http://host:8000/v1 (or set {BASE_URL_ENV})")
        return spec
    if spec.model and looks_like_a_path(spec.model):
        path = Path(spec.model).expanduser()
        if not path.exists():
            raise ValueError(f"model {spec.name!r}: {spec.model} does not exist; give an existing checkpoint "
                             "directory or a hub id (org/name)")
        if path.is_dir() and not (path / "config.json").exists():
            raise ValueError(f"model {spec.name!r}: {spec.model} is not a checkpoint directory (no config.json)")
    return spec


def loaded_revision(llm: LLM) -> str | None:
    """What version of the model answered: its hub revision (known once loaded), or the
    embedded GGUF's file hash; None for a local checkpoint or a server."""
    info = llm.describe()
    return info.get("revision") or (info.get("sha256") or "")[:16] or None


def registry_path(home: Path | str | None = None) -> Path:
    return (Path(home) if home else default_home()) / MODELS_FILE


def read_models(home: Path | str | None = None) -> dict[str, ModelSpec]:
    """The registered models, the built-in embedded model first."""
    path = registry_path(home)
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    models = dict(BUILTIN)
    for name, fields in (entries or {}).items():
        try:
            models[str(name)] = ModelSpec(name=str(name), **(fields or {})).validate()
        except TypeError as error:
            raise ValueError(f"{path}: entry {name!r} is not a model spec ({error}); fields: model, backend, "
                             "dtype, base_url") from error
    return models


def model_spec(name: str, home: Path | str | None = None) -> ModelSpec:
    """The spec registered under `name`; an unregistered name is a model id on the transformers backend."""
    return read_models(home).get(name) or ModelSpec(name=name, model=name)


def register_model(spec: ModelSpec, instance: dg.DagsterInstance, home: Path | str | None = None,
                   replace: bool = False) -> ModelSpec:
    """Record the spec in the registry and add its partition to `instance` (both idempotent),
    after checking that it can be loaded (see `check_loadable`)."""
    check_loadable(spec.validate())
    models = read_models(home)
    known = models.get(spec.name)
    if known is not None and known != spec and not replace:
        raise ValueError(f"model {spec.name!r} is already registered as {known}; pick another name, or replace it "
                         "(`add --replace`): its stored responses will not be reused under the new spec")
    if known != spec:
        models[spec.name] = spec
        _write_registry(models, home)
    if not instance.has_dynamic_partition(model_partitions.name, spec.name):
        instance.add_dynamic_partitions(model_partitions.name, [spec.name])
    return spec


def remove_model(name: str, instance: dg.DagsterInstance, home: Path | str | None = None) -> None:
    """Drop the registry entry and the partition (stored tables stay under the data home)."""
    models = read_models(home)
    if name in models and name not in BUILTIN:
        del models[name]
        _write_registry(models, home)
    if instance.has_dynamic_partition(model_partitions.name, name):
        instance.delete_dynamic_partition(model_partitions.name, name)


def evaluation_partitions(name: str) -> list[dg.MultiPartitionKey]:
    """The model's partitions of eval_responses / benchmark_scores: one per benchmark."""
    return [dg.MultiPartitionKey({"model": name, "benchmark": benchmark}) for benchmark in EVAL_SET_KEYS]


def _write_registry(models: dict[str, ModelSpec], home: Path | str | None) -> None:
    path = registry_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {name: {k: v for k, v in asdict(spec).items() if k != "name" and v is not None}
               for name, spec in models.items() if name not in BUILTIN or spec != BUILTIN[name]}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(yaml.safe_dump(entries, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def _instance() -> dg.DagsterInstance:
    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit("DAGSTER_HOME is not set: point it at the Dagster instance (make sets data/dagster)")
    return dg.DagsterInstance.get()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m medical_assets.models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="register a model and add its partition")
    add.add_argument("name")
    add.add_argument("--model", default=None, help="hub id, local path or checkpoint directory "
                     "(default: the name itself, or the embedded GGUF for smollm2-135m-instruct)")
    add.add_argument("--backend", default="transformers", choices=BACKENDS)
    add.add_argument("--dtype", default=None)
    add.add_argument("--base-url", default=None, help="openai backend: the server's URL, with /v1")
    add.add_argument("--replace", action="store_true", help="replace an existing entry of that name")
    commands.add_parser("list", help="registered models and the instance's model partitions")
    remove = commands.add_parser("remove", help="unregister a model and delete its partition")
    remove.add_argument("name")
    keys = commands.add_parser("partitions", help="the model's model x benchmark partition keys, comma-separated")
    keys.add_argument("name")
    args = parser.parse_args(argv)

    if args.command == "add":
        model = args.model or (None if args.name in BUILTIN else args.name)
        spec = ModelSpec(args.name, model, args.backend, args.dtype, args.base_url)
        try:
            register_model(spec, _instance(), replace=args.replace)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from None
        print(f"registered {spec} in {registry_path()}; partition {spec.name!r} added")
    elif args.command == "list":
        instance = _instance()
        partitions = set(instance.get_dynamic_partitions(model_partitions.name))
        models = read_models()
        for name, spec in models.items():
            print(f"{name}\t{spec.backend}\t{spec.model_id}" + ("" if name in partitions else "\t(no partition yet)"))
        for name in sorted(partitions - set(models)):
            print(f"{name}\ttransformers\t{name}\t(partition only: read as a model id)")
    elif args.command == "remove":
        remove_model(args.name, _instance())
        print(f"removed {args.name!r}")
    else:
        print(",".join(evaluation_partitions(args.name)))


if __name__ == "__main__":
    main(sys.argv[1:])
