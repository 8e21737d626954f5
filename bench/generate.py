"""Benchmark: rollout tokens per second, the `mine` stage's generation against batched `model.generate`.

Ours is `supercorrect.student.decode.generate` called exactly as `mine` calls it (`--samples` samples at
`mine.temperature`, `student.batch_size` rows per batch, `student.max_new_tokens`). The baseline
that counts is plain transformers `model.generate` on the same batches: the same prompts in the
same order (longest first, `student.batch_size // samples` prompts per call, left padded),
`num_return_sequences=samples`, the same sampling (temperature, no top-k/top-p) and the same stop
ids. The two take turns batch by batch (each first every other batch), so load from other
processes hits both alike. For reference, `model.generate` on one prompt and one sample per call
is timed too (after the others). All run in this process on the same model, a tiny Qwen2 built
from synthetic problems (random weights: the completions are noise, but every token costs what
a trained model's token costs). Tokens are counted the same way on every side: the completion
text re-tokenized.

    python -m bench.generate [--problems 128] [--samples 4] [--baseline-sequences 16] [--threads 1]

The last line is JSON: ours_tokens_per_s, batched_tokens_per_s, speedup_vs_batched, ...
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def count_tokens(tokenizer, texts: list[str]) -> int:
    return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)


def main(argv: list[str] | None = None) -> dict:
    import torch

    from supercorrect.config import Params
    from supercorrect.student.build import build_tiny
    from supercorrect.student.load import eos_ids, load_student, prompt_ids, render
    from supercorrect.student.decode import generate
    from supercorrect.formats.prompts import V2, solve_messages
    from supercorrect.data.synthetic import generate_problems

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=128)
    parser.add_argument("--samples", type=int, default=4, help="samples per problem (mine.samples_per_problem)")
    parser.add_argument("--baseline-sequences", type=int, default=16,
                        help="sequences generated one at a time for the baseline rate")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both sides (1: steadier figures on a shared machine)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    p = Params()
    problems = generate_problems(args.problems, seed=1)
    corpus = [t for q in generate_problems(300, seed=0) for t in (V2.system, q["problem"], q["solution"])]
    with tempfile.TemporaryDirectory() as tmp:
        build_tiny(corpus, p.student.tiny, f"{tmp}/model", seed=0)
        model, tok = load_student(f"{tmp}/model")
    chats = [solve_messages(V2, q["problem"]) for q in problems]
    print(f"model: tiny Qwen2 {sum(x.numel() for x in model.parameters()) / 1e6:.2f}M params; "
          f"{args.problems} problems x {args.samples} samples, max_new_tokens={p.student.max_new_tokens}, "
          f"temperature={p.mine.temperature}, batch_size={p.student.batch_size}, threads={args.threads}")

    # Batch by batch, ours and the baseline that counts (plain transformers generate) take turns
    # on the same batch, each going first every other batch, so machine load hits both alike.
    # The chats are put longest first up front, so each call of ours is one of the batches the
    # stage's single call would make (generate sorts longest first too).
    eos = eos_ids(model.generation_config, tok)
    ids = prompt_ids(tok, chats)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    per_batch = max(1, p.student.batch_size // args.samples)
    seconds, texts = {"ours": 0.0, "batched": 0.0}, {"ours": [], "batched": []}

    def ours(batch: list[int], seed: int) -> list[str]:
        out = generate(model, tok, [chats[i] for i in batch], max_new_tokens=p.student.max_new_tokens,
                       temperature=p.mine.temperature, num_samples=args.samples, batch_size=p.student.batch_size,
                       seed=seed, desc="bench: ours")
        return [t for row in out for t in row]

    def batched(batch: list[int], seed: int) -> list[str]:
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            enc = tok.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt")
            new = model.generate(**enc, max_new_tokens=p.student.max_new_tokens, do_sample=True,
                                 temperature=p.mine.temperature, top_k=0, top_p=1.0,
                                 num_return_sequences=args.samples, pad_token_id=tok.pad_token_id, eos_token_id=eos)
        return tok.batch_decode(new[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)

    for n, start in enumerate(range(0, len(order), per_batch)):
        batch = order[start:start + per_batch]
        for name, run in ((("ours", ours), ("batched", batched)) if n % 2 == 0 else
                          (("batched", batched), ("ours", ours))):
            started = time.perf_counter()
            texts[name] += run(batch, seed=n)
            seconds[name] += time.perf_counter() - started
    ours_s, batched_s = seconds["ours"], seconds["batched"]
    ours_tokens, batched_tokens = count_tokens(tok, texts["ours"]), count_tokens(tok, texts["batched"])

    # For reference: one prompt, one sample per call.
    texts, started = [], time.perf_counter()
    with torch.inference_mode():
        torch.manual_seed(0)
        for chat in chats[: args.baseline_sequences]:
            enc = tok(render(tok, chat), add_special_tokens=False, return_tensors="pt")
            ids = model.generate(**enc, max_new_tokens=p.student.max_new_tokens, do_sample=True,
                                 temperature=p.mine.temperature, top_k=0, top_p=1.0,
                                 pad_token_id=tok.pad_token_id, eos_token_id=eos)
            texts.append(tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))
    base_s = time.perf_counter() - started
    base_tokens = count_tokens(tok, texts)

    ours_rate, batched_rate, base_rate = ours_tokens / ours_s, batched_tokens / batched_s, base_tokens / base_s
    print(f"ours:       {ours_tokens} tokens in {ours_s:.1f} s = {ours_rate:.0f} tokens/s")
    print(f"batched:    {batched_tokens} tokens in {batched_s:.1f} s = {batched_rate:.0f} tokens/s "
          f"(model.generate, {per_batch} prompts x {args.samples} samples per call)")
    print(f"sequential: {base_tokens} tokens in {base_s:.1f} s = {base_rate:.0f} tokens/s (one sequence per call)")
    result = {"ours_tokens_per_s": round(ours_rate, 1), "batched_tokens_per_s": round(batched_rate, 1),
              "speedup_vs_batched": round(ours_rate / batched_rate, 2),
              "sequential_tokens_per_s": round(base_rate, 1), "speedup_vs_sequential": round(ours_rate / base_rate, 2),
              "problems": args.problems, "samples": args.samples, "ours_tokens": ours_tokens,
              "batched_tokens": batched_tokens, "sequential_tokens": base_tokens,
              "batch_size": p.student.batch_size, "threads": args.threads}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
