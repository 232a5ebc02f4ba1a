from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.local_broker import TansuBroker, external_bootstrap
from app.standin_fleet import StandinFleet


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A broker for the whole run: KAFKA_BOOTSTRAP if set, else Tansu on a free port."""
    given = external_bootstrap()
    if given:
        yield given
        return
    broker = TansuBroker()
    yield broker.start()
    broker.stop()


@pytest.fixture
def fleet() -> Iterator[StandinFleet]:
    agents = StandinFleet()
    agents.start()
    yield agents
    agents.stop()
