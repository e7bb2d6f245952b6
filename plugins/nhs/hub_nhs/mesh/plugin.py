"""Entry point of the NHS mesh plugin (group ``hub.adapters``, name ``nhs-mesh``)."""
