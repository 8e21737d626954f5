"""Stage `prepare`: synthetic generator, problem loaders (supercorrect.data.loaders) and the stage itself.

    .venv/bin/python -m pytest tests/test_prepare.py -q

Tests that read the real datasets in ../shared/data skip when the files are absent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pydantic import ValidationError

from supercorrect.config import ConfigError, Params
from supercorrect.data.loaders import (DataError, NoAnswerError, detect_format, find_contamination,
                                       find_overlaps, last_boxed, load_problems, normalize_text, problem_id)
from supercorrect.data.synthetic import generate_problems
from supercorrect.formats.gsm8k_notes import gold_steps
from supercorrect.prepare import run

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
KEYS = {"id", "source", "split", "problem", "solution", "answer", "subject", "level"}


def write_lines(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
                    encoding="utf-8")
    return path


def gsm(question: str, answer: str) -> dict:
    return {"question": question, "answer": f"It is {answer}.\n#### {answer}"}


# --- gsm8k_notes.gold_steps --------------------------------------------------------------

def test_gold_steps_reads_gsm8k_notes_in_order():
    solution = ("In the beginning, Betty has only 100 / 2 = $<<100/2=50>>50.\n"
                "Betty's grandparents gave her 15 * 2 = $<<15*2=30>>30.\n"
                "This means, Betty needs 100 - 50 - 30 - 15 = $<<100-50-30-15=5>>5 more.\n#### 5")
    assert gold_steps(solution) == [("100/2", "50"), ("15*2", "30"), ("100-50-30-15", "5")]
    assert gold_steps("Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.") == [("12/60", "0.2")]
    assert gold_steps("No notes here.\n#### 3") == []


# --- synthetic.generate_problems ----------------------------------------------------------

def test_generator_is_deterministic_and_seed_dependent():
    a = generate_problems(40, seed=7, max_steps=3, max_number=12)
    assert a == generate_problems(40, seed=7, max_steps=3, max_number=12)
    assert a != generate_problems(40, seed=8, max_steps=3, max_number=12)


def test_every_synthetic_solution_checks_out():
    problems = generate_problems(300, seed=1, max_steps=3, max_number=9, split="mine")
    assert len({normalize_text(q["problem"]) for q in problems}) == 300
    for q in problems:
        assert set(q) == KEYS
        assert q["id"] == problem_id("synthetic", q["problem"])
        assert re.fullmatch(r"synthetic-[0-9a-f]{12}", q["id"])
        assert (q["source"], q["split"], q["subject"]) == ("synthetic", "mine", "arithmetic")
        steps = gold_steps(q["solution"])
        lines = q["solution"].split("\n")
        assert len(steps) == q["level"] == len(lines) - 1 and 1 <= q["level"] <= 3
        assert lines[-1] == f"#### {q['answer']}"
        start = int(re.search(r" has (\d+) ", q["problem"]).group(1))
        assert 2 <= start <= 9
        previous = start
        for (expr, value), line in zip(steps, lines):
            left, op, right = re.fullmatch(r"(\d+)([-+*])(\d+)", expr).groups()
            assert int(left) == previous            # each step continues from the last value
            assert 2 <= int(right) <= 9              # operands within 2..max_number
            assert eval(expr) == int(value) >= 0     # the note's arithmetic is right
            # The step restates the sentence of the problem it works on.
            action = re.match(r"\w+ (.+), so ", line).group(1)
            assert f" {action}." in q["problem"]
            previous = int(value)
        assert steps[-1][1] == q["answer"]


def test_generator_stops_when_too_few_distinct_problems_exist():
    # max_number=2, one step: start is 2 and the step is +2, -2 (two templates each) or *2:
    # 8 names x 8 items x 5 steps = 320 distinct problems.
    assert len(generate_problems(320, seed=0, max_steps=1, max_number=2)) == 320
    with pytest.raises(ValueError, match="only 320 distinct problems"):
        generate_problems(321, seed=0, max_steps=1, max_number=2)


# --- data: errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("line, message", [
    ('{"question": ', "invalid JSON: Expecting value (column 14)"),
    ('[1, 2]', "expected a JSON object, got list"),
    ('{"question": "How many?"}', "field 'answer': missing"),
    ('{"question": "  ", "answer": "#### 1"}', "field 'question': empty"),
    ('{"question": 5, "answer": "#### 5"}', "field 'question': expected a string, got int"),
    ('{"question": "How many?", "answer": "It is 5."}', "field 'answer': no final answer after '####'"),
    ('{"question": "How many?", "answer": null}', "field 'answer': missing"),
])
def test_gsm8k_errors_name_file_line_and_field(tmp_path, line, message):
    path = write_lines(tmp_path / "x.jsonl", [gsm("Fine?", "1"), "", line])
    with pytest.raises(DataError) as err:
        load_problems(path)
    assert str(err.value) == f"{path}:3: {message}"


def test_math_errors(tmp_path):
    ok = {"problem": "p", "solution": "so $\\boxed{1}$", "level": "Level 2", "type": "Algebra"}
    cases = [
        ({**ok, "solution": "Therefore there are $\\boxed{}$ primes."}, "field 'solution': no \\boxed{...} answer"),
        ({**ok, "level": "hard"}, "field 'level': expected an int or 'Level N', got 'hard'"),
        ({k: v for k, v in ok.items() if k != "type"}, "field 'type': missing"),
        ({k: v for k, v in ok.items() if k != "level"}, "field 'level': missing"),
    ]
    for record, message in cases:
        path = write_lines(tmp_path / "m.jsonl", [{**ok, "problem": "first"}, record])
        with pytest.raises(DataError) as err:
            load_problems(path)
        assert str(err.value) == f"{path}:2: {message}"
    # The empty box is a NoAnswerError, which on_error="skip" turns into a reported skip.
    path = write_lines(tmp_path / "m.jsonl", [ok, {**ok, "problem": "q", "solution": "$\\boxed{}$"}])
    with pytest.raises(NoAnswerError):
        load_problems(path)
    dropped = []
    assert [q["problem"] for q in load_problems(path, on_error="skip", dropped=dropped)] == ["p"]
    assert dropped == [{"where": f"{path}:2", "reason": "no_answer",
                        "message": "field 'solution': no \\boxed{...} answer"}]


def test_invalid_utf8_names_line_and_byte(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"question": "a", "answer": "#### 1"}\n{"question": "caf\xe9", "answer": "#### 2"}\n')
    with pytest.raises(DataError) as err:
        load_problems(path)
    # `{"question": "caf` is 17 bytes, so the bad byte is the 18th.
    assert str(err.value) == f"{path}:2: invalid UTF-8 at byte 18"


def test_duplicates_same_answer_dropped_different_answer_rejected(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [gsm("How many  eggs?", "4"), gsm("Other?", "1"),
                                              gsm("how many eggs?", "4")])
    dropped = []
    assert [q["answer"] for q in load_problems(path, dropped=dropped)] == ["4", "1"]
    assert dropped == [{"where": f"{path}:3", "reason": "duplicate", "id": problem_id("gsm8k", "how many eggs?"),
                        "message": f"same problem as {path}:1"}]
    path = write_lines(tmp_path / "d.jsonl", [gsm("How many  eggs?", "4"), gsm("how many eggs?", "5")])
    with pytest.raises(DataError) as err:
        load_problems(path)
    qid = problem_id("gsm8k", "how many eggs?")
    assert str(err.value) == (f"{path}:2: field 'question': duplicate id {qid} (same problem as "
                              f"{path}:1) with a different answer: '5' vs '4'")


def test_file_level_errors(tmp_path):
    with pytest.raises(DataError, match=r"nope\.jsonl: file not found$"):
        load_problems(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match=r"empty\.jsonl: no usable records$"):
        load_problems(write_lines(tmp_path / "empty.jsonl", [""]))
    path = write_lines(tmp_path / "odd.jsonl", [{"text": "hi"}])
    with pytest.raises(DataError, match=r"odd\.jsonl:1: unknown format \(keys: text\)"):
        load_problems(path)


# --- data: formats ----------------------------------------------------------------------------

def test_boxed_extraction_handles_nesting_and_bare_tokens():
    assert last_boxed("first $\\boxed{1}$, finally $\\boxed{\\frac{a}{b^{2}}}$.") == "\\frac{a}{b^{2}}"
    assert last_boxed("$\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$") == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert last_boxed("so $x^2 + y^2 = \\boxed 9$.") == "9"
    assert last_boxed("\\boxed {5}") == "5"
    assert last_boxed("\\fbox{7}") == "7"
    assert last_boxed("\\boxed{\\frac{1}{2}") is None      # never closes
    assert last_boxed("no box at all") is None


def test_format_detection_and_conversion(tmp_path):
    assert detect_format({"question": "", "answer": ""}) == "gsm8k"
    assert detect_format({"problem": "", "solution": "", "level": "", "type": ""}) == "math"
    assert detect_format({"problem": "", "solution": "", "answer": "", "subject": "", "level": 1}) == "math500"
    assert detect_format({"id": "", "source": "", "problem": "", "solution": "", "answer": ""}) == "problems"
    assert detect_format({"id": "", "problem": "", "answer": ""}) == "qa"
    assert detect_format({"id": "", "source": "", "problem": "", "answer": "", "solution": None}) == "qa"
    # A MATH500 record that lost its solution stays MATH500 and fails as such (in every stage).
    assert detect_format({"problem": "", "answer": "", "subject": "", "level": 1, "unique_id": ""}) == "math500"

    g = load_problems(write_lines(tmp_path / "g_test.jsonl", [
        {"question": "Josh buys a house.", "answer": "80,000+50,000=<<80000+50000=130000>>130,000\n#### 1,080"}]))
    assert g == [{"id": problem_id("gsm8k", "Josh buys a house."), "source": "gsm8k", "split": "test",
                  "problem": "Josh buys a house.",
                  "solution": "80,000+50,000=<<80000+50000=130000>>130,000\n#### 1,080",
                  "answer": "1080", "subject": "arithmetic", "level": None}]

    m = load_problems(write_lines(tmp_path / "m.jsonl", [
        {"problem": "Find $x$.", "level": "Level 3", "type": "Number Theory",
         "solution": "We get $\\boxed{\\frac{1}{2}}$.", "unique_id": "train/x/1.json"},
        {"problem": "Find $y$.", "level": "Level ?", "type": "Algebra", "solution": "$\\boxed{2}$"}]))
    assert [(q["split"], q["source"], q["answer"], q["subject"], q["level"]) for q in m] == [
        ("train", "math", "\\frac{1}{2}", "Number Theory", 3), ("train", "math", "2", "Algebra", None)]

    m5 = load_problems(write_lines(tmp_path / "m5.jsonl", [
        {"problem": "Find $x$.", "solution": "$\\boxed{3}$", "answer": "3", "subject": "Algebra",
         "level": 2, "unique_id": "test/algebra/1.json"}]), source="math500", split="mine")
    assert [(q["id"], q["split"], q["answer"], q["subject"], q["level"]) for q in m5] == [
        (problem_id("math500", "Find $x$."), "mine", "3", "Algebra", 2)]

    # A bare benchmark, as AIME files come (an id, the problem, an integer answer): evaluate
    # takes it; anything that trains or mines needs the reference solution and says so.
    qa = write_lines(tmp_path / "aime.jsonl", [{"id": "2024-I-2", "problem": "Find $n$.", "answer": 204},
                                               {"problem": "Find $m$.", "answer": " 1/2 ", "level": "Level 5"},
                                               {"problem": "Find $k$.", "answer": "7", "source": "aime24"}])
    assert [(q["id"], q["source"], q["solution"], q["answer"], q["level"])
            for q in load_problems(qa, solution_required=False)] == [
        (problem_id("qa", "Find $n$."), "qa", "", "204", None), (problem_id("qa", "Find $m$."), "qa", "", "1/2", 5),
        (problem_id("aime24", "Find $k$."), "aime24", "", "7", None)]
    with pytest.raises(DataError, match=r"aime\.jsonl:1: field 'solution': missing \(only an evaluate\.benchmarks "
                                        r"file may lack reference solutions\)$"):
        load_problems(qa)
    for answer, message in [(True, "expected a string, got bool"), ("  ", "empty"), (None, "missing")]:
        bad = write_lines(tmp_path / "bad_qa.jsonl", [{"problem": "Find $k$.", "answer": answer}])
        with pytest.raises(DataError, match=rf"bad_qa\.jsonl:1: field 'answer': {message}$"):
            load_problems(bad, solution_required=False)

    # The pipeline's own output reads back unchanged (format "problems").
    synthetic = generate_problems(5, seed=3, split="test")
    assert load_problems(write_lines(tmp_path / "own.jsonl", synthetic)) == synthetic
    with pytest.raises(ValueError, match="unknown format 'csv'"):
        load_problems(tmp_path / "own.jsonl", format="csv")


# --- prepare.run --------------------------------------------------------------------------------

def params(tmp_path: Path, **prepare) -> Params:
    return Params.model_validate({"prepare": {"out_dir": str(tmp_path / "out"),
                                              "metrics": str(tmp_path / "metrics" / "prepare.json"),
                                              **prepare}})


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_prepare_synthetic_writes_disjoint_splits(tmp_path):
    p = params(tmp_path, synthetic={"n_train": 30, "n_mine": 6, "n_test": 4})
    counts = run(p)
    by_level = {split: dict(Counter(str(q["level"]) for q in read(tmp_path / "out" / f"{split}.jsonl")))
                for split in ("train", "mine", "test")}
    expected = {"source": "synthetic", "train": 30, "mine": 6, "test": 4, "loaded": {},
                "by_source": {"train": {"synthetic": 30}, "mine": {"synthetic": 6}, "test": {"synthetic": 4}},
                "by_subject": {"train": {"arithmetic": 30}, "mine": {"arithmetic": 6}, "test": {"arithmetic": 4}},
                "by_level": by_level, "dropped": {},
                "contamination": {"exact_pairs": 0, "near_pairs": 0, "template_pairs": 0,
                                  "leaked_test_problems": 0, "template_only_test_problems": 0}}
    assert counts == expected and sum(by_level["train"].values()) == 30
    assert json.loads((tmp_path / "metrics" / "prepare.json").read_text()) == expected
    texts = {}
    for split, n in [("train", 30), ("mine", 6), ("test", 4)]:
        rows = read(tmp_path / "out" / f"{split}.jsonl")
        assert len(rows) == n and {q["split"] for q in rows} == {split}
        texts[split] = {normalize_text(q["problem"]) for q in rows}
        assert len(texts[split]) == n
    assert not texts["train"] & texts["mine"] and not texts["train"] & texts["test"]
    assert not texts["mine"] & texts["test"]
    # Test comes first in the stream: more training data leaves the test set as it was.
    before = (tmp_path / "out" / "test.jsonl").read_text()
    run(params(tmp_path, synthetic={"n_train": 50, "n_mine": 6, "n_test": 4}))
    assert (tmp_path / "out" / "test.jsonl").read_text() == before


def test_prepare_local_decontaminates_dedupes_caps_and_holds_out_mine(tmp_path):
    train_a = [gsm(f"Question {i}?", str(i)) for i in range(10)]
    train_a[4] = gsm("  what is TWO plus two? ", "4")          # a test problem in disguise
    train_b = [gsm("Question 7?", "7")]                         # listed in both train files
    test = [gsm("What is two plus two?", "4"), gsm("Test one?", "1"), gsm("Test two?", "2")]
    files = dict(train=[str(write_lines(tmp_path / "a.jsonl", train_a)),
                        str(write_lines(tmp_path / "b.jsonl", train_b))],
                 test=[str(write_lines(tmp_path / "t.jsonl", test))])
    p = params(tmp_path, source="local", local=files, mine_fraction=0.3, test_limit=2, seed=5)
    counts = run(p)
    # 11 train lines - 1 cross-file copy - 1 test copy = 9; mine = round(9 * 0.3) = 3.
    assert {k: counts[k] for k in ("train", "mine", "test", "by_source", "dropped")} == {
        "train": 6, "mine": 3, "test": 2,
        "by_source": {"train": {"gsm8k": 6}, "mine": {"gsm8k": 3}, "test": {"gsm8k": 2}},
        "dropped": {"contaminated": 1, "duplicate": 1}}
    assert counts["contamination"]["exact_pairs"] == 1
    assert counts["loaded"] == {files["train"][0]: 10, files["train"][1]: 1, files["test"][0]: 3}
    leak_id, test_id = problem_id("gsm8k", "what is TWO plus two?"), problem_id("gsm8k", "What is two plus two?")
    assert read(tmp_path / "out" / "dropped.jsonl") == [
        {"id": problem_id("gsm8k", "Question 7?"), "reason": "duplicate",
         "message": f"same problem as {problem_id('gsm8k', 'Question 7?')}"},
        {"id": leak_id, "reason": "contaminated", "test_id": test_id, "kind": "exact",
         "message": f"exact copy of test problem {test_id}"}]
    train, mine = read(tmp_path / "out" / "train.jsonl"), read(tmp_path / "out" / "mine.jsonl")
    clean = [f"Question {i}?" for i in range(10) if i != 4]
    assert sorted(q["problem"] for q in train + mine) == sorted(clean)
    test_rows = read(tmp_path / "out" / "test.jsonl")
    assert {q["split"] for q in test_rows} == {"test"} and len({q["id"] for q in test_rows}) == 2
    # Same seed, same split into train and mine.
    run(p)
    assert read(tmp_path / "out" / "mine.jsonl") == mine


def test_prepare_local_without_files_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="prepare.local.train: no files listed"):
        run(params(tmp_path, source="local"))


# --- hub ----------------------------------------------------------------------------------------

def test_load_hub_reads_a_dataset_dir_and_fails_cleanly_offline(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    write_lines(ds / "train.jsonl", [gsm("Q1?", "1"), gsm("Q2?", "2")])
    write_lines(ds / "test.jsonl", [gsm("T1?", "3")])
    # A child process, so the offline switch and the cache dir never touch this test process.
    script = f"""
import json
from supercorrect.data.loaders import DataError, load_hub
out = {{"test": [(q["id"], q["split"], q["answer"]) for q in load_hub({str(ds)!r}, None, "test")]}}
try:
    load_hub("openai/gsm8k", "main", "train")
except DataError as exc:
    out["error"] = str(exc)
print(json.dumps(out))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["test"] == [[problem_id("gsm8k", "T1?"), "test", "3"]]
    assert out["error"].startswith("hub:openai/gsm8k/main[train]: could not load it from the Hugging Face hub")
    assert "prepare.source: local" in out["error"] and "\n" not in out["error"]


# --- real datasets ------------------------------------------------------------------------------

def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def test_real_gsm8k_and_math500_load_in_full():
    train = load_problems(shared("gsm8k_train.jsonl"))
    test = load_problems(shared("gsm8k_test.jsonl"))
    math500 = load_problems(shared("math500_test.jsonl"))
    assert (len(train), len(test), len(math500)) == (7473, 1319, 500)
    assert train[0]["answer"] == "72" and test[0]["answer"] == "18"
    assert gold_steps(train[0]["solution"]) == [("48/2", "24"), ("48+24", "72")]
    assert {q["split"] for q in test} == {"test"} and {q["source"] for q in math500} == {"math"}
    assert math500[0]["answer"] == "\\left( 3, \\frac{\\pi}{2} \\right)" and math500[0]["level"] == 2


def test_real_math_train_defects_are_counted_not_fatal():
    path = shared("math_train.jsonl")
    with pytest.raises(NoAnswerError, match=r"math_train\.jsonl:5530: field 'solution'"):
        load_problems(path)
    dropped = []
    problems = load_problems(path, on_error="skip", dropped=dropped)
    # 7,500 rows: one whitespace-only copy (lines 1435/1667) and two empty \boxed{} answers.
    assert [(r["where"].rsplit(":", 1)[1], r["reason"]) for r in dropped] == [
        ("1667", "duplicate"), ("5530", "no_answer"), ("5532", "no_answer")]
    assert len(problems) == 7497
    assert sum(q["level"] is None for q in problems) == 2


# --- on_error: skip ---------------------------------------------------------------------------

def test_skip_reports_every_defect_with_its_reason(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(gsm("Good one?", "1")),
             '{"question": ',
             json.dumps({"question": "No answer field?"}),
             json.dumps({"question": " ", "answer": "#### 2"}),
             json.dumps({"question": 7, "answer": "#### 7"}),
             json.dumps({"question": "Where is the mark?", "answer": "It is 3."}),
             json.dumps(gsm("good ONE?", "9")),
             json.dumps(gsm("Good two?", "2"))]
    raw = "\n".join(lines).encode() + b'\n{"question": "caf\xe9?", "answer": "#### 4"}\n'
    path.write_bytes(raw)
    with pytest.raises(DataError) as err:
        load_problems(path)
    assert str(err.value) == f"{path}:2: invalid JSON: Expecting value (column 14)"
    dropped = []
    problems = load_problems(path, on_error="skip", dropped=dropped)
    assert [q["problem"] for q in problems] == ["Good one?", "Good two?"]
    qid = problem_id("gsm8k", "good one?")
    assert dropped == [
        {"where": f"{path}:2", "reason": "invalid_json", "message": "invalid JSON: Expecting value (column 14)"},
        {"where": f"{path}:3", "reason": "missing_field", "message": "field 'answer': missing"},
        {"where": f"{path}:4", "reason": "empty_field", "message": "field 'question': empty"},
        {"where": f"{path}:5", "reason": "wrong_type", "message": "field 'question': expected a string, got int"},
        {"where": f"{path}:6", "reason": "no_answer", "message": "field 'answer': no final answer after '####'"},
        {"where": f"{path}:7", "reason": "duplicate_id",
         "message": f"field 'question': duplicate id {qid} (same problem as {path}:1) with a different "
                    "answer: '9' vs '1'"},
        {"where": f"{path}:9", "reason": "invalid_utf8", "message": "invalid UTF-8 at byte 18"},
    ]


def test_prepare_on_error_fail_stops_and_skip_counts(tmp_path, caplog):
    train = write_lines(tmp_path / "train.jsonl", [gsm(f"Q{i}?", str(i)) for i in range(6)] + ['{"question": '])
    test = write_lines(tmp_path / "test.jsonl", [gsm("T?", "1"), {"question": "T2?"}])
    local = {"train": [str(train)], "test": [str(test)]}
    with pytest.raises(DataError, match=rf"^{re.escape(str(train))}:7: invalid JSON"):
        run(params(tmp_path, source="local", local=local))
    card = run(params(tmp_path, source="local", local=local, on_error="skip"))
    assert card["dropped"] == {"invalid_json": 1, "missing_field": 1}
    assert (card["train"] + card["mine"], card["test"]) == (6, 1)
    assert [r["reason"] for r in read(tmp_path / "out" / "dropped.jsonl")] == ["invalid_json", "missing_field"]
    # Each skip is printed as a warning naming the line.
    assert f"{test}:2: field 'answer': missing; skipped" in caplog.text


# --- decontamination ------------------------------------------------------------------------------

TEST_PROBLEMS = {
    "t-circle": "A circle has radius 7 cm. A square is drawn so that each of its four sides touches the "
                "circle exactly once. What is the area of the square, in square centimeters?",
    "t-train": "Two trains leave the same station at 3 pm, one heading north at 40 miles per hour and the "
               "other heading south at 55 miles per hour. How far apart are they at 6 pm?",
    "t-short": "Compute $\\dbinom{8}{4}$.",
}


def probs(items: dict) -> list[dict]:
    return [{"id": k, "problem": v} for k, v in items.items()]


def test_find_contamination_catches_copies_and_spares_look_alikes():
    circle, trains = TEST_PROBLEMS["t-circle"], TEST_PROBLEMS["t-train"]
    train = {
        "exact": circle,
        "spaced": "  " + trains.upper().replace(" ", "   \n") + " ",
        "short": "compute $\\dbinom{8}{4}$ .",
        # A long shared span: the same problem after a lead-in sentence, same numbers.
        "span": "Here is a classic. " + circle.replace("What is", "Find"),
        # Look-alikes: the same template with other numbers, and the same topic reworded.
        "numbers": trains.replace("40", "45").replace("55", "60"),
        "topic": "A circle of radius 7 cm sits inside a square. Find the square's area.",
        "short-other": "Compute $\\dbinom{9}{4}$.",
    }
    overlaps = find_overlaps(probs(train), probs(TEST_PROBLEMS))
    assert overlaps == [("exact", "t-circle", "exact"), ("numbers", "t-train", "template"),
                        ("short", "t-short", "exact"), ("spaced", "t-train", "exact"),
                        ("span", "t-circle", "near")]
    assert find_contamination(probs(train), probs(TEST_PROBLEMS)) == [
        ("exact", "t-circle"), ("short", "t-short"), ("spaced", "t-train"), ("span", "t-circle")]


def test_asy_drawing_code_is_not_evidence():
    asy = ("[asy] size(200); pair A, B, C, D; A = (0,0); B = (4,0); C = (4,3); D = (0,3); "
           "draw(A--B--C--D--cycle); label(\"$A$\", A, SW); label(\"$B$\", B, SE); [/asy]")
    test = [{"id": "t", "problem": f"In rectangle $ABCD$ below, find the length of the diagonal $AC$. {asy}"}]
    train = [{"id": "a", "problem": f"What is the perimeter of the figure shown? {asy}"}]
    assert find_overlaps(train, test) == []
    train = [{"id": "b", "problem": test[0]["problem"].replace("[asy] size(200)", "[asy] size(150)")}]
    assert find_overlaps(train, test) == [("b", "t", "exact")]


# --- several sources, mine_from ----------------------------------------------------------------------

def test_local_sources_with_limits_and_seeds(tmp_path):
    a = write_lines(tmp_path / "a.jsonl", [gsm(f"Alpha {i}?", str(i)) for i in range(10)])
    b = write_lines(tmp_path / "b.jsonl", [gsm(f"Beta {i}?", str(i)) for i in range(10)])
    t = write_lines(tmp_path / "t.jsonl", [gsm("Test?", "1")])

    def alphas(seed: int | None) -> list[str]:
        entry = {"path": str(a), "limit": 3} | ({} if seed is None else {"seed": seed})
        card = run(params(tmp_path, source="local", local={"train": [entry, str(b)], "test": [str(t)]}))
        assert card["loaded"] == {str(a): 3, str(b): 10, str(t): 1}
        rows = read(tmp_path / "out" / "train.jsonl") + read(tmp_path / "out" / "mine.jsonl")
        assert sum(q["problem"].startswith("Beta") for q in rows) == 10
        return sorted(q["problem"] for q in rows if q["problem"].startswith("Alpha"))

    assert len(alphas(1)) == 3 and alphas(1) == alphas(1)
    assert alphas(1) != alphas(2)
    assert alphas(None) == alphas(0)          # the entry's seed defaults to prepare.seed (0)
    with pytest.raises(ValidationError, match="limit"):
        Params.model_validate({"prepare": {"local": {"train": [{"path": str(a), "limit": 0}]}}})


def test_mine_from_train_samples_the_train_set(tmp_path):
    pool = write_lines(tmp_path / "p.jsonl", [gsm(f"Q{i}?", str(i)) for i in range(20)])
    t = write_lines(tmp_path / "t.jsonl", [gsm("Test?", "1")])
    local = {"train": [str(pool)], "test": [str(t)]}
    card = run(params(tmp_path, source="local", local=local, mine_fraction=0.25, mine_from="train"))
    train, mine = read(tmp_path / "out" / "train.jsonl"), read(tmp_path / "out" / "mine.jsonl")
    assert (card["train"], card["mine"]) == (20, 5)
    assert {q["id"] for q in mine} < {q["id"] for q in train}
    card = run(params(tmp_path, source="local", local=local, mine_fraction=0.25))   # disjoint
    assert (card["train"], card["mine"]) == (15, 5)
    train, mine = read(tmp_path / "out" / "train.jsonl"), read(tmp_path / "out" / "mine.jsonl")
    assert not {q["id"] for q in mine} & {q["id"] for q in train}
    run(params(tmp_path, synthetic={"n_train": 30, "n_mine": 6, "n_test": 4}, mine_from="train"))
    train, mine = read(tmp_path / "out" / "train.jsonl"), read(tmp_path / "out" / "mine.jsonl")
    assert len(mine) == 6 and {q["id"] for q in mine} < {q["id"] for q in train}


def test_real_sizes_and_contamination():
    gsm_train, gsm_test = load_problems(shared("gsm8k_train.jsonl")), load_problems(shared("gsm8k_test.jsonl"))
    math_test = load_problems(shared("math_test.jsonl"))
    math500 = load_problems(shared("math500_test.jsonl"))
    dropped = []
    math_train = load_problems(shared("math_train.jsonl"), on_error="skip", dropped=dropped)
    assert (len(gsm_train), len(gsm_test), len(math_train) + len(dropped), len(math_test), len(math500)) == (
        7473, 1319, 7500, 5000, 500)
    # MATH500 is a subset of MATH test: every one of its problems is found, as an exact copy.
    leaks = find_contamination(math_test, math500)
    assert len({b for _, b in leaks}) == 500 and {a for a, b in leaks if a == b} == {q["id"] for q in math500}
    assert [kind for *_, kind in find_overlaps(math_test, math500)].count("exact") >= 500
    assert find_contamination(gsm_train, gsm_test) == []
    # MATH train vs test: a few real leaks, many more shared templates (see README).
    kinds = Counter(kind for *_, kind in find_overlaps(math_train, math_test))
    print(f"MATH train vs test pairs: {dict(kinds)}")
    assert 0 < kinds["exact"] + kinds["near"] < kinds["template"]


def test_real_prepare_writes_a_data_card_quickly(tmp_path):
    import time
    files = {"train": [str(shared("gsm8k_train.jsonl")), str(shared("math_train.jsonl"))],
             "test": [str(shared("gsm8k_test.jsonl")), str(shared("math_test.jsonl"))]}
    start = time.perf_counter()
    card = run(params(tmp_path, source="local", local=files, on_error="skip", test_limit=None))
    seconds = time.perf_counter() - start
    print(f"prepare on GSM8K + MATH: {seconds:.1f} s; contamination {card['contamination']}")
    assert seconds < 60
    assert card["test"] == 1319 + 5000 and card["loaded"][files["train"][1]] == 7497
    assert card["dropped"]["no_answer"] == 2 and card["dropped"]["duplicate"] == 1
    assert card["dropped"]["contaminated"] == sum(
        1 for r in read(tmp_path / "out" / "dropped.jsonl") if r["reason"] == "contaminated" and r["test_id"])
    assert card["train"] + card["mine"] == 7473 + 7497 - card["dropped"]["contaminated"]
    assert card["by_subject"]["test"]["arithmetic"] == 1319 and card["by_level"]["test"]["5"] == 1324
    assert json.loads((tmp_path / "metrics" / "prepare.json").read_text()) == card


# --- NuminaMath-CoT and MetaMathQA, saved with `datasets` save_to_disk, mixed ------------------

def numina(i: int) -> dict:
    solution = f"Add the two numbers: {i} + 2 = {i + 2}. So the answer is $\\boxed{{{i + 2}}}$."
    return {"source": "olympiads", "problem": f"Numina problem {i}: what is {i} + 2?", "solution": solution,
            "messages": [{"role": "user", "content": f"Numina problem {i}"}, {"role": "assistant", "content": solution}]}


def metamath(i: int) -> dict:
    return {"type": "GSM_Rephrased", "query": f"MetaMath problem {i}: Tom has {i} apples and buys 3. How many?",
            "original_question": f"Tom has {i} apples...",
            "response": f"Tom has {i} + 3 = {i + 3} apples.\nThe answer is: {i + 3}"}


def save_dataset(path: Path, records: list[dict], dict_split: str | None = None) -> Path:
    import datasets

    ds = datasets.Dataset.from_list(records)
    (datasets.DatasetDict({dict_split: ds}) if dict_split else ds).save_to_disk(str(path))
    return path


def test_numina_and_metamath_records_convert(tmp_path):
    from supercorrect.data.loaders import load_saved

    assert detect_format(numina(1)) == "numina" and detect_format(metamath(1)) == "metamath"
    n = load_saved(save_dataset(tmp_path / "numina", [numina(i) for i in range(3)], dict_split="train"))
    assert [q["answer"] for q in n] == ["2", "3", "4"]
    assert n[0]["source"] == "numina" and n[0]["subject"] == "olympiads" and n[0]["problem"].startswith("Numina")
    m = load_saved(save_dataset(tmp_path / "metamath", [metamath(i) for i in range(3)]))
    assert [q["answer"] for q in m] == ["3", "4", "5"] and m[0]["source"] == "metamath"
    assert m[0]["subject"] == "GSM_Rephrased" and m[0]["solution"].endswith("The answer is: 3")
    bad = save_dataset(tmp_path / "bad", [metamath(0) | {"response": "no final line"}])
    with pytest.raises(NoAnswerError, match=r"bad:1: field 'response': no final 'The answer is"):
        load_saved(bad)
    with pytest.raises(DataError, match="not a dataset saved with save_to_disk"):
        load_saved(tmp_path)


def test_prepare_mixes_saved_datasets_and_jsonl_each_with_its_limit_and_seed(tmp_path):
    num = save_dataset(tmp_path / "numina", [numina(i) for i in range(40)], dict_split="train")
    meta = save_dataset(tmp_path / "metamath", [metamath(i) for i in range(30)])
    gsm_file = write_lines(tmp_path / "g.jsonl", [gsm(f"Gamma {i}?", str(i)) for i in range(5)])
    test = write_lines(tmp_path / "t.jsonl", [gsm("Test?", "1")])

    def mix(numina_seed: int) -> dict:
        train = [{"path": str(num), "limit": 12, "seed": numina_seed}, {"path": str(meta), "limit": 7, "seed": 5},
                 str(gsm_file)]
        card = run(params(tmp_path, source="local", local={"train": train, "test": [str(test)]}))
        rows = read(tmp_path / "out" / "train.jsonl") + read(tmp_path / "out" / "mine.jsonl")
        return {"loaded": card["loaded"], "by_source": Counter(q["source"] for q in rows),
                "numina": sorted(q["problem"] for q in rows if q["source"] == "numina")}

    first, again, other = mix(1), mix(1), mix(2)
    assert first["loaded"] == {str(num): 12, str(meta): 7, str(gsm_file): 5, str(test): 1}
    assert first["by_source"] == {"numina": 12, "metamath": 7, "gsm8k": 5}
    assert first == again and first["numina"] != other["numina"]


def test_paper_data_params_example_is_valid(tmp_path, monkeypatch):
    import yaml

    from tests.conftest import REPO

    section = yaml.safe_load((REPO / "params" / "paper-data.yaml").read_text())["prepare"]
    train = section["local"]["train"]
    # 100k problems: MATH train and GSM8K train in full, plus the two samples.
    assert sum(e.get("limit") or {"math_train": 7500, "gsm8k_train": 7473}[Path(e["path"]).stem] for e in train) == 100000
    monkeypatch.chdir(tmp_path)  # the listed sources, present: the section then validates as it is
    for entry in train + section["local"]["test"]:
        Path(entry["path"]).parent.mkdir(parents=True, exist_ok=True)
        Path(entry["path"]).touch()
    assert Params.model_validate({"prepare": section}).prepare.local.train[2].limit == 55000
