import polars as pl

from medical_assets.core.mix import cap_parts, drop_duplicates, mix_table


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
