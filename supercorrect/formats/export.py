"""Export the `mine` stage's DPO pairs for trainers other than TRL.

`pairs.jsonl` already is TRL's conversational preference format. `sharegpt` writes the
LLaMA-Factory preference format (`ranking: true`, ShareGPT style) plus the `dataset_info.json`
entry LLaMA-Factory needs to find it:

    {"system": ..., "conversations": [{"from": "human", "value": correction prompt}],
     "chosen": {"from": "gpt", "value": steps 1..k-1 + teacher trace from step k},
     "rejected": {"from": "gpt", "value": steps 1..k-1 + student trace from step k}, "id": ...}

The records carry the same text as the TRL pairs (supercorrect.pairs.cross_model): both responses open
with the student's correct steps 1..k-1, whose log-probability ratios cancel in DPO's loss.

    python -c "from supercorrect.formats.export import write_sharegpt; write_sharegpt(pairs, 'data/mine')"
"""

from __future__ import annotations

from pathlib import Path

from supercorrect.io import write_json

SHAREGPT_FILE = "pairs_sharegpt.json"
DATASET_NAME = "supercorrect_pairs"


def to_sharegpt(pair: dict) -> dict:
    """One TRL conversational pair as a LLaMA-Factory ShareGPT preference record."""
    turns = pair["prompt"]
    system = "\n".join(m["content"] for m in turns if m["role"] == "system")
    roles = {"user": "human", "assistant": "gpt"}
    conversations = [{"from": roles[m["role"]], "value": m["content"]} for m in turns if m["role"] != "system"]
    return {
        "system": system, "conversations": conversations,
        "chosen": {"from": "gpt", "value": pair["chosen"][-1]["content"]},
        "rejected": {"from": "gpt", "value": pair["rejected"][-1]["content"]},
        "id": pair.get("id"),
    }


def write_sharegpt(pairs: list[dict], out_dir: str | Path) -> Path:
    """Write `pairs_sharegpt.json` and `dataset_info.json` into `out_dir`; return the data file."""
    out_dir = Path(out_dir)
    path = out_dir / SHAREGPT_FILE
    write_json(path, [to_sharegpt(p) for p in pairs])
    write_json(out_dir / "dataset_info.json", {DATASET_NAME: {
        "file_name": SHAREGPT_FILE, "formatting": "sharegpt", "ranking": True,
        "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected", "system": "system"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
    }})
    return path
