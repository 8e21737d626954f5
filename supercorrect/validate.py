"""Validate every record file a stage reads, before any paid or slow work starts.

One schema per record type, checked the same way wherever the type is read:
* `problems`     annotate's input and mine's problems (id, problem, solution, answer, ...);
* `hsft`         annotate's hsft.jsonl, read by sft (id, problem_id, problem, template, verified);
* `rollouts`     mine's rollouts.jsonl, read by evaluate (id, problem_id, response, correct);
* `corrections`  mine's corrections.jsonl (rollout_id, problem_id, k, ...);
* `heldout`      mine's heldout.jsonl, read by evaluate (a located error: problem, response, k);
* `pairs`        mine's pairs.jsonl, read by dpo (TRL conversational prompt/chosen/rejected);
* benchmark files, read by evaluate: the pipeline's own problems, raw GSM8K, MATH and MATH500
  JSONL or bare {problem, answer} records, converted by supercorrect.data.loaders
  (`load_problems(path, split="test", solution_required=False)`).

A defect is an `InputError` whose one-line message reads `file:line: field: what is wrong`
(the CLI prints it and exits 2): a missing or ill-typed field, an empty string where text is
needed, a duplicate id, invalid UTF-8 or JSON, a file that is empty, missing or a directory.
With `on_error="skip"` a defective record is dropped instead, logged, and reported in
`dropped` (`{where, reason, message}`); a file left with no records is still an error.

    python -m supercorrect.validate problems data/prepare/train.jsonl   # prints the record count
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from supercorrect.io import InputError, iter_jsonl

log = logging.getLogger(__name__)

# Field kinds: str = a non-empty string; text = any string; str? / int? = may be absent or null;
# step = an int >= 1; bool; messages = a non-empty list of {role, content} chat messages.
SCHEMAS: dict[str, dict[str, str]] = {
    "problems": {"id": "str", "problem": "str", "solution": "str", "answer": "str",
                 "source": "str?", "split": "str?", "subject": "str?", "level": "int?"},
    "hsft": {"id": "str", "problem_id": "str", "problem": "str", "template": "str", "verified": "bool",
             "answer": "str?", "teacher_model": "str?", "prompt_version": "str?", "kind": "str?", "shown": "str?"},
    "rollouts": {"id": "str", "problem_id": "str", "response": "text", "correct": "bool", "sample": "int?"},
    "corrections": {"rollout_id": "str", "problem_id": "str", "k": "step", "teacher_text": "str"},
    "heldout": {"rollout_id": "str", "problem_id": "str", "k": "step", "problem": "str", "answer": "str",
                "response": "text"},
    "pairs": {"prompt": "messages", "chosen": "messages", "rejected": "messages", "id": "str?"},
}
# The field that identifies a record of each type: a second record with the same value is an error.
ID_FIELD = {"problems": "id", "hsft": "id", "rollouts": "id", "corrections": "rollout_id", "heldout": "rollout_id",
            "pairs": "id"}
ON_ERROR = ("fail", "skip")


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def _field_error(value, kind: str) -> str | None:
    """What is wrong with one field's value, or None."""
    if kind.endswith("?"):
        if value is None:
            return None
        kind = kind[:-1]
    elif value is None:
        return "missing"
    if kind in ("str", "text"):
        if not isinstance(value, str):
            return f"expected a string, got {_type_name(value)}"
        return "empty" if kind == "str" and not value.strip() else None
    if kind in ("int", "step"):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected an integer, got {_type_name(value)}"
        return f"expected an integer >= 1, got {value}" if kind == "step" and value < 1 else None
    if kind == "bool":
        return None if isinstance(value, bool) else f"expected true or false, got {_type_name(value)}"
    if kind == "messages":
        if not isinstance(value, list) or not value:
            return f"expected a non-empty list of chat messages, got {_type_name(value) if value != [] else 'an empty list'}"
        for i, message in enumerate(value):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str) \
                    or not isinstance(message.get("content"), str):
                return f"message {i}: expected {{\"role\": string, \"content\": string}}"
        return None
    raise ValueError(f"unknown field kind {kind!r}")


def check_record(record: dict, kind: str, where: str) -> None:
    """Raise InputError `where: field: what is wrong` for the first bad field of `record`."""
    for field, spec in SCHEMAS[kind].items():
        problem = _field_error(record.get(field), spec)
        if problem is not None:
            raise InputError(f"{where}: {field}: {problem}", "missing_field" if problem == "missing" else "wrong_type")


def drop(exc: InputError, on_error: str, dropped: list | None) -> None:
    """Re-raise `exc` under on_error=fail; else log it and add `{where, reason, message}` to `dropped`."""
    if on_error == "fail":
        raise exc
    where, _, message = str(exc).partition(": ")
    log.warning("%s; skipped", exc)
    if dropped is not None:
        dropped.append({"where": where, "reason": exc.reason, "message": message})


def load(path: str | Path, kind: str, on_error: str = "fail", dropped: list | None = None) -> list[dict]:
    """Every valid record of type `kind` in the JSONL file `path`, in file order."""
    if kind not in SCHEMAS:
        raise ValueError(f"unknown record type {kind!r}; expected one of {', '.join(SCHEMAS)}")
    if on_error not in ON_ERROR:
        raise ValueError(f"unknown on_error {on_error!r}; expected fail or skip")
    id_field = ID_FIELD[kind]
    records, seen, skipped = [], {}, 0
    for where, record in iter_jsonl(path):
        try:
            if isinstance(record, InputError):
                raise record
            check_record(record, kind, where)
            key = record.get(id_field)
            if key is not None:
                if key in seen:
                    raise InputError(f"{where}: {id_field}: duplicate {key!r} (first on line {seen[key]})",
                                     "duplicate_id")
                seen[key] = where.rsplit(":", 1)[1]
        except InputError as exc:
            skipped += 1
            drop(exc, on_error, dropped)
            continue
        records.append(record)
    if not records:
        raise InputError(f"{path}: no valid records ({skipped} skipped)" if skipped else f"{path}: empty file: no records",
                         "file")
    return records


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in SCHEMAS:
        print(f"usage: python -m supercorrect.validate {{{','.join(SCHEMAS)}}} FILE", file=sys.stderr)
        return 2
    try:
        records = load(args[1], args[0])
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(len(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
