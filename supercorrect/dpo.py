"""Stage `dpo`: cross-model collaborative DPO (stage 2 of the paper, Eq. 8).

Trains the HSFT student (`sft.out_dir`) with TRL's DPOTrainer on `{mine.out_dir}/pairs.jsonl`:
prompt = system + problem (+ the student's correct steps 1..k-1 as an assistant message),
chosen = the teacher's cause/correction of step k, rejected = the student's own.

TRL 1.16 renders a conversational prompt with `add_generation_prompt=True` and appends the
chosen/rejected message as a *new* assistant turn, so a prompt ending in an assistant message
would be closed with `<|im_end|>` and followed by a second, empty-context assistant turn. The
pairs are therefore rendered to text here first: the prompt with `continue_final_message=True`
(exactly what `model.generate` sees in `mine`/`evaluate`), each completion as its content plus
the template's end-of-turn marker. Lineage columns stay in pairs.jsonl and are not trained on.

Writes the model to `dpo.out_dir` (system prompt as the chat template's default, model card:
supercorrect.saved_model), `metrics/dpo.json` and `plots/dpo_loss.csv`. Checkpoints and
resume work as in `sft` (`{dpo.checkpoint_dir}/dpo/<hash>`).

Memory: with `dpo.precompute_ref_log_probs` (default) the reference log-probs are computed once
by the policy itself before training (it still holds the SFT weights), so no reference model is
ever loaded; with LoRA the reference is the policy with its adapter disabled. Only with
precompute off and full fine-tuning does TRL keep a second, frozen copy in memory.

    supercorrect dpo [--params params.yaml] [--set dpo.beta=0.2]
"""

from __future__ import annotations

from pathlib import Path

from supercorrect.io import InputError, read_jsonl, write_json, write_jsonl
from supercorrect.sft import (common_args, curve_metrics, loss_curve, lora_config, save_student, train_resuming,
                              write_curve)

_SENTINEL = "\x00END-OF-CONTENT\x00"


def turn_end(tokenizer) -> str:
    """What the chat template writes after an assistant message's content, e.g. `<|im_end|>`."""
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": _SENTINEL}], tokenize=False)
    # Trailing whitespace after the end marker is never generated (generation stops at eos).
    return text.split(_SENTINEL, 1)[1].rstrip()


def to_text_pair(tokenizer, pair: dict, end: str | None = None) -> dict:
    """One conversational pair as TRL's plain-text preference format, continuing any prefix."""
    from supercorrect.model import render

    end = turn_end(tokenizer) if end is None else end
    messages = pair["prompt"]
    if messages[-1]["role"] == "assistant":
        # Open the assistant turn, then append the prefix verbatim: `continue_final_message`
        # would strip its trailing newline, and SFT taught `</StepN>\n<StepN+1>`.
        prompt = render(tokenizer, messages[:-1]) + messages[-1]["content"]
    else:
        prompt = render(tokenizer, messages)
    return {
        "prompt": prompt,
        "chosen": pair["chosen"][-1]["content"] + end,
        "rejected": pair["rejected"][-1]["content"] + end,
    }


def load_pairs(path: Path) -> list[dict]:
    pairs = read_jsonl(path)
    if not pairs:
        raise InputError(f"{path}: no preference pairs to train on (did `mine` find any wrong solutions?)")
    for lineno, pair in enumerate(pairs, 1):
        for field in ("prompt", "chosen", "rejected"):
            if not isinstance(pair.get(field), list) or not pair[field]:
                raise InputError(f"{path}: record {lineno}: `{field}` must be a non-empty list of messages")
    return pairs


def run(p) -> dict:
    """Train the student with DPO; return the metrics also written to metrics/dpo.json."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from supercorrect.checkpoints import clear, run_dir
    from supercorrect.model import load_student
    from supercorrect.prompts import load_prompts
    from supercorrect.saved_model import model_card

    path = Path(p.mine.out_dir) / "pairs.jsonl"
    pairs = load_pairs(path)
    model, tokenizer = load_student(p.sft.out_dir, p.student.dtype)
    end = turn_end(tokenizer)
    rows = [to_text_pair(tokenizer, pair, end) for pair in pairs]
    # TRL silently drops pairs whose prompt fills max_length; all of them dropped is an error.
    if all(len(tokenizer(r["prompt"], add_special_tokens=False)["input_ids"]) >= p.dpo.max_length for r in rows):
        raise InputError(f"{path}: every prompt is at least dpo.max_length={p.dpo.max_length} tokens long")

    out = run_dir(p.dpo.checkpoint_dir, "dpo", {"dpo": p.dpo.model_dump(), "student": p.student.model_dump()},
                  [path, p.sft.out_dir])
    args = DPOConfig(
        **common_args(p.dpo, out, len(pairs)),
        beta=p.dpo.beta,
        loss_type=[p.dpo.loss_type],
        lr_scheduler_type="cosine",
        warmup_steps=0.1,
        # The reference is the frozen SFT model: score every pair once up front instead of
        # running a second model on every step of every epoch.
        precompute_ref_log_probs=p.dpo.precompute_ref_log_probs,
    )
    # TRL caches the precomputed scores next to the dataset's files. An in-memory dataset has
    # none (each process would pick its own temp dir and the other ranks would not find rank
    # 0's file), so the rows go through a file in the run directory that every rank shares.
    rows_file = out / "pairs_text.jsonl"
    if args.process_index == 0:
        write_jsonl(rows_file, rows)
    args.distributed_state.wait_for_everyone()
    dataset = Dataset.from_json(str(rows_file), cache_dir=str(out / "datasets"))
    trainer = DPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(p.dpo))
    reference_in_memory = trainer.ref_model is not None
    print(f"dpo: rank {args.process_index} of world size {args.world_size}; "
          f"reference model in memory: {reference_in_memory}", flush=True)
    result, runtime, start_step = train_resuming(trainer, out)
    history = trainer.state.log_history
    curve = loss_curve(history)

    rewards = [h for h in history if "rewards/margins" in h]
    metrics = {
        "n_pairs": len(pairs), "n_trained": len(trainer.train_dataset),
        "n_continued": sum(pair["prompt"][-1]["role"] == "assistant" for pair in pairs),
        "steps": trainer.state.global_step, "epochs": p.dpo.epochs, "beta": p.dpo.beta,
        **curve_metrics(curve), "train_loss": result.training_loss,
        "final_reward_accuracy": rewards[-1]["rewards/accuracies"] if rewards else None,
        "final_reward_margin": rewards[-1]["rewards/margins"] if rewards else None,
        "train_runtime_s": round(runtime, 2), "lora": p.dpo.lora, "loss_type": p.dpo.loss_type,
        "precompute_ref_log_probs": p.dpo.precompute_ref_log_probs,
        "reference_model_in_memory": reference_in_memory,
        "resumed_from_step": start_step, "world_size": args.world_size,
    }
    prompts = load_prompts(p.prompts.file)
    data = {"pairs": f"{path} ({len(pairs)} preference pairs)",
            "teacher": ", ".join(sorted({str(pair.get("teacher_model")) for pair in pairs})),
            "reference policy": p.sft.out_dir}
    save_student(trainer, tokenizer, p.dpo.out_dir, prompts.system, model_card("dpo", p, prompts, metrics, data))
    if trainer.is_world_process_zero():
        clear(out)
        write_json("metrics/dpo.json", metrics)
        write_curve("plots/dpo_loss.csv", curve)
    return metrics
