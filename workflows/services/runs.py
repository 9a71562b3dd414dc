"""What people and code ask of workflow runs: start, resume, retry. One keyword-only function
each.

Views, consumers, management commands and tests all go through these. Each writes in one
transaction and, on commit, wakes an executor (``workflows.execution.waking.wake``); the run
itself executes in the background, never in the HTTP request.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import registry, validation
from ..checkpointer import DjangoSaver
from ..execution import waking
from ..models import Interrupt, Run, Thread

__all__ = [
    "InterruptNotPending",
    "InvalidResumeValue",
    "ResumeError",
    "ThreadNotRetryable",
    "resume_run",
    "retry_run",
    "start_run",
]


class ResumeError(ValueError):
    """A resume request that cannot be carried out; nothing was written."""


class InterruptNotPending(ResumeError):
    """The interrupt was already answered (e.g. a double submission) or cancelled."""


class InvalidResumeValue(ResumeError):
    """The resume value does not satisfy the interrupt's response schema or is not serializable."""


class ThreadNotRetryable(ValueError):
    """Only a thread whose last run failed can be retried."""


def _storable(value: Any, error: type[Exception], max_bytes: int) -> None:
    """Refuse, before anything is written, what the database or the serde would refuse later
    with a less clear error (or a ``RecursionError``): the bounds of ``workflows.validation``
    (depth, NUL characters, lone surrogates, size), and NaN or Infinity (not JSON)."""
    try:
        validation.check_json_value(value, max_bytes=max_bytes)
    except ValidationError as exc:
        raise error(" ".join(exc.messages)) from None
    try:
        json.dumps(value, allow_nan=False, default=lambda _obj: None)
    except ValueError as exc:
        raise error("NaN and Infinity are not valid JSON values") from exc


def _serde():
    return DjangoSaver().serde


def start_run(*, workflow: str, input: Any, user: Any = None, thread_id: str | None = None) -> Run:
    """Create a thread for ``workflow`` and queue its first run with ``input``.

    Returns the queued ``Run``. Raises ``registry.UnknownWorkflow`` for an unregistered name,
    ``TypeError`` (naming the type) when ``input`` is not serializable and ``ValueError`` for NaN
    or Infinity in it, or when it is beyond ``workflows.validation``'s bounds (nested too deep,
    NUL characters, lone surrogates, over ``FLOWSITE_MAX_INPUT_BYTES``); nothing is written then.
    """
    registry.get(workflow)
    _storable(input, ValueError, validation.max_input_bytes())
    serde = _serde()
    payload = serde.dumps(input).decode()
    with transaction.atomic():
        thread = Thread.objects.create(
            thread_id=thread_id or str(uuid.uuid4()),
            workflow=workflow,
            status=Thread.Status.RUNNING,
            input=serde.to_display(input),
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        run = Run.objects.create(
            thread=thread, kind=Run.Kind.START, input=payload, requested_by=thread.created_by
        )
        waking.wake_on_commit(run.pk)
    return run


def resume_run(*, interrupt: Interrupt, value: Any, user: Any = None) -> Run:
    """Answer ``interrupt`` with ``value`` and queue the run that resumes its thread.

    The answer is recorded with a conditional update (pending -> resolved), so of two concurrent
    submissions exactly one succeeds. The run executes ``Command(resume={interrupt_id: value})``.

    Raises ``InterruptNotPending`` (already answered or cancelled), ``InvalidResumeValue`` (the
    value fails the interrupt's JSON Schema, is ``None``, is not serializable, or is beyond
    ``workflows.validation``'s bounds: over ``FLOWSITE_MAX_ANSWER_BYTES``...). Nothing is
    written when it raises.
    """
    if value is None:
        raise InvalidResumeValue("None is not a valid resume value")
    _storable(value, InvalidResumeValue, validation.max_answer_bytes())
    serde = _serde()
    if interrupt.response_schema:
        try:
            jsonschema.validate(value, interrupt.response_schema)
        except jsonschema.ValidationError as exc:
            raise InvalidResumeValue(f"Invalid answer: {exc.message}") from exc
    try:
        payload = serde.dumps({"resume": {interrupt.interrupt_id: value}}).decode()
    except TypeError as exc:
        raise InvalidResumeValue(str(exc)) from exc
    actor = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        answered = Interrupt.objects.filter(pk=interrupt.pk, status=Interrupt.Status.PENDING).update(
            status=Interrupt.Status.RESOLVED,
            resume_value=serde.to_display(value),
            resolved_by=actor,
            resolved_at=timezone.now(),
        )
        if answered != 1:
            raise InterruptNotPending(f"Interrupt {interrupt.interrupt_id} is no longer pending")
        run = Run.objects.create(
            thread_id=interrupt.thread_id, kind=Run.Kind.RESUME, input=payload, requested_by=actor
        )
        Thread.objects.filter(pk=interrupt.thread_id).update(
            status=Thread.Status.RUNNING, updated_at=timezone.now()
        )
        waking.wake_on_commit(run.pk)
    return run


def retry_run(*, thread: Thread, user: Any = None) -> Run:
    """Queue a run that continues ``thread`` after an error (LangGraph's ``invoke(None, config)``):
    finished tasks are replayed, the failed one runs again. Raises ``ThreadNotRetryable``."""
    actor = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        if Run.objects.filter(
            thread=thread, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]
        ).exists():
            raise ThreadNotRetryable(f"Thread {thread.thread_id} already has a run waiting")
        updated = Thread.objects.filter(pk=thread.pk, status=Thread.Status.ERROR).update(
            status=Thread.Status.RUNNING, error="", updated_at=timezone.now()
        )
        if updated != 1:
            raise ThreadNotRetryable(f"Thread {thread.thread_id} has no failed run to retry")
        run = Run.objects.create(
            thread=thread, kind=Run.Kind.RETRY, input=_serde().dumps(None).decode(), requested_by=actor
        )
        waking.wake_on_commit(run.pk)
    return run
