"""The student's generation engine for `mine` and `evaluate`: our transformers decode loop or vLLM.

`student.engine` picks it:
* `transformers`: `supercorrect.student.decode.generate` (batched, left padding; runs anywhere);
* `vllm`: vLLM's offline `LLM.generate` (paged attention, continuous batching; needs a CUDA GPU
  and `pip install vllm`); a clear error if vLLM is not installed;
* `auto` (default): vLLM when it is installed and a GPU is present, else transformers.

`load_engine` returns the engine's `generate`, the tokenizer and `logprobs`, which scores
continuations of chats (supercorrect.student.score; vLLM's prompt log-probabilities on vLLM).
Both generate from the same chats and return `num_samples` texts per chat in input order. vLLM gets the
prompts as token ids rendered and tokenized exactly as the transformers path does them (chat
template, an open final assistant turn for `mine`'s corrections, no extra special tokens) and
stops at the same end-of-turn ids, so the two engines see the same prompts. vLLM schedules its
own batches, so `student.batch_size` does not apply to it; `student.vllm_gpu_memory` is the
share of GPU memory it may take.

    python -c "from supercorrect.params_file import load_params; from supercorrect.student.engine import load_engine; \
e = load_engine('models/sft', load_params('params.yaml').student); \
print(e.generate([[{'role': 'user', 'content': '1+1?'}]], max_new_tokens=40))"
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Callable, NamedTuple

from supercorrect.io import InputError


def use_vllm(engine: str) -> bool:
    """Whether `student.engine` means vLLM on this machine."""
    installed = importlib.util.find_spec("vllm") is not None
    if engine == "vllm" and not installed:
        raise InputError("params.yaml: student.engine: vllm, but vllm is not installed "
                         "(pip install vllm on a CUDA machine, or set student.engine: transformers)")
    if engine == "auto":
        import torch

        return installed and torch.cuda.is_available()
    return engine == "vllm"


class Engine(NamedTuple):
    """A loaded checkpoint: `generate(chats, *, max_new_tokens, temperature, num_samples,
    batch_size, seed, desc)` -> texts per chat, its tokenizer, and `logprobs(chats, continuations,
    *, batch_size, desc)` -> the log-probability of each continuation after its chat."""
    generate: Callable
    tokenizer: object
    logprobs: Callable


def load_engine(path, student, seed: int = 0) -> Engine:
    """The checkpoint at `path` (a dir, or a dir with pointer.json) on `student.engine`."""
    from supercorrect.student.decode import generate
    from supercorrect.student.load import load_student, resolve_pointer
    from supercorrect.student.score import continuation_logprobs

    if not use_vllm(student.engine):
        model, tokenizer = load_student(path, student.dtype)
        return Engine(functools.partial(generate, model, tokenizer), tokenizer,
                      functools.partial(continuation_logprobs, model, tokenizer))
    from vllm import LLM

    name, revision = resolve_pointer(path)
    pinned = {"revision": revision, "tokenizer_revision": revision} if revision else {}
    llm = LLM(model=name, dtype=student.dtype, seed=seed, gpu_memory_utilization=student.vllm_gpu_memory, **pinned)
    tokenizer = llm.get_tokenizer()
    return Engine(functools.partial(vllm_generate, llm, tokenizer, stop_ids(name, tokenizer)), tokenizer,
                  functools.partial(vllm_logprobs, llm, tokenizer))


def stop_ids(name: str, tokenizer) -> list[int]:
    """The ids the transformers path stops at, read from the checkpoint's generation config
    (or, without generation_config.json, the one transformers derives from config.json)."""
    from transformers import AutoConfig, GenerationConfig

    from supercorrect.student.load import eos_ids

    try:
        config = GenerationConfig.from_pretrained(name)
    except OSError:
        config = GenerationConfig.from_model_config(AutoConfig.from_pretrained(name))
    return eos_ids(config, tokenizer)


def vllm_generate(llm, tokenizer, stop: list[int], conversations: list[list[dict]], *, max_new_tokens: int,
                  temperature: float = 0.0, num_samples: int = 1, batch_size: int = 64, seed: int = 0,
                  desc: str = "generate") -> list[list[str]]:
    """`supercorrect.student.decode.generate`'s contract on vLLM (`batch_size` and `seed` are vLLM's own:
    it batches continuously, and the engine was seeded when it was built)."""
    from vllm import SamplingParams

    from supercorrect.student.load import prompt_ids

    sampling = temperature > 0
    n = num_samples if sampling else 1  # greedy samples are identical: compute one, repeat it
    params = SamplingParams(n=n, temperature=temperature, max_tokens=max_new_tokens, stop_token_ids=stop,
                            skip_special_tokens=True)
    prompts = [{"prompt_token_ids": ids} for ids in prompt_ids(tokenizer, conversations)]
    print(f"{desc}: {len(prompts)} prompts x {n} on vLLM", flush=True)
    outputs = llm.generate(prompts, params, use_tqdm=True)
    return [[o.text for o in out.outputs] * (1 if sampling else num_samples) for out in outputs]


def vllm_logprobs(llm, tokenizer, conversations: list[list[dict]], continuations: list[str], *, batch_size: int = 64,
                  desc: str = "score") -> list[float]:
    """`supercorrect.student.score.continuation_logprobs`'s contract on vLLM: the same ids, scored
    from vLLM's prompt log-probabilities (`prompt_logprobs=0`: the prompt's own token at each
    position); one token is generated and ignored."""
    from vllm import SamplingParams

    from supercorrect.student.score import scored_ids

    items = [scored_ids(tokenizer, c, t) for c, t in zip(conversations, continuations, strict=True)]
    print(f"{desc}: {len(items)} items on vLLM", flush=True)
    params = SamplingParams(n=1, temperature=0.0, max_tokens=1, prompt_logprobs=0)
    outputs = llm.generate([{"prompt_token_ids": ids} for ids, _ in items], params, use_tqdm=True)
    return [sum(out.prompt_logprobs[j][ids[j]].logprob for j in range(len(ids) - n, len(ids)))
            for (ids, n), out in zip(items, outputs)]
