"""The contract kit: the checks every connector must pass against its own simulator (`gerbang connectors check`)."""

from connectors.contract.kit import Check, check_connector, failures, run_contract, simulator_of, table
from connectors.contract.samples import Samples, samples_for, unknown_nik

__all__ = [
    "Check",
    "Samples",
    "check_connector",
    "failures",
    "run_contract",
    "samples_for",
    "simulator_of",
    "table",
    "unknown_nik",
]
