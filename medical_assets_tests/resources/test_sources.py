"""Reading source files: every record is either parsed or reported, never skipped."""

from __future__ import annotations

import codecs
import dataclasses
import json
import random
from pathlib import Path

import polars as pl
import pytest

from medical_assets.core.ingest import UnreadableSource, bounded_chunks, normalize_stream, record_bytes
from medical_assets.core.layouts import Unparsed, normalize_records
from medical_assets.resources.sources import SourceCatalog, apply_overrides, hub_arguments, read_hub, read_local
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


def test_utf8_bom_before_jsonl_keeps_row_0(tmp_path):
    path = _write(tmp_path / "s.jsonl", codecs.BOM_UTF8 + write_jsonl(tmp_path / "x", [GOOD, GOOD]).read_bytes())
    assert [r for _, r in read_local(path)] == [GOOD, GOOD]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_utf8_bom_before_a_json_array_is_read_as_the_array(tmp_path, suffix):
    path = _write(tmp_path / f"s{suffix}", codecs.BOM_UTF8 + json.dumps([GOOD, {"x": 1}], indent=2).encode())
    assert [r for _, r in read_local(path)] == [GOOD, {"x": 1}]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_json_object_spread_over_lines_is_refused_naming_the_file_and_its_keys(tmp_path, suffix):
    path = _write(tmp_path / f"s{suffix}", json.dumps({"data": [GOOD], "version": 2}, indent=2).encode())
    with pytest.raises(UnreadableSource) as error:
        read_local(path)
    message = str(error.value)
    assert message.startswith(f"{path}: holds one JSON object (keys: 'data', 'version')")
    assert "expected a JSON array of records" in message and "or JSONL" in message


def test_single_line_object_in_a_json_file_is_refused(tmp_path):
    path = _write(tmp_path / "s.json", codecs.BOM_UTF8 + json.dumps({"train": [GOOD]}).encode() + b"\n")
    with pytest.raises(UnreadableSource, match=r"s\.json: holds one JSON object \(keys: 'train'\) starting at byte 3"):
        read_local(path)


def test_jsonl_whose_first_line_is_a_whole_object_is_jsonl(tmp_path):
    assert [r for _, r in read_local(write_jsonl(tmp_path / "s.jsonl", [GOOD]))] == [GOOD]


def test_jsonl_with_a_broken_first_line_is_still_read_as_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [b'{"conversations": [', GOOD, GOOD])
    records = [r for _, r in read_local(path)]
    assert isinstance(records[0], Unparsed) and records[1:] == [GOOD, GOOD]


def test_parquet_under_a_json_name_is_read_by_its_magic_bytes(tmp_path):
    path = tmp_path / "s.jsonl"
    pl.DataFrame({"question": ["a", "b"]}).write_parquet(path)
    assert [r["question"] for _, r in read_local(path)] == ["a", "b"]


def test_damaged_parquet_data_names_the_file_and_the_rows(tmp_path):
    path = tmp_path / "s.parquet"
    pl.DataFrame({"question": [f"question {i} " * 40 for i in range(3000)]}).write_parquet(
        path, compression="uncompressed", row_group_size=1000)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 300] = b"\xab" * 300
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableSource, match=rf"{path}: Parquet data unreadable after row [\d,]+ \(rows .* of 3,000: "
                                               r".*\); the file is damaged: download or write it again"):
        list(read_local(path))


def test_parquet_rows_come_in_order(tmp_path):
    path = tmp_path / "s.parquet"
    pl.DataFrame({"question": ["a", "b", "c"], "n": [1, 2, 3]}).write_parquet(path)
    assert [(row, r["question"]) for row, r in read_local(path)] == [(0, "a"), (1, "b"), (2, "c")]


def test_a_parquet_source_of_wide_rows_is_read_a_few_row_groups_at_a_time(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from medical_assets.resources import sources

    path = tmp_path / "wide.parquet"
    rng = random.Random(0)
    rows = [{"n": i, "text": "".join(rng.choices("abcdefghij", k=20_000))} for i in range(1_000)]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=25, compression="none")  # 40 groups, 20 MB
    monkeypatch.setattr(sources, "PARQUET_BATCH_BYTES", 1_000_000)
    assert sources.parquet_batch_rows(pq.ParquetFile(path).metadata) in range(45, 51)  # 1 MB of 20 KB rows
    start, held = pa.total_allocated_bytes(), []
    for row, record in read_local(path):
        assert record == rows[row]
        held.append(pa.total_allocated_bytes() - start)
    assert len(held) == 1_000
    assert max(held) < 5_000_000  # a batch and the groups it spans, not the 20 MB read so far


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "absent.jsonl", "absent.jsonl: no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: _write(d / "s.csv", b"a,b\n"), "unknown file type '.csv'"),
        (lambda d: _write(d / "s.parquet", b"PAR1 this is not parquet"), "s.parquet: not a readable Parquet file"),
        (lambda d: _write(d / "s.json", b'[{"a": 1}, {"a": '),
         "s.json: not a valid JSON array after 1 items: item 1 (0-based) cannot be parsed"),
        (lambda d: _write(d / "s.json", '[{"a": "café"}]'.encode("latin-1")),
         "s.json: not a valid JSON array after 0 items"),
        (lambda d: _write(d / "s.jsonl", codecs.BOM_UTF16_LE + "{}".encode("utf-16-le")),
         "s.jsonl: starts with a UTF-16 byte order mark (byte 0); save the file as UTF-8"),
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


def test_chunks_of_long_records_close_at_chunk_bytes_and_give_the_same_rows(tmp_path):
    long = {"conversations": [{"from": "user", "value": "a long problem " * 400}, GOOD["conversations"][1]]}
    records = [GOOD] * 5 + [long] + [GOOD] * 6
    path = write_jsonl(tmp_path / "s.jsonl", records)
    chunks = list(bounded_chunks(read_local(path), chunk_rows=100, chunk_bytes=300))
    assert [row for chunk in chunks for row, _ in chunk] == list(range(12))
    for chunk in chunks:  # under the bound until its last record, which closes it
        assert sum(record_bytes(r) for _, r in chunk[:-1]) < 300
    assert any(chunk[-1][0] == 5 for chunk in chunks)  # the long record closes its chunk
    layout = source_spec("openthoughts2").layout
    one_chunk = [k for k, _ in normalize_stream(read_local(path), layout, "o", str(path), chunk_rows=100)]
    by_size = [k for k, _ in normalize_stream(read_local(path), layout, "o", str(path), chunk_rows=100,
                                              chunk_bytes=300)]
    assert len(one_chunk) == 1 and len(by_size) == len(chunks) > 3
    assert pl.concat(by_size).equals(one_chunk[0])


def test_a_records_weight_is_its_text_in_utf8_bytes():
    assert record_bytes({"q": "abc", "turns": [{"value": "多少"}, {"n": 3}], "none": None}) == 3 + 6
    assert record_bytes(["é", ("x",)]) == 3
    chinese = [(i, {"value": "心" * 50}) for i in range(10)]  # 150 bytes each, 50 characters
    assert [len(chunk) for chunk in bounded_chunks(chinese, chunk_rows=100, chunk_bytes=300)] == [2] * 5


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
    assert catalog.origin(source_spec("medqa_seed")) == \
        "bigbio/med_qa/med_qa_en_4options_source:train @refs/convert/parquet"


def test_hub_reader_streams_a_dataset_folder(tmp_path, monkeypatch):
    """The hub path is `datasets.load_dataset(..., streaming=True)`; a local dataset folder takes
    the same code path offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "openthoughts-like"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", [GOOD, GOOD, GOOD])
    spec = dataclasses.replace(source_spec("openthoughts2"), hub_id=str(folder))
    records = list(read_hub(spec))
    assert [row for row, _ in records] == [0, 1, 2]
    assert records[0][1]["conversations"][0]["value"] == "Explain the Frank-Starling law."


def test_hub_arguments_carry_config_revision_and_features():
    import datasets

    am = hub_arguments(source_spec("am_r1"))
    assert (am["name"], am["streaming"]) == ("am_0.9M", True)
    assert isinstance(am["features"]["messages"].feature["info"]["test_case"], datasets.Json)
    assert am["features"]["messages"].feature["info"]["think_content"] == datasets.Value("string")
    medqa = hub_arguments(source_spec("medqa_seed"))
    assert (medqa["revision"], medqa["data_dir"]) == ("refs/convert/parquet", "med_qa_en_4options_source")
    assert "name" not in medqa and "features" not in medqa


def am_message_row(question: str, test_case, padding: int = 0) -> dict:
    return {"messages": [
        {"role": "user", "content": question,
         "info": {"source": "codeio", "reference_answer": None, "test_case": test_case}},
        {"role": "assistant", "content": f"<think>{'x' * padding}plan</think> <answer>def f(): return 1</answer>",
         "info": {"source": "am-0309", "think_content": "plan", "answer_content": "def f(): return 1",
                  "reference_answer": None, "test_case": None}}]}


def test_am_test_case_that_is_a_struct_in_some_rows_and_a_string_in_others_reads(tmp_path, monkeypatch):
    """datasets reads JSON in ~10 MB chunks and casts each to one schema: the first row (> 10 MB)
    makes a chunk whose test_case is a struct, the next chunk's are strings."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "am-like"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", [
        am_message_row("Write f returning one.", {"test_code": "assert f() == 1", "test_entry_point": "f"},
                       padding=11 << 20),
        am_message_row("Write f returning one again.", "assert f() == 1"),
        am_message_row("And once more.", None),
    ])
    spec = dataclasses.replace(source_spec("am_r1"), hub_id=str(folder), config=None)
    records = list(read_hub(spec))
    cases = [record["messages"][0]["info"]["test_case"] for _, record in records]
    assert cases == [{"test_code": "assert f() == 1", "test_entry_point": "f"}, "assert f() == 1", None]
    kept, _ = normalize_records(records[1:], spec.layout, "am_r1", "am")
    assert kept.select("reasoning", "response").rows() == [("plan", "def f(): return 1")] * 2


def test_hub_parquet_export_reads_the_config_folder_only(tmp_path, monkeypatch):
    """bigbio/med_qa's Parquet export: one folder per config, one per split, no remote code."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for config, split, rows in (("med_qa_en_4options_source", "train", 3), ("med_qa_en_4options_source", "test", 2),
                                ("med_qa_en_source", "train", 4)):
        (tmp_path / config / split).mkdir(parents=True)
        options = [{"key": k, "value": v} for k, v in zip("ABCD", ["Aspirin", "Heparin", "Warfarin", "Insulin"])]
        questions = [f"{config} {split} vignette {i}" for i in range(rows)]
        pl.DataFrame({"meta_info": ["step1"] * rows, "question": questions, "answer_idx": ["B"] * rows,
                      "answer": ["Heparin"] * rows, "options": [options] * rows},
                     ).write_parquet(tmp_path / config / split / "0000.parquet")
    spec = dataclasses.replace(source_spec("medqa_seed"), hub_id=str(tmp_path))
    records = list(read_hub(spec))
    assert [r["question"] for _, r in records] == [f"med_qa_en_4options_source train vignette {i}" for i in range(3)]
    kept, rejects = normalize_records(records, spec.layout, "medqa_seed", "medqa")
    assert rejects.height == 0 and kept["answer"].to_list() == ["B"] * 3
    assert kept["prompt"][0].endswith("A. Aspirin\nB. Heparin\nC. Warfarin\nD. Insulin")


def test_hub_dataset_that_cannot_be_opened_names_it_and_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = dataclasses.replace(source_spec("medqa_seed"), hub_id="no-such-org/no-such-dataset")
    with pytest.raises(UnreadableSource) as error:
        list(read_hub(spec))
    message = str(error.value)
    assert message.startswith("no-such-org/no-such-dataset/med_qa_en_4options_source:train @refs/convert/parquet: "
                              "cannot open the hub dataset")
    assert "set the source's `path`" in message


def test_overrides_change_the_selection_and_the_counted_columns(tmp_path):
    overrides = tmp_path / "o.yaml"
    overrides.write_text("generalthought:\n  value_count_columns: [model_name, verifier_score]\n"
                         "  layout: {keep_if: {question_source: [Meta/natural_reasoning]}}\n")
    spec = SourceCatalog(overrides_file=str(overrides)).spec("generalthought")
    assert spec.value_count_columns == ("model_name", "verifier_score")
    assert spec.layout.keep_if == {"question_source": ("Meta/natural_reasoning",)}
