"""Decontamination against the evaluation sets: word 10-gram overlap (open-r1)
and fuzz.ratio >= 90 (s1K), each hit recorded with its evidence."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from rapidfuzz import fuzz, process

from medical_assets.core import decontamination
from medical_assets.core.decontamination import (
    FUZZY_MATCH_SCHEMA,
    NGRAM_MATCH_SCHEMA,
    fuzzy_matches,
    ngram_matches,
)
from medical_assets.core.layouts import normalize_records
from medical_assets.resources.sources import read_local
from medical_assets.sources import SOURCES

SAMPLE = Path(decontamination.__file__).resolve().parent.parent / "sample"

QUESTION = ("A 34-year-old woman presents with fever, a productive cough and pleuritic chest pain "
            "for three days. Which of the following organisms is the most likely cause?")
OPTIONS = {"A": "Streptococcus pneumoniae", "B": "Mycoplasma pneumoniae", "C": "Legionella pneumophila"}
OPTIONS_TYPE = pl.Struct({letter: pl.String() for letter in "ABCDEFGHIJ"})


def evals_of(*questions: str | tuple[str, dict | None], benchmark: str = "medqa") -> pl.DataFrame:
    rows = [q if isinstance(q, tuple) else (q, None) for q in questions]
    return pl.DataFrame(
        {
            "benchmark": [benchmark] * len(rows),
            "question_id": [f"{benchmark}:{i}" for i in range(len(rows))],
            "question": [q for q, _ in rows],
            "options": [o for _, o in rows],
        },
        schema={"benchmark": pl.String(), "question_id": pl.String(), "question": pl.String(),
                "options": OPTIONS_TYPE},
    )


def train_of(*prompts: str | None) -> pl.DataFrame:
    return pl.DataFrame({"sample_id": [f"s{i}" for i in range(len(prompts))], "prompt": list(prompts)},
                        schema={"sample_id": pl.String(), "prompt": pl.String()})


def hit_ids(matches: pl.DataFrame) -> set[tuple[str, str]]:
    return set(zip(matches["sample_id"], matches["question_id"]))


# --------------------------------------------------------------------- n-grams


def test_exact_copy_of_a_question_is_caught_by_ngrams():
    matches = ngram_matches(train_of("Unrelated prompt about prime numbers and sieves.", QUESTION),
                            evals_of(QUESTION))
    assert matches.columns == list(NGRAM_MATCH_SCHEMA)
    assert matches.select("sample_id", "benchmark", "question_id").rows() == [("s1", "medqa", "medqa:0")]
    assert matches["ngram"].item() == "a 34-year-old woman presents with fever, a productive cough and"


def test_case_and_whitespace_differences_still_match_ngrams():
    variant = "  " + QUESTION.upper().replace(" ", "\n\t ", 3).replace("cough", "COUGH\u00a0\u3000")
    assert hit_ids(ngram_matches(train_of(variant), evals_of(QUESTION))) == {("s0", "medqa:0")}


def test_punctuation_attached_to_a_word_makes_it_another_word():
    # open-r1 keeps punctuation: "fever," and "fever" differ, and every 10-gram of this prompt covers it
    question = "the patient has a high fever, a dry cough and headache today"
    prompt = "the patient has a high fever a dry cough and headache today"
    assert ngram_matches(train_of(prompt), evals_of(question)).height == 0
    assert fuzzy_matches(train_of(prompt), evals_of(question))["score"].item() > 95


def test_ngram_spanning_the_question_end_and_its_options_is_caught():
    prompt = "Tell me: the most likely cause? A. Streptococcus pneumoniae B. Mycoplasma pneumoniae"
    assert hit_ids(ngram_matches(train_of(prompt), evals_of((QUESTION, OPTIONS)))) == {("s0", "medqa:0")}
    assert ngram_matches(train_of(prompt), evals_of(QUESTION)).height == 0


def test_options_as_a_list_of_letter_text_structs_match_like_a_struct():
    prompt = "Tell me: the most likely cause? A. Streptococcus pneumoniae B. Mycoplasma pneumoniae"
    listed = evals_of(QUESTION).with_columns(
        options=pl.Series([[{"letter": k, "text": v} for k, v in OPTIONS.items()]])
    )
    assert hit_ids(ngram_matches(train_of(prompt), listed)) == {("s0", "medqa:0")}


def test_prompt_shorter_than_n_words_matches_only_a_whole_identical_question():
    evals = evals_of("Which vitamin deficiency causes scurvy?", QUESTION)
    matches = ngram_matches(train_of("which VITAMIN deficiency   causes scurvy?", "Which vitamin deficiency", "Why?"),
                            evals)
    assert matches.select("sample_id", "question_id", "ngram").rows() == [
        ("s0", "medqa:0", "which vitamin deficiency causes scurvy?")]


def test_short_prompt_equal_to_question_with_options_is_caught():
    evals = evals_of(("Drug of choice?", {"A": "Aspirin", "B": "Heparin"}))
    matches = ngram_matches(train_of("drug of choice? A. aspirin B. heparin"), evals)
    assert hit_ids(matches) == {("s0", "medqa:0")}


def test_evidence_is_the_first_shared_ngram_of_the_prompt():
    words = QUESTION.split()
    prompt = " ".join(words[12:22]) + " and then " + " ".join(words[0:10])
    assert ngram_matches(train_of(prompt), evals_of(QUESTION))["ngram"].item() == " ".join(words[12:22]).lower()


def test_hash_collisions_never_remove_a_clean_prompt(monkeypatch):
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(40)]
    questions = [" ".join(rng.choices(vocab, k=30)) for _ in range(20)]
    clean = [" ".join(rng.choices(vocab, k=30)) for _ in range(30)]
    train = train_of(*clean, "prefix words " + questions[3][:80])
    expected = ngram_matches(train, evals_of(*questions))
    monkeypatch.setattr(decontamination, "_HASH_BITS", 4)
    index = decontamination._EvalNgrams(evals_of(*questions)["question"], 10)
    words, rows = decontamination._flat_words(train["prompt"])
    _, hashes = decontamination._window_hashes(decontamination._word_hashes(words), rows, 10)
    assert len(index.candidates(hashes)[0]) > 1000  # with 16 hash values nearly everything collides
    colliding = ngram_matches(train, evals_of(*questions))
    assert set(colliding["sample_id"]) == {"s30"}  # the copied span is still found, no clean prompt is
    assert colliding.equals(expected)


def test_null_prompts_and_questions_never_match():
    assert ngram_matches(train_of(None, QUESTION), evals_of(None, QUESTION))["sample_id"].to_list() == ["s1"]
    assert fuzzy_matches(train_of(None, QUESTION), evals_of(None, QUESTION))["sample_id"].to_list() == ["s1"]


# ----------------------------------------------------------------------- fuzzy


def test_paraphrased_question_is_caught_by_fuzzy_match():
    # a word changed in every run of 10 words
    paraphrase = QUESTION.replace("presents", "presented").replace("pain", "pains").replace("organisms", "organism")
    assert ngram_matches(train_of(paraphrase), evals_of(QUESTION)).height == 0
    matches = fuzzy_matches(train_of(paraphrase), evals_of(QUESTION))
    assert matches.columns == list(FUZZY_MATCH_SCHEMA)
    row = matches.row(0, named=True)
    assert (row["sample_id"], row["question_id"]) == ("s0", "medqa:0")
    assert row["score"] == fuzz.ratio(paraphrase, QUESTION) >= 90
    assert (row["prompt_chars"], row["question_chars"]) == (len(paraphrase), len(QUESTION))


def test_fuzzy_score_of_exactly_90_is_removed():
    question = (QUESTION * 2)[:100]
    prompt = question[:90] + "#" * 10  # LCS 90 of 100 + 100 characters
    assert fuzz.ratio(prompt, question) == 90.0
    assert fuzzy_matches(train_of(prompt), evals_of(question))["score"].to_list() == [90.0]


def test_fuzzy_score_just_below_90_is_kept():
    question = (QUESTION * 8)[:1000]
    prompt = question[:899] + "#" * 100  # LCS 899 of 999 + 1000 characters: 89.945
    assert 89.9 < fuzz.ratio(prompt, question) < 90
    assert fuzzy_matches(train_of(prompt, question[:900] + "#" * 100), evals_of(question))["sample_id"].to_list() == [
        "s1"]


def test_fuzzy_match_compares_raw_strings_case_included():
    assert fuzzy_matches(train_of(QUESTION.upper()), evals_of(QUESTION)).height == 0
    assert ngram_matches(train_of(QUESTION.upper()), evals_of(QUESTION)).height == 1


def test_repeated_question_text_is_reported_under_every_id():
    matches = fuzzy_matches(train_of(QUESTION), evals_of(QUESTION, "Something else entirely.", QUESTION))
    assert matches["question_id"].to_list() == ["medqa:0", "medqa:2"]


# ------------------------------------------------------------------ edge cases


@pytest.mark.parametrize("match", [ngram_matches, fuzzy_matches])
def test_empty_eval_set_gives_an_empty_result_with_the_schema(match):
    result = match(train_of(QUESTION), evals_of())
    schema = NGRAM_MATCH_SCHEMA if match is ngram_matches else FUZZY_MATCH_SCHEMA
    assert result.height == 0 and result.schema == pl.Schema(schema)


@pytest.mark.parametrize("match", [ngram_matches, fuzzy_matches])
def test_empty_training_set_gives_an_empty_result_with_the_schema(match):
    result = match(train_of(), evals_of(QUESTION))
    schema = NGRAM_MATCH_SCHEMA if match is ngram_matches else FUZZY_MATCH_SCHEMA
    assert result.height == 0 and result.schema == pl.Schema(schema)


def test_accented_and_cjk_questions_are_matched():
    french = "Un patient âgé présente une fièvre élevée depuis trois jours et une toux sèche persistante"
    chinese = "患者男性四十五岁发热三天伴咳嗽胸痛最可能的诊断是什么"
    evals = evals_of(french, chinese)
    train = train_of(french.upper(), chinese, chinese.replace("咳嗽", "咳痰"))
    assert hit_ids(ngram_matches(train, evals)) == {("s0", "medqa:0"), ("s1", "medqa:1")}  # CJK: one word
    assert hit_ids(fuzzy_matches(train, evals)) == {("s1", "medqa:1"), ("s2", "medqa:1")}


# -------------------------------------------------------------- property tests


def naive_ngram_hits(prompts: list[str], questions: list[str], options: list[dict | None], n: int) -> set:
    """open-r1's loop, plus the whole-text rule for prompts shorter than n words."""
    hits = set()
    for j, (question, opts) in enumerate(zip(questions, options)):
        lines = "\n".join(f"{k}. {v}" for k, v in (opts or {}).items() if v is not None)
        texts = [question.lower().split()] + ([(question + "\n" + lines).lower().split()] if lines else [])
        grams = {tuple(words[k:k + n]) for words in texts for k in range(len(words) - n + 1)}
        for i, prompt in enumerate(prompts):
            words = prompt.lower().split()
            if 0 < len(words) < n and any(words == text for text in texts):
                hits.add((f"s{i}", f"medqa:{j}"))
            elif any(tuple(words[k:k + n]) in grams for k in range(len(words) - n + 1)):
                hits.add((f"s{i}", f"medqa:{j}"))
    return hits


RANDOM_WORDS = ["fever", "Fever,", "cough", "pain.", "the", "of", "a", "b", "Café", "ΟΔΟΣ", "İstanbul", "発熱", "x"]
RANDOM_SPACES = [" ", " ", " ", "  ", "\n", "\t", "\u00a0", "\u3000", "\x1c"]


def random_text(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(RANDOM_WORDS, k=rng.randint(low, high))
    return "".join(w + rng.choice(RANDOM_SPACES) for w in words).strip(" ")


def random_corpus(seed: int) -> tuple[list[str], list[str], list[dict | None]]:
    rng = random.Random(seed)
    questions = [random_text(rng, 0, 16) for _ in range(25)]
    options = [{k: random_text(rng, 1, 3) for k in "ABCD"[: rng.randint(2, 4)]} if rng.random() < 0.6 else None
               for _ in questions]
    prompts = []
    for _ in range(120):
        j = rng.randrange(len(questions))
        full = questions[j] + ("\n" + "\n".join(f"{k}. {v}" for k, v in options[j].items()) if options[j] else "")
        words = full.split()
        start = rng.randint(0, max(0, len(words) - 3))
        kind = rng.random()
        if kind < 0.3:
            prompts.append(random_text(rng, 0, 20))
        elif kind < 0.6:
            prompts.append(random_text(rng, 0, 3) + " " + " ".join(words[start:start + rng.randint(1, 14)]))
        else:
            prompts.append(full.upper() if rng.random() < 0.3 else full)
    return prompts, questions, options


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n", [1, 3, 10])
def test_ngram_matches_equal_a_naive_set_implementation_on_random_corpora(seed, n):
    prompts, questions, options = random_corpus(seed)
    evals = evals_of(*zip(questions, options))
    assert hit_ids(ngram_matches(train_of(*prompts), evals, n=n)) == naive_ngram_hits(prompts, questions, options, n)


def mutated(rng: random.Random, text: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        at = rng.randrange(len(chars) + 1)
        op = rng.random()
        if op < 0.4 and chars:
            chars[min(at, len(chars) - 1)] = rng.choice("abcxyz ")
        elif op < 0.7 and chars:
            del chars[min(at, len(chars) - 1)]
        else:
            chars.insert(at, rng.choice("abcxyz é"))
    return "".join(chars)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("features", [8, 12_288])
def test_fuzzy_matches_equal_brute_force_cdist_on_random_corpora(seed, features, monkeypatch):
    # small blocks, chunks and feature counts exercise every path of the pruning
    monkeypatch.setattr(decontamination, "_FUZZY_FEATURES", features)
    monkeypatch.setattr(decontamination, "_FUZZY_BLOCK", 7)
    monkeypatch.setattr(decontamination, "_FUZZY_CHUNK", 40)
    monkeypatch.setattr(decontamination, "_FUZZY_FLUSH_PAIRS", 50)
    rng = random.Random(seed)
    questions = [random_text(rng, 0, 30) for _ in range(40)] + [""]
    prompts = [mutated(rng, rng.choice(questions), rng.randint(0, 12)) for _ in range(150)]
    prompts += [random_text(rng, 0, 30) for _ in range(30)] + ["", "發熱"]
    scores = process.cdist(prompts, questions, scorer=fuzz.ratio, dtype=np.float64)
    train, evals = train_of(*prompts), evals_of(*questions)
    for threshold in (0.0, 50.0, 85.0, 90.0, 95.0, 100.0):
        expected = {(f"s{i}", f"medqa:{j}") for i, j in zip(*np.nonzero(scores >= threshold))}
        got = fuzzy_matches(train, evals, threshold=threshold)
        assert hit_ids(got) == expected, threshold
        assert all(scores[int(s[1:]), int(q.split(":")[1])] == v for s, q, v in got.select(
            "sample_id", "question_id", "score").rows())


# ----------------------------------------------------------------- demo corpus


def demo_training_rows() -> pl.DataFrame:
    """Every trace and seed row of the bundled sources, `sample_id` = "file:row"."""
    frames, seen = [], set()
    for spec in SOURCES:
        if spec.demo_file in seen:
            continue
        seen.add(spec.demo_file)
        layout = dataclasses.replace(spec.layout, keep_if={})  # every row, whichever part it feeds
        path = SAMPLE / "sources" / spec.demo_file
        kept, _ = normalize_records(read_local(path), layout, spec.name, str(path))
        frames.append(kept.select(sample_id=pl.format("{}:{}", pl.lit(spec.demo_file), "source_row"), prompt="prompt"))
    return pl.concat(frames)


def demo_evals() -> pl.DataFrame:
    rows = []
    for name in ("eval_data.json", "m1_eval_data.json"):
        for benchmark, items in json.loads((SAMPLE / "benchmarks" / name).read_text()).items():
            rows += [{"benchmark": benchmark, "question_id": f"{benchmark}:{i}", "question": item["question"],
                      "options": item["options"]} for i, item in enumerate(items)]
    return pl.DataFrame(rows, schema={"benchmark": pl.String(), "question_id": pl.String(), "question": pl.String(),
                                      "options": OPTIONS_TYPE})


def whole_text_hits(train: pl.DataFrame, evals: pl.DataFrame) -> set[str]:
    """Prompts under 10 words equal to a whole question (or question + options), case and spacing aside."""
    texts = set()
    for question, options in zip(evals["question"], evals["options"]):
        lines = "\n".join(f"{k}. {v}" for k, v in options.items() if v is not None)
        texts |= {tuple(question.lower().split()), tuple((question + "\n" + lines).lower().split())}
    return {s for s, p in zip(train["sample_id"], train["prompt"]) if len(p.split()) < 10
            and tuple(p.lower().split()) in texts}


def test_demo_corpus_plants_are_found_and_clean_rows_are_not():
    truth = [json.loads(line) for line in (SAMPLE / "truth.jsonl").read_text().splitlines()]
    plants = {f"{t['file']}:{t['row']}": t["plant"] for t in truth if t["plant"]}
    train, evals = demo_training_rows(), demo_evals()
    assert set(plants) <= set(train["sample_id"])  # every planted row was read
    stem = {qid: q.strip() for qid, q in zip(evals["question_id"], evals["question"])}

    def found(matches: pl.DataFrame) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for sample, qid in zip(matches["sample_id"], matches["question_id"]):
            out.setdefault(sample, set()).add(stem[qid])
        return out

    by_ngram, by_fuzzy = found(ngram_matches(train, evals)), found(fuzzy_matches(train, evals))
    # planted copies of questions under 10 words have no 10-gram: the whole-text rule catches them
    short_copies = whole_text_hits(train, evals)
    assert short_copies <= set(plants)
    expected_ngram = {s for s, p in plants.items() if p["ngram_hit"]} | short_copies
    expected_fuzzy = {s for s, p in plants.items() if p["fuzzy_score"] >= 90}
    for kind, hits, expected in (("ngram", by_ngram, expected_ngram), ("fuzzy", by_fuzzy, expected_fuzzy)):
        assert set(hits) == expected, kind  # every plant found, and no unplanted row
        for sample in expected:  # the named question, or one with the same stem
            plant = plants[sample]
            assert stem[f"{plant['benchmark']}:{plant['index']}"] in hits[sample], (kind, sample)


def test_both_steps_report_their_progress_chunk_by_chunk(monkeypatch):
    monkeypatch.setattr(decontamination, "_TRAIN_CHUNK_ROWS", 2)
    monkeypatch.setattr(decontamination, "_FUZZY_CHUNK", 2)
    train = train_of(QUESTION, "An unrelated prompt about sieves.", QUESTION + "?", "Another one.", "A fifth.")
    ngram_calls, fuzzy_calls = [], []
    assert ngram_matches(train, evals_of(QUESTION), progress=lambda *a: ngram_calls.append(a)).height == 2
    assert fuzzy_matches(train, evals_of(QUESTION), progress=lambda *a: fuzzy_calls.append(a)).height == 2
    assert ngram_calls == [(2, 5), (4, 5), (5, 5)]
    assert fuzzy_calls == [(2, 5), (4, 5), (5, 5)]  # five distinct prompts
