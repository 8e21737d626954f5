"""Tests for supercorrect.student.shared_prefix: the shared prefix runs once and changes nothing else.

Real tiny Qwen2 models and real TRL SFTTrainers; nothing is mocked. About 15 s on one core.
"""

from __future__ import annotations

import pytest
import torch

from supercorrect import sft
from supercorrect.formats.prompts import V2, solve_messages
from supercorrect.student.build import build_tiny
from supercorrect.student.load import load_student
from supercorrect.student.shared_prefix import shared_prefix_length, split_shared_prefix
from tests.test_sft import SMALL, corpus, hsft_records, one_thread  # noqa: F401  (fixture)


def lengths(ids, mask=None, labels=None) -> int:
    ids = torch.tensor(ids)
    mask = torch.ones_like(ids) if mask is None else torch.tensor(mask)
    labels = torch.full_like(ids, -100) if labels is None else torch.tensor(labels)
    return shared_prefix_length(ids, mask, labels)


def test_prefix_stops_where_rows_differ_at_padding_and_before_labels():
    rows = [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 9, 6]]
    assert lengths(rows) == 4
    assert lengths(rows, mask=[[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]]) == 3
    # Row 0's token 3 is labelled: the logit at position 2 must come from the second pass.
    assert lengths(rows, labels=[[-100, -100, -100, 4, 5, 6], [-100] * 6]) == 2
    assert lengths([[1, 2, 3]]) == 0  # a batch of one shares nothing with anybody
    assert lengths([[1, 2, 3], [1, 2, 3]]) == 2  # identical rows: the second pass keeps a token


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datasets import Dataset

    records = hsft_records(24)
    base = tmp_path_factory.mktemp("prefix") / "base"
    build_tiny(corpus(records), SMALL, base, seed=0)
    rows = [{"prompt": solve_messages(V2, r["problem"]),
             "completion": [{"role": "assistant", "content": r["template"]}]} for r in records]
    return base, Dataset.from_list(rows), tmp_path_factory.mktemp("runs")


def trainer(setup, shared: bool, steps: int = 0, **extra):
    from trl import SFTConfig

    base, data, out = setup
    model, tok = load_student(base)
    args = SFTConfig(output_dir=str(out / f"{shared}"), per_device_train_batch_size=4, max_steps=steps or 1,
                     learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                     completion_only_loss=True, seed=0, data_seed=0, **{"gradient_checkpointing": False, **extra})
    return sft.trainer_class(False, shared_prefix=shared)(model=model, args=args, train_dataset=data,
                                                          processing_class=tok)


def test_loss_and_gradients_equal_the_plain_forward(setup):
    plain, shared = trainer(setup, False), trainer(setup, True)
    batch = next(iter(plain.get_train_dataloader()))
    _, tok = load_student(setup[0])
    system = tok.apply_chat_template([{"role": "system", "content": V2.system}], tokenize=False)
    n = shared_prefix_length(batch["input_ids"], batch["attention_mask"], batch["labels"])
    assert n >= len(tok(system)["input_ids"])  # at least the whole system prompt is shared
    assert split_shared_prefix(shared.model, dict(batch))["input_ids"].size(1) == batch["input_ids"].size(1) - n

    items = int((batch["labels"][:, 1:] != -100).sum())
    grads = {}
    for name, t in (("plain", plain), ("shared", shared)):
        t.model.zero_grad()
        loss = t.compute_loss(t.model, dict(batch), num_items_in_batch=items)
        loss.backward()
        grads[name] = (loss.detach(), {k: p.grad.clone() for k, p in t.model.named_parameters()})
    assert torch.allclose(grads["plain"][0], grads["shared"][0], rtol=1e-5)
    for k, g in grads["plain"][1].items():
        assert torch.allclose(g, grads["shared"][1][k], rtol=1e-4, atol=1e-6), k


def test_training_follows_the_same_loss_curve(setup):
    curves = {}
    for shared in (False, True):
        t = trainer(setup, shared, steps=6)
        t.train()
        curves[shared] = [h["loss"] for h in t.state.log_history if "loss" in h]
    assert len(curves[True]) == 6
    assert curves[True] == pytest.approx(curves[False], rel=1e-4)
    assert curves[True][-1] < curves[True][0]


def test_gradient_checkpointing_falls_back_to_the_plain_forward(setup):
    t = trainer(setup, True, steps=2, gradient_checkpointing=True)
    t.train()  # checkpointed layers would append to a prefix cache twice and fail on shapes
    assert len([h for h in t.state.log_history if "loss" in h]) == 2
