"""NHS mesh support for the partner hub."""
