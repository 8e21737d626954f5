"""Tests for `supercorrect compare` (supercorrect.compare): the aggregation across seeds on metric
files the stages wrote, the profiles and overrides, and the real `supercorrect compare --quick`
end to end in a scratch copy of the repo (DVC experiments queued and run, SFT shared through the
run cache).

The files in tests/data/ablations/ are the metrics/evaluate.json, mine.json and annotate.json of
a real `supercorrect compare --quick` run (experiments hsft_dpo-s0 and hsft_step_dpo-s0).

    python -m pytest tests/test_compare.py -q
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from supercorrect import compare
from supercorrect.config import ConfigError
from tests.conftest import REPO
from tests.harness import copy_repo

DATA = Path(__file__).parent / "data" / "ablations"


def real_run(variant: str) -> dict:
    return {stage: json.loads((DATA / variant / f"{stage}.json").read_text()) for stage in ("evaluate", "mine", "annotate")}


def with_accuracy(run: dict, sft: float, dpo: float, pairs: int) -> dict:
    """A copy of a real run as another seed would leave it: other accuracies and pair count."""
    run = copy.deepcopy(run)
    run["evaluate"]["synthetic"]["checkpoints"]["sft"]["accuracy"] = sft
    run["evaluate"]["synthetic"]["checkpoints"]["dpo"]["accuracy"] = dpo
    run["mine"]["pairs"] = pairs
    return run


def test_t_interval_across_seeds():
    s = compare.summarize([0.5, 0.6, 0.8])
    half = 4.303 * statistics.stdev([0.5, 0.6, 0.8]) / math.sqrt(3)
    assert s["mean"] == pytest.approx(0.6333333) and s["n"] == 3
    assert (s["ci95_low"], s["ci95_high"]) == (pytest.approx(s["mean"] - half), pytest.approx(s["mean"] + half))
    # A missing seed is left out of the interval but kept in per_seed; one value has no interval.
    assert compare.summarize([0.5, None, 0.7])["n"] == 2
    assert compare.summarize([0.5])["ci95_low"] is None
    assert compare.t975(30) == pytest.approx(2.042, abs=2e-3)  # the expansion beyond the table


def test_aggregate_real_metric_files_across_seeds():
    base, step = real_run("hsft_dpo"), real_run("hsft_step_dpo")
    runs = {("hsft_dpo", 0): base, ("hsft_dpo", 1): with_accuracy(base, 0.2, 0.3, 40),
            ("hsft_dpo", 2): with_accuracy(base, 0.3, 0.2, 56), ("hsft_step_dpo", 0): step}
    result = compare.aggregate(runs, [0, 1, 2])
    assert result["benchmark"] == "synthetic"
    assert list(result["variants"]) == ["hsft_only", "hsft_dpo", "hsft_step_dpo"]

    only, dpo = result["variants"]["hsft_only"], result["variants"]["hsft_dpo"]
    assert only["checkpoint"] == "sft" and only["experiments"] == ["hsft_dpo-s0", "hsft_dpo-s1", "hsft_dpo-s2"]
    assert only["accuracy"]["per_seed"] == [0.1, 0.2, 0.3]
    assert only["accuracy"]["mean"] == pytest.approx(0.2)
    assert only["accuracy"]["ci95_high"] - 0.2 == pytest.approx(4.303 * 0.1 / math.sqrt(3))
    assert dpo["accuracy"]["per_seed"] == [pytest.approx(0.0666667), 0.3, 0.2]
    assert dpo["pairs"]["per_seed"] == [48, 40, 56] and only["pairs"]["per_seed"] == [0, 0, 0]
    # The self-correction figures of each checkpoint, from evaluate.json.
    sc = base["evaluate"]["synthetic"]["self_correction"]
    assert only["net_gain"]["mean"] == pytest.approx(sc["sft"]["net_gain"])
    assert dpo["locate_rate"]["mean"] == pytest.approx(sc["dpo"]["heldout_errors"]["locate_rate"])
    assert dpo["fix_rate"]["mean"] == pytest.approx(sc["dpo"]["heldout_errors"]["fix_rate"])
    # Teacher requests and the estimated cost: annotate's for SFT only, annotate's + mine's after DPO.
    annotate, mine = base["annotate"]["teacher_estimate"], base["mine"]["teacher_estimate"]
    assert only["teacher_requests"]["mean"] == annotate["requests"]
    assert dpo["teacher_requests"]["mean"] == annotate["requests"] + mine["requests"]
    assert dpo["teacher_cost_usd"]["mean"] == pytest.approx(annotate["cost_usd"] + mine["cost_usd"])
    # Step-DPO ran at one seed only: its mean, no interval, the missing seeds noted.
    steprow = result["variants"]["hsft_step_dpo"]
    assert steprow["pairs"]["per_seed"] == [step["mine"]["pairs"], None, None] and steprow["pairs"]["ci95_low"] is None

    table = compare.table(result).splitlines()
    assert table[0].startswith("| variant | accuracy |") and len(table) == 2 + 3
    assert table[2].startswith("| HSFT only | 0.200 ± 0.248 |")


def test_a_real_teacher_block_wins_over_the_estimate():
    run = real_run("hsft_dpo")
    run["mine"]["teacher"] = {"requests": 7, "cost_usd": 0.5}
    row = compare.figures(run, "dpo", "synthetic")
    assert row["teacher_requests"] == run["annotate"]["teacher_estimate"]["requests"] + 7
    assert row["teacher_cost_usd"] == pytest.approx(run["annotate"]["teacher_estimate"]["cost_usd"] + 0.5)


def test_profiles_and_overrides(tmp_path):
    profile = compare.load_profile(str(REPO / "params" / "ablations.yaml"), "default")
    assert len(profile["seeds"]) >= 3 and set(profile["variants"]) == set(compare.VARIANTS)
    sets = compare.overrides(profile, "hsft_step_dpo", 2)
    assert "evaluate.checkpoints=[sft,dpo]" in sets and "mine.pairs=step_dpo" in sets
    assert sets[-3:] == ["sft.seed=2", "mine.seed=2", "dpo.seed=2"]
    bad = tmp_path / "p.yaml"
    bad.write_text("x: {seeds: [0], variants: [hsft_dpo, reflexion]}\n")
    with pytest.raises(ConfigError, match="unknown variant 'reflexion'"):
        compare.load_profile(str(bad), "x")
    with pytest.raises(ConfigError, match="no profile 'y'"):
        compare.load_profile(str(bad), "y")


def test_compare_cli_bad_profile_exits_2(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("quick: {seeds: [0], variants: [hsft_dpo], set: {sft.epochz: 1}}\n")
    out = subprocess.run([sys.executable, "-m", "supercorrect", "compare", "--quick", "--profiles", str(bad)],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "supercorrect compare: error: --set 'sft.epochz=1': sft.epochz: unknown key; did you mean sft.epochs?"]


def test_compare_quick_end_to_end(tmp_path):
    """The real command: 2 variants queued as DVC experiments and run; the second reuses the
    first's SFT through DVC's run cache; the table and the plot come from their commits."""
    repo = tmp_path / "repo"
    repo.mkdir()
    copy_repo(repo, {})
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(repo))
    out = subprocess.run([sys.executable, "-m", "supercorrect", "compare", "--quick"], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.count("Stage 'sft' is cached - skipping run") + out.stderr.count(
        "Stage 'sft' is cached - skipping run") == 1
    result = json.loads((repo / "metrics" / "ablations.json").read_text())
    assert list(result["variants"]) == ["hsft_only", "hsft_dpo", "hsft_step_dpo"] and result["seeds"] == [0]
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname:lstrip=-1)", "refs/exps"], cwd=repo,
                          capture_output=True, text=True, check=True).stdout.split()
    assert sorted(refs) == ["hsft_dpo-s0", "hsft_step_dpo-s0"]
    mine = json.loads(subprocess.run(["git", "show", f"{compare_ref(repo, 'hsft_step_dpo-s0')}:metrics/mine.json"],
                                     cwd=repo, capture_output=True, text=True, check=True).stdout)
    assert mine["pairs_strategy"] == "step_dpo" and result["variants"]["hsft_step_dpo"]["pairs"]["mean"] == mine["pairs"]
    evaluate = json.loads(subprocess.run(["git", "show", f"{compare_ref(repo, 'hsft_dpo-s0')}:metrics/evaluate.json"],
                                         cwd=repo, capture_output=True, text=True, check=True).stdout)
    assert result["variants"]["hsft_only"]["accuracy"]["mean"] == evaluate["synthetic"]["checkpoints"]["sft"]["accuracy"]
    # Both variants share one SFT model: the same hash in both experiments' dvc.lock.
    locks = [subprocess.run(["git", "show", f"{compare_ref(repo, n)}:dvc.lock"], cwd=repo, capture_output=True,
                            text=True, check=True).stdout for n in ("hsft_dpo-s0", "hsft_step_dpo-s0")]
    assert sft_hash(locks[0]) == sft_hash(locks[1])
    assert (repo / "plots" / "ablations.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| HSFT + Step-DPO |" in out.stdout


def pids_in(repo: Path) -> dict[int, str]:
    """Live processes working in `repo` or below (DVC's worker, its executors, their stages): pid -> command line."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if cwd == str(repo) or cwd.startswith(f"{repo}/"):
            found[int(pid)] = cmd
    return found


def as_in_a_terminal():
    """Give the child Ctrl-C's default action, as a terminal's foreground job has it. A suite started
    in the background (`make test &`, nohup) passes SIGINT down ignored, and Python then keeps it
    ignored: compare would never see this test's Ctrl-C (it failed so, run that way)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# What the terminal sends its whole foreground process group on Ctrl-C, and when an ssh session drops.
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "hang-up"])
def test_compare_stopped_midway_stops_the_dvc_queue(tmp_path, stop):
    """A stop while an experiment's SFT trains: compare exits 130, and nothing of the run goes on
    in the background: not DVC's detached queue worker, its executor, nor the `sft` process."""
    repo = tmp_path / "repo"
    repo.mkdir()
    copy_repo(repo, {})
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(repo))
    log = tmp_path / "compare.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "supercorrect", "compare", "--quick"], cwd=repo, env=env,
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=as_in_a_terminal)
    try:
        deadline = time.monotonic() + 300
        while not any("supercorrect sft" in cmd for cmd in pids_in(repo).values()):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(2)  # into the training itself
        os.killpg(proc.pid, stop)
        proc.wait(timeout=180)
        out = log.read_text()
        assert proc.returncode == 130 and "stopped; the DVC queue is stopped too" in out, out[-3000:]
        # By the time compare returns, nothing of the run is left. A stage orphaned by killing only
        # DVC's executor would still be here: this quick SFT trains for seconds, a real one for hours.
        assert not pids_in(repo), pids_in(repo)
        status = subprocess.run([sys.executable, "-m", "dvc", "queue", "status"], cwd=repo, env=env,
                                capture_output=True, text=True).stdout
        assert "Running" not in status and "Queued" not in status, status
    finally:  # never leave a trainer behind on a failure
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in pids_in(repo):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def compare_ref(repo: Path, name: str) -> str:
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.split()
    return next(r for r in refs if r.endswith("/" + name))


def sft_hash(lock_text: str) -> str:
    import yaml

    outs = yaml.safe_load(lock_text)["stages"]["sft"]["outs"]
    return next(o["md5"] for o in outs if o["path"] == "models/sft")
