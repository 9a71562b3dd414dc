"""Durable state of workflow runs: threads, checkpoints, pending writes, interrupts and runs.

``Checkpoint`` and ``PendingWrite`` mirror LangGraph's checkpointer tables (``checkpoints`` and
``checkpoint_writes``). Rows written by ``DjangoSaver`` (Flowsite's runtime) hold the runtime
serializer's JSON text so that values round-trip exactly (dict order included); rows written by
``LangGraphDjangoSaver`` (a LangGraph graph) hold LangGraph's serializer output in ``blob``, its
type in ``serde_type``, and a readable JSON form for the dashboard in ``data`` / ``value``.
``Interrupt`` and ``Run`` are what the dashboard lists.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Thread(models.Model):
    """One conversation of a workflow: LangGraph's thread, keyed by ``thread_id``."""

    class Status(models.TextChoices):
        IDLE = "idle", "Idle"
        RUNNING = "running", "Running"
        INTERRUPTED = "interrupted", "Waiting for review"
        ERROR = "error", "Error"
        DONE = "done", "Done"

    thread_id = models.CharField(max_length=255, unique=True)
    workflow = models.CharField(max_length=200, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.IDLE, db_index=True)
    title = models.CharField(max_length=300, blank=True)
    input = models.JSONField(null=True, blank=True, help_text="The first run's input, for display.")
    result = models.JSONField(null=True, blank=True, help_text="The last completed value.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    run_owner = models.CharField(
        max_length=100, blank=True, help_text="Token of the run executing on this thread, if any."
    )
    run_lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.workflow or 'thread'} {self.thread_id}"

    @property
    def group_name(self) -> str:
        """Channel-layer group of this thread's live stream (``thread.<pk>``)."""
        return f"thread.{self.pk}"


class Checkpoint(models.Model):
    """A checkpoint: the thread's state between runs (``source`` input/loop/update/fork)."""

    class Source(models.TextChoices):
        INPUT = "input", "Input"
        LOOP = "loop", "Loop"
        UPDATE = "update", "Update"
        FORK = "fork", "Fork"

    # no index of its own: unique_checkpoint leads with it (one index fewer to write per row)
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="checkpoints", db_index=False
    )
    checkpoint_ns = models.CharField(max_length=255, blank=True, default="")
    checkpoint_id = models.CharField(max_length=36)
    parent_checkpoint_id = models.CharField(max_length=36, null=True, blank=True)
    step = models.IntegerField()
    source = models.CharField(max_length=8, choices=Source)
    data = models.TextField(
        help_text="The checkpoint dict, serialized (a LangGraph graph's: readable JSON of it)."
    )
    metadata = models.JSONField(default=dict)
    serde_type = models.CharField(
        max_length=32, blank=True, default="", db_default="",
        help_text="Empty: written by Flowsite's runtime. Else LangGraph's serializer type of blob.",
    )
    blob = models.BinaryField(
        null=True, blank=True, help_text="LangGraph's serialized value (rows of a LangGraph graph)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-checkpoint_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "checkpoint_ns", "checkpoint_id"], name="unique_checkpoint"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} step {self.step} ({self.checkpoint_id})"


class PendingWrite(models.Model):
    """A write of a task to the step in progress: a result (``__return__``), an error, an
    interrupt or resume values. Attached to the step's input checkpoint."""

    # no index of its own: unique_pending_write leads with it
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="pending_writes", db_index=False
    )
    checkpoint_ns = models.CharField(max_length=255, blank=True, default="")
    checkpoint_id = models.CharField(max_length=36)
    task_id = models.CharField(max_length=36)
    task_path = models.CharField(max_length=500, blank=True, default="")
    idx = models.IntegerField()
    channel = models.CharField(max_length=100)
    value = models.TextField(
        help_text="The written value, serialized (a LangGraph graph's: readable JSON of it)."
    )
    serde_type = models.CharField(
        max_length=32, blank=True, default="", db_default="",
        help_text="Empty: written by Flowsite's runtime. Else LangGraph's serializer type of blob.",
    )
    blob = models.BinaryField(
        null=True, blank=True, help_text="LangGraph's serialized value (rows of a LangGraph graph)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "checkpoint_ns", "checkpoint_id", "task_id", "idx"],
                name="unique_pending_write",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} of task {self.task_id}"


class InterruptQuerySet(models.QuerySet):
    def pending(self) -> InterruptQuerySet:
        return self.filter(status=Interrupt.Status.PENDING)


class Interrupt(models.Model):
    """A pause waiting for a person: the value of an ``interrupt()`` call and its answer."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RESOLVED = "resolved", "Resolved"
        CANCELLED = "cancelled", "Cancelled"

    interrupt_id = models.CharField(max_length=32)
    # no index of its own: unique_interrupt leads with it
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="interrupts", db_index=False
    )
    checkpoint_id = models.CharField(max_length=36)
    task_id = models.CharField(max_length=36)
    value = models.JSONField(null=True, help_text="The interrupt's value, as JSON.")
    response_schema = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    resume_value = models.JSONField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the workflow's review_deadline runs out (workflows.deadlines).",
    )

    objects = InterruptQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["thread", "interrupt_id"], name="unique_interrupt")
        ]
        indexes = [
            # the inbox: pending interrupts in its order (oldest first, or read backwards);
            # partial, so answered interrupts neither grow it nor leave dead entries in it
            models.Index(
                fields=["created_at", "id"],
                condition=models.Q(status="pending"),
                name="interrupt_pending_order",
            ),
            # a thread's (a workflow's threads') pending interrupts: the inbox's workflow filter
            # and the recent threads' counts, read from the index alone
            models.Index(
                fields=["thread"],
                condition=models.Q(status="pending"),
                name="interrupt_pending_thread",
            ),
            # the inbox's "due first" order and the sweep's "what is due" range
            models.Index(
                fields=["deadline_at", "id"],
                condition=models.Q(status="pending"),
                name="interrupt_pending_due",
            ),
        ]
        # PostgreSQL only (migration 0004): pg_trgm GIN indexes on UPPER(value::text) here and
        # on UPPER(input::text) of Thread, for the inbox's search (reviews.selectors)

    def __str__(self) -> str:
        return f"interrupt {self.interrupt_id} ({self.status})"


class Run(models.Model):
    """A request to execute a workflow on a thread: start, resume or retry.

    The database is the queue: executors claim ``queued`` runs with a conditional update, so a
    run started in one process can be executed by another.
    """

    class Kind(models.TextChoices):
        """``replay`` and ``fork`` are staff's time travel: ``invoke(None, config)`` from an
        earlier checkpoint, as is or after ``update_state`` (``workflows.time_travel``)."""

        START = "start", "Start"
        RESUME = "resume", "Resume"
        RETRY = "retry", "Retry"
        REPLAY = "replay", "Replay"
        FORK = "fork", "Fork"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        INTERRUPTED = "interrupted", "Interrupted"
        SUCCESS = "success", "Success"
        ERROR = "error", "Error"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=8, choices=Kind)
    status = models.CharField(max_length=12, choices=Status, default=Status.QUEUED)
    input = models.TextField(help_text="The run's input or resume command, serialized.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    worker = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            # a thread runs one run at a time: the database refuses a second claim (a partial
            # unique index, so a claim is one conditional UPDATE, no lock or lookup first)
            models.UniqueConstraint(
                fields=["thread"], condition=models.Q(status="running"), name="one_running_run_per_thread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} run of {self.thread_id} ({self.status})"


class TimeTravel(models.Model):
    """The audit of a staff member's time travel on a thread (``workflows.time_travel``): a
    replay from a checkpoint, or a fork with edited state (``values``, and ``changes`` from the
    checkpoint's state, as the history page's diffs: ``[{"path", "kind", "old", "new"}]``)."""

    # no index of its own: time_travel_recent leads with it
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="time_travels", db_index=False
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The run it queued.",
    )
    kind = models.CharField(max_length=8, choices=[(k, Run.Kind(k).label) for k in ("replay", "fork")])
    checkpoint_id = models.CharField(max_length=36, help_text="The checkpoint it started from.")
    new_checkpoint_id = models.CharField(
        max_length=36, blank=True, help_text="A fork's: the checkpoint update_state wrote."
    )
    values = models.JSONField(null=True, blank=True, help_text="A fork's edited state.")
    changes = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["thread", "-created_at"], name="time_travel_recent")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.thread_id} from {self.checkpoint_id}"
