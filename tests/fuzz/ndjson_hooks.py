"""Schemathesis hooks for fuzzing the hub (loaded with ``SCHEMATHESIS_HOOKS=ndjson_hooks``).

The batch body (``application/x-ndjson``) is text: it is sent as the text it is, and a "body of the wrong
type" (a JSON number or object where the document says text) cannot exist on the wire, so such generated
bodies are dropped instead of being sent as their text and then expected to be refused.
"""

from typing import Any

import schemathesis
from schemathesis.core import NOT_SET

BATCH = "/v1/messages:batch"

schemathesis.serializer.alias("application/x-ndjson", "text/plain")


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Keep every case, except one with a non-text body for the batch."""
    return case.operation.path != BATCH or case.body is NOT_SET or isinstance(case.body, str)
