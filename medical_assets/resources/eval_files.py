"""Where the benchmark files are read from.

- "demo": the files bundled in `medical_assets/sample/benchmarks/`;
- "harness": a folder holding the public harness's `eval_data.json` and
  `m1_eval_data.json` (HuatuoGPT-o1 / m1 repositories);
- "hub": II-Medical-Evaluation's hub datasets, `<hub_org>/Medical-Eval-<name>`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg

from medical_assets.core.ingest import UnreadableSource
from medical_assets.eval_sets import EvalSet

SAMPLE_BENCHMARKS = Path(__file__).resolve().parent.parent / "sample" / "benchmarks"


class EvalFiles(dg.ConfigurableResource):
    """The benchmark files: bundled demo files, a harness folder, or hub datasets."""

    mode: str = "demo"  # "demo" | "harness" | "hub"
    directory: str | None = None  # for "harness"
    hub_org: str | None = None  # for "hub"
    healthbench_file: str | None = None  # HealthBench JSONL; the bundled demo file in "demo" mode

    def healthbench_path(self) -> Path | None:
        if self.healthbench_file:
            return Path(self.healthbench_file).resolve()
        return SAMPLE_BENCHMARKS / "healthbench_demo.jsonl" if self.mode == "demo" else None

    def healthbench_examples(self) -> list[dict[str, Any]]:
        """The HealthBench rows (`prompt`, `rubrics`, `example_tags`, `prompt_id`, ...) in file order."""
        path = self.healthbench_path()
        if path is None:
            return []
        examples = []
        for line_number, line in enumerate(path.open(encoding="utf-8"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row["prompt"], list) or not isinstance(row["rubrics"], list):
                    raise TypeError("prompt and rubrics must be lists")
                str(row["prompt_id"])
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise UnreadableSource(f"{path}: line {line_number} is not a HealthBench row ({error})") from error
            examples.append(row)
        return examples

    def healthbench_turns(self) -> list[dict[str, str]]:
        """Every user turn of the HealthBench conversations, as decontamination questions."""
        return [{"benchmark": "healthbench", "question_id": f"healthbench:{row['prompt_id']}:{i}", "question": m["content"]}
                for row in self.healthbench_examples() for i, m in enumerate(row["prompt"]) if m.get("role") == "user"]

    def origin(self, spec: EvalSet) -> str:
        if self.mode == "demo":
            return str(SAMPLE_BENCHMARKS / spec.harness_file)
        if self.mode == "harness":
            if not self.directory:
                raise ValueError("EvalFiles(mode='harness') needs `directory`, the folder of eval_data.json")
            return str(Path(self.directory).resolve() / spec.harness_file)
        if self.mode == "hub":
            if not self.hub_org:
                raise ValueError("EvalFiles(mode='hub') needs `hub_org`, the owner of the Medical-Eval-* datasets")
            return f"{self.hub_org}/{spec.hub_name}:{spec.hub_split}"
        raise ValueError(f"EvalFiles.mode must be 'demo', 'harness' or 'hub', not {self.mode!r}")

    def rows(self, spec: EvalSet) -> list[Any]:
        """The benchmark's rows as the file holds them (a bare list in a file is one benchmark)."""
        origin = self.origin(spec)
        if self.mode == "hub":
            import datasets

            return list(datasets.load_dataset(origin.split(":")[0], split=spec.hub_split))
        path = Path(origin)
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UnreadableSource(f"{path}: no such file") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UnreadableSource(f"{path}: not a JSON file ({error})") from error
        if isinstance(content, list):
            return content
        if not isinstance(content, dict) or spec.harness_name not in content:
            names = list(content) if isinstance(content, dict) else type(content).__name__
            raise UnreadableSource(f"{path}: no benchmark named {spec.harness_name!r} (found: {names})")
        return content[spec.harness_name]
