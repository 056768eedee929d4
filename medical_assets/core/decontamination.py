"""Decontamination of training prompts against every evaluation set.

Recipe step "decontamination": a training prompt is removed when it overlaps a
question of any evaluation set, by either of two tests, and every removal is
recorded with its evidence (eval set, question id, the n-gram or the score):

1. `ngram_matches`: word 10-gram overlap, as in open-r1's
   `scripts/decontaminate.py` (itself from s1's `decontaminate_util.py`):
   `text.lower().split()`, word n-grams of the eval question alone and of the
   question followed by its options ("A. text" lines); a training prompt that
   shares any n-gram is contaminated.
2. `fuzzy_matches`: s1K's fuzzy test, `rapidfuzz.fuzz.ratio(prompt, question)`
   on the raw strings (0-100); a score >= 90 is contaminated.

Both return exactly what the naive scripts find, only faster: n-grams are
hashed and looked up in one vectorized pass (every hash hit is confirmed on the
words, so a collision can never remove a clean prompt), and fuzzy pairs are
pruned with exact upper bounds on `fuzz.ratio` before rapidfuzz scores the rest.

`evals` frames have `benchmark`, `question_id`, `question` and, optionally,
`options`, either
- a `pl.Struct` whose fields are the option letters (what Polars makes of the
  harness's `{"A": text, ...}` dicts; fields in struct order, a null field or
  a null struct is skipped; build it with every letter, e.g. an explicit
  Struct schema, as Polars infers a struct from the first rows only), or
- a `pl.List` of `pl.Struct{letter, text}` (or `{key, value}`) in list order,
  the schema of `core.eval_questions`.
`train` frames have `sample_id` and `prompt`. Null prompts and questions never match.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from medical_assets.recipe import RECIPE

NGRAM_SIZE = RECIPE.decontamination.ngram_size  # open-r1's 10
FUZZY_THRESHOLD = RECIPE.decontamination.fuzzy_threshold  # s1K's 90

NGRAM_MATCH_SCHEMA: dict[str, pl.DataType] = {
    "sample_id": pl.String(),
    "benchmark": pl.String(),
    "question_id": pl.String(),
    "ngram": pl.String(),  # the prompt's first word n-gram found in the question (words joined by one space)
}

FUZZY_MATCH_SCHEMA: dict[str, pl.DataType] = {
    "sample_id": pl.String(),
    "benchmark": pl.String(),
    "question_id": pl.String(),
    "score": pl.Float64(),  # rapidfuzz.fuzz.ratio(prompt, question), 0-100
    "prompt_chars": pl.Int64(),
    "question_chars": pl.Int64(),
}

# Python's str.split() splits on these besides " " (str.isspace() is true for exactly them and " ").
_WHITESPACE = "[\t\n\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

# Width of the n-gram hashes. Tests lower it to force collisions; results must not change.
_HASH_BITS = 64
_HASH_SEED = 0x5EED
_PRIME = 0x100000001B3  # FNV prime: odd, so the polynomial hash loses nothing mod 2^64
_TRAIN_CHUNK_ROWS = 20_000  # training rows tokenized at once (per worker): bounds memory on millions of prompts

_FUZZY_FEATURES = 12_288  # trigram features counted exactly by the fuzzy bound (columns of its matrix product)
_FUZZY_CHUNK = 2_048  # texts whose trigrams are counted at once (bounds memory)
_FUZZY_BLOCK = 1_024  # training prompts bounded against their question length window at once
_FUZZY_SLICE = 1_024  # questions per matrix product
_FUZZY_FLUSH_PAIRS = 1_000_000  # candidate pairs scored by rapidfuzz per call


# --------------------------------------------------------------------- n-grams


def _workers() -> int:
    """Threads for the chunked passes: the cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def normalized_words(text: pl.Expr) -> pl.Expr:
    """`text.lower().split()` as a Polars list, with empty strings where runs of whitespace were."""
    return text.fill_null("").str.to_lowercase().str.replace_all(_WHITESPACE, " ").str.split(" ")


def options_text(options: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """The options as "A. text" lines (no trailing newline), null when there are none."""
    if isinstance(dtype, pl.Struct):
        lines = [
            pl.when(options.struct.field(f.name).is_not_null()).then(
                pl.lit(f"{f.name}. ") + options.struct.field(f.name).cast(pl.String)
            )
            for f in dtype.fields
        ]
        joined = pl.concat_str(lines, separator="\n", ignore_nulls=True) if lines else pl.lit(None, pl.String)
        return pl.when(joined != "").then(joined)
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct) and len(dtype.inner.fields) == 2:
        key, value = (f.name for f in dtype.inner.fields)
        line = pl.concat_str(
            [pl.element().struct.field(key).cast(pl.String), pl.lit(". "), pl.element().struct.field(value)]
        )
        joined = options.list.eval(line.drop_nulls()).list.join("\n")
        return pl.when(joined != "").then(joined)
    if dtype == pl.Null:
        return pl.lit(None, pl.String)
    raise TypeError(
        f"evals column 'options' has type {dtype}; expected a Struct of letter fields ({{'A': text, ...}}) "
        "or a List of Struct{letter, text}"
    )


def with_options(evals: pl.DataFrame) -> pl.Series:
    """Each question followed by "\\n" and its options lines, as the eval prompt shows it."""
    if "options" not in evals.columns:
        return evals["question"]
    options = options_text(pl.col("options"), evals.schema["options"])
    text = pl.when(options.is_null()).then(pl.col("question")).otherwise(pl.col("question") + "\n" + options)
    return evals.select(text.alias("question"))["question"]


def _flat_words(texts: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """The normalized words of all texts in order, and the row each word belongs to."""
    lists = texts.to_frame("text").select(normalized_words(pl.col("text")))["text"]
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lists.list.len().to_numpy())
    words = lists.list.explode(empty_as_null=False)
    keep = (words != "").to_numpy()
    return words.filter(keep), rows[keep]


def _word_hashes(words: pl.Series) -> np.ndarray:
    # Polars' hash is stable within a process, which is all we need: both sides are hashed in one call.
    return words.hash(seed=_HASH_SEED).to_numpy()


def _window_hashes(word_hashes: np.ndarray, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and hashes of every word n-gram that stays within one row.

    The hash of words w_k..w_{k+n-1} is sum_j w_{k+j} * P^(n-1-j) mod 2^64, built by
    doubling (windows of 1, 2, 4, 8... words), so n = 10 takes four passes, then a
    splitmix64 finalizer spreads the bits.
    """
    if len(word_hashes) < n:
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    block, size = word_hashes, 1  # block[k]: hash of the `size` words from k
    result, length = None, 0  # result[k]: hash of the `length` words from k
    while True:
        if n & size:
            if result is None:
                result, length = block, size
            else:
                end = len(word_hashes) - (length + size) + 1
                result = result[:end] * np.uint64(pow(_PRIME, size, 2**64)) + block[length:length + end]
                length += size
        if size * 2 > n:
            break
        block = block[:-size] * np.uint64(pow(_PRIME, size, 2**64)) + block[size:]
        size *= 2
    starts = np.flatnonzero(rows[: len(result)] == rows[n - 1:])
    h = result[starts]
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(33)
    if _HASH_BITS < 64:
        h &= np.uint64((1 << _HASH_BITS) - 1)
    return starts, h


class _Bitmap:
    """A bit per hash value (low bits): a cheap first test before the exact join."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.bits = int(min(28, max(16, np.ceil(np.log2(max(len(hashes), 1) * 64)))))
        self.mask = np.uint64((1 << self.bits) - 1)
        self.table = np.zeros(1 << (self.bits - 3), dtype=np.uint8)
        slots = hashes & self.mask
        np.bitwise_or.at(self.table, (slots >> np.uint64(3)).astype(np.int64),
                         np.left_shift(1, (slots & np.uint64(7)).astype(np.uint8)).astype(np.uint8))

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        slots = hashes & self.mask
        byte = self.table[(slots >> np.uint64(3)).astype(np.int64)]
        return (byte >> (slots & np.uint64(7)).astype(np.uint8)) & 1 == 1


class _EvalNgrams:
    """The hashed word n-grams of the eval texts, sorted by hash, one entry per (hash, eval row)."""

    def __init__(self, texts: pl.Series, n: int) -> None:
        self.words, self.word_rows = _flat_words(texts)
        rows = self.word_rows
        starts, hashes = _window_hashes(_word_hashes(self.words), rows, n)
        order = np.argsort(hashes, kind="stable")  # equal hashes stay in text order
        hashes, starts = hashes[order], starts[order]
        owners = rows[starts]
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])
        self.hashes, self.starts, self.rows = hashes[first], starts[first], owners[first]
        self.bitmap = _Bitmap(self.hashes)

    def candidates(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (position in `hashes`, entry) with equal hashes, in the order of `hashes`."""
        maybe = np.flatnonzero(self.bitmap.contains(hashes))
        low = np.searchsorted(self.hashes, hashes[maybe], "left")
        counts = np.searchsorted(self.hashes, hashes[maybe], "right") - low
        which = np.repeat(maybe, counts)
        entry = np.repeat(low - (np.cumsum(counts) - counts), counts) + np.arange(len(which))
        return which, entry


def _same_words(a: pl.Series, a_starts: np.ndarray, b: pl.Series, b_starts: np.ndarray, n: int) -> np.ndarray:
    """Whether the n words from each `a_starts` equal the n words from the paired `b_starts`."""
    same = np.ones(len(a_starts), dtype=bool)
    for j in range(n):
        same &= (a.gather(a_starts + j) == b.gather(b_starts + j)).to_numpy()
    return same


def _joined(words: pl.Series, starts: np.ndarray, n: int) -> pl.Series:
    columns = [words.gather(starts + j).alias(f"w{j}") for j in range(n)]
    return pl.DataFrame(columns).select(pl.concat_str(pl.all(), separator=" ").alias("ngram"))["ngram"]


def _whole_texts(words: pl.Series, rows: np.ndarray, n_rows: int, below: int) -> pl.DataFrame:
    """`row, text`: the normalized text of each row that has 1..below-1 words."""
    counts = np.bincount(rows, minlength=n_rows)
    short = counts[rows] < below
    frame = pl.DataFrame({"row": rows[short], "word": words.filter(short)})
    return frame.group_by("row", maintain_order=True).agg(pl.col("word").str.join(" ").alias("text"))


def ngram_matches(train: pl.DataFrame, evals: pl.DataFrame, n: int = NGRAM_SIZE,
                  progress: Callable[[int, int], None] | None = None) -> pl.DataFrame:
    """Training prompts that share a word n-gram with an eval question (recipe: decontamination, 10-gram overlap).

    Normalization is open-r1's: `text.lower().split()` (Python's whitespace),
    punctuation kept, so "fever," and "fever" are different words. Eval n-grams
    come from the question alone and from "question\\nA. text\\nB. text..."
    (the second contains the first's). One row per (sample_id, benchmark,
    question_id) hit, with the prompt's first matching n-gram as evidence.

    A prompt of 1..n-1 words has no n-gram; unlike open-r1, which never flags
    it, it is contaminated when its whole normalized text equals the
    normalized question or question + options (the n-gram test at its own
    length m < n, but against the whole eval text, so "Why?" never matches).
    Questions with fewer than n words can only be matched that way.
    `progress(prompts done, prompts)` is called after each chunk of prompts.
    """
    if n < 1:
        raise ValueError(f"n-gram size must be at least 1, got {n}")
    if train.height == 0 or evals.height == 0:
        return pl.DataFrame(schema=NGRAM_MATCH_SCHEMA)
    combined = with_options(evals)
    index = _EvalNgrams(combined, n)
    # whole-text matches of short prompts: against the question alone and question + options
    q_words, q_rows = _flat_words(evals["question"])
    eval_texts = pl.concat([
        _whole_texts(q_words, q_rows, evals.height, n),
        _whole_texts(index.words, index.word_rows, evals.height, n),
    ]).unique().rename({"row": "eval_row"})

    def chunk_hits(offset: int) -> pl.DataFrame:
        chunk = train["prompt"].slice(offset, _TRAIN_CHUNK_ROWS)
        words, rows = _flat_words(chunk)
        starts, hashes = _window_hashes(_word_hashes(words), rows, n)
        which, entry = index.candidates(hashes)
        t_starts, e_starts = starts[which], index.starts[entry]
        same = _same_words(words, t_starts, index.words, e_starts, n)  # a hash collision stops here
        t_starts, eval_rows = t_starts[same], index.rows[entry[same]]
        # candidates come in prompt order, so the first of each (prompt, question) is its first n-gram
        _, firsts = np.unique(rows[t_starts] * evals.height + eval_rows, return_index=True)
        hits = pl.DataFrame({
            "train_row": rows[t_starts[firsts]] + offset,
            "eval_row": eval_rows[firsts],
            "t_start": t_starts[firsts],
            "ngram": _joined(words, t_starts[firsts], n),
        })
        short = _whole_texts(words, rows, len(chunk), n).join(eval_texts, on="text")
        short = short.select(train_row=pl.col("row") + offset, eval_row="eval_row", t_start=pl.lit(0, pl.Int64),
                             ngram="text")
        return pl.concat([hits, short], how="vertical_relaxed")

    # Chunks run on every core (Polars and numpy release the GIL); at most one chunk per core is in memory.
    found = []
    offsets = list(range(0, train.height, _TRAIN_CHUNK_ROWS))
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        for done, hits in enumerate(pool.map(chunk_hits, offsets), start=1):
            found.append(hits)
            if progress is not None:
                progress(min(done * _TRAIN_CHUNK_ROWS, train.height), train.height)
    return _evidence(pl.concat(found, how="vertical_relaxed"), train, evals, order="t_start").select(
        list(NGRAM_MATCH_SCHEMA))


def _evidence(hits: pl.DataFrame, train: pl.DataFrame, evals: pl.DataFrame, order: str) -> pl.DataFrame:
    """Hits keyed by row positions, as one row per (sample_id, benchmark, question_id)."""
    keys = ["sample_id", "benchmark", "question_id"]
    train_ids = train.select(pl.col("sample_id").cast(pl.String)).with_row_index("train_row")
    eval_ids = evals.select(pl.col("benchmark", "question_id").cast(pl.String)).with_row_index("eval_row")
    return (
        hits.with_columns(pl.col("train_row", "eval_row").cast(pl.UInt32))
        .join(train_ids, on="train_row").join(eval_ids, on="eval_row")
        .sort([*keys, order, "train_row"], descending=[False, False, False, order == "score", False])
        .unique(keys, keep="first", maintain_order=True)
    )


# ----------------------------------------------------------------------- fuzzy


def _code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All code points of `texts` back to back (what rapidfuzz compares), and each text's length."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return points, lengths


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of an int64 array and how often each occurs (a sort, then run lengths)."""
    ordered = pl.Series(values, dtype=pl.Int64).sort().to_numpy()
    if len(ordered) == 0:
        return ordered, np.empty(0, np.int64)
    firsts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[firsts], np.diff(np.r_[firsts, len(ordered)])


class _TrigramBound:
    """An exact upper bound on fuzz.ratio from shared character trigrams, for many pairs at once.

    Write I for the trigrams two texts share, counted with multiplicity
    (sum over trigrams g of min(count_a(g), count_b(g))). If their LCS has M
    characters, each of the la - M characters of a outside it breaks at most 3
    trigrams of a, and each of the at most lb - M places where b inserts
    characters into it at most 2, so I >= 5M - 2(la + lb + 1), that is
    M <= (I + 2(la + lb + 1)) / 5, and fuzz.ratio = 200 M / (la + lb).

    I is a dot product of 0/1 vectors over features "holds g at least t times".
    The `_FUZZY_FEATURES` features most common among the questions are counted
    exactly, with one matrix product per block of prompts; the others (`rest`)
    can add at most min(rest_a, rest_b). A trigram with a character that no
    question has cannot be shared and is not counted.
    """

    def __init__(self, questions: list[str]) -> None:
        points, _ = _code_points(questions)
        alphabet = np.flatnonzero(np.bincount(points, minlength=1))
        self.rank = np.full(int(alphabet[-1]) + 1 if len(alphabet) else 1, -1, dtype=np.int64)
        del points
        self.rank[alphabet] = np.arange(len(alphabet))
        self.base = max(len(alphabet), 1)
        q_text, q_key, q_count, self.q_lengths = self._counts(questions)
        # df(g, t): questions holding g at least t times. For each g it falls as t grows, so the most
        # common features are, per trigram, t = 1..dense (ties broken by smaller t first).
        per_count = pl.DataFrame({"key": q_key, "count": q_count}).group_by("key", "count").len("n")
        dense = (
            per_count.select("key", "n", t=pl.int_ranges(1, pl.col("count") + 1)).explode("t", empty_as_null=False)
            .group_by("key", "t").agg(pl.col("n").sum())
            .sort(["n", "t", "key"], descending=[True, False, False]).head(_FUZZY_FEATURES)
        )
        self.size = max(dense.height, 1)
        table = (
            per_count.group_by("key").agg(most=pl.col("count").max().cast(pl.Int64))
            .join(dense.group_by("key").agg(dense=pl.len().cast(pl.Int64)), on="key", how="left")
            .select("key", pl.col("dense").fill_null(0), "most").sort("key")
        )
        self.keys, self.dense, self.most = (table[c].to_numpy() for c in ("key", "dense", "most"))
        self.offset = np.cumsum(self.dense) - self.dense
        self.q_order = np.argsort(self.q_lengths, kind="stable")
        position = np.empty(len(questions), dtype=np.int64)
        position[self.q_order] = np.arange(len(questions))
        self.q_dense = np.zeros((len(questions), self.size), dtype=np.int8)
        self.q_rest = np.zeros(len(questions), dtype=np.int64)
        bounds = np.searchsorted(q_text, np.arange(0, len(questions) + _FUZZY_CHUNK, _FUZZY_CHUNK))
        for begin, end in zip(bounds[:-1], bounds[1:]):  # q_text is sorted: a slice is a run of questions
            rows, cols, rest = self._features(position[q_text[begin:end]], q_key[begin:end], q_count[begin:end],
                                              len(questions))
            self.q_dense[rows, cols] = 1
            self.q_rest += rest
        self.q_lengths = self.q_lengths[self.q_order]

    def _counts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`text, key, count` of every trigram whose characters all occur in the questions; text lengths."""
        parts = [self._chunk_counts(texts[at:at + _FUZZY_CHUNK], at) for at in range(0, len(texts), _FUZZY_CHUNK)]
        if not parts:
            return (np.empty(0, np.int64),) * 4
        return tuple(np.concatenate(arrays) for arrays in zip(*parts))

    def _chunk_counts(self, texts: list[str], first_row: int):
        points, lengths = _code_points(texts)
        ranks = self.rank[np.minimum(points, len(self.rank) - 1)]
        ranks[points >= len(self.rank)] = -1
        del points
        owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        known = ranks >= 0
        starts = np.flatnonzero((owner[:-2] == owner[2:]) & known[:-2] & known[1:-1] & known[2:])
        base = self.base
        keys = (ranks[starts] * base + ranks[starts + 1]) * base + ranks[starts + 2]
        owner = owner[starts]
        del ranks, known, starts
        if len(texts) * base**3 < 2**62:
            combined, count = _runs(owner * base**3 + keys)
            text, key = combined // base**3, combined % base**3
        else:  # an alphabet too large to pack (text, trigram) into one integer
            grouped = pl.DataFrame({"text": owner, "key": keys}).group_by("text", "key").len("count")
            text, key, count = (grouped[c].to_numpy() for c in ("text", "key", "count"))
        return (text + first_row).astype(np.int32), key, count.astype(np.int32), lengths

    def _features(self, rows: np.ndarray, key: np.ndarray, count: np.ndarray, n: int):
        """Dense (row, column) entries and each row's count of other features a question may share."""
        at = np.minimum(np.searchsorted(self.keys, key), max(len(self.keys) - 1, 0))
        found = self.keys[at] == key if len(self.keys) else np.zeros(len(key), bool)
        dense = np.where(found, self.dense[at], 0)
        most = np.where(found, self.most[at], 0)
        taken = np.minimum(count, dense)
        rest = np.bincount(rows, weights=np.maximum(np.minimum(count, most) - dense, 0), minlength=n).astype(np.int64)
        entry_rows = np.repeat(rows, taken)
        within = np.arange(len(entry_rows)) - np.repeat(np.cumsum(taken) - taken, taken)
        entry_cols = np.repeat(self.offset[at], taken) + within
        return entry_rows, entry_cols, rest

    def prompts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Dense entries (sorted by row), `rest` and lengths of prompts, rows in the given order."""
        text, key, count, lengths = self._counts(texts)
        rows, cols, rest = self._features(text, key, count, len(texts))
        order = np.argsort(rows, kind="stable")
        return rows[order], cols[order], rest, lengths

    def ratio_bound(self, a: np.ndarray, a_rest: np.ndarray, la: np.ndarray, first: int, last: int):
        """Upper bounds on 200 * LCS, and la + lb, for prompts with dense rows `a` vs sorted questions first..last."""
        shared = np.empty((len(a), last - first), dtype=np.float32)
        for begin in range(first, last, _FUZZY_SLICE):  # slices keep the float copy of the questions small
            end = min(begin + _FUZZY_SLICE, last)
            shared[:, begin - first:end - first] = a @ self.q_dense[begin:end].astype(np.float32).T
        shared += np.minimum(a_rest[:, None], self.q_rest[None, first:last])
        lb = self.q_lengths[None, first:last]
        total = la[:, None] + lb
        lcs = np.minimum((shared + 2.0 * (total + 1)) / 5.0, np.minimum(la[:, None], lb))
        return 200.0 * lcs, total


def _length_window(lengths: np.ndarray, threshold: float) -> tuple[float, float]:
    """Question lengths that can reach `threshold` with some prompt of these lengths.

    ratio = 200 * LCS / (la + lb) <= 200 * min(la, lb) / (la + lb), so
    lb must lie in [la * r / (2 - r), la * (2 - r) / r] with r = threshold / 100.
    """
    r = threshold / 100.0
    if r <= 0:
        return 0.0, np.inf
    slack = 1.0  # one character of slack: the bound may be loose, never tight
    return lengths.min() * r / (2 - r) - slack, lengths.max() * (2 - r) / r + slack


def _fuzzy_pairs(prompts: list[str], questions: list[str], threshold: float,
                 progress: Callable[[int, int], None] | None = None) -> pl.DataFrame:
    """`p, q, score` for every pair of texts with fuzz.ratio >= threshold (the brute-force set, computed faster)."""
    empty = pl.DataFrame(schema={"p": pl.Int64(), "q": pl.Int64(), "score": pl.Float64()})
    if not prompts or not questions or threshold > 100:
        return empty
    bound = _TrigramBound(questions)
    q_texts = np.array(questions, dtype=object)[bound.q_order]
    p_texts = np.array(prompts, dtype=object)
    p_order = np.argsort(np.fromiter(map(len, prompts), dtype=np.int64, count=len(prompts)), kind="stable")
    cutoff = max(0.0, threshold - 1e-6)  # rapidfuzz's own early exit, a hair loose; the test below is exact

    found: list[pl.DataFrame] = []
    pending: list[tuple[np.ndarray, np.ndarray]] = []

    def score_pending() -> None:
        p_idx = np.concatenate([p for p, _ in pending])
        q_idx = np.concatenate([q for _, q in pending])
        pending.clear()
        scores = process.cpdist(p_texts[p_idx], q_texts[q_idx], scorer=fuzz.ratio, score_cutoff=cutoff,
                                workers=-1, dtype=np.float64)
        hit = scores >= threshold
        found.append(pl.DataFrame({"p": p_idx[hit], "q": bound.q_order[q_idx[hit]], "score": scores[hit]}))

    # prompts in length order, so each block meets one narrow window of question lengths
    for chunk_start in range(0, len(p_order), _FUZZY_CHUNK):
        chunk = p_order[chunk_start:chunk_start + _FUZZY_CHUNK]
        rows, cols, rest, lengths = bound.prompts(p_texts[chunk].tolist())
        for start in range(0, len(chunk), _FUZZY_BLOCK):
            stop = min(start + _FUZZY_BLOCK, len(chunk))
            lo, hi = _length_window(lengths[start:stop], threshold)
            first, last = np.searchsorted(bound.q_lengths, lo, "left"), np.searchsorted(bound.q_lengths, hi, "right")
            if first >= last:
                continue
            a = np.zeros((stop - start, bound.size), dtype=np.float32)
            begin, end = np.searchsorted(rows, [start, stop])
            a[rows[begin:end] - start, cols[begin:end]] = 1.0
            ratio, total = bound.ratio_bound(a, rest[start:stop], lengths[start:stop], first, last)
            keep = ratio >= threshold * total - 1e-6 * (total + 1)
            p_local, q_local = np.nonzero(keep)
            if len(p_local):
                pending.append((chunk[start + p_local], first + q_local))
            if sum(len(p) for p, _ in pending) >= _FUZZY_FLUSH_PAIRS:
                score_pending()
        if progress is not None:
            progress(chunk_start + len(chunk), len(p_order))
    if pending:
        score_pending()
    return pl.concat(found) if found else empty


def fuzzy_matches(train: pl.DataFrame, evals: pl.DataFrame, threshold: float = FUZZY_THRESHOLD,
                  progress: Callable[[int, int], None] | None = None) -> pl.DataFrame:
    """Training prompts with fuzz.ratio >= threshold to an eval question (recipe: decontamination, s1K fuzzy match).

    The score is `rapidfuzz.fuzz.ratio(prompt, question)` on the raw strings
    (no lowercasing or stripping, as s1K), against the question alone. The
    result is exactly the brute-force set of pairs: a pair is skipped only when
    an exact upper bound (the length ratio, then shared character trigrams, see
    `_TrigramBound`) proves it below the threshold, and the others are compared
    with `score >= threshold` on rapidfuzz's float64 score, so 90.0 is removed
    and 89.95 kept. Each distinct prompt and question text is scored once. One
    row per (sample_id, benchmark, question_id), with both lengths in characters.
    `progress(distinct prompts done, distinct prompts)` is called after each chunk of them.
    """
    if train.height == 0 or evals.height == 0:
        return pl.DataFrame(schema=FUZZY_MATCH_SCHEMA)
    # score each distinct text once (benchmarks repeat stems; training sets repeat prompts)
    prompts = train.select(pl.col("prompt").drop_nulls().unique(maintain_order=True))["prompt"]
    questions = evals.select(pl.col("question").drop_nulls().unique(maintain_order=True))["question"]
    pairs = _fuzzy_pairs(prompts.to_list(), questions.to_list(), threshold, progress)
    prompt_ids = pl.DataFrame({"prompt": prompts}).with_row_index("p").with_columns(pl.col("p").cast(pl.Int64))
    question_ids = pl.DataFrame({"question": questions}).with_row_index("q").with_columns(pl.col("q").cast(pl.Int64))
    hits = (
        pairs.join(prompt_ids, on="p").join(question_ids, on="q")
        .join(train.with_row_index("train_row").select("train_row", "prompt"), on="prompt")
        .join(evals.with_row_index("eval_row").select("eval_row", "question"), on="question")
        .with_columns(prompt_chars=pl.col("prompt").str.len_chars().cast(pl.Int64),
                      question_chars=pl.col("question").str.len_chars().cast(pl.Int64))
    )
    return _evidence(hits, train, evals, order="score").select(list(FUZZY_MATCH_SCHEMA))
