"""Atomic file output and JSONL reading shared by every stage.

Writers go to a temporary file in the same directory and `os.replace` it into place,
so a crash never leaves a half-written output that DVC or the next stage would trust.
Outputs get the ordinary mode (0666 / 0777 less the umask), not the temp file's 0600.
Readers decode each line strictly on its own, accept a UTF-8 byte-order mark, and name the
file, line and column of any defect (record schemas: supercorrect.validate).

    python -c "from supercorrect.io import read_jsonl; print(len(read_jsonl('data/prepare/train.jsonl')))"
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator


TIMINGS = "metrics/timings.json"  # {stage: {start, end}} in epoch seconds; MLflow stage runs span them


class InputError(ValueError):
    """A malformed input file; the message names the file, line and field.

    `reason` is a short code for counting skipped records (e.g. invalid_json, missing_field).
    """

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason


def check_file(path: str | Path, error=InputError) -> Path:
    """`path` as a Path if it is a regular file, else a one-line `error` (an InputError class)."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a directory, expected a file", "file")
    if not path.exists():
        raise error(f"{path}: file not found", "file")
    return path


def iter_jsonl(path: str | Path, error=InputError) -> Iterator[tuple[str, dict | InputError]]:
    """Yield `("path:line", record)`, or an `error` in place of a line that is not a JSON object.

    Each line is decoded on its own, so bad bytes name their line and the rest still reads;
    blank lines are skipped; a byte-order mark at the start of the file is dropped.
    """
    path = check_file(path, error)
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            where = f"{path}:{lineno}"
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield where, error(f"{where}: invalid UTF-8 at byte {exc.start + 1}", "invalid_utf8")
                continue
            if not line.strip():
                continue
            try:
                # Without the line break, a JSON error's column is a column of this line.
                record = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                yield where, error(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})", "invalid_json")
                continue
            if not isinstance(record, dict):
                record = error(f"{where}: expected a JSON object, got {type(record).__name__}", "not_an_object")
            yield where, record


def read_jsonl(path: str | Path) -> list[dict]:
    """Every record of a JSONL file; the first defect raises InputError (file:line)."""
    records = []
    for _, record in iter_jsonl(path):
        if isinstance(record, InputError):
            raise record
        records.append(record)
    return records


def read_json(path: str | Path):
    """One JSON document; a defect raises InputError naming line and column."""
    path = check_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: invalid UTF-8 at byte {exc.start + 1}", "invalid_utf8") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})",
                         "invalid_json") from None


# Sections that name their own metrics file in a params key (dvc.yaml interpolates it).
OWN_METRICS = {"prepare": "metrics", "evaluate": "out"}


def side_run(p, stage: str) -> bool:
    """True for a run by hand beside the pipeline: a `--set` moved the stage's `out_dir` away from
    the params file's (e.g. `supercorrect mine --set mine.out_dir=/tmp/try`), or its own metrics
    file (`--set evaluate.out=/tmp/check.json`: evaluate has no `out_dir`)."""
    own = OWN_METRICS.get(stage)
    return f"{stage}.out_dir" in p.overridden or (own is not None and f"{stage}.{own}" in p.overridden)


def metrics_path(p, stage: str, dry_run: bool = False) -> Path:
    """Where stage `stage` writes its metrics, for params `p`: the one rule every reader and writer uses.

    A run from the params file (DVC's, a flow's, `supercorrect <stage>` by hand) writes
    `metrics/<stage>.json`, the file dvc.yaml declares, or the section's own setting
    (`prepare.metrics`, `evaluate.out`), whatever the params file says the outputs are called. A
    side run (`side_run`) writes `<out_dir>/metrics.json`, beside its own outputs, or the metrics
    file its `--set` names, so it never overwrites the tracked metrics. A dry run writes
    `<that name>.dry_run.json` (never a DVC out)."""
    section, own = getattr(p, stage), OWN_METRICS.get(stage)
    if side_run(p, stage) and not (own and f"{stage}.{own}" in p.overridden):
        path = Path(section.out_dir) / "metrics.json"
    elif own:
        path = Path(getattr(section, own))
    else:
        path = Path("metrics") / f"{stage}.json"
    return path.with_name(f"{path.stem}.dry_run.json") if dry_run else path


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary sibling path; move it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.is_file():  # mkstemp makes it 0600; an output is as readable as any file the user makes
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_jsonl(path: str | Path, records: Iterable[dict]) -> int:
    n = 0
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_json(path: str | Path, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory that replaces `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def flatten(obj: dict, prefix: str = "") -> dict:
    """`dotted.key` -> value for every leaf of nested dicts (a params file, a metrics file)."""
    out = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flatten(value, name + ".")
        else:
            out[name] = value
    return out


def record_timing(stage: str, start: float, end: float, path: str | Path = TIMINGS) -> None:
    """Note when a stage ran (the CLI calls this) so its MLflow run shows the real start and end."""
    path = Path(path)
    try:
        timings = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except json.JSONDecodeError:
        timings = {}
    write_json(path, timings | {stage: {"start": start, "end": end}})
