"""Where the benchmark files are read from.

- "demo": the files bundled in `medical_assets/sample/benchmarks/`;
- "harness": a folder holding the public harness's `eval_data.json` and
  `m1_eval_data.json` (HuatuoGPT-o1 / m1 repositories);
- "hub": II-Medical-Evaluation's hub datasets, `<hub_org>/Medical-Eval-<name>`.

A harness file is `{benchmark name: [rows]}`; a bare list is accepted only in a
file that holds one benchmark. Anything else (a benchmark that is a string, an
object, a number or null; bytes that are not UTF-8; invalid JSON) is an
`UnreadableSource` naming the file, the benchmark or the line, and the fix; a
UTF-8 byte order mark is skipped. The HealthBench JSONL is read line by line:
a line that cannot be read is reported, to be rejected with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Literal

import dagster as dg
from pydantic import Field

from medical_assets.core.ingest import UnreadableSource
from medical_assets.eval_sets import EVAL_SETS, EvalSet
from medical_assets.resources.sources import _unparsed_line

BOM = b"\xef\xbb\xbf"  # the UTF-8 byte order mark some editors write at the start of a file

SAMPLE_BENCHMARKS = Path(__file__).resolve().parent.parent / "sample" / "benchmarks"


class EvalFiles(dg.ConfigurableResource):
    """The benchmark files: bundled demo files, a harness folder, or hub datasets."""

    mode: Literal["demo", "harness", "hub"] = Field(
        default="demo", description="demo: the bundled files; harness: a folder of eval_data.json and "
        "m1_eval_data.json; hub: II-Medical-Evaluation's Medical-Eval-* datasets.")
    directory: str | None = Field(default=None, description="harness: the folder holding eval_data.json and "
                                  "m1_eval_data.json.")
    hub_org: str | None = Field(default=None, description="hub: the owner of the Medical-Eval-* datasets.")
    healthbench_file: str | None = Field(default=None, description="The HealthBench JSONL (main, hard or consensus); "
                                         "None: the bundled demo file in demo mode, no HealthBench otherwise.")

    def healthbench_path(self) -> Path | None:
        if self.healthbench_file:
            return Path(self.healthbench_file).resolve()
        return SAMPLE_BENCHMARKS / "healthbench_demo.jsonl" if self.mode == "demo" else None

    def healthbench_records(self) -> Iterator[tuple[int, Any]]:
        """`(line, record)` of the HealthBench JSONL, 1-based lines in file order, nothing when no file
        is configured. A line that cannot be read (bad bytes, bad JSON, blank) is an `Unparsed` with
        the reason, to be rejected like any malformed row; a UTF-8 byte order mark is skipped."""
        path = self.healthbench_path()
        if path is None:
            return
        if not path.is_file():
            raise UnreadableSource(f"{path}: no such file; set MEDICAL_ASSETS_HEALTHBENCH_FILE to the HealthBench "
                                   "JSONL (EvalFiles(healthbench_file=...))")
        with path.open("rb") as handle:
            for line, raw in enumerate(handle, start=1):
                raw = raw.removeprefix(BOM) if line == 1 else raw
                # The record readers' line parser: the record, or an `Unparsed` saying why not.
                yield line, _unparsed_line(raw.rstrip(b"\r\n"))

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
        """The benchmark's rows as the file holds them; the file's shape is checked, not guessed:
        `{name: [rows]}`, or a bare list where the file holds this benchmark only."""
        origin = self.origin(spec)
        if self.mode == "hub":
            import datasets

            return list(datasets.load_dataset(origin.split(":")[0], split=spec.hub_split))
        path = Path(origin)
        return benchmark_rows(read_json(path), path, spec)


def read_json(path: Path) -> Any:
    """The parsed JSON file (a UTF-8 byte order mark is skipped); `UnreadableSource` naming the
    byte or line at fault otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableSource(f"{path}: no such file") from None
    try:
        text = data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        offset = error.start + (len(BOM) if data.startswith(BOM) else 0)
        line = data.count(b"\n", 0, offset) + 1
        raise UnreadableSource(f"{path}: not valid UTF-8 at line {line}, byte offset {offset} "
                               f"({data[offset:offset + 4]!r}); save the file as UTF-8 (from Latin-1: "
                               "iconv -f latin1 -t utf-8)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableSource(f"{path}: not valid JSON at line {error.lineno}, column {error.colno} ({error.msg}); "
                               "fix the file there, or download it again") from None


def _kind(value: Any) -> str:
    """How a JSON value reads in an error message: 'a string', 'an object', 'null', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    kinds = {str: "a string", dict: "an object", list: "a list", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def benchmark_rows(content: Any, path: Path, spec: EvalSet) -> list[Any]:
    """`spec`'s rows of a parsed harness file: `content[spec.harness_name]`, which must be a list;
    a bare list only where no other benchmark shares the file (it cannot say whose rows it holds)."""
    expected = f'{{"{spec.harness_name}": [{{"question": ..., "options": {{"A": ...}}, "answer_idx": "A"}}, ...]}}'
    if isinstance(content, list):
        sharing = sorted({s.harness_name for s in EVAL_SETS if s.harness_file == spec.harness_file} - {spec.harness_name})
        if sharing:
            raise UnreadableSource(f"{path}: a bare JSON list, but this file holds {len(sharing) + 1} benchmarks "
                                   f"({spec.harness_name}, {', '.join(sharing)}): write it as an object {expected}")
        return content
    if not isinstance(content, dict):
        raise UnreadableSource(f"{path}: the file is {_kind(content)}, expected an object of benchmark name -> "
                               f"list of rows, e.g. {expected}")
    if spec.harness_name not in content:
        raise UnreadableSource(f"{path}: no benchmark named {spec.harness_name!r} (found: {list(content)})")
    rows = content[spec.harness_name]
    if not isinstance(rows, list):
        raise UnreadableSource(f"{path}: benchmark {spec.harness_name!r} is {_kind(rows)}, expected a list of "
                               f"question rows: {expected}")
    return rows
