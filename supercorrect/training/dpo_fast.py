"""Prefix-tree DPO batches: each pair's prompt runs once, and logits only where the loss reads them.

TRL's DPOTrainer puts every pair in the batch twice, `prompt + chosen` and `prompt + rejected`,
so the prompt (most of a correction pair: the problem and the student's solution) runs through
the model twice, forward and backward. Its fused LM head then projects every position, prompt
and padding included, through the vocabulary-sized output layer on devices without Triton (the
CPU); with a 151k vocabulary that layer is most of a small model's cost.

Here each pair is one row, `prompt, chosen, rejected`, with the positions the two completions
would have had (both continue the prompt) and an attention mask that hides the chosen tokens
from the rejected ones. Every token then sees exactly the context it sees in TRL's two rows, so
the hidden states are the same up to float rounding. Only the hidden states that predict a
completion token (the last prompt position, once per completion, and the completion positions)
go through TRL's own chunked log-prob kernel. The per-token results are scattered back into the
`(2 * pairs, length - 1)` layout TRL's loss code reads, and TRL's `_compute_loss` runs unchanged
(every loss type, `ld_alpha`, WPO weights and metrics), so loss and gradients equal the plain
trainer's to float rounding (tests/test_dpo_fast.py).

`trainer_class()` is a DPOTrainer subclass with this collator and forward. It falls back to the
plain path with several processes (DDP hooks the wrapped model's forward, not the backbone called
here), with attention other than sdpa/eager (no custom mask), with sliding-window layers (the
tree mask would override the window), with MoE aux losses, with scaled or soft-capped logits,
with prompt-learning PEFT (virtual tokens) and with `truncation_mode` other than keep_start (the
two completions' prompts would be cut differently).
Used by supercorrect.dpo (`dpo.prefix_tree`, default on) and bench.dpo; no CLI of its own.
"""

from __future__ import annotations

TREE_KEYS = ("tree_input_ids", "tree_position_ids", "tree_segments", "tree_src", "tree_dst", "tree_targets")
# Segments of a tree row; padding is -1.
PROMPT, CHOSEN, REJECTED = 0, 1, 2
# The per-token fields TRL's DPO metrics read from its fused LM head (and the WPO weights' extra one).
POLICY_OUTPUTS = ("log_probs", "entropy", "mean_logits", "is_top1")
# Config attributes that scale or cap the logits (TRL's fused head handles them; this path does not).
_LOGIT_SCALING = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                  "logits_scaling")


class PrefixTreeCollator:
    """TRL's preference batch plus one `prompt, chosen, rejected` row per pair (`TREE_KEYS`)."""

    def __init__(self, base, pad_token_id: int, max_length: int | None):
        self.base, self.pad_token_id, self.max_length = base, pad_token_id, max_length

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        batch = self.base(examples)
        n, width = len(examples), batch["input_ids"].shape[1] - 1  # TRL's log-prob layout: (2n, width)
        rows, src, dst, targets = [], [], [], []
        for i, ex in enumerate(examples):
            prompt = list(ex["prompt_ids"])
            # TRL truncates each prompt + completion to max_length, keeping the start.
            room = None if self.max_length is None else max(self.max_length - len(prompt), 0)
            chosen, rejected = list(ex["chosen_ids"])[:room], list(ex["rejected_ids"])[:room]
            rows.append((prompt, chosen, rejected))
            start = len(prompt) - 1  # TRL row position of the logit predicting the first completion token
            for row, completion, offset in ((i, chosen, len(prompt)), (n + i, rejected, len(prompt) + len(chosen))):
                for j, token in enumerate(completion):
                    src.append((i, start if j == 0 else offset + j - 1))
                    dst.append(row * width + start + j)
                    targets.append(token)
        length = max(len(p) + len(c) + len(r) for p, c, r in rows)
        ids = torch.full((n, length), self.pad_token_id, dtype=torch.long)
        positions = torch.zeros((n, length), dtype=torch.long)
        segments = torch.full((n, length), -1, dtype=torch.long)
        for i, (p, c, r) in enumerate(rows):
            ids[i, :len(p) + len(c) + len(r)] = torch.tensor(p + c + r, dtype=torch.long)
            positions[i, :len(p) + len(c) + len(r)] = torch.tensor(
                [*range(len(p) + len(c)), *range(len(p), len(p) + len(r))], dtype=torch.long)
            segments[i, :len(p) + len(c) + len(r)] = torch.tensor(
                [PROMPT] * len(p) + [CHOSEN] * len(c) + [REJECTED] * len(r), dtype=torch.long)
        batch.update(
            tree_input_ids=ids, tree_position_ids=positions, tree_segments=segments,
            tree_src=torch.tensor([i * length + k for i, k in src], dtype=torch.long),
            tree_dst=torch.tensor(dst, dtype=torch.long), tree_targets=torch.tensor(targets, dtype=torch.long))
        return batch


def tree_mask(segments, dtype, boolean: bool):
    """(rows, 1, T, T) mask: causal, no padding keys, rejected queries blind to chosen keys.

    Padding queries see themselves only: a fully masked row would give NaN, and NaN times a zero
    gradient is still NaN in the attention backward."""
    import torch

    t = segments.shape[1]
    idx = torch.arange(t, device=segments.device)
    q, k = segments[:, :, None], segments[:, None, :]
    allowed = (idx[None, :, None] >= idx[None, None, :]) & (k >= 0) & ~((q == REJECTED) & (k == CHOSEN))
    allowed |= torch.eye(t, dtype=torch.bool, device=segments.device)[None]
    allowed = allowed[:, None]
    if boolean:
        return allowed
    return torch.zeros(allowed.shape, dtype=dtype, device=segments.device).masked_fill_(
        ~allowed, torch.finfo(dtype).min)


def supported(model) -> bool:
    """Whether `model` (the unwrapped causal LM) can run tree rows: sdpa or eager attention over
    full attention layers (the tree mask would override a sliding window), plain logits."""
    from supercorrect.student.load import full_attention_only

    config = model.config.get_text_config()
    return (getattr(config, "_attn_implementation", None) in ("sdpa", "eager") and full_attention_only(config)
            and not getattr(config, "output_router_logits", False)
            and all(getattr(config, name, None) is None for name in _LOGIT_SCALING))


def core_model(model):
    """The causal LM under any PEFT wrapper (LoRA layers live inside it, so they still apply)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def tree_forward(model, tree: dict, shape: tuple[int, int], outputs=POLICY_OUTPUTS) -> dict:
    """TRL's fused-head per-token fields for the tree batch, in TRL's `shape` (2 * pairs, length - 1)."""
    import torch

    from trl.kernels import ChunkedLogProbFunction
    from trl.trainer.utils import _CHUNKED_LOGPROB_CHUNK_SIZE

    lm = core_model(model)
    backbone = lm.base_model
    head = lm.get_output_embeddings()
    eager = lm.config.get_text_config()._attn_implementation == "eager"
    mask = tree_mask(tree["tree_segments"], lm.dtype, boolean=not eager)
    hidden = backbone(input_ids=tree["tree_input_ids"], attention_mask=mask,
                      position_ids=tree["tree_position_ids"], use_cache=False).last_hidden_state
    picked = hidden.reshape(-1, hidden.shape[-1]).index_select(0, tree["tree_src"]).to(head.weight.device)
    per_token = ChunkedLogProbFunction.apply(picked, head.weight, head.bias, tree["tree_targets"], 1.0,
                                             _CHUNKED_LOGPROB_CHUNK_SIZE, None, 1.0, outputs)
    names = ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits", "is_top1")
    dst = tree["tree_dst"]
    result = {}
    for name, values in zip(names, per_token):
        if values is not None:
            flat = values.new_zeros(shape[0] * shape[1])
            result[name] = flat.index_put((dst,), values).view(shape)
    return result


class TreeModel:
    """Stands in for the model inside TRL's loss code: a fused-head call runs the tree rows instead."""

    def __init__(self, model, tree: dict, outputs):
        self.model, self.tree, self.outputs = model, tree, outputs

    def __call__(self, *args, fused_lm_head: bool = False, **kwargs):
        if not fused_lm_head:
            return self.model(*args, **kwargs)
        from trl.trainer.utils import FusedCausalLMOutput

        ids = kwargs["input_ids"]
        fields = tree_forward(self.model, self.tree, (ids.shape[0], ids.shape[1] - 1), self.outputs)
        return FusedCausalLMOutput(**fields)


def trainer_class(prefix_tree: bool = True):
    """DPOTrainer, or with `prefix_tree` a subclass whose batches run as prefix trees where that is
    exact (see the module docstring; otherwise TRL's own path)."""
    from trl import DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    if not prefix_tree:
        return DPOTrainer

    class PrefixTreeDPOTrainer(DPOTrainer):
        def __init__(self, *args, data_collator=None, **kwargs):
            config, tok = kwargs["args"], kwargs["processing_class"]
            tok = getattr(tok, "tokenizer", tok)
            if data_collator is None and config.truncation_mode == "keep_start":
                pad = config.pad_token or tok.pad_token or tok.eos_token  # as DPOTrainer picks it
                pad_id = tok.convert_tokens_to_ids(pad)
                base = DataCollatorForPreference(pad_token_id=pad_id, max_length=config.max_length,
                                                 truncation_mode=config.truncation_mode,
                                                 pad_to_multiple_of=config.pad_to_multiple_of)
                data_collator = PrefixTreeCollator(base, pad_id, config.max_length)
            super().__init__(*args, data_collator=data_collator, **kwargs)

        def _tree(self, model, inputs: dict):
            """(inputs without the tree fields, the tree fields or None when this batch takes TRL's path)."""
            rest = {k: v for k, v in inputs.items() if k not in TREE_KEYS}
            if "tree_src" not in inputs or self.args.world_size != 1 or getattr(self, "aux_loss_enabled", False):
                return rest, None
            outer = self.accelerator.unwrap_model(model)
            adapters = getattr(outer, "peft_config", None) or {}
            if any(getattr(c, "is_prompt_learning", False) for c in adapters.values()) or not supported(core_model(outer)):
                return rest, None
            return rest, {k: inputs[k] for k in TREE_KEYS}

        def _compute_loss(self, model, inputs, return_outputs):
            rest, tree = self._tree(model, inputs)
            if tree is not None:
                outputs = POLICY_OUTPUTS + (("log_sum_sq_probs",) if self.use_weighting else ())
                model = TreeModel(model, tree, outputs)
            return super()._compute_loss(model, rest, return_outputs)

        def compute_ref_log_probs(self, model, inputs):
            rest, tree = self._tree(model, inputs)
            return super().compute_ref_log_probs(model if tree is None else TreeModel(model, tree, ("log_probs",)),
                                                 rest)

    return PrefixTreeDPOTrainer
