"""`gerbang worker` in a process of its own, tracing into a file: each finished span, as the SDK's
`ReadableSpan.to_json()` gives it, one JSON document per line in the file named by the first argument.

For the distributed span-tree test (tests/core/bus/test_tracing_distributed.py): the API runs in the test process
with the SDK's in-memory exporter, this worker in another process; the test joins the two by trace and span ids.
Lines are appended as spans end (not at exit), so the test can read them while the worker runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from core.cli.main import main
from core.ops import tracing


class JsonLines(SpanExporter):
    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.path.open("a") as out:
            for span in spans:
                out.write(json.dumps(json.loads(span.to_json())) + "\n")
        return SpanExportResult.SUCCESS


if __name__ == "__main__":
    tracing.install(SimpleSpanProcessor(JsonLines(Path(sys.argv[1]))), "gerbang-worker")  # setup() keeps it
    sys.argv = ["gerbang", "worker", "--no-callbacks"]  # the CLI as `gerbang worker` runs it (all its models)
    main()
