"""The project's own files agree with each other: the lint's advice names real functions, the locks cover
every dependency pyproject.toml declares, and the README's commands install from the locks."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import hub.values

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _locked(lock: str) -> dict[str, str]:
    """Package name -> pinned version, as the lock file lists them."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", (ROOT / lock).read_text(encoding="utf-8"), re.M)
    return {canonicalize_name(name): version for name, version in pins}


def test_the_banned_api_advice_names_functions_that_exist() -> None:
    banned = PYPROJECT["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"]
    named = {name for entry in banned.values() for name in re.findall(r"hub\.values\.(\w+)", entry["msg"])}
    assert named, "the advice names no hub.values function"
    assert sorted(name for name in named if not callable(getattr(hub.values, name, None))) == []


@pytest.mark.parametrize(("lock", "extras"), [("requirements/requirements-test.txt", ["test"]),
                                              ("requirements/requirements-run.txt", [])])
def test_each_lock_pins_every_declared_dependency(lock: str, extras: list[str]) -> None:
    project = PYPROJECT["project"]
    declared = [*project["dependencies"], *(dep for extra in extras for dep in project["optional-dependencies"][extra])]
    locked = _locked(lock)
    missing = [spec for spec in declared if canonicalize_name(Requirement(spec).name) not in locked]
    assert missing == [], f"refresh the locks with ./scripts/lock: {lock} lacks {missing}"
    outside = [spec for spec in declared
               if not Requirement(spec).specifier.contains(locked[canonicalize_name(Requirement(spec).name)])]
    assert outside == [], f"refresh the locks with ./scripts/lock: {lock} pins outside {outside}"


def test_the_demo_lock_pins_the_same_versions_as_the_test_lock() -> None:
    run, test = _locked("requirements/requirements-run.txt"), _locked("requirements/requirements-test.txt")
    assert {name: (version, test.get(name)) for name, version in run.items() if test.get(name) != version} == {}


def test_the_readme_commands_install_from_the_locks() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo = next(line for line in readme.splitlines() if "hub demo" in line and line.startswith("python3 -m venv"))
    assert "-r requirements/requirements-run.txt" in demo
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    assert "-r requirements/requirements-test.txt" in script


def test_hub_keeps_its_layers_with_no_import_cycle() -> None:
    # The contract in pyproject.toml, checked as scripts/test does: TYPE_CHECKING and function-level imports count.
    done = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken" in done.stdout
    assert any(contract.get("containers") == ["hub.mapping"] for contract in contracts), \
        "hub.mapping's own modules keep a layer contract too"


def test_every_connector_package_is_kept_independent_of_the_others() -> None:
    # A connector added to connectors/ but not to the contract could import another's private modules unseen.
    contract = next(c for c in PYPROJECT["tool"]["importlinter"]["contracts"] if c["type"] == "independence")
    packages = {f"connectors.{p.name}" for p in (ROOT / "connectors").iterdir() if (p / "__init__.py").is_file()}
    assert set(contract["modules"]) == packages
