"""Tests for stage `dpo`: assistant-prefix continuation and a real (tiny) TRL DPO run."""

from __future__ import annotations

import json

import pytest

from supercorrect import dpo
from supercorrect.config import load_params
from supercorrect.io import InputError, write_jsonl
from supercorrect.model import build_tiny, load_student, render
from supercorrect.prompts import V1, solve_messages
from tests.conftest import REPO
from tests.test_sft import SMALL, corpus, hsft_records, one_thread  # noqa: F401 (autouse fixture)

PREFIX = "<Step1>Tom buys 3 more apples, so he has 5+3=8 apples.</Step1>\n"


def pair(i: int, with_prefix: bool) -> dict:
    """A pair in mine's format: the teacher's correction is chosen, the student's rejected."""
    problem = f"Tom has 5 apples. He buys 3 more apples. Then he gives away {i % 4 + 2} apples. How many?"
    prompt = solve_messages(V1, problem)
    k = 2 if with_prefix else 1
    if with_prefix:
        prompt.append({"role": "assistant", "content": PREFIX})
    right, wrong = 8 - (i % 4 + 2), 8 + (i % 4 + 2)
    good = (f"<Step{k}><Cause>Subtract, do not add.</Cause><Correction>he has {right} apples.</Correction>"
            f"</Step{k}>\n<Answer>{right}</Answer>")
    bad = (f"<Step{k}><Cause>I added wrong.</Cause><Correction>he has {wrong} apples.</Correction>"
           f"</Step{k}>\n<Answer>{wrong}</Answer>")
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": good}],
            "rejected": [{"role": "assistant", "content": bad}],
            "id": f"r{i}-pair", "problem_id": f"p{i}", "rollout_id": f"r{i}", "error_step": k,
            "teacher_model": "reference", "prompt_version": "v1", "student_checkpoint": "models/sft"}


@pytest.fixture
def tiny(tmp_path):
    out = tmp_path / "sft"
    build_tiny(corpus(hsft_records(30)) + [pair(0, True)["chosen"][0]["content"]], SMALL, out, seed=0)
    return out


def test_text_pair_continues_the_assistant_prefix(tiny):
    _, tok = load_student(tiny)
    row = dpo.to_text_pair(tok, pair(1, with_prefix=True))
    assert row["prompt"].endswith("<|im_start|>assistant\n" + PREFIX)
    assert row["prompt"].count("<|im_start|>assistant") == 1  # continued, not a second turn
    assert row["chosen"].startswith("<Step2><Cause>") and row["chosen"].endswith("</Answer><|im_end|>")
    # TRL splits prompt and completion where their tokenizations diverge: that must be the seam.
    prompt_ids = tok(row["prompt"], add_special_tokens=False)["input_ids"]
    full_ids = tok(row["prompt"] + row["chosen"], add_special_tokens=False)["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids
    # Without a prefix the prompt opens a fresh assistant turn, as at inference time.
    plain = dpo.to_text_pair(tok, pair(1, with_prefix=False))
    assert plain["prompt"] == render(tok, solve_messages(V1, pair(1, False)["prompt"][1]["content"]))
    assert plain["prompt"].endswith("<|im_start|>assistant\n")


def completion_logp(model, tok, prompt: str, completion: str) -> float:
    import torch

    n = len(tok(prompt, add_special_tokens=False)["input_ids"])
    ids = torch.tensor([tok(prompt + completion, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        logp = model(ids).logits[0, :-1].log_softmax(-1).gather(-1, ids[0, 1:, None])[:, 0]
    return logp[n - 1:].sum().item()


def margins(model_dir, pairs) -> list[float]:
    model, tok = load_student(model_dir)
    rows = [dpo.to_text_pair(tok, p) for p in pairs]
    return [completion_logp(model, tok, r["prompt"], r["chosen"])
            - completion_logp(model, tok, r["prompt"], r["rejected"]) for r in rows]


def params(tmp_path, *extra):
    return load_params(REPO / "params.yaml", [
        f"mine.out_dir={tmp_path}/mine", f"sft.out_dir={tmp_path}/sft", f"dpo.out_dir={tmp_path}/dpo",
        "dpo.batch_size=4", "dpo.epochs=4", "dpo.learning_rate=0.003", "dpo.max_length=320", *extra])


def test_dpo_run_prefers_chosen(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pairs = [pair(i, with_prefix=i % 2 == 0) for i in range(8)]
    write_jsonl(tmp_path / "mine" / "pairs.jsonl", pairs)
    before = margins(tiny, pairs)
    metrics = dpo.run(params(tmp_path))
    after = margins(tmp_path / "dpo", pairs)

    assert metrics["n_pairs"] == 8 and metrics["n_trained"] == 8 and metrics["n_continued"] == 4
    assert metrics["steps"] == 8 and metrics["final_loss"] < metrics["first_loss"]
    assert sum(after) / 8 > sum(before) / 8 + 1.0
    assert all(a > b for a, b in zip(after, before))
    assert json.loads((tmp_path / "dpo" / "metrics.json").read_text()) == metrics  # a side run: beside its model
    assert (tmp_path / "plots" / "dpo_loss.csv").read_text().startswith("step,loss\n")

    start, _ = load_student(tiny)
    trained, _ = load_student(tmp_path / "dpo")
    assert not start.model.embed_tokens.weight.equal(trained.model.embed_tokens.weight)


def test_dpo_without_pairs_names_the_file(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "mine" / "pairs.jsonl"
    write_jsonl(path, [])
    with pytest.raises(InputError, match=str(path)):
        dpo.run(params(tmp_path))


def test_dpo_options_reference_in_memory_only_without_precompute(tiny, tmp_path, monkeypatch):
    """Precompute on (default): no reference model is held. Off with full fine-tuning: TRL keeps
    a frozen copy. loss_type reaches TRL (ipo trains too)."""
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "mine" / "pairs.jsonl", [pair(i, with_prefix=True) for i in range(4)])
    on = dpo.run(params(tmp_path, "dpo.epochs=1", "dpo.save_steps=0"))
    off = dpo.run(params(tmp_path, "dpo.epochs=1", "dpo.precompute_ref_log_probs=false", "dpo.loss_type=ipo"))
    assert on["reference_model_in_memory"] is False and on["precompute_ref_log_probs"] is True
    assert off["reference_model_in_memory"] is True and off["loss_type"] == "ipo" and off["steps"] == 1
