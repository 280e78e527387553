"""``hub export`` for Tilda: a refused export leaves the file it would have written as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from connectors.tilda.sandbox import PROJECT


def test_a_refused_export_leaves_the_last_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILDA_SECRET", "a-secret-of-twenty-chars")
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({  # no system_of_record: hub export has no goods to read
        "state": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
        "sources": {"tilda": {"type": "tilda", "projects": {PROJECT: {"secret": "${TILDA_SECRET}"}}}},
    }))
    target = tmp_path / "tilda.csv"
    target.write_text("the shop's last good export\n", encoding="utf-8")

    result = CliRunner().invoke(cli.main, ["--config", str(config), "export", "--source", "tilda",
                                           "--out", str(target)])

    assert result.exit_code != 0 and "system of record" in result.output and "Traceback" not in result.output
    assert target.read_text(encoding="utf-8") == "the shop's last good export\n"
