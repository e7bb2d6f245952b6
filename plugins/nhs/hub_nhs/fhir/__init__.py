"""NHS fhir support for the partner hub."""
