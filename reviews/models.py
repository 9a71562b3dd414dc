"""The review product's state: who answered what (``Decision``, the audit log) and who is
reviewing what right now (``Claim``, a lease).

Answering any interrupt needs the permission ``reviews.answer_interrupt`` (declared on
``Decision``); a workflow can require one more (``registry.register(..., review_permission=)``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Decision(models.Model):
    """Who answered an interrupt, how, and with what resume value.

    Written in the same transaction as the resume (``reviews.services.answer_interrupt``): a
    resumed run always has its decision, and a decision always its run. ``Command(resume=...)``
    cannot carry identity, so this row is where it lives.

    The audit outlives its data: deleting a thread (or an interrupt) keeps its decisions, with
    ``interrupt`` set to NULL and what the audit shows of it copied here when the decision is
    written (``workflow``, ``thread_key``, ``interrupt_key``, ``question``). A decision of the
    system (a deadline's default answer) has no ``user`` and ``by`` says why.
    """

    class By(models.TextChoices):
        """Who decided: a reviewer (``user``), or the system when a deadline ran out."""

        REVIEWER = "reviewer", "Reviewer"
        DEADLINE = "deadline", "System (deadline)"

    class Kind(models.TextChoices):
        """What the reviewer decided. On a proposal (an agent's tool call, a prefilled form):
        approve, edit, reject, respond (answer in the tool's place), ignore (Agent Inbox);
        ``answer`` is a plain answer to a question; ``mixed`` a batch of tool calls decided
        differently (each one's decision is in ``actions``)."""

        APPROVE = "approve", "Approved"
        EDIT = "edit", "Edited"
        REJECT = "reject", "Rejected"
        RESPOND = "respond", "Responded"
        IGNORE = "ignore", "Ignored"
        ANSWER = "answer", "Answered"
        MIXED = "mixed", "Mixed"

    interrupt = models.ForeignKey(
        "workflows.Interrupt",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="decisions",
        help_text="Empty once the thread was deleted; the fields below keep what it was.",
    )
    # PROTECT: an audit row must not lose its author; deactivate users instead of deleting them.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="review_decisions",
        help_text="The reviewer; empty for a decision of the system.",
    )
    by = models.CharField(max_length=16, choices=By, default=By.REVIEWER)
    workflow = models.CharField(max_length=200, blank=True, help_text="The thread's workflow.")
    thread_key = models.CharField(
        max_length=255, blank=True, help_text="The thread's thread_id (LangGraph's)."
    )
    interrupt_key = models.CharField(
        max_length=32, blank=True, help_text="The interrupt's interrupt_id."
    )
    question = models.CharField(
        max_length=300, blank=True, help_text="A summary of the interrupt's value."
    )
    kind = models.CharField(max_length=16, choices=Kind)
    value = models.JSONField(null=True, blank=True, help_text="The resume value sent to the run.")
    diff = models.JSONField(
        null=True,
        blank=True,
        help_text='An edit\'s changes, per argument: {"name": {"old": ..., "new": ...}}.',
    )
    run = models.ForeignKey(
        "workflows.Run",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The resume run this decision queued.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("answer_interrupt", "Can answer interrupts (resume paused workflows)")]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="decision_user_recent"),
            models.Index(fields=["workflow", "-created_at"], name="decision_workflow_recent"),
        ]
        constraints = [
            # An interrupt is answered once; the database says no to a second answer even if
            # two requests got past the service's conditional update.
            models.UniqueConstraint(fields=["interrupt"], name="one_decision_per_interrupt"),
            # a reviewer's decision has its reviewer, the system's has none
            models.CheckConstraint(
                condition=models.Q(by="reviewer", user__isnull=False)
                | (~models.Q(by="reviewer") & models.Q(user__isnull=True)),
                name="decision_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.decided_by} on interrupt {self.interrupt_key}"

    @property
    def decided_by(self) -> str:
        """The reviewer's username, or ``"System (deadline)"``."""
        if self.user_id is not None:
            return self.user.get_username()
        return self.get_by_display()


class DecisionAction(models.Model):
    """The decision on one action of an agent request (a proposed tool call), in order: a
    batch's decisions can differ, and the audit log filters on each of them."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200, help_text="The tool (action) name.")
    kind = models.CharField(max_length=16, choices=Decision.Kind)
    message = models.TextField(blank=True, help_text="A rejection's reason, or the response.")
    diff = models.JSONField(null=True, blank=True, help_text="An edit's changes, per argument.")

    class Meta:
        ordering = ["decision", "position"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "position"], name="one_entry_per_action")
        ]
        indexes = [models.Index(fields=["kind"], name="decision_action_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name} (action {self.position + 1})"


class Escalation(models.Model):
    """An interrupt handed to a Django group because its deadline passed (``on_deadline=
    Escalate(group=...)``): it stays pending, the inbox shows whom it went to, and the sweep
    does not escalate it twice. ``reviews.services.escalate``."""

    interrupt = models.OneToOneField(
        "workflows.Interrupt", on_delete=models.CASCADE, related_name="escalation"
    )
    group = models.CharField(max_length=150, help_text="The Django group's name.")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"interrupt {self.interrupt_id} escalated to {self.group}"


class ClaimQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None) -> ClaimQuerySet:
        """Claims whose lease has not run out."""
        return self.filter(expires_at__gt=now or timezone.now())


class Claim(models.Model):
    """A reviewer's lease on a pending interrupt: while it lasts, only they can answer it.

    One row per interrupt at most (the one-to-one is a unique constraint); a lease that ran out
    is taken over by the next claimant with a conditional update, and the row is deleted when
    its holder answers or releases it. See ``reviews.services.claim_interrupt``.
    """

    LEASE = timedelta(minutes=10)

    interrupt = models.OneToOneField(
        "workflows.Interrupt", on_delete=models.CASCADE, related_name="claim"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_claims"
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    objects = ClaimQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "expires_at"], name="claim_user_expiry")]

    def __str__(self) -> str:
        return f"{self.user} reviews interrupt {self.interrupt_id} until {self.expires_at:%H:%M}"

    def is_active(self, now: datetime | None = None) -> bool:
        return self.expires_at > (now or timezone.now())


class Comment(models.Model):
    """A reviewer's note on an interrupt, written before deciding (shown on the item's page
    and beside its decision in the audit log). The body is plain text: pages escape it.
    See ``reviews.services.add_comment``."""

    MAX_LENGTH = 4000  # characters

    interrupt = models.ForeignKey(
        "workflows.Interrupt", on_delete=models.CASCADE, related_name="comments"
    )
    # PROTECT, as a decision's user: a comment is part of the audit.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_comments"
    )
    body = models.TextField(max_length=MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["interrupt", "created_at"], name="comment_interrupt_time")]

    def __str__(self) -> str:
        return f"Comment by {self.author} on interrupt {self.interrupt_id}"


class Presence(models.Model):
    """One open item page: a reviewer's WebSocket on ``ws/reviews/<interrupt id>/``
    (``reviews.consumers.ReviewConsumer``). The row lives while the socket does; its consumer
    renews ``seen_at`` every ``BEAT``, so the rows of a server that died stop counting after
    ``TTL``."""

    BEAT = timedelta(seconds=30)
    TTL = timedelta(seconds=90)

    interrupt = models.ForeignKey(
        "workflows.Interrupt", on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["interrupt", "seen_at"], name="presence_interrupt_seen")]

    def __str__(self) -> str:
        return f"{self.user} viewing interrupt {self.interrupt_id}"


class AssignmentQuerySet(models.QuerySet):
    def current(self) -> AssignmentQuerySet:
        """Assignments not removed (by a reassignment): who the item is assigned to now."""
        return self.filter(removed_at__isnull=True)


class Assignment(models.Model):
    """An interrupt assigned to a user or to a Django group: whose queue it is in.

    Exactly one of ``user`` and ``group`` is set (a check constraint). Rows are never deleted
    while the interrupt lives: a reassignment sets ``removed_at``/``removed_by`` on the rows it
    replaces, so the rows are the assignment's audit (who assigned whom, when, why). At most one
    current row per user and per group on an interrupt (partial unique constraints). Being
    assigned is not a lease: whoever may answer the workflow can still claim and answer it
    (``Claim`` is who works on it now). See ``reviews.services.assign``.
    """

    interrupt = models.ForeignKey(
        "workflows.Interrupt", on_delete=models.CASCADE, related_name="assignments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="review_assignments",
    )
    group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="review_assignments",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: assigned by the system (the workflow's assignees, an escalation).",
    )
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="assignment_user_or_group",
            ),
            models.UniqueConstraint(
                fields=["interrupt", "user"],
                condition=models.Q(removed_at__isnull=True, user__isnull=False),
                name="one_current_assignment_per_user",
            ),
            models.UniqueConstraint(
                fields=["interrupt", "group"],
                condition=models.Q(removed_at__isnull=True, group__isnull=False),
                name="one_current_assignment_per_group",
            ),
        ]
        indexes = [
            models.Index(
                fields=["user", "interrupt"],
                condition=models.Q(removed_at__isnull=True),
                name="assignment_current_user",
            ),
            models.Index(
                fields=["group", "interrupt"],
                condition=models.Q(removed_at__isnull=True),
                name="assignment_current_group",
            ),
        ]

    def __str__(self) -> str:
        return f"interrupt {self.interrupt_id} assigned to {self.assignee_label}"

    @property
    def assignee_label(self) -> str:
        """``alice`` or ``group editors``."""
        if self.user_id is not None:
            return self.user.get_username()
        return f"group {self.group.name}"


class Approval(models.Model):
    """One reviewer's approval of an interrupt whose workflow needs several
    (``registry.register(..., approvals=N)``). The N-th approval resumes the run (its
    ``Decision`` is written then, by the last approver); each one is its own audited row. A
    reviewer approves an item once (a unique constraint). See
    ``reviews.services.answer_interrupt``."""

    interrupt = models.ForeignKey(
        "workflows.Interrupt", on_delete=models.CASCADE, related_name="approvals"
    )
    # PROTECT, as Decision.user: an audit row keeps its author.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_approvals"
    )
    value = models.JSONField(null=True, blank=True, help_text="The resume value approved.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["interrupt", "user"], name="one_approval_per_reviewer")
        ]

    def __str__(self) -> str:
        return f"approved by {self.user} on interrupt {self.interrupt_id}"
