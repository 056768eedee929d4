"""The third decontamination step: rephrased benchmark questions.

The card's two steps (10-gram overlap, fuzzy ratio >= 90) compare surface strings, so a
question rewritten in other words passes both. This step follows the protocol of LMSYS's
llm-decontaminator ("Rethinking Benchmark and Contamination for Language Models with
Rephrased Samples", 2023): the nearest eval questions of each training prompt by embedding
cosine (exact inner-product top-k with faiss), then a confirmation of each close pair. Cosine
alone cannot separate a rephrasing from a different question on the same topic (a vignette
of the same disease reaches the cosine of a reworded copy), so the confirmation asks what a
rewording keeps and a new question does not: the question's rare, specific words (drug and
disease names, findings, ages and lab values), weighted by their rarity in the eval set.

Signals of a pair, all in the evidence row:
- `cosine`: of the two MiniLM vectors (unit rows: inner product).
- `dice`: weighted Dice coefficient of the two word sets, 2 w(P & Q) / (w(P) + w(Q)), with
  w the inverse document frequency over the eval texts; words are lower-cased, stop words
  and letters-only words under 3 characters dropped, and cut to their first 6 letters so
  that inflections and misspellings at a word's end agree ("arteries" / "artery").
- `shared_rare`: w(P & Q) in units of the rarest weight (a word no other eval text has):
  how many rare words the pair shares, so that two short texts sharing "celiac disease"
  are not taken for one question.
- `numbers`: Jaccard similarity of the numbers (ages, doses, vitals); 1.0 when neither has any.
Against a question with options the word signals take the better of the question alone and
the question with its options (a prompt may carry them).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

STEM_LETTERS = 6
MIN_WORD_LETTERS = 3
# Function words only: every other word counts, by its rarity (a short question needs all of its words).
STOP_WORDS = frozenset(
    "and are but for from had has have her his its not that the their them then there these they this "
    "those was were what when where which who whom whose why with".split()
)
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+")

COSINE_FLOOR = 0.75  # pairs at or above it go to confirmation
SEARCH_CHUNK_ROWS = 16_384  # prompt vectors searched at once: bounds the memory of the score matrix


@dataclass(frozen=True)
class Confirmation:
    """When a close pair counts as a rephrasing (the defaults: see the README's decontamination section)."""

    min_dice: float = 0.4
    min_shared_rare: float = 3.0
    min_numbers: float = 0.75  # a rewording keeps its ages, doses and vitals

    def confirms(self, dice: float, shared_rare: float, numbers: float) -> bool:
        return dice >= self.min_dice and shared_rare >= self.min_shared_rare and numbers >= self.min_numbers


def words_and_numbers(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The word stems (numbers included) and the numbers of a text, as the signals compare them."""
    words, numbers = set(), set()
    for token in _TOKEN.findall(text.lower()):
        if token[0].isdigit():
            numbers.add(token)
            words.add(token)
        elif len(token) >= MIN_WORD_LETTERS and token not in STOP_WORDS:
            words.add(token[:STEM_LETTERS])
    return frozenset(words), frozenset(numbers)


def nearest_questions(prompts: np.ndarray, questions: np.ndarray, k: int, floor: float,
                      progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each prompt's k nearest questions by inner product (exact, faiss `IndexFlatIP`), kept
    where the cosine is at least `floor`: (prompt row, question row, cosine, rank) arrays, rank
    0 the nearest. Prompts are searched in chunks; only the index and one chunk's scores are in
    memory. `progress` gets the number of prompts searched so far."""
    import faiss

    rows, cols, scores, ranks = [], [], [], []
    if len(questions) == 0 or len(prompts) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32), empty
    index = faiss.IndexFlatIP(questions.shape[1])
    index.add(np.ascontiguousarray(questions, dtype=np.float32))
    k = min(k, len(questions))
    for start in range(0, len(prompts), SEARCH_CHUNK_ROWS):
        chunk = np.ascontiguousarray(prompts[start:start + SEARCH_CHUNK_ROWS], dtype=np.float32)
        score, neighbour = index.search(chunk, k)
        row, rank = np.nonzero(score >= floor)
        rows.append(row + start)
        cols.append(neighbour[row, rank])
        scores.append(score[row, rank])
        ranks.append(rank)
        if progress is not None:
            progress(start + len(chunk))
    return (np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64),
            np.concatenate(scores).astype(np.float32), np.concatenate(ranks).astype(np.int64))


class RareWords:
    """The eval texts' words with their rarity: the confirmation signals of (prompt, question) pairs."""

    def __init__(self, questions: list[str], with_options: list[str | None]):
        self._forms = [
            [words_and_numbers(q)] + ([words_and_numbers(o)] if o else [])
            for q, o in zip(questions, with_options)
        ]
        df = Counter(word for forms in self._forms for word in set().union(*(w for w, _ in forms)))
        n = len(questions)
        self._weights = {word: math.log((n + 1) / (count + 1)) + 1 for word, count in df.items()}
        self.rarest = math.log(n + 1) + 1  # the weight of a word no eval text has

    def weight(self, words: Iterable[str]) -> float:
        return sum(self._weights.get(word, self.rarest) for word in words)

    def signals(self, prompt: tuple[frozenset[str], frozenset[str]], question: int) -> tuple[float, float, float, str]:
        """(dice, shared_rare, numbers, the shared words rarest first) of a prompt's
        `words_and_numbers` against eval text `question`, the better of its forms by dice."""
        best = (-1.0, 0.0, 0.0, "")
        prompt_words, prompt_numbers = prompt
        prompt_weight = self.weight(prompt_words)
        for words, numbers in self._forms[question]:
            shared = prompt_words & words
            shared_weight = self.weight(shared)
            total = prompt_weight + self.weight(words)
            dice = 2 * shared_weight / total if total else 0.0
            if dice > best[0]:
                union = prompt_numbers | numbers
                agreement = len(prompt_numbers & numbers) / len(union) if union else 1.0
                listed = sorted(shared, key=lambda w: (-self._weights.get(w, self.rarest), w))
                best = (dice, shared_weight / self.rarest, agreement, " ".join(listed))
        return best


def judge_prompt(prompt: str, question: str, max_chars: int) -> str:
    """The labeller's question about one pair (llm-decontaminator's protocol, as a closed choice)."""
    return (
        "Do the two texts below ask the same question, one a rephrasing of the other (the same case, "
        "facts and ask, perhaps in other words or another order), or different questions?\n\n"
        f"Text 1:\n{prompt[:max_chars]}\n\nText 2:\n{question[:max_chars]}\n\n"
        "Reply with 'same question' or 'different question'."
    )


JUDGE_CHOICES = ("same question", "different question")


def same_probability(log_probs: dict[str, float]) -> float:
    """P(same question) of a `choose` result, normalized over the two choices."""
    same, different = log_probs[JUDGE_CHOICES[0]], log_probs[JUDGE_CHOICES[1]]
    top = max(same, different)
    if top == -math.inf:
        return 0.5
    return math.exp(same - top) / (math.exp(same - top) + math.exp(different - top))
