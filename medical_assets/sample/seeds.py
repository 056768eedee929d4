"""Seed question sets of the synthetic-QA part (questions only, training-side wording)."""

from __future__ import annotations

import random

from medical_assets.sample import vocab as V
from medical_assets.sample.benchgen import LETTERS, deterministic_uuid, duration, make_options, patient_for
from medical_assets.sample.textgen import cap, pick

SUBJECTS = {"drug": ("Pharmacology", ("Antimicrobials", "Autonomic nervous system", "Cardiovascular drugs", None)),
            "organism": ("Microbiology", ("Bacteriology", "Mycology", "Parasitology", "Virology", None)),
            "condition": ("Medicine", ("Respiratory system", "Endocrinology", "Gastroenterology", "Neurology", None))}


def medmcqa_seed_row(rng: random.Random) -> dict:
    """openlifescienceai/medmcqa layout: four opa..opd options and a 0-based cop."""
    kind = rng.randrange(5)
    if kind == 0:
        d = pick(rng, V.DRUGS)
        q, right, pool, subj = f"{cap(d.name)} belongs to which group of medicines?", d.drug_class, \
            [x.drug_class for x in V.DRUGS], "drug"
        exp = f"{cap(d.name)} is a {d.drug_class}; it {d.mechanism}."
    elif kind == 1:
        d = pick(rng, V.DRUGS)
        q, right, pool, subj = f"A common reason to prescribe {d.name} would be", d.use, [x.use for x in V.DRUGS], "drug"
        exp = f"{cap(d.name)} is mainly used for {d.use}."
    elif kind == 2:
        o = pick(rng, V.ORGANISMS)
        q, right, pool, subj = f"The organism {o.name} is best characterized as a", o.kind, \
            [x.kind for x in V.ORGANISMS], "organism"
        exp = f"{o.name} is a {o.kind} with {o.feature}."
    elif kind == 3:
        c = pick(rng, [x for x in V.CONDITIONS if not x.sign.startswith(("a normal", "mild"))])
        q, right, pool, subj = f"Hallmark bedside sign in {c.name}:", c.sign, [x.sign for x in V.CONDITIONS], "condition"
        exp = f"{cap(c.sign)} is typical of {c.name}."
    else:
        c = pick(rng, V.CONDITIONS)
        q, right, pool, subj = f"Confirmatory work-up when {c.name} is suspected", c.test, \
            [x.test for x in V.CONDITIONS], "condition"
        exp = f"{cap(c.test)} shows {c.result}."
    options, letter = make_options(rng, right, pool, 4)
    subject, topics = SUBJECTS[subj]
    return {"id": deterministic_uuid(rng), "question": q, "opa": options["A"], "opb": options["B"],
            "opc": options["C"], "opd": options["D"], "cop": LETTERS.index(letter), "choice_type": "single",
            "exp": exp if rng.random() < 0.8 else None, "subject_name": subject, "topic_name": pick(rng, topics)}


def medqa_seed_row(rng: random.Random) -> dict:
    """bigbio/med_qa (4 options, source config) layout with a clinical vignette."""
    c = pick(rng, V.CONDITIONS)
    p = patient_for(rng, c)
    s1, s2 = rng.sample(list(c.symptoms), 2)
    ask = pick(rng, ("dx", "tx"))
    text = (f"{p.desc} visits the office complaining of {s1} for the last "
            f"{duration(rng, c)}. {p.he} also mentions {s2}. {p.he} {p.habit(rng)}. On inspection, "
            f"the examiner notes {c.sign}. " + ("What is the most likely cause of this patient's condition?" if ask == "dx"
                                      else "What should be offered to this patient first?"))
    right, pool = (c.name, [x.name for x in V.CONDITIONS]) if ask == "dx" else \
        (c.treatment, [x.treatment for x in V.CONDITIONS])
    options, letter = make_options(rng, right, pool, 4)
    return {"meta_info": pick(rng, ("step1", "step2&3")), "question": text, "answer_idx": letter,
            "answer": options[letter], "options": [{"key": k, "value": v} for k, v in options.items()]}


def medreason_seed_row(rng: random.Random) -> dict:
    """UCSC-VLAA/MedReason layout: question, options string, reasoning path and gold answer."""
    c = pick(rng, V.CONDITIONS)
    dataset = pick(rng, ("medqa", "medmcqa", "mmlu"))
    if dataset == "medmcqa":
        q = f"Expected finding on {c.test} in {c.name}"
        right, pool = c.result, [x.result for x in V.CONDITIONS]
    else:
        p = patient_for(rng, c)
        s1, s2 = rng.sample(list(c.symptoms), 2)
        q = (f"Over {duration(rng, c)}, {p.mid} has developed {s1} together with {s2}, "
             f"and the examiner detects {c.sign}. Name the disorder that best matches this picture.")
        right, pool = c.name, [x.name for x in V.CONDITIONS]
    options, letter = make_options(rng, right, pool, 4)
    options_text = "Answer Choices:\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
    reasoning = (f"Finding reasoning paths:\n1. {cap(c.symptoms[0])} -> {c.system} involvement -> {c.name}\n"
                 f"2. {cap(c.sign)} -> {c.name}\n\nReasoning Process:\nThe features point to {c.name}, which "
                 f"arises from {c.mechanism}. {cap(c.test)} would show {c.result}.\n\nConclusion:\n{options[letter]}.")
    gold = options[letter]
    answer = gold + (f". Explanation: {cap(c.name)} is confirmed by {c.test}." if dataset == "medmcqa" else "")
    return {"dataset_name": dataset, "id_in_dataset": rng.randint(0, 20000), "question": q,
            "options": options_text, "reasoning": reasoning, "answer": answer}


def seed_prompt(file: str, row: dict) -> str:
    """The prompt a pipeline would build from a seed row (question plus "A. text" option lines)."""
    if file == "medmcqa_seed.jsonl":
        opts = [row["opa"], row["opb"], row["opc"], row["opd"]]
        return row["question"].strip() + "\n" + "\n".join(f"{LETTERS[i]}. {t}" for i, t in enumerate(opts))
    if file == "medqa_seed.jsonl":
        return row["question"].strip() + "\n" + "\n".join(f"{o['key']}. {o['value']}" for o in row["options"])
    return row["question"].strip() + "\n" + row["options"].strip()
