"""Tests for `annotate --dry-run` and `mine --dry-run` (supercorrect.teacher.estimate): the estimates
against what a later real run sends to tests/openai_server.py (a real HTTP server on 127.0.0.1,
driven by the real openai SDK), and that a dry run sends and writes nothing.
"""

from __future__ import annotations

import json
import subprocess

from supercorrect import annotate, cli, mine
from supercorrect.io import write_jsonl
from supercorrect.params_file import load_params
from supercorrect.student.build import build_tiny
from tests.conftest import REPO
from tests.openai_server import OpenAIServer, _tokens
from tests.teacher_helpers import annotate_cmd, cli_env, good_teacher, make_problems, problems_file, teacher_params
from tests.test_sft import SMALL, corpus, hsft_records, one_thread  # noqa: F401 (autouse fixture)

PRICE_IN = 10.0  # teacher-x's input price in teacher_params


def sent(bodies: list[dict]) -> tuple[int, int]:
    """(first-round requests, their prompt tokens) as the server counted them."""
    first = [b for b in bodies if len(b["messages"]) == 1]
    return len(first), sum(_tokens("".join(m["content"] for m in b["messages"])) for b in first)


def test_annotate_dry_run_sends_nothing_and_matches_the_real_run(in_tmp, monkeypatch):
    problems, path = problems_file(in_tmp, 12)
    with OpenAIServer(good_teacher(problems)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        # The command a user types: one JSON summary on stdout, exit 0, nothing sent, and the
        # figures written beside this side run's outputs only (its --set moves annotate.out_dir).
        proc = subprocess.run(annotate_cmd(in_tmp, path) + ["--dry-run"], cwd=in_tmp, env=cli_env(server),
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        cold = json.loads(proc.stdout)
        assert server.log == [] and not (in_tmp / "metrics").exists()
        assert [f.name for f in (in_tmp / "out").iterdir()] == ["metrics.dry_run.json"]
        assert json.loads((in_tmp / "out" / "metrics.dry_run.json").read_text()) == cold
        assert (cold["requests"], cold["cached"], cold["new"]) == (12, 0, 12)
        assert cold["output_estimate_from"] == "reference solution length"

        p = teacher_params(in_tmp, server, problems)
        first = annotate.run(load_params(REPO / "params.yaml", [f"annotate.input={path}", "annotate.limit=5",
                                                                  "annotate.correction_share=0",
                                                                  *overrides(p)]))
        assert first["teacher"]["cache_misses"] == 5
        warm = annotate.run(p, dry_run=True)
        assert (warm["requests"], warm["cached"], warm["new"]) == (12, 5, 7)
        assert warm["output_estimate_from"] == "cached responses"
        before = len(server.requests)
        real = annotate.run(p)["teacher"]
        new_bodies = server.requests[before:]

    n, prompt_tokens = sent(new_bodies)
    assert real["cache_hits"] == 5 and real["cache_misses"] == n == warm["new"] == 7
    assert warm["input_tokens"] == prompt_tokens  # the server counts 4 characters a token, as the estimate does
    completion = sum(_tokens(server.responder(b["messages"])) for b in new_bodies)
    for estimate in (cold, warm):
        per_request = estimate["output_tokens"] / estimate["new"]
        assert 0.75 < per_request / (completion / n) < 1.33
    actual_cost = real["cost_usd_new"]
    assert abs(warm["cost_usd"] - actual_cost) / actual_cost < 0.2
    assert warm["cost_usd_worst_case"] > actual_cost
    assert warm["cached_cost_usd"] > 0 and warm["input_tokens"] * PRICE_IN / 1e6 < warm["cost_usd"]


def overrides(p) -> list[str]:
    """teacher.* of `p` as --set overrides (to run the same teacher on a different input)."""
    return [f"teacher.{k}={json.dumps(v)}" for k, v in p.teacher.model_dump().items()] + \
        [f"annotate.out_dir={p.annotate.out_dir}"]


def test_annotate_dry_run_counts_the_correction_requests(in_tmp, monkeypatch):
    """With `annotate.correction_share`, a seeded share of the accepted templates gets a wrong
    step injected and goes back to the teacher for its trace. The dry run picks them as the run
    will, from the cached templates and, for the rest, the reference solution as a template;
    this test's teacher writes exactly those, so the counts match the real run's exactly, cold
    and warm."""
    problems, path = problems_file(in_tmp, 12)
    with OpenAIServer(good_teacher(problems)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        shares = ["annotate.correction_share=0.8", "annotate.correction_error_share=0.7"]
        p = load_params(REPO / "params.yaml", overrides(teacher_params(in_tmp, server)) + [
            f"annotate.input={path}", *shares])
        cold = annotate.run(p, dry_run=True)
        assert server.log == [] and [f.name for f in (in_tmp / "out").iterdir()] == ["metrics.dry_run.json"]
        first = annotate.run(load_params(REPO / "params.yaml", overrides(p) + [
            f"annotate.input={path}", "annotate.limit=5", *shares]))
        first_sent = len(server.requests)
        warm = annotate.run(p, dry_run=True)
        real = annotate.run(p)
    new_bodies = server.requests[first_sent:]
    corrections = real["correction_examples_with_error"] + sum(real["correction_drops"].values())
    assert corrections > 0 and real["verified"] == 12
    assert cold["templates"] == warm["templates"] == 12
    assert cold["corrections"]["requests"] == warm["corrections"]["requests"] == corrections
    assert cold["requests"] == 12 + corrections == sent(server.requests)[0]
    assert (cold["cached"], cold["new"]) == (0, cold["requests"])
    first_corrections = first["correction_examples_with_error"] + sum(first["correction_drops"].values())
    assert warm["cached"] == 5 + first_corrections == first["teacher"]["cache_misses"]
    assert warm["new"] == real["teacher"]["cache_misses"] == sent(new_bodies)[0]
    assert warm["input_tokens"] == sent(new_bodies)[1]
    assert cold["input_tokens"] == sent(server.requests)[1]
    localize = [b for b in server.requests if "Solution:" in b["messages"][0]["content"]]
    completion = sum(_tokens(server.responder(b["messages"])) for b in localize) / len(localize)
    per_request = cold["corrections"]["output_tokens"] / cold["corrections"]["new"]
    assert 0.75 < per_request / completion < 1.33


def test_reference_teacher_dry_run_is_free(in_tmp, capsys):
    problems, path = problems_file(in_tmp, 3)
    p = load_params(REPO / "params.yaml", [f"annotate.input={path}"])
    summary = annotate.run(p, dry_run=True)
    assert summary["templates"] == 3 and summary["cost_usd"] == 0.0 and "offline" in summary["note"]
    assert summary["requests"] == 3 + summary["corrections"]["requests"]
    # A run from the params file: the figures go to metrics/annotate.dry_run.json, never the
    # tracked metrics/annotate.json.
    assert sorted(f.name for f in (in_tmp / "metrics").iterdir()) == ["annotate.dry_run.json"]
    assert cli.main(["annotate", "--params", str(REPO / "params.yaml"), "--set", f"annotate.input={path}",
                     "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "annotate: dry run, nothing sent (teacher.backend=reference)",
        "  cost: $0.00 (teacher.backend=reference runs offline and costs nothing)",
        f"  requests: {summary['requests']}",
        f"  of which correction traces: {summary['corrections']['requests']}, $0.00 expected",
        "  figures: metrics/annotate.dry_run.json"]


def test_dry_run_summary_leads_with_the_cost_and_names_the_file_it_wrote(in_tmp, monkeypatch, capsys):
    """`annotate --dry-run` prints the expected and worst-case cost first, then requests, tokens
    and what is cached; every figure it prints is in the file it names."""
    problems, path = problems_file(in_tmp, 8)
    with OpenAIServer(good_teacher(problems)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        p = teacher_params(in_tmp, server)
        annotate.run(load_params(REPO / "params.yaml", overrides(p) + [f"annotate.input={path}", "annotate.limit=3",
                                                                          "annotate.correction_share=0"]))
        sets = overrides(p) + [f"annotate.input={path}", "annotate.correction_share=0.5"]
        assert cli.main(["annotate", "--params", str(REPO / "params.yaml"), "--dry-run",
                         *(a for s in sets for a in ("--set", s))]) == 0
    assert len(server.requests) == 3  # the first run's; the dry run sent nothing
    lines = capsys.readouterr().out.splitlines()
    figures = in_tmp / "out" / "metrics.dry_run.json"
    e = json.loads(figures.read_text())
    assert (e["requests"], e["cached"], e["new"]) == (8 + e["corrections"]["requests"], 3, 5 + e["corrections"]["new"])
    usd = cli._usd
    assert lines == [
        "annotate: dry run, nothing sent (teacher teacher-x, online)",
        f"  cost: {usd(e['cost_usd'])} expected, {usd(e['cost_usd_worst_case'])} worst case",
        f"  requests: {e['requests']} ({e['new']} new, 3 cached)",
        f"  of which correction traces: {e['corrections']['requests']}, {usd(e['corrections']['cost_usd'])} expected",
        f"  tokens: {e['input_tokens']:,} in; {e['output_tokens']:,} out expected (from the cached responses), "
        f"{e['output_tokens_max']:,} at most",
        f"  cached: 3 answers, {usd(e['cached_cost_usd'])} when paid",
        f"  figures: {figures}"]
    assert 0 < e["cost_usd"] < e["cost_usd_worst_case"] and e["cached_cost_usd"] > 0


def test_mine_dry_run_estimates_the_localization_requests_of_the_real_run(in_tmp, monkeypatch):
    """mine --dry-run samples the (seeded) rollouts, then estimates one request per selected wrong
    rollout; the real run then samples the same rollouts and sends exactly those requests."""
    problems = make_problems(6, seed=3)
    write_jsonl(in_tmp / "prepare" / "mine.jsonl", problems)
    build_tiny(corpus(hsft_records(20)), SMALL, in_tmp / "sft", seed=0)  # untrained: its answers are wrong
    with OpenAIServer(good_teacher(problems)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        base = teacher_params(in_tmp, server)
        p = load_params(REPO / "params.yaml", overrides(base) + [
            f"prepare.out_dir={in_tmp / 'prepare'}", f"sft.out_dir={in_tmp / 'sft'}", f"mine.out_dir={in_tmp / 'mine'}",
            "student.max_new_tokens=24", "mine.samples_per_problem=2", "mine.max_wrong_per_problem=1"])
        dry = mine.run(p, dry_run=True)
        assert server.log == [] and not (in_tmp / "metrics").exists()
        assert [f.name for f in (in_tmp / "mine").iterdir()] == ["metrics.dry_run.json"]
        real = mine.run(p)

    assert dry["rollouts"] == real["rollouts"] == 12 and dry["wrong"] == real["wrong"]
    lines = cli.dry_run_lines("mine", dry, "mine/metrics.dry_run.json")  # what `mine --dry-run` prints
    assert lines[:3] == ["mine: dry run, nothing sent (teacher teacher-x, online)",
                         f"  cost: {cli._usd(dry['cost_usd'])} expected, {cli._usd(dry['cost_usd_worst_case'])} worst case",
                         f"  requests: 6 ({dry['new']} new, {dry['cached']} cached)"]
    assert f"  student rollouts: 12, {dry['wrong']} wrong" in lines and lines[-1] == "  figures: mine/metrics.dry_run.json"
    n, prompt_tokens = sent(server.requests)
    assert dry["requests"] == real["sent_to_teacher"] == 6  # one per problem: max_wrong_per_problem=1
    assert dry["new"] == real["teacher"]["cache_misses"] == n
    assert dry["input_tokens"] == prompt_tokens
