"""The student's identity is tracked: a local student folder is a DVC dependency of `sft` (through
`student.dep`), and a hub id with its revision is a param recorded in dvc.lock; changing either
reruns sft. Real DVC runs in a scratch copy of the repo.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from supercorrect.config import ConfigError, TinyConfig
from supercorrect.params_file import load_params
from supercorrect.student.build import build_tiny
from tests.conftest import REPO
from tests.harness import SMALL, copy_repo
from tests.harness import run as _run
from tests.test_sft import corpus, hsft_records

TINY = TinyConfig(hidden_size=32, num_layers=1, num_heads=2, vocab_size=400)


def test_local_student_folder_must_be_the_dvc_dep(tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"student.dep: set it to the local student folder"):
        load_params(REPO / "params.yaml", [f"student.model={folder}"])
    p = load_params(REPO / "params.yaml", [f"student.model={folder}", f"student.dep={folder}"])
    assert p.student.dep == str(folder)
    with pytest.raises(ConfigError, match=r"student.revision: only for hub models"):
        load_params(REPO / "params.yaml", [f"student.model={folder}", f"student.dep={folder}", "student.revision=abc"])


def test_changed_student_folder_or_revision_reruns_sft(tmp_path):
    repo = tmp_path / "repo"
    small = SMALL | {("prepare", "synthetic", "n_train"): 40, ("prepare", "synthetic", "n_mine"): 10,
                     ("prepare", "synthetic", "n_test"): 10, ("student", "model"): "students/local",
                     ("student", "dep"): "students/local"}
    copy_repo(repo, small)
    build_tiny(corpus(hsft_records(20)), TINY, repo / "students" / "local")
    # One thread: on a shared machine, torch's threads fighting other processes made sft crawl.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(repo),
               OMP_NUM_THREADS="1")
    dvc = [sys.executable, "-m", "dvc"]

    out = _run(dvc + ["repro", "sft"], repo, env)
    assert "Running stage 'sft'" in out
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["sft"]
    assert any(d["path"] == "students/local" and d["md5"].endswith(".dir") for d in lock["deps"])
    assert lock["params"]["params.yaml"]["student.revision"] is None
    assert "Data and pipelines are up to date." in _run(dvc + ["status", "sft"], repo, env)

    # Retrained in place (new weights, same path): DVC sees it and sft runs again.
    build_tiny(corpus(hsft_records(20)), TINY, repo / "students" / "local", seed=1)
    status = _run(dvc + ["status", "sft"], repo, env)
    assert "modified:           students/local" in status
    again = _run(dvc + ["repro", "sft"], repo, env)
    assert "Running stage 'sft'" in again and "Running stage 'annotate'" not in again

    # A hub student: the revision is a param of sft, so a new revision is a change DVC reports.
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["student"] |= {"model": "Qwen/Qwen2.5-Math-1.5B-Instruct", "dep": "supercorrect/student/build.py",
                          "revision": "0123abcd"}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = _run(dvc + ["status", "sft"], repo, env)
    assert "student.revision" in status or "modified:           student" in status
