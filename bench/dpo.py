"""Benchmark: DPO training pairs per second, the `dpo` stage's defaults against TRL's DPOTrainer defaults.

Same pairs, same model, same hyperparameters (params.yaml `dpo` defaults: batch size, learning
rate, beta, max length), reference log-probs precomputed on both sides, CPU.
* ours: `supercorrect.dpo.dpo_args` and `supercorrect.training.dpo_fast.trainer_class(dpo.prefix_tree)`
  exactly as the stage builds them (each pair one row with its prompt run once, log-probs only at
  completion tokens, no gradient checkpointing);
* baseline: TRL's DPOTrainer with TRL's defaults for everything the stage chooses: its
  collator (prompt + chosen and prompt + rejected rows), its fused LM head (every position through
  the output layer on CPU) and `gradient_checkpointing=True` (DPOConfig's default);
  `--baseline-checkpointing false` keeps the stage's setting, isolating the trainer-side gain.
Two pair shapes, each in its own pair of trainers:
* `correction`: the stage's default context (`mine.context: correction`: the problem and the
  student's whole solution under the correction-trace prompt), where the prompt is most of
  every row;
* `solve`: `mine.context: solve` (system prompt + problem).
Both completions open with the student's correct step 1, then the teacher's or the student's
step 2 and answer, as `mine` writes them.
The model is a tiny Qwen2 (params.yaml `student.tiny`) whose output layer is widened to `--vocab`
(default 151,936, Qwen2.5's; 0 keeps the toy vocabulary): random rows the toy tokenizer never
emits, but every position costs what it costs with the real vocabulary, and the output layer is
what dominates a small model's step there. Each configuration builds one trainer (reference
log-probs computed then, untimed), then the two alternate in rounds of `--steps` steps, so
machine load hits both alike.

    python -m bench.dpo [--steps 2] [--rounds 2] [--vocab 151936] [--threads 1] [--shapes solve,correction]

The last line is JSON: per shape ours_pairs_per_s, baseline_pairs_per_s, speedup; `speedup` is the
correction shape's (the one the stage trains on by default).
"""

from __future__ import annotations

import argparse
import json
import tempfile


def pairs(shape: str, n: int) -> list[dict]:
    """`n` Eq. 8 pairs as `mine` writes them (supercorrect.pairs.cross_model), in the `shape` context."""
    from supercorrect.pairs.cross_model import build_pair
    from supercorrect.formats.prompts import V2
    from supercorrect.data.synthetic import generate_problems
    from supercorrect.teacher.backends import ReferenceTeacher

    teacher, out = ReferenceTeacher(), []
    for i, q in enumerate(generate_problems(n, seed=2, max_steps=2)):
        template = teacher.annotate(q)
        answer = template.split("<Answer>")[1].split("</Answer>")[0]
        wrong = f"{int(answer) + 1 + i % 3}" if answer.lstrip("-").isdigit() else answer + "1"
        student = template.replace(f"<Answer>{answer}</Answer>", f"<Answer>{wrong}</Answer>")
        good = (f"<Step2><Cause>The student added where the problem takes away.</Cause><Correction>So the "
                f"result is {answer}.</Correction></Step2>\n<Answer>{answer}</Answer>")
        bad = f"<Step2>So the result is {wrong}.</Step2>\n<Answer>{wrong}</Answer>"  # blind: calls step 2 correct
        pair = build_pair(V2, q, {"id": f"r{i}", "response": student}, 2, good, bad, {}, shape)
        out.append({side: pair[side] for side in ("prompt", "chosen", "rejected")})
    return out


def widen_vocabulary(path: str, vocab: int) -> None:
    """Give the saved model at `path` a `vocab`-row embedding and output layer (tied), seeded."""
    import torch

    from supercorrect.student.load import load_student

    model, tok = load_student(path)
    if vocab > model.config.vocab_size:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model.resize_token_embeddings(vocab, mean_resizing=False)
        model.save_pretrained(path)


def main(argv: list[str] | None = None) -> dict:
    from trl import DPOConfig, DPOTrainer

    from bench.sft import Run, parse
    from supercorrect.dpo import dpo_args
    from supercorrect.training.dpo_fast import trainer_class
    from supercorrect.student.build import build_tiny
    from supercorrect.student.load import load_student
    from supercorrect.formats.prompts import V2
    from supercorrect.sft import tiny_corpus, training_rows
    from supercorrect.data.synthetic import generate_problems
    from supercorrect.teacher.backends import ReferenceTeacher

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2, help="optimizer steps per configuration and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=151_936, help="output-layer rows (0: the toy vocabulary)")
    parser.add_argument("--shapes", default="solve,correction")
    parser.add_argument("--baseline-checkpointing", default="true", choices=["true", "false"],
                        help="false: the baseline keeps the stage's gradient_checkpointing")
    args, p = parse(parser, argv, "dpo.batch_size=8")
    teacher = ReferenceTeacher()
    records = [{"problem": q["problem"], "template": teacher.annotate(q)} for q in generate_problems(300, seed=0)]
    result: dict = {"batch_size": p.dpo.batch_size, "steps": args.steps, "rounds": args.rounds, "vocab": args.vocab,
                    "threads": args.threads, "prefix_tree": p.dpo.prefix_tree,
                    "baseline_gradient_checkpointing": args.baseline_checkpointing == "true"}
    with tempfile.TemporaryDirectory() as tmp:
        base = f"{tmp}/base"
        build_tiny(tiny_corpus(training_rows(V2, records), V2), p.student.tiny, base, seed=0)
        widen_vocabulary(base, args.vocab)
        _, tok = load_student(base)
        n_pairs = p.dpo.batch_size * args.steps  # one epoch per round
        for shape in args.shapes.split(","):
            rows = pairs(shape, n_pairs)
            prompt_text = [tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True) for r in rows]
            full_text = [tok.apply_chat_template(r["prompt"] + r["chosen"], tokenize=False) for r in rows]
            lengths = [(len(tok(a, add_special_tokens=False)["input_ids"]),
                        len(tok(b, add_special_tokens=False)["input_ids"]) - len(tok(a, add_special_tokens=False)["input_ids"]))
                       for a, b in zip(prompt_text, full_text)]
            ours_kwargs = dpo_args(p.dpo, f"{tmp}/{shape}-ours", n_pairs)
            baseline_kwargs = {**ours_kwargs, "output_dir": f"{tmp}/{shape}-baseline",
                               "gradient_checkpointing": args.baseline_checkpointing == "true"}
            # Counted in the collator: one per pair (the reference pass before training uses it too,
            # but `train()` resets the count).
            runs = {"baseline": Run(DPOTrainer, baseline_kwargs, base, rows, args.steps, DPOConfig, lambda _: 1),
                    "ours": Run(trainer_class(p.dpo.prefix_tree), ours_kwargs, base, rows, args.steps, DPOConfig,
                                lambda _: 1)}
            mean_prompt = sum(n for n, _ in lengths) / len(lengths)
            mean_chosen = sum(c for _, c in lengths) / len(lengths)
            print(f"{shape}: {len(rows)} pairs, prompt ~{mean_prompt:.0f} tokens, chosen ~{mean_chosen:.0f} tokens, "
                  f"batch {p.dpo.batch_size}, {args.steps} steps x {args.rounds} rounds each", flush=True)
            totals = {"ours": [0, 0.0], "baseline": [0, 0.0]}
            for round_ in range(args.rounds):
                for name, run in runs.items():
                    n, seconds = run.train()
                    totals[name][0] += n
                    totals[name][1] += seconds
                    print(f"  round {round_ + 1} {name:8s}: {n} pairs in {seconds:.1f} s = {n / seconds:.2f}/s",
                          flush=True)
            ours, baseline = (totals[k][0] / totals[k][1] for k in ("ours", "baseline"))
            result[shape] = {"ours_pairs_per_s": round(ours, 3), "baseline_pairs_per_s": round(baseline, 3),
                             "speedup": round(ours / baseline, 2), "prompt_tokens": round(mean_prompt),
                             "chosen_tokens": round(mean_chosen)}
    shapes = args.shapes.split(",")
    result["speedup"] = result["correction" if "correction" in shapes else shapes[-1]]["speedup"]
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
