"""Tests for supercorrect.student.decode's loop: the shared-prefix cache and attention, and greedy
texts equal to batched `model.generate`'s. Real tiny Qwen2 models; nothing is mocked. About 10 s.
"""

from __future__ import annotations

import pytest
import torch

from supercorrect.student.decode import _shared_prefix_attention, _SharedPrefixCache, decode_batch
from supercorrect.student.load import eos_ids, prompt_ids, render
from tests.test_engine import base  # noqa: F401  (fixture)
from tests.test_engine import chats as engine_chats
from tests.test_sft import one_thread  # noqa: F401  (fixture)


class Layer:
    layer_idx = 0


class Prefill:
    """A prefilled cache's layers, as `_SharedPrefixCache` reads them."""

    def __init__(self, keys, values):
        self.layers = [type("L", (), {"keys": keys, "values": values})()]


def reference(query, prompt_k, prompt_v, prompt_mask, gen_k, gen_v, samples):
    """Plain attention: every row with its own copy of its prompt's keys, through torch's sdpa."""
    rows = query.shape[0]
    group = torch.arange(rows) // samples
    keys = torch.cat([prompt_k[group], gen_k], 2).repeat_interleave(query.shape[1] // prompt_k.shape[1], 1)
    values = torch.cat([prompt_v[group], gen_v], 2).repeat_interleave(query.shape[1] // prompt_k.shape[1], 1)
    mask = torch.cat([prompt_mask[group].bool(), torch.ones(rows, gen_k.shape[2], dtype=torch.bool)], 1)
    return torch.nn.functional.scaled_dot_product_attention(query, keys, values, attn_mask=mask[:, None, None])


@pytest.mark.parametrize("heads, kv_heads", [(4, 4), (4, 2)])  # grouped-query attention too
def test_attention_over_the_shared_cache_equals_per_row_attention(heads, kv_heads):
    torch.manual_seed(0)
    groups, samples, length, dim, steps = 3, 4, 7, 8, 6
    prompt_k, prompt_v = torch.randn(groups, kv_heads, length, dim), torch.randn(groups, kv_heads, length, dim)
    prompt_mask = torch.ones(groups, length, dtype=torch.long)
    prompt_mask[0, :3] = 0  # left padding
    prompt_mask[2, :1] = 0
    cache = _SharedPrefixCache(Prefill(prompt_k, prompt_v), prompt_mask, samples, max_new_tokens=steps)
    rows = torch.arange(groups * samples)
    gen_k, gen_v = torch.zeros(len(rows), kv_heads, 0, dim), torch.zeros(len(rows), kv_heads, 0, dim)
    for step in range(steps):
        # Rows leave (positions in the batch): at step 2 all of prompt 1's samples and one of prompt
        # 0's, at step 3 two more of prompt 0's, at step 4 its last one. A prompt leaves the cache
        # with its last sample; in between, prompt 0's rows read it from a part-empty grid.
        leaving = {2: [1, 4, 5, 6, 7], 3: [0, 2], 4: [0]}.get(step)
        if leaving:
            done = torch.zeros(len(rows), dtype=torch.bool)
            done[leaving] = True
            keep = (~done).nonzero()[:, 0]
            cache.select(keep)
            rows, gen_k, gen_v = rows[keep], gen_k[keep], gen_v[keep]
            assert (cache.groups, cache.samples) == ({2: 2, 3: 2, 4: 1}[step], samples)
        query = torch.randn(len(rows), heads, 1, dim)
        key, value = torch.randn(len(rows), kv_heads, 1, dim), torch.randn(len(rows), kv_heads, 1, dim)
        got, _ = _shared_prefix_attention(Layer, query, key, value, None, scaling=dim ** -0.5, decode_cache=cache)
        cache.filled += 1
        gen_k, gen_v = torch.cat([gen_k, key], 2), torch.cat([gen_v, value], 2)
        # After the rows left, every row still reads its own prompt (group = original row // samples).
        want = reference(query, prompt_k[rows // samples], prompt_v[rows // samples],
                         prompt_mask[rows // samples], gen_k, gen_v, 1)
        assert torch.allclose(got, want.transpose(1, 2), atol=1e-5), step


@pytest.mark.parametrize("sliding", [False, True])
def test_greedy_texts_equal_batched_generate(base, sliding):
    """The whole loop against transformers' batched generate on a briefly trained student: same
    prompts (left padded, as bench.generate's baseline runs them), two samples each, rows
    ending their turn at different steps. `sliding`: a model with sliding-window layers (a
    window longer than any row, so the texts stay the same) takes the DynamicCache path."""
    from transformers import AutoModelForCausalLM

    from supercorrect.student.load import load_student

    model, tok = load_student(base)
    if sliding:
        layers = model.config.num_hidden_layers
        model = AutoModelForCausalLM.from_pretrained(base, use_sliding_window=True, sliding_window=4096,
                                                     layer_types=["sliding_attention"] * layers).eval()
        assert model.model.has_sliding_layers
    chats = engine_chats()
    ids = prompt_ids(tok, chats)
    stop = eos_ids(model.generation_config, tok)
    # Greedy generate takes no num_return_sequences: each prompt twice in the batch instead.
    enc = tok([render(tok, c) for c in chats for _ in range(2)], add_special_tokens=False, padding=True,
              return_tensors="pt")
    with torch.inference_mode():
        ours = decode_batch(model, ids, pad_id=tok.pad_token_id, eos_ids=stop, max_new_tokens=90, num_samples=2)
        theirs = model.generate(**enc, max_new_tokens=90, do_sample=False, temperature=None, top_k=None,
                                top_p=None, pad_token_id=tok.pad_token_id, eos_token_id=stop)
    theirs = tok.batch_decode(theirs[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert tok.batch_decode(ours, skip_special_tokens=True) == theirs
    assert len(set(theirs)) > 2  # the prompts give different texts
    assert len({len(row) for row in ours}) > 1 and any(row[-1] in stop for row in ours), [len(r) for r in ours]
