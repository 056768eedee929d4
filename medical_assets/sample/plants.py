"""Planted contamination: training prompts copied, edited or paraphrased from benchmark questions.

Every plant is measured the way the decontamination step measures it (word
10-grams of `text.lower().split()`, and `rapidfuzz.fuzz.ratio` on the raw
strings) and the measurement is recorded in the truth file. A candidate is
only used when its own-row result agrees with the result against every
benchmark row, so the label holds whichever way a test looks it up.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from medical_assets.sample.benchgen import Benchmarks, BenchItem
from medical_assets.sample.textgen import Problem, boxed, pick

NGRAM = 10
THRESHOLD = 90.0


def ngrams(text: str, n: int = NGRAM, strip: bool = False) -> set[tuple[str, ...]]:
    """Word n-grams of `text.lower().split()` (the truth's definition); `strip` first blanks punctuation."""
    text = text.lower()
    if strip:
        text = re.sub(r"[^\w\s]", " ", text)
    tokens = text.split()
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def with_options(question: str, options_text: str) -> str:
    return question + "\n" + options_text


class BenchIndex:
    """Word 10-grams and question strings of every benchmark row, for plants and cleanliness checks."""

    def __init__(self, bench: Benchmarks) -> None:
        self.rows: list[tuple[str, int, BenchItem]] = [
            (name, i, it) for name, items in bench.sets.items() for i, it in enumerate(items)]
        self.row_ngrams = {(name, i): ngrams(it.question) | ngrams(with_options(it.question, it.options_text()))
                           for name, i, it in self.rows}
        self.all_ngrams: set[tuple[str, ...]] = set().union(*self.row_ngrams.values())
        texts = [t for _, _, it in self.rows for t in (it.question, with_options(it.question, it.options_text()))]
        questions = [it.question for _, _, it in self.rows]
        for row in bench.healthbench:
            for turn in row["prompt"]:
                if turn["role"] == "user":
                    questions.append(turn["content"])
                    texts.append(turn["content"])
                    self.all_ngrams |= ngrams(turn["content"])
        # the same with punctuation blanked, so clean prompts and paraphrase labels also hold for a
        # decontamination step that normalizes punctuation away
        self.stripped_ngrams: set[tuple[str, ...]] = set().union(*(ngrams(t, strip=True) for t in texts))
        self.questions = sorted(set(questions))

    def hits_any(self, text: str) -> bool:
        """Shares a word 10-gram with any benchmark text, raw or with punctuation blanked."""
        return not (ngrams(text).isdisjoint(self.all_ngrams)
                    and ngrams(text, strip=True).isdisjoint(self.stripped_ngrams))

    def best_score(self, text: str) -> float:
        best = process.extractOne(text, self.questions, scorer=fuzz.ratio)
        return float(best[1]) if best else 0.0


# --------------------------------------------------------------------- text edits

NUDGE = {"is": "was", "are": "were", "has": "had", "shows": "showed", "presents": "presented",
         "comes": "came", "reports": "reported", "notes": "noted", "reveals": "revealed", "revealed": "reveals",
         "demonstrates": "demonstrated", "include": "included", "and": "&", "with": "w/", "which": "what",
         "most": "more", "also": "too", "examination": "exam", "because": "since", "was": "is", "were": "are",
         "had": "has", "the": "a", "a": "the", "an": "the", "over": "across", "by": "via", "in": "within",
         "on": "upon", "whether": "if", "cells": "cell", "patients": "people"}
HARD = {"presents": "turns up", "patient": "person", "history": "background", "examination": "assessment",
        "shows": "reveals", "following": "listed choices", "likely": "probable", "diagnosis": "explanation",
        "pain": "discomfort", "temperature": "temp", "pulse": "heart rate", "management": "care",
        "appropriate": "suitable", "physician": "doctor", "because": "owing to", "drug": "medication",
        "choice": "preference", "causative": "responsible", "agent": "organism", "features": "traits",
        "investigation": "workup", "seen": "observed", "acts": "works", "effect": "result", "characteristic": "typical",
        "adverse": "unwanted", "evaluated": "assessed", "admitted": "hospitalized", "developed": "emerged",
        "revealed": "demonstrated", "noted": "observed", "reported": "described", "progressive": "worsening",
        "found": "detected", "treatment": "therapy", "started": "initiated", "symptoms": "complaints",
        "improve": "help", "effective": "useful", "reduce": "lower", "among": "in", "significant": "notable",
        "describes": "captures", "produces": "creates", "classically": "typically", "responsible": "to blame",
        "result": "finding", "strongest": "best", "support": "backing", "structure": "component",
        "relies": "depends", "risk": "danger", "best": "optimal", "notable": "remarkable", "step": "move",
        "confirm": "establish", "explains": "accounts for", "underlying": "basic", "mechanism": "process",
        "individual": "person", "also": "additionally", "brought": "taken", "evaluation": "workup",
        "exam": "check", "primary": "main", "over": "during", "past": "previous", "week": "7 days",
        "days": "d", "year-old": "yr-old", "man": "male", "woman": "female", "boy": "male child",
        "girl": "female child"}
LEAD_INS = ("Help me with this one: ", "Case question - ", "I'm revising and got stuck on this. ",
            "Practice item: ", "Could you work through the following? ")


def _keep_case(old: str, new: str) -> str:
    return new[:1].upper() + new[1:] if old[:1].isupper() else new


def _swap(token: str, table: dict[str, str]) -> str | None:
    """The token with its word replaced from `table` (punctuation kept), or None."""
    m = re.fullmatch(r"(\W*)([\w'-]+?)(\W*)", token)
    if not m:
        return None
    head, word, tail = m.groups()
    low = word.lower()
    for key in (low,) + tuple(k for k in table if "-" in k and low.endswith(k)):
        if key in table:
            repl = word[: len(word) - len(key)] + table[key] if key != low else _keep_case(word, table[key])
            return head + repl + tail
    return None


def nudge(token: str) -> str:
    """A minimal word-level change: a near-synonym, else singular/plural toggled, else a word added."""
    swapped = _swap(token, NUDGE)
    if swapped is not None and swapped.lower() != token.lower():
        return swapped
    m = re.fullmatch(r"(\W*)([A-Za-z]{4,})(\W*)", token)
    if m:
        head, word, tail = m.groups()
        if word.endswith("s") and not word.endswith("ss"):
            return head + word[:-1] + tail
        return head + word + "s" + tail
    return "so " + token


def _split(text: str) -> list[str]:
    """Tokens and the whitespace between them (re-joinable exactly)."""
    return re.split(r"(\s+)", text)


def near_paraphrase(rng: random.Random, text: str, every: int = 7) -> str:
    """Change one word in about every `every` words, each change tiny, so no word 10-gram survives."""
    parts = _split(text)
    words = [i for i, p in enumerate(parts) if p and not p.isspace()]
    pos = rng.randint(0, every - 1)
    while pos < len(words):
        best = pos
        for cand in (pos, pos + 1, pos - 1, pos + 2):
            if 0 <= cand < len(words) and _swap(parts[words[cand]], NUDGE):
                best = cand
                break
        parts[words[best]] = nudge(parts[words[best]])
        pos = best + every
    return "".join(parts)


def hard_paraphrase(rng: random.Random, text: str) -> str:
    """Reword heavily: swap many words, move the final question first, add a lead-in, then nudge."""
    parts = _split(text.strip())
    for i, p in enumerate(parts):
        if p and not p.isspace():
            swapped = _swap(p, HARD)
            if swapped and rng.random() < 0.85:
                parts[i] = swapped
    reworded = "".join(parts)
    sentences = re.split(r"(?<=[.?!])\s+", reworded)
    if len(sentences) > 2:
        sentences = [sentences[-1]] + sentences[:-1]
    return near_paraphrase(rng, pick(rng, LEAD_INS) + " ".join(sentences), every=5)


def light_edit(rng: random.Random, text: str) -> str:
    """One or two surface edits: prefix, case, punctuation, whitespace, one word, a short suffix."""
    ops = ["prefix", "lower", "punct", "space", "word", "suffix"]
    for op in rng.sample(ops, rng.randint(1, 2)):
        if op == "prefix":
            text = pick(rng, ("Question: ", "Q: ", "Question:\n")) + text
        elif op == "lower":
            text = text[:1].lower() + text[1:]
        elif op == "punct":
            stripped = text.rstrip()
            text = stripped[:-1] if stripped[-1:] in "?:." else stripped + "?"
        elif op == "space":
            text = "  ".join(text.split(" ", 2)) if text.count(" ") > 2 else " " + text
        elif op == "word":
            parts = _split(text)
            idx = [i for i, p in enumerate(parts) if _swap(p, HARD)]
            if idx:
                i = pick(rng, idx)
                parts[i] = _swap(parts[i], HARD)
            text = "".join(parts)
        else:
            text = text.rstrip() + pick(rng, (" Explain your answer.", " Why?", " Please answer briefly."))
    return text


# --------------------------------------------------------------------------- plants

SCHEDULE = ("copy", "edit", "near", "edit", "copy", "hard", "edit", "near", "copy", "edit", "near", "hard")


@dataclass
class Plant:
    prompt: str
    item: BenchItem
    truth: dict  # the truth file's "plant" object


class PlantFactory:
    """Hands out planted prompts in a fixed rotation of kinds and benchmarks."""

    def __init__(self, seed: int, bench: Benchmarks, index: BenchIndex) -> None:
        self.rng = random.Random(f"{seed}:plants")
        self.bench, self.index = bench, index
        self.names = [n for n in bench.sets]
        self.count = 0
        self.used: set[str] = set()

    def next(self, options_required: bool = False) -> Plant:
        rng = self.rng
        kind = ("copy", "edit")[self.count % 2] if options_required else SCHEDULE[self.count % len(SCHEDULE)]
        show_options = options_required or (kind in ("copy", "edit") and rng.random() < 0.4)
        start = self.count
        self.count += 1
        for attempt in range(2):
            for k in range(len(self.names)):
                name = self.names[(start + k) % len(self.names)]
                order = list(range(len(self.bench.sets[name])))
                rng.shuffle(order)
                for i in order:
                    plant = self._try(name, i, kind, show_options, options_required)
                    if plant is not None:
                        self.used.add(plant.item.question.strip())
                        return plant
            self.used.clear()  # every usable row was taken (large --scale): allow repeats
        raise RuntimeError(f"no benchmark row can host a {kind!r} plant")

    def _try(self, name: str, i: int, kind: str, show_options: bool, options_required: bool) -> Plant | None:
        item = self.bench.sets[name][i]
        if item.question.strip() in self.used or (options_required and len(item.options) != 4):
            return None
        q = item.question
        if kind == "copy":
            text = q
        elif kind == "edit":
            text = light_edit(self.rng, q)
        elif kind == "near":
            text = near_paraphrase(self.rng, q)
        else:
            text = hard_paraphrase(self.rng, q)
        prompt = with_options(text.rstrip("\n"), item.options_text()) if show_options else text
        own_ngram = not ngrams(prompt).isdisjoint(self.index.row_ngrams[(name, i)])
        any_ngram = self.index.hits_any(prompt)
        score = round(float(fuzz.ratio(prompt, q)), 2)
        best = self.index.best_score(prompt)
        if own_ngram != any_ngram or (score >= THRESHOLD) != (best >= THRESHOLD) or not prompt.strip():
            return None
        if len(prompt.split()) <= 3:
            return None
        ok = {
            "copy": own_ngram and (show_options or score == 100.0),
            "edit": own_ngram if show_options else score >= THRESHOLD and text != q,
            "near": score >= THRESHOLD and not own_ngram,
            "hard": score < THRESHOLD and not own_ngram,
        }[kind]
        if not ok:
            return None
        truth = {"kind": "paraphrase" if kind in ("near", "hard") else kind, "benchmark": name, "index": i,
                 "with_options": show_options, "ngram_hit": own_ngram, "fuzzy_score": score}
        return Plant(prompt, item, truth)


def plant_problem(plant: Plant) -> Problem:
    """Reasoning material for a planted prompt (answers the benchmark item)."""
    item = plant.item
    letter, text = item.answer_idx, item.answer.strip()
    steps = list(item.facts)
    if plant.truth["with_options"]:
        steps.append(f"Checking the options one by one, {letter} ({text}) is the one that fits.")
        answer = f"The answer is **{letter}. {text}**.\n\n{boxed(letter)}"
        final = letter
    else:
        answer = f"**{text[:1].upper() + text[1:]}**.\n\n{boxed(text)}"
        final = text
    others = [v.strip() for k, v in item.options.items() if k != letter]
    return Problem("medical", plant.prompt, steps, answer, item.topic, final, others[0] if others else text)
