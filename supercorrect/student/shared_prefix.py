"""Shared-prefix batches: run the tokens every row of a training batch starts with only once.

Every SFT example starts with the same system prompt (69 of ~195 tokens on the demo). In a
causal model the hidden states of a common prefix do not depend on what follows, so one row's
prefix gives every row's keys and values. `split_shared_prefix` runs the prefix for one row,
expands its key/value cache to the batch (`expand` shares memory; its backward sums the
rows' gradients, exactly what running it B times would give) and returns the inputs for the
rest of the batch, which attends to that cache. Loss and gradients equal the plain forward's up
to float rounding (tests/test_sft.py checks both).

The prefix stops where rows differ, where any row has padding, or before any position whose
next token carries a label, so no loss term needs a logit from the prefix pass.

Not used with gradient checkpointing (recomputing a layer would append to the cache twice) or
with several processes (DDP expects one forward per backward); `sft.shared_prefix` turns it off.
Used by supercorrect.sft via `trainer_class`; no CLI of its own.
"""

from __future__ import annotations

# Below this many shared tokens the extra forward call costs more than it saves.
MIN_PREFIX = 8


def shared_prefix_length(input_ids, attention_mask, labels) -> int:
    """Leading positions equal in every row, unpadded, and followed by unlabelled tokens."""
    import torch

    if input_ids.size(0) < 2 or input_ids.size(1) < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(0) & attention_mask.bool().all(0)
    next_unlabelled = torch.cat([(labels[:, 1:] == -100).all(0), same.new_zeros(1)])
    ok = (same & next_unlabelled).long()
    return int(ok.cumprod(0).sum())


def split_shared_prefix(model, inputs: dict, min_prefix: int = MIN_PREFIX) -> dict:
    """`inputs` with the shared prefix replaced by a key/value cache computed once, or unchanged."""
    ids, mask, labels = inputs.get("input_ids"), inputs.get("attention_mask"), inputs.get("labels")
    if ids is None or mask is None or labels is None or "position_ids" in inputs:
        return inputs  # padding-free or packed batches carry no shared prefix
    n = shared_prefix_length(ids, mask, labels)
    if n < min_prefix:
        return inputs
    # logits_to_keep=1: the prefix's own logits are never needed (see shared_prefix_length).
    cache = model(input_ids=ids[:1, :n], use_cache=True, logits_to_keep=1).past_key_values
    batch = ids.size(0)
    for layer in cache.layers:
        layer.keys = layer.keys.expand(batch, -1, -1, -1)
        layer.values = layer.values.expand(batch, -1, -1, -1)
    # The full attention mask: the model reads the cache length from it and the cache.
    return {**inputs, "input_ids": ids[:, n:], "labels": labels[:, n:], "past_key_values": cache}
