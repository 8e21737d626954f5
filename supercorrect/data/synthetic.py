"""Deterministic GSM8K-style word problems for the offline demo, and GSM8K step parsing.

A problem is a starting amount and 1..max_steps changes (+, -, *), e.g.

    Tom has 5 apples. He buys 3 more apples. Then he gives away 2 apples.
    How many apples does Tom have now?

and its solution has one line per step, each restating the step and its operands and carrying a
GSM8K calculator note, then the GSM8K final line:

    Tom buys 3 more apples, so he has 5+3=<<5+3=8>>8 apples.
    Tom gives away 2 apples, so he has 8-2=<<8-2=6>>6 apples.
    #### 6

The shape is chosen for a tiny (about 1M-parameter, digit-level) student trained for minutes on
CPU: few templates, small numbers, and steps that repeat their operands, so that a step is
mostly copying plus one small calculation. supercorrect.formats.gsm8k_notes reads the notes back.

    python -m supercorrect.data.synthetic 3      # print three problems
"""

from __future__ import annotations

import random

from supercorrect.data.loaders import normalize_text, problem_id

NAMES = [("Tom", "he"), ("Anna", "she"), ("Ben", "he"), ("Mia", "she"),
         ("Sam", "he"), ("Lily", "she"), ("Max", "he"), ("Emma", "she")]
ITEMS = ["apples", "books", "coins", "pens", "cards", "stickers", "marbles", "shells"]
# op -> the ways a step with that op is told. The solution line repeats the same phrase, so the
# student only has to copy it and do the arithmetic.
ACTIONS = {
    "+": ["buys {n} more {item}", "finds {n} more {item}"],
    "-": ["gives away {n} {item}", "loses {n} {item}"],
    "*": ["ends up with {n} times as many {item}"],
}


def _apply(op: str, a: int, n: int) -> int:
    return a + n if op == "+" else a - n if op == "-" else a * n


# Multiplication is the hardest step for a tiny model: rarer, and by a factor of at most 5.
OP_WEIGHTS = {"+": 4, "-": 4, "*": 2}
MAX_FACTOR = 5


def _pick_step(rng: random.Random, a: int, max_number: int, cap: int) -> tuple[str, int]:
    """An op and an operand in 2..max_number that keep the running value within 0..cap."""
    highest = {}  # op -> largest allowed operand
    if a + 2 <= cap:
        highest["+"] = min(max_number, cap - a)
    if a >= 2:
        highest["-"] = min(max_number, a)  # never below zero
    if 0 < a and a * 2 <= cap:
        highest["*"] = min(max_number, MAX_FACTOR, cap // a)
    ops = sorted(highest)  # a fixed order: the draw must not depend on dict history
    op = rng.choices(ops, weights=[OP_WEIGHTS[o] for o in ops])[0]
    return op, rng.randint(2, highest[op])


def make_problem(rng: random.Random, max_steps: int, max_number: int) -> dict:
    """One random problem (without id or split): problem, solution, answer, level."""
    name, pron = rng.choice(NAMES)
    item = rng.choice(ITEMS)
    # Values stay below max_number**2 so every number is at most a few digits.
    cap = max(max_number * max_number, 4)
    value = rng.randint(2, max_number)
    sentences = [f"{name} has {value} {item}."]
    lines = []
    n_steps = rng.randint(1, max_steps)
    for k in range(n_steps):
        op, n = _pick_step(rng, value, max_number, cap)
        action = rng.choice(ACTIONS[op]).format(n=n, item=item)
        sentences.append(f"{pron.capitalize()} {action}." if k == 0 else f"Then {pron} {action}.")
        result = _apply(op, value, n)
        expr = f"{value}{op}{n}"
        lines.append(f"{name} {action}, so {pron} has {expr}=<<{expr}={result}>>{result} {item}.")
        value = result
    sentences.append(f"How many {item} does {name} have now?")
    lines.append(f"#### {value}")
    return {"problem": " ".join(sentences), "solution": "\n".join(lines), "answer": str(value),
            "level": n_steps}


def generate_problems(n: int, seed: int, max_steps: int = 2, max_number: int = 12,
                      split: str = "train") -> list[dict]:
    """`n` distinct problems in the pipeline schema; the same arguments give the same list."""
    if n < 0 or max_steps < 1 or max_number < 2:
        raise ValueError("need n >= 0, max_steps >= 1 and max_number >= 2")
    rng = random.Random(seed)
    problems, seen = [], set()
    # Small settings can have fewer distinct problems than asked for: stop instead of looping.
    attempts = 100 * n + 1000
    while len(problems) < n and attempts:
        attempts -= 1
        q = make_problem(rng, max_steps, max_number)
        key = normalize_text(q["problem"])
        if key in seen:
            continue
        seen.add(key)
        problems.append({
            "id": problem_id("synthetic", q["problem"]), "source": "synthetic", "split": split,
            "problem": q["problem"], "solution": q["solution"], "answer": q["answer"],
            "subject": "arithmetic", "level": q["level"],
        })
    if len(problems) < n:
        raise ValueError(f"only {len(problems)} distinct problems found for n={n} with "
                         f"max_steps={max_steps}, max_number={max_number}; raise max_number")
    return problems


if __name__ == "__main__":
    import sys

    for q in generate_problems(int(sys.argv[1]) if len(sys.argv) > 1 else 3, seed=0):
        print(q["problem"], q["solution"], "", sep="\n")
