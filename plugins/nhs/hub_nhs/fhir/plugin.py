"""Entry point of the NHS fhir plugin (group ``hub.adapters``, name ``nhs-fhir``).

Registers the ``fhir-r4`` adapter, which parses ``application/fhir+json`` and
``application/fhir+xml`` and renders FHIR response messages for partners whose
``adapter = "fhir-r4"`` in ``partners.toml``.
"""

from __future__ import annotations

from collections.abc import Callable

from hub import Adapter, hookimpl
from hub_nhs.fhir.adapter import FhirR4Adapter


@hookimpl
def hub_register_adapters(register: Callable[[Adapter], None]) -> None:
    """Register ``fhir-r4``."""
    register(FhirR4Adapter())
