"""The locks agree with pyproject.toml: requirements.lock (CPU torch) and requirements-cuda.lock (GPU).

    python -m pytest tests/test_lock.py -q

Offline checks, read from the files alone:
- every requirement of pyproject.toml (dependencies and every extra) has an entry in each lock whose
  version it accepts, marked as coming from pyproject.toml; no entry is marked so that pyproject.toml
  no longer asks for (a dependency removed without `make lock`);
- every entry is an exact `==` pin with sha256 hashes;
- the two locks pin the same versions, except torch's build (+cpu against PyPI's CUDA build) and
  the packages only CUDA torch pulls in.
Then `make lock` itself runs into a scratch directory, seeded with the committed locks, and must pin
the same versions: a real re-resolution by uv (from its cache when it can, else from PyPI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

LOCKS = ("requirements.lock", "requirements-cuda.lock")
FROM_PYPROJECT = "supercorrect (pyproject.toml)"
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


def read_lock(path) -> dict[str, dict]:
    """{name: {"version", "hashes", "via"}} from a `uv pip compile --generate-hashes` output."""
    entries: dict[str, dict] = {}
    current = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip().removesuffix("\\").strip()
        if not text or (line.startswith("#") and current is None):  # the header
            continue
        match = ENTRY.match(line)
        if match:
            current = entries[canonicalize_name(match[1])] = {"version": match[2], "hashes": [], "via": []}
        elif current is not None and line[0].isspace() and text.startswith("--hash="):
            current["hashes"].append(text)
        elif current is not None and line[0].isspace() and text.startswith("#"):
            via = text.lstrip("#").strip().removeprefix("via").strip()
            if via:
                current["via"].append(via)
        else:
            raise AssertionError(f"{path.name}:{number}: not a pinned entry, hash or annotation: {line!r}")
    return entries


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return [Requirement(r) for r in requirements]


@pytest.fixture(scope="module")
def locks():
    return {name: read_lock(REPO / name) for name in LOCKS}


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_pins_what_pyproject_asks(locks, lock):
    entries = locks[lock]
    asked = set()
    for requirement in pyproject_requirements():
        name = canonicalize_name(requirement.name)
        asked.add(name)
        assert name in entries, f"{lock}: no entry for pyproject.toml's {requirement} (run make lock)"
        version = entries[name]["version"]
        assert requirement.specifier.contains(version, prereleases=True), \
            f"{lock}: {name}=={version} does not satisfy pyproject.toml's {requirement} (run make lock)"
        assert FROM_PYPROJECT in entries[name]["via"], f"{lock}: {name} is not marked as from pyproject.toml"
    stale = sorted(name for name, entry in entries.items() if FROM_PYPROJECT in entry["via"] and name not in asked)
    assert not stale, f"{lock}: {stale} no longer in pyproject.toml (run make lock)"


@pytest.mark.parametrize("lock", LOCKS)
def test_every_entry_is_pinned_and_hashed(locks, lock):
    assert "#    make lock" in (REPO / lock).read_text().split("\n", 3)[1], f"{lock}: not written by make lock"
    for name, entry in locks[lock].items():
        assert entry["hashes"] and all(HASH.match(h) for h in entry["hashes"]), f"{lock}: {name} has no sha256 hash"
        assert not set(entry["version"]) & set("*<>,"), f"{lock}: {name}=={entry['version']} is not exact"


def test_cpu_and_cuda_locks_differ_only_in_torch(locks):
    cpu, cuda = locks["requirements.lock"], locks["requirements-cuda.lock"]
    assert cpu["torch"]["version"] == cuda["torch"]["version"] + "+cpu", (cpu["torch"], cuda["torch"])
    assert {"uv", "pytest", "psycopg2-binary"} <= cpu.keys()  # the test and server extras are locked too
    assert cpu.keys() <= cuda.keys(), sorted(cpu.keys() - cuda.keys())
    differ = sorted(n for n in cpu if n != "torch" and cpu[n]["version"] != cuda[n]["version"])
    assert not differ, f"the two locks pin different versions of {differ} (run make lock)"
    # What the CUDA lock adds is there for CUDA torch alone: the nvidia runtime wheels, triton.
    cuda_only = cuda.keys() - cpu.keys()
    assert any(n.startswith("nvidia-") for n in cuda_only), sorted(cuda_only)
    for name in cuda_only:
        assert set(cuda[name]["via"]) <= cuda_only | {"torch"}, f"{name} is in the CUDA lock only: {cuda[name]['via']}"


def test_make_lock_reproduces_the_locks(tmp_path):
    """`make lock` into a scratch directory resolves to the committed pins, and every committed hash
    is one the registry lists (it may list more: a wheel added to a release later). Seeded with the
    committed locks, as `make lock` is in the repo."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (make install installs it from the lock)")
    for lock in LOCKS:
        shutil.copy(REPO / lock, tmp_path / lock)
    command = ["make", "-s", "-C", str(REPO), "lock", f"LOCK_DIR={tmp_path}", f"UV={uv}"]
    run = subprocess.run(command, env={**os.environ, "UV_OFFLINE": "1"}, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:  # uv's cache lacks an index page: resolve against the registry
        run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    for lock in LOCKS:
        committed, resolved = read_lock(REPO / lock), read_lock(tmp_path / lock)
        changed = {n: (committed.get(n, {}).get("version"), resolved.get(n, {}).get("version"))
                   for n in committed.keys() | resolved.keys()
                   if committed.get(n, {}).get("version") != resolved.get(n, {}).get("version")}
        assert not changed, f"{lock} is not what make lock resolves from pyproject.toml: {changed}"
        unknown = [n for n in committed if not set(committed[n]["hashes"]) <= set(resolved[n]["hashes"])]
        assert not unknown, f"{lock}: hashes of {unknown} are not the registry's"
