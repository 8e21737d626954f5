"""Tests for stage `dpo`: TRL's own split of pairs.jsonl, the Eq. 8 cancellation, and a real (tiny) DPO run."""

from __future__ import annotations

import json

import pytest

from supercorrect import dpo
from supercorrect.formats.prompts import V2
from supercorrect.io import InputError, write_jsonl
from supercorrect.pairs.cross_model import build_pair
from supercorrect.params_file import load_params
from supercorrect.student.build import build_tiny
from supercorrect.student.load import load_student
from tests.conftest import REPO
from tests.test_sft import SMALL, corpus, hsft_records, one_thread  # noqa: F401 (autouse fixture)

STEP1 = "Tom buys 3 more apples, so he has 5+3=8 apples."


def pair(i: int, k: int = 2, context: str = "correction") -> dict:
    """A pair as `mine` writes it: chosen = the teacher's trace from step k, rejected = the student's."""
    n = i % 4 + 2
    problem = {"id": f"p{i}", "problem": f"Tom has 5 apples. He buys 3 more apples. Then he gives away {n} apples. How many?"}
    wrong_step = f"Tom gives away {n} apples, so he has 8+{n}={8 + n} apples."
    response = (f"<Step1>{STEP1}</Step1>\n<Step2>{wrong_step}</Step2>\n<Answer>{8 + n}</Answer>" if k == 2
                else f"<Step1>Tom buys 3 more apples, so he has 5+3=9 apples.</Step1>\n<Answer>9</Answer>")
    good = (f"<Step{k}><Cause>Subtract, do not add.</Cause><Correction>he has {8 - n} apples.</Correction>"
            f"</Step{k}>\n<Answer>{8 - n}</Answer>")
    bad = f"<Step{k}>{wrong_step}</Step{k}>\n<Answer>{8 + n}</Answer>"  # blind: calls step k correct
    return build_pair(V2, problem, {"id": f"r{i}", "response": response}, k, good, bad,
                      {"teacher_model": "reference", "prompt_version": "v2"}, context)


@pytest.fixture
def tiny(tmp_path):
    out = tmp_path / "sft"
    texts = [m["content"] for k in (1, 2) for side in ("prompt", "chosen") for m in pair(0, k)[side]]
    build_tiny(corpus(hsft_records(30)) + texts, SMALL, out, seed=0)
    return out


@pytest.mark.parametrize("context", ["correction", "solve"])
def test_trl_splits_pairs_jsonl_at_the_eq8_boundary(tiny, tmp_path, context):
    """pairs.jsonl straight into TRL's DPOTrainer: the prompt ends where the assistant turn opens,
    and chosen and rejected share exactly the student's steps 1..k-1 (then `<Stepk>`)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    model, tok = load_student(tiny)
    pairs = [pair(0, 2, context), pair(1, 1, context)]
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    args = DPOConfig(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, max_length=None)
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_json(str(tmp_path / "pairs.jsonl")),
                         processing_class=tok)
    by_id = {p["id"]: p for p in pairs}
    assert sorted(trainer.train_dataset["id"]) == sorted(by_id)  # TRL may reorder rows; lineage stays
    for row in trainer.train_dataset:
        original = by_id[row["id"]]
        k = original["error_step"]
        user = original["prompt"][1]["content"]
        assert tok.decode(row["prompt_ids"]) == (f"<|im_start|>system\n{V2.system}<|im_end|>\n"
                                                 f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
        assert tok.decode(row["chosen_ids"]) == original["chosen"][0]["content"] + "<|im_end|>\n"
        assert tok.decode(row["rejected_ids"]) == original["rejected"][0]["content"] + "<|im_end|>\n"
        shared = next(j for j, (a, b) in enumerate(zip(row["chosen_ids"], row["rejected_ids"])) if a != b)
        prefix = f"<Step1>{STEP1}</Step1>\n" if k == 2 else ""
        assert tok.decode(row["chosen_ids"][:shared]) == prefix + f"<Step{k}>"
        assert tok.decode(row["chosen_ids"][shared:]).startswith("<Cause>")


def logps(model, tok, chat: list[dict], completion: list[dict]):
    """Per-token log-probabilities of the completion, rendered as TRL renders it."""
    import torch

    n = len(tok(tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True),
                add_special_tokens=False)["input_ids"])
    ids = torch.tensor([tok(tok.apply_chat_template(chat + completion, tokenize=False),
                            add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        logp = model(ids).logits[0, :-1].log_softmax(-1).gather(-1, ids[0, 1:, None])[:, 0]
    return logp[n - 1:]


def test_shared_steps_cancel_in_the_dpo_margin(tiny):
    """Eq. 8 conditions both sides on s1..s(k-1): the tokens they share score the same on both sides."""
    model, tok = load_student(tiny)
    p = pair(3, 2)
    chosen, rejected = logps(model, tok, p["prompt"], p["chosen"]), logps(model, tok, p["prompt"], p["rejected"])
    shared = len(tok(f"<Step1>{STEP1}</Step1>\n<Step2>", add_special_tokens=False)["input_ids"])
    assert chosen[:shared].tolist() == pytest.approx(rejected[:shared].tolist(), abs=1e-5)
    assert chosen[shared] != pytest.approx(rejected[shared].item(), abs=1e-5)


def margins(model_dir, pairs) -> list[float]:
    model, tok = load_student(model_dir)
    return [(logps(model, tok, p["prompt"], p["chosen"]).sum() - logps(model, tok, p["prompt"], p["rejected"]).sum()).item()
            for p in pairs]


def params(tmp_path, *extra):
    return load_params(REPO / "params.yaml", [
        f"mine.out_dir={tmp_path}/mine", f"sft.out_dir={tmp_path}/sft", f"dpo.out_dir={tmp_path}/dpo",
        "dpo.batch_size=4", "dpo.epochs=4", "dpo.learning_rate=0.003", "dpo.max_length=1024", *extra])


def test_dpo_run_prefers_chosen(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    pairs = [pair(i, k=1 + i % 2) for i in range(8)]
    write_jsonl(tmp_path / "mine" / "pairs.jsonl", pairs)
    before = margins(tiny, pairs)
    import transformers

    # As the CLI runs it: transformers at "error" makes `disable_tqdm` default to true, and the
    # Trainer would then print every log dict instead of a bar.
    level = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        metrics = dpo.run(params(tmp_path))
    finally:
        transformers.logging.set_verbosity(level)
    out, err = capsys.readouterr()
    # One labelled bar with the loss; no log dicts.
    assert "dpo: train" in err and "{'loss'" not in out + err
    after = margins(tmp_path / "dpo", pairs)

    assert metrics["n_pairs"] == 8 and metrics["n_trained"] == 8 and metrics["pairs_by_error_step"] == {"1": 4, "2": 4}
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
    write_jsonl(tmp_path / "mine" / "pairs.jsonl", [pair(i) for i in range(4)])
    on = dpo.run(params(tmp_path, "dpo.epochs=1", "dpo.save_steps=0"))
    off = dpo.run(params(tmp_path, "dpo.epochs=1", "dpo.precompute_ref_log_probs=false", "dpo.loss_type=ipo"))
    assert on["reference_model_in_memory"] is False and on["precompute_ref_log_probs"] is True
    assert off["reference_model_in_memory"] is True and off["loss_type"] == "ipo" and off["steps"] == 1
