"""Find the chain tools (anvil, solcjs) and compile the local contracts, once per source hash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CONTRACTS", "Artifact", "ChainToolsMissingError", "compile_contracts", "find_tool"]

CONTRACTS = Path(__file__).resolve().parent / "contracts"
_INSTALL_HINT = (
    "install them with `make chain-tools` (npm ci: anvil and solc-js from package-lock.json)"
)


class ChainToolsMissingError(RuntimeError):
    """anvil or solcjs is not installed."""


@dataclass(frozen=True, slots=True)
class Artifact:
    """A compiled contract: its ABI and creation bytecode."""

    name: str
    abi: list[dict[str, object]]
    bytecode: str


def _roots() -> list[Path]:
    roots = []
    override = os.environ.get("POLYLOLY_CHAIN_TOOLS")
    if override:
        roots.append(Path(override))
    for start in (Path.cwd(), Path(__file__).resolve()):
        roots.extend(p / "node_modules" / ".bin" for p in (start, *start.parents))
    return roots


def find_tool(name: str) -> Path:
    """The ``anvil`` or ``solcjs`` executable: ``$POLYLOLY_CHAIN_TOOLS``, node_modules, PATH."""
    for root in _roots():
        candidate = root / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ChainToolsMissingError(f"{name} not found: {_INSTALL_HINT}")


def _sources() -> list[Path]:
    return sorted(CONTRACTS.glob("*.sol"))


def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path(tempfile.gettempdir()))
    return Path(base) / "polyloly-contracts" / _source_hash()


def compile_contracts() -> dict[str, Artifact]:
    """Every contract of ``contracts/`` by name, compiled by solcjs (optimised) or cached."""
    cache = _cache_dir()
    index = cache / "artifacts.json"
    if not index.is_file():
        solcjs = find_tool("solcjs")
        work = Path(tempfile.mkdtemp(prefix="polyloly-solc-"))
        try:
            args = [str(solcjs), "--bin", "--abi", "--optimize", "-o", str(work)]
            args += [p.name for p in _sources()]
            done = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
                args, cwd=CONTRACTS, capture_output=True, text=True, timeout=120, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"solcjs failed: {done.stderr.strip()[:500]}")
            found: dict[str, dict[str, object]] = {}
            for abi_file in work.glob("*.abi"):
                name = abi_file.stem.rsplit("_", 1)[-1]
                bytecode = abi_file.with_suffix(".bin").read_text().strip()
                if bytecode:
                    found[name] = {"abi": json.loads(abi_file.read_text()), "bin": bytecode}
            cache.mkdir(parents=True, exist_ok=True)
            partial = cache / f"artifacts.{os.getpid()}.tmp"
            partial.write_text(json.dumps(found))
            partial.replace(index)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    raw = json.loads(index.read_text())
    return {
        name: Artifact(name=name, abi=entry["abi"], bytecode="0x" + entry["bin"])
        for name, entry in raw.items()
    }
