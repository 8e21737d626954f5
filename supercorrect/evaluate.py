"""Stage `evaluate`: accuracy of the base, SFT and DPO checkpoints on each benchmark.

Writes `metrics/evaluate.json` (contract: one object per benchmark, each with `accuracy`,
the final checkpoint's, plus `n` and the accuracy of every checkpoint), the per-sample
predictions, and `plots/evaluate_accuracy.csv` for `dvc plots show`.

    supercorrect evaluate [--params params.yaml] [--set evaluate.checkpoints=[sft,dpo]]
"""

from __future__ import annotations

from supercorrect.config import Params
from supercorrect.grading import extract_answer, grade
from supercorrect.io import read_jsonl, write_json, write_jsonl, write_text
from supercorrect.prompts import load_prompts, solve_messages


def checkpoint_paths(p: Params) -> dict[str, str]:
    return {"base": p.sft.base_dir, "sft": p.sft.out_dir, "dpo": p.dpo.out_dir}


def score(problems: list[dict], responses: list[str]) -> tuple[dict, list[dict]]:
    """Accuracy summary and per-sample records for greedy responses, one per problem."""
    rows = []
    for problem, response in zip(problems, responses, strict=True):
        rows.append({"problem_id": problem["id"], "gold": problem["answer"], "response": response,
                     "extracted": extract_answer(response), "correct": grade(response, problem["answer"])})
    n = len(rows)
    correct = sum(r["correct"] for r in rows)
    summary = {"accuracy": correct / n if n else 0.0, "n": n, "correct": correct,
               "no_answer": sum(r["extracted"] is None for r in rows)}
    return summary, rows


def run(p: Params) -> dict:
    from supercorrect.model import generate, load_student, resolve_model

    prompts = load_prompts(p.prompts.file)
    benchmarks = {name: read_jsonl(path) for name, path in p.evaluate.benchmarks.items()}
    paths = checkpoint_paths(p)
    results = {name: {} for name in benchmarks}
    predictions = []
    for ckpt in p.evaluate.checkpoints:
        model, tokenizer = load_student(resolve_model(paths[ckpt]), p.student.dtype)
        for name, problems in benchmarks.items():
            chats = [solve_messages(prompts, q["problem"]) for q in problems]
            responses = [r[0] for r in generate(model, tokenizer, chats, max_new_tokens=p.student.max_new_tokens,
                                                batch_size=p.student.batch_size, temperature=0.0,
                                                desc=f"evaluate: {ckpt}/{name}")]
            summary, rows = score(problems, responses)
            results[name][ckpt] = summary
            predictions += [{"benchmark": name, "checkpoint": ckpt, **r} for r in rows]
        del model

    final = p.evaluate.checkpoints[-1]
    metrics = {name: {"accuracy": by_ckpt[final]["accuracy"], "n": by_ckpt[final]["n"], "checkpoint": final,
                      **{f"{ckpt}_accuracy": s["accuracy"] for ckpt, s in by_ckpt.items()},
                      "no_answer": by_ckpt[final]["no_answer"]}
               for name, by_ckpt in results.items()}
    write_json(p.evaluate.out, metrics)
    write_jsonl(p.evaluate.predictions, predictions)
    rows = ["benchmark,checkpoint,accuracy"] + [f"{name},{ckpt},{s['accuracy']:.4f}"
                                                for name, by_ckpt in results.items() for ckpt, s in by_ckpt.items()]
    write_text("plots/evaluate_accuracy.csv", "\n".join(rows) + "\n")
    return metrics
