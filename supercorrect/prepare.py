"""Stage `prepare`: build the train, mine and test problem sets, and a data card.

Writes `{prepare.out_dir}/train.jsonl`, `mine.jsonl`, `test.jsonl` (one problem per line, see
supercorrect.data.loaders for the schema), `{prepare.out_dir}/dropped.jsonl` (every problem left out, with
its reason: a defective record, a duplicate, or a leak of a test problem with the test id), and
`{prepare.metrics}`, the data card: counts per split by source, subject and level, drops by
reason, and contamination found (leaks vs template reuse, see supercorrect.data.decontam).

Sources (`prepare.source`):
- `synthetic`: generated GSM8K-style problems (supercorrect.data.synthetic), no download needed;
- `local`: `prepare.local.train` entries feed train + mine, `prepare.local.test` entries feed
  test; an entry is a JSONL path or a `save_to_disk` dataset directory (GSM8K, MATH, MATH500,
  NuminaMath-CoT or MetaMathQA records), or `{path, limit, seed}` (a seeded sample of `limit`
  problems), so several sources mix, each with its own limit and seed (params/paper-data.yaml);
- `hub`: the same from a Hugging Face dataset's `train_split` / `test_split`.

`prepare.on_error`: `fail` stops at the first defective record; `skip` drops it and reports it.
`prepare.mine_from`: `disjoint` holds `mine_fraction` of the problems out of train for mining;
`train` mines a sample of the train problems themselves.

    supercorrect prepare --set prepare.source=local --set 'prepare.local.train=[gsm8k_train.jsonl]' ...
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from pathlib import Path

from supercorrect.config import ConfigError, Params, PrepareConfig
from supercorrect.data.decontam import LEAK_KINDS, summarize
from supercorrect.data.loaders import find_overlaps, load_hub, load_problems, load_saved, normalize_text
from supercorrect.data.synthetic import generate_problems
from supercorrect.io import metrics_path, write_json, write_jsonl

log = logging.getLogger(__name__)

SPLITS = ("train", "mine", "test")


def _with_split(problems: list[dict], split: str) -> list[dict]:
    return [{**q, "split": split} for q in problems]


def _dedupe(problems: list[dict], dropped: list) -> list[dict]:
    """Keep the first of problems with the same text (listed in two files, or two sources)."""
    seen, kept = {}, []
    for q in problems:
        key = normalize_text(q["problem"])
        if key in seen:
            dropped.append({"id": q["id"], "reason": "duplicate", "message": f"same problem as {seen[key]}"})
        else:
            seen[key] = q["id"]
            kept.append(q)
    return kept


def _sample_in_order(items: list, k: int, rng: random.Random) -> tuple[list, list]:
    """A seeded choice of k items and the rest, both in their original order."""
    chosen = set(rng.sample(range(len(items)), k))
    picked = [x for i, x in enumerate(items) if i in chosen]
    rest = [x for i, x in enumerate(items) if i not in chosen]
    return picked, rest


def _split_mine(clean: list[dict], cfg: PrepareConfig) -> tuple[list[dict], list[dict]]:
    """(train, mine) from the decontaminated pool, by `cfg.mine_from`."""
    n_mine = round(len(clean) * cfg.mine_fraction)
    if cfg.mine_from == "train":
        mine, _ = _sample_in_order(clean, min(max(n_mine, 1), len(clean)), random.Random(f"{cfg.seed}-mine"))
        return clean, mine
    if len(clean) >= 2:
        n_mine = min(max(n_mine, 1), len(clean) - 1)  # neither train nor mine may end up empty
    mine, train = _sample_in_order(clean, n_mine, random.Random(f"{cfg.seed}-mine"))
    return train, mine


def split_pool(pool: list[dict], test_all: list[dict], cfg: PrepareConfig,
               dropped: list) -> tuple[dict, dict]:
    """Dedupe, drop leaks of test problems, cap test, pick mine; -> splits, contamination summary."""
    pool, test_all = _dedupe(pool, dropped), _dedupe(test_all, dropped)
    # Against all test problems, not only the capped ones: a later run with a larger
    # test_limit, or an evaluation on the full file, must not meet training problems.
    overlaps = find_overlaps(pool, test_all)
    leaks: dict[str, tuple[str, str]] = {}
    for train_id, test_id, kind in overlaps:
        if kind in LEAK_KINDS:
            leaks.setdefault(train_id, (test_id, kind))
    for q in pool:
        if q["id"] in leaks:
            test_id, kind = leaks[q["id"]]
            dropped.append({"id": q["id"], "reason": "contaminated", "test_id": test_id, "kind": kind,
                            "message": f"{kind} copy of test problem {test_id}"})
    clean = [q for q in pool if q["id"] not in leaks]
    test = test_all
    if cfg.test_limit is not None and len(test_all) > cfg.test_limit:
        # A seeded sample rather than the first N: MATH files are sorted by subject.
        test, _ = _sample_in_order(test_all, cfg.test_limit, random.Random(f"{cfg.seed}-test"))
    train, mine = _split_mine(clean, cfg)
    return {"train": train, "mine": mine, "test": test}, summarize(overlaps)


def _synthetic(cfg: PrepareConfig) -> dict:
    s = cfg.synthetic
    # One stream, cut into test | mine | train: the generator never repeats a problem within a
    # call, so no text is shared, and test stays the same when only n_train changes.
    stream = generate_problems(s.n_test + s.n_mine + s.n_train, cfg.seed, s.max_steps, s.max_number)
    train = stream[s.n_test + s.n_mine:]
    mine = stream[s.n_test: s.n_test + s.n_mine]
    if cfg.mine_from == "train":
        mine, _ = _sample_in_order(train, min(s.n_mine, len(train)), random.Random(f"{cfg.seed}-mine"))
    return {"test": stream[: s.n_test], "mine": mine, "train": train}


def _load_local(cfg: PrepareConfig, dropped: list, loaded: dict) -> tuple[list[dict], list[dict]]:
    lists = []
    for key in ("train", "test"):
        entries = getattr(cfg.local, key)
        if not entries:
            raise ConfigError(f"prepare.local.{key}: no files listed; name at least one JSONL file")
        problems = []
        for entry in entries:
            load = load_saved if Path(entry.path).is_dir() else load_problems
            rows = load(entry.path, on_error=cfg.on_error, dropped=dropped)
            if entry.limit is not None and len(rows) > entry.limit:
                # Seeded by file too, so two files with one seed do not sample the same positions.
                seed = cfg.seed if entry.seed is None else entry.seed
                rows, _ = _sample_in_order(rows, entry.limit, random.Random(f"{seed}-{entry.path}"))
            loaded[entry.path] = len(rows)
            problems += rows
        lists.append(problems)
    return lists[0], lists[1]


def _load_hub(cfg: PrepareConfig, dropped: list, loaded: dict) -> tuple[list[dict], list[dict]]:
    h = cfg.hub
    pool = load_hub(h.dataset, h.config, h.train_split, on_error=cfg.on_error, dropped=dropped)
    test = load_hub(h.dataset, h.config, h.test_split, on_error=cfg.on_error, dropped=dropped)
    loaded[f"{h.dataset}[{h.train_split}]"], loaded[f"{h.dataset}[{h.test_split}]"] = len(pool), len(test)
    return pool, test


def build_splits(cfg: PrepareConfig) -> tuple[dict, list, dict, dict]:
    """-> (the three problem lists, split field set; dropped records; contamination; loaded per file)."""
    dropped: list[dict] = []
    loaded: dict[str, int] = {}
    contamination = summarize([])
    if cfg.source == "synthetic":
        splits = _synthetic(cfg)
    else:
        load = _load_local if cfg.source == "local" else _load_hub
        pool, test_all = load(cfg, dropped, loaded)
        splits, contamination = split_pool(pool, test_all, cfg, dropped)
    return {name: _with_split(splits[name], name) for name in SPLITS}, dropped, contamination, loaded


def _counts(values) -> dict[str, int]:
    return dict(sorted(Counter("none" if v is None else str(v) for v in values).items()))


def data_card(cfg: PrepareConfig, splits: dict, dropped: list, contamination: dict, loaded: dict) -> dict:
    """The metrics file: what went in, what came out, what was dropped and why."""
    return {
        "source": cfg.source,
        **{name: len(splits[name]) for name in SPLITS},
        "loaded": loaded,
        "by_source": {name: _counts(q["source"] for q in splits[name]) for name in SPLITS},
        "by_subject": {name: _counts(q["subject"] for q in splits[name]) for name in SPLITS},
        "by_level": {name: _counts(q["level"] for q in splits[name]) for name in SPLITS},
        "dropped": _counts(r["reason"] for r in dropped),
        "contamination": contamination,
    }


def run(p: Params) -> dict:
    """Build the splits, write them, the dropped records and the data card; return the card."""
    cfg = p.prepare
    splits, dropped, contamination, loaded = build_splits(cfg)
    out = Path(cfg.out_dir)
    for name in SPLITS:
        write_jsonl(out / f"{name}.jsonl", splits[name])
    write_jsonl(out / "dropped.jsonl", dropped)
    for r in dropped:
        if r["reason"] == "contaminated":  # loader drops were logged where they happened
            log.warning("%s: %s; dropped", r["id"], r["message"])
    card = data_card(cfg, splits, dropped, contamination, loaded)
    write_json(metrics_path(p, "prepare"), card)
    return card

