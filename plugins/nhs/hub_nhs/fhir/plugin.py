"""Entry point of the NHS fhir plugin (group ``hub.adapters``, name ``nhs-fhir``)."""
