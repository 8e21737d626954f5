"""How likely a checkpoint is to write a given text next: the log-probability of a continuation.

`continuation_logprobs(model, tokenizer, conversations, continuations)` scores, for each chat
(usually ending in an open assistant turn) the text that would follow it, in one forward pass
per item, batched. `evaluate` uses it for the step-level flag decision: the probability that a
checkpoint checking a solution opens step j with a flag rather than with the step's text.

The chat is rendered as generation sees it (supercorrect.student.load.render) and the rendered
text plus the continuation is tokenized whole, as SFT and DPO tokenize a finished turn. The
score is the sum of the log-probabilities of the tokens from the first one that differs from
the rendered chat's own tokens: where a byte-level BPE merges the end of the chat with the start
of the continuation (`>` merges with the text after it), the merged token is scored too, since
that is how the model writes the text. vLLM's version (supercorrect.student.engine) scores the
same ids.

    python -c "from supercorrect.student.load import load_student; from supercorrect.student.score import \
continuation_logprobs as f; m, t = load_student('models/sft'); \
print(f(m, t, [[{'role': 'user', 'content': '1+1?'}, {'role': 'assistant', 'content': '<Step1>'}]], ['<Cause>']))"
"""

from __future__ import annotations

from supercorrect.student.load import render


def scored_ids(tokenizer, conversation: list[dict], continuation: str) -> tuple[list[int], int]:
    """(the ids of the rendered chat plus `continuation`, how many of the last ones to score)."""
    context = render(tokenizer, conversation)
    head = tokenizer(context, add_special_tokens=False)["input_ids"]
    ids = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    same = next((i for i, (a, b) in enumerate(zip(head, ids)) if a != b), min(len(head), len(ids)))
    return ids, min(len(ids) - same, len(ids) - 1)  # the first token has nothing before it to predict it


def continuation_logprobs(model, tokenizer, conversations: list[list[dict]], continuations: list[str], *,
                          batch_size: int = 64, desc: str = "score") -> list[float]:
    """The log-probability of each continuation after its chat (natural log; 0.0 for an empty one)."""
    import torch
    from tqdm import tqdm

    items = [scored_ids(tokenizer, c, t) for c, t in zip(conversations, continuations, strict=True)]
    order = sorted(range(len(items)), key=lambda i: -len(items[i][0]))  # similar lengths share a batch
    out = [0.0] * len(items)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with torch.inference_mode(), tqdm(total=len(items), desc=desc, unit="item") as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            width, keep = max(len(items[i][0]) for i in batch), max(items[i][1] for i in batch) + 1
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):  # left padding: every row ends in the last column
                ids[row, width - len(items[i][0]):] = torch.tensor(items[i][0])
                mask[row, width - len(items[i][0]):] = 1
            ids, mask = ids.to(model.device), mask.to(model.device)
            position = (mask.cumsum(-1) - 1).clamp(min=0)
            # Only the last `keep` positions' logits: the scored tokens are at most the last keep - 1.
            logits = model(input_ids=ids, attention_mask=mask, position_ids=position, use_cache=False,
                           logits_to_keep=keep).logits
            logp = torch.log_softmax(logits[:, -keep:-1].float(), -1)  # position t predicts column t + 1
            targets = ids[:, width - keep + 1:]
            picked = logp.gather(-1, targets[..., None])[..., 0]
            for row, i in enumerate(batch):
                n = items[i][1]
                out[i] = float(picked[row, keep - 1 - n:].sum()) if n else 0.0
            bar.update(len(batch))
    return out
