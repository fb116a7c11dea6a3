"""The class's fingerprints in an inverted index, and every pair's score from it.

A pair is never compared text against text. Each fingerprint maps to the students who have it
(a posting list), and weighs what its rarity in this class says::

    w(f) = ln(C / df(f)) / ln(C / 2)   when 2 <= df(f) < C,  else 0,   C = max(min_cut, common * N)

so a passage that C or more students share (the natural solution; the starter's code is removed
before counting) is no evidence at all, and one that only two students share weighs 1.

For each student a, the posting lists of a's fingerprints (those with w > 0: the only ones that
can make a pair) are walked once per problem, adding each fingerprint's weight to every other
student on it (one ``numpy.bincount`` per student and problem). That is the candidate generation
and the scoring at once; it costs the sum of df over a's weighted fingerprints, never N^2 text
comparisons, and holds one row of N numbers at a time, so memory is the index plus one row.

A pair's score on a problem is the weight they share over the size (in fingerprints) of the
smaller of their two versions (at least ``floor_fraction`` of the class's median size, so two
one-line functions do not make a match): 1 means all of the smaller version is shared and no
one else wrote it. The overall score is the same ratio summed over the problems both attempted,
so a long function counts for more than a one-liner. Both are in [0, 1].
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Settings:
    common: float = 0.25            # a passage this share of the class has is no evidence ...
    min_cut: int = 8                # ... nor one this many students have, in a small class
    floor_fraction: float = 0.5
    threshold: float = 12.0         # flag a pair whose overall score (bits) is at least this
    report_floor: float = 3.0       # report (CSV, page) pairs scoring at least this


@dataclass
class ProblemScore:
    score: float
    shared: float
    denominator: float


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
    rows: list[list[np.ndarray]]      # [student][problem] -> dense fingerprint ids (sorted)
    attempted: np.ndarray             # [student, problem] bool
    sizes: np.ndarray                 # [student, problem] fingerprints after the starter's are removed
    ids: dict[int, int]               # fingerprint -> dense id
    df: np.ndarray                    # [id] students having it
    weights: np.ndarray               # [id] w as above
    indptr: np.ndarray                # postings of id i: members[indptr[i]:indptr[i + 1]]
    members: np.ndarray
    cut: float
    floors: np.ndarray                # [problem]

    def weight(self, fp: int) -> float:
        """The weight of a raw fingerprint (0 when not in the index)."""
        dense = self.ids.get(fp)
        return float(self.weights[dense]) if dense is not None else 0.0


def weight_of(df: np.ndarray, students: int, cut: float) -> np.ndarray:
    """log2(N / df): the bits of surprise in an independent student having the passage."""
    raw = np.log2(students / np.maximum(df, 1))
    return np.where((df >= 2) & (df < cut), raw, 0.0)


def build(students: list[str], problems: list[str], prints: list[list[set[int] | None]],
          excluded: set[int], settings: Settings) -> Index:
    """The index over every student's fingerprints (None: the problem was not attempted),
    without the ``excluded`` ones (the starter's)."""
    ids: dict[int, int] = {}
    rows: list[list[np.ndarray]] = []
    n, m = len(students), len(problems)
    attempted = np.zeros((n, m), dtype=bool)
    sizes = np.zeros((n, m), dtype=np.int64)
    for s, row in enumerate(prints):
        dense_row = []
        for p, fps in enumerate(row):
            if fps is None:
                dense_row.append(np.empty(0, dtype=np.int64))
                continue
            attempted[s, p] = True
            dense = np.fromiter((ids.setdefault(fp, len(ids)) for fp in fps if fp not in excluded),
                                dtype=np.int64)
            dense.sort()
            dense_row.append(dense)
            sizes[s, p] = len(dense)
        rows.append(dense_row)
    everyone = [d for row in rows for d in row]
    all_ids = np.concatenate(everyone) if everyone else np.empty(0, dtype=np.int64)
    owners = np.concatenate([np.full(len(d), s, dtype=np.int64) for s, row in enumerate(rows) for d in row]) \
        if everyone else np.empty(0, dtype=np.int64)
    df = np.bincount(all_ids, minlength=len(ids))
    order = np.argsort(all_ids, kind="stable")
    members = owners[order]
    indptr = np.concatenate([[0], np.cumsum(df)])
    cut = max(float(settings.min_cut), settings.common * n)
    weights = weight_of(df, n, cut)
    floors = np.zeros(m)
    for p in range(m):
        attempted_sizes = sizes[attempted[:, p], p]
        if len(attempted_sizes):
            floors[p] = settings.floor_fraction * statistics.median(attempted_sizes.tolist())
    return Index(students, problems, rows, attempted, sizes, ids, df, weights, indptr, members,
                 cut, np.maximum(floors, 1.0))


def shared_row(index: Index, a: int) -> np.ndarray:
    """[problem, student]: the weight student ``a`` shares with every student, per problem."""
    n = len(index.students)
    out = np.zeros((len(index.problems), n))
    for p, dense in enumerate(index.rows[a]):
        useful = dense[index.weights[dense] > 0]
        if not len(useful):
            continue
        starts, ends = index.indptr[useful], index.indptr[useful + 1]
        counts = ends - starts
        who = np.concatenate([index.members[s:e] for s, e in zip(starts.tolist(), ends.tolist())])
        out[p] = np.bincount(who, weights=np.repeat(index.weights[useful], counts), minlength=n)
    return out


def score_pairs(index: Index, settings: Settings, rows: range | None = None) -> list[Pair]:
    """Every pair (a < b, a in ``rows``) scoring at least ``report_floor``, best first."""
    kept: list[Pair] = []
    n = len(index.students)
    for a in rows if rows is not None else range(n):
        shared = shared_row(index, a)
        later = np.arange(n) > a
        both = index.attempted[a][:, None] & index.attempted.T        # [problem, student]
        sizes = np.minimum(index.sizes[a][:, None], index.sizes.T)
        denominators = np.maximum(sizes, index.floors[:, None]) * both
        with np.errstate(invalid="ignore", divide="ignore"):
            per_problem = np.where(both, shared / np.where(both, denominators, 1.0), 0.0)
        overall = per_problem.sum(axis=0)
        for b in np.nonzero(later & (overall >= settings.report_floor))[0].tolist():
            problems = {index.problems[p]: ProblemScore(float(per_problem[p, b]), float(shared[p, b]),
                                                        float(denominators[p, b]))
                        for p in range(len(index.problems)) if both[p, b]}
            kept.append(Pair(index.students[a], index.students[b], float(overall[b]), problems))
    kept.sort(key=lambda pair: (-pair.score, pair.a, pair.b))
    return kept
