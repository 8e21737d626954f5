"""Find training problems that leak test problems: exact copies and long n-gram overlaps.

The rule (also in docs/method.md):

1. Each problem is normalized (NFKC, casefold), its `[asy]...[/asy]` drawing code removed
   (MATH figures share boilerplate code across unrelated problems), and split into word tokens:
   runs of letters and runs of digits; punctuation, `$` and spacing are ignored.
2. **exact**: the token sequences are equal (a copy up to whitespace, case and punctuation).
3. A train problem and a test problem that share any 13-token n-gram are a *candidate* pair
   (the GPT-3 / lm-eval-harness rule). On MATH train vs test that alone flags ~500 of the 5,000
   test problems, mostly templates reused with other numbers, or another question on one figure.
4. **near** (a near-exact copy): a candidate whose numbers (the multiset of digit tokens) are the
   same *and* in which at least 85% of the longer problem's tokens (so of both) fall in blocks
   shared, in order, with the other (difflib matching blocks): a copy with a lead-in sentence or
   a word or two changed. Measuring the longer one keeps "same figure, other question" apart.
5. **template**: every other candidate, i.e. shared wording with different numbers or a
   different question. It is reported, not treated as a leak.

`exact` and `near` are leaks: `find_contamination` returns them and prepare drops those training
problems. Test problems are indexed once (a dict from n-gram to test problems), so each training
problem costs one dict lookup per n-gram: GSM8K + MATH train against both test sets takes a
second or two.

    python -c "from supercorrect.data.loaders import load_problems, find_contamination as f; \\
               print(len(f(load_problems('train.jsonl'), load_problems('test.jsonl'))))"
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter, defaultdict

NGRAM = 13
NEAR_SIMILARITY = 0.85
LEAK_KINDS = ("exact", "near")

_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.DOTALL)
_TOKEN = re.compile(r"[^\W\d_]+|\d+")


def normalize_text(text: str) -> str:
    """The text two problems must share to count as the same problem.

    NFKC folds look-alike code points (full-width digits, ligatures), casefold ignores case,
    and collapsing whitespace ignores the double spaces that differ between copies in MATH.
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def tokens(text: str) -> tuple[str, ...]:
    """Word and number tokens of a problem, drawing code removed (step 1 of the rule)."""
    return tuple(_TOKEN.findall(_ASY.sub(" ", normalize_text(text))))


def _ngrams(toks: tuple[str, ...], n: int) -> set[tuple[str, ...]]:
    return {toks[i:i + n] for i in range(len(toks) - n + 1)}


def _kind(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    if a == b:
        return "exact"
    numbers_a = Counter(t for t in a if t.isdigit())
    numbers_b = Counter(t for t in b if t.isdigit())
    # Numbers first: it is cheap, and a different number means a different problem however
    # alike the wording is. autojunk off: it would ignore frequent tokens like "the" in long texts.
    if numbers_a != numbers_b:
        return "template"
    blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    shared = sum(block.size for block in blocks)
    # Coverage of the longer one: a short test problem that is the opening of a longer training
    # problem ("a cylinder has height 10 and radius 3 ...") asks something else.
    return "near" if shared >= NEAR_SIMILARITY * max(len(a), len(b)) else "template"


def find_overlaps(train: list[dict], test: list[dict], n: int = NGRAM) -> list[tuple[str, str, str]]:
    """Every (train_id, test_id, kind) with kind exact, near or template; sorted, no repeats.

    Problems are dicts with `id` and `problem` (the pipeline schema).
    """
    test_tokens = {}
    by_tokens: dict[tuple, list[str]] = defaultdict(list)
    by_ngram: dict[tuple, list[str]] = defaultdict(list)
    for q in test:
        if q["id"] in test_tokens:
            continue
        toks = test_tokens[q["id"]] = tokens(q["problem"])
        by_tokens[toks].append(q["id"])
        for gram in _ngrams(toks, n):
            by_ngram[gram].append(q["id"])
    found: dict[tuple[str, str], str] = {}
    for q in train:
        toks = tokens(q["problem"])
        # Exact copies too short to hold an n-gram are only found by this lookup.
        candidates = set(by_tokens.get(toks, ()))
        for gram in _ngrams(toks, n):
            candidates.update(by_ngram.get(gram, ()))
        for test_id in candidates:
            if (q["id"], test_id) not in found:
                found[q["id"], test_id] = _kind(toks, test_tokens[test_id])
    return sorted((a, b, kind) for (a, b), kind in found.items())


def find_contamination(train: list[dict], test: list[dict]) -> list[tuple[str, str]]:
    """(train_id, test_id) for each leak: an exact or near-exact copy of a test problem."""
    return [(a, b) for a, b, kind in find_overlaps(train, test) if kind in LEAK_KINDS]


def summarize(overlaps: list[tuple[str, str, str]]) -> dict:
    """Counts for the data card: pairs and distinct test problems, leaks vs template reuse.

    A test problem with a leak is counted under leaks only, even if it also matches templates.
    """
    leaked = {b for _, b, kind in overlaps if kind in LEAK_KINDS}
    templated = {b for _, b, kind in overlaps if kind == "template"} - leaked
    kinds = Counter(kind for _, _, kind in overlaps)
    return {"exact_pairs": kinds["exact"], "near_pairs": kinds["near"],
            "template_pairs": kinds["template"],
            "leaked_test_problems": len(leaked), "template_only_test_problems": len(templated)}
