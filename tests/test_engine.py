"""Tests for supercorrect.student.engine: `student.engine` picks transformers or vLLM, with one contract.

vLLM needs a CUDA GPU, which this machine and CI lack, so the vLLM path runs against
tests/fake_vllm, a test double of vLLM's offline API that generates with the real tiny
checkpoint through plain transformers `generate` (see its docstring). Everything else is real.
"""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from supercorrect.formats.prompts import V2, solve_messages
from supercorrect.io import InputError, write_jsonl
from supercorrect.params_file import load_params
from supercorrect.student.build import IM_END
from supercorrect.student.engine import load_engine, use_vllm
from supercorrect.student.load import eos_ids, load_student
from tests.conftest import REPO
from tests.test_sft import hsft_records, one_thread  # noqa: F401  (fixture)

FAKE = REPO / "tests" / "fake_vllm"


@pytest.fixture
def fake_vllm(monkeypatch, tmp_path):
    """vLLM's test double importable as `vllm`; returns a reader of its call log."""
    monkeypatch.syspath_prepend(str(FAKE))
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    importlib.invalidate_caches()
    log = tmp_path / "vllm_calls.jsonl"
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))
    return lambda: [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A briefly trained tiny student (the sft stage, 240 steps, ~10 s): its greedy texts depend on the
    problem, which a randomly initialized one's do not."""
    import os

    from supercorrect import sft
    from tests.test_sft import params

    root = tmp_path_factory.mktemp("engine")
    write_jsonl(root / "annotate" / "hsft.jsonl", hsft_records(24))
    cwd = os.getcwd()
    os.chdir(root)  # the stage writes metrics/ and plots/ relative to the working directory
    try:
        sft.run(params(root, "sft.epochs=40"))
    finally:
        os.chdir(cwd)
    return root / "sft"


def student(*sets):
    return load_params(REPO / "params.yaml", list(sets)).student


def chats():
    """Solve prompts and a correction request that continues an open assistant turn (as mine's)."""
    problems = [r["problem"] for r in hsft_records(5, seed=3)]
    open_turn = solve_messages(V2, problems[0]) + [{"role": "assistant", "content": "<Step1>Tom has"}]
    return [solve_messages(V2, q) for q in problems] + [open_turn]


def test_engine_choice_and_a_clear_error_without_vllm():
    assert importlib.util.find_spec("vllm") is None  # this environment has no real vLLM
    assert not use_vllm("transformers")
    assert not use_vllm("auto")
    with pytest.raises(InputError, match=r"student\.engine: vllm, but vllm is not installed"):
        use_vllm("vllm")


def test_auto_keeps_transformers_without_a_gpu_even_with_vllm_installed(fake_vllm):
    assert use_vllm("vllm") and not use_vllm("auto")


def test_vllm_engine_sees_the_same_prompts_and_returns_the_same_greedy_texts(base, fake_vllm):
    ours, tok, _ = load_engine(base, student("student.engine=transformers"))
    theirs, vtok, _ = load_engine(base, student("student.engine=vllm", "student.vllm_gpu_memory=0.5"), seed=7)
    expected = ours(chats(), max_new_tokens=24, num_samples=3)
    got = theirs(chats(), max_new_tokens=24, num_samples=3)
    assert got == expected and all(len(set(s)) == 1 and len(s) == 3 for s in got)
    assert len({s[0] for s in got}) >= 3  # the texts depend on the prompt
    llm, call = fake_vllm()
    assert llm == {"call": "LLM", "model": str(base), "dtype": "float32", "seed": 7, "gpu_memory_utilization": 0.5}
    assert call["prompts"] == len(chats())
    # Greedy asks for one sample, repeated; it stops where the transformers path stops.
    model, _ = load_student(base)
    assert vtok.convert_tokens_to_ids(IM_END) in eos_ids(model.generation_config, tok)
    assert call["params"] == {"n": 1, "temperature": 0.0, "max_tokens": 24,
                              "stop_token_ids": eos_ids(model.generation_config, tok), "skip_special_tokens": True,
                              "prompt_logprobs": None}


def test_vllm_sampling_returns_n_samples_per_prompt_in_order(base, fake_vllm):
    theirs = load_engine(base, student("student.engine=vllm")).generate
    got = theirs(chats(), max_new_tokens=16, temperature=1.0, num_samples=3)
    assert [len(s) for s in got] == [3] * len(chats())
    assert fake_vllm()[-1]["params"]["n"] == 3
    assert len({t for s in got for t in s}) > 3  # sampled, not one text repeated


def test_evaluate_stage_on_vllm_writes_the_transformers_predictions(base, fake_vllm, in_tmp):
    from supercorrect import evaluate

    problems = [{"id": f"t{i}", "source": "synthetic", "problem": r["problem"], "solution": r["template"],
                 "answer": r["template"].split("<Answer>")[1].split("<")[0]}
                for i, r in enumerate(hsft_records(6, seed=5))]
    write_jsonl(in_tmp / "test.jsonl", problems)
    common = [f"sft.base_dir={base}", "evaluate.checkpoints=[base]", "evaluate.self_correct=[]",
              f"evaluate.benchmarks={{synthetic: {in_tmp}/test.jsonl}}", "student.max_new_tokens=32",
              "evaluate.bootstrap=100", f"evaluate.plots_dir={in_tmp}/plots"]
    outputs = {}
    for engine in ("transformers", "vllm"):
        p = load_params(REPO / "params.yaml", [*common, f"student.engine={engine}",
                                               f"evaluate.out={in_tmp}/{engine}.json",
                                               f"evaluate.predictions={in_tmp}/{engine}.jsonl"])
        evaluate.run(p)
        outputs[engine] = [(r["problem_id"], r["response"]) for r in map(json.loads, open(in_tmp / f"{engine}.jsonl"))]
        # Accuracy under math-verify beside ours, and each final prediction's math-verify verdict.
        synthetic = json.loads((in_tmp / f"{engine}.json").read_text())["synthetic"]
        assert 0.0 <= synthetic["math_verify_accuracy"] <= 1.0 and synthetic["grader_disagreements"] >= 0
        rows = [json.loads(line) for line in open(in_tmp / f"{engine}.jsonl")]
        assert all(isinstance(r["math_verify"], bool) for r in rows)
        assert synthetic["grader_disagreements"] == sum(r["math_verify"] != r["correct"] for r in rows)
    assert len(outputs["vllm"]) == len(problems) and len({text for _, text in outputs["vllm"]}) >= 3
    assert outputs["vllm"] == outputs["transformers"]
    assert [c["call"] for c in fake_vllm()] == ["LLM", "generate"]


def scoring_items():
    """Open correction turns at a step's tag, as evaluate scores them, and the text that follows:
    the flag, a step's text, and a continuation that merges with the tag in a byte-level BPE."""
    problem = hsft_records(3, seed=9)[0]["problem"]
    chat = solve_messages(V2, problem)
    items = [(chat + [{"role": "assistant", "content": "<Step1>"}], "<Cause>"),
             (chat + [{"role": "assistant", "content": "<Step1>Tom has 5 apples.</Step1>\n<Step2>"}], "<Cause>"),
             (chat + [{"role": "assistant", "content": "<Step1>"}], "Tom has 5 apples."),
             (chat, "<Step1>")]
    return [c for c, _ in items], [t for _, t in items]


def test_continuation_logprobs_equal_one_plain_forward_per_item(base):
    """Batched with left padding and logits only where needed, each score equals the sum of the
    continuation tokens' log-probabilities in an unpadded forward of that item alone."""
    import torch

    from supercorrect.student.score import continuation_logprobs, scored_ids

    model, tok = load_student(base)
    chats, texts = scoring_items()
    got = continuation_logprobs(model, tok, chats, texts, batch_size=3)
    for chat, text, score in zip(chats, texts, got):
        ids, n = scored_ids(tok, chat, text)
        assert 1 <= n < len(ids)
        with torch.inference_mode():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
        expected = sum(float(logp[j - 1, ids[j]]) for j in range(len(ids) - n, len(ids)))
        assert score == pytest.approx(expected, abs=1e-4)
        assert score < 0
    assert len(set(round(s, 4) for s in got)) == len(got)  # each depends on its own item


def test_vllm_logprobs_score_the_same_ids(base, fake_vllm):
    chats, texts = scoring_items()
    ours = load_engine(base, student("student.engine=transformers")).logprobs(chats, texts)
    theirs = load_engine(base, student("student.engine=vllm")).logprobs(chats, texts)
    assert theirs == pytest.approx(ours, abs=1e-4)
    assert fake_vllm()[-1]["params"]["prompt_logprobs"] == 0 and fake_vllm()[-1]["params"]["max_tokens"] == 1
