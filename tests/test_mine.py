"""Tests for stage `mine`: error localisation by the reference teacher and Eq. 8 pair building."""

from __future__ import annotations

import pytest

from supercorrect import mine
from supercorrect.prompts import load_prompts
from supercorrect.teacher import ReferenceTeacher
from supercorrect.templates import leading_steps, parse_correction

S1 = "Tom buys 3 more apples, so he has 5+3=8 apples."
S2 = "Tom gives away 2 apples, so he has 8-2=6 apples."
S3 = "Tom ends up with 2 times as many apples, so he has 6*2=12 apples."
PROBLEM = {
    "id": "p3", "source": "synthetic", "split": "mine", "subject": "arithmetic", "level": 3,
    "problem": "Tom has 5 apples. He buys 3 more apples. Then he gives away 2 apples. "
               "Then he ends up with 2 times as many apples. How many apples does Tom have now?",
    "solution": "Tom buys 3 more apples, so he has 5+3=<<5+3=8>>8 apples.\n"
                "Tom gives away 2 apples, so he has 8-2=<<8-2=6>>6 apples.\n"
                "Tom ends up with 2 times as many apples, so he has 6*2=<<6*2=12>>12 apples.\n#### 12",
    "answer": "12",
}


def student(*steps, answer):
    return "\n".join(f"<Step{i}>{s}</Step{i}>" for i, s in enumerate(steps, 1)) + f"\n<Answer>{answer}</Answer>"


CASES = {
    # k = 1: the very first value is wrong.
    1: (student("Tom buys 3 more apples, so he has 5+3=9 apples.", "he has 9-2=7 apples.", "he has 7*2=14.", answer=14),
        "Step 1 arrives at 9, but the correct value at this point is 8."),
    # a middle k.
    2: (student(S1, "Tom gives away 2 apples, so he has 8-2=5 apples.", "he has 5*2=10.", answer=10),
        "Step 2 arrives at 5, but the correct value at this point is 6."),
    # the last step.
    3: (student(S1, S2, "Tom ends up with 2 times as many apples, so he has 6*2=11 apples.", answer=11),
        "Step 3 arrives at 11, but the correct value at this point is 12."),
}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_reference_localises_first_wrong_step(k):
    response, cause = CASES[k]
    c = parse_correction(ReferenceTeacher().localize(PROBLEM, response))
    assert c.k == k and c.cause == cause
    assert c.correction == [S1, S2, S3][k - 1]
    assert c.answer == "12"
    # The rest of the reference solution follows the corrected step.
    assert c.text.count("<Step") == 1 + (3 - k)


def test_reference_localises_a_solution_that_stops_early():
    c = parse_correction(ReferenceTeacher().localize(PROBLEM, student(S1, S2, answer=6)))
    assert c.k == 3 and c.cause == "The solution stops after step 2, but the problem needs another operation."


def test_reference_finds_nothing_when_steps_are_right():
    assert ReferenceTeacher().localize(PROBLEM, student(S1, S2, S3, answer=12)) is None
    assert ReferenceTeacher().localize({**PROBLEM, "solution": "No notes. \\boxed{12}"}, "x") is None


@pytest.mark.parametrize("k", [1, 2, 3])
def test_pair_follows_eq8_exactly(k):
    prompts = load_prompts()
    response, _ = CASES[k]
    chosen = ReferenceTeacher().localize(PROBLEM, response)
    rejected = f"<Step{k}><Cause>I think it is fine.</Cause><Correction>same</Correction></Step{k}>\n<Answer>3</Answer>"
    rollout = {"id": "p3-s0", "response": response}
    pair = mine.build_pair(prompts, PROBLEM, rollout, k, chosen, rejected, {"teacher_model": "reference"})
    system = {"role": "system", "content": prompts.system}
    user = {"role": "user", "content": PROBLEM["problem"]}
    prefix = "".join(f"<Step{i}>{s}</Step{i}>\n" for i, s in enumerate([S1, S2][: k - 1], 1))
    expected_prompt = [system, user] + ([{"role": "assistant", "content": prefix}] if k > 1 else [])
    assert pair["prompt"] == expected_prompt
    assert pair["chosen"] == [{"role": "assistant", "content": chosen}]
    assert pair["rejected"] == [{"role": "assistant", "content": rejected}]
    assert pair["chosen"][0]["content"].startswith(f"<Step{k}><Cause>")
    assert pair["error_step"] == k and pair["rollout_id"] == "p3-s0" and pair["teacher_model"] == "reference"


def test_student_correction_request_has_no_reference():
    prompts = load_prompts()
    response, _ = CASES[2]
    chat = mine.correction_request(prompts, PROBLEM, response, 2)
    assert chat[-1] == {"role": "assistant", "content": "<Step2><Cause>"}
    assert "Step 2 is wrong" in chat[1]["content"] and response in chat[1]["content"]
    assert "<<" not in "".join(m["content"] for m in chat)  # the reference solution is withheld


def test_leading_steps_stops_at_first_malformed_step():
    text = "<Step1>a</Step1>\n<Step2>b</Step2>\n<Step4>d</Step4><Answer>1</Answer>"
    assert leading_steps(text) == ["<Step1>a</Step1>", "<Step2>b</Step2>"]
    assert leading_steps("<Step1>a") == []
