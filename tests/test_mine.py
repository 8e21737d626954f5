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


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from supercorrect.model import build_tiny, load_student
    from tests.test_sft import SMALL

    out = tmp_path_factory.mktemp("tok") / "model"
    texts = [PROBLEM["problem"], PROBLEM["solution"], S1, S2, S3] + [c[0] for c in CASES.values()]
    build_tiny(texts, SMALL, out)
    return load_student(out)[1]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_pair_text_is_exact_and_splits_at_the_prefix(tokenizer, k):
    """The strings DPO trains on, for k = 1, a middle k and the last step."""
    from supercorrect.dpo import to_text_pair, turn_end

    prompts = load_prompts()
    response, _ = CASES[k]
    chosen = ReferenceTeacher().localize(PROBLEM, response)
    rejected = f"<Step{k}><Cause>I think it is fine.</Cause><Correction>same</Correction></Step{k}>\n<Answer>3</Answer>"
    pair = mine.build_pair(prompts, PROBLEM, {"id": "p3-s0", "response": response}, k, chosen, rejected, {})
    row = to_text_pair(tokenizer, pair, turn_end(tokenizer))
    prefix = "".join(f"<Step{i}>{s}</Step{i}>\n" for i, s in enumerate([S1, S2][: k - 1], 1))
    assert row["prompt"] == (f"<|im_start|>system\n{prompts.system}<|im_end|>\n"
                             f"<|im_start|>user\n{PROBLEM['problem']}<|im_end|>\n<|im_start|>assistant\n{prefix}")
    assert row["chosen"] == chosen + "<|im_end|>" and row["rejected"] == rejected + "<|im_end|>"
    assert row["chosen"].startswith(f"<Step{k}><Cause>") and "<Correction>" in row["chosen"]
    assert mine.prompt_is_token_prefix(tokenizer, pair, "<|im_end|>")


def test_token_prefix_check_catches_a_prefix_that_merges(tokenizer):
    """A prefix cut mid-word tokenises differently once the completion follows: drop it."""
    prompts = load_prompts()
    pair = mine.build_pair(prompts, PROBLEM, {"id": "r", "response": "<Step1>Tom has 5 app</Step1>"}, 2,
                           "les.<Answer>12</Answer>", "<Step2><Cause>x</Cause><Correction>y</Correction></Step2>", {})
    pair["prompt"][-1]["content"] = "<Step1>Tom has 5 app"
    assert not mine.prompt_is_token_prefix(tokenizer, pair, "<|im_end|>")


def rollouts_of(problem_id: str, correct: list[bool]) -> list[dict]:
    return [{"id": f"{problem_id}-s{i}", "problem_id": problem_id, "correct": c} for i, c in enumerate(correct)]


def test_selection_options():
    from supercorrect.config import MineConfig

    rollouts = rollouts_of("a", [False, False, False]) + rollouts_of("b", [True, False, False]) \
        + rollouts_of("c", [True, True])
    picked, drops = mine.select_for_teacher(rollouts, MineConfig())
    assert [r["id"] for r in picked] == ["a-s0", "a-s1", "a-s2", "b-s1", "b-s2"] and not drops
    picked, drops = mine.select_for_teacher(rollouts, MineConfig(only_sometimes_solved=True))
    assert [r["id"] for r in picked] == ["b-s1", "b-s2"]
    assert drops == {"problem never solved (only_sometimes_solved)": 3}
    picked, drops = mine.select_for_teacher(rollouts, MineConfig(max_wrong_per_problem=1))
    assert [r["id"] for r in picked] == ["a-s0", "b-s1"] and drops == {"over max_wrong_per_problem": 3}


def test_sharegpt_export(tmp_path):
    import json

    from supercorrect.export import write_sharegpt

    prompts = load_prompts()
    response, _ = CASES[2]
    chosen = ReferenceTeacher().localize(PROBLEM, response)
    pair = mine.build_pair(prompts, PROBLEM, {"id": "p3-s0", "response": response}, 2, chosen, "<Step2>bad", {})
    path = write_sharegpt([pair], tmp_path)
    [record] = json.loads(path.read_text())
    prefix = f"<Step1>{S1}</Step1>\n"
    assert record == {"system": prompts.system, "conversations": [{"from": "human", "value": PROBLEM["problem"]}],
                      "chosen": {"from": "gpt", "value": prefix + chosen},
                      "rejected": {"from": "gpt", "value": prefix + "<Step2>bad"}, "id": "p3-s0-pair"}
    info = json.loads((tmp_path / "dataset_info.json").read_text())["supercorrect_pairs"]
    assert info["file_name"] == path.name and info["ranking"] is True and info["formatting"] == "sharegpt"
