"""Stage `prepare`: synthetic generator, problem loaders (supercorrect.data) and the stage itself.

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

from supercorrect.config import ConfigError, Params
from supercorrect.data import (DataError, NoAnswerError, detect_format, last_boxed, load_problems,
                               normalize_text, problem_id)
from supercorrect.prepare import run
from supercorrect.synthetic import generate_problems, gold_steps

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
KEYS = {"id", "source", "split", "problem", "solution", "answer", "subject", "level"}


def write_lines(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
                    encoding="utf-8")
    return path


def gsm(question: str, answer: str) -> dict:
    return {"question": question, "answer": f"It is {answer}.\n#### {answer}"}


# --- synthetic.gold_steps ---------------------------------------------------------------

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
    # The empty box is a NoAnswerError, which a `drops` counter turns into a counted skip.
    path = write_lines(tmp_path / "m.jsonl", [ok, {**ok, "problem": "q", "solution": "$\\boxed{}$"}])
    with pytest.raises(NoAnswerError):
        load_problems(path)
    drops = Counter()
    assert [q["problem"] for q in load_problems(path, drops=drops)] == ["p"]
    assert drops == {"no_answer": 1}


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
    drops = Counter()
    assert [q["answer"] for q in load_problems(path, drops=drops)] == ["4", "1"]
    assert drops == {"duplicates": 1}
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
    assert detect_format({"id": "", "source": "", "problem": "", "answer": ""}) == "problems"

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
    expected = {"source": "synthetic", "train": 30, "mine": 6, "test": 4,
                "by_source": {"train": {"synthetic": 30}, "mine": {"synthetic": 6}, "test": {"synthetic": 4}},
                "decontaminated": 0, "duplicates": 0, "no_answer": 0}
    assert counts == expected
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
    assert counts == {"source": "local", "train": 6, "mine": 3, "test": 2,
                      "by_source": {"train": {"gsm8k": 6}, "mine": {"gsm8k": 3}, "test": {"gsm8k": 2}},
                      "decontaminated": 1, "duplicates": 1, "no_answer": 0}
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
from supercorrect.data import DataError, load_hub
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
    drops = Counter()
    problems = load_problems(path, drops=drops)
    # 7,500 rows: one whitespace-only copy (lines 1435/1667) and two empty \boxed{} answers.
    assert drops == {"duplicates": 1, "no_answer": 2} and len(problems) == 7497
    assert sum(q["level"] is None for q in problems) == 2
