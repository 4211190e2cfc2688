"""Content-addressed artifacts: keys, code fingerprints, atomic builds and manifests.

An artifact lives at `results/artifacts/<stage>/<key>/` and holds `spec.json` (the document whose hash
is the key), the stage's outputs, and `manifest.json` (output hashes, library versions, wall time,
device), written last. A folder without a manifest is never trusted.

The key is the hash of the canonical JSON of {stage, config slice, parent keys, code fingerprint}, so
it changes exactly when something that could change the outputs changes.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import logging
import os
import platform
import shutil
import sys
import time
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

KEY_LENGTH = 16
ROOT = "results/artifacts"
PACKAGE = "spade_core"
PACKAGE_DIR = Path(__file__).resolve().parent
VERSIONED = ("numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "jax", "flax", "optax", "faiss-cpu", "pot")

log = logging.getLogger(__name__)


class ArtifactError(RuntimeError):
    """An artifact is missing, incomplete or corrupt."""


def canonical_json(doc: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace: equal documents give equal strings."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def key_of(spec: dict) -> str:
    """The artifact key: a short SHA-256 of the spec's canonical JSON."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:KEY_LENGTH]


def make_spec(stage: str, config: dict, parents: dict[str, str], module: str) -> dict:
    """The document an artifact's key is the hash of."""
    return {"stage": stage, "config": config, "parents": dict(parents), "code": code_fingerprint(module)}


def artifact_dir(stage: str, key: str, root: str = ROOT) -> str:
    return f"{root}/{stage}/{key}"


# --- code fingerprints -------------------------------------------------------------------------


def _module_file(name: str, package_dir: Path) -> Path | None:
    parts = name.split(".")[1:]
    if not parts:
        return package_dir / "__init__.py"
    rel = Path(*parts)
    for candidate in (package_dir / rel.with_suffix(".py"), package_dir / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(tree: ast.AST, name: str, is_package: bool) -> set[str]:
    """Package-internal modules that `name` imports (absolute or relative imports)."""
    here = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}  # `from pkg import submodule`
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def code_fingerprint(module: str, package_dir: Path = PACKAGE_DIR) -> str:
    """A hash of `module`'s source and of every package module it imports, transitively.

    Sources are hashed as their AST, so comments and formatting do not invalidate artifacts;
    any change to code (docstrings included) does.
    """
    return _fingerprint(module, Path(package_dir))


@cache
def _fingerprint(module: str, package_dir: Path) -> str:
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name, package_dir)
        if path is None:
            if name == module:
                raise ArtifactError(f"cannot fingerprint {module!r}: no source file under {package_dir}")
            continue  # `from spade_core.x import function` also names non-modules
        tree = ast.parse(path.read_text(), filename=str(path))
        seen[name] = ast.dump(tree)
        todo.extend(_imported_modules(tree, name, path.name == "__init__.py"))
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(f"{name}\0{seen[name]}\0".encode())
    return digest.hexdigest()[:KEY_LENGTH]


# --- building an artifact --------------------------------------------------------------------


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _device() -> str:
    if "jax" in sys.modules:  # only stages that trained with JAX report an accelerator
        jax = sys.modules["jax"]
        return ", ".join(str(d) for d in jax.devices())
    return f"cpu ({platform.processor() or platform.machine()})"


def verify(artifact: str | Path) -> dict:
    """The manifest of a complete artifact folder; raises ArtifactError if it is incomplete or corrupt."""
    artifact = Path(artifact)
    manifest_path = artifact / "manifest.json"
    if not manifest_path.is_file():
        raise ArtifactError(f"{artifact} is incomplete (no manifest.json); delete it and rerun")
    manifest = json.loads(manifest_path.read_text())
    for name, entry in manifest["files"].items():
        path = artifact / name
        if not path.is_file() or file_sha256(path) != entry["sha256"]:
            raise ArtifactError(
                f"{artifact} is corrupt: {name} does not match its manifest hash; delete the folder and rerun"
            )
    return manifest


def _set_threads(threads: int) -> None:
    # Must happen before numpy/jax/faiss start their thread pools in this process.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}")


def configure_logging(log_file: str | None) -> None:
    """Log INFO and above to stderr and, if given, to `log_file` (a rule's `log:`)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=handlers, force=True)
    # faiss logs ModuleNotFoundError tracebacks at INFO when it falls back to its generic build, and
    # JAX that it found no TPU: harmless, and they read like failures in every log.
    for name in ("faiss.loader", "jax._src.xla_bridge"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build(
    spec: dict,
    target: str | Path,
    inputs: dict[str, str] | None = None,
    options: dict | None = None,
    log_file: str | None = None,
    threads: int = 1,
    run: Callable | None = None,
) -> Path:
    """Build one artifact atomically and return its folder.

    `target` is the artifact's `manifest.json`. The stage's `run(spec, inputs, outdir, **options)` (by
    default `spade_core.<stage module>.run`) writes its outputs into a temporary folder beside the
    target; `spec.json` and the manifest are added and the folder is renamed into place, so a failed
    or killed job never leaves a folder that looks complete. `inputs` maps parent roles to their
    manifest paths; each parent is verified against its manifest first.
    """
    _set_threads(threads)
    configure_logging(log_file)
    target = Path(target)
    outdir = target.parent
    if target.name != "manifest.json":
        raise ArtifactError(f"artifact target must be a manifest.json, got {target}")
    parent_dirs = {role: Path(path).parent for role, path in (inputs or {}).items()}
    for parent in parent_dirs.values():
        verify(parent)
    if run is None:
        from spade_core.matrix import stage_module

        run = importlib.import_module(stage_module(spec["stage"])).run
    tmp = outdir.with_name(f".{outdir.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    start = time.perf_counter()
    try:
        (tmp / "spec.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        run(spec, parent_dirs, tmp, **(options or {}))
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "stage": spec["stage"],
            "key": key_of(spec),
            "files": {str(p.relative_to(tmp)): {"sha256": file_sha256(p), "bytes": p.stat().st_size} for p in files},
            "wall_seconds": round(time.perf_counter() - start, 3),
            "threads": threads,
            "device": _device(),
            "versions": _versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _replace(tmp, outdir)
    except BaseException as err:
        log.error("building %s/%s failed: %s", spec["stage"], outdir.name, err, exc_info=True)
        shutil.rmtree(tmp, ignore_errors=True)
        if outdir.is_dir() and not any(outdir.iterdir()):
            outdir.rmdir()  # the empty folder Snakemake made for the output
        raise
    log.info("artifact %s/%s written in %.1f s", spec["stage"], outdir.name, time.perf_counter() - start)
    return outdir


def _replace(src: Path, dst: Path) -> None:
    """Rename `src` onto `dst`; an existing `dst` (a forced rebuild) is moved aside first."""
    old = None
    if dst.exists() and any(dst.iterdir()):
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        dst.rename(old)
    elif dst.exists():
        dst.rmdir()
    dst.parent.mkdir(parents=True, exist_ok=True)
    src.rename(dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def orphans(referenced: set[str], root: str | Path = ROOT) -> list[Path]:
    """Artifact folders under `root` whose key is not in `referenced`, plus leftovers of killed builds."""
    root = Path(root)
    found = []
    for folder in sorted(root.glob("*/*")):
        if folder.is_dir() and (folder.name.startswith(".") or folder.name not in referenced):
            found.append(folder)
    return found


def remove_orphans(referenced: set[str], root: str | Path = ROOT, log_file: str | None = None) -> list[Path]:
    """Delete what `orphans` finds; returns the removed folders."""
    configure_logging(log_file)
    removed = orphans(referenced, root)
    for folder in removed:
        shutil.rmtree(folder)
        log.info("removed %s", folder)
    log.info("removed %d orphaned artifact folder(s); %d referenced keys kept", len(removed), len(referenced))
    return removed
