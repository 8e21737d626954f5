"""The student model: build the tiny offline Qwen2, load any checkpoint, and generate in batches.

* `build_tiny(texts, cfg, out_dir)` trains a byte-level BPE tokenizer on `texts` and builds a
  small randomly initialised `Qwen2ForCausalLM`; both are saved to `out_dir`.
* `resolve_model(path)` follows a `pointer.json` ({"model": id}) left where a base model is
  referenced rather than copied (e.g. a 7B hub model).
* `load_student(path)` loads a model + tokenizer ready for batched generation (left padding).
* `generate(model, tokenizer, conversations, ...)` renders chats with the tokenizer's chat
  template and returns `num_samples` completions per conversation, in input order.

    python -c "from supercorrect.model import load_student, generate; \
m, t = load_student('models/sft'); print(generate(m, t, [[{'role':'user','content':'1+1?'}]], max_new_tokens=40))"
"""

from __future__ import annotations

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


def resolve_model(path_or_id) -> str:
    """The model id a `pointer.json` in `path_or_id` names, else `path_or_id` itself."""
    pointer = Path(path_or_id) / "pointer.json"
    if pointer.is_file():
        return json.loads(pointer.read_text(encoding="utf-8"))["model"]
    return str(path_or_id)


def load_student(path_or_id, dtype: str = "float32"):
    """(model in eval mode, tokenizer with left padding and a pad token) for generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = resolve_model(path_or_id)
    tokenizer = AutoTokenizer.from_pretrained(name)
    model = AutoModelForCausalLM.from_pretrained(name, dtype=getattr(torch, dtype))
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


def generate(model, tokenizer, conversations: list[list[dict]], *, max_new_tokens: int,
             temperature: float = 0.0, num_samples: int = 1, batch_size: int = 64, seed: int = 0,
             desc: str = "generate") -> list[list[str]]:
    """`num_samples` completions per conversation (greedy if temperature == 0), in input order."""
    import torch
    from tqdm import tqdm

    sampling = temperature > 0
    # Greedy samples are identical: compute one and repeat it. Sampling counts every returned
    # sequence against batch_size, so memory stays bounded whatever num_samples is.
    per_batch = max(1, batch_size // num_samples) if sampling else batch_size
    texts = [render(tokenizer, c) for c in conversations]
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    # Longest first: similar lengths share a batch (less padding), and memory peaks early.
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    options = dict(max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, eos_token_id=eos)
    if sampling:
        # Plain temperature sampling: a checkpoint's own top_k/top_p defaults must not change it.
        options |= dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                        num_return_sequences=num_samples)
    else:
        options |= dict(do_sample=False, temperature=None, top_k=None, top_p=None)

    results: list[list[str]] = [[] for _ in conversations]
    with torch.random.fork_rng(devices=[]), torch.inference_mode(), \
            tqdm(total=len(conversations), desc=desc, unit="prompt") as bar:
        torch.manual_seed(seed)
        for start in range(0, len(order), per_batch):
            batch = order[start:start + per_batch]
            enc = tokenizer.pad({"input_ids": [ids[i] for i in batch]}, padding_side="left", return_tensors="pt")
            enc = {k: v.to(model.device) for k, v in enc.items()}
            out = model.generate(**enc, **options)
            new = out[:, enc["input_ids"].shape[1]:]
            decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
            n = num_samples if sampling else 1
            for j, i in enumerate(batch):
                got = decoded[j * n:(j + 1) * n]
                results[i] = got if sampling else got * num_samples
            bar.update(len(batch))
    return results
