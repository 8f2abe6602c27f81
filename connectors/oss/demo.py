"""What the demo offers to try with OSS: make its simulator push a NIB's licences to the region (`receiveNIB`),
then decide one of them (`receiveLicenseStatus` back to OSS through the outbox), for `ConnectorPlugin.demo`.

Imported only by the demo (it builds on the simulator's synthetic data)."""

from __future__ import annotations

from connectors.base import DemoTour
from connectors.oss.client import SERVICE_STATUS
from connectors.oss.codes import NIB_ACTIVE
from connectors.oss.inbound import METHOD
from connectors.oss.simdata import decision, owner_of
from connectors.simkit.population import Population

PUSH_NOTE = (
    "Make OSS push the licences of a NIB for the region to process (they appear as applications in status received):"
)
DECIDE_NOTE = (
    "Decide one (receiveLicenseStatus back to OSS through the outbox; the same key answers the same application), "
    "then follow it by the id it returns:"
)


def tour(population: Population) -> DemoTour:
    """A living person's own active NIB: its push, and the approval of its first licence."""
    for person in population.ordinary():
        owner = owner_of(population, person)
        if owner is None:
            continue
        for nib in owner.nibs:
            if nib.status == NIB_ACTIVE and nib.licences:
                submission = {
                    "nik": person.nik,
                    "agency": "oss",
                    "service": SERVICE_STATUS,
                    "payload": decision(owner, nib, nib.licences[0]),
                }
                return DemoTour(submission, DECIDE_NOTE, {"nib": nib.nib}, METHOD, PUSH_NOTE)
    return DemoTour()
