"""The run report's charts: matplotlib (Agg) figures, each on its own axes, saved as PNG and inlined as SVG.

supercorrect.report lays them out on the page; `render(fig, out_dir, name)` writes
<out_dir>/<name>.png and returns the figure as an SVG element for the HTML.

    python -c "from supercorrect.charts import loss_chart, render; from pathlib import Path; \
print(len(render(loss_chart({'sft': [(1, 2.0), (2, 1.5)]}), Path('/tmp'), 'loss')))"
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from supercorrect.io import atomic_path

CHECKPOINT_ORDER = ["base", "sft", "dpo"]
COLOURS = {"base": "#9aa5b1", "sft": "#3b82c4", "dpo": "#e07b39", "before": "#9aa5b1", "after": "#3b82c4"}
FUNNEL = [("rollouts", "rollouts"), ("wrong", "wrong"), ("sent_to_teacher", "sent to teacher"),
          ("localized", "localized"), ("heldout_errors", "held out for evaluate"), ("training_errors", "to DPO"),
          ("correction_pairs", "correction pairs"), ("keep_pairs", "keep pairs"), ("pairs", "pairs")]
# Shown only when non-zero and there are keep pairs: without them the correction pairs are all
# the pairs, and the `pairs` bar says it.
OPTIONAL = {"keep_pairs", "correction_pairs"}


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
        ax.set_title(f"{name}: accuracy per checkpoint\n(n={b.get('n', '?')}, 95 % CI)")
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
    ckpts = list(by_ckpt)
    # Per checkpoint: the flips, the rates on known errors, and the other side of the check:
    # locate and fix rates see only errors, so a check that flags everything scores best on
    # them; the false-flag and missed-error rates show what that costs.
    labels = [("wrong→right", "wrong_to_right"), ("right→wrong", "right_to_wrong"),
              ("locate rate (held-out errors)", "locate_rate"), ("fix rate (held-out errors)", "fix_rate"),
              ("false-flag rate (right answers)", "false_flag_rate"),
              ("missed-error rate (held-out errors)", "missed_error_rate")]
    rows = []
    for c in ckpts:
        for label, key in labels:
            value = by_ckpt[c].get(key)
            if key in ("wrong_to_right", "right_to_wrong"):
                value = (value or 0) / (by_ckpt[c].get("n") or 1)
            if value is not None:
                rows.append((f"{c}: {label}", value, key))
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.8, max(3.0, 0.24 * len(rows) + 0.9)))
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
    colour = {"wrong_to_right": "#2e9d5b", "right_to_wrong": "#c4453b", "false_flag_rate": "#d08c2b",
              "missed_error_rate": "#d08c2b"}
    bars = right.barh([r[0] for r in rows], [r[1] for r in rows], color=[colour.get(r[2], "#7a5cc4") for r in rows])
    right.bar_label(bars, labels=[f"{r[1]:.1%}" for r in rows], padding=2, fontsize=8)
    right.invert_yaxis()
    right.set_xlim(0, 1.15)
    right.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    right.set_title("flips and rates of the check")
    fig.tight_layout()
    return fig


def verification_chart(name: str, by_ckpt: dict[str, dict]):
    """Per checkpoint, the distribution of its flag probability on right steps against wrong ones
    (each as a share of its own steps): two humps apart mean it can tell them apart."""
    plt = _pyplot()
    ckpts = [c for c in by_ckpt if (by_ckpt[c].get("flag_prob_histogram") or {}).get("edges")]
    fig, axes = plt.subplots(1, len(ckpts), figsize=(4.2 * len(ckpts), 3.0), squeeze=False)
    for ax, c in zip(axes[0], ckpts):
        v = by_ckpt[c]
        hist, edges = v["flag_prob_histogram"], v["flag_prob_histogram"]["edges"]
        width = edges[1] - edges[0]
        for key, label, colour, offset in (("right", "right steps", "#3b82c4", 0.0),
                                           ("wrong", "wrong steps", "#c4453b", width / 2)):
            counts = hist[key]
            total = sum(counts) or 1
            ax.bar([e + offset for e in edges[:-1]], [n / total for n in counts], width / 2, align="edge",
                   color=colour, label=f"{label} (n={sum(counts)})")
        auc = v.get("step_auc")
        ci = v.get("step_auc_ci") or [None, None]
        figure = f"AUC {auc:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if auc is not None else "no AUC"
        ax.set_title(f"{name}/{c}: P(flag) per step, {figure}")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("probability the check flags the step")
        ax.set_ylabel("share of steps")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.legend(fontsize=8, frameon=False, loc="upper center")
    fig.tight_layout()
    return fig


def funnel_chart(mine: dict):
    plt = _pyplot()
    drops = {k: v for k, v in (mine.get("drops") or {}).items() if v}
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.0), gridspec_kw={"width_ratios": [1, 1.3]})
    steps = [(label, mine[key]) for key, label in FUNNEL
             if key in mine and (key not in OPTIONAL or (mine[key] and mine.get("keep_pairs")))]
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
