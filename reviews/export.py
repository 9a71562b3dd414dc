"""The audit log as CSV: the rows of ``selectors.audit_log`` for the audit page's filters,
streamed (``StreamingHttpResponse`` over the ``csv`` module, Django's "Streaming large CSV
files"), so a long log is never held in memory.

Cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return) are prefixed with ``'`` (OWASP's advice on CSV injection): interrupt
payloads and answers are untrusted text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from .models import Decision

__all__ = ["COLUMNS", "audit_rows", "csv_lines"]

COLUMNS = [
    "decided_at", "decided_by", "kind", "actions", "workflow", "thread_id", "thread_deleted",
    "interrupt_id", "question", "value", "diff", "run_id", "run_status",
]
CHUNK = 500
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose ``write`` returns the line (``csv.writer`` writes to it)."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_rows(decisions: Iterable[Decision]) -> Iterator[list[str]]:
    """One list of cells per decision, in ``COLUMNS`` order."""
    for decision in decisions:
        actions = "; ".join(f"{a.name}: {a.kind}" for a in decision.actions.all())
        run = decision.run
        yield [_cell(v) for v in (
            decision.created_at.isoformat(),
            decision.decided_by,
            decision.kind,
            actions,
            decision.workflow,
            decision.thread_key,
            "yes" if decision.interrupt_id is None else "no",
            decision.interrupt_key,
            decision.question,
            _json(decision.value),
            _json(decision.diff),
            str(run.pk) if run else "",
            run.status if run else "",
        )]


def csv_lines(queryset: Any) -> Iterator[str]:
    """The header and one CSV line per decision of ``queryset`` (read in chunks of ``CHUNK``,
    its prefetches included)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for row in audit_rows(queryset.iterator(chunk_size=CHUNK)):
        yield writer.writerow(row)
