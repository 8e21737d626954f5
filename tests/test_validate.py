"""Tests for supercorrect.validate and the one-line errors every stage gives on bad input and params.

Each stage case runs the real CLI entry point (`supercorrect.cli.main`, the function the console
script calls) and asserts the exit code, the exact one-line message and that no output was left.
The annotate cases run the openai backend against tests/openai_server.py on 127.0.0.1 through
the real SDK, so "no request paid" is read off the server's own request log.

    python -m pytest tests/test_validate.py -q
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from supercorrect import validate
from supercorrect.cli import main
from supercorrect.data.loaders import load_problems
from supercorrect.io import InputError, write_json, write_jsonl
from tests.conftest import REPO, SHARED_DATA
from tests.openai_server import OpenAIServer
from tests.teacher_helpers import good_teacher, make_problems


def write_lines(path, lines: list) -> str:
    """Write raw lines (dicts as JSON, str as is, bytes as bytes); return the path as a string."""
    data = b"".join((json.dumps(x).encode() if isinstance(x, dict) else x if isinstance(x, bytes) else x.encode())
                    + b"\n" for x in lines)
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def server(monkeypatch):
    problems = make_problems(4)
    with OpenAIServer(good_teacher(problems)) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", srv.api_key)
        srv.problems = problems
        yield srv


def annotate(tmp, input_path, *sets) -> list[str]:
    """argv for an openai-backed annotate of `input_path` into tmp/out."""
    args = ["annotate", "--params", str(REPO / "params.yaml")]
    for s in (f"annotate.input={input_path}", f"annotate.out_dir={tmp / 'out'}", "teacher.backend=openai",
              "teacher.model=teacher-x", f"teacher.cache_dir={tmp / 'cache'}", "teacher.backoff_s=0.01", *sets):
        args += ["--set", s]
    return args


def fails(argv, capsys) -> str:
    """Run the CLI; assert exit 2 and one stderr line; return that line without the stage prefix."""
    capsys.readouterr()
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    prefix = f"supercorrect {argv[0]}: error: "
    assert lines[0].startswith(prefix)
    return lines[0][len(prefix):]


# --- annotate's input: every defect is one line, and no request is paid -----------------------

def _bad_inputs(tmp):
    good = make_problems(3)
    p0, p1 = good[0], good[1]
    no_id = {k: v for k, v in p1.items() if k != "id"}
    return {
        "no id": ([p0, no_id], "problems.jsonl:2: id: missing"),
        "no problem": ([p0, {k: v for k, v in p1.items() if k != "problem"}], "problems.jsonl:2: problem: missing"),
        "no answer": ([{k: v for k, v in p0.items() if k != "answer"}], "problems.jsonl:1: answer: missing"),
        "int problem": ([p0, {**p1, "problem": 17}], "problems.jsonl:2: problem: expected a string, got int"),
        "empty solution": ([{**p0, "solution": "  "}], "problems.jsonl:1: solution: empty"),
        "bad level": ([{**p0, "level": "3"}], "problems.jsonl:1: level: expected an integer, got str"),
        "duplicate id": ([p0, p1, {**good[2], "id": p0["id"]}],
                         f"problems.jsonl:3: id: duplicate {p0['id']!r} (first on line 1)"),
        "invalid utf-8": ([p0, b'{"id": "x", "problem": "caf\xe9"}'], "problems.jsonl:2: invalid UTF-8 at byte 28"),
        "truncated json": ([p0, '{"id": "x", "problem": "How many'],
                           "problems.jsonl:2: invalid JSON: Unterminated string starting at (column 24)"),
        "not an object": ([p0, "[1, 2]"], "problems.jsonl:2: expected a JSON object, got list"),
        "empty file": ([], "problems.jsonl: empty file: no records"),
        "blank lines only": (["", "  "], "problems.jsonl: empty file: no records"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs(None)))
def test_bad_annotate_input_is_one_line_exit_2_and_costs_nothing(case, in_tmp, server, capsys):
    lines, message = _bad_inputs(in_tmp)[case]
    path = write_lines(in_tmp / "problems.jsonl", lines)
    assert fails(annotate(in_tmp, path), capsys) == f"{in_tmp}/{message}"
    assert server.log == []  # not one request paid
    assert not (in_tmp / "out").exists() and not (in_tmp / "metrics").exists()


def test_input_that_is_a_directory_or_missing(in_tmp, server, capsys):
    assert fails(annotate(in_tmp, in_tmp), capsys) == f"{in_tmp}: is a directory, expected a file"
    assert fails(annotate(in_tmp, in_tmp / "nope.jsonl"), capsys) == f"{in_tmp}/nope.jsonl: file not found"
    assert server.log == []


def test_on_error_skip_drops_and_counts_bad_records(in_tmp, server, capsys):
    good = server.problems
    path = write_lines(in_tmp / "problems.jsonl",
                       [good[0], {**good[1], "problem": 5}, "{oops", good[2], {**good[3], "id": good[0]["id"]}])
    assert main(annotate(in_tmp, path, "annotate.on_error=skip")) == 0
    metrics = json.loads((in_tmp / "out" / "metrics.json").read_text())
    assert metrics["problems"] == 2 and metrics["verified"] == 2 and metrics["skipped_input"] == 3
    assert len(server.requests) == 2  # the skipped records were never sent
    # Everything skipped is still an error, naming how many were dropped.
    bad = write_lines(in_tmp / "bad.jsonl", ["{oops", {"id": "x"}])
    assert fails(annotate(in_tmp, bad, "annotate.on_error=skip"), capsys) == f"{bad}: no valid records (2 skipped)"


def test_bom_file_is_read(in_tmp, server):
    path = in_tmp / "problems.jsonl"
    write_lines(path, server.problems[:2])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert main(annotate(in_tmp, path)) == 0
    assert json.loads((in_tmp / "out" / "metrics.json").read_text())["verified"] == 2


def test_outputs_get_normal_modes_and_metrics_follow_out_dir(in_tmp):
    # Default params: metrics go to metrics/annotate.json, the file dvc.yaml tracks.
    (in_tmp / "data" / "prepare").mkdir(parents=True)
    write_jsonl(in_tmp / "data" / "prepare" / "train.jsonl", make_problems(2))
    assert main(["annotate", "--params", str(REPO / "params.yaml")]) == 0
    assert json.loads((in_tmp / "metrics" / "annotate.json").read_text())["verified"] == 2
    mask = os.umask(0o022)
    os.umask(mask)
    for path in (in_tmp / "data" / "annotate" / "hsft.jsonl", in_tmp / "metrics" / "annotate.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    # A side run writes beside its own outputs and leaves the tracked metric alone.
    before = (in_tmp / "metrics" / "annotate.json").read_bytes()
    assert main(["annotate", "--params", str(REPO / "params.yaml"), "--set", "annotate.out_dir=side",
                 "--set", "annotate.limit=1"]) == 0
    assert json.loads((in_tmp / "side" / "metrics.json").read_text())["verified"] == 1
    assert (in_tmp / "metrics" / "annotate.json").read_bytes() == before


# --- params, --set and the prompts file ---------------------------------------------------------

def test_set_errors_name_the_set_and_suggest_a_key(in_tmp, server, capsys):
    path = write_lines(in_tmp / "problems.jsonl", server.problems)
    assert fails(annotate(in_tmp, path, "teacher.model=[gpt"), capsys) == (
        "--set 'teacher.model=[gpt': the value is not valid YAML (expected ',' or ']', but got '<stream end>'); "
        "quote it to pass a string, e.g. --set 'teacher.model=\"[gpt\"'")
    assert fails(annotate(in_tmp, path, "teacher.max_retry=2"), capsys) == (
        "--set 'teacher.max_retry=2': teacher.max_retry: unknown key; did you mean teacher.max_retries?")
    assert server.log == [] and not (in_tmp / "out").exists()


@pytest.mark.parametrize("text, message", [
    ("version: mine-1\nannotat: 'x {problem}'\n", "annotat: unknown prompt key; did you mean annotate?"),
    ("version: mine-1\nannotate: [unclosed\n", ":3: invalid YAML at column 1: expected ',' or ']', but got '<stream end>'"),
    ("version: mine-1\nannotate: 'Solve {problem} using {hint}'\n",
     "annotate: unknown field {hint}; this prompt can use {answer}, {id}, {level}, {problem}, {solution}, "
     "{source}, {split}, {subject}"),
    ("version: mine-1\nreask: 'bad {brace'\n", "reask: expected '}' before end of string (write a literal brace as {{ or }})"),
    ("annotate: 'x {problem}'\n", "version: set a new version name for replaced prompts"),
    ("- a\n- b\n", "expected a mapping of prompt names to texts"),
])
def test_prompts_file_errors_are_one_line_and_cost_nothing(text, message, in_tmp, server, capsys):
    path = write_lines(in_tmp / "problems.jsonl", server.problems)
    prompts = in_tmp / "prompts.yaml"
    prompts.write_text(text)
    got = fails(annotate(in_tmp, path, f"prompts.file={prompts}"), capsys)
    assert got == f"{prompts}{'' if message.startswith(':') else ': '}{message}"
    assert server.log == [] and not (in_tmp / "out").exists()


# --- one schema per record type -------------------------------------------------------------------

MSG = [{"role": "user", "content": "q"}]


@pytest.mark.parametrize("kind, good, bad, message", [
    ("hsft", {"id": "a", "problem_id": "p", "problem": "q", "template": "<Step1>", "verified": True},
     {"verified": "yes"}, "verified: expected true or false, got str"),
    ("hsft", {"id": "a", "problem_id": "p", "problem": "q", "template": "<Step1>", "verified": True},
     {"template": None}, "template: missing"),
    ("rollouts", {"id": "r", "problem_id": "p", "response": "", "correct": False},
     {"response": ["x"]}, "response: expected a string, got list"),
    ("corrections", {"rollout_id": "r", "problem_id": "p", "k": 2, "teacher_text": "<Step2>"},
     {"k": 0}, "k: expected an integer >= 1, got 0"),
    ("corrections", {"rollout_id": "r", "problem_id": "p", "k": 2, "teacher_text": "<Step2>"},
     {"k": True}, "k: expected an integer, got bool"),
    ("pairs", {"id": "x", "prompt": MSG, "chosen": MSG, "rejected": MSG},
     {"chosen": []}, "chosen: expected a non-empty list of chat messages, got an empty list"),
    ("pairs", {"id": "x", "prompt": MSG, "chosen": MSG, "rejected": MSG},
     {"rejected": [{"role": "assistant", "content": 3}]}, 'rejected: message 0: expected {"role": string, "content": string}'),
])
def test_each_record_type_names_line_and_field(kind, good, bad, message, tmp_path):
    key = validate.ID_FIELD[kind]
    path = write_lines(tmp_path / f"{kind}.jsonl", [good, {**good, key: "second", **bad}])
    with pytest.raises(InputError) as err:
        validate.load(path, kind)
    assert str(err.value) == f"{path}:2: {message}"
    assert validate.load(path, kind, "skip") == [good]
    dup = write_lines(tmp_path / "dup.jsonl", [good, good])
    with pytest.raises(InputError, match=rf"dup.jsonl:2: {key}: duplicate '{good[key]}' \(first on line 1\)$"):
        validate.load(dup, kind)


def test_sft_and_dpo_stages_validate_before_loading_a_model(in_tmp, capsys):
    hsft = in_tmp / "data" / "annotate" / "hsft.jsonl"
    hsft.parent.mkdir(parents=True)
    write_lines(hsft, [{"id": "a", "problem_id": "p", "problem": 3, "template": "t", "verified": True}])
    assert fails(["sft", "--params", str(REPO / "params.yaml")], capsys) == \
        "data/annotate/hsft.jsonl:1: problem: expected a string, got int"
    pairs = in_tmp / "data" / "mine" / "pairs.jsonl"
    pairs.parent.mkdir(parents=True)
    write_lines(pairs, [{"id": "x", "prompt": MSG, "chosen": "text", "rejected": MSG}])
    assert fails(["dpo", "--params", str(REPO / "params.yaml")], capsys) == \
        "data/mine/pairs.jsonl:1: chosen: expected a non-empty list of chat messages, got str"
    assert not (in_tmp / "models").exists() and not (in_tmp / "metrics").exists()


def test_register_reads_metrics_with_line_and_column(in_tmp, capsys):
    (in_tmp / "metrics").mkdir()
    (in_tmp / "metrics" / "evaluate.json").write_text('{"synthetic": {"accuracy": 0.5,\n  "n": }}\n')
    assert fails(["register", "--params", str(REPO / "params.yaml")], capsys) == \
        "metrics/evaluate.json:2: invalid JSON: Expecting value (column 8)"


# --- evaluate reads raw GSM8K, MATH, MATH500 and bare {problem, answer} files as benchmarks ---------

@pytest.mark.skipif(not (SHARED_DATA / "gsm8k_test.jsonl").exists(), reason="needs ../shared/data")
def test_evaluate_runs_on_raw_benchmark_files(in_tmp):
    from supercorrect import evaluate
    from supercorrect.config import TinyConfig
    from supercorrect.params_file import load_params
    from supercorrect.student.build import build_tiny

    bench = {}
    for name in ("gsm8k_test", "math_test", "math500_test"):
        head = (SHARED_DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()[:3]
        (in_tmp / f"{name}.jsonl").write_text("\n".join(head) + "\n", encoding="utf-8")  # a 3-line sample
        bench[name] = str(in_tmp / f"{name}.jsonl")
        assert len(load_problems(bench[name], split="test")) == 3
    # A bare benchmark: no reference solution, integer answers (as AIME files give them).
    bench["aime"] = str(write_lines(in_tmp / "aime.jsonl", [{"id": f"2024-I-{i}", "problem": f"What is {i} + {i}?",
                                                             "answer": 2 * i} for i in (1, 2, 3)]))
    build_tiny(["<Step1>1+1=2</Step1> <Answer>2</Answer>"] * 20,
               TinyConfig(hidden_size=32, num_layers=1, num_heads=2, vocab_size=300), in_tmp / "base")
    p = load_params(REPO / "params.yaml", [f"evaluate.benchmarks={json.dumps(bench)}", "evaluate.checkpoints=[base]",
                                           f"sft.base_dir={in_tmp / 'base'}", "student.max_new_tokens=8",
                                           "evaluate.bootstrap=100"])
    metrics = evaluate.run(p)
    assert {name: metrics[name]["n"] for name in bench} == {name: 3 for name in bench}
    # A raw file with a defect fails in one line naming it, before any model is loaded.
    write_lines(in_tmp / "bad.jsonl", ['{"question": "How many?", "answer": "no marker"}'])
    write_json(in_tmp / "metrics" / "evaluate.json", {})
    with pytest.raises(InputError, match=r"bad.jsonl:1: field 'answer': no final answer after '####'$"):
        evaluate.run(load_params(REPO / "params.yaml", [f"evaluate.benchmarks={{x: {in_tmp / 'bad.jsonl'}}}"]))
