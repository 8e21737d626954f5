"""The run report (supercorrect.report): built from stage outputs, rendered in headless chromium.

The browser test opens reports/index.html from disk with every request off the machine
blocked, and checks that each chart is an inline SVG with a real size whose pixels are not blank.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from supercorrect import report
from tests.browser import chromium_page

DIAGNOSIS = ("dpo cannot tell right steps from wrong ones (step AUC 0.52 [0.44, 0.60]): self-correction cannot "
             "gain until it can.")
VERIFICATION = {"false_flag_rate": 0.6, "missed_error_rate": 0.25, "step_auc": 0.52, "step_auc_ci": [0.44, 0.6],
                "n_right_steps": 50, "n_wrong_steps": 30, "mean_flag_prob_right": 0.5, "mean_flag_prob_wrong": 0.52,
                "flag_prob_histogram": {"edges": [i / 10 for i in range(11)], "right": [0, 2, 5, 8, 10, 10, 8, 5, 2, 0],
                                        "wrong": [0, 1, 3, 4, 6, 6, 5, 3, 2, 0]},
                "diagnosis": DIAGNOSIS}
EVALUATE = {
    "synthetic": {
        "accuracy": 0.5, "n": 40, "checkpoint": "dpo", "base_accuracy": 0.0, "sft_accuracy": 0.45,
        "dpo_accuracy": 0.5, "ci95_low": 0.35, "ci95_high": 0.65, "math_verify_accuracy": 0.475,
        "grader_disagreements": 3,
        "by_subject": {"arithmetic": {"accuracy": 0.55, "n": 20}, "rates": {"accuracy": 0.45, "n": 20}},
        "by_level": {"1": {"accuracy": 0.7, "n": 20}, "2": {"accuracy": 0.3, "n": 20}},
        "checkpoints": {c: {"accuracy": a, "ci95_low": max(0, a - 0.15), "ci95_high": a + 0.15, "no_answer": 0,
                            "timeouts": 0} for c, a in (("base", 0.0), ("sft", 0.45), ("dpo", 0.5))},
        "self_correction": {"dpo": {"accuracy_before": 0.5, "accuracy_after": 0.55, "wrong_to_right": 4,
                                    "right_to_wrong": 2, "net_gain": 0.05, "net_gain_ci": [-0.02, 0.12], "n": 40,
                                    "heldout_errors": {"n": 30, "locate_rate": 0.4, "fix_rate": 0.2},
                                    "verification": VERIFICATION}},
    },
}
MINE = {"problems": 30, "rollouts": 60, "wrong": 33, "rollout_accuracy": 0.45, "sent_to_teacher": 33,
        "localized": 32, "heldout_errors": 4, "training_errors": 28, "pairs": 28, "drops": {"duplicate pair": 3, "student's own correction is right": 1,
                                                 "teacher: no wrong step": 1}}
TEACHER = {"requests": 40, "cache_hits": 5, "cache_misses": 35, "prompt_tokens": 12000, "completion_tokens": 3000,
           "cost_usd": 0.06, "cost_usd_new": 0.05}


def write_outputs(root, evaluate=EVALUATE, mine=MINE, teacher=None):
    (root / "metrics").mkdir()
    (root / "plots").mkdir()
    (root / "metrics" / "evaluate.json").write_text(json.dumps(evaluate))
    if mine is not None:
        (root / "metrics" / "mine.json").write_text(json.dumps(mine | ({"teacher": teacher} if teacher else {})))
    if teacher:
        (root / "metrics" / "annotate.json").write_text(json.dumps({"problems": 300, "teacher": teacher}))
    (root / "plots" / "sft_loss.csv").write_text("step,loss\n" + "".join(f"{s},{5 / (1 + s / 50):.4f}\n"
                                                                         for s in range(45, 2300, 45)))
    (root / "plots" / "dpo_loss.csv").write_text("step,loss\n" + "".join(f"{s},{0.69 * 0.9 ** s:.4f}\n"
                                                                         for s in range(1, 41)))


def build(root):
    return report.build(root / "metrics", root / "plots", root / "reports", root / "none.jsonl")


def test_report_has_every_chart_and_png(tmp_path):
    write_outputs(tmp_path, teacher=TEACHER)
    page = build(tmp_path).read_text()
    for name in ("loss", "accuracy", "by_level_synthetic", "by_subject_synthetic", "self_correction_synthetic",
                 "verification_synthetic", "mining", "teacher_cost"):
        assert f'<figure id="{name}"><svg' in page, name
        assert (tmp_path / "reports" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "+5.0%" in page  # the self-correction gain in the headline table
    # Accuracy under math-verify beside ours, with the count of answers the graders part on.
    assert re.search(r"synthetic accuracy under math-verify, dpo</t[dh]>\s*<td>47\.5% \(3 answers graded differently\)", page)
    assert "28 from 33 wrong of 60 rollouts; 4 localized errors held out for evaluation" in page
    # The diagnosis leads the self-correction section, and the headline says both sides of the check.
    section = page[page.index("<h2>Self-correction</h2>"):]
    assert section.index(f'<p class="diagnosis">{DIAGNOSIS}</p>') < section.index('<figure id="self_correction_synthetic">')
    assert "AUC 0.52 [0.44, 0.60]; flags 60.0% of right answers, misses 25.0% of held-out errors" in page
    # Self-contained: no scripts, nothing loaded from anywhere (SVG namespaces are names, not requests).
    assert "<script" not in page and not re.search(r"(src|href)=\"https?:|url\(https?:", page)


def test_report_tolerates_missing_parts(tmp_path):
    """An older evaluate.json (self_correct, no self_correction) and no mining or teacher yet."""
    old = json.loads(json.dumps(EVALUATE))
    old["synthetic"].pop("self_correction")
    old["synthetic"]["self_correct"] = {"accuracy_before": 0.5, "accuracy_after": 0.25, "wrong_to_right": 1,
                                        "right_to_wrong": 11, "n": 40,
                                        "localization": {"n": 20, "named_a_step": 3, "named_teacher_step": 2,
                                                         "rate": 0.1}}
    write_outputs(tmp_path, evaluate=old, mine=None)
    page = build(tmp_path).read_text()
    assert '<figure id="self_correction_synthetic">' in page and "-25.0%" in page
    assert 'id="mining"' not in page and "Teacher cost" not in page


def test_self_correction_reads_both_layouts():
    new = report.self_correction(EVALUATE["synthetic"])
    assert new["dpo"]["locate_rate"] == 0.4 and new["dpo"]["fix_rate"] == 0.2
    assert report.self_correction({"accuracy": 0.1}) == {}


def test_report_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    write_outputs(tmp_path, teacher=TEACHER)
    page_path = build(tmp_path)
    with chromium_page() as page:
        page.goto(page_path.as_uri())
        figures = page.locator("figure")
        names = figures.evaluate_all("els => els.map(e => e.id)")
        assert len(names) == 8, names
        for name in names:
            fig = page.locator(f"figure#{name} svg")
            box = fig.bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100, (name, box)
            # Marks drawn: bars and lines are paths; a chart without data has only its frame.
            assert fig.locator("path").count() > 20, name
            image = Image.open(io.BytesIO(fig.screenshot())).convert("RGB")
            colours = image.getcolors(maxcolors=1 << 16) or []
            non_white = sum(n for n, c in colours if c != (255, 255, 255))
            assert len(colours) > 10 and non_white > 0.02 * image.width * image.height, name
        assert page.blocked == []


def test_report_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        report.main(["--help"])
    assert exc.value.code == 0 and "--out" in capsys.readouterr().out


def dvc_repo(root):
    """A DVC repo holding the project's dvc.yaml and params.yaml, with plot files from the stages' writers."""
    import shutil
    import subprocess
    import sys

    from supercorrect.evaluate import write_plots
    from supercorrect.sft import write_curve
    from tests.conftest import REPO

    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, root / name)
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
    write_curve(root / "plots" / "sft_loss.csv", [(s, 5 / (1 + s / 50)) for s in range(45, 2300, 45)])
    write_curve(root / "plots" / "dpo_loss.csv", [(s, 0.69 * 0.9 ** s) for s in range(1, 41)])
    block = {c: {"accuracy": a, "by_subject": {"arithmetic": {"accuracy": a, "n": 20}, "rates": {"accuracy": a / 2, "n": 20}},
                 "by_level": {"1": {"accuracy": a, "n": 20}, "2": {"accuracy": a / 3, "n": 20}}}
             for c, a in (("base", 0.02), ("sft", 0.45), ("dpo", 0.5))}
    write_plots(root / "plots", {"synthetic": block}, "dpo")
    (root / "metrics").mkdir()
    return lambda *args: subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, check=True,
                                        capture_output=True, text=True).stdout


def test_dvc_plots_specs(tmp_path):
    """Loss on its own axes against the step, bar lengths are accuracies, every plot has a title."""
    dvc = dvc_repo(tmp_path)
    specs = {name: spec[0]["content"] for name, spec in json.loads(dvc("plots", "show", "--json"))["data"].items()}
    assert set(specs) == {"plots/sft_loss.csv", "plots/dpo_loss.csv", "plots/evaluate_accuracy.csv",
                          "plots/evaluate_by_subject.csv", "plots/evaluate_by_level.csv"}
    for name, spec in specs.items():
        text = json.dumps(spec)
        assert "plots/" not in json.dumps(spec.get("title")), (name, spec.get("title"))
        if "loss" in name:
            assert spec["encoding"]["x"]["field"] == "step" and '"y": {"field": "loss"' in text, name
        else:
            assert '"field": "accuracy", "type": "quantitative"' in text, name


def test_dvc_plots_draw_offline_in_chromium(tmp_path):
    from PIL import Image

    dvc = dvc_repo(tmp_path)
    template = report.write_dvc_template(tmp_path / "offline.html")
    dvc("plots", "show", "--html-template", str(template), "-o", "out")
    with chromium_page() as page:
        page.goto((tmp_path / "out" / "index.html").as_uri())
        page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg.marks').length >= 5",
                               timeout=30_000)
        charts = page.locator(".vega-embed")
        assert charts.count() == 5
        for i in range(5):
            image = Image.open(io.BytesIO(charts.nth(i).screenshot())).convert("RGB")
            assert len(image.getcolors(maxcolors=1 << 16) or []) > 10, i
        assert page.blocked == []


def test_dvc_metrics_show_is_the_headline(tmp_path):
    """Every stage's metrics file is tracked, but `dvc metrics show` compares only the headline and
    sft.json (a metric so that DVC's run cache can restore the sft stage: ablations share SFT)."""
    from supercorrect.tracking import headline

    dvc = dvc_repo(tmp_path)
    for stage in ("prepare", "annotate", "sft", "mine", "dpo", "register"):
        (tmp_path / "metrics" / f"{stage}.json").write_text(json.dumps({"n": 1, "deep": {"x": 2}}))
    (tmp_path / "metrics" / "evaluate.json").write_text(json.dumps(EVALUATE))
    (tmp_path / "metrics" / "headline.json").write_text(json.dumps(headline(EVALUATE, MINE)))
    shown = json.loads(dvc("metrics", "show", "--json"))
    files = {name for rev in shown.values() for name in rev["data"]}
    assert files == {"metrics/headline.json", "metrics/sft.json"}
    workspace = next(iter(shown.values()))  # the one revision (keyed "" without git)
    assert workspace["data"]["metrics/headline.json"]["data"] == {
        "synthetic.accuracy": 0.5, "synthetic.base.accuracy": 0.0, "synthetic.sft.accuracy": 0.45,
        "synthetic.dpo.accuracy": 0.5, "synthetic.dpo.self_correction_gain": 0.05, "mine.pairs": 28.0}
