"""Tests for stage `annotate`: reference templates, template validation and the openai backend.

The openai backend is exercised with the real `openai` SDK against tests/openai_server.py,
a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest

from supercorrect import annotate
from supercorrect.formats.templates import TemplateError, leading_steps, parse_template
from supercorrect.io import read_jsonl, write_jsonl
from supercorrect.params_file import load_params
from supercorrect.teacher.backends import GENERALIZED_ARITHMETIC, ReferenceTeacher
from supercorrect.teacher.checks import check_template
from tests.conftest import REPO
from tests.openai_server import OpenAIServer

PROBLEM = {
    "id": "p1", "source": "synthetic", "split": "train", "subject": "arithmetic", "level": 2,
    "problem": "Tom has 5 apples. He buys 3 more apples. Then he gives away 2 apples. How many apples does Tom have now?",
    "solution": "Tom buys 3 more apples, so he has 5+3=<<5+3=8>>8 apples.\n"
                "Tom gives away 2 apples, so he has 8-2=<<8-2=6>>6 apples.\n#### 6",
    "answer": "6",
}


def test_reference_template_is_exact():
    text = ReferenceTeacher().annotate(PROBLEM)
    assert text == (
        "<Step1>Tom buys 3 more apples, so he has 5+3=8 apples.</Step1>\n"
        "<Step2>Tom gives away 2 apples, so he has 8-2=6 apples.<Key>Subtract: 8-2=6.</Key></Step2>\n"
        f"<Generalized>{GENERALIZED_ARITHMETIC}</Generalized>\n"
        "<Answer>6</Answer>"
    )
    template = parse_template(text)
    assert [s.index for s in template.steps] == [1, 2]
    assert template.steps[1].key == "Subtract: 8-2=6."
    assert template.answer == "6"


def test_reference_template_for_math_prose():
    problem = {**PROBLEM, "solution": "We have $x=2$. Then $x^2=4$. So the answer is $\\boxed{4}$.", "answer": "4"}
    template = parse_template(ReferenceTeacher().annotate(problem))
    assert len(template.steps) == 3 and template.answer == "4"


@pytest.mark.parametrize("text, reason", [
    ("<Step1>a</Step1><Generalized>g</Generalized>", "missing <Answer>"),
    ("<Step1>a</Step1><Answer>6</Answer>", "missing <Generalized>"),
    ("<Step1>a</Step1><Step3>b</Step3><Generalized>g</Generalized><Answer>6</Answer>", "step 2 is malformed"),
    ("<Generalized>g</Generalized><Answer>6</Answer>", "no <Step1>"),
])
def test_malformed_templates_are_rejected_with_reason(text, reason):
    with pytest.raises(TemplateError, match=reason):
        parse_template(text)


def test_check_template_rejects_wrong_answer():
    good = ReferenceTeacher().annotate(PROBLEM)
    assert check_template(good, "6") == ("6", None)
    answer, reason = check_template(good, "7")
    assert answer == "6" and reason == "answer '6' != gold '7'"
    assert check_template("no xml here", "6")[1].startswith("malformed")


def _write_problems(tmp_path, problems):
    path = tmp_path / "train.jsonl"
    write_jsonl(path, problems)
    return path


def test_annotate_run_keeps_only_verified(in_tmp):
    wrong = {**PROBLEM, "id": "p2", "answer": "7"}  # gold disagrees with its own solution
    path = _write_problems(in_tmp, [PROBLEM, wrong])
    p = load_params(REPO / "params.yaml", [f"annotate.input={path}", f"annotate.out_dir={in_tmp / 'out'}",
                                           "annotate.correction_share=0"])
    metrics = annotate.run(p)
    assert metrics["verified"] == 1 and metrics["rejected"] == 1 and metrics["correction_examples"] == 0
    kept = read_jsonl(in_tmp / "out" / "hsft.jsonl")
    assert [r["problem_id"] for r in kept] == ["p1"]
    assert kept[0]["prompt_version"] == "v2" and kept[0]["teacher_model"] == "reference"
    assert kept[0]["kind"] == "template"
    rejected = read_jsonl(in_tmp / "out" / "rejected.jsonl")
    assert rejected[0]["reason"] == "answer '6' != gold '7'"
    # A side run (out_dir not the default) writes its metrics beside its outputs, not metrics/annotate.json.
    assert json.loads((in_tmp / "out" / "metrics.json").read_text())["verified"] == 1
    assert not (in_tmp / "metrics").exists()


S1 = "Tom buys 3 more apples, so he has 5+3=8 apples."
S2 = "Tom gives away 2 apples, so he has 8-2=6 apples."
GEN = f"<Generalized>{GENERALIZED_ARITHMETIC}</Generalized>"


def test_injected_error_and_its_correction_trace_are_exact():
    """A misread operand in step 1 carries into step 2; the teacher's trace fixes step 1 and
    redoes step 2; a right solution's trace copies its steps."""
    import random

    from supercorrect.formats.errors import inject_error
    from supercorrect.formats.templates import copy_trace

    template = ReferenceTeacher().annotate(PROBLEM)
    wrong, k = inject_error(template, random.Random(2))
    assert k == 1
    assert wrong == (f"<Step1>Tom buys 3 more apples, so he has 5+4=9 apples.</Step1>\n"
                     f"<Step2>Tom gives away 2 apples, so he has 9-2=7 apples.<Key>Subtract: 9-2=7.</Key></Step2>\n"
                     f"{GEN}\n<Answer>7</Answer>")
    trace = ReferenceTeacher().localize(PROBLEM, wrong)
    assert trace == (f"<Step1><Cause>Step 1 has 5+4=9, but 5+3=8.</Cause>"
                     f"<Correction>{S1}</Correction></Step1>\n<Step2>{S2}<Key>Subtract: 8-2=6.</Key></Step2>\n"
                     f"<Answer>6</Answer>")
    assert copy_trace(template) == (f"<Step1>{S1}</Step1>\n<Step2>{S2}<Key>Subtract: 8-2=6.</Key></Step2>\n"
                                    f"<Answer>6</Answer>")
    assert inject_error("<Step1>no calculation here</Step1><Answer>1</Answer>", random.Random(0)) is None


def test_annotate_adds_correction_trace_examples(in_tmp):
    from supercorrect.data.synthetic import generate_problems

    problems = generate_problems(200, seed=4)
    path = _write_problems(in_tmp, problems)
    p = load_params(REPO / "params.yaml", [f"annotate.input={path}", f"annotate.out_dir={in_tmp / 'out'}",
                                           "annotate.correction_share=0.5", "annotate.correction_error_share=0.5"])
    metrics = annotate.run(p)
    records = read_jsonl(in_tmp / "out" / "hsft.jsonl")
    corrections = [r for r in records if r["kind"] == "correction"]
    assert metrics["correction_examples"] == len(corrections) and 70 < len(corrections) < 130
    with_error = [r for r in corrections if r["error_step"] is not None]
    assert metrics["correction_examples_with_error"] == len(with_error) and 0.3 < len(with_error) / len(corrections) < 0.7
    for r in with_error:
        k = r["error_step"]
        # The trace keeps the shown steps before k, flags step k, and ends with the gold answer.
        assert r["template"].startswith("".join(s + "\n" for s in leading_steps(r["shown"])[: k - 1]) + f"<Step{k}><Cause>")
        assert r["template"].endswith(f"<Answer>{r['gold']}</Answer>") and r["shown"] != r["template"]
    for r in corrections:
        if r["error_step"] is None:
            assert "<Cause>" not in r["template"] and parse_template(r["shown"]).answer == r["gold"]
    # Same seed, same examples.
    annotate.run(p)
    assert read_jsonl(in_tmp / "out" / "hsft.jsonl") == records


def test_openai_teacher_through_real_sdk_is_cached(in_tmp, monkeypatch):
    reference = ReferenceTeacher().annotate(PROBLEM)
    with OpenAIServer(lambda messages: reference) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        path = _write_problems(in_tmp, [PROBLEM])
        overrides = [f"annotate.input={path}", f"annotate.out_dir={in_tmp / 'out'}", "teacher.backend=openai",
                     "teacher.model=teacher-x", f"teacher.cache_dir={in_tmp / 'cache'}", "annotate.correction_share=0"]
        first = annotate.run(load_params(REPO / "params.yaml", overrides))
        assert first["verified"] == 1 and first["teacher"]["cache_misses"] == 1
        assert len(server.requests) == 1
        sent = server.requests[0]
        assert sent["model"] == "teacher-x" and PROBLEM["problem"] in sent["messages"][0]["content"]
        # A rerun (e.g. after DVC deleted the outs) is served from the cache: no new request.
        second = annotate.run(load_params(REPO / "params.yaml", overrides))
        assert second["teacher"]["cache_hits"] == 1 and len(server.requests) == 1
        assert read_jsonl(in_tmp / "out" / "hsft.jsonl")[0]["teacher_model"] == "teacher-x"
        # The key is not written anywhere in what the stage produced.
        produced = "".join(f.read_text() for f in in_tmp.rglob("*") if f.is_file())
        assert server.api_key not in produced


def test_openai_teacher_without_key_fails_clearly(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from supercorrect.formats.prompts import load_prompts
    from supercorrect.teacher.backends import make_teacher
    p = load_params(REPO / "params.yaml", ["teacher.backend=openai"])
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
        make_teacher(p.teacher, load_prompts())


# --- CoT targets (annotate.targets: cot) ------------------------------------------------------

def test_cot_target_is_exact_and_graded():
    from supercorrect.grading.judge import grade

    text = annotate.cot_target(PROBLEM)
    assert text == f"<Step1>{S1}</Step1>\n<Step2>{S2}</Step2>\n<Answer>6</Answer>"
    assert "<Key>" not in text and "<Generalized>" not in text
    assert grade(text, "6") and not grade(text, "7")  # evaluate grades CoT outputs by their <Answer>
    assert annotate.cot_result(PROBLEM)["reason"] is None
    assert annotate.cot_result({**PROBLEM, "answer": "7"})["reason"] == "answer '6' != gold '7'"


def test_annotate_cot_run_sends_no_template_request(in_tmp):
    """CoT targets need no teacher; the correction-trace examples stay, on plain steps, and their
    injected errors are the only teacher requests (priced in teacher_estimate)."""
    from supercorrect.data.synthetic import generate_problems

    problems = generate_problems(200, seed=4)
    path = _write_problems(in_tmp, problems)
    sets = [f"annotate.input={path}", "annotate.correction_share=0.5", "annotate.correction_error_share=0.5"]
    cot = annotate.run(load_params(REPO / "params.yaml", sets + [f"annotate.out_dir={in_tmp / 'cot'}",
                                                                 "annotate.targets=cot"]))
    hsft = annotate.run(load_params(REPO / "params.yaml", sets + [f"annotate.out_dir={in_tmp / 'hsft'}"]))
    records = read_jsonl(in_tmp / "cot" / "hsft.jsonl")
    assert cot["targets"] == "cot" and cot["verified"] == 200
    assert not any("<Key>" in r["template"] or "<Generalized>" in r["template"] for r in records)
    targets = [r for r in records if r["kind"] == "cot"]
    assert [r["template"] for r in targets] == [annotate.cot_target(q) for q in problems]
    assert all(r["answer"] == r["gold"] and r["teacher_model"] == "reference solution" for r in targets)
    # The same share of correction examples, the same injected errors, in the plain format.
    assert cot["correction_examples"] == hsft["correction_examples"]
    assert cot["correction_examples_with_error"] == hsft["correction_examples_with_error"] > 0
    traced = [r for r in records if r["kind"] == "correction" and r["error_step"]]
    assert all("<Cause>" in r["template"] and r["template"].endswith(f"<Answer>{r['gold']}</Answer>") for r in traced)
    localized = cot["correction_examples_with_error"] + sum(cot["correction_drops"].values())
    assert cot["teacher_estimate"]["requests"] == localized
    assert hsft["teacher_estimate"]["requests"] == 200 + localized
    assert 0 < cot["teacher_estimate"]["cost_usd"] < hsft["teacher_estimate"]["cost_usd"]
