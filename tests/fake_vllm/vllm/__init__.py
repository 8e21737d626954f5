"""Test double of vLLM's offline API (`LLM`, `SamplingParams`), for tests only.

Real vLLM cannot run here: it needs a CUDA GPU and this project's machines and CI have none (its
CPU build is not on PyPI). This double keeps the part of vLLM's contract that
supercorrect.student.engine relies on and generates with the real checkpoint through plain
transformers `generate` (not our decode loop), so a test compares two independent paths:
* `LLM(model=..., dtype=..., seed=..., gpu_memory_utilization=...)`, `get_tokenizer()`;
* `generate(prompts, sampling_params, use_tqdm=True)` with `{"prompt_token_ids": [...]}` prompts,
  returning one result per prompt, in order, each with `n` `.outputs[i].text`;
* stopping at `stop_token_ids`, which (special tokens) do not appear in the text;
* `prompt_logprobs=0`: each result's `.prompt_logprobs`, None for the first prompt token, then per
  token a dict {its id: an object with `.logprob`}, read from one plain forward of the prompt.
Every call is appended as a JSON line to $FAKE_VLLM_LOG when it is set.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace


@dataclass
class SamplingParams:
    n: int = 1
    temperature: float = 1.0
    max_tokens: int = 16
    stop_token_ids: list[int] = field(default_factory=list)
    skip_special_tokens: bool = True
    prompt_logprobs: int | None = None


def _log(record: dict) -> None:
    if os.environ.get("FAKE_VLLM_LOG"):
        with open(os.environ["FAKE_VLLM_LOG"], "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


class LLM:
    def __init__(self, model: str, dtype: str = "auto", seed: int = 0, gpu_memory_utilization: float = 0.9, **kwargs):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.seed = seed
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype)).eval()
        _log({"call": "LLM", "model": model, "dtype": dtype, "seed": seed,
              "gpu_memory_utilization": gpu_memory_utilization, **kwargs})

    def get_tokenizer(self):
        return self.tokenizer

    def generate(self, prompts: list[dict], sampling_params: SamplingParams, use_tqdm: bool = True):
        import torch

        _log({"call": "generate", "prompts": len(prompts), "params": asdict(sampling_params)})
        p = sampling_params
        torch.manual_seed(self.seed)
        results = []
        for prompt in prompts:
            ids = torch.tensor([prompt["prompt_token_ids"]])
            sampling = p.temperature > 0
            extra = dict(do_sample=True, temperature=p.temperature, top_k=0, top_p=1.0) if sampling \
                else dict(do_sample=False)
            with torch.inference_mode():
                out = self.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=p.max_tokens,
                                          num_return_sequences=p.n, eos_token_id=p.stop_token_ids,
                                          pad_token_id=self.tokenizer.pad_token_id, **extra)
            texts = self.tokenizer.batch_decode(out[:, ids.size(1):], skip_special_tokens=p.skip_special_tokens)
            scored = None
            if p.prompt_logprobs is not None:
                with torch.inference_mode():
                    logp = torch.log_softmax(self.model(ids).logits[0, :-1].float(), -1)
                scored = [None] + [{t: SimpleNamespace(logprob=float(logp[j, t]))}
                                   for j, t in enumerate(prompt["prompt_token_ids"][1:])]
            results.append(SimpleNamespace(prompt_token_ids=prompt["prompt_token_ids"], prompt_logprobs=scored,
                                           outputs=[SimpleNamespace(text=t) for t in texts]))
        return results
