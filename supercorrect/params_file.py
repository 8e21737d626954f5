"""params.yaml in and out: read it with overrides and one-line errors, and write it from the typed config.

`load_params("params.yaml", ["sft.epochs=1"])` returns a validated `Params`; any problem raises
`ConfigError` with a one-line message naming the file and the key (or the `--set` that set it).

`render_params()` is params.yaml as the config defines it: every key with its default and its
description as the comment. `tests/test_config.py` fails when the file in the repo differs, so
after changing a default or a description in supercorrect/config.py run

    python -m supercorrect.params_file        # rewrites params.yaml (or: make params)
"""

from __future__ import annotations

import copy
import difflib
import sys
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from supercorrect.config import ConfigError, Params
from supercorrect.io import flatten, write_text

HEADER = """\
# Every knob of the SuperCorrect pipeline. One section per stage, plus shared sections.
# Defaults are the offline demo: a synthetic GSM8K-style dataset, the deterministic `reference`
# teacher and a tiny Qwen2 student built locally. See README "A real run on a GPU".
# Generated from supercorrect/config.py (python -m supercorrect.params_file): change defaults and
# comments there. Edit values here for your own run (dvc repro reruns what the change touches);
# tests/test_config.py checks only that the committed file matches the config.
"""
COMMENT_COLUMN = 30
# Keys that were renamed or replaced: an old params file gets told what to write instead.
REPLACED = {"mine.false_alarm_pairs": "replaced by mine.keep_share, the share of keep pairs among all pairs (0: none)"}


def _scalar(value) -> str:
    """A YAML value on one line: flow style for lists and mappings, floats without exponents."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # `epochs: 3`, read back as the float 3.0
    if isinstance(value, float) and "e" in repr(value):
        return f"{value:.12f}".rstrip("0")
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        value = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in value.items()}
    return yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False).removesuffix("\n...\n").strip()


def _line(indent: int, key: str, value: str, comment: str | None) -> str:
    text = f"{'  ' * indent}{key}:{' ' + value if value else ''}"
    return f"{text.ljust(COMMENT_COLUMN - 2)}  # {comment}" if comment else text


def _section(model: BaseModel, indent: int) -> list[str]:
    lines = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            lines += [_line(indent, name, "", field.description)] + _section(value, indent + 1)
        elif isinstance(value, dict) and value:  # a mapping of named entries: one line each
            lines.append(_line(indent, name, "", field.description))
            lines += [_line(indent + 1, str(k), _scalar(v), None) for k, v in value.items()]
        else:
            lines.append(_line(indent, name, _scalar(value), field.description))
    return lines


def render_params(params: Params | None = None) -> str:
    """params.yaml text for `params` (default: the config's defaults)."""
    params = params or Params()
    blocks = [HEADER.rstrip("\n")]
    for name in Params.model_fields:
        blocks.append("\n".join([f"{name}:"] + _section(getattr(params, name), 1)))
    return "\n\n".join(blocks) + "\n"


def apply_override(data: dict, assignment: str) -> None:
    """Apply one `dotted.key=value` override in place; the value is parsed as YAML."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {assignment!r}: expected dotted.key=value")
    *parents, leaf = key.split(".")
    node = data
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {assignment!r}: {'.'.join(parents[: i + 1])} is not a section")
        node = child
    try:
        node[leaf] = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {assignment!r}: the value is not valid YAML ({getattr(exc, 'problem', exc)}); "
                          f"quote it to pass a string, e.g. --set '{key}=\"{raw}\"'") from None


def _known_keys(loc: tuple) -> list[str]:
    """The keys allowed beside the last part of `loc` (for "did you mean")."""
    model = Params
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _describe(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
        prefix = "".join(f"{p}." for p in first["loc"][:-1])
        close = difflib.get_close_matches(str(first["loc"][-1]), _known_keys(first["loc"]), n=2, cutoff=0.7)
        if key in REPLACED:
            msg += f"; {REPLACED[key]}"
        elif close:
            msg += f"; did you mean {' or '.join(prefix + c for c in close)}?"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    else:
        msg = f"{msg} (got {first.get('input')!r})"
    more = len(err.errors()) - 1
    # A check across keys (a model validator) names its keys in its own message.
    where = "" if not key or msg.startswith(f"{key}.") else f"{key}: "
    return f"{source}: {where}{msg}" + (f" (+{more} more)" if more else "")


def _blame(err: ValidationError, overrides: list[str], path: Path) -> str:
    """The source to name for a validation error: the `--set` that set the key, else the file."""
    loc = [str(p) for p in err.errors()[0]["loc"]]
    for assignment in reversed(overrides):
        parts = assignment.partition("=")[0].split(".")
        n = min(len(parts), len(loc))
        if parts[:n] == loc[:n]:
            return f"--set {assignment!r}"
    return str(path)


def load_params(path: str | Path = "params.yaml", overrides: list[str] | None = None) -> Params:
    """Read, override and validate the params file; raise ConfigError naming file and key.

    An error in a key that a `--set` changed names that `--set`; any other names the file. The
    result's `overridden` holds the keys whose value a `--set` changed from the file's."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a params file")
    if not path.exists():
        raise ConfigError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid UTF-8 at byte {exc.start + 1}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        col = f" at column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML{col}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    overrides = list(overrides or [])
    # What the file says, a key it leaves out at its default: a `--set` that repeats it changes nothing.
    in_file = _leaves(Params().model_dump()) | _leaves(data) if overrides else {}
    for assignment in overrides:
        apply_override(data, assignment)
    try:
        params = Params.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, _blame(err, overrides, path))) from None
    if overrides:
        params._overridden = frozenset(k for k, v in _leaves(data).items() if k not in in_file or in_file[k] != v)
    return params


def _leaves(data: dict) -> dict:
    """`dotted.key` -> value for every leaf of a parsed params file (copied, so later overrides do not touch it)."""
    return {key: copy.deepcopy(value) for key, value in flatten(data).items()}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "params.yaml")
    write_text(out, render_params())
    print(f"wrote {out}")
