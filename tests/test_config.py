"""Tests for params.yaml loading: defaults, overrides and one-line errors naming the key or file."""

from __future__ import annotations

import subprocess
import sys

import pytest

from supercorrect.config import ConfigError, load_params
from tests.conftest import REPO


def test_repo_params_are_the_offline_demo():
    p = load_params(REPO / "params.yaml")
    assert p.student.model == "tiny" and p.teacher.backend == "reference" and p.prepare.source == "synthetic"
    assert p.register.model_name == "supercorrect-student"


def test_overrides_are_typed_and_nested():
    p = load_params(REPO / "params.yaml", ["sft.epochs=1", "student.tiny.hidden_size=64",
                                           "evaluate.checkpoints=[sft]", "annotate.limit=null"])
    assert p.sft.epochs == 1 and p.student.tiny.hidden_size == 64
    assert p.evaluate.checkpoints == ["sft"] and p.annotate.limit is None


@pytest.mark.parametrize("override, message", [
    # A key a --set changed is blamed on that --set, not on params.yaml.
    ("sft.lerning_rate=0.1", "--set 'sft.lerning_rate=0.1': sft.lerning_rate: unknown key; did you mean sft.learning_rate?"),
    ("bogus.x=1", "--set 'bogus.x=1': bogus: unknown key"),
    ("tacher.model=x", "--set 'tacher.model=x': tacher: unknown key; did you mean teacher?"),
    ("sft.epochs=abc", "--set 'sft.epochs=abc': sft.epochs: Input should be a valid number, unable to parse string as a number (got 'abc')"),
    ("teacher.backend=claude", "--set 'teacher.backend=claude': teacher.backend: Input should be 'reference' or 'openai' (got 'claude')"),
    ("prepare.local.train=[missing.jsonl]", "--set 'prepare.local.train=[missing.jsonl]': prepare.local.train: file not found: missing.jsonl"),
    ("sft.epochs.x=1", "--set 'sft.epochs.x=1': sft.epochs is not a section"),
    ("noequals", "--set 'noequals': expected dotted.key=value"),
    ("teacher.model=[gpt", "--set 'teacher.model=[gpt': the value is not valid YAML (expected ',' or ']', but got "
                           "'<stream end>'); quote it to pass a string, e.g. --set 'teacher.model=\"[gpt\"'"),
])
def test_bad_params_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_params(REPO / "params.yaml", [override])
    assert str(err.value).replace(str(REPO / "params.yaml"), "params.yaml") == message


def test_bad_files_name_the_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: params file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sft:\n  epochs: 1\n   lr: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:3: invalid YAML"):
        load_params(bad)


def test_cli_prints_one_line_error_and_exits_2(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("sft:\n  lerning_rate: 0.1\n")
    proc = subprocess.run([sys.executable, "-m", "supercorrect", "sft", "--params", str(bad)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"supercorrect sft: error: {bad}: sft.lerning_rate: unknown key; did you mean sft.learning_rate?"]


def test_params_file_with_bom_reads_and_a_directory_is_one_line(tmp_path):
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfsft:\n  epochs: 2\n")
    assert load_params(bom).sft.epochs == 2
    with pytest.raises(ConfigError) as err:
        load_params(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a directory, expected a params file"


def test_every_stage_has_help():
    from supercorrect import STAGES
    for stage in STAGES:
        out = subprocess.run([sys.executable, "-m", "supercorrect", stage, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and f"Stage `{stage}`" in out.stdout and "--set KEY=VALUE" in out.stdout
