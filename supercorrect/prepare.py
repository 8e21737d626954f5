"""Stage `prepare`: build the train, mine and test problem sets.

Writes `{prepare.out_dir}/train.jsonl`, `mine.jsonl`, `test.jsonl` (one problem per line, see
supercorrect.data for the schema) and `{prepare.metrics}` (counts per split and per source, and
how many problems were dropped as duplicates or as copies of test problems).

Sources (`prepare.source`):
- `synthetic`: generated GSM8K-style problems (supercorrect.synthetic), no download needed;
- `local`: `prepare.local.train` files feed train + mine, `prepare.local.test` files feed test;
- `hub`: the same from a Hugging Face dataset's `train_split` / `test_split`.

    supercorrect prepare --set prepare.source=local --set 'prepare.local.train=[gsm8k_train.jsonl]' ...
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from supercorrect.config import ConfigError, Params, PrepareConfig
from supercorrect.data import load_hub, load_problems, normalize_text
from supercorrect.io import write_json, write_jsonl
from supercorrect.synthetic import generate_problems

SPLITS = ("train", "mine", "test")


def _with_split(problems: list[dict], split: str) -> list[dict]:
    return [{**q, "split": split} for q in problems]


def _dedupe(problems: list[dict]) -> tuple[list[dict], int]:
    """Keep the first of problems with the same text (listed in two files, or two sources)."""
    seen, kept = set(), []
    for q in problems:
        key = normalize_text(q["problem"])
        if key not in seen:
            seen.add(key)
            kept.append(q)
    return kept, len(problems) - len(kept)


def _sample_in_order(items: list, k: int, rng: random.Random) -> tuple[list, list]:
    """A seeded choice of k items and the rest, both in their original order."""
    chosen = set(rng.sample(range(len(items)), k))
    picked = [x for i, x in enumerate(items) if i in chosen]
    rest = [x for i, x in enumerate(items) if i not in chosen]
    return picked, rest


def split_pool(pool: list[dict], test_all: list[dict], cfg: PrepareConfig) -> tuple[dict, dict]:
    """Decontaminate `pool` against every test problem, cap test, hold out mine; -> splits, drops."""
    pool, dup_pool = _dedupe(pool)
    test_all, dup_test = _dedupe(test_all)
    # Against all test problems, not only the capped ones: a later run with a larger
    # test_limit, or an evaluation on the full file, must not meet training problems.
    test_texts = {normalize_text(q["problem"]) for q in test_all}
    clean = [q for q in pool if normalize_text(q["problem"]) not in test_texts]
    test = test_all
    if cfg.test_limit is not None and len(test_all) > cfg.test_limit:
        # A seeded sample rather than the first N: MATH files are sorted by subject.
        test, _ = _sample_in_order(test_all, cfg.test_limit, random.Random(f"{cfg.seed}-test"))
    n_mine = round(len(clean) * cfg.mine_fraction)
    if len(clean) >= 2:
        n_mine = min(max(n_mine, 1), len(clean) - 1)  # neither train nor mine may end up empty
    mine, train = _sample_in_order(clean, n_mine, random.Random(f"{cfg.seed}-mine"))
    splits = {"train": train, "mine": mine, "test": test}
    drops = {"decontaminated": len(pool) - len(clean), "duplicates": dup_pool + dup_test}
    return splits, drops


def _synthetic(cfg: PrepareConfig) -> tuple[dict, dict]:
    s = cfg.synthetic
    # One stream, cut into test | mine | train: the generator never repeats a problem within a
    # call, so no text is shared, and test stays the same when only n_train changes.
    stream = generate_problems(s.n_test + s.n_mine + s.n_train, cfg.seed, s.max_steps, s.max_number)
    splits = {"test": stream[: s.n_test], "mine": stream[s.n_test: s.n_test + s.n_mine],
              "train": stream[s.n_test + s.n_mine:]}
    return splits, {"decontaminated": 0, "duplicates": 0, "no_answer": 0}


def _load_local(cfg: PrepareConfig, drops: Counter) -> tuple[list[dict], list[dict]]:
    for key in ("train", "test"):
        if not getattr(cfg.local, key):
            raise ConfigError(f"prepare.local.{key}: no files listed; name at least one JSONL file")
    pool = [q for path in cfg.local.train for q in load_problems(path, drops=drops)]
    test = [q for path in cfg.local.test for q in load_problems(path, drops=drops)]
    return pool, test


def _load_hub(cfg: PrepareConfig, drops: Counter) -> tuple[list[dict], list[dict]]:
    h = cfg.hub
    return (load_hub(h.dataset, h.config, h.train_split, drops=drops),
            load_hub(h.dataset, h.config, h.test_split, drops=drops))


def build_splits(cfg: PrepareConfig) -> tuple[dict, dict]:
    """The three problem lists for `cfg.source` (split field set) and the drop counts."""
    if cfg.source == "synthetic":
        splits, drops = _synthetic(cfg)
    else:
        # Copies within a file and records without a gold answer are skipped and counted here.
        loaded = Counter(duplicates=0, no_answer=0)
        load = _load_local if cfg.source == "local" else _load_hub
        pool, test_all = load(cfg, loaded)
        splits, drops = split_pool(pool, test_all, cfg)
        drops = {"decontaminated": drops["decontaminated"],
                 "duplicates": drops["duplicates"] + loaded["duplicates"],
                 "no_answer": loaded["no_answer"]}
    return {name: _with_split(splits[name], name) for name in SPLITS}, drops


def run(p: Params) -> dict:
    """Build the splits, write them and the metrics file; return the metrics."""
    cfg = p.prepare
    splits, drops = build_splits(cfg)
    out = Path(cfg.out_dir)
    for name in SPLITS:
        write_jsonl(out / f"{name}.jsonl", splits[name])
    metrics = {
        "source": cfg.source,
        **{name: len(splits[name]) for name in SPLITS},
        "by_source": {name: dict(sorted(Counter(q["source"] for q in splits[name]).items()))
                      for name in SPLITS},
        **drops,
    }
    write_json(cfg.metrics, metrics)
    return metrics


if __name__ == "__main__":
    import json
    import sys

    from supercorrect.config import load_params

    print(json.dumps(run(load_params(sys.argv[1] if len(sys.argv) > 1 else "params.yaml")), indent=2))
