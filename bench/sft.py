"""Benchmark: SFT training tokens per second, the `sft` stage's defaults against TRL's padded default.

Same data as the demo's `sft` stage, made the demo's way on `--problems` training problems
(`prepare` and `annotate` with the offline teacher, in a temporary directory: templates plus the
longer correction-trace examples), same tiny Qwen2, same hyperparameters (params.yaml `sft`
defaults: batch size, learning rate, max length), CPU.
* ours: `supercorrect.sft.sft_args` and `trainer_class` exactly as the stage builds them
  (params.yaml: random batches, the shared prefix run once per batch and the rest unpadded, no
  gradient checkpointing; `--set sft.unpadded=false`, `--set sft.shared_prefix=false` or
  `--set sft.group_by_length=true` measure the alternatives);
* baseline: TRL's defaults for everything the stage chooses: padded batches in random order,
  `gradient_checkpointing=True` (TRL's SFTConfig default), no packing.
Real tokens are counted in the collator (every example's tokens, never padding). Each
configuration builds one trainer; a first, untimed round warms it up (with
`sft.torch_compile` on this includes compiling, reported as ours_warmup_s). Then the two
alternate in rounds of `--steps` steps, so machine load hits both alike; the figures are
steady-state training throughput. Caveat: with torch.compile on in this process the
uncompiled baseline ran ~30 % slower than alone, so compare compiled figures with care.

    python -m bench.sft [--problems 800] [--steps 40] [--rounds 3] [--threads 1] [--set sft.unpadded=false]

The last line is JSON: ours_tokens_per_s, baseline_tokens_per_s, speedup_vs_padded, ...
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


class Run:
    """One configuration: a trainer built once; `train()` runs `steps` steps and returns (units, seconds).

    Units are counted in the collator, `count(example)` each: real tokens by default (never
    padding); bench.dpo counts pairs with a DPOConfig."""

    def __init__(self, trainer_cls, kwargs: dict, base: str, rows: list[dict], steps: int, config_cls=None,
                 count=lambda example: len(example["input_ids"])):
        from datasets import Dataset
        from trl import SFTConfig

        from supercorrect.student.load import load_student

        model, tok = load_student(base)
        args = (config_cls or SFTConfig)(**{**kwargs, "max_steps": steps, "save_strategy": "no",
                                            "logging_steps": steps})
        self.trainer = trainer_cls(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                   processing_class=tok)
        collate, self.seen = self.trainer.data_collator, 0

        def counting(features):
            self.seen += sum(count(f) for f in features)
            return collate(features)

        self.trainer.data_collator = counting

    def train(self) -> tuple[int, float]:
        self.seen, started = 0, time.perf_counter()
        self.trainer.train()  # a fresh optimizer and schedule each call; the compiled model is kept
        return self.seen, time.perf_counter() - started


def parse(parser, argv, example: str):
    """Add `--threads` and `--set` to a bench's `parser`, parse `argv`, set torch's threads;
    return (args, params.yaml with the overrides). bench.dpo uses it too."""
    import torch

    from supercorrect.params_file import load_params

    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override a params.yaml key for ours, e.g. --set {example}")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    return args, load_params("params.yaml", args.set)


DEMO_EXAMPLES = 3000  # prepare.synthetic.n_train: the demo's SFT set


def demo_rows(tmp: str, n_problems: int) -> list[dict]:
    """The demo's SFT rows for `n_problems` training problems: `prepare` and `annotate` run in `tmp`
    with params.yaml (offline teacher), then the rows the `sft` stage builds from them."""
    import os
    from pathlib import Path

    from supercorrect import annotate, prepare
    from supercorrect.formats.prompts import load_prompts
    from supercorrect.params_file import load_params
    from supercorrect.sft import load_verified, training_rows

    p = load_params("params.yaml", [f"prepare.synthetic.n_train={n_problems}"])
    here = os.getcwd()
    os.chdir(tmp)  # the stages' outputs (data/, metrics/, .cache/) land in tmp
    try:
        prepare.run(p)
        annotate.run(p)
        records = load_verified(Path(p.annotate.out_dir) / "hsft.jsonl")
    finally:
        os.chdir(here)
    return training_rows(load_prompts(p.prompts.file), records)


def main(argv: list[str] | None = None) -> dict:
    from trl import SFTTrainer

    from supercorrect.formats.prompts import V2
    from supercorrect.sft import sft_args, tiny_corpus, trainer_class
    from supercorrect.student.build import build_tiny

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=800, help="training problems the rows are made from")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per configuration and round")
    parser.add_argument("--rounds", type=int, default=3)
    args, p = parse(parser, argv, "sft.group_by_length=true")
    with tempfile.TemporaryDirectory() as tmp:
        rows = demo_rows(tmp, args.problems)
        base = f"{tmp}/base"
        build_tiny(tiny_corpus(rows, V2), p.student.tiny, base, seed=0)
        # The demo's run size decides what the stage does (e.g. torch_compile "auto").
        ours_kwargs = sft_args(p.sft, f"{tmp}/ours", DEMO_EXAMPLES)
        baseline_kwargs = {**ours_kwargs, "output_dir": f"{tmp}/baseline", "gradient_checkpointing": True,
                           "packing": False, "padding_free": False, "max_length": p.sft.max_length,
                           "torch_compile": False}
        ours_cls = trainer_class(p.sft.group_by_length and not (p.sft.packing or p.sft.padding_free), p.sft.length_window,
                                 p.sft.shared_prefix, p.sft.unpadded)
        runs = {"baseline": Run(SFTTrainer, baseline_kwargs, base, rows, args.steps),
                "ours": Run(ours_cls, ours_kwargs, base, rows, args.steps)}
        print(f"tiny Qwen2, {len(rows)} examples ({args.problems} problems), batch {p.sft.batch_size}, "
              f"{args.steps} steps x {args.rounds} rounds each; ours: torch_compile={ours_kwargs['torch_compile']}, "
              f"gradient_checkpointing={p.sft.gradient_checkpointing}, shared_prefix={p.sft.shared_prefix}, "
              f"unpadded={p.sft.unpadded}, group_by_length={p.sft.group_by_length} (window {p.sft.length_window}), "
              f"packing={p.sft.packing}, padding_free={p.sft.padding_free}")
        warmup = {name: run.train()[1] for name, run in runs.items()}  # compiles ours when enabled
        print("warm-up (one round, includes torch.compile): " + ", ".join(f"{k} {v:.1f} s" for k, v in warmup.items()))
        totals = {"ours": [0, 0.0], "baseline": [0, 0.0]}
        for round_ in range(args.rounds):
            for name, run in runs.items():
                tokens, seconds = run.train()
                totals[name][0] += tokens
                totals[name][1] += seconds
                print(f"round {round_ + 1} {name:8s}: {tokens} real tokens in {seconds:.1f} s = {tokens / seconds:.0f}/s")

    ours = totals["ours"][0] / totals["ours"][1]
    baseline = totals["baseline"][0] / totals["baseline"][1]
    result = {"ours_tokens_per_s": round(ours, 1), "baseline_tokens_per_s": round(baseline, 1),
              "speedup_vs_padded": round(ours / baseline, 3), "torch_compile": ours_kwargs["torch_compile"],
              "ours_warmup_s": round(warmup["ours"], 1), "baseline_warmup_s": round(warmup["baseline"], 1), "steps": args.steps, "rounds": args.rounds,
              "batch_size": p.sft.batch_size, "threads": args.threads,
              "group_by_length": p.sft.group_by_length, "length_window": p.sft.length_window,
              "shared_prefix": p.sft.shared_prefix, "unpadded": p.sft.unpadded,
              "problems": args.problems, "examples": len(rows)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
