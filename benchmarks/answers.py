"""Answer-extraction benchmark: `extract_choices` against the usual harness extractor.

    .venv/bin/python benchmarks/answers.py [--n 100000] [--rollouts 16] [--seed 0]

Generates N seeded, R1-style multiple-choice responses (4-10 options; boxed
letters, boxed option texts, answers after `</think>`, "the answer is"
statements, no answer at all; 1-4 KB of reasoning with "Wait," corrections
and distractor guesses) and times, in the same run, `extract_choices` and
`naive_extract`: about ten regexes tried in order over the whole response,
then a rapidfuzz fallback to the closest option, as public harnesses do.
Consecutive responses share a question (16 per question by default, as in a
DAPO group); `--rollouts 1` gives every response its own options.
Each generated response records the answer it states (None when it states
none, or states something that is not a single valid option); both readers
are scored against it and their disagreements are counted and shown.

The published harness's verdict (`ii_medical_correct`, core/harness.py) is
timed on the same responses, against a gold letter per response (the stated
answer for half of them, another option for the rest), beside the strict
verdict (`extract_choices` compared with the gold): responses/s of each and the
accuracy each gives.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import Counter
from typing import Mapping

from rapidfuzz import fuzz, process

from medical_assets.core.answers import extract_choices
from medical_assets.core.harness import ii_medical_correct
from medical_assets.recipe import RECIPE

LETTERS = "ABCDEFGHIJ"
TERMS = (
    "Clopidogrel Aspirin Bleeding Cilostazol Dipyridamole Heparin Warfarin Enoxaparin Ticagrelor Prasugrel "
    "Hypokalemia Hyperkalemia Hyponatremia Acidosis Alkalosis Sarcoidosis Tuberculosis Histoplasmosis "
    "Endocarditis Myocarditis Pericarditis Cholecystitis Pancreatitis Appendicitis Diverticulitis "
    "Glomerulonephritis Pyelonephritis Amyloidosis Hemochromatosis Ferritin Troponin Procalcitonin "
    "Metformin Insulin Glipizide Empagliflozin Lisinopril Losartan Amlodipine Furosemide Spironolactone "
    "Beta-blockers Digoxin Amiodarone Adenosine Atropine Epinephrine Dexamethasone Prednisone Methotrexate "
    "Rituximab Infliximab Vancomycin Ceftriaxone Azithromycin Doxycycline Metronidazole Fluconazole "
    "Acyclovir Oseltamivir Isoniazid Rifampin Lymphoma Leukemia Myeloma Melanoma Neuroblastoma"
).split()
QUALIFIERS = ("deficiency", "toxicity", "therapy", "infusion", "syndrome", "overdose", "resistance", "", "", "")
TOPICS = ("a 67-year-old man with chest pain", "a 24-year-old woman with fever and rash",
          "a child with recurrent infections", "an elderly patient with confusion",
          "a pregnant woman with hypertension", "a smoker with hemoptysis")
FILLER = (
    "Okay, so the question is about {topic}. Let me think through this step by step.",
    "Let me recall what I know about {term}.",
    "{term} is associated with {term2}, which would point towards option {letter}.",
    "Maybe the answer is {letter}? Wait, {term} does not explain the {term2}.",
    "Hmm, but option {letter} says {text}, which seems unlikely here.",
    "Wait, let me reconsider the timeline of the symptoms.",
    "I think {text} could fit, but the laboratory values argue against it.",
    "So probably {letter}. But wait, I should double-check the mechanism.",
    "The mechanism of {term} involves inhibition of a key enzyme, and that matters for {term2}.",
    "Alternatively, {term2} could present similarly, so I need to rule it out.",
    "Wait, no. That is not right; the key finding is the elevated {term}.",
    "In clinical practice, guidelines recommend {term} first, unless contraindicated.",
)
KINDS = {  # kind: weight
    "boxed_letter": 30, "boxed_distractor": 5, "boxed_text": 8, "boxed_off_list": 3, "post_think": 12,
    "answer_is": 17, "answer_is_word": 3, "truncated": 8, "no_answer": 7, "boxed_two": 2, "empty": 1,
    "pronoun_i": 4,
}


def _options(rng: random.Random, k: int) -> dict[str, str]:
    texts = rng.sample(TERMS, k)
    return {LETTERS[i]: (f"{t} {rng.choice(QUALIFIERS)}".strip()) for i, t in enumerate(texts)}


def _reasoning(rng: random.Random, options: Mapping[str, str], size: int) -> str:
    letters = list(options)
    parts, length = [], 0
    while length < size:
        letter = rng.choice(letters)
        sentence = rng.choice(FILLER).format(topic=rng.choice(TOPICS), term=rng.choice(TERMS), term2=rng.choice(TERMS),
                                             letter=letter, text=options[letter])
        parts.append(sentence)
        length += len(sentence) + 1
        if rng.random() < 0.12:
            parts.append("\n\n")
    return " ".join(parts)


def _other(rng: random.Random, options: Mapping[str, str], letter: str) -> str:
    return rng.choice([k for k in options if k != letter])


def generate(n: int, rollouts: int, seed: int = 0) -> tuple[list[str], list[dict[str, str]], list[str | None], list[str]]:
    """Responses, their options, the answer each states (or None) and its kind; `rollouts` consecutive
    responses answer the same question (one options dict), as in DAPO groups or multi-sample evaluation."""
    rng = random.Random(seed)
    kinds, weights = list(KINDS), list(KINDS.values())
    responses, option_sets, stated, kind_of = [], [], [], []
    for row in range(n):
        if row % rollouts == 0:
            options = _options(rng, rng.randint(4, 10))
        kind = rng.choices(kinds, weights)[0]
        if kind == "pronoun_i" and "I" not in options:
            kind = "answer_is_word"
        letter = rng.choice(list(options))
        text = options[letter]
        think = _reasoning(rng, options, rng.randint(1000, 4000))
        summary = f"The findings are most consistent with {text.lower()}, given the history and the laboratory values."
        answer: str | None = letter
        if kind == "boxed_letter":
            form = rng.choice([letter, f"\\text{{{letter}}}", f"{letter}. {text}", f"({letter})", f"\\textbf{{{letter}}}"])
            response = f"<think>\n{think}\n</think>\n\n{summary}\n\n**Final Answer**\n\\boxed{{{form}}}"
        elif kind == "boxed_distractor":
            wrong = _other(rng, options, letter)
            response = (f"<think>\n{think} So is it \\boxed{{{wrong}}}? Wait, no, {options[wrong]} does not fit.\n"
                        f"</think>\n\n{summary}\n\n\\boxed{{{letter}}}")
        elif kind == "boxed_text":
            form = rng.choice([text, f"\\text{{{text}}}", text.lower()])
            response = f"<think>\n{think}\n</think>\n\n{summary}\n\n$\\boxed{{{form}}}$"
        elif kind == "boxed_off_list":  # a drug that is no option, first letter an option letter
            outside = [t for t in TERMS if t[0] in options and all(t not in o for o in options.values())]
            response = f"<think>\n{think}\n</think>\n\nThe best drug here is this one.\n\n\\boxed{{{rng.choice(outside)}}}"
            answer = None
        elif kind == "post_think":
            form = rng.choice([letter, f"**Answer: {letter}**", f"{letter}. {text}", text,
                               f"The answer is ({letter}) {text}."])
            response = f"<think>\n{think}\n</think>\n\n{form}"
        elif kind == "answer_is":
            wrong = _other(rng, options, letter)
            ending = rng.choice([f"Therefore, the answer is {letter}.", f"**Final Answer:** {letter}",
                                 f"So the correct answer is ({letter}) {text}.", f"Answer: {letter}"])
            response = f"{think}\nMaybe the answer is {wrong}. Wait, that ignores the key finding.\n{summary}\n{ending}"
        elif kind == "answer_is_word":  # "the answer is Bleeding" with no such option
            outside = [t for t in TERMS if t[0] in options and all(t not in o for o in options.values())]
            response = f"{think}\nSo the answer is {rng.choice(outside)}, given everything above."
            answer = None
        elif kind == "truncated":
            response = f"<think>\n{think} Maybe the answer is {letter}. Wait, let me check the dose of"
            answer = None
        elif kind == "no_answer":
            response = (f"<think>\n{think}\n</think>\n\nThis presentation needs urgent evaluation; "
                        "please consult the treating physician for a full workup.")
            answer = None
        elif kind == "boxed_two":
            response = f"<think>\n{think}\n</think>\n\nBoth fit.\n\n\\boxed{{{letter} and {_other(rng, options, letter)}}}"
            answer = None
        elif kind == "pronoun_i":
            response = (f"{think}\nHonestly the answer is I think between two of these, "
                        f"maybe {text.lower()}, but I am not sure.")
            answer = None
        else:
            response, answer = "", None
        responses.append(response)
        option_sets.append(options)
        stated.append(answer)
        kind_of.append(kind)
    return responses, option_sets, stated, kind_of


NAIVE_PATTERNS = [re.compile(p, re.M) for p in (
    r"\\boxed\{\s*(?:\\text\{)?\s*\(?([A-N])",  # II-Medical's lenient boxed pattern
    r"[Tt]he (?:correct )?answer is:?\s*\(?([A-N])",
    r"[Ff]inal [Aa]nswer:?\**\s*\(?([A-N])",
    r"[Aa]nswer:\s*\**\s*\(?([A-N])",
    r"[Oo]ption\s*\(?([A-N])\)?\s*is correct",
    r"\*\*([A-N])\*\*",
    r"\(([A-N])\)",
    r"^\s*([A-N])[.):]",
    r"\b([A-N])\s*$",
    r"\b([A-N])\.",
)]


def naive_extract(response: str, options: Mapping[str, str]) -> str | None:
    """The common harness: patterns in order over the whole response (last match of the first
    pattern that finds a valid letter), then the option closest to the response's end."""
    for pattern in NAIVE_PATTERNS:
        found = [m for m in pattern.findall(response) if m in options]
        if found:
            return found[-1]
    if not response.strip():
        return None
    best = process.extractOne(response[-500:], list(options.values()), scorer=fuzz.partial_ratio)
    return list(options)[best[2]]


def timed(run) -> tuple[list, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rollouts", type=int, default=RECIPE.dapo.responses_per_prompt,
                        help="responses per question (per options dict); 1 = every response its own options")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    (responses, option_sets, stated, kinds), seconds = timed(lambda: generate(args.n, args.rollouts, args.seed))
    size_mb = sum(map(len, responses)) / 2**20
    print(f"generated {args.n:,} responses, {args.rollouts} per question ({size_mb:,.0f} MB of text) "
          f"in {seconds:.1f}s; kinds: "
          + ", ".join(f"{k} {v}" for k, v in Counter(kinds).most_common()))
    ours, ours_s = timed(lambda: extract_choices(responses, option_sets))
    naive, naive_s = timed(lambda: [naive_extract(r, o) for r, o in zip(responses, option_sets)])
    assert all(a is None or a in o for a, o in zip(ours, option_sets))
    print(f" ours (extract_choices): {args.n / ours_s:>10,.0f} responses/s  {ours_s:6.2f}s")
    print(f"naive (naive_extract):   {args.n / naive_s:>10,.0f} responses/s  {naive_s:6.2f}s")
    print(f"speed ratio ours/naive: {naive_s / ours_s:.1f}x")
    with_answer = [i for i in range(args.n) if stated[i] is not None]
    without = args.n - len(with_answer)
    for name, got in (("ours", ours), ("naive", naive)):
        read = sum(got[i] == stated[i] for i in with_answer)
        invented = sum(g is not None and s is None for g, s in zip(got, stated))
        print(f"{name:>5}: reads {read:,} of {len(with_answer):,} stated answers ({read / len(with_answer):.2%}); "
              f"answers {invented:,} of {without:,} responses that state none ({invented / without:.2%})")
    rng = random.Random(args.seed + 1)
    golds = [s if s is not None and rng.random() < 0.5 else rng.choice(list(o)) for s, o in zip(stated, option_sets)]
    strict, strict_s = timed(lambda: [a == g for a, g in zip(extract_choices(responses, option_sets), golds)])
    harness, harness_s = timed(lambda: [ii_medical_correct(r, o, g) for r, o, g in zip(responses, option_sets, golds)])
    print(f"verdicts against a gold letter: strict {args.n / strict_s:>10,.0f} responses/s (accuracy "
          f"{sum(strict) / args.n:.2%}); harness (ii_medical_correct) {args.n / harness_s:>10,.0f} responses/s "
          f"(accuracy {sum(harness) / args.n:.2%}, {100 * (sum(harness) - sum(strict)) / args.n:+.1f} points); "
          f"harness/naive time {harness_s / naive_s:.2f}x")
    differ = [i for i in range(args.n) if ours[i] != naive[i]]
    print(f"naive disagrees with ours on {len(differ):,} of {args.n:,} ({len(differ) / args.n:.2%}); by kind: "
          + ", ".join(f"{k} {v}" for k, v in Counter(kinds[i] for i in differ).most_common()))
    # One example from each of three kinds that show the public scorers' pitfalls (EVAL.md).
    for kind in ("boxed_off_list", "answer_is", "no_answer"):
        i = next((i for i in differ if kinds[i] == kind), None)
        if i is None:
            continue
        end = responses[i].rstrip()[-260:].replace("\n", "\\n")
        print(f"\n[{kind}] options: {dict(option_sets[i])}\n  ...{end}\n"
              f"  stated: {stated[i]}   ours: {ours[i]}   naive: {naive[i]}")


if __name__ == "__main__":
    main()
