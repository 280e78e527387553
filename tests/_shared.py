"""Where the reference samples are, and what a test that reads them does when they are not there.

The samples are other people's payloads in ``../shared/samples`` beside the repository, read where they lie and
never copied into it (``HUB_SHARED_DIR`` names another ``shared`` folder). A clone without that folder must still
run green, so a test that reads them carries the ``samples`` marker, and tests/conftest.py skips it when the folder
is absent; under CI (:func:`hub.testing.in_ci`) it fails instead, so CI cannot pass without having run them.
Nothing here reads a sample while tests are collected: that would break the whole run, not skip a test.
"""

from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from hub.testing import in_ci

SHARED = Path(os.environ.get("HUB_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
SAMPLES = SHARED / "samples"
_SHOWN = str(SAMPLES) if "HUB_SHARED_DIR" in os.environ else "../shared/samples"
ABSENT = f"{_SHOWN} is absent: reference samples not available"


def require_samples() -> None:
    """Skip the running test when the samples are absent; under CI, fail it."""
    if SAMPLES.is_dir():
        return
    if in_ci():
        pytest.fail(f"{ABSENT}, and CI must run the tests that read them", pytrace=False)
    pytest.skip(ABSENT)


def sample_files(folder: Path, pattern: str, *, but: str | None = None) -> list[Any]:
    """The files of ``folder`` matching ``pattern`` and not ``but``, sorted, as parameters named by file name.

    With none found, one stand-in parameter keeps the test in the run: its ``samples`` marker skips it, or fails it
    under CI (an empty parameter set would be skipped quietly, even there).
    """
    found = sorted(path for path in folder.glob(pattern) if not (but and fnmatch(path.name, but)))
    return [pytest.param(path, id=path.name) for path in found] or [pytest.param(folder / pattern, id="no-samples")]
