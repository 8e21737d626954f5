"""Tests for stage `evaluate`: scoring, pass@k, maj@k, bootstrap intervals, breakdowns, self-correction.

    cd /work/main && .venv/bin/python -m pytest tests/test_evaluate.py -q
"""

from __future__ import annotations

import pytest

from supercorrect.evaluate import breakdown, compare_passes, score, write_plots
from supercorrect.grading.judge import compare_graders
from supercorrect.grading.stats import accuracy_by, bootstrap_ci, ks_for, majority_correct, pass_at_k


def test_score_counts_correct_and_missing_answers():
    problems = [{"id": "a", "answer": "6"}, {"id": "b", "answer": "12"}, {"id": "c", "answer": "3"},
                {"id": "d", "answer": "1/2"}]
    responses = [
        "<Step1>5+1=6</Step1><Generalized>g</Generalized><Answer>6</Answer>",  # right
        "<Step1>12 apples, then 6*2=11</Step1><Answer>11</Answer>",          # wrong despite a 12 inside
        "<Step1>no idea</Step1>",                                              # no answer at all
        "<Answer>0.5</Answer>",                                                # equivalent form
    ]
    summary, rows = score(problems, responses)
    assert summary == {"accuracy": 0.5, "n": 4, "correct": 2, "no_answer": 1, "timeouts": 0}
    assert [r["correct"] for r in rows] == [True, False, False, True]
    assert rows[1]["extracted"] == "11" and rows[2]["extracted"] is None


def test_math_verify_accuracy_beside_ours_and_where_the_graders_part():
    """The contract fields `math_verify_accuracy` and `grader_disagreements` (docs/grading.md).

    By hand: 0.3333 is 1/3 to four significant digits (ours: right), but math-verify compares
    six decimals (wrong); `10cm` in math is 10·c·m (ours: wrong), math-verify drops the unit
    (right); the other two agree. Each grader: 2 of 4 right; they part on 2 answers.
    """
    problems = [{"id": "a", "answer": "\\frac{1}{3}"}, {"id": "b", "answer": "6"}, {"id": "c", "answer": "10"},
                {"id": "d", "answer": "6"}]
    responses = ["The probability is $\\boxed{0.3333}$.", "So $\\boxed{6}$.", "The rod is $\\boxed{10cm}$.",
                 "So $\\boxed{7}$."]
    summary, rows = score(problems, responses, time_limit_s=60)
    got = compare_graders(rows, time_limit_s=60, workers=2)
    assert summary["accuracy"] == 0.5
    assert got == {"math_verify_accuracy": 0.5, "grader_disagreements": 2, "math_verify_timeouts": 0}
    assert [(r["correct"], r["math_verify"]) for r in rows] == [(True, False), (True, True), (False, True),
                                                               (False, False)]


def test_math_verify_is_killed_past_the_limit_and_counts_as_wrong():
    # math-verify alone can hang in sympy like our symbolic path; the same kill holds it.
    rows = [{"response": "$\\boxed{(x+1)^{99999}}$", "gold": "x^2+1", "correct": False}]
    got = compare_graders(rows, time_limit_s=0.5)
    assert got == {"math_verify_accuracy": 0.0, "grader_disagreements": 0, "math_verify_timeouts": 1}
    assert rows[0]["math_verify"] is False


@pytest.mark.parametrize("n, c, k, expected", [
    (5, 2, 1, 0.4),            # c / n
    (5, 2, 2, 0.7),            # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (5, 0, 3, 0.0),
    (5, 4, 2, 1.0),            # n - c < k: every pair holds a correct sample
    (10, 3, 4, 1 - 35 / 210),  # 1 - C(7,4)/C(10,4)
])
def test_pass_at_k_unbiased_estimator(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize("n, c, k", [(5, 6, 1), (5, 2, 0), (5, 2, 6)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_majority_vote_uses_the_first_k_samples_and_ignores_missing_answers():
    answers = ["3", "4", "4", None, None, "3", "3"]
    correct = [True, False, False, False, False, True, True]
    assert majority_correct(answers, correct, 3) is False  # 4 wins 2:1
    assert majority_correct(answers, correct, 7) is True   # 3 wins 3:2, None never votes
    assert majority_correct(["5", "3"], [False, True], 2) is False  # tie: the first seen wins
    assert majority_correct([None, None], [False, False], 2) is False
    assert ks_for(1) == [1] and ks_for(8) == [1, 2, 4, 8] and ks_for(5) == [1, 2, 4, 5]


def test_score_with_samples_reports_pass_and_maj_at_k():
    problems = [{"id": "a", "answer": "6"}, {"id": "b", "answer": "2"}]
    samples = [["<Answer>6</Answer>", "<Answer>5</Answer>", "<Answer>5</Answer>", "<Answer>6</Answer>"],
               ["<Answer>7</Answer>"] * 4]
    summary, rows = score(problems, samples)
    assert len(rows) == 8 and summary["n"] == 2
    assert summary["accuracy"] == pytest.approx(2 / 8)
    assert summary["pass_at_1"] == pytest.approx((0.5 + 0.0) / 2)
    assert summary["pass_at_2"] == pytest.approx((1 - 1 / 6) / 2)  # a: 1 - C(2,2)/C(4,2)
    assert summary["pass_at_4"] == pytest.approx(0.5)
    assert summary["maj_at_1"] == 0.5 and summary["maj_at_2"] == 0.5  # a: "6" first in a 1:1 tie
    assert summary["maj_at_4"] == 0.5


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = [1.0] * 60 + [0.0] * 40
    low, high = bootstrap_ci(values, resamples=2000, seed=7)
    assert (low, high) == bootstrap_ci(values, resamples=2000, seed=7)
    assert bootstrap_ci(values, resamples=2000, seed=8) != (low, high)
    assert 0.45 < low < 0.6 < high < 0.75
    assert bootstrap_ci([1.0] * 20) == (1.0, 1.0)
    assert bootstrap_ci([]) == (0.0, 0.0)


def test_accuracy_by_groups_and_sorts_levels_numerically():
    rows = [{"level": 10, "correct": True}, {"level": 2, "correct": False}, {"level": 2, "correct": True},
            {"correct": True}]
    by_level = accuracy_by(rows, "level")
    assert list(by_level) == ["2", "10", "unknown"]
    assert by_level["2"] == {"accuracy": 0.5, "n": 2}


def test_breakdown_treats_the_problem_as_the_unit(tmp_path):
    problems = [{"id": "a", "answer": "1", "subject": "algebra", "level": 1},
                {"id": "b", "answer": "2", "subject": "algebra", "level": 2},
                {"id": "c", "answer": "3", "subject": "geometry", "level": 2}]
    samples = [["<Answer>1</Answer>", "<Answer>0</Answer>"], ["<Answer>2</Answer>"] * 2, ["<Answer>0</Answer>"] * 2]
    summary, rows = score(problems, samples)
    got = breakdown(rows, resamples=500, seed=0)
    assert got["by_subject"] == {"algebra": {"accuracy": 0.75, "n": 2}, "geometry": {"accuracy": 0.0, "n": 1}}
    assert got["by_level"] == {"1": {"accuracy": 0.5, "n": 1}, "2": {"accuracy": 0.5, "n": 2}}
    assert 0.0 <= got["ci95_low"] <= summary["accuracy"] <= got["ci95_high"] <= 1.0

    write_plots(tmp_path, {"math": {"dpo": {"accuracy": summary["accuracy"], **got}}}, "dpo")
    assert (tmp_path / "evaluate_by_subject.csv").read_text().splitlines() == [
        "benchmark,subject,accuracy,n", "math,algebra,0.7500,2", "math,geometry,0.0000,1"]
    assert (tmp_path / "evaluate_by_level.csv").read_text().splitlines()[0] == "benchmark,level,accuracy,n"


def test_self_correction_flips_are_counted_and_silence_keeps_the_first_answer():
    first = [{"correct": False, "extracted": "1"}, {"correct": True, "extracted": "2"},
             {"correct": True, "extracted": "3"}, {"correct": False, "extracted": "4"}]
    second = [{"correct": True, "extracted": "5"}, {"correct": False, "extracted": "9"},
              {"correct": False, "extracted": None}, {"correct": False, "extracted": "4"}]
    got = compare_passes(first, second)
    assert got == {"accuracy_before": 0.5, "accuracy_after": 0.5, "wrong_to_right": 1, "right_to_wrong": 1,
                   "no_answer_after": 1, "n": 4}


def test_self_correction_figures_for_one_checkpoint():
    """Net gain is after - before over problems; its CI comes from the same seeded bootstrap."""
    from supercorrect.evaluate import self_correction
    from supercorrect.grading.stats import bootstrap_ci

    first = [{"correct": c, "extracted": "1"} for c in (False, False, True, True, False)]
    second = [{"correct": c, "extracted": x} for c, x in ((True, "2"), (True, "3"), (True, "1"), (False, None), (False, "5"))]
    got = self_correction(first, second, resamples=200, seed=3)
    assert got["accuracy_before"] == 0.4 and got["accuracy_after"] == 0.8
    assert got["wrong_to_right"] == 2 and got["right_to_wrong"] == 0 and got["no_answer_after"] == 1
    assert got["net_gain"] == pytest.approx(0.4)
    assert got["net_gain_ci"] == list(bootstrap_ci([1.0, 1.0, 0.0, 0.0, 0.0], resamples=200, seed=3))
    assert got["net_gain_ci"][0] <= 0.4 <= got["net_gain_ci"][1]


def test_heldout_locate_and_fix_rates():
    """locate: the trace flags the teacher's k; fix: the corrected answer is right (graded outside)."""
    from supercorrect.evaluate import heldout_errors

    cases = [{"k": 2}, {"k": 1}, {"k": 3}, {"k": 1}]
    traces = ["<Step1>a</Step1>\n<Step2><Cause>x</Cause><Correction>y</Correction></Step2>",
              "<Step1>a</Step1>\n<Step2><Cause>x</Cause>", "<Step1>a</Step1><Answer>5</Answer>",
              "<Step1><Cause>c</Cause><Correction>d</Correction></Step1><Answer>6</Answer>"]
    got = heldout_errors(cases, traces, [True, False, False, True])
    assert got == {"n": 4, "locate_rate": 0.5, "fix_rate": 0.5, "named_a_step": 3}



# --- verification: both sides of the flag decision ----------------------------------------------

# Two held-out errors (first wrong step k = 2) and one right answer, and the flag probability a
# stub checkpoint gives each step: wrong steps 0.9 and 0.5, right ones 0.2, 0.6, 0.1 and 0.4.
ERROR_A = "<Step1>5+3=8</Step1>\n<Step2>8-2=5</Step2>\n<Answer>5</Answer>"
ERROR_B = "<Step1>4*2=8</Step1>\n<Step2>8+1=10</Step2>\n<Answer>10</Answer>"
RIGHT_C = "<Step1>6+1=7</Step1>\n<Step2>7*2=14</Step2>\n<Answer>14</Answer>"
FLAG_PROB = {(ERROR_A, 1): 0.2, (ERROR_A, 2): 0.9, (ERROR_B, 1): 0.6, (ERROR_B, 2): 0.5,
             (RIGHT_C, 1): 0.1, (RIGHT_C, 2): 0.4}


def stub_logprobs(chats, continuations, *, batch_size, desc):
    """A checkpoint whose log-probability of the flag after `<Stepj>` is chosen per (solution, j)."""
    import math

    from supercorrect.formats.templates import FLAG

    assert set(continuations) == {FLAG} and batch_size == 7
    out = []
    for chat in chats:
        solution = chat[1]["content"].split("Solution:\n", 1)[1]
        opened = chat[-1]["content"]
        j = opened.count("<Step")
        assert chat[-1]["role"] == "assistant" and opened.endswith(f"<Step{j}>")
        assert opened == "".join(f"{s}\n" for s in solution.split("\n")[: j - 1]) + f"<Step{j}>"  # steps before j as given
        out.append(math.log(FLAG_PROB[(solution, j)]))
    return out


def test_step_scores_read_one_flag_probability_per_step_with_the_steps_before_it():
    from supercorrect.evaluate import step_scores
    from supercorrect.formats.prompts import V2

    got = step_scores(stub_logprobs, V2, [("p", ERROR_A, 2), ("q", ERROR_B, 2), ("r", RIGHT_C, None)], batch_size=7,
                      desc="test")
    assert got == [[(pytest.approx(0.2), False), (pytest.approx(0.9), True)],
                   [(pytest.approx(0.6), False), (pytest.approx(0.5), True)],
                   [(pytest.approx(0.1), False), (pytest.approx(0.4), False)]]
    # An error at k = 1 is scored at step 1 only; a right answer with no steps gives none.
    assert step_scores(stub_logprobs, V2, [("p", ERROR_A, 1), ("s", "<Answer>3</Answer>", None)], batch_size=7,
                       desc="test") == [[(pytest.approx(0.2), True)], []]


def test_a_missing_step_is_decided_after_the_last_step_written():
    """A solution that stopped after step 2 (the teacher's k = 3): the check copies both steps,
    then either flags a step 3 or goes on to the answer; the flag scored is `<Step3><Cause>`."""
    from supercorrect.evaluate import step_check
    from supercorrect.formats.prompts import V2

    chat, flag = step_check(V2, "p", ERROR_A, 3)
    assert chat[-1] == {"role": "assistant", "content": "<Step1>5+3=8</Step1>\n<Step2>8-2=5</Step2>\n"}
    assert flag == "<Step3><Cause>"
    chat, flag = step_check(V2, "p", ERROR_A, 2)
    assert chat[-1]["content"].endswith("</Step1>\n<Step2>") and flag == "<Cause>"


def test_step_auc_and_its_interval_by_hand():
    """AUC: wrong 0.9 beats all four right steps, wrong 0.5 beats 0.2, 0.1, 0.4 but not 0.6: 7/8.
    The bootstrap redraws the two errors (AA, AB, BA or BB) beside the one right answer: AA gives
    1.0 (0.9 above 0.2, 0.2, 0.1, 0.4), BB gives 0.5 (0.5 above 0.1 and 0.4 only, not 0.6 twice),
    AB gives 0.875; each of AA and BB is a quarter of the draws, so the 95 % interval is [0.5, 1.0]."""
    from supercorrect.grading.stats import auc, grouped_auc

    steps = [[(0.2, False), (0.9, True)], [(0.6, False), (0.5, True)], [(0.1, False), (0.4, False)]]
    point, ci = grouped_auc(steps, resamples=1000, seed=0)
    assert point == pytest.approx(0.875) and ci == [pytest.approx(0.5), pytest.approx(1.0)]
    assert grouped_auc(steps, resamples=1000, seed=0) == (point, ci)  # seeded
    assert auc([0.3, 0.3], [True, False]) == 0.5  # a tie counts one half
    assert auc([0.9, 0.1], [False, True]) == 0.0
    assert grouped_auc([[(0.2, False)], [(0.4, False)]]) == (None, None)  # no wrong step: no AUC


def test_false_flag_and_missed_error_rates_and_the_diagnosis():
    from supercorrect.evaluate import diagnosis, verification

    right_checks = ["<Step1><Cause>no</Cause><Correction>6+1=7</Correction></Step1>\n<Answer>7</Answer>",  # false flag
                    "<Step1>6+1=7</Step1>\n<Step2>7*2=14</Step2>\n<Answer>14</Answer>",                       # kept
                    "<Step1>6+1=7</Step1>\n<Step2><Cause>x</Cause><Correction>y</Correction></Step2>"]        # false flag
    error_checks = ["<Step1>5+3=8</Step1>\n<Step2>8-2=5</Step2>\n<Answer>5</Answer>",                       # missed
                    "<Step1>4*2=8</Step1>\n<Step2><Cause>8+1=9</Cause><Correction>8+1=9</Correction></Step2>"]  # found
    steps = [[(0.2, False), (0.9, True)], [(0.6, False), (0.5, True)], [(0.1, False), (0.4, False)]]
    v = verification(right_checks, error_checks, steps, resamples=1000, seed=0)
    assert v["false_flag_rate"] == pytest.approx(2 / 3) and v["missed_error_rate"] == pytest.approx(1 / 2)
    assert (v["n_right_steps"], v["n_wrong_steps"], v["n_right_answers"], v["n_errors"]) == (4, 2, 3, 2)
    assert v["step_auc"] == pytest.approx(0.875) and v["step_auc_ci"] == [pytest.approx(0.5), pytest.approx(1.0)]
    assert v["mean_flag_prob_right"] == pytest.approx(1.3 / 4) and v["mean_flag_prob_wrong"] == pytest.approx(0.7)
    assert v["flag_prob_histogram"]["right"] == [0, 1, 1, 0, 1, 0, 1, 0, 0, 0]
    assert v["flag_prob_histogram"]["wrong"] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert diagnosis("dpo", v) == ("dpo cannot tell right steps from wrong ones (step AUC 0.88 [0.50, 1.00]): "
                                   "self-correction cannot gain until it can.")
    sharp = v | {"step_auc": 0.8, "step_auc_ci": [0.7, 0.9]}
    assert diagnosis("sft", sharp) == ("sft tells wrong steps from right ones (step AUC 0.80 [0.70, 0.90]): its check "
                                       "flags 50% of known errors and 67% of right answers.")
    slight = v | {"step_auc": 0.58, "step_auc_ci": [0.51, 0.64], "false_flag_rate": 1.0, "missed_error_rate": 0.0}
    assert diagnosis("dpo", slight) == ("dpo tells wrong steps from right ones only slightly (step AUC 0.58 [0.51, "
                                        "0.64]): its check flags 100% of known errors and 100% of right answers.")
    assert "points the wrong way" in diagnosis("sft", v | {"step_auc": 0.2, "step_auc_ci": [0.1, 0.3]})
    # Decided on the bounds it prints: a lower bound of 0.5015 shows as 0.50, so it holds 0.5.
    assert "cannot tell" in diagnosis("sft", v | {"step_auc": 0.55, "step_auc_ci": [0.5015, 0.594]})
    none = verification([], [], [], resamples=100, seed=0)
    assert none["false_flag_rate"] is None and none["missed_error_rate"] is None and none["step_auc"] is None
    assert "no held-out errors" in diagnosis("sft", none)
