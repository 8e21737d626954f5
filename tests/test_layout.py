"""Tests for the package layout: DVC deps and params that cannot drift, stage seams, no cycles.

Everything here reads the source with `ast` (no stage runs), so it takes seconds:
* each dvc.yaml stage's `supercorrect/...` deps are exactly the import closure of its module
  `supercorrect/<stage>.py`, imports inside functions included;
* each stage's `params` are exactly the params keys its code reads (see `reads`);
* no module imports a stage module, and no two modules import each other, directly or not;
* the stage list in `supercorrect.STAGES` is the one every other naming follows.

A failure prints the exact dvc.yaml lines to add or remove.

    python -m pytest tests/test_layout.py -q
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from supercorrect import STAGES
from supercorrect.cli import CHECK, HELP
from supercorrect.config import Params
from supercorrect.io import OWN_METRICS, metrics_path
from supercorrect.params_file import load_params
from tests.conftest import REPO

PKG = "supercorrect"

# Params keys a stage reads that change how it runs, never what it writes. No stage lists them
# in dvc.yaml, so changing one reruns nothing.
NOT_RESULTS = {
    "sft.save_steps": "checkpoint interval: a resumed run continues the same training",
    "sft.checkpoint_dir": "where checkpoints live (outside the DVC outs)",
    "dpo.save_steps": "checkpoint interval: a resumed run continues the same training",
    "dpo.checkpoint_dir": "where checkpoints live (outside the DVC outs)",
    "teacher.cache_dir": "where paid answers are cached (outside the DVC outs)",
    "teacher.max_concurrency": "pacing of the requests",
    "teacher.rpm": "pacing of the requests",
    "teacher.tpm": "pacing of the requests",
    "teacher.backoff_s": "pacing of the retries",
    "teacher.backoff_max_s": "pacing of the retries",
    "teacher.batch_poll_s": "how often a batch is polled",
    "teacher.budget_usd": "a stage that reaches it fails and writes nothing; one that does not writes the same",
    "evaluate.grade_workers": "grading threads",
    "teacher.circuit_breaker": "a stage that trips it fails and writes nothing",
    "teacher.rate_limit_wait_s": "how long 429s may pause sending; a stage past it fails and writes nothing",
}


# --- the import graph ------------------------------------------------------------------------

def module_file(name: str) -> Path | None:
    """The file of module `supercorrect.x.y` (a module or a package), or None if there is none."""
    base = REPO.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


@cache
def tree(text: str) -> ast.Module:
    return ast.parse(text)


def source(f: str, patched: dict[str, str] | None = None) -> str:
    """The text of repo file `f`, or its stand-in from `patched` (tests of the checks themselves)."""
    return (patched or {}).get(f) or (REPO / f).read_text(encoding="utf-8")


def imports(f: str, patched: dict[str, str] | None = None) -> set[str]:
    """The supercorrect files repo file `f` imports anywhere in it (inside functions too)."""
    parsed = tree(source(f, patched))
    # `if TYPE_CHECKING:` imports never run, and `if __name__ == "__main__":` ones only when the
    # module is the program (`python -m`), never when a stage imports it: neither deps nor cycles.
    typing_only = {id(n) for block in ast.walk(parsed) if isinstance(block, ast.If)
                   and (ast.unparse(block.test).endswith("TYPE_CHECKING")
                        or ast.unparse(block.test) == "__name__ == '__main__'")
                   for stmt in block.body for n in ast.walk(stmt)}
    package = f.removesuffix(".py").replace("/", ".")
    package = package.removesuffix(".__init__") if f.endswith("/__init__.py") else package.rpartition(".")[0]
    out = set()
    for node in ast.walk(parsed):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from . import x`, `from .x import y`
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            # `from supercorrect import grading` imports a module; `from supercorrect import STAGES`
            # a name, and then the package's own file counts; `from supercorrect.grading import
            # grade` a name the package re-exports, and then the module holding it counts.
            subs = [f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}")]
            lazy = [f"{base}.{exports(base)[a.name]}" for a in node.names if a.name in exports(base)]
            mods = subs + lazy + ([base] if len(subs) + len(lazy) < len(node.names) else [])
        else:
            continue
        for m in mods:
            parts = m.split(".")
            if parts[0] != PKG:
                continue
            # Importing supercorrect.a.b also runs supercorrect/a/__init__.py. The top package's
            # __init__.py (the stage list, nothing else) counts only when a name is taken from it.
            for i in range(2 if len(parts) > 1 else 1, len(parts) + 1):
                path = module_file(".".join(parts[:i]))
                if path is not None and not inert(rel(path)):
                    out.add(rel(path))
    return out - {f}


LAZY_HOOKS = {"__getattr__", "__dir__"}  # PEP 562 module hooks: they run when a name is asked for


def inert(f: str) -> bool:
    """A sub-package's `__init__.py` that runs no code on import: not a dep.

    It holds its docstring and at most lazy re-exports: assignments of literals (`_EXPORTS`, a
    name -> module map, and `__all__`) and a PEP 562 `__getattr__` that imports a name's module
    when the name is first asked for (`imports` then counts that module)."""
    if not f.endswith("/__init__.py") or f == f"{PKG}/__init__.py":
        return False
    body = tree(source(f)).body
    first, rest = body[0], body[1:]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)):
        return False
    for node in rest:
        if isinstance(node, ast.FunctionDef) and node.name in LAZY_HOOKS:
            continue
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            try:
                ast.literal_eval(node.value)
                continue
            except ValueError:
                pass
        return False
    return True


def exports(package: str) -> dict[str, str]:
    """The names sub-package `package` re-exports lazily (its `_EXPORTS`: name -> module)."""
    path = module_file(package)
    if path is None or path.name != "__init__.py":
        return {}
    for node in tree(source(rel(path))).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def test_sub_package_inits_run_no_code():
    # Importing one component module must not run its neighbours (and DVC deps rely on it): an
    # __init__.py holds its docstring and at most lazy re-exports of the documented API.
    inits = [rel(p) for p in (REPO / PKG).glob("*/__init__.py")]
    assert inits and all(inert(f) for f in inits), [f for f in inits if not inert(f)]
    for f in inits:
        package = f.removesuffix("/__init__.py").replace("/", ".")
        for name, module in exports(package).items():
            assert module_file(f"{package}.{module}"), f"{f}: _EXPORTS names no module {package}.{module}"
            assert not module_file(f"{package}.{name}"), f"{f}: {name} is also a module (the import is ambiguous)"
            assert name in names_defined(module_file(f"{package}.{module}")), f"{package}.{module} has no {name}"


def names_defined(path: Path) -> set[str]:
    body = tree(path.read_text(encoding="utf-8")).body
    return {n.name for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | \
        {t.id for n in body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}


def test_the_documented_api_is_at_the_package_roots_and_importing_a_module_stays_cheap():
    # DESIGN's grading contract and the data loader, as users call them (like math-verify's `verify`);
    # a fresh interpreter, so no other test has imported the modules already.
    code = """
import sys
import supercorrect.grading.normalize, supercorrect.data.decontam
heavy = [m for m in ("supercorrect.grading.judge", "supercorrect.grading.extract", "supercorrect.data.loaders",
                     "sympy", "math_verify") if m in sys.modules]
assert not heavy, heavy
from supercorrect.grading import extract_answer, grade, grade_batch, is_equivalent
from supercorrect.data import generate_problems, load_hub, load_problems
import supercorrect.grading.judge as judge, supercorrect.data.loaders as loaders
assert grade is judge.grade and load_problems is loaders.load_problems
assert grade("<Step1>2+2=4</Step1><Answer>4</Answer>", "4") and extract_answer(r"so \\boxed{7}.") == "7"
assert is_equivalent("0.5", r"\\frac{1}{2}") and list(grade_batch(["#### 3"], ["3"])) == [True]
try:
    from supercorrect.grading import judge_all
except ImportError as exc:
    print("ImportError:", exc)
"""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ImportError: cannot import name 'judge_all'" in proc.stdout


def closure(start: str, patched: dict[str, str] | None = None) -> set[str]:
    """`start` (a repo-relative path) and every supercorrect file it imports, transitively."""
    seen, todo = set(), [start]
    while todo:
        f = todo.pop()
        if f not in seen:
            seen.add(f)
            todo += imports(f, patched)
    return seen


def all_modules() -> list[str]:
    return sorted(rel(p) for p in (REPO / PKG).rglob("*.py"))


def stage_file(stage: str) -> str:
    return f"{PKG}/{stage}.py"


@cache
def dvc_stages() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def fix_message(title: str, fixes: dict[str, tuple[set[str], set[str]]]) -> str:
    """`title`, then per stage the exact dvc.yaml list lines to add and to remove."""
    lines = [title]
    for stage, (add, remove) in fixes.items():
        lines.append(f"  stage {stage}:")
        lines += [f"    add:         - {x}" for x in sorted(add)]
        lines += [f"    remove:      - {x}" for x in sorted(remove)]
    return "\n".join(lines)


# --- DVC code deps ---------------------------------------------------------------------------

def test_code_deps_are_the_import_closure_of_each_stage():
    fixes = {}
    for stage in STAGES:
        listed = {d for d in dvc_stages()[stage].get("deps", []) if d.startswith(PKG + "/")}
        needed = closure(stage_file(stage))
        if listed != needed:
            fixes[stage] = (needed - listed, listed - needed)
    assert not fixes, fix_message(
        "dvc.yaml code deps differ from the stages' import closures; edit each stage's `deps:`", fixes)


def test_check_stage_tracks_all_of_params_yaml_and_comes_first():
    # DVC runs unordered stages in file order, so `check` stops `dvc repro` before any stage runs;
    # it reruns on any change to params.yaml or to the code that validates it.
    check = dvc_stages()[CHECK]
    assert next(iter(dvc_stages())) == CHECK and check["cmd"] == f"supercorrect {CHECK}"
    assert check["params"] == [{"params.yaml": None}] and "outs" not in check
    assert set(check["deps"]) == closure(f"{PKG}/params_file.py")


def test_the_deps_check_sees_a_name_imported_from_a_package_root():
    # `from supercorrect.grading import grade` runs grading/judge.py (and what it imports) on first use.
    sft = stage_file("sft")
    patched = {sft: source(sft) + "\n\ndef _probe():\n    from supercorrect.grading import grade\n"}
    assert f"{PKG}/grading/judge.py" in closure(sft, patched) - closure(sft)
    assert f"{PKG}/grading/__init__.py" not in closure(sft, patched)  # it runs no code


def test_the_deps_check_sees_an_import_inside_a_function():
    # sft does not grade; an import of grading inside one of its functions brings the grading
    # package and every grading module judge.py needs into its closure, so the test above asks for them.
    sft = stage_file("sft")
    grading = {f"{PKG}/grading/{m}.py" for m in ("judge", "extract", "equivalence", "normalize", "numbers", "symbolic")}
    assert not grading & closure(sft)
    patched = {sft: source(sft) + "\n\ndef _probe():\n    from supercorrect.grading.judge import grade\n"}
    assert closure(sft, patched) - closure(sft) == grading
    typing_only = "\n\nif TYPE_CHECKING:\n    from supercorrect.grading.judge import grade\n"
    assert closure(sft, {sft: source(sft) + typing_only}) == closure(sft)


# --- DVC params ------------------------------------------------------------------------------

def fields() -> dict[str, set[str]]:
    """Params section -> its keys (one level: `student.tiny` is one key)."""
    return {name: set(f.annotation.model_fields) for name, f in Params.model_fields.items()}


ROOTS = {"p", "params"}  # what the code calls the Params object


def reads(files: set[str], patched: dict[str, str] | None = None) -> set[str]:
    """The `section.key` params `files` read.

    `p.sft.epochs` reads sft.epochs. A section handed on whole (`cfg = p.prepare`,
    `make_teacher(p.teacher, ...)`) reads each of its keys whose name is an attribute anywhere in
    the files: a safe over-estimate (`teacher.model` then also reads `student.model`), which at
    worst reruns a stage when that key changes. `p.sft.model_dump()` (a checkpoint hash, an
    MLflow record) is not a read. `metrics_path(p, "mine")` reads the keys that name where mine's
    metrics go (`mine.out_dir`; `prepare.metrics`, `evaluate.out`: supercorrect.io.OWN_METRICS).
    """
    sections = fields()
    trees = [tree(source(f, patched)) for f in sorted(files)]
    attrs = {n.attr for t in trees for n in ast.walk(t) if isinstance(n, ast.Attribute)}
    keys = set()
    for t in trees:
        parent = {child: node for node in ast.walk(t) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(t):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("metrics_path") and len(node.args) > 1 \
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value in sections:
                stage = node.args[1].value
                keys |= {f"{stage}.{k}" for k in ("out_dir", OWN_METRICS.get(stage)) if k in sections[stage]}
            if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in ROOTS and node.attr in sections):
                continue
            section, up = node.attr, parent.get(node)
            if isinstance(up, ast.Attribute) and up.value is node:
                if up.attr in sections[section]:
                    keys.add(f"{section}.{up.attr}")
            else:
                keys |= {f"{section}.{k}" for k in sections[section] if k in attrs}
    return keys


def listed_params(stage: str) -> set[str]:
    """The stage's dvc.yaml params as `section.key`; a whole section stands for all its keys."""
    sections, out = fields(), set()
    for entry in dvc_stages()[stage].get("params", []):
        assert isinstance(entry, str), f"dvc.yaml stage {stage}: params entry {entry!r}: use params.yaml keys"
        section, _, key = entry.partition(".")
        assert section in sections and (not key or key in sections[section]), \
            f"dvc.yaml stage {stage}: params entry {entry!r} is not a params key (config.Params)"
        out |= {f"{section}.{k}" for k in sections[section]} if not key else {entry}
    return out


def stage_reads(stage: str, patched: dict[str, str] | None = None) -> set[str]:
    # Another stage's module in the closure (a pending stage import) is there for a helper; its
    # run(p), and the keys that reads, belong to that stage.
    others = {stage_file(s) for s in STAGES} - {stage_file(stage)}
    return reads(closure(stage_file(stage), patched) - others, patched)


def needed_params(stage: str) -> set[str]:
    return stage_reads(stage) - set(NOT_RESULTS)


def interpolated(stage: str) -> set[str]:
    """Keys the stage's dvc.yaml entry interpolates (`${sft.out_dir}`): DVC does not track them
    as params, but a new value changes the stage's paths, and that reruns it anyway."""
    return set(re.findall(r"\$\{([\w.]+)\}", yaml.safe_dump(dvc_stages()[stage])))


def test_params_are_exactly_the_keys_each_stage_reads():
    fixes = {}
    for stage in STAGES:
        listed, needed = listed_params(stage), needed_params(stage)
        missing, extra = needed - interpolated(stage) - listed, listed - needed
        if missing or extra:
            fixes[stage] = (missing, extra)
    assert not fixes, fix_message(
        "dvc.yaml params differ from the keys the stages read; edit each stage's `params:` "
        f"(a key in NOT_RESULTS of {rel(Path(__file__))} is never listed)", fixes)


def test_every_param_is_read_by_some_stage():
    every = {f"{s}.{k}" for s, keys in fields().items() for k in keys}
    read = set().union(*(stage_reads(s) for s in STAGES))
    assert not every - read, f"params no stage reads (dead, or read in a way `reads` misses): {sorted(every - read)}"
    assert set(NOT_RESULTS) <= read, f"NOT_RESULTS names keys no stage reads: {sorted(set(NOT_RESULTS) - read)}"


def test_the_params_check_sees_a_new_read():
    # mine starting to read dpo.beta must list it; reading sft.save_steps never needs listing.
    mine = stage_file("mine")
    assert "dpo.beta" not in needed_params("mine")
    patched = {mine: source(mine) + "\n\ndef _probe(p):\n    return p.dpo.beta, p.sft.save_steps\n"}
    assert stage_reads("mine", patched) - set(NOT_RESULTS) - needed_params("mine") == {"dpo.beta"}


def declared(stage: str, key: str) -> set[str]:
    """The paths of a dvc.yaml stage's `outs`, `metrics` or `plots` (`key`), `${...}` filled in from params.yaml."""
    values = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))

    def fill(match) -> str:
        node = values
        for part in match.group(1).split("."):
            node = node[part]
        return str(node)

    entries = dvc_stages()[stage].get(key, [])
    return {re.sub(r"\$\{([\w.]+)\}", fill, e if isinstance(e, str) else next(iter(e))) for e in entries}


def test_dvc_yaml_declares_where_each_stage_writes_its_metrics():
    # supercorrect.io.metrics_path is the one rule; a run from params.yaml (what DVC runs) must
    # write a file its stage declares, uncached, or `dvc repro` fails on a missing output.
    p = load_params(REPO / "params.yaml")
    for stage in STAGES:
        path = metrics_path(p, stage).as_posix()
        assert path in declared(stage, "outs") | declared(stage, "metrics"), \
            f"dvc.yaml stage {stage} does not declare {path}, where it writes its metrics"


# --- seams -----------------------------------------------------------------------------------

def stage_imports() -> set[str]:
    stage_files = {stage_file(s) for s in STAGES}
    return {f"{m} -> {dep}" for m in all_modules() for dep in imports(m) if dep in stage_files}


def test_no_stage_imports_another_stage():
    found = stage_imports()
    assert not found, "a module imports a stage (move the shared code into a component):\n" + "\n".join(sorted(found))


def import_cycles() -> set[tuple[str, ...]]:
    """The strongly connected groups of more than one module in the import graph (Tarjan)."""
    graph = {m: sorted(imports(m)) for m in all_modules()}
    index, low, stack, on_stack, groups = {}, {}, [], set(), set()

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.add(tuple(sorted(group)))

    for m in graph:
        if m not in index:
            visit(m)
    return groups


def test_no_import_cycles():
    cycles = import_cycles()
    assert not cycles, "modules that import each other:\n" + "\n".join(" <-> ".join(c) for c in sorted(cycles))


def test_the_cycle_check_sees_a_cycle():
    # The batch path imports the client for annotations only (TYPE_CHECKING); a run-time import
    # would close a circle with the client's own import of the batch path.
    batch = f"{PKG}/teacher/batch.py"
    patched = {batch: source(batch) + "\n\ndef _probe():\n    from supercorrect.teacher.client import TeacherClient\n"}
    assert f"{PKG}/teacher/client.py" in imports(batch, patched)
    assert f"{PKG}/teacher/client.py" not in imports(batch)


def layers() -> tuple[dict[str, str], dict[str, set[str]]]:
    """docs/architecture.md's table: module file -> layer, and layer -> the layers it may import.

    A cell names files (`cli.py`) or whole sub-packages (`teacher/`: every module in it)."""
    of, may = {}, {}
    for line in (REPO / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not line.startswith("|") or cells[0] in ("layer", "---"):
            continue
        layer, modules, allowed = cells
        for m in re.findall(r"`([\w./]+)`", modules):
            files = ([rel(f) for f in sorted((REPO / PKG / m).glob("*.py"))] if m.endswith("/")
                     else [f"{PKG}/{m}"])
            assert files and all((REPO / f).is_file() for f in files), f"docs/architecture.md: no module {m}"
            for f in files:
                assert f not in of, f"docs/architecture.md: {f} is in two layers"
                of[f] = layer
        may[layer] = {a.strip() for a in allowed.split(",")} - {"none"}
    return of, may


def test_imports_follow_the_architecture_table():
    of, may = layers()
    unplaced = set(all_modules()) - set(of)
    assert not unplaced, f"modules missing from the table in docs/architecture.md: {sorted(unplaced)}"
    crossing = []
    for m in all_modules():
        for dep in imports(m):
            a, b = of[m], of[dep]
            if a != b and "everything" not in may[a] and b not in may[a]:
                crossing.append(f"{m} ({a}) -> {dep} ({b})")
    assert not crossing, "imports the table in docs/architecture.md does not allow:\n" + "\n".join(crossing)


def flow_imports() -> dict[str, set[str]]:
    """supercorrect module -> the flows/ files that import it (anywhere in them)."""
    used: dict[str, set[str]] = {}
    for f in sorted((REPO / "flows").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                if name.split(".")[0] == PKG:
                    used.setdefault(name, set()).add(rel(f))
    return used


def test_flows_import_only_what_the_architecture_says():
    # Flows are thin: they run stages through DVC and report. What they may use of the package is
    # named in docs/architecture.md ("Outside the package"), and that list is exactly what they use.
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    paragraph = text[text.index("Outside the package:"):].split("\n\n")[0]
    named = set(re.findall(r"`(supercorrect(?:\.\w+)*)`", paragraph))
    used = flow_imports()
    assert not {stage_file(s).removesuffix(".py").replace("/", ".") for s in STAGES} & named
    assert set(used) == named, (f"flows import what docs/architecture.md does not name: "
                                f"{ {m: sorted(used[m]) for m in set(used) - named} }; "
                                f"named but unused: {sorted(named - set(used))}")


# --- one stage list --------------------------------------------------------------------------

def defines(path: Path, name: str) -> bool:
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in ast.parse(path.read_text()).body)


def test_every_stage_is_named_once_everywhere():
    # supercorrect.STAGES is the list; cli, tracking and flows/pipeline read it. What cannot
    # read it (dvc.yaml, file names) must follow it.
    assert list(dvc_stages()) == [CHECK, *STAGES]  # check is no stage (test_check_stage_...)
    assert list(HELP) == list(STAGES)
    assert set(STAGES) <= set(Params.model_fields)
    for stage in STAGES:
        assert defines(REPO / PKG / f"{stage}.py", "run"), f"{stage}.py has no run(p)"
        assert defines(REPO / "flows" / f"{stage}.py", stage), f"flows/{stage}.py has no flow {stage}"
        assert (REPO / "tests" / f"test_{stage}.py").is_file(), f"no tests/test_{stage}.py"
        assert dvc_stages()[stage]["cmd"] == f"supercorrect {stage}"
