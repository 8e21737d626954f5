"""Tests for teacher output validation, re-asking and the inspector (supercorrect.teacher.checks).

The openai backend runs the real `openai` SDK against tests/openai_server.py on 127.0.0.1; the
responders below play a teacher that first answers badly, and an inspector that objects once.
"""

from __future__ import annotations

import pytest

from supercorrect import annotate
from supercorrect.formats.prompts import load_prompts
from supercorrect.io import read_jsonl
from supercorrect.teacher.backends import ReferenceTeacher, make_teacher
from supercorrect.teacher.checks import check_localization, parse_verdict
from tests.openai_server import MALFORMED, OpenAIServer
from tests.teacher_helpers import good_teacher, make_problems, teacher_params
from tests.test_mine import CASES, PROBLEM, S1, S2, student


@pytest.fixture
def env(monkeypatch):
    def point(server):
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
    return point


def test_malformed_answer_is_reasked_with_reason_and_problem(in_tmp, env):
    problems = make_problems(3)
    good = good_teacher(problems)
    # First ask: garbage. The re-ask (the chat has grown to 3 messages) gets the real answer.
    with OpenAIServer(lambda m: MALFORMED if len(m) == 1 else good(m)) as server:
        env(server)
        metrics = annotate.run(teacher_params(in_tmp, server, problems))
    assert metrics["verified"] == 3
    assert [r["teacher_rounds"] for r in read_jsonl(in_tmp / "out" / "hsft.jsonl")] == [2, 2, 2]
    reask = server.requests[-1]["messages"]
    assert reask[1] == {"role": "assistant", "content": MALFORMED}
    assert "cannot be used: malformed: no <Step1>" in reask[2]["content"]
    assert any(q["problem"] in reask[2]["content"] and q["answer"] in reask[2]["content"] for q in problems)


def test_wrong_answer_is_reasked_and_rounds_are_bounded(in_tmp, env):
    problems = make_problems(2)
    ref = ReferenceTeacher()
    wrong = {q["problem"]: ref.annotate({**q, "solution": q["solution"].rsplit("####", 1)[0] + "#### 999"})
             .replace(f"<Answer>{q['answer']}</Answer>", "<Answer>999</Answer>") for q in problems}

    def always_wrong(messages):
        return next(t for text, t in wrong.items() if text in messages[0]["content"])

    with OpenAIServer(always_wrong) as server:
        env(server)
        metrics = annotate.run(teacher_params(in_tmp, server, problems, max_rounds=3))
    rejected = read_jsonl(in_tmp / "out" / "rejected.jsonl")
    assert metrics["rejected"] == 2 and len(server.requests) == 2 * 3
    assert all(r["teacher_rounds"] == 3 and r["reason"].startswith("answer '999' != gold") for r in rejected)
    assert "!= gold" in server.requests[-1]["messages"][-1]["content"]


def test_inspector_rejects_then_accepts(in_tmp, env):
    problems = make_problems(2)
    good = good_teacher(problems)
    inspections = []

    def respond(messages):
        if messages[0]["content"].startswith("You check a teacher's"):
            inspections.append(messages[0]["content"])
            return ("<Verdict>PASS</Verdict>" if "We count" in messages[0]["content"]
                    else "<Verdict>FAIL</Verdict><Issue>Step 1 never says what is counted.</Issue>")
        if len(messages) == 3:  # told about the objection, the teacher fixes step 1
            return good(messages).replace("<Step1>", "<Step1>We count apples. ", 1)
        return good(messages)

    with OpenAIServer(respond) as server:
        env(server)
        metrics = annotate.run(teacher_params(in_tmp, server, problems, inspector="inspector-x"))
    assert metrics["verified"] == 2
    # Per problem: teacher, inspector (FAIL), teacher again with the objection, inspector (PASS).
    models = [b["model"] for b in server.requests]
    assert models.count("teacher-x") == 4 and models.count("inspector-x") == 4
    reasks = [b for b in server.requests if b["model"] == "teacher-x" and len(b["messages"]) == 3]
    assert len(reasks) == 2
    assert all("an inspector found a problem: Step 1 never says what is counted." in b["messages"][2]["content"]
               for b in reasks)
    inspected = inspections[0]
    assert any(q["problem"] in inspected and f"Correct final answer: {q['answer']}" in inspected for q in problems)
    assert metrics["teacher"]["cost_usd"] > 0  # the inspector's calls are priced too


def test_inspector_gives_up_after_its_rounds(in_tmp, env):
    problems = make_problems(1)
    good = good_teacher(problems)

    def respond(messages):
        if messages[0]["content"].startswith("You check a teacher's"):
            return "<Verdict>FAIL</Verdict><Issue>wrong units</Issue>"
        # Each re-ask gets a slightly different template (an unchanged one would be judged the same).
        return good(messages).replace("<Step1>", f"<Step1>Try {len(messages)}. ", 1)

    with OpenAIServer(respond) as server:
        env(server)
        metrics = annotate.run(teacher_params(in_tmp, server, problems, inspector="inspector-x"))
    rejected = read_jsonl(in_tmp / "out" / "rejected.jsonl")
    assert metrics["rejected"] == 1 and rejected[0]["reason"] == "inspector rejected: wrong units"
    assert [b["model"] for b in server.requests].count("inspector-x") == 3


def test_localize_all_through_the_openai_backend(in_tmp, env):
    response = CASES[2][0]
    good = good_teacher([PROBLEM])
    with OpenAIServer(lambda m: MALFORMED if len(m) == 1 else good(m)) as server:
        env(server)
        p = teacher_params(in_tmp, server)
        teacher = make_teacher(p.teacher, load_prompts())
        right = student(S1, S2, "Tom ends up with 2 times as many apples, so he has 6*2=12 apples.", answer=12)
        results = teacher.localize_all([(PROBLEM, response), (PROBLEM, right)])
    assert results[0]["reason"] is None and results[0]["rounds"] == 2
    assert results[0]["text"].startswith("<Step2><Cause>Step 2 has 8-2=5, but 8-2=6.")
    # The good teacher finds no wrong step in a right solution: re-asked, then failed with a reason.
    assert results[1]["text"] is None and results[1]["rounds"] == 3
    assert teacher.metrics()["failed"] == 1


def test_reference_backend_has_the_same_batch_api():
    ref = ReferenceTeacher()
    wrong_gold = {**PROBLEM, "id": "p9", "answer": "13"}
    results = ref.annotate_all([PROBLEM, wrong_gold])
    assert results[0]["reason"] is None and results[0]["text"].endswith("<Answer>12</Answer>")
    assert results[1]["text"] is None and results[1]["reason"] == "answer '12' != gold '13'"
    located = ref.localize_all([(PROBLEM, CASES[1][0]), (PROBLEM, student(S1, S2, "6*2=12", answer=12))])
    assert located[0]["text"].startswith("<Step1><Cause>") and located[0]["rounds"] == 1
    assert located[1] == {"text": None, "reason": "no wrong step", "kind": "no wrong step", "rounds": 1, "raw": None,
                          "inspections": 0}
    assert results[1]["kind"] == "answer mismatch"


@pytest.mark.parametrize("text, reason", [
    (None, "no wrong step"),
    ("I think step 2", "malformed: no <Stepk>"),
    ("<Step5><Cause>c</Cause><Correction>x</Correction></Step5><Answer>12</Answer>", "error step 5 beyond"),
    ("<Step2><Cause>c</Cause><Correction>x</Correction></Step2>", "malformed: missing <Answer>"),
    ("<Step2><Cause>c</Cause><Correction>x</Correction></Step2><Answer>11</Answer>", "answer '11' != gold '12'"),
])
def test_localization_checks(text, reason):
    got = check_localization(text, PROBLEM, student(S1, S2, answer=6))
    assert got is not None and got.startswith(reason)
    ok = "<Step3><Cause>c</Cause><Correction>6*2=12</Correction></Step3><Answer>12</Answer>"
    assert check_localization(ok, PROBLEM, student(S1, S2, answer=6)) is None


def test_verdicts():
    assert parse_verdict("<Verdict>PASS</Verdict>") == (True, "")
    assert parse_verdict("<Verdict>FAIL</Verdict><Issue>bad step 2</Issue>") == (False, "bad step 2")
    assert parse_verdict("looks fine")[0] is False


@pytest.mark.parametrize("reason, kind", [
    ("answer '11' != gold '12'", "answer mismatch"), ("malformed: no <Step1>", "malformed"),
    ("error step 5 beyond the student's 2 steps", "error step beyond the solution"),
    ("request failed: HTTP 500 after 2 retries", "request failed"), ("budget exhausted", "budget exhausted"),
    ("inspector rejected: wrong units", "inspector rejected"), ("no wrong step", "no wrong step"),
])
def test_reason_kinds_are_countable(reason, kind):
    from supercorrect.teacher.checks import reason_kind
    assert reason_kind(reason) == kind
