import copy

import polars as pl
import pytest

from medical_assets.core.canonical import to_messages
from medical_assets.core.mix import cap_parts, chat_texts, drop_duplicates, mix_table, token_lengths
from medical_assets.resources.embedded_model import packaged_gguf_path


def traces(rows: list[tuple[str, str, int, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"part": p, "source": s, "source_row": r, "sample_id": f"{s}:{r}", "prompt": q, "response": a}
         for p, s, r, q, a in rows]
    )


def test_a_duplicate_across_parts_keeps_the_copy_of_the_higher_priority_part():
    kept, duplicates = drop_duplicates(traces([
        ("curated_r1", "am_r1", 4, "What causes scurvy?", "Vitamin C deficiency."),
        ("public_medical", "m23k", 9, "what  causes SCURVY?", "vitamin c deficiency."),
        ("math", "light_r1", 0, "What is 2+2?", "4"),
    ]))
    assert sorted(kept["sample_id"]) == ["light_r1:0", "m23k:9"]
    assert duplicates.select("sample_id", "duplicate_of").rows() == [("am_r1:4", "m23k:9")]


def test_within_a_part_the_first_source_row_is_kept():
    kept, duplicates = drop_duplicates(traces([
        ("curated_r1", "am_r1", 7, "Q", "A"), ("curated_r1", "am_r1", 2, "Q", "A"), ("curated_r1", "am_r1", 5, "Q", "B"),
    ]))
    assert sorted(kept["sample_id"]) == ["am_r1:2", "am_r1:5"]
    assert duplicates["duplicate_of"].to_list() == ["am_r1:2"]


def test_same_prompt_with_a_different_response_is_not_a_duplicate():
    kept, duplicates = drop_duplicates(traces([("math", "s", 0, "Q", "A"), ("math", "s", 1, "Q", "A different")]))
    assert kept.height == 2 and duplicates.height == 0


def test_caps_sample_each_part_with_a_seed():
    rows = traces([("curated_r1", "s", i, f"q{i}", "a") for i in range(50)] + [("math", "m", 0, "x", "y")])
    kept, over = cap_parts(rows, {"curated_r1": 10, "math": 10}, seed=1)
    again, _ = cap_parts(rows, {"curated_r1": 10, "math": 10}, seed=1)
    other, _ = cap_parts(rows, {"curated_r1": 10, "math": 10}, seed=2)
    assert kept.equals(again) and not kept.equals(other)
    assert dict(kept.group_by("part").len().iter_rows()) == {"curated_r1": 10, "math": 1}
    assert over.height == 40 and set(over["cap"]) == {10}
    assert set(kept["sample_id"]).isdisjoint(over["sample_id"])


def test_the_mix_table_lists_every_part_with_its_target():
    mix = traces([("math", "m", 0, "x", "y"), ("curated_r1", "s", 0, "q", "a"), ("curated_r1", "s", 1, "r", "a")])
    table = mix_table(mix, {"curated_r1": 100, "synthetic_qa": 50, "math": 10})
    assert table.rows() == [("curated_r1", 100, 2, 0.6667), ("synthetic_qa", 50, 0, 0.0), ("math", 10, 1, 0.3333)]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    gguf = packaged_gguf_path()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def chat_rows() -> pl.DataFrame:
    return to_messages(pl.DataFrame({
        "sample_id": ["a", "b", "c"],
        "prompt": ["A 54-year-old man with chest pain.  ", "Which drug?", "Ünïcode {{ braces }} <|im_end|> inside"],
        "reasoning": ["Think about ischemia.", None, "Wait, check twice."],
        "response": ["\\boxed{A}", "Aspirin.", " trailing space "],
    }))


def test_the_fast_texts_are_the_templates_own_and_their_token_counts_the_tokenizers(tokenizer):
    rows = chat_rows()
    texts, rendering = chat_texts(rows, tokenizer)
    assert rendering == "template parts"
    assert texts == [tokenizer.apply_chat_template(m, tokenize=False) for m in rows["messages"].to_list()]
    assert token_lengths(texts, tokenizer, chunk_rows=2) == [
        len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def test_a_template_that_rewrites_the_turns_is_rendered_row_by_row(tokenizer):
    trimming = copy.deepcopy(tokenizer)
    trimming.chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}</{{ m.role }}>{% endfor %}"
    rows = chat_rows()
    texts, rendering = chat_texts(rows, trimming)
    assert rendering == "template per row"
    assert texts[0] == "<user>A 54-year-old man with chest pain.</user><assistant>" + texts[0].split("<assistant>")[1]
    assert texts == [trimming.apply_chat_template(m, tokenize=False) for m in rows["messages"].to_list()]
