"""Shared fixtures: the offline MovieLens mirror and a scratch copy of the workflow to run Snakemake in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# CI runs property tests with a fixed example sequence, so a red build always reproduces.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The offline dataset mirror: SPADE_DATA_MIRROR, else ../shared/datasets beside the repo."""
    path = Path(os.environ.get("SPADE_DATA_MIRROR") or REPO.parent / "shared" / "datasets")
    if not (path / "ml-100k" / "u.data").is_file():
        pytest.fail(f"the MovieLens-100K mirror is missing at {path}; set SPADE_DATA_MIRROR to a folder holding ml-100k/")
    return path


class Workflow:
    """A scratch working directory running the repository's Snakefile with its own config.yaml."""

    def __init__(self, workdir: Path, mirror: Path):
        self.dir = workdir
        self.mirror = mirror
        shutil.copy(REPO / "config.yaml", workdir / "config.yaml")

    def run(self, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        cmd = [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(self.dir), *args]
        full_env = {**os.environ, "SPADE_DATA_MIRROR": str(self.mirror), **(env or {})}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=self.dir)
        if check and proc.returncode != 0:
            raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def artifacts(self, stage: str) -> list[Path]:
        return sorted(p.parent for p in (self.dir / "results" / "artifacts" / stage).glob("*/manifest.json"))


@pytest.fixture
def workflow(tmp_path, mirror) -> Workflow:
    return Workflow(tmp_path, mirror)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table that `snakemake -n` prints, as {rule: count} (without 'total')."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats:"))
    counts = {}
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    counts.pop("total", None)
    return counts
