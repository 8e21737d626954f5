"""Load math problems from GSM8K, MATH, MATH500, NuminaMath-CoT or MetaMathQA records: JSONL files,
dataset directories saved with `datasets`' `save_to_disk`, or the Hugging Face hub.

Every loader returns problems in the pipeline's one schema (a dict per problem):
`id` (f"{source}-{sha1(normalized problem)[:12]}"), `source`, `split`, `problem`, `solution`,
`answer` (gold, a string), `subject`, `level` (int or None).

Input formats, detected from the first record's keys unless `format` is given:
- `gsm8k`:    question, answer (steps, then a final line `#### N`);
- `math`:     problem, solution (answer in the last `\\boxed{...}`), level ("Level 3"), type;
- `math500`:  problem, solution, answer, subject, level (int), unique_id;
- `numina`:   NuminaMath-CoT: problem, solution (answer in the last `\\boxed{...}`), messages, source;
- `metamath`: MetaMathQA: query, response (ending "The answer is: N"), type, original_question;
- `problems`: this pipeline's own schema (e.g. data/prepare/test.jsonl), read back as is;
- `qa`:       problem, answer (a string or an integer), optional source, subject and level, no
              solution: a benchmark such as AIME. Only `evaluate` takes it (`solution_required=False`):
              training and mining need the reference solution the teacher works from.

Any defect raises `DataError` naming the file, the line and the field; with `on_error="skip"`
the defective record is skipped instead, logged as a warning and reported in `dropped` with a
reason (invalid_utf8, invalid_json, not_an_object, unknown_format, missing_field, empty_field,
wrong_type, bad_level, no_answer, duplicate_id). Decontamination: `find_contamination`
(implemented in supercorrect.data.decontam).

    python -c "from supercorrect.data.loaders import load_problems; print(load_problems('x.jsonl')[0])"
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from supercorrect.data.decontam import find_contamination, find_overlaps, normalize_text
from supercorrect.grading import normalize
from supercorrect.io import InputError, check_file, iter_jsonl
from supercorrect.validate import drop

__all__ = ["DataError", "NoAnswerError", "find_contamination", "find_overlaps", "load_hub", "load_saved",
           "load_problems", "normalize_text", "parse_records", "problem_id"]

log = logging.getLogger(__name__)

FORMATS = ("gsm8k", "math", "math500", "numina", "metamath", "problems", "qa")
# The source a format's problems get when the caller names none. MATH500 is a subset of the
# MATH test set, so it shares the `math` source: a problem then has one id in both files.
DEFAULT_SOURCE = {"gsm8k": "gsm8k", "math": "math", "math500": "math", "numina": "numina", "metamath": "metamath",
                  "qa": "qa"}
# Fields each format must carry (non-empty strings unless said otherwise in _convert).
REQUIRED = {
    "gsm8k": ("question", "answer"),
    "math": ("problem", "solution", "level", "type"),
    "math500": ("problem", "solution", "answer", "subject", "level"),
    "numina": ("problem", "solution"),
    "metamath": ("query", "response"),
    "problems": ("problem", "solution", "answer"),
    "qa": ("problem",),  # and `answer`, which may also be an integer (AIME files carry ints)
}
# MetaMathQA responses end with this line.
_METAMATH_ANSWER = re.compile(r"The answer is:?\s*(.+?)\s*$", re.S)


class DataError(InputError):
    """A defective problem file or hub dataset: `file:line: field 'x': what is wrong`.

    A subclass of `io.InputError` (itself a ValueError), so the CLI reports it in one line.
    `reason` is a short code for counting skipped records (see the module docstring).
    """


class NoAnswerError(DataError):
    """A well-formed record whose gold answer cannot be extracted (e.g. MATH's empty `\\boxed{}`)."""

    def __init__(self, message: str):
        super().__init__(message, "no_answer")


def problem_id(source: str, text: str) -> str:
    """Stable id: the same problem text from the same source always gets the same id."""
    digest = hashlib.sha1(normalize_text(text).encode("utf-8")).hexdigest()
    return f"{source}-{digest[:12]}"


def last_boxed(text: str) -> str | None:
    """A MATH gold answer: supercorrect.grading.normalize's last `\\boxed{...}`, trimmed (one parser for both)."""
    found = normalize.last_boxed(text)
    return found.strip() if found is not None else None


def gsm8k_final_answer(text: str) -> str | None:
    """The number after the last `####`, without thousands separators ("1,080" -> "1080")."""
    if "####" not in text:
        return None
    answer = text.rsplit("####", 1)[1].strip()
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", answer):
        answer = answer.replace(",", "")
    return answer or None


def detect_format(record: dict) -> str | None:
    """Guess the format from one record's keys; None when it matches none."""
    keys = set(record)
    if "question" in keys:
        return "gsm8k"
    if {"query", "response"} <= keys:
        return "metamath"
    if {"problem", "solution", "messages"} <= keys:
        return "numina"
    # No solution (absent or null), and not a MATH500 record that lost it (they carry unique_id).
    if {"problem", "answer"} <= keys and record.get("solution") is None and "unique_id" not in keys:
        return "qa"
    if "problem" in keys and {"id", "source"} <= keys:
        return "problems"
    if "problem" in keys and "answer" in keys:
        return "math500"
    if "problem" in keys and "solution" in keys:
        return "math"
    return None


def _level(value, where: str) -> int | None:
    """`3`, `"Level 3"` -> 3; `"Level ?"` and null -> None (two MATH train rows have no level)."""
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(?:Level\s*)?(\d+|\?)\s*", value)
        if m:
            return None if m.group(1) == "?" else int(m.group(1))
    raise DataError(f"{where}: field 'level': expected an int or 'Level N', got {value!r}", "bad_level")


def _string(record: dict, field: str, where: str) -> str:
    if field not in record or record[field] is None:
        raise DataError(f"{where}: field '{field}': missing", "missing_field")
    value = record[field]
    if not isinstance(value, str):
        raise DataError(f"{where}: field '{field}': expected a string, got {type(value).__name__}", "wrong_type")
    if not value.strip():
        raise DataError(f"{where}: field '{field}': empty", "empty_field")
    return value


def _answer(record: dict, where: str) -> str:
    """A `qa` record's gold answer: a non-empty string, or an integer as AIME files give it."""
    value = record.get("answer")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _string(record, "answer", where).strip()


def _convert(record: dict, fmt: str, where: str, source: str | None, split: str | None,
             fallback_split: str, solution_required: bool = True) -> dict:
    """One input record -> one problem in the pipeline schema."""
    if fmt == "qa" and solution_required:
        raise DataError(f"{where}: field 'solution': missing (only an evaluate.benchmarks file may lack "
                        "reference solutions)", "missing_field")
    for field in REQUIRED[fmt]:
        if field == "level":
            if field not in record:
                raise DataError(f"{where}: field 'level': missing", "missing_field")
        else:
            _string(record, field, where)
    if fmt == "gsm8k":
        problem, solution = record["question"], record["answer"]
        answer = gsm8k_final_answer(solution)
        if answer is None:
            raise NoAnswerError(f"{where}: field 'answer': no final answer after '####'")
        subject, level = "arithmetic", None
    elif fmt == "math":
        problem, solution = record["problem"], record["solution"]
        answer = last_boxed(solution)
        if not answer:
            raise NoAnswerError(f"{where}: field 'solution': no \\boxed{{...}} answer")
        subject, level = record["type"], _level(record["level"], where)
    elif fmt == "numina":
        problem, solution = record["problem"], record["solution"]
        answer = last_boxed(solution)
        if not answer:
            raise NoAnswerError(f"{where}: field 'solution': no \\boxed{{...}} answer")
        # NuminaMath-CoT's own `source` (olympiads, cn_k12, ...) is its kind of problem.
        subject, level = record.get("source") if isinstance(record.get("source"), str) else None, None
    elif fmt == "metamath":
        problem, solution = record["query"], record["response"]
        found = _METAMATH_ANSWER.search(solution.rsplit("\n", 1)[-1])
        answer = found.group(1).strip() if found else None
        if not answer:
            raise NoAnswerError(f"{where}: field 'response': no final 'The answer is: ...' line")
        subject, level = record.get("type") if isinstance(record.get("type"), str) else None, None
    elif fmt == "qa":
        problem, solution, answer = record["problem"], "", _answer(record, where)
    else:  # math500 and our own schema carry the answer explicitly
        problem, solution, answer = record["problem"], record["solution"], record["answer"].strip()
    if fmt in ("qa", "math500", "problems"):
        subject = record.get("subject")
        if subject is not None and not isinstance(subject, str):
            raise DataError(f"{where}: field 'subject': expected a string, got {type(subject).__name__}", "wrong_type")
        level = _level(record.get("level"), where)
    if fmt == "qa" and isinstance(record.get("source"), str) and record["source"].strip():
        source = source or record["source"]  # the file's own source keeps its ids apart from others'
    if fmt == "problems":
        source = source or _string(record, "source", where)
        split = split or record.get("split") or fallback_split
    split = split or fallback_split
    source = source or DEFAULT_SOURCE[fmt]
    return {
        "id": problem_id(source, problem), "source": source, "split": split,
        "problem": problem.strip(), "solution": solution.strip(), "answer": answer,
        "subject": subject, "level": level,
    }


ON_ERROR = ("fail", "skip")


def parse_records(rows: Iterable[tuple[str, dict | DataError]], format: str | None = None,
                  source: str | None = None, split: str | None = None,
                  fallback_split: str = "train", on_error: str = "fail",
                  dropped: list | None = None, solution_required: bool = True) -> list[dict]:
    """Convert `(where, record)` pairs, `where` being "file:line", into problems.

    A row may carry a DataError instead of a record (a line that did not decode or parse).
    `split` overrides every record's split; without it, pipeline-format records keep their own
    and the others get `fallback_split`. `solution_required=False` admits `qa` records (no
    reference solution: `solution` is ""), which only a benchmark may be.

    on_error="fail" raises the first DataError; "skip" skips the record, logs a warning and
    appends `{where, reason, message}` to `dropped`.

    The same problem twice with the same answer is a harmless copy: the later one is dropped
    (MATH train has one) and reported in `dropped` with reason "duplicate" under either mode.
    Twice with different answers means the gold is unreliable: DataError "duplicate_id".
    """
    if format is not None and format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if on_error not in ON_ERROR:
        raise ValueError(f"unknown on_error {on_error!r}; expected fail or skip")
    problems: list[dict] = []
    seen: dict[str, tuple[str, str]] = {}  # id -> (where, answer)
    for where, record in rows:
        try:
            if isinstance(record, DataError):
                raise record
            fmt = format or detect_format(record)
            if fmt is None:
                raise DataError(
                    f"{where}: unknown format (keys: {', '.join(sorted(record)) or 'none'}); expected "
                    "GSM8K (question, answer), MATH (problem, solution, level, type), "
                    "MATH500 (problem, solution, answer, subject, level) or a benchmark (problem, answer)",
                    "unknown_format")
            # The first good record fixes the format for the file: one file, one format.
            problem = _convert(record, fmt, where, source, split, fallback_split, solution_required)
            format = fmt
            if problem["id"] in seen:
                first, answer = seen[problem["id"]]
                field = "question" if format == "gsm8k" else "problem"
                if answer != problem["answer"]:
                    raise DataError(f"{where}: field '{field}': duplicate id {problem['id']} (same problem "
                                    f"as {first}) with a different answer: {problem['answer']!r} vs "
                                    f"{answer!r}", "duplicate_id")
                log.warning("%s: same problem as %s; dropped", where, first)
                if dropped is not None:
                    dropped.append({"where": where, "reason": "duplicate", "id": problem["id"],
                                    "message": f"same problem as {first}"})
                continue
        except DataError as exc:
            drop(exc, on_error, dropped)
            continue
        seen[problem["id"]] = (where, problem["answer"])
        problems.append(problem)
    return problems


def _read_lines(path: Path) -> Iterable[tuple[str, dict | DataError]]:
    """Yield `("path:line", record)`, or a DataError in place of a line that is not a JSON object
    (the shared reader: supercorrect.io.iter_jsonl)."""
    return iter_jsonl(path, DataError)


def load_problems(path: str | Path, format: str | None = None, source: str | None = None,
                  split: str | None = None, on_error: str = "fail",
                  dropped: list | None = None, solution_required: bool = True) -> list[dict]:
    """Read a JSONL file of any format above into problems.

    `source` defaults by format (gsm8k, math); without `split`, records get "test" when the file
    name contains "test", else "train" (prepare sets the split it needs either way).
    `on_error`, `dropped`, `solution_required`: see `parse_records`.
    """
    path = check_file(path, DataError)
    fallback = "test" if "test" in path.name else "train"
    problems = parse_records(_read_lines(path), format, source, split, fallback, on_error, dropped,
                             solution_required)
    if not problems:
        raise DataError(f"{path}: no usable records", "file")
    return problems


def load_saved(path: str | Path, format: str | None = None, source: str | None = None,
               on_error: str = "fail", dropped: list | None = None) -> list[dict]:
    """Read a dataset directory written by `datasets`' `save_to_disk` (a Dataset, or a
    DatasetDict whose `train` split is used): how hub data is staged for an offline machine."""
    import datasets

    path = Path(path)
    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise DataError(f"{path}: not a dataset saved with save_to_disk ({exc})", "file") from None
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds:
            raise DataError(f"{path}: dataset has no 'train' split (has {sorted(ds)})", "file")
        ds = ds["train"]
    rows = ((f"{path}:{i}", dict(row)) for i, row in enumerate(ds, 1))
    problems = parse_records(rows, format, source, None, "test" if "test" in path.name else "train",
                             on_error, dropped)
    if not problems:
        raise DataError(f"{path}: no usable records", "file")
    return problems


def load_hub(dataset: str, config: str | None, split: str, format: str | None = None,
             source: str | None = None, on_error: str = "fail", dropped: list | None = None) -> list[dict]:
    """Load one split of a Hugging Face dataset (or a local dataset dir) as problems.

    Every failure to fetch it becomes a one-line DataError: offline machines and unknown ids
    must fail clearly, not with a page of retry logs and a traceback.
    """
    import datasets  # heavy; only this source needs it

    where = f"hub:{dataset}" + (f"/{config}" if config else "") + f"[{split}]"
    try:
        ds = datasets.load_dataset(dataset, config, split=split)
    except Exception as exc:  # ConnectionError, DatasetNotFoundError, ValueError, ... all mean "not here"
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{where}: could not load it from the Hugging Face hub ({type(exc).__name__}: "
                        f"{reason}); without hub access, set prepare.source: local and list JSONL "
                        "files in prepare.local.train / prepare.local.test", "file") from None
    rows = ((f"{where}:{i}", dict(row)) for i, row in enumerate(ds, 1))
    problems = parse_records(rows, format, source, None, "test" if "test" in split else "train",
                             on_error, dropped)
    if not problems:
        raise DataError(f"{where}: no usable records", "file")
    return problems
