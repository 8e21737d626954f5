"""Tests for supercorrect.training.dpo_fast: prefix-tree DPO batches give TRL's loss, gradients and metrics.

Real tiny Qwen2 models and real TRL DPOTrainers, the plain one as the reference; nothing is mocked.
About 20 s on one core.
"""

from __future__ import annotations

import pytest
import torch

from supercorrect.student.build import build_tiny
from supercorrect.student.load import load_student
from supercorrect.training import dpo_fast
from tests.test_dpo import pair
from tests.test_sft import SMALL, corpus, hsft_records, one_thread  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datasets import Dataset

    base = tmp_path_factory.mktemp("tree") / "base"
    build_tiny(corpus(hsft_records(30)) + [pair(0)["chosen"][0]["content"]], SMALL, base, seed=0)
    # Pairs with and without shared steps before k (k = 2 and k = 1), in the solve context so the
    # prompts stay short: prompt and completion lengths differ within a batch.
    rows = [{side: p[side] for side in ("prompt", "chosen", "rejected")}
            for p in (pair(i, k=1 if i % 3 == 0 else 2, context="solve") for i in range(8))]
    for i, row in enumerate(rows):
        if i % 4 == 1:  # a longer rejected completion than chosen, and vice versa
            row["rejected"][0]["content"] += " I added the numbers wrong here."
    return base, Dataset.from_list(rows), tmp_path_factory.mktemp("runs")


def trainer(setup, tree: bool, steps: int = 1, attention: str = "sdpa", lr: float = 3e-3, **extra):
    from trl import DPOConfig, DPOTrainer

    base, data, out = setup
    model, tok = load_student(base)
    model.set_attn_implementation(attention)
    args = DPOConfig(output_dir=str(out / f"{tree}-{attention}"), per_device_train_batch_size=4, max_steps=steps,
                     learning_rate=lr, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                     seed=0, data_seed=0, precompute_ref_log_probs=True,
                     **{"max_length": 400, "gradient_checkpointing": False, **extra})
    cls = dpo_fast.trainer_class() if tree else DPOTrainer
    return cls(model=model, args=args, train_dataset=data, processing_class=tok)


def loss_and_grads(t, examples):
    batch = t.data_collator(examples)
    t.model.train()
    t.model.zero_grad()
    t._metrics["train"].clear()
    loss = t.compute_loss(t.model, batch)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in t.model.named_parameters()}
    return loss.detach(), grads, {k: v[-1] for k, v in t._metrics["train"].items()}


@pytest.mark.parametrize("attention, extra", [
    ("sdpa", {}),
    ("eager", {"loss_type": ["ipo"], "ld_alpha": 0.5}),
    ("sdpa", {"max_length": 330, "use_weighting": True}),  # the longer prompts' completions cut; WPO weights
])
def test_loss_gradients_and_metrics_equal_the_plain_trainer(setup, attention, extra):
    plain, tree = trainer(setup, False, attention=attention, **extra), trainer(setup, True, attention=attention, **extra)
    # The reference log-probs precomputed through the tree equal TRL's.
    for column in ("ref_chosen_logps", "ref_rejected_logps"):
        assert torch.allclose(torch.tensor(tree.train_dataset[column]), torch.tensor(plain.train_dataset[column]),
                              rtol=1e-5, atol=1e-4)
    examples = [tree.train_dataset[i] for i in (0, 1, 2, 5)]
    batch = tree.data_collator(examples)
    n_prompt = sum(len(e["prompt_ids"]) for e in examples)
    # One row per pair, each prompt once: fewer tokens than TRL's two rows per pair.
    assert batch["tree_input_ids"].shape[0] == 4 and int((batch["tree_segments"] == 0).sum()) == n_prompt
    assert int((batch["tree_segments"] >= 0).sum()) < int(batch["attention_mask"].sum())
    if "max_length" in extra:
        assert int(batch["completion_mask"].sum()) < sum(len(e["chosen_ids"]) + len(e["rejected_ids"])
                                                         for e in examples)  # truncation did happen

    (loss_p, grads_p, metrics_p), (loss_t, grads_t, metrics_t) = (loss_and_grads(t, examples) for t in (plain, tree))
    assert torch.allclose(loss_p, loss_t, rtol=1e-5, atol=1e-6)
    assert loss_t.item() != 0.0
    for k, g in grads_p.items():
        assert torch.allclose(g, grads_t[k], rtol=1e-4, atol=1e-6), k
    assert metrics_t.keys() == metrics_p.keys()
    assert metrics_t == pytest.approx(metrics_p, rel=1e-4, abs=1e-5)


def test_sliding_window_models_keep_the_plain_path():
    """The tree mask would override a sliding window, so such models train through TRL's own path."""
    from tests.test_shared_prefix import full_and_sliding

    full, sliding = full_and_sliding()
    assert dpo_fast.supported(full) and not dpo_fast.supported(sliding)


def test_rejected_tokens_never_see_the_chosen_ones():
    segments = torch.tensor([[0, 0, 1, 1, 2, 2, -1]])
    mask = dpo_fast.tree_mask(segments, torch.float32, boolean=True)[0, 0]
    assert mask[4, :4].tolist() == [True, True, False, False] and mask[5, 4]  # prompt and own tokens
    assert mask[3, :4].all() and not mask[3, 4:].any()  # chosen: causal over prompt + chosen
    assert not mask[:6, 6].any() and mask[6, 6]  # padding is never a key; it sees itself only
    additive = dpo_fast.tree_mask(segments, torch.float32, boolean=False)[0, 0]
    assert additive[4, 2] == torch.finfo(torch.float32).min and additive[4, 1] == 0


def test_training_follows_the_plain_loss_curve(setup):
    curves = {}
    for tree in (False, True):
        t = trainer(setup, tree, steps=4, lr=5e-4)
        t.train()
        curves[tree] = [h["loss"] for h in t.state.log_history if "loss" in h]
    assert len(curves[True]) == 4 and curves[True][-1] < curves[True][0]
    # Rounding differs from TRL's (other shapes), and DPO's loss is a small difference of large
    # log-prob sums, which Adam's normalized steps carry on: ~4e-4 apart after 4 steps here.
    assert curves[True] == pytest.approx(curves[False], rel=1e-3)
