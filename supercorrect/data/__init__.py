"""Problems in: loaders for GSM8K, MATH, MATH500, NuminaMath-CoT, MetaMathQA and the hub
(`loaders`), decontamination against the test sets (`decontam`) and the synthetic demo problems
(`synthetic`).

    from supercorrect.data import load_problems
    problems = load_problems("gsm8k_test.jsonl")    # GSM8K, MATH or MATH500 JSONL, format detected

`load_problems`, `load_hub` and `generate_problems` are imported from their module on first
use, so importing one module costs only what it needs.
"""

# name -> its module. PEP 562: a name's module is imported when the name is first asked for.
_EXPORTS = {"load_problems": "loaders", "load_hub": "loaders", "generate_problems": "synthetic"}
__all__ = ["load_problems", "load_hub", "generate_problems"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
