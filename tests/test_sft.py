"""Tests for stage `sft` and the student helpers in supercorrect.student.

Real tokenizers, real Qwen2 models and a real (tiny, few dozen steps) TRL SFT run; nothing is
mocked. The whole file runs in well under a minute on 2 CPU cores.
"""

from __future__ import annotations

import json
import random

import pytest

from supercorrect import sft
from supercorrect.config import TinyConfig
from supercorrect.formats.prompts import V2, solve_messages
from supercorrect.io import InputError, write_jsonl
from supercorrect.params_file import load_params
from supercorrect.student.build import IM_END, TAGS, build_tiny
from supercorrect.student.decode import generate
from supercorrect.student.load import load_student, resolve_model
from tests.conftest import REPO

SMALL = TinyConfig(hidden_size=32, num_layers=2, num_heads=2, vocab_size=300)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from a second thread, and on a shared 2-core box two threads
    fighting another process for a core made a 1-second run take a minute."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def hsft_records(n: int, seed: int = 0) -> list[dict]:
    """Verified templates for one-step problems, in the shape annotate writes."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        template = (f"<Step1>Tom buys {b} more apples, so he has {a}+{b}={a + b} apples.</Step1>\n"
                    "<Generalized>Add what he buys to what he has.</Generalized>\n"
                    f"<Answer>{a + b}</Answer>")
        records.append({"id": f"p{i}-hsft", "problem_id": f"p{i}", "verified": True, "template": template,
                        "problem": f"Tom has {a} apples. He buys {b} more apples. How many apples does Tom have now?"})
    return records


def corpus(records: list[dict]) -> list[str]:
    return sft.tiny_corpus(sft.training_rows(V2, records), V2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random tiny model + tokenizer, loaded back the way later stages load it."""
    out = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny(corpus(hsft_records(40)), SMALL, out, seed=0)
    return load_student(out)


def test_digits_are_single_tokens(tiny):
    _, tok = tiny
    pieces = tok.tokenize("He has 12345 apples and 70 pens.")
    digits = [p for p in pieces if any(c.isdigit() for c in p)]
    assert digits == list("1234570")


def test_template_tags_are_single_tokens_and_text_round_trips(tiny):
    _, tok = tiny
    text = "<Step1>5+3=8, naïve 🙂</Step1>\n<Generalized>add</Generalized>\n<Answer>8</Answer>"
    pieces = tok.tokenize(text)
    assert {"<Step1>", "</Step1>", "<Generalized>", "<Answer>", "</Answer>"} <= set(pieces)
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text
    assert len(tok) <= SMALL.vocab_size and set(TAGS) <= set(tok.get_vocab())


def test_chat_template_renders_chatml(tiny):
    _, tok = tiny
    chat = solve_messages(V2, "What is 2+2?")
    text = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert text == (f"<|im_start|>system\n{V2.system}<|im_end|>\n"
                    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
    full = tok.apply_chat_template(chat + [{"role": "assistant", "content": "<Answer>4</Answer>"}], tokenize=False)
    assert full == text + "<Answer>4</Answer><|im_end|>\n"
    assert tok.eos_token == IM_END and tok.pad_token == "<|endoftext|>"


def test_continue_final_message_leaves_the_assistant_turn_open(tiny):
    _, tok = tiny
    prefix = "<Step1>Tom has 5+3=8 apples.</Step1>\n"
    chat = solve_messages(V2, "q") + [{"role": "assistant", "content": prefix}]
    text = tok.apply_chat_template(chat, tokenize=False, continue_final_message=True)
    assert text.endswith("<|im_start|>assistant\n" + prefix)
    # The next step must tokenize the same with or without the prefix in front of it, or
    # training (prompt + completion) and inference (prompt, then generate) would disagree.
    ids = tok(text, add_special_tokens=False)["input_ids"]
    joined = tok(text + "<Step2>Then 8-2=6.</Step2>", add_special_tokens=False)["input_ids"]
    assert joined[: len(ids)] == ids


def test_flash_attention_only_where_its_kernels_run():
    from supercorrect.student.load import attention_implementation

    assert attention_implementation("bfloat16", cuda=True, flash_installed=True) == "flash_attention_2"
    assert attention_implementation("float16", cuda=True, flash_installed=True) == "flash_attention_2"
    # fp32 weights, no GPU, or no flash-attn: transformers' default (sdpa), as before.
    assert attention_implementation("float32", cuda=True, flash_installed=True) is None
    assert attention_implementation("bfloat16", cuda=False, flash_installed=True) is None
    assert attention_implementation("bfloat16", cuda=True, flash_installed=False) is None


def test_build_tiny_is_deterministic(tmp_path):
    texts = corpus(hsft_records(20))
    m1, t1 = build_tiny(texts, SMALL, tmp_path / "a", seed=3)
    m2, t2 = build_tiny(texts, SMALL, tmp_path / "b", seed=3)
    m3, _ = build_tiny(texts, SMALL, tmp_path / "c", seed=4)
    assert t1.get_vocab() == t2.get_vocab()
    w1, w2, w3 = (m.model.embed_tokens.weight for m in (m1, m2, m3))
    assert w1.equal(w2) and not w1.equal(w3)
    assert m1.config.tie_word_embeddings and m1.config.num_hidden_layers == SMALL.num_layers
    assert (tmp_path / "a" / "config.json").exists() and (tmp_path / "a" / "tokenizer.json").exists()


def test_resolve_model_follows_a_pointer(tmp_path):
    (tmp_path / "pointer.json").write_text(json.dumps({"model": "Qwen/Qwen2.5-Math-7B-Instruct"}))
    assert resolve_model(tmp_path) == "Qwen/Qwen2.5-Math-7B-Instruct"
    assert resolve_model(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")
    assert resolve_model("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"


def test_generate_shape_order_and_determinism(tiny):
    model, tok = tiny
    convs = [solve_messages(V2, "Tom has 3 apples." * k) for k in (1, 4, 2)]
    convs.append(solve_messages(V2, "q") + [{"role": "assistant", "content": "<Step1>"}])
    out = generate(model, tok, convs, max_new_tokens=6, num_samples=2, batch_size=2)
    assert len(out) == 4 and all(len(o) == 2 and o[0] == o[1] for o in out)  # greedy: samples agree
    # Batched, sorted and left-padded output matches each conversation generated alone.
    alone = [generate(model, tok, [c], max_new_tokens=6, batch_size=1)[0] for c in convs]
    assert [o[:1] for o in out] == alone
    a = generate(model, tok, convs, max_new_tokens=6, temperature=1.0, num_samples=3, seed=7)
    b = generate(model, tok, convs, max_new_tokens=6, temperature=1.0, num_samples=3, seed=7)
    c = generate(model, tok, convs, max_new_tokens=6, temperature=1.0, num_samples=3, seed=8)
    assert a == b and a != c and all(len(o) == 3 for o in a)


def params(tmp_path, *extra):
    return load_params(REPO / "params.yaml", [
        f"annotate.out_dir={tmp_path}/annotate", f"sft.out_dir={tmp_path}/sft", f"sft.base_dir={tmp_path}/base",
        "student.tiny.hidden_size=64", "student.tiny.num_layers=2", "student.tiny.num_heads=4",
        "student.tiny.vocab_size=400", "sft.batch_size=4", "sft.epochs=6", "sft.learning_rate=0.01",
        "sft.max_length=320", *extra])


def test_sft_run_learns_and_saves(in_tmp, capfd):
    records = hsft_records(24)
    unverified = {**records[0], "id": "bad", "verified": False, "template": "garbage"}
    write_jsonl(in_tmp / "annotate" / "hsft.jsonl", records + [unverified])
    metrics = sft.run(params(in_tmp))
    out, err = capfd.readouterr()
    # One labelled bar with the loss in it; no printed log dicts (transformers' ProgressCallback).
    assert "sft: train" in err and "loss=" in err and "{'loss'" not in out + err

    assert metrics["n_train"] == 24 and metrics["steps"] == 36
    assert metrics["final_loss"] < 0.5 * metrics["first_loss"]
    assert json.loads((in_tmp / "sft" / "metrics.json").read_text()) == metrics  # a side run: beside its model
    curve = (in_tmp / "plots" / "sft_loss.csv").read_text().splitlines()
    assert curve[0] == "step,loss" and len(curve) > 10
    assert not list((in_tmp / "sft").glob("checkpoint-*"))  # trainer output went to a temp dir

    model, tok = load_student(in_tmp / "sft")
    assert model.config.num_hidden_layers == 2 and tok.padding_side == "left"
    base, _ = load_student(in_tmp / "base")  # the untrained base stays for evaluate
    assert not base.model.embed_tokens.weight.equal(model.model.embed_tokens.weight)


def test_sft_lora_is_merged_before_saving(in_tmp):
    write_jsonl(in_tmp / "annotate" / "hsft.jsonl", hsft_records(8))
    sft.run(params(in_tmp, "sft.lora=true", "sft.epochs=1"))
    files = {p.name for p in (in_tmp / "sft").iterdir()}
    assert "adapter_config.json" not in files and "model.safetensors" in files
    model, _ = load_student(in_tmp / "sft")
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_non_tiny_student_gets_a_pointer(in_tmp):
    p = params(in_tmp, "student.model=Qwen/Qwen2.5-Math-7B-Instruct")
    base = sft.prepare_base(p, sft.training_rows(V2, hsft_records(2)), V2)
    assert resolve_model(base) == "Qwen/Qwen2.5-Math-7B-Instruct"


def test_sft_without_verified_records_names_the_file(in_tmp):
    path = in_tmp / "annotate" / "hsft.jsonl"
    write_jsonl(path, [{**hsft_records(1)[0], "verified": False}])
    with pytest.raises(InputError, match=str(path)):
        sft.run(params(in_tmp))


def test_decode_loop_matches_transformers_generate(tiny):
    """Our decode loop (shared prefill, preallocated cache, rows leave when done) must produce
    exactly what `model.generate` produces greedily, padding and early stops included."""
    import torch

    from supercorrect.student.decode import decode_batch
    from supercorrect.student.load import eos_ids, render

    model, tok = tiny
    prompts = [tok(render(tok, solve_messages(V2, "Tom has 3 apples." * k)), add_special_tokens=False)["input_ids"]
               for k in (1, 3, 2)]
    eos = eos_ids(model.generation_config, tok)
    ours = decode_batch(model, prompts, pad_id=tok.pad_token_id, eos_ids=eos, max_new_tokens=12, num_samples=2)
    for i, p in enumerate(prompts):
        with torch.inference_mode():
            ref = model.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                 max_new_tokens=12, do_sample=False, temperature=None, top_k=None, top_p=None,
                                 pad_token_id=tok.pad_token_id, eos_token_id=eos)[0, len(p):].tolist()
        ref = ref[: next((j + 1 for j, t in enumerate(ref) if t in eos), len(ref))]
        assert ours[2 * i] == ours[2 * i + 1] == ref
    # Sampling: rows that stop early are cut right after their end-of-turn token.
    sampled = decode_batch(model, prompts, pad_id=tok.pad_token_id, eos_ids=eos, max_new_tokens=40,
                           temperature=5.0, num_samples=3)
    assert len(sampled) == 9
    assert all(t not in eos for row in sampled for t in row[:-1]) and all(0 < len(r) <= 40 for r in sampled)


def test_sft_padding_free_drops_rows_over_max_length(in_tmp):
    """padding_free: TRL cannot truncate unpadded rows, so the stage drops the long ones itself."""
    records = hsft_records(8)
    long = {**records[0], "id": "long", "problem": "Tom has many apples. " * 60}
    write_jsonl(in_tmp / "annotate" / "hsft.jsonl", records + [long])
    metrics = sft.run(params(in_tmp, "sft.padding_free=true", "sft.epochs=1", "sft.save_steps=0"))
    assert metrics["n_train"] == 9 and metrics["n_dropped_too_long"] == 1 and metrics["steps"] == 2


def test_length_buckets_batch_similar_lengths_in_random_order():
    lengths = [random.Random(i).randint(10, 200) for i in range(400)]
    sampler = sft.LengthBuckets(lengths, batch_size=4, seed=0, window=10)
    order = list(sampler)
    assert sorted(order) == list(range(400)) and list(sampler) == order  # a permutation, seeded
    batches = [order[i:i + 4] for i in range(0, 400, 4)]
    padded = sum(4 * max(lengths[i] for i in b) for b in batches)
    shuffled = list(range(400))
    random.Random(0).shuffle(shuffled)
    padded_random = sum(4 * max(lengths[i] for i in shuffled[j:j + 4]) for j in range(0, 400, 4))
    assert padded - sum(lengths) < 0.25 * (padded_random - sum(lengths))  # far less padding
    # Not a long-to-short sweep: batch lengths along training are not sorted within windows.
    means = [sum(lengths[i] for i in b) / 4 for b in batches]
    assert means[:10] != sorted(means[:10]) and means[:10] != sorted(means[:10], reverse=True)
    sampler.set_epoch(1)
    assert list(sampler) != order


def test_length_window_keeps_batches_mixed_and_covers_every_example_once():
    """The default window (sft.length_window batches) sorts only locally: every example once per
    epoch, each window of W batches holds exactly W*batch_size examples of one shuffled chunk, and
    batch lengths along the epoch are nowhere near sorted (no long-to-short sweep)."""
    import torch

    from supercorrect.config import SftConfig

    window, bs, n = SftConfig().length_window, 4, 400
    lengths = [random.Random(i).randint(150, 250) for i in range(n)]
    sampler = sft.LengthBuckets(lengths, batch_size=bs, seed=3, window=window)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert sorted(order) == list(range(n))  # each example exactly once
        batches = [order[i:i + bs] for i in range(0, n, bs)]
        # A batch is contiguous within one sorted window of the epoch's permutation.
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(3 + epoch)).tolist()
        chunk_of = {i: k // (window * bs) for k, i in enumerate(perm)}
        assert all(len({chunk_of[i] for i in b}) == 1 for b in batches)
        means = [sum(lengths[i] for i in b) / bs for b in batches]
        inversions = sum(a > b for a, b in zip(means, means[1:]))
        assert 0.3 * len(means) < inversions < 0.7 * len(means)  # batch order is shuffled, not sorted
        padded = sum(bs * max(lengths[i] for i in b) for b in batches)
        shuffled = [perm[j:j + bs] for j in range(0, n, bs)]
        padded_random = sum(bs * max(lengths[i] for i in b) for b in shuffled)
        assert padded - sum(lengths) < 0.5 * (padded_random - sum(lengths))  # less than half the padding
