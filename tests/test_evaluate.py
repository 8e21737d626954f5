"""Tests for stage `evaluate`: scoring of greedy responses against gold answers."""

from __future__ import annotations

from supercorrect.evaluate import score


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
    assert summary == {"accuracy": 0.5, "n": 4, "correct": 2, "no_answer": 1}
    assert [r["correct"] for r in rows] == [True, False, False, True]
    assert rows[1]["extracted"] == "11" and rows[2]["extracted"] is None
