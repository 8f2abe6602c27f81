"""Fault modes that OSS and Samsat answer alike, seen through their clients over real HTTP on loopback.

Down is unavailable (not a timeout) and health says so; slow beyond the client's timeout is a timeout; garbage is a
protocol error. Each agency's `error` mode speaks its own protocol, so it is tested in the agency's own module.
"""

from __future__ import annotations

import pytest

from connectors.base import AgencyProtocolError, AgencyTimeout, AgencyUnavailable, ConnectorPlugin
from connectors.simkit.population import Population
from connectors.simkit.serving import RunningServer
from tests.connectors.helpers import run, set_fault

pytestmark = pytest.mark.parametrize("agency", ["oss", "samsat"], indirect=True, scope="module")


def test_fault_down_is_unavailable(plugin: ConnectorPlugin, server: RunningServer, population: Population) -> None:
    config = plugin.sim_config(server.url)
    set_fault(server.url, "down")
    with pytest.raises(AgencyUnavailable) as caught:
        run(plugin, config, lambda c: c.lookup(population.people[0].nik))
    assert not isinstance(caught.value, AgencyTimeout)
    assert run(plugin, config, lambda c: c.health()).up is False


def test_fault_slow_is_timeout(plugin: ConnectorPlugin, server: RunningServer, population: Population) -> None:
    set_fault(server.url, "slow", delay_ms=1500)
    with pytest.raises(AgencyTimeout):
        run(plugin, {**plugin.sim_config(server.url), "timeout_s": "0.3"},
            lambda c: c.lookup(population.people[0].nik))


def test_fault_garbage_is_protocol_error(plugin: ConnectorPlugin, server: RunningServer,
                                         population: Population) -> None:
    set_fault(server.url, "garbage")
    with pytest.raises(AgencyProtocolError):
        run(plugin, plugin.sim_config(server.url), lambda c: c.lookup(population.people[0].nik))
