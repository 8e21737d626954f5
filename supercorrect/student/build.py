"""Build the tiny offline student: a byte-level BPE tokenizer trained on the demo texts and a small Qwen2.

`build_tiny(texts, cfg, out_dir)` trains the tokenizer on `texts` (`train_tokenizer`, which can
also leave the tags as plain text and take another chat format; or it takes a given tokenizer),
builds a randomly initialized
`Qwen2ForCausalLM` of `student.tiny`'s size and saves both to `out_dir`; the `sft` stage calls it
when `student.model` is `tiny`.

    python -c "from supercorrect.student.build import build_tiny; from supercorrect.config import TinyConfig; \
build_tiny(['1+1=2'] * 50, TinyConfig(), '/tmp/tiny')"
"""

from __future__ import annotations

import re

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


def train_tokenizer(texts: list[str], vocab_size: int, *, tags: bool = True,
                    specials: tuple[str, ...] = (ENDOFTEXT, IM_START, IM_END), eos: str = IM_END,
                    pad: str = ENDOFTEXT, chat_template: str = CHAT_TEMPLATE, bos: str | None = None):
    """A byte-level BPE tokenizer (Qwen2's pre-tokenizer) trained on `texts`.

    The tiny student's (the defaults): ChatML, and the template tags as single tokens. With
    `tags=False` the tags are plain text that BPE splits and merges with its neighbours, as in
    the vocabularies of real students; `specials`, `eos`, `pad`, `bos` and `chat_template` give
    another chat format (tests build DeepSeek and Llama-3 style students with them).
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    added = TAGS if tags else []
    trainer = trainers.BpeTrainer(
        # Tags are added after training, so BPE spends its merges on the remaining budget.
        vocab_size=max(vocab_size - len(added), 256 + len(specials)),
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # any byte stays encodable
        show_progress=False,
    )
    # Tag text would otherwise spend merges on "Step", "Generalized", ...; cut it out.
    pieces = (piece for text in texts for piece in _TAG_RE.split(text) if piece) if tags else iter(texts)
    tok.train_from_iterator(pieces, trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in added])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=eos,  # generation stops at the end of the assistant turn
        pad_token=pad,
        bos_token=bos,
        unk_token=None,
        chat_template=chat_template,
        padding_side="left",
        model_max_length=1024,
    )


def build_tiny(texts: list[str], cfg, out_dir, seed: int = 0, tokenizer=None):
    """Train a tokenizer on `texts` (or take `tokenizer`, e.g. from `train_tokenizer` or a real
    student's vocabulary), build a random tiny Qwen2 (`cfg`: TinyConfig) for it, save both."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from supercorrect.io import atomic_dir

    if not texts:
        raise ValueError("build_tiny needs a non-empty corpus to train the tokenizer on")
    if cfg.hidden_size % cfg.num_heads:
        raise ValueError(f"student.tiny.hidden_size {cfg.hidden_size} must be divisible by num_heads {cfg.num_heads}")
    if tokenizer is None:
        tokenizer = train_tokenizer(list(texts), cfg.vocab_size)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=4 * cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
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

