"""Tests for supercorrect.student.saved_model: the default system prompt in a saved student's chat template
and its model card, on real tokenizers (the toy one and others given ChatML / Llama-3 style templates)
and a real tiny SFT run whose folder a plain transformers pipeline then uses with only the problem.
"""

from __future__ import annotations

import copy

import pytest

from supercorrect import sft
from supercorrect.formats.prompts import V2, solve_messages
from supercorrect.formats.templates import parse_template
from supercorrect.io import write_jsonl
from supercorrect.pairs.cross_model import build_pair, student_request
from supercorrect.student.build import build_tiny
from supercorrect.student.decode import generate
from supercorrect.student.load import load_student, render
from supercorrect.student.saved_model import with_default_system
from tests.test_sft import SMALL, corpus, hsft_records, one_thread, params  # noqa: F401 (autouse fixture)

# Qwen2.5-like ChatML: its own default system message when the chat has none, tags on their own lines.
CHATML = """{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- set rest = messages[1:] %}
{%- else %}
    {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- set rest = messages %}
{%- endif %}
{%- for message in rest %}
    {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# Llama-3 style headers, the system message pulled out first.
LLAMA3 = """{{- '<|begin_of_text|>' }}
{%- if messages[0]['role'] == 'system' %}{%- set system = messages[0]['content'] %}{%- set messages = messages[1:] %}
{%- else %}{%- set system = '' %}{%- endif %}
{%- if system %}{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' + system + '<|eot_id|>' }}{%- endif %}
{%- for m in messages %}{{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"""

NO_SYSTEM = "{% for m in messages %}{% if m['role'] != 'system' %}{{ m['role'] }}: {{ m['content'] }}\n{% endif %}{% endfor %}"

PROBLEM = "Tom has 5 apples. He buys 3 more apples. How many apples does Tom have now?"
RESPONSE = "<Step1>Tom buys 3 more apples, so he has 5+3=9 apples.</Step1>\n<Answer>9</Answer>"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "model"
    build_tiny(corpus(hsft_records(30)), SMALL, out, seed=0)
    return load_student(out)


def tokenizer_with(toy, template: str | None):
    tok = copy.deepcopy(toy[1])
    if template is not None:
        tok.chat_template = template
    return tok


def pipeline_renderings(tok) -> list[str]:
    """Every text the pipeline renders: sft rows, generation prompts, correction chats and DPO pairs."""
    prompt = solve_messages(V2, PROBLEM)
    completion = [{"role": "assistant", "content": RESPONSE}]
    pair = build_pair(V2, {"id": "p", "problem": PROBLEM}, {"id": "r", "response": RESPONSE}, 1,
                      "<Step1><Cause>c</Cause><Correction>5+3=8</Correction></Step1>", RESPONSE, {})
    return [tok.apply_chat_template(prompt + completion, tokenize=False), render(tok, prompt),
            render(tok, student_request(V2, PROBLEM, RESPONSE + "\n<Step2>x</Step2>", 2)),
            tok.apply_chat_template(pair["prompt"], tokenize=False, add_generation_prompt=True),
            tok.apply_chat_template(pair["prompt"] + pair["chosen"], tokenize=False)]


@pytest.mark.parametrize("template", [None, CHATML, LLAMA3], ids=["toy", "chatml", "llama3"])
def test_explicit_system_chats_render_byte_identically(toy, template):
    before = tokenizer_with(toy, template)
    after = tokenizer_with(toy, template)
    after.chat_template = with_default_system(before, V2.system)
    assert after.chat_template != before.chat_template
    assert pipeline_renderings(after) == pipeline_renderings(before)


@pytest.mark.parametrize("template", [None, CHATML, LLAMA3], ids=["toy", "chatml", "llama3"])
def test_plain_chat_gets_the_system_prompt(toy, template):
    tok = tokenizer_with(toy, template)
    plain = [{"role": "user", "content": PROBLEM}]
    without = render(tok, plain)
    tok.chat_template = with_default_system(tok, V2.system)
    # With only the problem, the chat is the one the student was trained on, not the template's own default.
    assert render(tok, plain) == render(tok, solve_messages(V2, PROBLEM)) != without
    assert "You are a helpful assistant" not in render(tok, plain)


def test_wrapping_twice_replaces_the_first_default(toy):
    tok = tokenizer_with(toy, CHATML)
    tok.chat_template = with_default_system(tok, "first prompt")
    tok.chat_template = with_default_system(tok, V2.system)
    assert "first prompt" not in tok.chat_template
    assert render(tok, [{"role": "user", "content": PROBLEM}]) == render(tok, solve_messages(V2, PROBLEM))


def test_system_text_with_quotes_braces_and_newlines_survives(toy):
    tok = tokenizer_with(toy, None)
    system = 'Say "hi" {{ not jinja }} %} \\n it\'s a\nnew line, ünïcode ✓ and a backslash \\'
    tok.chat_template = with_default_system(tok, system)
    assert render(tok, [{"role": "user", "content": "q"}]).startswith(f"<|im_start|>system\n{system}<|im_end|>")


def test_template_that_drops_system_messages_is_refused(toy):
    with pytest.raises(ValueError, match="does not render system messages"):
        with_default_system(tokenizer_with(toy, NO_SYSTEM), V2.system)


def test_saved_sft_student_answers_a_plain_chat_like_the_pipeline(in_tmp):
    """The folder sft writes works on its own: a transformers pipeline given only the problem
    produces exactly what the pipeline's generation produces with its explicit system prompt."""
    from transformers import pipeline

    write_jsonl(in_tmp / "annotate" / "hsft.jsonl", hsft_records(32))
    # Enough training for the tiny student to write whole templates (checked below).
    metrics = sft.run(params(in_tmp, "sft.epochs=10", "sft.learning_rate=0.003"))
    model, tok = load_student(in_tmp / "sft")
    problems = [r["problem"] for r in hsft_records(3, seed=5)]
    ours = [out[0] for out in generate(model, tok, [solve_messages(V2, q) for q in problems], max_new_tokens=100)]
    chat = pipeline("text-generation", model=str(in_tmp / "sft"), device="cpu")
    theirs = [chat([{"role": "user", "content": q}], max_new_tokens=100, do_sample=False)[0]["generated_text"][-1]
              ["content"] for q in problems]
    assert theirs == ours
    assert all(parse_template(text).answer for text in theirs)

    card = (in_tmp / "sft" / "README.md").read_text()
    assert "# SuperCorrect student (sft)" in card and "Prompt version: v2" in card
    assert f"| final_loss | {metrics['final_loss']} |" in card and V2.system in card
    assert "32 verified" in card and "pipeline(" in card
