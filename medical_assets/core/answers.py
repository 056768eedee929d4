"""Read which option a model chose in a multiple-choice answer.

One reader for two recipe steps: the evaluation on the ten medical
multiple-choice benchmarks (`RECIPE.evaluation`: the prompt asks the model to
"put your final answer within \\boxed{}") and the DAPO accuracy reward
(`RECIPE.dapo`), so a response scores the same in both.

One answer per response, from the first rule that finds one:

1. the last complete `\\boxed{...}` (or `\\fbox{...}`) of the answer region,
   read as a letter, "(C)", "C. text", "Option C" or an option's exact text.
   An explicit box that names no single valid option ("F" of four options,
   "Clopidogrel" when no option is, "C and D") is a wrong answer: None, and
   no weaker rule is tried;
2. the answer region being nothing but such an answer, on one short line,
   maybe under an "Answer" heading ("**Answer: C**", "C. text", "Clopidogrel");
3. the last explicit statement ("the answer is (C)", "Final Answer: C",
   "correct option is C. text", "the answer is <option text>"). Only the
   last one counts: when it names an invalid or two letters the answer is
   None; when it names no option ("the answer is I think...", "the answer is
   Bleeding") no earlier statement is used, only rule 4;
4. an option's exact text alone on the last line of the answer region.

The answer region is the text after the last `</think>`; reasoning never
answers when the think block is closed. Without `</think>` the region is the
whole response, except that a response cut off inside `<think>` answers only
with a box. Nothing found is None, and None is wrong. Unlike the public
harnesses there is no fuzzy fallback (it scores empty output at about 1/k),
no "best of first and last match against the gold answer", no lenient
pattern that reads "\\boxed{Clopidogrel}" as C or "the answer is Bleeding"
as B, and no letter pattern that takes the pronoun "I" for option I.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Mapping, Sequence

from medical_assets.core.canonical import THINK_CLOSE, THINK_OPEN

_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE_OR_ESCAPE = re.compile(r"\\.|[{}]", re.S)
_TEXT_COMMAND = re.compile(
    r"\\(?:text|textbf|textit|textrm|texttt|textsf|mathrm|mathbf|mathit|mathsf|mathtt|mbox|emph|operatorname)"
    r"\s*\{([^{}]*)\}"
)
_LATEX_SPACE = re.compile(r"\\(?:[,;:! ]|quad(?![A-Za-z])|qquad(?![A-Za-z]))|~")
_LATEX_SIZING = re.compile(r"\\(?:left|right|bigl|bigr|big|Big)(?![A-Za-z])")
_QUOTES = "\"'“”‘’"
_TRAILING = ".,;:! \t\r\n"

# "Answer:", "The answer is", "Final answer:", "Option", "The correct choice is".
_ANSWER_PREFIX = re.compile(
    r"(?i)(?:the\s+)?(?:(?:final|correct|best|right)\s+)?(?:answer|option|choice)\b(?:\s+is\b)?\s*[:=\-]?\s*"
)
_BARE_LETTER = re.compile(r"\(?([A-Z])\)?")
_BARE_LOWER_LETTER = re.compile(r"\(?([a-z])\)?")
# "(C) text", "(C). text", "C. text", "C: text", "C) text", "C - text".
_LETTER_WITH_TEXT = re.compile(r"(?:\(([A-Z])\)\s*[.:\-–—]?|([A-Z])\s*[.:)]|([A-Z])\s+[-–—])\s*(.+)", re.S)

# An explicit statement: "answer is", "answer would be", "Final Answer:", "correct option is", "best choice:".
# Found by searching its cue word backwards (`str.rfind`), then matching what follows the word.
_STATEMENT_CUES = ("answer", "option", "choice")
_QUALIFIED_CUE = re.compile(r"(?:correct|best|right|answer)\s+$")  # "option"/"choice" only as "correct option"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_AFTER_CUE = re.compile(
    r"(?i)\b[ \t*_]*"
    r"(?:(?:is|would\s+be|should\s+be|must\s+be|will\s+be)\b"
    r"(?:[ \t]+(?:likely|probably|most\s+likely|definitely|clearly|therefore|thus|indeed)\b)?[ \t*_]*:?"
    r"|[:=])"
    r"[ \t]*([^\n]*)"
)
# The letter at the start of a statement's tail: a word of its own ("Bleeding", "B12", "C-reactive" are not).
_STATEMENT_LETTER = re.compile(r"(?:(?i:option|choice)\s+)?(?:\(([A-Z])\)|\[([A-Z])\]|([A-Z])(?![\w'’\-]))(.*)", re.S)
_PRONOUN_FOLLOWS = re.compile(r"\s+[A-Za-z]")  # "the answer is I think ...": the pronoun, not option I
_SECOND_LETTER = re.compile(r"\s*(?:,|/|&|\bor\b|\band\b)\s*(?:(?i:option|choice)\s+)?\(?[A-Z](?![\w'’\-])")
_SEPARATOR = re.compile(r"\s*[.:)\-–—]\s*(.+)", re.S)
_BOX_JOINER = re.compile(r"(?i)[\s$*]*(?:,|/|&|\bor\b|\band\b|\band/or\b)[\s$*]*(?:\beven\b[\s$*]*)?")
# "b. text": a lowercase letter counts only with its own option's text after it.
_LOWER_LETTER_WITH_TEXT = re.compile(r"(?:\(([a-z])\)\s*[.:\-–—]?|([a-z])\s*[.:)])\s*(.+)", re.S)
# A line that only announces the answer ("**Final Answer**", "## Answer:").
_HEADING = re.compile(r"(?i)[ \t#>*_]*(?:final\s+)?answer[ \t*_:]*")
_BARE_ANSWER_CHARS = 300  # longer than this, the answer region is an explanation, not a bare answer

_NOT_AN_OPTION = "not an option"  # an explicit answer that names no single valid option
_CAPITALS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NEEDS_CLEANING = re.compile(r"[\\~$*`]")


class _Choices:
    """The option letters of one question, and its option texts by normalized text (built when first needed)."""

    __slots__ = ("order", "letters", "texts", "_by_text")

    def __init__(self, letters: tuple[str, ...], texts: tuple[str, ...]):
        self.order = letters
        self.letters = frozenset(letters)
        if not self.letters <= _CAPITALS:
            bad = next(letter for letter in letters if letter not in _CAPITALS)
            raise ValueError(f"option key {bad!r} is not a single capital letter; pass options as {{'A': text, ...}}")
        self.texts = texts
        self._by_text: dict[str, str] | None = None

    @property
    def by_text(self) -> dict[str, str]:
        """Normalized option text -> letter; `_NOT_AN_OPTION` when two options share a text."""
        if self._by_text is None:
            by_text: dict[str, str] = {}
            for letter, text in zip(self.order, self.texts):
                if not isinstance(text, str):
                    raise ValueError(f"option {letter} is {type(text).__name__}, expected its text as a string")
                key = _key(text)
                if key:
                    by_text[key] = _NOT_AN_OPTION if key in by_text else letter
            self._by_text = by_text
        return self._by_text


def _clean(text: str) -> str:
    """Without LaTeX text wrappers, `$`, markdown emphasis, quotes and trailing punctuation."""
    if "\\" in text or "~" in text:
        text = _LATEX_SIZING.sub("", _LATEX_SPACE.sub(" ", text))
        previous = None
        while previous != text:
            previous, text = text, _TEXT_COMMAND.sub(r"\1", text)
    if "$" in text or "*" in text or "`" in text:
        text = text.replace("$", "").replace("*", "").replace("`", "")
    return text.strip().strip(_QUOTES).rstrip(_TRAILING).strip()


def _key(text: str) -> str:
    """Case- and whitespace-insensitive form of a text, for exact option-text matches."""
    if _NEEDS_CLEANING.search(text):
        text = _clean(text)
    return "".join(text.casefold().split()).strip(_QUOTES).rstrip(_TRAILING)


@lru_cache(maxsize=8192)
def _choices(letters: tuple[str, ...], texts: tuple[str, ...]) -> _Choices:
    return _Choices(letters, texts)


def _choices_of(options: Mapping[str, str]) -> _Choices:
    return _choices(tuple(options), tuple(options.values()))


def _valid(letter: str, choices: _Choices) -> str:
    return letter if letter in choices.letters else _NOT_AN_OPTION


def _by_text(text: str, choices: _Choices) -> str | None:
    return choices.by_text.get(_key(text))


def _read_answer(content: str, choices: _Choices) -> str | None:
    """A whole answer ("C", "(C)", "C. text", "Option C", an option's text) as a letter.

    `_NOT_AN_OPTION` when it is a letter outside the options, or "K. text" where
    the text is another option's; None when it is not a choice at all.
    """
    if content in choices.letters:  # the usual \boxed{C}
        return content
    text = _clean(content)
    if not text:
        return None
    prefix = _ANSWER_PREFIX.match(text)
    unprefixed = text[prefix.end():].strip() if prefix else text
    for candidate in (text, unprefixed):
        letter = _BARE_LETTER.fullmatch(candidate)
        if letter:
            return _valid(letter.group(1), choices)
        found = _by_text(candidate, choices)
        if found:
            return found
    letter = _BARE_LOWER_LETTER.fullmatch(unprefixed)
    if letter:
        return _valid(letter.group(1).upper(), choices)
    with_text = _LETTER_WITH_TEXT.fullmatch(unprefixed)
    if with_text:
        letter = with_text.group(1) or with_text.group(2) or with_text.group(3)
        named = _by_text(with_text.group(4), choices)
        return _NOT_AN_OPTION if named not in (None, letter) else _valid(letter, choices)
    return _lower_letter_with_its_text(unprefixed, choices)


def _lower_letter_with_its_text(text: str, choices: _Choices) -> str | None:
    """"b. Heparin" is option B when B's text is Heparin; otherwise ("a. patient ...") no answer."""
    match = _LOWER_LETTER_WITH_TEXT.fullmatch(text)
    if match:
        letter = (match.group(1) or match.group(2)).upper()
        if letter in choices.letters and _by_text(match.group(3), choices) == letter:
            return letter
    return None


def _read_statement(tail: str, choices: _Choices) -> str | None:
    """What follows "answer is" / "answer:" as a letter; None when it names no option."""
    text = _clean(tail).lstrip(":").strip()
    if not text:
        return None
    found = _by_text(text, choices)
    if found:
        return found
    match = _STATEMENT_LETTER.match(text)
    if match is None:
        return None
    bare, rest = match.group(3), match.group(4)
    letter = match.group(1) or match.group(2) or bare
    if bare == "I" and _PRONOUN_FOLLOWS.match(rest):
        return None
    if _SECOND_LETTER.match(rest):
        return _NOT_AN_OPTION
    described = _SEPARATOR.match(rest)
    if described:
        named = _by_text(described.group(1), choices)
        if named not in (None, letter):
            return _NOT_AN_OPTION
    return _valid(letter, choices)


def _last_box_span(text: str, end: int) -> tuple[int, int, str] | None:
    """(start, end, content) of the last brace-matched `\\boxed{...}` / `\\fbox{...}` that starts
    before `end`; an unclosed one is skipped."""
    while True:
        start = max(text.rfind("\\boxed", 0, end), text.rfind("\\fbox", 0, end))
        if start < 0:
            return None
        opening = _BOX_START.match(text, start)
        if opening:
            depth = 1
            for token in _BRACE_OR_ESCAPE.finditer(text, opening.end()):
                mark = token.group()
                depth += (mark == "{") - (mark == "}")
                if depth == 0:
                    return start, token.end(), text[opening.end():token.start()]
        end = start


def _last_boxed(text: str) -> str | None:
    """The content of the last brace-matched `\\boxed{...}` / `\\fbox{...}`; an unclosed one is skipped."""
    span = _last_box_span(text, len(text))
    return None if span is None else span[2]


def _boxed_answer(text: str, choices: _Choices) -> str | None:
    """The last box read as an answer; `_NOT_AN_OPTION` when the box before it is joined to it by
    "or", "and", "/" or a comma and names another option ("either \\boxed{D} or \\boxed{A}"): two
    answers offered. A box after other words ("\\boxed{B} ... no, \\boxed{C}") corrects the first."""
    last = _last_box_span(text, len(text))
    if last is None:
        return None
    found = _read_answer(last[2], choices)
    before = _last_box_span(text, last[0])
    if found not in (None, _NOT_AN_OPTION) and before is not None and _BOX_JOINER.fullmatch(text, before[1], last[0]):
        other = _read_answer(before[2], choices)
        if other not in (None, _NOT_AN_OPTION, found):
            return _NOT_AN_OPTION
    return found


def _stated_alone(region: str, choices: _Choices) -> str | None:
    if len(region) > 2 * _BARE_ANSWER_CHARS:
        return None
    lines = [line for line in region.splitlines() if line.strip() and not _HEADING.fullmatch(line)]
    if len(lines) != 1 or len(lines[0]) > _BARE_ANSWER_CHARS:
        return None
    return _read_answer(lines[0], choices)


def _last_statement(region: str, choices: _Choices) -> str | None:
    """The last explicit statement decides: its letter, `_NOT_AN_OPTION`, or None when it names no option."""
    lowered = region.lower()
    if len(lowered) != len(region):  # a few non-ASCII letters change length when lowered
        lowered = region.translate(_ASCII_LOWER)
    last_start, last = -1, None
    for cue in _STATEMENT_CUES:
        end = len(lowered)
        while (start := lowered.rfind(cue, 0, end)) > last_start:
            end = start
            if start and lowered[start - 1].isalnum():
                continue
            if cue != "answer" and not _QUALIFIED_CUE.search(lowered, max(0, start - 12), start):
                continue
            following = _AFTER_CUE.match(region, start + len(cue))
            if following:
                last_start, last = start, following
                break
    if last is None:
        return None
    tail = last.group(1)
    if not _clean(tail):  # "Answer:" with the answer on the next line
        rest = region[last.end():].lstrip()
        tail = rest[:rest.find("\n")] if "\n" in rest else rest
    return _read_statement(tail, choices)


def _option_on_line(line: str, choices: _Choices) -> str | None:
    """The option a line is by itself: its text, or "K. text" with K's own text."""
    found = _by_text(line, choices)
    if found:
        return found
    with_text = _LETTER_WITH_TEXT.fullmatch(_clean(line))
    if with_text:
        letter = with_text.group(1) or with_text.group(2) or with_text.group(3)
        if _by_text(with_text.group(4), choices) == letter:
            return letter
        return None
    return _lower_letter_with_its_text(_clean(line), choices)


def _option_text_on_last_line(region: str, choices: _Choices) -> str | None:
    """The option alone on the last line, unless other lines are options too (a response that
    only repeats the list of options chose none of them)."""
    lines = [line for line in region.rstrip().splitlines() if line.strip()]
    if not lines:
        return None
    found = _option_on_line(lines[-1], choices)
    if found is None:
        return None
    listed = {_option_on_line(line, choices) for line in lines[:-1]} - {None, found}
    return None if listed else found


def _letter(found: str | None) -> str | None:
    return None if found == _NOT_AN_OPTION else found


def _extract(response: str, choices: _Choices) -> str | None:
    close = response.rfind(THINK_CLOSE)
    if close >= 0:
        region = response[close + len(THINK_CLOSE):]
    elif THINK_OPEN in response:  # cut off while reasoning: only a box counts
        return _letter(_boxed_answer(response, choices))
    else:
        region = response
    if not region or region.isspace():
        return None
    if "\\boxed" in region or "\\fbox" in region:
        boxed = _boxed_answer(region, choices)
        if boxed is not None:
            return _letter(boxed)
    found = _stated_alone(region, choices)
    if found is not None and found != _NOT_AN_OPTION:
        return found
    found = _last_statement(region, choices)
    if found is not None:
        return _letter(found)  # the last statement decides, even when it names an invalid option
    return _letter(_option_text_on_last_line(region, choices))


def extract_choice(response: str, options: Mapping[str, str]) -> str | None:
    """The option letter a response chose, or None when it states no single valid option.

    `options` maps capital letters to option texts in the benchmark's order (up
    to A-J for MedXpertQA and MMLU-Pro). Rules, in order (module docstring):
    last box, bare answer after `</think>`, last "answer is" statement, an
    option's text alone on the last line. Evaluation of the benchmarks and the
    DAPO accuracy reward both read answers through this function.
    """
    return _extract(response or "", _choices_of(options))


def extract_choices(responses: Sequence[str], options: Sequence[Mapping[str, str]]) -> list[str | None]:
    """`extract_choice` for each (response, options) pair, e.g. a benchmark's column of generations."""
    if len(responses) != len(options):
        raise ValueError(f"{len(responses)} responses but {len(options)} option sets; pass one option set per response")
    return [_extract(response or "", _choices_of(row_options)) for response, row_options in zip(responses, options)]


def is_correct(response: str, options: Mapping[str, str], gold_letter: str) -> bool:
    """Whether the response chose the gold option; no answer counts as wrong.

    The one scoring rule of the evaluation and of the DAPO accuracy reward. A
    gold letter that is not among the options is a malformed row: reject it
    when loading, never score it.
    """
    gold = gold_letter.strip().upper()
    if gold not in options:
        raise ValueError(f"gold letter {gold_letter!r} is not one of the options {list(options)}; "
                         "reject this row as malformed instead of scoring it")
    return extract_choice(response, options) == gold
