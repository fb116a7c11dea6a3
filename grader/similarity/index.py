"""The class's fingerprints in an inverted index, and every pair's score from it.

A pair is never compared text against text. Each fingerprint maps to the students who have it (a
posting list). A fingerprint that ``common`` (a quarter) of the class or more share is the natural
solution and no evidence; the starter's are removed before anything is counted. The others are
the *distinctive* passages.

A pair's score on a problem is in bits, the surprise of an independent student writing what the
two share::

    e = coverage^2 * log2(N / n) * min(1, size / SMALL)

- ``coverage``: the share of the smaller version's distinctive passages that the other has too
  (a copy: 1; two students who took the same common approach but differ in its details: less);
- ``n``: how many students of the class have *all* the passages the two share (at least 2), so
  ``log2(N / n)`` is how rare that combination is here (N / 2 students: nothing; only these two:
  log2(N / 2), the most);
- a version shorter than SMALL fingerprints carries proportionally less: one-line functions
  coincide by chance.

The overall score adds the problems (independent choices multiply their rarities). Among N(N-1)/2
pairs, about ``pairs * 2**-score`` would reach a score by chance if the problems were
independent, so the default threshold is ``log2(pairs) + margin`` bits.

Candidates come only from the index: for each student a, the posting lists of a's distinctive
fingerprints are walked once per problem (one ``numpy.bincount`` per student and problem), which
counts the passages a shares with every other student. That bounds each pair's score from above;
only pairs whose bound reaches the report floor are scored exactly (``n`` is found by checking
the few students on the rarest shared passage). Cost: the sum of df over a's distinctive
fingerprints, never N^2 text comparisons; memory: the index plus one row of N counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Settings:
    common: float = 0.25            # a passage this share of the class has is no evidence ...
    min_cut: int = 8                # ... nor one this many students have, in a small class
    small: int = 20                 # fingerprints below which a version counts proportionally less
    margin: float = 4.0             # default threshold: log2(pairs) + margin bits
    threshold: float | None = None  # bits; None: the default above
    report_fraction: float = 0.6    # report (CSV, page) pairs scoring this share of the threshold

    def threshold_for(self, students: int) -> float:
        pairs = max(1, students * (students - 1) // 2)
        return self.threshold if self.threshold is not None else math.log2(pairs) + self.margin


@dataclass
class ProblemScore:
    score: float        # bits
    coverage: float     # share of the smaller version's distinctive passages that both have
    holders: int        # students having all the passages the two share (0: none shared)


@dataclass
class Pair:
    a: str
    b: str
    score: float
    problems: dict[str, ProblemScore] = field(default_factory=dict)


@dataclass
class Index:
    students: list[str]
    problems: list[str]
    rows: list[list[np.ndarray]]      # [student][problem] -> dense fingerprint ids
    attempted: np.ndarray             # [student, problem] bool
    sizes: np.ndarray                 # [student, problem] fingerprints after the starter's are removed
    unique: np.ndarray                # sorted fingerprints; a fingerprint's dense id is its position
    df: np.ndarray                    # [id] students having it
    weights: np.ndarray               # [id] 1.0 for a distinctive fingerprint, else 0
    distinctive: list[list[np.ndarray]]   # [student][problem] -> its distinctive ids (sorted)
    indptr: np.ndarray                # postings of id i: members[indptr[i]:indptr[i + 1]]
    members: np.ndarray
    cut: float

    _sets: dict[tuple[int, int], frozenset[int]] = field(default_factory=dict)

    def distinctive_set(self, student: int, problem: int) -> frozenset[int]:
        key = (student, problem)
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = frozenset(self.distinctive[student][problem].tolist())
        return found

    def dense_id(self, fp: int) -> int | None:
        position = int(np.searchsorted(self.unique, fp))
        return position if position < len(self.unique) and int(self.unique[position]) == fp else None

    def weight(self, fp: int) -> float:
        """1.0 for a distinctive fingerprint, 0.0 otherwise (or when not in the index)."""
        dense = self.dense_id(fp)
        return float(self.weights[dense]) if dense is not None else 0.0

    def df_of(self, fp: int) -> int:
        dense = self.dense_id(fp)
        return int(self.df[dense]) if dense is not None else 0


def weight_of(df: np.ndarray, cut: float) -> np.ndarray:
    """1 for a passage at least two and fewer than ``cut`` students have (it can make a pair)."""
    return ((df >= 2) & (df < cut)).astype(float)


def as_array(fps) -> np.ndarray:
    """A set (or array) of fingerprints as a sorted int64 array: what is kept per student."""
    if isinstance(fps, np.ndarray):
        return np.unique(fps.astype(np.int64, copy=False))
    return np.unique(np.fromiter(fps, dtype=np.int64, count=len(fps)))


def build(students: list[str], problems: list[str], prints: list[list], excluded: set[int],
          settings: Settings) -> Index:
    """The index over every student's fingerprints (per problem a set or array of them; None:
    not attempted), without the ``excluded`` ones (the starter's). Built with numpy alone: the
    class's fingerprints are held as int64 arrays, not Python sets."""
    n, m = len(students), len(problems)
    attempted = np.zeros((n, m), dtype=bool)
    sizes = np.zeros((n, m), dtype=np.int64)
    drop = as_array(excluded)
    parts: list[np.ndarray] = []
    for s, row in enumerate(prints):
        for p, fps in enumerate(row):
            if fps is None:
                parts.append(np.empty(0, dtype=np.int64))
                continue
            attempted[s, p] = True
            kept = as_array(fps)
            kept = kept[~np.isin(kept, drop, assume_unique=True)]
            sizes[s, p] = len(kept)
            parts.append(kept)
    everything = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    unique, dense = np.unique(everything, return_inverse=True)
    del everything
    bounds = np.concatenate([[0], np.cumsum([len(part) for part in parts])])
    del parts
    rows = [[dense[bounds[s * m + p]:bounds[s * m + p + 1]] for p in range(m)] for s in range(n)]
    owners = np.repeat(np.arange(n, dtype=np.int64), sizes.sum(axis=1))
    df = np.bincount(dense, minlength=len(unique))
    members = owners[np.argsort(dense, kind="stable")]
    indptr = np.concatenate([[0], np.cumsum(df)])
    cut = max(float(settings.min_cut), settings.common * n)
    weights = weight_of(df, cut)
    distinctive = [[d[weights[d] > 0] for d in row] for row in rows]
    return Index(students, problems, rows, attempted, sizes, unique, df, weights, distinctive, indptr,
                 members, cut)


def shared_counts(index: Index, a: int) -> np.ndarray:
    """[problem, student]: how many distinctive passages student ``a`` shares with each."""
    n = len(index.students)
    out = np.zeros((len(index.problems), n), dtype=np.int64)
    for p, useful in enumerate(index.distinctive[a]):
        if not len(useful):
            continue
        starts, ends = index.indptr[useful], index.indptr[useful + 1]
        who = np.concatenate([index.members[s:e] for s, e in zip(starts.tolist(), ends.tolist())])
        out[p] = np.bincount(who, minlength=n)
    return out


def holders_of_all(index: Index, p: int, shared: np.ndarray) -> int:
    """How many students have every one of the ``shared`` distinctive passages of problem p:
    the students on the rarest of them, checked one by one (as sets: a subset test in C)."""
    rarest = shared[np.argmin(index.df[shared])]
    wanted = set(shared.tolist())
    count = 0
    for student in index.members[index.indptr[rarest]:index.indptr[rarest + 1]].tolist():
        if wanted <= index.distinctive_set(student, p):
            count += 1
    return count


def score_pairs(index: Index, settings: Settings, rows: range | None = None) -> list[Pair]:
    """Every pair (a < b, a in ``rows``) scoring at least the report floor, best first."""
    kept: list[Pair] = []
    n = len(index.students)
    threshold = settings.threshold_for(n)
    floor = settings.report_fraction * threshold
    counts_of = np.array([[len(d) for d in row] for row in index.distinctive]).reshape(n, len(index.problems))
    top = math.log2(max(n, 2) / 2)
    for a in rows if rows is not None else range(n):
        shared = shared_counts(index, a)
        both = index.attempted[a][:, None] & index.attempted.T                    # [problem, student]
        smaller = np.minimum(counts_of[a][:, None], counts_of.T)
        with np.errstate(invalid="ignore", divide="ignore"):
            coverage = np.where(smaller > 0, shared / np.maximum(smaller, 1), 0.0) * both
        size = np.minimum(index.sizes[a][:, None], index.sizes.T)
        factor = np.minimum(1.0, size / settings.small)
        bound = (coverage ** 2 * factor).sum(axis=0) * top
        for b in np.nonzero((np.arange(n) > a) & (bound >= floor))[0].tolist():
            pair = _exact(index, a, b, coverage[:, b], factor[:, b], both[:, b], shared[:, b])
            if pair.score >= floor:
                kept.append(pair)
    kept.sort(key=lambda pair: (-pair.score, pair.a, pair.b))
    return kept


def _exact(index: Index, a: int, b: int, coverage: np.ndarray, factor: np.ndarray,
           both: np.ndarray, counts: np.ndarray) -> Pair:
    n = len(index.students)
    problems: dict[str, ProblemScore] = {}
    total = 0.0
    for p, problem in enumerate(index.problems):
        if not both[p]:
            continue
        bits, holders = 0.0, 0
        if counts[p]:
            shared = np.intersect1d(index.distinctive[a][p], index.distinctive[b][p], assume_unique=True)
            holders = max(2, holders_of_all(index, p, shared))
            bits = float(coverage[p] ** 2 * math.log2(n / holders) * factor[p])
        problems[problem] = ProblemScore(bits, float(coverage[p]), holders)
        total += bits
    return Pair(index.students[a], index.students[b], total, problems)
