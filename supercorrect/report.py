"""The run report: one self-contained HTML page (charts inlined as SVG) plus a PNG per chart.

Reads what the stages wrote (each stage's metrics file, found by supercorrect.io.metrics_path,
plots/*_loss.csv, a sample from the evaluate predictions) and draws, each chart on its own axes:
the training loss of every stage, accuracy per checkpoint with its 95 % interval, accuracy by
level and by subject, self-correction before and after (with how often the second pass locates
and fixes a known error, and how often it flags a right answer or misses an error), led by the
one-line diagnosis of whether each checkpoint can tell a right step from a wrong one and the
distribution of its flag probability on both, the mining funnel (with the errors held out for
evaluation) and its drops by reason, and the teacher's cost. Any part whose inputs are missing
is left out with a note, so the report also works after a partial run. Nothing is fetched: the
page opens offline.

    python -m supercorrect.report                  # reports/index.html and reports/*.png
    python -m supercorrect.report --out /tmp/rep   # somewhere else
    make plots                                     # `dvc plots show` with the scripts inlined (offline)
"""

from __future__ import annotations

import argparse
import csv
import html
import json
from datetime import datetime, timezone
from pathlib import Path

from supercorrect.charts import (accuracy_chart, cost_chart, funnel_chart, groups_chart, loss_chart, render,
                                 self_correction_chart, verification_chart)
from supercorrect import STAGES
from supercorrect.io import metrics_path, write_text
from supercorrect.params_file import load_params


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def read_curve(path: Path) -> list[tuple[float, float]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [(float(r["step"]), float(r["loss"])) for r in csv.DictReader(fh)]


def benchmarks(evaluate: dict) -> dict[str, dict]:
    """The per-benchmark blocks of metrics/evaluate.json (every top-level object with an accuracy)."""
    return {name: b for name, b in evaluate.items() if isinstance(b, dict) and "accuracy" in b}


def self_correction(block: dict) -> dict[str, dict]:
    """{checkpoint: {accuracy_before, accuracy_after, wrong_to_right, right_to_wrong, net_gain,
    net_gain_ci, locate_rate, fix_rate, heldout_n}} from either layout evaluate has written:
    `self_correction.<checkpoint>` (with `heldout_errors`), or the older single `self_correct`."""
    out = {}
    for ckpt, s in (block.get("self_correction") or {}).items():
        held = s.get("heldout_errors") or {}
        out[ckpt] = {**s, "locate_rate": held.get("locate_rate"), "fix_rate": held.get("fix_rate"),
                     "heldout_n": held.get("n"), **(s.get("verification") or {})}
    if not out and isinstance(block.get("self_correct"), dict):
        s = block["self_correct"]
        loc = s.get("localization") or {}
        out[block.get("checkpoint", "final")] = {
            **s, "net_gain": s.get("accuracy_after", 0) - s.get("accuracy_before", 0),
            "locate_rate": loc.get("rate"), "fix_rate": None, "heldout_n": loc.get("n")}
    for s in out.values():
        if s.get("net_gain") is None and "accuracy_after" in s:
            s["net_gain"] = s["accuracy_after"] - s["accuracy_before"]
    return out



def _pct(v) -> str:
    return "–" if v is None else f"{v:.1%}"


def headline(evaluate: dict, mine: dict, register: dict, prepare: dict | None = None,
             annotate: dict | None = None) -> list[tuple[str, str]]:
    rows = []
    if prepare and all(k in prepare for k in ("train", "mine", "test")):
        rows.append(("problems", f"{prepare['train']} train, {prepare['mine']} mining, {prepare['test']} test "
                                 f"({prepare.get('source', '?')})"))
    if annotate and "verified" in annotate:
        rows.append(("teacher templates", f"{annotate['verified']} verified of {annotate.get('problems', '?')}"))
    for name, b in benchmarks(evaluate).items():
        for ckpt, s in (b.get("checkpoints") or {}).items():
            rows.append((f"{name} accuracy, {ckpt}", f"{_pct(s['accuracy'])} (95 % CI {_pct(s.get('ci95_low'))}"
                                                     f"–{_pct(s.get('ci95_high'))})"))
        if "math_verify_accuracy" in b:  # the same answers under math-verify, to compare with published numbers
            rows.append((f"{name} accuracy under math-verify, {b.get('checkpoint', 'final')}",
                         f"{_pct(b['math_verify_accuracy'])} ({b.get('grader_disagreements', 0)} answers graded differently)"))
        for ckpt, s in self_correction(b).items():
            gain = s.get("net_gain")
            rows.append((f"{name} self-correction gain, {ckpt}", f"{gain:+.1%}" if gain is not None else "–"))
            if s.get("step_auc") is not None:
                low, high = s["step_auc_ci"]
                rows.append((f"{name} step check, {ckpt}",
                             f"AUC {s['step_auc']:.2f} [{low:.2f}, {high:.2f}]; flags {_pct(s.get('false_flag_rate'))} "
                             f"of right answers, misses {_pct(s.get('missed_error_rate'))} of held-out errors"))
    if mine:
        held = f"; {mine['heldout_errors']} localized errors held out for evaluation" if "heldout_errors" in mine else ""
        keep = f" ({mine['keep_pairs']} keep pairs)" if mine.get("keep_pairs") else ""
        rows.append(("DPO pairs mined", f"{mine.get('pairs', 0)}{keep} from {mine.get('wrong', 0)} wrong of "
                                        f"{mine.get('rollouts', 0)} rollouts{held}"))
    if register.get("version") is not None:
        rows.append(("registered", f"{register.get('model_name')} v{register['version']}"
                                   f"{' (champion)' if register.get('promoted') else ' (challenger)'}"))
    return rows


def sample_solution(predictions: Path, checkpoint: str | None) -> dict | None:
    """The first correct first-pass answer of the final checkpoint (what the student writes)."""
    if not predictions.exists():
        return None
    with predictions.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("pass", "solve") == "solve" and row.get("correct") and \
                    (checkpoint is None or row.get("checkpoint") == checkpoint):
                return row
    return None


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SuperCorrect run report</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 960px; color: #1f2933; }}
h1 {{ margin-bottom: 0; }} .when {{ color: #616e7c; margin-top: .2em; }}
section {{ margin: 1.6em 0; }} figure {{ margin: .6em 0; }} figure svg {{ max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .25em .8em; border-bottom: 1px solid #e4e7eb; text-align: left; }}
.note {{ color: #616e7c; }} .diagnosis {{ font-weight: 600; border-left: 4px solid #d08c2b; padding-left: .6em; }} pre {{ background: #f5f7fa; padding: .8em; white-space: pre-wrap; font-size: 12px; }}
</style></head><body>
<h1>SuperCorrect run report</h1>
<p class="when">written {when} from metrics/ and plots/</p>
{body}
</body></html>
"""


def benchmark_sections(benches: dict[str, dict], figure) -> list[tuple[str, str]]:
    """(title, html) of the accuracy, level/subject and self-correction sections, where there is data."""
    if not benches:
        return []
    out = [("Accuracy", figure(accuracy_chart(benches), "accuracy",
                               "Greedy first-pass accuracy per checkpoint; whiskers are seeded 95 % bootstrap "
                               "intervals over problems."))]
    parts = []
    for name, b in benches.items():
        for key, label in (("by_level", "level"), ("by_subject", "subject")):
            if b.get(key):
                parts.append(figure(groups_chart(b[key], f"{name}: accuracy by {label} "
                                                 f"({b.get('checkpoint', 'final')})", label),
                                    f"{key}_{name}", f"Final checkpoint, grouped by problem {label}."))
    if parts:
        out.append(("Accuracy by level and subject", "\n".join(parts)))
    parts = []
    for name, b in benches.items():
        if not (sc := self_correction(b)):
            continue
        # The diagnosis leads: locate and fix rates alone reward a check that flags everything.
        parts += [f'<p class="diagnosis">{html.escape(s["diagnosis"])}</p>' for s in sc.values() if s.get("diagnosis")]
        parts.append(figure(self_correction_chart(name, sc), f"self_correction_{name}",
                            "The model checks its own solution in a second pass. Locate rate: on mined errors that "
                            "never entered training, how often it names the step the teacher found wrong; fix rate: "
                            "how often its corrected answer is right. Read them beside the false-flag rate (how "
                            "often the check flags a step of a right answer) and the missed-error rate (how often "
                            "it flags nothing in a known error): a check that flags everything locates well."))
        if any(s.get("flag_prob_histogram") for s in sc.values()):
            parts.append(figure(verification_chart(name, sc), f"verification_{name}",
                                "The checkpoint's probability of flagging a step, under the correction prompt with "
                                "the steps before it given: on right steps (before the first wrong one in held-out "
                                "errors, and in right answers) against wrong ones (the teacher's step k). Step AUC "
                                "0.5: the two look the same to it; 1: every wrong step is more likely flagged."))
    if parts:
        out.append(("Self-correction", "\n".join(parts)))
    return out


def metrics_files(metrics_dir: str | Path | None = None, params: str | Path = "params.yaml") -> dict[str, Path]:
    """Each stage's metrics file: `<metrics_dir>/<stage>.json`, or by default where the params file
    has the stage write it (supercorrect.io.metrics_path)."""
    if metrics_dir is not None:
        return {stage: Path(metrics_dir) / f"{stage}.json" for stage in STAGES}
    p = load_params(params)
    return {stage: metrics_path(p, stage) for stage in STAGES}


def build(metrics_dir: str | Path | None = None, plots_dir: str | Path = "plots", out_dir: str | Path = "reports",
          predictions: str | Path = "data/evaluate/predictions.jsonl", params: str | Path = "params.yaml") -> Path:
    """Write <out_dir>/index.html and one PNG per chart; return the HTML path."""
    plots_dir, out_dir = Path(plots_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = {stage: read_json(path) for stage, path in metrics_files(metrics_dir, params).items()}
    benches = benchmarks(m["evaluate"])
    sections = []

    def section(title: str, content: str) -> None:
        sections.append(f'<section><h2>{html.escape(title)}</h2>\n{content}\n</section>')

    def figure(fig, name: str, caption: str) -> str:
        return f'<figure id="{name}">{render(fig, out_dir, name)}<figcaption class="note">' \
               f'{html.escape(caption)}</figcaption></figure>'

    rows = headline(m["evaluate"], m["mine"], m["register"], m["prepare"], m["annotate"])
    if rows:
        section("Headline", "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                                              for k, v in rows) + "</table>")

    curves = {s: c for s in ("sft", "dpo") if (c := read_curve(plots_dir / f"{s}_loss.csv"))}
    if curves:
        section("Training loss", figure(loss_chart(curves), "loss", "Each stage on its own axes: SFT and DPO "
                                        "losses are on different scales and step counts."))
    for title, content in benchmark_sections(benches, figure):
        section(title, content)
    if m["mine"]:
        extra = ""
        if "rejected" in m["mine"]:
            extra = f'<p class="note">rejected side: {html.escape(json.dumps(m["mine"]["rejected"]))}</p>'
        section("Mining", figure(funnel_chart(m["mine"]), "mining",
                                 "Student rollouts on the mining problems down to DPO pairs; every drop is counted "
                                 "with its reason.") + extra)
    teachers = {s: m[s]["teacher"] for s in ("annotate", "mine") if isinstance(m[s].get("teacher"), dict)}
    if teachers:
        total = sum(t.get("cost_usd", 0.0) for t in teachers.values())
        section("Teacher cost", figure(cost_chart(teachers), "teacher_cost", f"Total ${total:.4f} (cached "
                                       "responses counted at their price; a rerun pays nothing for them)."))
    elif m["annotate"] or m["mine"]:
        section("Teacher cost", '<p class="note">The offline <code>reference</code> teacher made no paid calls '
                                '(cost $0). With <code>teacher.backend: openai</code> this section charts '
                                'requests, tokens and cost per stage.</p>')
    final = next((b.get("checkpoint") for b in benches.values()), None)
    if sample := sample_solution(Path(predictions), final):
        section(f"A solution the {final or 'final'} student wrote",
                f'<p class="note">problem {html.escape(str(sample.get("problem_id")))}, gold answer '
                f'{html.escape(str(sample.get("gold")))}</p><pre>{html.escape(sample["response"])}</pre>')
    if not sections:
        sections.append('<p class="note">No metrics yet: run <code>dvc repro</code> first.</p>')
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = out_dir / "index.html"
    write_text(page, PAGE.format(when=when, body="\n".join(sections)))
    return page


DVC_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>SuperCorrect: dvc plots</title>
<script>{bundle}</script>
<style>body {{ font: 14px system-ui, sans-serif; margin: 1.5em; }} div {{ margin: 1em 0; }}</style>
</head><body>
{{plot_divs}}
</body></html>
"""


def write_dvc_template(path: str | Path) -> Path:
    """An HTML template for `dvc plots show --html-template` with vega, vega-lite and vega-embed
    inlined (from vl-convert's bundle), so the plots draw offline. DVC's own page loads them
    from a CDN; a template without DVC's `{scripts}` placeholder keeps those tags out."""
    import vl_convert

    path = Path(path)
    write_text(path, DVC_PAGE.format(bundle=vl_convert.javascript_bundle().replace("</script", "<\\/script")))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supercorrect.report", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    parser.add_argument("--metrics", metavar="DIR",
                        help="read <DIR>/<stage>.json (default: where the params file has each stage write its metrics)")
    parser.add_argument("--plots", default="plots", help="loss curves directory (default: %(default)s)")
    parser.add_argument("--predictions", default="data/evaluate/predictions.jsonl")
    parser.add_argument("--out", default="reports", help="output directory (default: %(default)s)")
    parser.add_argument("--dvc-template", metavar="FILE",
                        help="only write an offline HTML template for `dvc plots show --html-template FILE`")
    args = parser.parse_args(argv)
    if args.dvc_template:
        print(f"dvc plots template: {write_dvc_template(args.dvc_template)}")
        return 0
    page = build(args.metrics, args.plots, args.out, args.predictions, args.params)
    print(f"report: {page} (open it in a browser; PNGs beside it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
