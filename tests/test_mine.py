"""Tests for stage `mine`: error localization by the reference teacher, the blind student side and
Eq. 8 pairs in the correction-trace context (supercorrect.pairs.cross_model), with exact strings for k = 1,
a middle k and the last step; Step-DPO pairs, keep pairs, the admission every pair passes, and the
accounting of pooled students."""

from __future__ import annotations

import pytest

from supercorrect import mine
from supercorrect.formats.prompts import correction_messages, load_prompts, teacher_correction_message
from supercorrect.formats.templates import flagged_step, leading_steps, parse_correction, step_k, verdict_at_step, wrong_step
from supercorrect.pairs import cross_model as pairs
from supercorrect.pairs.admission import Admission, Located, PairSpec, boundary_ok, generation_matches
from supercorrect.pairs.step_dpo import step_dpo_pairs, step_dpo_request
from supercorrect.student.load import render
from supercorrect.teacher.backends import ReferenceTeacher

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
        "Step 1 has 5+3=9, but 5+3=8."),
    # a middle k.
    2: (student(S1, "Tom gives away 2 apples, so he has 8-2=5 apples.", "he has 5*2=10.", answer=10),
        "Step 2 has 8-2=5, but 8-2=6."),
    # the last step.
    3: (student(S1, S2, "Tom ends up with 2 times as many apples, so he has 6*2=11 apples.", answer=11),
        "Step 3 has 6*2=11, but 6*2=12."),
}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_reference_localizes_first_wrong_step(k):
    response, cause = CASES[k]
    c = parse_correction(ReferenceTeacher().localize(PROBLEM, response))
    assert c.k == k and c.cause == cause
    assert c.correction == [S1, S2, S3][k - 1]
    assert c.answer == "12"
    # The rest of the reference solution follows the corrected step.
    assert c.text.count("<Step") == 1 + (3 - k)


def test_reference_localizes_a_solution_that_stops_early():
    c = parse_correction(ReferenceTeacher().localize(PROBLEM, student(S1, S2, answer=6)))
    assert c.k == 3 and c.cause == "The solution stops after step 2, but the problem needs another operation."


def test_reference_finds_nothing_when_steps_are_right():
    assert ReferenceTeacher().localize(PROBLEM, student(S1, S2, S3, answer=12)) is None
    assert ReferenceTeacher().localize({**PROBLEM, "solution": "No notes. \\boxed{12}"}, "x") is None


def prefix(k: int) -> str:
    return "".join(f"<Step{i}>{s}</Step{i}>\n" for i, s in enumerate([S1, S2][: k - 1], 1))


def correction_user(response: str) -> str:
    return ("Check the solution step by step. Copy every correct step as it is. In the first wrong step, write "
            "<Cause>why it is wrong</Cause><Correction>the right step</Correction> inside its tags, then redo the "
            f"steps after it. End with <Answer>...</Answer>.\n\nProblem:\n{PROBLEM['problem']}\n\n"
            f"Solution:\n{response}")


# What a blind student writes from step k on when it calls the wrong step correct.
CALLED_CORRECT = {1: "<Step1>Tom buys 3 more apples, so he has 5+3=9 apples.</Step1>\n<Answer>14</Answer>",
                  2: "<Step2>Tom gives away 2 apples, so he has 8-2=5 apples.</Step2>\n<Answer>10</Answer>",
                  3: "<Step3>Tom ends up with 2 times as many apples, so he has 6*2=11 apples.</Step3>\n<Answer>11</Answer>"}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_pair_follows_eq8_exactly(k):
    """Prompt = the correction-trace chat; both sides open with the student's steps 1..k-1."""
    prompts = load_prompts()
    response, _ = CASES[k]
    teacher = ReferenceTeacher().localize(PROBLEM, response)
    pair = pairs.build_pair(prompts, PROBLEM, {"id": "p3-s0", "response": response}, k, teacher, CALLED_CORRECT[k],
                            {"teacher_model": "reference"})
    assert pair["prompt"] == [{"role": "system", "content": prompts.system},
                              {"role": "user", "content": correction_user(response)}]
    assert pair["chosen"] == [{"role": "assistant", "content": prefix(k) + teacher}]
    assert pair["rejected"] == [{"role": "assistant", "content": prefix(k) + CALLED_CORRECT[k]}]
    assert pair["chosen"][0]["content"][len(prefix(k)):].startswith(f"<Step{k}><Cause>")
    assert pair["error_step"] == k and pair["rollout_id"] == "p3-s0" and pair["teacher_model"] == "reference"
    assert pair["context"] == "correction"


def test_solve_context_keeps_the_literal_solve_prompt():
    prompts = load_prompts()
    response, _ = CASES[2]
    pair = pairs.build_pair(prompts, PROBLEM, {"id": "r", "response": response}, 2, "<Step2><Cause>c</Cause>",
                            CALLED_CORRECT[2], {}, context="solve")
    assert pair["prompt"] == [{"role": "system", "content": prompts.system},
                              {"role": "user", "content": PROBLEM["problem"]}]
    assert pair["chosen"][0]["content"] == prefix(2) + "<Step2><Cause>c</Cause>"


@pytest.mark.parametrize("k", [1, 2, 3])
def test_student_request_is_blind(k):
    """Same correction prompt as the teacher, without the reference and without k; the turn opens
    with the student's own steps 1..k-1 (Eq. 8's conditioning)."""
    prompts = load_prompts()
    response, _ = CASES[k]
    chat = pairs.student_request(prompts, PROBLEM["problem"], response, k)
    opened = [{"role": "assistant", "content": prefix(k)}] if k > 1 else []
    assert chat == [{"role": "system", "content": prompts.system},
                    {"role": "user", "content": correction_user(response)}] + opened
    text = "".join(m["content"] for m in chat)
    assert "<<" not in text and "Reference" not in text and "Hint" not in text
    # The teacher's request is the same prompt plus the reference.
    [teacher] = teacher_correction_message(prompts, PROBLEM, response)
    assert teacher["content"].startswith(correction_user(response)) and "<<5+3=8>>" in teacher["content"]


def test_told_k_request_and_the_student_side():
    prompts = load_prompts()
    response, _ = CASES[2]
    chat = pairs.student_request(prompts, PROBLEM["problem"], response, 2, mode="told_k")
    assert chat[1]["content"] == correction_user(response) + "\n\nHint: step 2 is the first wrong step."
    assert chat[2] == {"role": "assistant", "content": prefix(2) + "<Step2><Cause>"}
    side = pairs.student_side(chat, "I subtracted wrong.</Cause><Correction>8-2=6</Correction></Step2>", 2, response)
    assert side == "<Step2><Cause>I subtracted wrong.</Cause><Correction>8-2=6</Correction></Step2>"
    blind = pairs.student_request(prompts, PROBLEM["problem"], response, 2)
    assert pairs.student_side(blind, CALLED_CORRECT[2] + "\n", 2, response) == CALLED_CORRECT[2]


def test_verdict_at_the_error_step():
    assert verdict_at_step("<Step2><Cause>x</Cause><Correction>y</Correction></Step2>", 2) == "flagged step k"
    assert verdict_at_step(CALLED_CORRECT[2], 2) == "called step k correct"
    assert verdict_at_step("<Step2>ok</Step2>\n<Step3><Cause>x</Cause>", 2) == "flagged a later step"
    assert flagged_step("<Step1>a</Step1>\n<Step2> <Cause>x</Cause>") == 2
    assert flagged_step("<Step1>a <Cause> in the text</Step1>") is None


def test_heldout_split_is_stable_and_seeded():
    ids = [f"p{i}" for i in range(1000)]
    held = [i for i in ids if mine.is_heldout(i, 0.3, seed=0)]
    assert 250 < len(held) < 350
    assert held == [i for i in ids if mine.is_heldout(i, 0.3, seed=0)]
    assert held != [i for i in ids if mine.is_heldout(i, 0.3, seed=1)]
    assert not any(mine.is_heldout(i, 0.0, seed=0) for i in ids)


def test_leading_steps_stops_at_first_malformed_step():
    text = "<Step1>a</Step1>\n<Step2>b</Step2>\n<Step4>d</Step4><Answer>1</Answer>"
    assert leading_steps(text) == ["<Step1>a</Step1>", "<Step2>b</Step2>"]
    assert leading_steps("<Step1>a") == []


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from supercorrect.student.build import build_tiny
    from supercorrect.student.load import load_student
    from tests.test_sft import SMALL

    out = tmp_path_factory.mktemp("tok") / "model"
    texts = [PROBLEM["problem"], PROBLEM["solution"], S1, S2, S3] + [c[0] for c in CASES.values()]
    build_tiny(texts, SMALL, out)
    return load_student(out)[1]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_token_boundaries_of_both_contexts(tokenizer, k):
    """TRL's split falls after the prompt in both contexts, and where the blind student's
    generation began is, token for token, where DPO scores its side (in the solve context the
    prompt differs by design, the tokens at that point do not)."""
    prompts = load_prompts()
    response, _ = CASES[k]
    teacher = ReferenceTeacher().localize(PROBLEM, response)
    request = pairs.student_request(prompts, PROBLEM["problem"], response, k)
    rendered = render(tokenizer, request)
    assert rendered.endswith("<|im_start|>assistant\n" + prefix(k))
    for context in ("correction", "solve"):
        pair = pairs.build_pair(prompts, PROBLEM, {"id": "r", "response": response}, k, teacher, CALLED_CORRECT[k], {},
                                context)
        assert boundary_ok(tokenizer, pair)
        full = tokenizer.apply_chat_template(pair["prompt"] + pair["rejected"], tokenize=False)
        assert full.startswith(rendered) == (context == "correction")
        assert generation_matches(tokenizer, request, pair)


def test_drift_check_catches_a_side_that_merges_with_the_opened_turn(tokenizer):
    """An opened turn cut mid-word tokenizes differently once the student's text follows."""
    prompts = load_prompts()
    response = "<Step1>Tom has 5 apples.</Step1>\n<Step2>Tom has 5 app"
    request = pairs.student_request(prompts, PROBLEM["problem"], response, 2)
    request[-1]["content"] = "<Step1>Tom has 5 app"
    pair = pairs.build_pair(prompts, PROBLEM, {"id": "r", "response": response}, 2, "x", "y", {})
    pair["rejected"][0]["content"] = "<Step1>Tom has 5 apples."
    assert not generation_matches(tokenizer, request, pair)


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

    from supercorrect.formats.export import write_sharegpt

    prompts = load_prompts()
    response, _ = CASES[2]
    chosen = ReferenceTeacher().localize(PROBLEM, response)
    pair = pairs.build_pair(prompts, PROBLEM, {"id": "p3-s0", "response": response}, 2, chosen, "<Step2>bad", {})
    path = write_sharegpt([pair], tmp_path)
    [record] = json.loads(path.read_text())
    assert record == {"system": prompts.system, "conversations": [{"from": "human", "value": correction_user(response)}],
                      "chosen": {"from": "gpt", "value": prefix(2) + chosen},
                      "rejected": {"from": "gpt", "value": prefix(2) + "<Step2>bad"}, "id": "p3-s0-pair"}
    info = json.loads((tmp_path / "dataset_info.json").read_text())["supercorrect_pairs"]
    assert info["file_name"] == path.name and info["ranking"] is True and info["formatting"] == "sharegpt"


# --- Step-DPO pairs (mine.pairs: step_dpo) ----------------------------------------------------

WRONG2 = "<Step2>Tom gives away 2 apples, so he has 8-2=5 apples.</Step2>"


@pytest.mark.parametrize("k", [1, 2, 3])
def test_step_dpo_request_opens_the_solve_turn_with_the_correct_steps(k):
    prompts = load_prompts()
    response, _ = CASES[k]
    chat = step_dpo_request(prompts, PROBLEM["problem"], response, k)
    opened = [{"role": "assistant", "content": prefix(k)}] if k > 1 else []
    assert chat == [{"role": "system", "content": prompts.system}, {"role": "user", "content": PROBLEM["problem"]}] + opened


def test_step_k_and_the_wrong_step():
    assert step_k(f"\n<Step2>{S2}</Step2>\n<Step3>{S3}</Step3>\n<Answer>12</Answer>", 2) == f"<Step2>{S2}</Step2>"
    assert step_k(f"<Step3>{S3}</Step3>", 2) is None and step_k("<Step2>unclosed", 2) is None
    assert wrong_step(CASES[2][0], 2) == WRONG2
    # A solution that stopped after step 2: its premature answer is the wrong "step 3".
    assert wrong_step(student(S1, S2, answer=6), 3) == "<Answer>6</Answer>"
    assert wrong_step(student(S1, answer=8), 3) is None


def test_step_dpo_pairs_are_exact(tokenizer):
    """Chosen = the first right continuation's step k, rejected = the rollout's wrong step k, both
    after the correct steps 1..k-1, in the solve chat; the reasons for the rest are counted."""
    from supercorrect.params_file import load_params
    from tests.conftest import REPO

    prompts, p = load_prompts(), load_params(REPO / "params.yaml", ["mine.max_pairs_per_problem=1"])
    stopped = student(S1, S2, answer=6)
    rollouts = {"r2": {"id": "r2", "response": CASES[2][0]}, "r3": {"id": "r3", "response": stopped},
                "r1": {"id": "r1", "response": CASES[1][0]}, "r2b": {"id": "r2b", "response": CASES[2][0]}}
    corrections = [{"rollout_id": r, "problem_id": "p3", "k": k} for r, k in (("r2", 2), ("r3", 3), ("r1", 1), ("r2b", 2))]
    sampled = [
        # k = 2: a wrong continuation, then a right one (cut to its step 2), then another right one.
        [WRONG2 + "\n<Step3>he has 5*2=10.</Step3>\n<Answer>10</Answer>",
         f"<Step2>{S2}</Step2>\n<Step3>{S3}</Step3>\n<Answer>12</Answer>",
         "<Step2>So 8-2=6.</Step2>\n<Step3>6*2=12</Step3>\n<Answer>12</Answer>"],
        # k = 3 after a solution that stopped early: right, so its step 3 beats the premature answer.
        [f"<Step3>{S3}</Step3>\n<Answer>12</Answer>"],
        # k = 1: nothing right.
        ["<Step1>5+3=9</Step1>\n<Answer>14</Answer>"],
        # the same error again: the same pair as the first.
        [f"<Step2>{S2}</Step2>\n<Step3>{S3}</Step3>\n<Answer>12</Answer>"],
    ]
    requests = [step_dpo_request(prompts, PROBLEM["problem"], rollouts[c["rollout_id"]]["response"], c["k"])
                for c in corrections]
    errors = [Located(c, PROBLEM, rollouts[c["rollout_id"]]) for c in corrections]
    spec = PairSpec(prompts, "solve", Admission(tokenizer, p.mine.max_pairs_per_problem), {"pairs_strategy": "step_dpo"})
    made, notes, counts = step_dpo_pairs(errors, sampled, requests, spec)
    drops = spec.admission.drops
    solve = [{"role": "system", "content": prompts.system}, {"role": "user", "content": PROBLEM["problem"]}]
    assert [(x["prompt"], x["chosen"], x["rejected"]) for x in made] == [
        (solve, [{"role": "assistant", "content": prefix(2) + f"<Step2>{S2}</Step2>"}],
         [{"role": "assistant", "content": prefix(2) + WRONG2}])]
    assert made[0]["context"] == "solve" and made[0]["error_step"] == 2 and made[0]["pairs_strategy"] == "step_dpo"
    assert dict(drops) == {"over max_pairs_per_problem": 1, "no correct continuation": 1, "duplicate pair": 1}
    assert dict(counts) == {"continuations": 6, "right continuations": 4}
    # Without the cap, the early stop gives its pair: the right step 3 against the premature answer.
    p2 = load_params(REPO / "params.yaml")
    spec = PairSpec(prompts, "solve", Admission(tokenizer, p2.mine.max_pairs_per_problem))
    made, _, _ = step_dpo_pairs(errors, sampled, requests, spec)
    drops = spec.admission.drops
    assert [x["rejected"][0]["content"] for x in made] == [prefix(2) + WRONG2,
                                                           f"<Step1>{S1}</Step1>\n<Step2>{S2}</Step2>\n<Answer>6</Answer>"]
    assert made[1]["chosen"][0]["content"] == f"<Step1>{S1}</Step1>\n<Step2>{S2}</Step2>\n<Step3>{S3}</Step3>"
    assert dict(drops) == {"no correct continuation": 1, "duplicate pair": 1}
    for pair, request in zip(made, [requests[0], requests[1]]):
        assert boundary_ok(tokenizer, pair) and generation_matches(tokenizer, request, pair, side="chosen")


# --- one admission for every kind of pair; keep pairs; pooled students ------------------------

RIGHT = student(S1, S2, S3, answer=12)
FALSE_FLAG = ("<Step1>Tom buys 3 more apples, so he has 5+3=8 apples.</Step1>\n<Step2><Cause>8-2 is not 6."
              "</Cause><Correction>Tom gives away 2 apples, so he has 8-2=5 apples.</Correction></Step2>\n<Answer>10</Answer>")


def keep_setup(tokenizer, cap=2):
    spec = PairSpec(load_prompts(), "correction", Admission(tokenizer, cap), {"teacher_model": "reference"})
    return spec, (lambda pid, rid: (PROBLEM | {"id": pid, "problem": f"{PROBLEM['problem']} ({pid})"},
                                     {"id": rid, "problem_id": pid, "response": RIGHT, "model": "models/sft"}))


def test_keep_pairs_prefer_the_solution_as_written_and_pass_the_admission(tokenizer):
    """A right solution whose blind check flags a step: chosen keeps it as written, rejected is the
    flag. A check that flags nothing gives no pair; the same pair twice, the per-problem cap
    shared with the other pairs, and the share's limit each drop one, with the reason counted."""
    from supercorrect.pairs.keep import keep_pairs

    spec, right = keep_setup(tokenizer)
    spec.admission.per_problem["q-full"] = 2  # two correction pairs already admitted for this problem
    items = [right("q1", "q1-s0"), right("q1", "q1-s1"), right("q2", "q2-s0"), right("q-full", "q-full-s0"),
             right("q3", "q3-s0"), right("q4", "q4-s0"), right("q5", "q5-s0")]
    checks = [FALSE_FLAG, FALSE_FLAG, RIGHT, FALSE_FLAG, FALSE_FLAG, FALSE_FLAG, FALSE_FLAG]
    requests = [correction_messages(load_prompts(), q["problem"], r["response"]) for q, r in items]
    made, counts = keep_pairs(items, checks, requests, spec, limit=2)
    assert [m["id"] for m in made] == ["q1-s0-keep", "q3-s0-keep"]
    keep = made[0]
    assert keep["prompt"] == pairs.build_pair(load_prompts(), items[0][0], items[0][1], 1, "", "", {})["prompt"]
    assert keep["chosen"] == [{"role": "assistant", "content": f"<Step1>{S1}</Step1>\n<Step2>{S2}</Step2>\n"
                                                                f"<Step3>{S3}</Step3>\n<Answer>12</Answer>"}]
    assert keep["rejected"] == [{"role": "assistant", "content": FALSE_FLAG}]
    assert keep["error_step"] is None and keep["source_student"] == "models/sft" and keep["teacher_model"] == "reference"
    assert dict(counts) == {"checked": 7, "kept as written": 1, "flagged a right step": 6, "over mine.keep_share": 2,
                            "pairs": 2}
    assert dict(spec.admission.drops) == {"keep pair: duplicate pair": 1, "keep pair: over max_pairs_per_problem": 1}
    assert spec.admission.per_problem == {"q-full": 2, "q1": 1, "q3": 1}


def test_keep_limit_makes_the_share():
    assert [mine.keep_limit(0.3, n) for n in (0, 7, 10, 149)] == [0, 3, 4, 63]  # 0.3 * n / 0.7, rounded down
    assert mine.keep_limit(0.0, 100) == 0 and mine.keep_limit(0.5, 9) == 9


def test_keep_pairs_need_the_correction_context():
    from supercorrect.config import ConfigError
    from supercorrect.params_file import load_params
    from tests.conftest import REPO

    with pytest.raises(ConfigError, match=r"mine\.keep_share: keep pairs are correction traces"):
        load_params(REPO / "params.yaml", ["mine.keep_share=0.2", "mine.pairs=step_dpo"])
    assert load_params(REPO / "params.yaml", ["mine.keep_share=0.2"]).mine.keep_share == 0.2


def test_dedupe_key_holds_the_prompt(tokenizer):
    """The same wrong and right step texts on two problems are two pairs, not a duplicate (Step-DPO's
    prompt is the solve chat, so only the problem tells them apart)."""
    prompts = load_prompts()
    spec = PairSpec(prompts, "solve", Admission(tokenizer, 2))
    response = CASES[2][0]
    errors, requests = [], []
    for pid in ("a", "b", "a"):
        problem = PROBLEM | {"id": pid, "problem": f"{PROBLEM['problem']} ({pid})"}
        errors.append(Located({"rollout_id": f"{pid}-s{len(errors)}", "problem_id": pid, "k": 2}, problem,
                              {"id": f"{pid}-s{len(errors)}", "response": response}))
        requests.append(step_dpo_request(prompts, problem["problem"], response, 2))
    right = [f"<Step2>{S2}</Step2>\n<Step3>{S3}</Step3>\n<Answer>12</Answer>"]
    made, notes, _ = step_dpo_pairs(errors, [right] * 3, requests, spec)
    assert [m["problem_id"] for m in made] == ["a", "b"] and dict(spec.admission.drops) == {"duplicate pair": 1}
    assert notes[0] == {"right_continuations": 1, "chosen_step": f"<Step2>{S2}</Step2>"}


class StubEngine:
    """A student that answers every problem with its own fixed text (`generate`'s contract)."""

    def __init__(self, path, answers):
        self.path, self.answers, self.tokenizer = path, answers, None

    def generate(self, chats, *, num_samples=1, **kw):
        return [[self.answers[self.path]] * num_samples for _ in chats]


def test_pooled_students_roll_out_in_turn_and_are_accounted_for():
    """Rollouts of every student (ids unique, each tagged with its checkpoint), the SFT student's
    engine kept last; then each student's rollouts, wrong ones, localized errors and pairs."""
    from supercorrect.params_file import load_params
    from tests.conftest import REPO

    p = load_params(REPO / "params.yaml", ["mine.samples_per_problem=2", "mine.students=[models/a, models/b]"])
    answers = {"models/sft": RIGHT, "models/a": CASES[2][0], "models/b": CASES[1][0]}
    loaded = []

    def load(path):
        loaded.append(path)
        return StubEngine(path, answers)

    problems = [PROBLEM, PROBLEM | {"id": "p4"}]
    rollouts, engine = mine.pooled_rollouts(load, load_prompts(), problems, p)
    assert loaded == ["models/a", "models/b", "models/sft"] and engine.path == "models/sft"
    assert [r["id"] for r in rollouts] == ["p3-s0", "p3-s1", "p4-s0", "p4-s1", "p3-p1-s0", "p3-p1-s1", "p4-p1-s0",
                                           "p4-p1-s1", "p3-p2-s0", "p3-p2-s1", "p4-p2-s0", "p4-p2-s1"]
    assert [r["correct"] for r in rollouts] == [True] * 4 + [False] * 8
    assert {r["model"] for r in rollouts[4:8]} == {"models/a"}
    # a: 4 wrong, 3 localized (one held out), 2 pairs; b: 4 wrong, 1 localized, 0 pairs; sft: all right.
    corrections = [{"rollout_id": i} for i in ("p3-p1-s0", "p3-p1-s1", "p4-p1-s0", "p3-p2-s1")]
    made = [{"rollout_id": "p3-p1-s0"}, {"rollout_id": "p3-p1-s1"}]
    assert mine.per_student(rollouts, corrections, made) == {
        "models/sft": {"rollouts": 4, "wrong": 0, "localized": 0, "pairs": 0},
        "models/a": {"rollouts": 4, "wrong": 4, "localized": 3, "pairs": 2},
        "models/b": {"rollouts": 4, "wrong": 4, "localized": 1, "pairs": 0}}


def test_pooled_students_take_turns_within_a_problem():
    """The first student's errors must not fill a problem's caps: each student's first error,
    then each one's second; with one student the order is the rollouts' own."""
    from supercorrect.config import MineConfig

    rollouts = [{"id": f"p-{m}-s{i}", "problem_id": "p", "model": m, "correct": False}
                for m in ("models/sft", "a", "b") for i in range(2)]
    assert [r["id"] for r in mine.in_turns(rollouts)] == ["p-models/sft-s0", "p-a-s0", "p-b-s0", "p-models/sft-s1",
                                                         "p-a-s1", "p-b-s1"]
    picked, drops = mine.select_for_teacher(rollouts, MineConfig(max_wrong_per_problem=3))
    assert {r["model"] for r in picked} == {"models/sft", "a", "b"} and drops == {"over max_wrong_per_problem": 3}
    one = rollouts_of("q", [False, True, False, False])
    assert mine.in_turns(one) == one


def test_pairs_none_sends_the_teacher_only_the_held_out_errors():
    from supercorrect.config import MineConfig

    rollouts = rollouts_of("a", [False, False]) + rollouts_of("b", [False, True]) + rollouts_of("c", [True, True])
    picked, drops = mine.select_for_teacher(rollouts, MineConfig(pairs="none"), held=lambda pid: pid == "b")
    assert [r["id"] for r in picked] == ["b-s0"] and drops == {"not held out (mine.pairs: none)": 2}
    picked, _ = mine.select_for_teacher(rollouts, MineConfig(), held=lambda pid: pid == "b")
    assert len(picked) == 3  # the default sends every wrong rollout
