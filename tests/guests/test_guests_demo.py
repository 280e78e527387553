"""hub demo's guests step: a guest who stopped ordering is sleeping on the CRM's contact, and guests who
ordered through several channels have one profile each."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.customers import SEGMENTS_TOLD
from hub.demo import SLEEPING_GUEST, run_demo
from hub.guests import every_profile
from hub.model import Entity
from hub.state import open_store

pytestmark = pytest.mark.slow


def test_the_demo_ends_with_one_profile_per_guest_and_a_sleeping_guest_in_the_crm(tmp_path: Path) -> None:
    report = run_demo(workdir=tmp_path, cycles=1)
    assert report.went_through
    store = open_store(f"sqlite:///{tmp_path / 'hub-state.db'}")
    try:
        with store.reading() as state:
            guest = state.links.get("phone", Entity.CUSTOMERS.value, SLEEPING_GUEST)
            assert guest is not None
            told = state.fingerprints.payloads("bitrix24", SEGMENTS_TOLD, [guest])[guest]
        profiles = list(every_profile(store))
    finally:
        store.close()
    assert told is not None and '"segments": "sleeping"' in told
    assert [p.segments for p in profiles if p.guest == guest] == [["sleeping"]]
    assert any(len(p.channels) > 1 for p in profiles), "a guest of two channels is one profile"
    assert len({p.guest for p in profiles}) == len(profiles)
