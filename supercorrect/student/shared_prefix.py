"""Shared-prefix batches: run the tokens every row of a training batch starts with only once.

Every SFT example starts with the same system prompt (69 of ~195 tokens on the demo). In a
causal model the hidden states of a common prefix do not depend on what follows, so one row's
prefix gives every row's keys and values. `split_shared_prefix` runs the prefix for one row,
expands its key/value cache to the batch (`expand` shares memory; its backward sums the
rows' gradients, exactly what running it B times would give) and returns the inputs for the
rest of the batch, which attends to that cache. Loss and gradients equal the plain forward's up
to float rounding (tests/test_shared_prefix.py checks both, with and without `unpadded`).

The prefix stops where rows differ, where any row has padding, or before any position whose
next token carries a label, so no loss term needs a logit from the prefix pass.

With `unpadded=True` (`sft.unpadded`) the rest of the batch also drops its padding: the rows'
real tokens run as one sequence, each at the positions it had, and `packed_attention` attends
within each row only (plus the prefix cache), one sdpa call per row. A random batch of the demo
mixes short templates with long correction traces, so much of it is padding, and a padding
position costs as much as a real token in every layer (docs/performance.md has the share).
This needs a model whose attention is plain sdpa or eager over full attention
(`unpadded_supported`); others keep the padded rows.

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


def split_shared_prefix(model, inputs: dict, min_prefix: int = MIN_PREFIX, unpadded: bool = False) -> dict:
    """`inputs` with the shared prefix replaced by a key/value cache computed once (and with
    `unpadded`, the rest as one unpadded sequence: `pack`), or unchanged."""
    ids, mask, labels = inputs.get("input_ids"), inputs.get("attention_mask"), inputs.get("labels")
    if ids is None or mask is None or labels is None or "position_ids" in inputs:
        return inputs  # padding-free or packed batches carry no shared prefix
    n = shared_prefix_length(ids, mask, labels)
    if n < min_prefix:
        return pack(inputs, 0, None) if unpadded else inputs
    # logits_to_keep=1: the prefix's own logits are never needed (see shared_prefix_length).
    cache = model(input_ids=ids[:1, :n], use_cache=True, logits_to_keep=1).past_key_values
    if unpadded:
        return pack(inputs, n, cache)
    batch = ids.size(0)
    for layer in cache.layers:
        layer.keys = layer.keys.expand(batch, -1, -1, -1)
        layer.values = layer.values.expand(batch, -1, -1, -1)
    # The full attention mask: the model reads the cache length from it and the cache.
    return {**inputs, "input_ids": ids[:, n:], "labels": labels[:, n:], "past_key_values": cache}


def pack(inputs: dict, n: int, cache) -> dict:
    """The batch's tokens after its first `n` (held in `cache`, batch one) as one unpadded row.

    Each token keeps its position, and `packed_lengths` gives the rows' lengths for
    `packed_attention`. The first token of each row gets no label: in the padded batch it is never
    predicted (the first after the prefix is unlabelled by `shared_prefix_length`'s rule, and a
    row's position 0 is never a target), and here it would be predicted from the previous row.
    The attention mask stays in `inputs` for TRL's token count; the packed attention reads none.
    """
    import torch

    mask, labels = inputs["attention_mask"], inputs["labels"]
    real = mask[:, n:].bool()
    lengths = real.sum(1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, n:][real]
    packed_labels = labels[:, n:][real].clone()
    starts = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)[:-1]])
    packed_labels[starts[lengths > 0]] = -100
    out = {**inputs, "input_ids": inputs["input_ids"][:, n:][real][None], "labels": packed_labels[None],
           "position_ids": positions[None], "packed_lengths": [int(x) for x in lengths if x > 0]}
    if cache is not None:
        out["past_key_values"] = cache
    return out


def unpadded_supported(model) -> bool:
    """Whether `packed_attention` can stand in for the model's attention: sdpa or eager, every
    layer full attention, no attention soft-capping (the kwargs it would ignore)."""
    from supercorrect.student.load import full_attention_only

    config = model.config.get_text_config()
    return (getattr(config, "_attn_implementation", None) in ("sdpa", "eager") and full_attention_only(config)
            and getattr(config, "attn_logit_softcapping", None) is None)


def packed_attention(model):
    """A context in which the model's attention is `_packed_attention`."""
    from supercorrect.student.load import attention_as

    return attention_as(model, "supercorrect_packed_rows", _packed_attention)


def _packed_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                      packed_lengths=None, **kwargs):
    """Causal attention within each packed row, which also sees the whole shared prefix.

    `key`/`value` are the prefix cache followed by the packed tokens (batch one); a custom
    attention name makes transformers build no mask (one would be the whole packed length
    squared), so each row's mask here is its own length by prefix plus length.
    """
    import torch
    from torch.nn.functional import scaled_dot_product_attention

    n = key.shape[2] - query.shape[2]
    gqa = key.shape[1] != query.shape[1]
    # One split per tensor, not a slice per row: a slice's backward writes a zero tensor the
    # size of the whole packed row, a split's backward one concatenation.
    queries, keys, values = (x.split(packed_lengths, 2) for x in (query, key[:, :, n:], value[:, :, n:]))
    prefix_k, prefix_v = key[:, :, :n], value[:, :, :n]
    outs = []
    for q, k, v in zip(queries, keys, values):
        mask = None
        if n:
            k, v = torch.cat([prefix_k, k], 2), torch.cat([prefix_v, v], 2)
            # Row token i sees the prefix and its own tokens up to i: columns j <= n + i.
            mask = torch.ones((q.shape[2], k.shape[2]), dtype=torch.bool, device=q.device).tril_(n)
        outs.append(scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=not n,
                                                 scale=scaling, enable_gqa=gqa))
    return torch.cat(outs, 2).transpose(1, 2).contiguous(), None

