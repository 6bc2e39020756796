"""Fixtures shared by the model toolkit's tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def library() -> Path:
    """helper-service/native's custom-operator library, CPU kernels (built here, as npm test does)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ builds the custom-operator library")
    subprocess.run(["bash", str(ROOT / "helper-service" / "native" / "build.sh")], check=True, env={"CUDA": "0", "PATH": "/usr/bin:/bin"}, capture_output=True)
    return ROOT / "helper-service" / "native" / "build" / "libreatco_ops.so"
