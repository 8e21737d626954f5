"""The student model: build the tiny offline Qwen2, load any checkpoint, and generate in batches.

* `build_tiny(texts, cfg, out_dir)` trains a byte-level BPE tokenizer on `texts` and builds a
  small randomly initialised `Qwen2ForCausalLM`; both are saved to `out_dir`.
* `resolve_model(path)` follows a `pointer.json` ({"model": id, "revision": ...}) left where a
  base model is referenced rather than copied (e.g. a 7B hub model); `resolve_pointer` adds the revision.
* `load_student(path)` loads a model + tokenizer ready for batched generation (left padding).
* `generate(model, tokenizer, conversations, ...)` renders chats with the tokenizer's chat
  template and returns `num_samples` completions per conversation, in input order, through
  `decode_batch`, a decode loop built for throughput (see its docstring; bench/generate.py).

    python -c "from supercorrect.model import load_student, generate; \
m, t = load_student('models/sft'); print(generate(m, t, [[{'role':'user','content':'1+1?'}]], max_new_tokens=40))"
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"

# The XML tags of templates and corrections are single tokens in the tiny tokenizer. Besides
# saving sequence length, this keeps tokenization stable across a prompt/completion boundary:
# DPO prompts end right after `</StepK>\n` and completions start with `<StepK+1>`, and a BPE
# that merged `>` and `<` across that boundary would train on a context never seen at inference.
_MAX_TAGGED_STEP = 12
TAGS = [
    t
    for name in [f"Step{i}" for i in range(1, _MAX_TAGGED_STEP + 1)]
    + ["Key", "Generalized", "Answer", "Cause", "Correction"]
    for t in (f"<{name}>", f"</{name}>")
]
_TAG_RE = re.compile("|".join(re.escape(t) for t in TAGS))

# Qwen2's pre-tokenizer regex: `\p{N}` (not `\p{N}+`) puts every digit in its own token, so
# the student sees numbers digit by digit, which is what makes arithmetic learnable.
_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen-style ChatML. The {% generation %} markers let TRL build assistant-token masks.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def _train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        # Tags are added after training, so BPE spends its merges on the remaining budget.
        vocab_size=max(vocab_size - len(TAGS), 256 + 3),
        special_tokens=[ENDOFTEXT, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # any byte stays encodable
        show_progress=False,
    )
    # Tag text would otherwise spend merges on "Step", "Generalized", ...; cut it out.
    pieces = (piece for text in texts for piece in _TAG_RE.split(text) if piece)
    tok.train_from_iterator(pieces, trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAGS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,  # generation stops at the end of the assistant turn
        pad_token=ENDOFTEXT,
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
        padding_side="left",
        model_max_length=1024,
    )


def build_tiny(texts: list[str], cfg, out_dir, seed: int = 0):
    """Train a tokenizer on `texts`, build a random tiny Qwen2 (`cfg`: TinyConfig), save both."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from supercorrect.io import atomic_dir

    if not texts:
        raise ValueError("build_tiny needs a non-empty corpus to train the tokenizer on")
    if cfg.hidden_size % cfg.num_heads:
        raise ValueError(f"student.tiny.hidden_size {cfg.hidden_size} must be divisible by num_heads {cfg.num_heads}")
    tokenizer = _train_tokenizer(list(texts), cfg.vocab_size)
    eos, pad = tokenizer.convert_tokens_to_ids([IM_END, ENDOFTEXT])
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=4 * cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    # fork_rng: seeding must not leak into the caller's random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=[eos, pad], pad_token_id=pad)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    model.eval()
    return model, tokenizer


def resolve_pointer(path_or_id) -> tuple[str, str | None]:
    """(model id, hub revision or None) a `pointer.json` in `path_or_id` names, else (path_or_id, None)."""
    pointer = Path(path_or_id) / "pointer.json"
    if pointer.is_file():
        data = json.loads(pointer.read_text(encoding="utf-8"))
        return data["model"], data.get("revision")
    return str(path_or_id), None


def resolve_model(path_or_id) -> str:
    """The model id a `pointer.json` in `path_or_id` names, else `path_or_id` itself."""
    return resolve_pointer(path_or_id)[0]


def load_student(path_or_id, dtype: str = "float32"):
    """(model in eval mode, tokenizer with left padding and a pad token) for generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name, revision = resolve_pointer(path_or_id)
    tokenizer = AutoTokenizer.from_pretrained(name, revision=revision)
    model = AutoModelForCausalLM.from_pretrained(name, revision=revision, dtype=getattr(torch, dtype))
    if torch.cuda.is_available():
        model = model.to("cuda")
    tokenizer.padding_side = "left"  # decoder-only batches must end at the same position
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def render(tokenizer, conversation: list[dict]) -> str:
    """Chat text for generation: continue a final assistant message, else open a new turn."""
    if conversation and conversation[-1]["role"] == "assistant":
        return tokenizer.apply_chat_template(conversation, tokenize=False, continue_final_message=True)
    return tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)


def prompt_ids(tokenizer, conversations: list[list[dict]]) -> list[list[int]]:
    """Each chat rendered for generation (`render`) and tokenised without extra special tokens."""
    return [tokenizer(render(tokenizer, c), add_special_tokens=False)["input_ids"] for c in conversations]


def eos_ids(generation_config, tokenizer) -> list[int]:
    """The ids a completion ends at: the generation config's eos ids, else the tokenizer's eos."""
    eos = generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    return [eos] if isinstance(eos, int) else list(eos)


def _reserve(cache, extra: int) -> None:
    """Give every layer of a prefilled DynamicCache room for `extra` more positions.

    DynamicCache appends with torch.cat, copying the whole cache on every decode step; at
    hundreds of rows that copy cost more than the model itself. Here each layer's keys and
    values become views of a preallocated buffer, and `update` writes the new position in place.
    """
    for layer in cache.layers:
        for name in ("keys", "values"):
            old = getattr(layer, name)
            buf = old.new_empty((*old.shape[:2], old.shape[2] + extra, old.shape[3]))
            buf[:, :, :old.shape[2]] = old
            setattr(layer, f"_{name}_buf", buf)
            setattr(layer, name, buf[:, :, :old.shape[2]])
        layer.__class__ = _reserved_layer_class()


@functools.cache
def _reserved_layer_class():
    """DynamicLayer writing into the buffer `_reserve` made (built on first use: no import-time torch)."""
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):
        def update(self, key_states, value_states, *args, **kwargs):
            start, stop = self.keys.shape[2], self.keys.shape[2] + key_states.shape[2]
            self._keys_buf[:, :, start:stop] = key_states
            self._values_buf[:, :, start:stop] = value_states
            self.keys, self.values = self._keys_buf[:, :, :stop], self._values_buf[:, :, :stop]
            return self.keys, self.values

        def batch_select_indices(self, indices):
            self._keys_buf, self._values_buf = self._keys_buf[indices], self._values_buf[indices]
            length = self.keys.shape[2]
            self.keys, self.values = self._keys_buf[:, :, :length], self._values_buf[:, :, :length]

    return ReservedLayer


def decode_batch(model, prompts: list[list[int]], *, pad_id: int, eos_ids: list[int], max_new_tokens: int,
                 temperature: float = 0.0, num_samples: int = 1) -> list[list[int]]:
    """`num_samples` continuations of each prompt (token ids), row i*num_samples+j = sample j of i.

    Our own decode loop instead of `model.generate`, because mining is throughput-bound:
    * each prompt is prefilled once and its KV cache copied to its samples (generate prefills
      every sample again);
    * the KV cache is preallocated (see `_reserve`) instead of growing by concatenation;
    * finished rows leave the batch once a quarter of it has finished (generate computes every
      finished row until the longest one ends);
    * per step there is one forward, a softmax and a multinomial draw, with no logits
      processors or stopping-criteria machinery.
    Sampling is plain temperature sampling; temperature 0 is greedy (argmax), as in generate.
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
    cache, logits = out.past_key_values, out.logits[:, -1]
    if num_samples > 1:
        cache.batch_repeat_interleave(num_samples)
        logits, mask = logits.repeat_interleave(num_samples, 0), mask.repeat_interleave(num_samples, 0)
        position = position.repeat_interleave(num_samples, 0)
    _reserve(cache, max_new_tokens)
    full_mask = torch.cat([mask, mask.new_ones((mask.shape[0], max_new_tokens))], dim=1)
    position = position[:, -1:] + 1
    rows = torch.arange(mask.shape[0], device=device)  # output row of each batch row
    done = torch.zeros(mask.shape[0], dtype=torch.bool, device=device)
    tokens = torch.full((mask.shape[0], max_new_tokens), pad_id, dtype=torch.long, device=device)
    eos = torch.tensor(eos_ids, device=device)
    for step in range(max_new_tokens):
        if temperature > 0:
            # Inverse-CDF draw: one uniform number per row (torch.multinomial draws one per vocab entry).
            cdf = torch.softmax(logits.float() / temperature, -1).cumsum_(-1)
            draw = torch.rand((cdf.shape[0], 1), device=device) * cdf[:, -1:]
            nxt = torch.searchsorted(cdf, draw)[:, 0].clamp_(max=cdf.shape[1] - 1)
        else:
            nxt = logits.argmax(-1)
        tokens[rows[~done], step] = nxt[~done]
        done |= torch.isin(nxt, eos)
        finished = int(done.sum())
        if step == max_new_tokens - 1 or finished == len(done):
            break
        if 4 * finished >= len(done):
            keep = (~done).nonzero()[:, 0]
            cache.batch_select_indices(keep)
            rows, nxt, full_mask, position, done = rows[keep], nxt[keep], full_mask[keep], position[keep], done[keep]
        out = model(input_ids=nxt[:, None], attention_mask=full_mask[:, :width + step + 1], position_ids=position,
                    past_key_values=cache, use_cache=True, logits_to_keep=1)
        logits, position = out.logits[:, -1], position + 1
    result = []
    for row in tokens.tolist():
        end = next((j for j, t in enumerate(row) if t in eos_ids), None)
        result.append(row if end is None else row[:end + 1])
    return result


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
