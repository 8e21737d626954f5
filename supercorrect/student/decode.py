"""Batched generation for the student: `generate` renders chats and samples completions in input order.

`generate(model, tokenizer, conversations, ...)` returns `num_samples` completions per
conversation through `decode_batch`, a decode loop built for throughput (see its docstring and
docs/performance.md; bench/generate.py measures it).

    python -c "from supercorrect.student.load import load_student; from supercorrect.student.decode import generate; \
m, t = load_student('models/sft'); print(generate(m, t, [[{'role':'user','content':'1+1?'}]], max_new_tokens=40))"
"""

from __future__ import annotations

from supercorrect.student.load import attention_as, eos_ids, full_attention_only, prompt_ids


class _SharedPrefixCache:
    """Key/value cache of a decode batch whose rows are `groups` prompts x `samples` samples.

    Each prompt's keys and values are stored once (`prompt_kt`, `prompt_v`), not once per sample,
    and the samples' queries attend to them together; the generated tokens' keys and values go
    into buffers preallocated for `max_new_tokens` (no copy per step). Keys are stored transposed,
    (..., head_dim, length): a decode query times them is one plain matrix product per head,
    which ran about twice as fast on the CPU as a product with the transpose of a strided view.
    Rows leave one by one, but their prompts stay shared: `slot` places each running row in the
    `groups x samples` grid, and the grid's empty slots attend with zero queries. They cost little:
    reading the prompt's keys and values is what costs, and a copy per row would be read once per
    row (docs/performance.md).
    """

    def __init__(self, prefill, prompt_mask, samples: int, max_new_tokens: int):
        import torch

        self.groups, self.samples, self.filled = prompt_mask.shape[0], samples, 0
        self.slot = None  # None: every slot of the grid is running, row i in slot i
        self.prompt_kt = [layer.keys.transpose(-1, -2).contiguous() for layer in prefill.layers]
        self.prompt_v = [layer.values for layer in prefill.layers]
        # Additive: left padding is never attended to.
        bias = torch.zeros(prompt_mask.shape, dtype=self.prompt_v[0].dtype, device=prompt_mask.device)
        self.prompt_bias = bias.masked_fill_(prompt_mask == 0, float("-inf"))[:, None, None, :]
        rows, heads, _, dim = self.prompt_v[0].shape
        rows *= samples
        self.gen_kt = [v.new_empty((rows, heads, dim, max_new_tokens)) for v in self.prompt_v]
        self.gen_v = [v.new_empty((rows, heads, max_new_tokens, dim)) for v in self.prompt_v]

    def select(self, keep) -> None:
        """Keep batch rows `keep` (ascending); prompts with no running row leave the grid."""
        import torch

        slot = keep if self.slot is None else self.slot[keep]
        group, sample = slot // self.samples, slot % self.samples
        alive = torch.unique(group)  # sorted
        if alive.numel() < self.groups:
            self.prompt_kt = [k[alive] for k in self.prompt_kt]
            self.prompt_v = [v[alive] for v in self.prompt_v]
            self.prompt_bias = self.prompt_bias[alive]
            self.groups = alive.numel()
            group = torch.searchsorted(alive, group)
        slot = group * self.samples + sample
        dense = slot.numel() == self.groups * self.samples  # then slot is 0, 1, 2, ...
        self.slot = None if dense else slot
        self.gen_kt = [k[keep] for k in self.gen_kt]
        self.gen_v = [v[keep] for v in self.gen_v]

    def to_grid(self, x):
        """Rows' tensor (rows, ...) -> grid (groups * samples, ...), zeros in the empty slots."""
        if self.slot is None:
            return x
        grid = x.new_zeros((self.groups * self.samples, *x.shape[1:]))
        grid[self.slot] = x
        return grid

    def to_rows(self, x):
        """Grid tensor (groups * samples, ...) -> the running rows' (rows, ...)."""
        return x if self.slot is None else x[self.slot]

    def step(self, model, nxt, position):
        """Next-token logits of the batch rows fed `nxt` at `position`; their keys/values join the cache."""
        with attention_as(model, "supercorrect_shared_prefix", _shared_prefix_attention):
            # A mask mapping (not a tensor) tells transformers the masks are made: it builds none.
            logits = model(input_ids=nxt[:, None], attention_mask={"full_attention": None}, position_ids=position,
                           use_cache=False, logits_to_keep=1, decode_cache=self).logits[:, -1]
        self.filled += 1
        return logits


class _DynamicCacheRows:
    """decode_batch's cache on transformers' own DynamicCache, attention and masks, one copy of the
    prompt per sample: for models with sliding-window layers, which `_shared_prefix_attention` lacks."""

    def __init__(self, prefill, prompt_mask, samples: int, max_new_tokens: int):
        self.cache, self.width, self.filled = prefill, prompt_mask.shape[1], 0
        if samples > 1:
            self.cache.batch_repeat_interleave(samples)
            prompt_mask = prompt_mask.repeat_interleave(samples, 0)
        self.mask = prompt_mask.new_ones((prompt_mask.shape[0], self.width + max_new_tokens))
        self.mask[:, :self.width] = prompt_mask

    def select(self, keep) -> None:
        self.cache.batch_select_indices(keep)
        self.mask = self.mask[keep]

    def step(self, model, nxt, position):
        out = model(input_ids=nxt[:, None], attention_mask=self.mask[:, :self.width + self.filled + 1],
                    position_ids=position, past_key_values=self.cache, use_cache=True, logits_to_keep=1)
        self.filled += 1
        return out.logits[:, -1]


def _shared_prefix_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                             decode_cache=None, **kwargs):
    """One decode step's attention over a `_SharedPrefixCache` (registered as a transformers attention).

    Softmax over prompt and generated keys together, merged from the two parts' maxima and sums.
    """
    import torch

    cache, layer = decode_cache, module.layer_idx
    rows, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    rep, groups, samples, n = heads // kv_heads, cache.groups, cache.samples, cache.filled + 1
    gen_kt, gen_v = cache.gen_kt[layer], cache.gen_v[layer]
    gen_kt[:, :, :, n - 1] = key[:, :, 0]
    gen_v[:, :, n - 1] = value[:, :, 0]

    def to_groups(x):  # rows' (rows, kv_heads, rep, ...) -> (groups, kv_heads, samples * rep, ...)
        x = cache.to_grid(x)
        return x.view(groups, samples, kv_heads, rep, *x.shape[3:]).transpose(1, 2).reshape(
            groups, kv_heads, samples * rep, *x.shape[3:])

    def to_rows(x):  # the inverse: (groups, kv_heads, samples * rep, ...) -> (rows, kv_heads, rep, ...)
        x = x.view(groups, kv_heads, samples, rep, *x.shape[3:]).transpose(1, 2).reshape(
            groups * samples, kv_heads, rep, *x.shape[3:])
        return cache.to_rows(x)

    q = (query[:, :, 0] * (dim ** -0.5 if scaling is None else scaling)).view(rows, kv_heads, rep, dim)
    prompt_scores = torch.matmul(to_groups(q), cache.prompt_kt[layer]) + cache.prompt_bias
    gen_scores = torch.matmul(q, gen_kt[:, :, :, :n])
    top = torch.maximum(to_rows(prompt_scores.amax(-1)), gen_scores.amax(-1))
    prompt_w = (prompt_scores - to_groups(top)[..., None]).exp_()
    gen_w = (gen_scores - top[..., None]).exp_()
    total = to_rows(prompt_w.sum(-1)) + gen_w.sum(-1)
    out = to_rows(torch.matmul(prompt_w, cache.prompt_v[layer])) + torch.matmul(gen_w, gen_v[:, :, :n])
    out = out / total[..., None]
    return out.reshape(rows, 1, heads, dim), None  # a view unless one prompt is left


def decode_batch(model, prompts: list[list[int]], *, pad_id: int, eos_ids: list[int], max_new_tokens: int,
                 temperature: float = 0.0, num_samples: int = 1) -> list[list[int]]:
    """`num_samples` continuations of each prompt (token ids), row i*num_samples+j = sample j of i.

    Our own decode loop instead of `model.generate`, because mining is throughput-bound:
    * each prompt is prefilled once, and its keys and values are stored and read once for all its
      samples (`_SharedPrefixCache`; generate prefills and stores every sample's copy);
    * the generated tokens' cache is preallocated, keys transposed, instead of growing by
      concatenation, and each step's attention is our own (`_shared_prefix_attention`), with no
      attention mask to build (the only padding is the prompts', masked once);
    * finished rows leave the batch once a quarter of it has finished, and a prompt's keys and
      values once all its samples have (generate computes every finished row until the longest
      one ends);
    * per step there is one forward, a softmax and one uniform draw per row, with no logits
      processors or stopping-criteria machinery.
    Sampling is plain temperature sampling; temperature 0 is greedy (argmax), as in generate.
    Models with sliding-window layers take transformers' own cache and attention for the steps.
    """
    import torch

    device = model.device
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):  # left padding: every prompt ends in the last column
        ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p):] = 1
    ids, mask = ids.to(device), mask.to(device)
    position = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=position, use_cache=True, logits_to_keep=1)
    cache_cls = _SharedPrefixCache if full_attention_only(model.config) else _DynamicCacheRows
    cache = cache_cls(out.past_key_values, mask, num_samples, max_new_tokens)
    logits = out.logits[:, -1].repeat_interleave(num_samples, 0)
    position = position[:, -1:].repeat_interleave(num_samples, 0) + 1
    rows = torch.arange(logits.shape[0], device=device)  # output row of each batch row
    done = torch.zeros(logits.shape[0], dtype=torch.bool, device=device)
    tokens = torch.full((logits.shape[0], max_new_tokens), pad_id, dtype=torch.long, device=device)
    eos = torch.tensor(eos_ids, device=device)
    for step in range(max_new_tokens):
        nxt = _next_tokens(logits, temperature)
        tokens[rows, step] = torch.where(done, pad_id, nxt)
        done |= torch.isin(nxt, eos)
        finished = int(done.sum())
        if step == max_new_tokens - 1 or finished == len(done):
            break
        if 4 * finished >= len(done):
            keep = (~done).nonzero()[:, 0]
            cache.select(keep)
            rows, nxt, position, done = rows[keep], nxt[keep], position[keep], done[keep]
        logits, position = cache.step(model, nxt, position), position + 1
    result = []
    for row in tokens.tolist():  # each row up to and including its first end-of-turn token
        end = next((j for j, t in enumerate(row) if t in eos_ids), None)
        result.append(row if end is None else row[:end + 1])
    return result


def _next_tokens(logits, temperature: float):
    import torch

    if temperature > 0:
        # Inverse-CDF draw: one uniform number per row (torch.multinomial draws one per vocab entry).
        cdf = torch.softmax(logits.float() / temperature, -1).cumsum_(-1)
        draw = torch.rand((cdf.shape[0], 1), device=cdf.device) * cdf[:, -1:]
        return torch.searchsorted(cdf, draw)[:, 0].clamp_(max=cdf.shape[1] - 1)
    return logits.argmax(-1)


def generate(model, tokenizer, conversations: list[list[dict]], *, max_new_tokens: int,
             temperature: float = 0.0, num_samples: int = 1, batch_size: int = 64, seed: int = 0,
             desc: str = "generate") -> list[list[str]]:
    """`num_samples` completions per conversation (greedy if temperature == 0), in input order."""
    import torch
    from tqdm import tqdm

    sampling = temperature > 0
    # Greedy samples are identical: compute one and repeat it. Sampling counts every returned
    # sequence against batch_size, so memory stays bounded whatever num_samples is.
    n = num_samples if sampling else 1
    per_batch = max(1, batch_size // n)
    ids = prompt_ids(tokenizer, conversations)
    # Longest first: similar lengths share a batch (less padding), and memory peaks early.
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    stop = eos_ids(model.generation_config, tokenizer)

    results: list[list[str]] = [[] for _ in conversations]
    with torch.random.fork_rng(devices=[]), torch.inference_mode(), \
            tqdm(total=len(conversations), desc=desc, unit="prompt") as bar:
        torch.manual_seed(seed)
        for start in range(0, len(order), per_batch):
            batch = order[start:start + per_batch]
            new = decode_batch(model, [ids[i] for i in batch], pad_id=tokenizer.pad_token_id, eos_ids=stop,
                               max_new_tokens=max_new_tokens, temperature=temperature, num_samples=n)
            decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
            for j, i in enumerate(batch):
                got = decoded[j * n:(j + 1) * n]
                results[i] = got if sampling else got * num_samples
            bar.update(len(batch))
    return results
