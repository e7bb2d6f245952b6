"""The one error operator operations raise for a request they cannot carry out."""

from __future__ import annotations


class OperationRefused(Exception):
    """An operation refused as asked; ``str(exc)`` says what and what to do, and nothing was changed.

    A face shows the sentence as it is: the CLI on stderr with exit status 1,
    the HTTP API as a problem document.
    """
