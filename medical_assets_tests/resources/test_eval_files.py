"""Reading the benchmark files: the shape of a harness file is checked, and a file that cannot
be read says which file, where, and what would fix it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medical_assets.core.ingest import UnreadableSource
from medical_assets.core.layouts import Unparsed
from medical_assets.eval_sets import EvalSet, eval_set
from medical_assets.resources.eval_files import EvalFiles

ROW = {"question": "Which vitamin deficiency causes scurvy?", "options": {"A": "Vitamin C", "B": "Vitamin D"},
       "answer": "Vitamin C", "answer_idx": "A"}
NEJM = eval_set("nejm")  # in m1_eval_data.json, with four other benchmarks


def harness(tmp_path: Path, content: bytes | str | object, name: str = "m1_eval_data.json") -> EvalFiles:
    data = content if isinstance(content, bytes) else (content if isinstance(content, str) else json.dumps(content))
    (tmp_path / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return EvalFiles(mode="harness", directory=str(tmp_path))


def test_benchmark_rows_are_read_from_the_object(tmp_path):
    assert harness(tmp_path, {"NEJM": [ROW], "Lancet": []}).rows(NEJM) == [ROW]


def test_byte_order_mark_at_the_start_is_accepted(tmp_path):
    files = harness(tmp_path, b"\xef\xbb\xbf" + json.dumps({"NEJM": [ROW]}).encode("utf-8"))
    assert files.rows(NEJM) == [ROW]


def test_file_that_is_not_utf8_names_the_byte_and_the_fix(tmp_path):
    files = harness(tmp_path, '{"NEJM": [\n{"question": "caf\u00e9"}]}'.encode("latin-1"))
    with pytest.raises(UnreadableSource) as error:
        files.rows(NEJM)
    assert str(error.value).startswith(f"{tmp_path / 'm1_eval_data.json'}: not valid UTF-8 at line 2, byte offset 28 "
                                       "(b'\\xe9\"}]'); save the file as UTF-8")


def test_invalid_json_names_the_line_and_column(tmp_path):
    files = harness(tmp_path, '{"NEJM": [\n  {"question": "x",}\n]}')
    with pytest.raises(UnreadableSource, match=r"m1_eval_data.json: not valid JSON at line 2, column 20 "
                                               r"\(Expecting property name enclosed in double quotes\); fix the file"):
        files.rows(NEJM)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("see the website", "a string"), ({"0": ROW}, "an object"), (12, "a number"), (None, "null")],
)
def test_benchmark_that_is_not_a_list_fails_naming_file_benchmark_and_expected_shape(tmp_path, value, kind):
    files = harness(tmp_path, {"NEJM": value})
    with pytest.raises(UnreadableSource) as error:
        files.rows(NEJM)
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'm1_eval_data.json'}: benchmark 'NEJM' is {kind}, expected a list of "
                              'question rows: {"NEJM": [{"question": ...')


def test_bare_list_in_a_file_of_several_benchmarks_is_refused(tmp_path):
    files = harness(tmp_path, [ROW])
    with pytest.raises(UnreadableSource, match=r"a bare JSON list, but this file holds 5 benchmarks \(NEJM, Lancet, "
                                               r"MedBullets_op4, MedBullets_op5, MedXpertQA\): write it as an object"):
        files.rows(NEJM)


def test_bare_list_is_the_benchmark_of_a_file_of_its_own(tmp_path):
    own = EvalSet("own_set", "Own", "Own_test", "own_set.json")
    assert harness(tmp_path, [ROW], name="own_set.json").rows(own) == [ROW]


def test_file_that_is_neither_object_nor_list_is_refused(tmp_path):
    with pytest.raises(UnreadableSource, match=r"m1_eval_data.json: the file is a string, expected an object of "
                                               "benchmark name -> list of rows"):
        harness(tmp_path, '"NEJM"').rows(NEJM)


def test_healthbench_lines_are_numbered_from_one_and_bad_bytes_are_reported(tmp_path):
    path = tmp_path / "hb.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt_id": "a"}\n{"prompt_id": "caf\xe9"}\n\n')
    records = list(EvalFiles(mode="harness", healthbench_file=str(path)).healthbench_records())
    assert [line for line, _ in records] == [1, 2, 3]
    assert records[0][1] == {"prompt_id": "a"}  # the byte order mark is skipped
    assert isinstance(records[1][1], Unparsed) and records[1][1].reason == "not valid UTF-8 (byte 18: b'\\xe9\"}')"
    assert records[2][1] == Unparsed("empty line", "")


def test_missing_healthbench_file_names_the_setting(tmp_path):
    files = EvalFiles(mode="harness", healthbench_file=str(tmp_path / "absent.jsonl"))
    with pytest.raises(UnreadableSource, match="absent.jsonl: no such file; set MEDICAL_ASSETS_HEALTHBENCH_FILE"):
        list(files.healthbench_records())


def test_no_healthbench_file_outside_the_demo_means_no_rows():
    assert list(EvalFiles(mode="harness").healthbench_records()) == []
