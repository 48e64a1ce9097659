"""Fail when the lock files in ``requirements/`` are stale against ``pyproject.toml``.

``make test`` (and so CI) runs this. The lock is stale when a requirement of ``pyproject.toml``
(the runtime dependencies, the ``dev`` extra, the build backend) or of ``requirements/tools.in``
is not pinned to a version it accepts, when a package is still pinned as a direct requirement
although ``pyproject.toml`` no longer asks for it, or when the runtime and dev locks (or the
bootstrap pin of uv) disagree. Offline and deterministic: it reads files only.

Fix a stale lock with ``make lock`` (keeps every pin that still fits) or ``make upgrade``.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQ = ROOT / "requirements"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_DIRECT = re.compile(r"#\s+(?:via\s+)?polyloly \(pyproject\.toml\)")


def read_pins(path: Path) -> tuple[dict[str, str], set[str]]:
    """Return ``{name: version}`` and the names pinned because pyproject.toml asks for them."""
    pins: dict[str, str] = {}
    direct: set[str] = set()
    current = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = match.group(2)
        elif current and _DIRECT.search(line):
            direct.add(current)
    return pins, direct


def read_in(path: Path) -> list[Requirement]:
    lines = (ln.split("#", 1)[0].strip() for ln in path.read_text(encoding="utf-8").splitlines())
    return [Requirement(ln) for ln in lines if ln and not ln.startswith("-")]


def check(
    reqs: list[Requirement], pins: dict[str, str], lock: str, problems: list[str]
) -> set[str]:
    names: set[str] = set()
    for req in reqs:
        if req.marker is not None and not req.marker.evaluate({"extra": "dev"}):
            continue
        name = canonicalize_name(req.name)
        names.add(name)
        version = pins.get(name)
        if version is None:
            problems.append(f"{lock}: {req.name} is required ({req}) but not pinned")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{lock}: {req.name}=={version} does not satisfy {req}")
    return names


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = [Requirement(r) for r in project["project"]["dependencies"]]
    dev = [Requirement(r) for r in project["project"]["optional-dependencies"]["dev"]]
    build = [Requirement(r) for r in project["build-system"]["requires"]]
    tools = read_in(REQ / "tools.in") + read_in(REQ / "build.in")

    runtime_pins, runtime_direct = read_pins(REQ / "runtime.txt")
    dev_pins, dev_direct = read_pins(REQ / "dev.txt")
    problems: list[str] = []
    wanted_runtime = check(runtime, runtime_pins, "runtime.txt", problems)
    wanted_dev = check(runtime + dev, dev_pins, "dev.txt", problems)
    check(build + tools, dev_pins, "dev.txt", problems)
    check(build, read_pins(REQ / "build.txt")[0], "build.txt", problems)
    boot = read_in(REQ / "bootstrap.in")
    check(boot, read_pins(REQ / "bootstrap.txt")[0], "bootstrap.txt", problems)
    unasked = [
        ("runtime.txt", runtime_direct - wanted_runtime),
        ("dev.txt", dev_direct - wanted_dev),
    ]
    problems.extend(
        f"{lock}: {name} is pinned for pyproject.toml, which no longer asks for it"
        for lock, names in unasked
        for name in sorted(names)
    )
    problems.extend(
        f"{name}: {lock} pins {version}, dev.txt {dev_pins.get(name)}"
        for lock in ("runtime.txt", "build.txt", "bootstrap.txt")  # each a subset of dev.txt
        for name, version in sorted(read_pins(REQ / lock)[0].items())
        if dev_pins.get(name) != version
    )
    if problems:
        for problem in problems:
            print(f"stale lock: {problem}", file=sys.stderr)
        print("stale lock: run `make lock` and commit requirements/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
