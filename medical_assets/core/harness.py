"""The verdict of the public harness that produced the model card's table
(II-Medical-Evaluation, `medical.py`, descended from m1 and HuatuoGPT-o1), reproduced
exactly, over-crediting included, so that our scores can be held against the card's.

A response is credited when ANY of three readings equals the gold letter, compared
case-insensitively, each reading seeing the whole response unless said otherwise:

1. `last_box`: the content of the last `\\boxed{...}` (braces balanced), with every
   `\\boxed`, `\\text`, `{` and `}` removed and the rest stripped: `\\boxed{C. Aspirin}`
   reads "C. Aspirin" (not C), `\\boxed{\\textbf{C}}` reads "bfC". With no `\\boxed` at all,
   the first character of the text after the last "Answer:" (up to a period).
2. `lenient_box`: the non-empty match of `oxed{...}` nearest the end (up to the first `}`,
   within one line) read by its first character when that is an ASCII capital, else as
   it is: `\\boxed{Clopidogrel}` reads C, `\\boxed{Option C}` reads O, `\\boxed{c}` reads c
   (credited for gold C).
3. `huatuo`: on the text after the last `</think>` (and after "## Final Response"), the
   last "answer is <A-N>" (case-sensitive: "the answer is Bleeding" reads B); else the last
   capital among the first k letters of A-N (k = the option count, at most 14) standing
   alone (a capital "A" followed by a space is an article, skipped); else the option whose
   text occurs latest in the lowercased reply; else the option whose text is most similar
   to the reply by difflib (ties to the last option). It always names an option, so an empty
   or truncated reply is credited about 1/k of the time.

`extract_choice` (core/answers.py) is the strict reading beside it: one stated answer or none.
"""

from __future__ import annotations

import difflib
import re
from typing import Mapping

HUATUO_LETTERS = "ABCDEFGHIJKLMN"
_ANSWER_IS = re.compile(r"(answer is\s*?)([A-N])", re.S)
_LENIENT_BOX = re.compile(r"oxed{(.*?)}")
_CJK = "[\u4e00-\u9fff]"
# What may stand before a lone option letter: a CJK character, "is ", 是, 项, an asterisk, any
# non-word character, a space, "(", 为, the start, a quote or "#" (tried in this order).
_BEFORE_LETTER = "|".join([_CJK, "is ", "是", "项", r"\*", r"\W", r"\ ", r"\(", "为", "^", "'", '"', "#"])
_FINAL_RESPONSE = "## Final Response\n\n"


def last_box(response: str) -> str | None:
    """Reading 1: the cleaned content of the last `\\boxed{...}`, or the first character after
    the last "Answer:" when there is no box; None when there is neither (or a box never closes)."""
    start = response.rfind("\\boxed")
    if start < 0:
        if "Answer:" not in response:
            return None
        after = response.split("Answer:")[-1].strip()
        return after.split(".")[0].strip()[:1] if after else None
    depth = 0
    for end in range(start, len(response)):
        character = response[end]
        if character == "{":
            depth += 1
        elif character == "}":
            depth -= 1
            if depth == 0:
                box = response[start:end + 1]
                for token in ("\\boxed", "\\text", "{", "}"):
                    box = box.replace(token, "")
                return box.strip()
    return None


def lenient_box(response: str) -> str:
    """Reading 2: the last non-empty `oxed{...}` match (no newline inside, up to the first
    `}`): its first character if an ASCII capital, else the whole match; "" without one."""
    for match in reversed(_LENIENT_BOX.findall(response)):
        if match:
            first = match.strip()[:1]
            return first if "A" <= first <= "Z" else match
    return ""


def huatuo_choice(text: str, options: Mapping[str, str]) -> str:
    """Reading 3 on `text` (the caller passes the part after `</think>`): always an option letter."""
    return huatuo_reading(text, options)[0]


def huatuo_reading(text: str, options: Mapping[str, str]) -> tuple[str, str]:
    """(letter, how it was found): "answer is", "lone letter", "option text" or "closest text"."""
    if not options:
        raise ValueError("huatuo_choice needs the question's options")
    if _FINAL_RESPONSE in text:
        text = text.split(_FINAL_RESPONSE)[-1]
    stated = _ANSWER_IS.findall(text)
    if stated:
        return stated[-1][1], "answer is"
    letters = HUATUO_LETTERS[:len(options)]
    alone = re.findall(f"({_BEFORE_LETTER})(?![aA] )([{letters}])(\\W|{_CJK}|$)", text, re.S)
    if alone:
        return alone[-1][1], "lone letter"
    texts = {letter: str(value).lower() for letter, value in options.items()}
    lowered = text.lower()
    latest, latest_at = None, -1
    for letter, option_text in texts.items():
        if option_text in lowered:
            at = lowered.rindex(option_text)
            if at > latest_at:  # on a tie the earlier option stays
                latest, latest_at = letter, at
    if latest is not None:
        return latest, "option text"
    closest, best = "", -1.0
    for letter, option_text in texts.items():
        similarity = difflib.SequenceMatcher(None, option_text, lowered).ratio()
        if similarity >= best:  # on a tie the later option wins
            closest, best = letter, similarity
    return closest, "closest text"


def ii_medical_readings(response: str, options: Mapping[str, str]) -> dict[str, str | None]:
    """The three readings of a response, by name (`last_box`, `lenient_box`, `huatuo`)."""
    return {"last_box": last_box(response), "lenient_box": lenient_box(response),
            "huatuo": huatuo_choice(response.split("</think>")[-1], options)}


def ii_medical_credits(response: str, options: Mapping[str, str], gold: str) -> dict[str, bool]:
    """Which of the three readings equal the gold letter (case-insensitive, as the harness compares)."""
    gold = str(gold).lower()
    return {name: str(reading).lower() == gold for name, reading in ii_medical_readings(response, options).items()}


def ii_medical_correct(response: str, options: Mapping[str, str], gold: str) -> bool:
    """The published harness's verdict: correct when any of its three readings is the gold letter."""
    return any(ii_medical_credits(response, options, gold).values())


def scorer_disagreement(response: str, options: Mapping[str, str], gold: str, strict_answer: str | None) -> str | None:
    """Why the harness's verdict and the strict one (`extract_choice`'s `strict_answer`) differ
    on a response, in a few words; None when they agree."""
    return harness_verdict(response, options, gold, strict_answer)[1]


def harness_verdict(response: str, options: Mapping[str, str], gold: str, strict_answer: str | None
                    ) -> tuple[bool, str | None]:
    """(`ii_medical_correct`, `scorer_disagreement`) with the three readings done once."""
    credits = ii_medical_credits(response, options, gold)
    correct = any(credits.values())
    strict = strict_answer is not None and strict_answer.lower() == str(gold).lower()
    if correct == strict:
        return correct, None
    if strict:
        return correct, "only the strict reading matched"
    if strict_answer is not None:
        return correct, "a second extractor matched"
    reasoning, _, final = response.rpartition("</think>")
    boxed = credits["last_box"] or credits["lenient_box"]
    if "\\boxed" in reasoning and "\\boxed" not in final and boxed:
        return correct, "box only in the reasoning"
    if credits["huatuo"] and not boxed and huatuo_reading(final, options)[1] == "closest text":
        return correct, "credited by the fallback"
    return correct, "no answer stated"
