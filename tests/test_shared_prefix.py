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
    for r in records[::2]:  # rows of different lengths, so batches carry padding
        r["template"] = r["template"].replace("</Step1>", "<Key>Adding means the total grows.</Key></Step1>")
    base = tmp_path_factory.mktemp("prefix") / "base"
    build_tiny(corpus(records), SMALL, base, seed=0)
    rows = [{"prompt": solve_messages(V2, r["problem"]),
             "completion": [{"role": "assistant", "content": r["template"]}]} for r in records]
    return base, Dataset.from_list(rows), tmp_path_factory.mktemp("runs")


def trainer(setup, shared: bool, steps: int = 0, unpadded: bool = False, **extra):
    from trl import SFTConfig

    base, data, out = setup
    model, tok = load_student(base)
    args = SFTConfig(output_dir=str(out / f"{shared}"), per_device_train_batch_size=4, max_steps=steps or 1,
                     learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                     completion_only_loss=True, seed=0, data_seed=0, **{"gradient_checkpointing": False, **extra})
    trainer_cls = sft.trainer_class(False, shared_prefix=shared, unpadded=unpadded)
    return trainer_cls(model=model, args=args, train_dataset=data, processing_class=tok)


def padded_batch(t) -> dict:
    """The trainer's first training batch whose rows differ in length."""
    return next(b for b in t.get_train_dataloader() if (b["attention_mask"] == 0).any())


@pytest.mark.parametrize("unpadded", [False, True])
def test_loss_and_gradients_equal_the_plain_forward(setup, unpadded):
    plain, shared = trainer(setup, False), trainer(setup, True, unpadded=unpadded)
    batch = padded_batch(plain)
    _, tok = load_student(setup[0])
    system = tok.apply_chat_template([{"role": "system", "content": V2.system}], tokenize=False)
    n = shared_prefix_length(batch["input_ids"], batch["attention_mask"], batch["labels"])
    assert n >= len(tok(system)["input_ids"])  # at least the whole system prompt is shared
    split = split_shared_prefix(shared.model, dict(batch), unpadded=unpadded)
    if unpadded:  # one row holding exactly the real tokens after the prefix
        assert split["input_ids"].shape == (1, int(batch["attention_mask"][:, n:].sum()))
        assert sum(split["packed_lengths"]) == split["input_ids"].size(1)
    else:
        assert split["input_ids"].size(1) == batch["input_ids"].size(1) - n

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


@pytest.mark.parametrize("unpadded", [False, True])
def test_training_follows_the_same_loss_curve(setup, unpadded):
    logs = {}
    for shared in (False, True):
        t = trainer(setup, shared, steps=6, unpadded=unpadded)
        t.train()
        logs[shared] = [h for h in t.state.log_history if "loss" in h]
    assert len(logs[True]) == 6
    for key in ("loss", "entropy"):
        assert [h[key] for h in logs[True]] == pytest.approx([h[key] for h in logs[False]], rel=1e-4), key
    # Top-1 accuracy: rounding may flip a near-tie argmax, worth about one token of a batch's ~170.
    assert [h["mean_token_accuracy"] for h in logs[True]] == pytest.approx(
        [h["mean_token_accuracy"] for h in logs[False]], abs=0.01)
    assert [h["num_tokens"] for h in logs[True]] == [h["num_tokens"] for h in logs[False]]  # padding not counted
    assert logs[True][-1]["loss"] < logs[True][0]["loss"]


def test_unpadded_rows_without_a_shared_prefix_give_the_padded_loss(setup):
    """Rows packed from position 0 (no prefix cache): same loss and logits-free path as the padded batch."""
    from supercorrect.student.shared_prefix import packed_attention

    plain = trainer(setup, False)
    batch = padded_batch(plain)
    model = plain.model
    packed = split_shared_prefix(model, dict(batch), min_prefix=10 ** 6, unpadded=True)
    assert "past_key_values" not in packed and packed["input_ids"].size(1) == int(batch["attention_mask"].sum())
    with torch.no_grad():
        want = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        with packed_attention(model):
            got = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], labels=packed["labels"],
                        packed_lengths=packed["packed_lengths"]).loss
    assert model.config._attn_implementation == "sdpa"  # restored after the block
    assert torch.allclose(got, want, rtol=1e-5)


def full_and_sliding():
    """Two small sdpa Qwen2 models: every layer full attention, and the second layer a sliding window."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, vocab_size=50)
    full = Qwen2ForCausalLM(Qwen2Config(**small, attn_implementation="sdpa"))
    sliding = Qwen2ForCausalLM(Qwen2Config(**small, attn_implementation="sdpa", use_sliding_window=True,
                                           sliding_window=16, max_window_layers=1))
    return full, sliding


def test_unpadded_rows_need_full_attention():
    from supercorrect.student.shared_prefix import unpadded_supported

    full, sliding = full_and_sliding()
    assert unpadded_supported(full) and not unpadded_supported(sliding)


def test_gradient_checkpointing_falls_back_to_the_plain_forward(setup):
    t = trainer(setup, True, steps=2, gradient_checkpointing=True)
    t.train()  # checkpointed layers would append to a prefix cache twice and fail on shapes
    assert len([h for h in t.state.log_history if "loss" in h]) == 2
