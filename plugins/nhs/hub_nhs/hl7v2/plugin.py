"""Entry point of the NHS hl7v2 plugin (group ``hub.adapters``, name ``nhs-hl7v2``)."""
