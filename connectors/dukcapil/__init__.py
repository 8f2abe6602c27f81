"""Dukcapil, the civil registry: the root of identity (REST JSON `CALL_NIK`, `CALL_VERIFY_BY_ELEMEN`; read-only)."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import agency_plugin
from connectors.dukcapil.client import DukcapilClient
from identity.model import ROOT_FACET


def create(config: Mapping[str, str]) -> DukcapilClient:
    """A client from its settings (url, institution, user, password, ip, optional timeout_s and threshold)."""
    return DukcapilClient(config)


PLUGIN = agency_plugin(__name__, "Dukcapil (civil registry)", ROOT_FACET, create)
"""The root facet's agency: its purpose (identity_check, the root facet alone) is identity/purposes.yaml's."""
