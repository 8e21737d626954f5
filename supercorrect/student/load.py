"""Load a student and render its chats: the one place that knows how a checkpoint is read.

* `resolve_model(path)` follows a `pointer.json` ({"model": id, "revision": ...}) left where a
  base model is referenced rather than copied (e.g. a 7B hub model); `resolve_pointer` adds the revision.
* `load_student(path)` loads a model + tokenizer ready for batched generation (left padding),
  with flash attention where it can run (`attention_implementation`).
* `render` / `prompt_ids` turn a chat into the text and ids the student continues.

    python -c "from supercorrect.student.load import load_student; print(load_student('models/sft')[1])"
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path


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


def attention_implementation(dtype: str, cuda: bool, flash_installed: bool) -> str | None:
    """`flash_attention_2` when the flash-attn package is installed, CUDA is there and the
    weights are half precision (its kernels take only bf16/fp16); else None: transformers'
    default (sdpa). Padded batches and sequence packing both run on it."""
    if flash_installed and cuda and dtype in ("bfloat16", "float16"):
        return "flash_attention_2"
    return None


def full_attention_only(config) -> bool:
    """Whether every layer of the model's (text) config attends to the whole sequence, with no
    sliding-window layers: what our own attention paths (decode, unpadded SFT, DPO tree rows) assume."""
    text = config.get_text_config()
    return all(t == "full_attention" for t in getattr(text, "layer_types", None) or ["full_attention"])


@contextlib.contextmanager
def attention_as(model, name: str, function):
    """Run `model`'s attention as `function`, registered with transformers as `name`, inside the
    block: our decode attention and the unpadded SFT rows. Forward only: the backward needs no
    attention function. A name transformers has no mask function for makes it build no mask."""
    from transformers import AttentionInterface

    AttentionInterface.register(name, function)  # a dict entry: cheap to repeat
    config = model.config.get_text_config()
    previous, config._attn_implementation = config._attn_implementation, name
    try:
        yield
    finally:
        config._attn_implementation = previous


def load_student(path_or_id, dtype: str = "float32"):
    """(model in eval mode, tokenizer with left padding and a pad token) for generation."""
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name, revision = resolve_pointer(path_or_id)
    tokenizer = AutoTokenizer.from_pretrained(name, revision=revision)
    cuda = torch.cuda.is_available()
    attention = attention_implementation(dtype, cuda, importlib.util.find_spec("flash_attn") is not None)
    model = AutoModelForCausalLM.from_pretrained(name, revision=revision, dtype=getattr(torch, dtype),
                                                 **({"attn_implementation": attention} if attention else {}))
    if cuda:
        model = model.to("cuda")
    tokenizer.padding_side = "left"  # decoder-only batches must end at the same position
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


_CONTENT = "\x00CONTENT\x00"


def render(tokenizer, conversation: list[dict]) -> str:
    """Chat text for generation: continue a final assistant message, else open a new turn.

    A final assistant message is continued verbatim after the text the template itself writes
    before assistant content, so the result is a string prefix of the finished turn that DPO
    and SFT train on, whatever the template (`continue_final_message` strips trailing newlines,
    and a template's generation prompt may differ from that text, e.g. `Assistant:` vs
    `Assistant: `).
    """
    if conversation and conversation[-1]["role"] == "assistant":
        text = tokenizer.apply_chat_template(conversation[:-1] + [{"role": "assistant", "content": _CONTENT}],
                                             tokenize=False)
        return text[:text.index(_CONTENT)] + conversation[-1]["content"]
    return tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)


def prompt_ids(tokenizer, conversations: list[list[dict]]) -> list[list[int]]:
    """Each chat rendered for generation (`render`) and tokenized without extra special tokens."""
    return [tokenizer(render(tokenizer, c), add_special_tokens=False)["input_ids"] for c in conversations]


def eos_ids(generation_config, tokenizer) -> list[int]:
    """The ids a completion ends at: the generation config's eos ids, else the tokenizer's eos."""
    eos = generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    return [eos] if isinstance(eos, int) else list(eos)

