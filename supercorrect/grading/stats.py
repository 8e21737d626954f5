"""Pure statistics for stage `evaluate`: pass@k, maj@k, bootstrap intervals, group accuracy.

No model, no I/O: every function takes verdicts (bools) or extracted answers and returns
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
