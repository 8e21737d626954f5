"""Pure statistics for stage `evaluate`: pass@k, maj@k, bootstrap intervals, group accuracy, step AUC.

No model, no I/O: every function takes verdicts (bools), extracted answers or scores and returns
numbers, so tests can check them by hand.

    python -c "from supercorrect.grading.stats import pass_at_k; print(pass_at_k(5, 2, 1))"  # 0.4
"""

from __future__ import annotations

from collections import Counter, defaultdict
from math import comb


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021):
    1 - C(n-c, k) / C(n, k), the chance that k samples drawn without replacement hold a correct one."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:  # every k-subset contains a correct sample
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def majority_correct(answers: list[str | None], correct: list[bool], k: int) -> bool:
    """maj@k for one problem: is the most common extracted answer among the first k samples right?

    Answers are grouped by their extracted text; missing answers do not vote. Ties go to the
    answer seen first, so the result is deterministic. The group's verdict is its first
    sample's (all samples with the same text got the same verdict).
    """
    votes = [(a, ok) for a, ok in zip(answers[:k], correct[:k]) if a is not None]
    if not votes:
        return False
    counts = Counter(a for a, _ in votes)
    top = max(counts.values())
    winner = next(a for a, _ in votes if counts[a] == top)
    return next(ok for a, ok in votes if a == winner)


def ks_for(samples: int) -> list[int]:
    """The k reported for `samples` samples per problem: 1, powers of two below, and samples."""
    ks, k = [], 1
    while k < samples:
        ks.append(k)
        k *= 2
    return ks + [samples]


def bootstrap_ci(values: list[float], resamples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of values; the same seed gives the same interval."""
    import numpy as np

    if not values:
        return (0.0, 0.0)
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(low), float(high))


def accuracy_by(rows: list[dict], key: str, value: str = "correct") -> dict[str, dict]:
    """{group: {"accuracy", "n"}} over rows grouped by row[key]; a missing key is "unknown".

    Groups come out sorted (levels as numbers where they are numbers), so files are stable.
    """
    groups: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        group = row.get(key)
        groups["unknown" if group in (None, "") else str(group)].append(float(row[value]))

    def order(name: str):
        return (0, int(name), "") if name.isdigit() else (1, 0, name)

    return {g: {"accuracy": sum(v) / len(v), "n": len(v)} for g, v in sorted(groups.items(), key=lambda kv: order(kv[0]))}


def auc(scores: list[float], positive: list[bool]) -> float | None:
    """Area under the ROC curve: the chance that a positive scores above a negative, ties
    counting one half (the Mann-Whitney statistic); None without both classes."""
    import numpy as np

    scores, positive = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        return None
    order = np.argsort(scores, kind="mergesort")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)  # 1-based; a tie gets its group's mean rank
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def grouped_auc(groups: list[list[tuple[float, bool]]], resamples: int = 1000, seed: int = 0,
                level: float = 0.95) -> tuple[float | None, list[float] | None]:
    """AUC of (score, positive) items that come in groups, and its percentile bootstrap interval
    over groups: each resample draws, with replacement, as many groups with a positive item and
    as many without as there are, and scores all their items. Where there are groups without a
    positive item, every resample has both classes; where the negatives are only inside groups
    with a positive (no right answers beside the errors), a resample that happens to draw no
    negative has no AUC and is left out. (None, None) without both classes; the same seed gives
    the same interval."""
    import numpy as np

    point = auc([s for g in groups for s, _ in g], [y for g in groups for _, y in g])
    if point is None:
        return None, None
    arrays = [(np.array([s for s, _ in g], dtype=float), np.array([y for _, y in g], dtype=bool)) for g in groups if g]
    strata = [[a for a in arrays if a[1].any()], [a for a in arrays if not a[1].any()]]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        drawn = [stratum[i] for stratum in strata if stratum for i in rng.integers(0, len(stratum), len(stratum))]
        value = auc(np.concatenate([s for s, _ in drawn]), np.concatenate([y for _, y in drawn]))
        if value is not None:
            values.append(value)
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return point, [float(low), float(high)]
