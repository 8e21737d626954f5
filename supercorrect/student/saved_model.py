"""What a saved student folder carries so that it works on its own, outside this pipeline.

* `with_default_system(tokenizer, system)`: the tokenizer's chat template, wrapped so that a chat
  without a system message gets the project's system prompt. A user's plain chat with only the
  problem (transformers pipelines, `vllm serve`, MLflow) then asks for the hierarchical thought
  template, as training did. Chats that bring their own system message, as every chat of the
  pipeline does, render byte for byte as before: the wrapper checks that when it is built.
* `model_card(...)`: the folder's README.md: base model, data, prompt version, metrics, usage.
* `student_identity(student)` / `describe_base(student)`: the base model a run started from, as
  recorded in pointer files, cards and lineage (`student.model`, `student.revision`).

sft and dpo call these when they save (supercorrect.sft.save_student); the registered model is a
copy of models/dpo, so it carries both as well.

    python -c "from transformers import AutoTokenizer as A; from supercorrect.student.saved_model import *; \
print(with_default_system(A.from_pretrained('models/sft'), 'Solve it.'))"
"""

from __future__ import annotations

import json
from pathlib import Path

BEGIN, END = "{# supercorrect: default system prompt #}", "{# supercorrect: end #}"

# Conversations whose rendering must not change when the default system prompt is added: every
# shape the pipeline renders (a problem, a problem with a started answer, a finished exchange).
_PROBES = [
    [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
    [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
    [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"},
     {"role": "user", "content": "R"}],
]


def _unwrapped(template: str) -> str:
    """The template without a default-system block added earlier (sft's tokenizer reaches dpo)."""
    if template.startswith(BEGIN) and END in template:
        return template.split(END, 1)[1]
    return template


def _literal(text: str) -> str:
    """`text` as a Jinja string literal (Jinja reads backslash escapes as Python does)."""
    return json.dumps(text, ensure_ascii=False)


def _renderings(tokenizer, template: str) -> list[str]:
    out = []
    for chat in _PROBES:
        for gen in (False, True):
            out.append(tokenizer.apply_chat_template(chat, chat_template=template, tokenize=False,
                                                     add_generation_prompt=gen))
    return out


def with_default_system(tokenizer, system: str) -> str:
    """The tokenizer's chat template with `system` as the default system message.

    Raises ValueError when the template has no chat template, cannot carry a system message (the
    plain chat would not show it) or renders chats with an explicit system message differently
    once wrapped (the pipeline's prompts would change)."""
    if not isinstance(tokenizer.chat_template, str) or not tokenizer.chat_template:
        raise ValueError("the tokenizer has no (single) chat template to add a default system prompt to")
    original = _unwrapped(tokenizer.chat_template)
    # A Jinja `set` at the top level replaces `messages` for the rest of the template; it writes
    # nothing, so the template's own output is untouched.
    wrapped = (BEGIN + "{%- if not messages or messages[0]['role'] != 'system' %}"
               "{%- set messages = [{'role': 'system', 'content': " + _literal(system) + "}] + messages %}"
               "{%- endif %}" + END + original)
    if _renderings(tokenizer, wrapped) != _renderings(tokenizer, original):
        raise ValueError("adding a default system prompt would change how the chat template renders chats "
                         "that have a system message")
    plain = tokenizer.apply_chat_template([{"role": "user", "content": "Q"}], chat_template=wrapped,
                                          tokenize=False, add_generation_prompt=True)
    if system not in plain:
        raise ValueError("the chat template does not render system messages, so it cannot carry the system prompt")
    return wrapped


def student_identity(student) -> dict:
    """The base model as the pipeline names it: {"model": id or path or "tiny", "revision": ...}."""
    return {"model": student.model, "revision": student.revision}


def describe_base(student) -> str:
    if student.model == "tiny":
        return "tiny Qwen2 built from the training data (supercorrect.student.build.build_tiny)"
    return student.model + (f" @ {student.revision}" if student.revision else "")


def _is_hub_id(model: str) -> bool:
    return model != "tiny" and not Path(model).exists() and model.count("/") == 1


def _table(metrics: dict) -> str:
    rows = [f"| {k} | {v} |" for k, v in metrics.items() if isinstance(v, (int, float, str)) and v is not None]
    return "| metric | value |\n|---|---|\n" + "\n".join(rows) if rows else "(none)"


_STAGE_TEXT = {
    "sft": "Hierarchical thought SFT: it learned to write a teacher's step-by-step templates.",
    "dpo": "Hierarchical thought SFT, then cross-model collaborative DPO on a teacher's corrections of "
           "its own errors.",
}


def model_card(stage: str, p, prompts, metrics: dict, data: dict) -> str:
    """README.md for a saved student: `stage` is sft or dpo, `data` names what it was trained on."""
    front = ["---", "library_name: transformers", "pipeline_tag: text-generation",
             "tags: [supercorrect, math, hierarchical-thought, dpo]"]
    if _is_hub_id(p.student.model):
        front.append(f"base_model: {p.student.model}")
    front.append("---")
    data_lines = "\n".join(f"- {k}: {v}" for k, v in data.items())
    problem = "Tom has 5 apples. He buys 3 more apples. How many apples does Tom have now?"
    return "\n".join(front) + f"""

# SuperCorrect student ({stage})

A math student trained with SuperCorrect (arXiv 2410.09008). {_STAGE_TEXT[stage]} This folder
is the output of the pipeline's `{stage}` stage.

- Base model: {describe_base(p.student)}
- Prompt version: {prompts.version}

## Data

{data_lines}

## Answer format

The student answers in the hierarchical thought template: `<Step1>...</Step1>`, `<Step2>...`,
optional `<Key>...</Key>` notes, `<Generalized>...</Generalized>` and `<Answer>...</Answer>`.
Its chat template carries the system prompt it was trained with as the default system message,
so a chat with only the problem is enough:

> {prompts.system}

## Metrics ({stage})

{_table(metrics)}

## Usage

```python
from transformers import pipeline
chat = pipeline("text-generation", model="path/to/this/folder")
out = chat([{{"role": "user", "content": "{problem}"}}], max_new_tokens=256, do_sample=False)
print(out[0]["generated_text"][-1]["content"])
```

With vLLM: `vllm serve path/to/this/folder`, then send chat completions with only the user message.
Registered in MLflow: `mlflow.pyfunc.load_model("models:/supercorrect-student@champion").predict(["{problem}"])`.
Parse an answer with `supercorrect.formats.templates.parse_template`.
"""
