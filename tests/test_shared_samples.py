"""Without ``../shared`` the tests still collect and run: the ``samples`` tests skip, and under CI they fail.

Each case runs pytest in a subprocess over real test files, with ``HUB_SHARED_DIR`` pointing at a folder that is
not there (the location is read once, when tests/_shared.py is imported). The files are the awkward ones: one
parametrized over the sample files, one that read samples at import, one that mixes tests with and without them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
FILES = ["tests/connectors/commerceml/test_samples.py", "tests/connectors/yandex_eda/test_vendor.py",
         "tests/connectors/commerceml/test_writer.py"]
WITHOUT_SAMPLES = 4  # test_writer's tests that read no sample


def run_without_shared(tmp_path: Path, ci: str | None) -> tuple[int, str, dict[str, int]]:
    """pytest's exit code, output and outcome counts over :data:`FILES`, with no shared folder."""
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["HUB_SHARED_DIR"] = str(tmp_path / "absent")
    if ci is not None:
        env["CI"] = ci
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:cacheprovider", *FILES],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
    summary = done.stdout.strip().splitlines()[-1]
    counts = {outcome: int(number) for number, outcome in re.findall(r"(\d+) (\w+)", summary)}
    return done.returncode, done.stdout + done.stderr, counts


def test_without_the_samples_their_tests_skip_with_the_reason_and_the_rest_pass(tmp_path: Path) -> None:
    code, output, counts = run_without_shared(tmp_path, ci=None)

    assert code == 0, output
    assert counts.get("passed") == WITHOUT_SAMPLES, output
    assert counts.get("skipped", 0) > 10 and "failed" not in counts and "error" not in counts, output
    assert f"{tmp_path / 'absent' / 'samples'} is absent: reference samples not available" in output


def test_under_ci_a_missing_samples_folder_fails_their_tests(tmp_path: Path) -> None:
    code, output, counts = run_without_shared(tmp_path, ci="true")

    assert code == 1, output
    assert counts.get("passed") == WITHOUT_SAMPLES, output
    assert counts.get("errors", 0) > 10 and "skipped" not in counts, output
    assert "is absent: reference samples not available, and CI must run the tests that read them" in output
