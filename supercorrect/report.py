"""The run report: one self-contained HTML page (charts inlined as SVG) plus a PNG per chart.

Reads what the stages wrote (metrics/*.json, plots/*_loss.csv, a sample from the evaluate
predictions) and draws, each chart on its own axes: the training loss of every stage, accuracy
per checkpoint with its 95 % interval, accuracy by level and by subject, self-correction before
and after (with how often the second pass locates and fixes a known error), the mining funnel
with its drops by reason, and the teacher's cost. Any part whose inputs are missing is left out
with a note, so the report also works after a partial run. Nothing is fetched: the page opens
offline.

    python -m supercorrect.report                  # reports/index.html and reports/*.png
    python -m supercorrect.report --out /tmp/rep   # somewhere else
    make plots                                     # `dvc plots show` with the scripts inlined (offline)
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

from supercorrect.io import atomic_path, write_text

CHECKPOINT_ORDER = ["base", "sft", "dpo"]
COLOURS = {"base": "#9aa5b1", "sft": "#3b82c4", "dpo": "#e07b39", "before": "#9aa5b1", "after": "#3b82c4"}
FUNNEL = [("rollouts", "rollouts"), ("wrong", "wrong"), ("sent_to_teacher", "sent to teacher"),
          ("localized", "localized"), ("pairs", "pairs")]


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
                     "heldout_n": held.get("n")}
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


# ---------------------------------------------------------------- charts (matplotlib, Agg)

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.titlesize": 10, "figure.dpi": 100})
    return plt


def loss_chart(curves: dict[str, list[tuple[float, float]]]):
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.0), squeeze=False)
    for ax, (stage, curve) in zip(axes[0], curves.items()):
        steps, losses = zip(*curve)
        ax.plot(steps, losses, color=COLOURS.get(stage, "#3b82c4"), marker="o" if len(curve) < 30 else None,
                markersize=3, linewidth=1.5)
        ax.set_title(f"{stage.upper()} training loss")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def accuracy_chart(benches: dict[str, dict]):
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(benches), figsize=(4.2 * len(benches), 3.0), squeeze=False)
    for ax, (name, b) in zip(axes[0], benches.items()):
        ckpts = b.get("checkpoints") or {b.get("checkpoint", "final"): b}
        names = sorted(ckpts, key=lambda c: CHECKPOINT_ORDER.index(c) if c in CHECKPOINT_ORDER else 99)
        acc = [ckpts[c]["accuracy"] for c in names]
        low = [ckpts[c].get("ci95_low", ckpts[c]["accuracy"]) for c in names]
        high = [ckpts[c].get("ci95_high", ckpts[c]["accuracy"]) for c in names]
        err = [[a - lo for a, lo in zip(acc, low)], [hi - a for a, hi in zip(acc, high)]]
        bars = ax.bar(names, acc, yerr=err, capsize=5, color=[COLOURS.get(c, "#3b82c4") for c in names])
        ax.bar_label(bars, labels=[f"{a:.1%}" for a in acc], padding=2, fontsize=8)
        ax.set_ylim(0, min(1.0, max(high + [0.05]) * 1.25))
        ax.set_title(f"{name}: accuracy per checkpoint (n={b.get('n', '?')}, 95 % CI)")
        ax.set_ylabel("accuracy")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    fig.tight_layout()
    return fig


def groups_chart(groups: dict[str, dict], title: str, label: str):
    plt = _pyplot()
    names = list(groups)
    fig, ax = plt.subplots(figsize=(5.0, 0.35 * len(names) + 1.1))
    acc = [groups[g]["accuracy"] for g in names]
    bars = ax.barh([f"{g} (n={groups[g].get('n', '?')})" for g in names], acc, color="#3b82c4")
    ax.bar_label(bars, labels=[f"{a:.1%}" for a in acc], padding=2, fontsize=8)
    ax.invert_yaxis()  # first group on top
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("accuracy")
    ax.set_ylabel(label)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def self_correction_chart(name: str, by_ckpt: dict[str, dict]):
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.0))
    ckpts = list(by_ckpt)
    x = range(len(ckpts))
    width = 0.38
    for offset, key, label in ((-width / 2, "accuracy_before", "before"), (width / 2, "accuracy_after", "after")):
        vals = [by_ckpt[c].get(key, 0) for c in ckpts]
        bars = left.bar([i + offset for i in x], vals, width, label=f"{label} the second pass", color=COLOURS[label])
        left.bar_label(bars, labels=[f"{v:.1%}" for v in vals], padding=2, fontsize=8)
    left.set_xticks(list(x), ckpts)
    left.set_ylim(0, 1.1)
    left.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    left.set_title(f"{name}: self-correction, accuracy before / after")
    left.legend(fontsize=8, frameon=False, loc="upper right")
    rates = [("wrong→right", "wrong_to_right"), ("right→wrong", "right_to_wrong")]
    n = [by_ckpt[c].get("n") or 1 for c in ckpts]
    rows = [(f"{c}: {label}", by_ckpt[c].get(key, 0) / n[i]) for i, c in enumerate(ckpts) for label, key in rates]
    rows += [(f"{c}: {label} (held-out errors)", by_ckpt[c][key]) for c in ckpts
             for label, key in (("locate rate", "locate_rate"), ("fix rate", "fix_rate"))
             if by_ckpt[c].get(key) is not None]
    bars = right.barh([r[0] for r in rows], [r[1] for r in rows],
                      color=["#2e9d5b" if "→right" in r[0] else "#c4453b" if "→wrong" in r[0] else "#7a5cc4"
                             for r in rows])
    right.bar_label(bars, labels=[f"{r[1]:.1%}" for r in rows], padding=2, fontsize=8)
    right.invert_yaxis()
    right.set_xlim(0, 1.1)
    right.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    right.set_title("flips and known-error rates")
    fig.tight_layout()
    return fig


def funnel_chart(mine: dict):
    plt = _pyplot()
    drops = {k: v for k, v in (mine.get("drops") or {}).items() if v}
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.0), gridspec_kw={"width_ratios": [1, 1.3]})
    steps = [(label, mine[key]) for key, label in FUNNEL if key in mine]
    bars = left.barh([s[0] for s in steps], [s[1] for s in steps], color="#3b82c4")
    left.bar_label(bars, padding=2, fontsize=8)
    left.invert_yaxis()
    left.set_title("mining funnel")
    left.set_xlabel("count")
    left.set_xlim(0, max([s[1] for s in steps] + [1]) * 1.15)
    if drops:
        reasons = sorted(drops, key=drops.get, reverse=True)
        bars = right.barh([_wrap(r) for r in reasons], [drops[r] for r in reasons], color="#c4453b")
        right.bar_label(bars, padding=2, fontsize=8)
        right.invert_yaxis()
        right.set_xlim(0, max(drops.values()) * 1.2)
    else:
        right.text(0.5, 0.5, "no drops", ha="center", va="center", transform=right.transAxes)
        right.set_yticks([])
    right.set_title("dropped, by reason")
    right.set_xlabel("count")
    fig.tight_layout()
    return fig


def cost_chart(teachers: dict[str, dict]):
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 2.6))
    stages = list(teachers)
    cost = [teachers[s].get("cost_usd", 0.0) for s in stages]
    bars = left.bar(stages, cost, color="#e07b39")
    left.bar_label(bars, labels=[f"${c:.4f}" for c in cost], padding=2, fontsize=8)
    left.set_ylim(0, max(cost + [1e-6]) * 1.3)
    left.set_title("teacher cost per stage (USD)")
    width = 0.38
    x = range(len(stages))
    for offset, key, colour in ((-width / 2, "prompt_tokens", "#9aa5b1"), (width / 2, "completion_tokens", "#3b82c4")):
        left_vals = [teachers[s].get(key, 0) for s in stages]
        right.bar([i + offset for i in x], left_vals, width, label=key.replace("_", " "), color=colour)
    right.set_xticks(list(x), stages)
    right.set_ylim(0, max([teachers[s].get("prompt_tokens", 0) for s in stages] + [1]) * 1.35)
    right.legend(fontsize=8, frameon=False, loc="upper left", ncols=2)
    right.set_title("tokens per stage")
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int = 34) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])


def render(fig, out_dir: Path, name: str) -> str:
    """Save `fig` as <out_dir>/<name>.png and return it as an inline SVG element."""
    import matplotlib.pyplot as plt

    with atomic_path(out_dir / f"{name}.png", ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    # Inside HTML: no XML prolog or doctype, and no metadata block (a timestamp, licence URLs).
    return re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.index("<svg"):], flags=re.S)


# ---------------------------------------------------------------- the page

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
        for ckpt, s in self_correction(b).items():
            gain = s.get("net_gain")
            rows.append((f"{name} self-correction gain, {ckpt}", f"{gain:+.1%}" if gain is not None else "–"))
    if mine:
        rows.append(("DPO pairs mined", f"{mine.get('pairs', 0)} from {mine.get('wrong', 0)} wrong of "
                                        f"{mine.get('rollouts', 0)} rollouts"))
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
.note {{ color: #616e7c; }} pre {{ background: #f5f7fa; padding: .8em; white-space: pre-wrap; font-size: 12px; }}
</style></head><body>
<h1>SuperCorrect run report</h1>
<p class="when">written {when} from metrics/ and plots/</p>
{body}
</body></html>
"""


def build(metrics_dir: str | Path = "metrics", plots_dir: str | Path = "plots", out_dir: str | Path = "reports",
          predictions: str | Path = "data/evaluate/predictions.jsonl") -> Path:
    """Write <out_dir>/index.html and one PNG per chart; return the HTML path."""
    metrics_dir, plots_dir, out_dir = Path(metrics_dir), Path(plots_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = {stage: read_json(metrics_dir / f"{stage}.json") for stage in
         ("prepare", "annotate", "sft", "mine", "dpo", "evaluate", "register")}
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
    if benches:
        section("Accuracy", figure(accuracy_chart(benches), "accuracy",
                                   "Greedy first-pass accuracy per checkpoint; whiskers are seeded 95 % bootstrap "
                                   "intervals over problems."))
        parts = []
        for name, b in benches.items():
            for key, label in (("by_level", "level"), ("by_subject", "subject")):
                if b.get(key):
                    parts.append(figure(groups_chart(b[key], f"{name}: accuracy by {label} "
                                                     f"({b.get('checkpoint', 'final')})", label),
                                        f"{key}_{name}", f"Final checkpoint, grouped by problem {label}."))
        if parts:
            section("Accuracy by level and subject", "\n".join(parts))
        parts = [figure(self_correction_chart(name, sc), f"self_correction_{name}",
                        "The model checks its own solution in a second pass. Locate rate: on mined errors that "
                        "never entered training, how often it names the step the teacher found wrong; fix rate: "
                        "how often its corrected answer is right.")
                 for name, b in benches.items() if (sc := self_correction(b))]
        if parts:
            section("Self-correction", "\n".join(parts))
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
    parser.add_argument("--metrics", default="metrics", help="metrics directory (default: %(default)s)")
    parser.add_argument("--plots", default="plots", help="loss curves directory (default: %(default)s)")
    parser.add_argument("--predictions", default="data/evaluate/predictions.jsonl")
    parser.add_argument("--out", default="reports", help="output directory (default: %(default)s)")
    parser.add_argument("--dvc-template", metavar="FILE",
                        help="only write an offline HTML template for `dvc plots show --html-template FILE`")
    args = parser.parse_args(argv)
    if args.dvc_template:
        print(f"dvc plots template: {write_dvc_template(args.dvc_template)}")
        return 0
    page = build(args.metrics, args.plots, args.out, args.predictions)
    print(f"report: {page} (open it in a browser; PNGs beside it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
