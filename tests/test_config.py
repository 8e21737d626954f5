"""Tests for params.yaml loading: defaults, overrides and one-line errors naming the key or file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from supercorrect.config import ConfigError
from supercorrect.params_file import load_params
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
    from supercorrect.cli import EXAMPLES
    for stage in STAGES:
        out = subprocess.run([sys.executable, "-m", "supercorrect", stage, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and f"Stage `{stage}`" in out.stdout and "--set KEY=VALUE" in out.stdout
        assert EXAMPLES[stage] in out.stdout and f"supercorrect {stage}" in EXAMPLES[stage]
        assert f"params section `{stage}`:" in out.stdout


def test_paper_profile_carries_the_papers_numbers(tmp_path):
    """params/paper.yaml: every figure the paper gives, at its key (docs/method.md maps them)."""
    files = []
    for name in ("gsm8k_train.jsonl", "math_train.jsonl", "math500_test.jsonl"):
        (tmp_path / name).write_text("")
        files.append(str(tmp_path / name))
    p = load_params(REPO / "params" / "paper.yaml",
                    [f"prepare.local.train={files[:2]}", f"prepare.local.test={files[2:]}"])
    assert (p.sft.epochs, p.sft.learning_rate, p.sft.lr_scheduler, p.sft.warmup_ratio) == (4, 2e-5, "cosine", 0.02)
    assert p.sft.batch_size * p.sft.gradient_accumulation_steps == 128
    assert (p.dpo.epochs, p.dpo.learning_rate, p.dpo.lr_scheduler, p.dpo.warmup_ratio) == (8, 1e-6, "cosine", 0.05)
    assert 8 * p.dpo.batch_size * p.dpo.gradient_accumulation_steps == 128  # global batch on 8 GPUs
    assert (p.mine.rejected, p.mine.context, p.annotate.correction_share) == ("blind", "correction", 0.0)
    assert p.teacher.inspector_rounds == 3 and p.evaluate.self_correct == ["sft", "dpo"]



def _fields(model, prefix=""):
    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _fields(field.annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def test_stage_help_lists_every_key_with_type_default_and_description():
    from supercorrect.cli import params_help
    from supercorrect.config import Params

    for section, spec in Params.model_fields.items():
        text = "\n".join(params_help(section))
        for key, field in _fields(spec.annotation, f"{section}."):
            assert field.description, f"{key} has no description in supercorrect/config.py"
            assert f"  {key}  (" in text and field.description in text, key
    assert "  sft.epochs  (float, default 3)" in "\n".join(params_help("sft"))
    assert "  dpo.loss_type  (sigmoid | hinge | ipo" in "\n".join(params_help("dpo"))


def test_help_sections_are_the_dvc_stage_params():
    import yaml

    from supercorrect.cli import SECTIONS

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    # dvc.yaml lists the exact keys a stage reads (tests/test_layout.py); help lists their sections.
    assert {name: {key.split(".")[0] for key in stages[name]["params"]} for name in SECTIONS} == \
        {name: set(sections) for name, sections in SECTIONS.items()}


def test_params_yaml_is_generated_from_the_config():
    # One source of truth: defaults and comments live in supercorrect/config.py.
    from supercorrect.params_file import render_params

    assert (REPO / "params.yaml").read_text(encoding="utf-8") == render_params(), \
        "params.yaml differs from supercorrect/config.py: run `python -m supercorrect.params_file` (make params)"


def test_generated_params_read_back_as_the_defaults_with_every_description(tmp_path):
    from supercorrect.config import Params
    from supercorrect.params_file import render_params

    changed = Params().model_copy(update={"sft": Params().sft.model_copy(update={"learning_rate": 2e-05})})
    path = tmp_path / "params.yaml"
    path.write_text(render_params(changed))
    assert load_params(path) == changed
    assert "  learning_rate: 0.00002" in path.read_text()  # no exponent PyYAML would read as a string
    for section, spec in Params.model_fields.items():
        for key, field in _fields(spec.annotation, f"{section}."):
            if field.description:
                assert f"# {field.description}" in path.read_text(), key


def test_stage_summary_is_short():
    from supercorrect.cli import SUMMARY_LINES, summary_lines

    summary = {f"k{i}": {"accuracy": 0.5, "by_level": {"1": {}}, "n": i} for i in range(30)} | {"empty": {}}
    lines = summary_lines("evaluate", summary, "metrics/evaluate.json")
    assert len(lines) == SUMMARY_LINES + 2 and all(len(line) <= 110 for line in lines)
    assert len(lines) <= 10 and "empty" not in "".join(lines)
    assert lines[1] == "  k0: accuracy 0.5, n 0" and lines[-1] == "  full metrics: metrics/evaluate.json"
    assert summary_lines("prepare", {"by_split": {"train": {"n": 1}, "test": {"n": 2}}}, "m")[1] == \
        "  by_split: by train, test"


def test_evaluate_summary_leads_with_the_diagnosis_whole():
    """The one line that says whether a checkpoint can check a step comes first, uncut, once per
    checkpoint (named by benchmark when there are several)."""
    from supercorrect.cli import summary_lines

    line = ("sft cannot tell right steps from wrong ones (step AUC 0.50 [0.42, 0.58]): self-correction cannot "
            "gain until it can.")
    dpo = "dpo tells wrong steps from right ones (step AUC 0.71 [0.65, 0.77]); false-flag rate 0.12."
    block = {"accuracy": 0.5, "n": 4, "self_correction": {"sft": {"verification": {"diagnosis": line}},
                                                           "dpo": {"verification": {"diagnosis": dpo}}}}
    lines = summary_lines("evaluate", {"synthetic": block}, "metrics/evaluate.json")
    assert lines[:4] == ["evaluate: done", f"  {line}", f"  {dpo}", "  synthetic: accuracy 0.5, n 4"]
    assert len(lines[1]) > 110  # never cut
    two = summary_lines("evaluate", {"gsm8k": block, "math": block}, "m")
    assert two[1:5] == [f"  gsm8k: {line}", f"  gsm8k: {dpo}", f"  math: {line}", f"  math: {dpo}"]
    assert summary_lines("evaluate", {"synthetic": {"accuracy": 0.5}}, "m")[1] == "  synthetic: accuracy 0.5"


def test_metrics_go_where_dvc_yaml_says_and_a_side_run_writes_beside_its_outputs(tmp_path):
    """supercorrect.io.metrics_path, the one rule: a run from the params file writes the tracked
    metrics/<stage>.json whatever the file calls the outputs (dvc.yaml declares that path); a
    `--set` that moves a stage's out_dir is a side run and writes beside its outputs instead."""
    from supercorrect.io import metrics_path, side_run

    edited = tmp_path / "params.yaml"
    edited.write_text((REPO / "params.yaml").read_text().replace("out_dir: data/mine ", "out_dir: data/mine2"))
    assert load_params(edited).mine.out_dir == "data/mine2"
    for params in (load_params(REPO / "params.yaml"), load_params(edited),
                   load_params(edited, ["mine.out_dir=data/mine2", "mine.seed=3"])):  # a --set that moves nothing
        assert not params.overridden & {"mine.out_dir"} and not side_run(params, "mine")
        assert metrics_path(params, "mine") == Path("metrics/mine.json")
        assert metrics_path(params, "mine", dry_run=True) == Path("metrics/mine.dry_run.json")
        assert metrics_path(params, "prepare") == Path(params.prepare.metrics)
        assert metrics_path(params, "evaluate") == Path(params.evaluate.out)

    side = load_params(edited, [f"mine.out_dir={tmp_path / 'try'}", f"prepare.out_dir={tmp_path / 'p'}"])
    assert side.overridden == {"mine.out_dir", "prepare.out_dir"} and side_run(side, "mine")
    assert metrics_path(side, "mine") == tmp_path / "try" / "metrics.json"
    assert metrics_path(side, "mine", dry_run=True) == tmp_path / "try" / "metrics.dry_run.json"
    assert metrics_path(side, "prepare") == tmp_path / "p" / "metrics.json"
    assert metrics_path(side, "sft") == Path("metrics/sft.json")  # sft's outputs did not move
    own = load_params(edited, [f"prepare.out_dir={tmp_path / 'p'}", f"prepare.metrics={tmp_path / 'card.json'}"])
    assert metrics_path(own, "prepare") == tmp_path / "card.json"  # a metrics path set with it wins
    # evaluate has no out_dir: a --set of its metrics file is its side run (no timing, nothing tracked touched).
    check = load_params(edited, [f"evaluate.out={tmp_path / 'check.json'}"])
    assert side_run(check, "evaluate") and metrics_path(check, "evaluate") == tmp_path / "check.json"
    assert not side_run(load_params(edited, ["evaluate.seed=3"]), "evaluate")


def test_an_unknown_key_in_params_yaml_stops_dvc_repro_before_any_stage(tmp_path):
    """No stage lists a key that does not exist, so without the `check` stage DVC would call the
    pipeline up to date; with it, `dvc repro` stops on the same one-line error as `--set`."""
    import os

    from tests.harness import copy_repo

    repo = tmp_path / "repo"
    copy_repo(repo)
    text = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(text.replace("\nsft:\n", "\nsft:\n  learning_rat: 0.0001\n", 1))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert [line for line in out.splitlines() if "params.yaml" in line] == [
        "supercorrect check: error: params.yaml: sft.learning_rat: unknown key; did you mean sft.learning_rate?"], out
    assert "Running stage 'check'" in out and "Running stage 'prepare'" not in out and not (repo / "data").exists()
