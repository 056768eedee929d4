"""Reading source files: every record is either parsed or reported, never skipped."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from medical_assets.core.ingest import UnreadableSource, normalize_stream
from medical_assets.core.layouts import Unparsed
from medical_assets.resources.sources import SourceCatalog, apply_overrides, read_local
from medical_assets.sources import source_spec
from medical_assets_tests.conftest import write_jsonl

GOOD = {"conversations": [{"from": "user", "value": "Explain the Frank-Starling law."},
                          {"from": "assistant", "value": "<think>preload</think>Stroke volume rises with preload."}]}


def test_jsonl_invalid_utf8_line_is_reported_with_its_byte(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [GOOD, b'{"conversations": "caf\xff\xfe"}', GOOD])
    records = list(read_local(path))
    assert [row for row, _ in records] == [0, 1, 2]
    bad = records[1][1]
    assert isinstance(bad, Unparsed)
    assert bad.reason.startswith("not valid UTF-8 (byte 22")
    assert "caf\ufffd" in bad.text


def test_jsonl_bad_json_and_blank_lines_are_reported(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [GOOD, b"{truncated", b"", GOOD])
    reasons = [r.reason if isinstance(r, Unparsed) else "ok" for _, r in read_local(path)]
    assert reasons[0] == reasons[3] == "ok"
    assert reasons[1].startswith("not valid JSON")
    assert reasons[2] == "empty line"


def test_json_array_is_streamed(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps([GOOD, GOOD, {"x": 1.5}]))
    assert [r for _, r in read_local(path)] == [GOOD, GOOD, {"x": 1.5}]


def test_json_file_holding_jsonl_is_read_as_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "s.json", [GOOD, GOOD])
    assert len(list(read_local(path))) == 2


def test_parquet_rows_come_in_order(tmp_path):
    path = tmp_path / "s.parquet"
    pl.DataFrame({"question": ["a", "b", "c"], "n": [1, 2, 3]}).write_parquet(path)
    assert [(row, r["question"]) for row, r in read_local(path)] == [(0, "a"), (1, "b"), (2, "c")]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "absent.jsonl", "absent.jsonl: no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: _write(d / "s.csv", b"a,b\n"), "unknown file type '.csv'"),
        (lambda d: _write(d / "s.parquet", b"PAR1 this is not parquet"), "s.parquet: not a readable Parquet file"),
        (lambda d: _write(d / "s.json", b'[{"a": 1}, {"a": '), "s.json: not a valid JSON array after 1 items"),
    ],
)
def test_unreadable_file_names_the_file_and_the_fault(tmp_path, make, message):
    with pytest.raises(UnreadableSource, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(read_local(make(tmp_path)))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_binary_garbage_fails_the_source_instead_of_rejecting_every_row(tmp_path):
    path = _write(tmp_path / "s.jsonl", (bytes(range(11, 256)) + b"\n") * 20)
    layout = source_spec("openthoughts2").layout
    with pytest.raises(UnreadableSource, match=r"s.jsonl: none of its .* records could be read"):
        list(normalize_stream(read_local(path), layout, "openthoughts2", str(path), chunk_rows=100))


def test_many_unparseable_leading_lines_stop_the_source_early(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [b"<html>"] * 1500 + [GOOD])
    layout = source_spec("openthoughts2").layout
    with pytest.raises(UnreadableSource, match="none of the first 1,000 records could be read"):
        list(normalize_stream(read_local(path), layout, "openthoughts2", str(path), chunk_rows=1000))


def test_empty_file_is_an_error(tmp_path):
    path = _write(tmp_path / "s.jsonl", b"")
    layout = source_spec("openthoughts2").layout
    with pytest.raises(UnreadableSource, match="no records"):
        list(normalize_stream(read_local(path), layout, "openthoughts2", str(path), chunk_rows=10))


def test_chunks_never_exceed_chunk_rows(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [GOOD] * 25)
    layout = source_spec("openthoughts2").layout
    sizes = [k.height + r.height for k, r in normalize_stream(read_local(path), layout, "o", str(path), chunk_rows=10)]
    assert sizes == [10, 10, 5]


def test_overrides_replace_paths_and_merge_layouts(tmp_path):
    overrides = tmp_path / "o.yaml"
    overrides.write_text("generalthought_medical:\n  path: /data/gt.parquet\n  layout:\n"
                         "    keep_if: {task: [Medicine, Health]}\n")
    spec = SourceCatalog(overrides_file=str(overrides)).spec("generalthought_medical")
    assert spec.path == "/data/gt.parquet"
    assert spec.layout.keep_if == {"task": ("Medicine", "Health")}
    assert spec.layout.reasoning == "model_reasoning"


def test_unknown_override_key_is_refused():
    with pytest.raises(ValueError, match="unknown override keys \\['colums'\\]"):
        apply_overrides(source_spec("m23k"), {"colums": {}})


def test_hub_mode_names_the_hub_dataset():
    catalog = SourceCatalog(mode="hub")
    assert catalog.origin(source_spec("nemotron_science")) == "nvidia/Llama-Nemotron-Post-Training-Dataset/SFT:science"
    assert catalog.origin(source_spec("light_r1")) == "qihoo360/Light-R1-SFTData:train [stage1-76k.json]"


def test_hub_reader_streams_a_dataset_folder(tmp_path, monkeypatch):
    """The hub path is `datasets.load_dataset(..., streaming=True)`; a local dataset folder takes
    the same code path offline."""
    import dataclasses

    from medical_assets.resources.sources import read_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "openthoughts-like"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", [GOOD, GOOD, GOOD])
    spec = dataclasses.replace(source_spec("openthoughts2"), hub_id=str(folder))
    records = list(read_hub(spec))
    assert [row for row, _ in records] == [0, 1, 2]
    assert records[0][1]["conversations"][0]["value"] == "Explain the Frank-Starling law."
