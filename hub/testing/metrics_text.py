"""Reading ``/metrics`` in tests with prometheus-client's own parser, independent of the code that writes it."""

from __future__ import annotations

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""Samples of an exposition: ``{(sample name, frozenset of label pairs): value}``."""


def parse_samples(text: str) -> Samples:
    """Every sample of a Prometheus text exposition (``ValueError`` if it is not one)."""
    from prometheus_client.parser import text_string_to_metric_families

    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            if key in found:
                raise ValueError(f"sample {sample.name}{sample.labels} appears twice")
            found[key] = sample.value
    return found


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of sample ``name`` with exactly these labels, or None if the exposition has none."""
    return samples.get((name, frozenset(labels.items())))
