"""NHS hl7v2 support for the partner hub."""
