from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from workflows.admin import ReadOnlyAdmin, pretty_json
from workflows.templatetags.workflow_display import thread_label

from .models import Approval, Assignment, Claim, Decision, Escalation


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "decided_by", "workflow", "thread_link"]
    list_filter = ["kind", "by", "created_at", "workflow"]
    search_fields = ["user__username", "thread_key", "interrupt_key"]
    list_select_related = ["user", "interrupt__thread"]
    date_hierarchy = "created_at"
    fields = [
        "created_at", "kind", "by", "user", "workflow", "interrupt", "interrupt_key",
        "thread_link", "question", "run", "value_display",
    ]
    readonly_fields = fields

    @admin.display(description="Decided by")
    def decided_by(self, obj: Decision) -> str:
        return obj.decided_by

    @admin.display(description="Thread")
    def thread_link(self, obj: Decision) -> str:
        if obj.interrupt is None:  # the thread was deleted; the decision kept its id
            return format_html("{} <em>(deleted)</em>", obj.thread_key)
        thread = obj.interrupt.thread
        url = reverse("workflows:thread", args=[thread.pk])
        return format_html('<a href="{}">{} #{}</a>', url, thread_label(thread), thread.pk)

    @admin.display(description="Resume value")
    def value_display(self, obj: Decision) -> str:
        return pretty_json(obj.value)

    def view_on_site(self, obj: Decision) -> str | None:
        if obj.interrupt_id is None:
            return None
        return reverse("reviews:interrupt", args=[obj.interrupt_id])


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    """Who is reviewing what. Deleting a claim releases it (e.g. for someone who went home)."""

    list_display = ["interrupt", "user", "claimed_at", "expires_at", "active"]
    list_select_related = ["user", "interrupt"]
    fields = ["interrupt", "user", "claimed_at", "expires_at"]
    readonly_fields = fields

    @admin.display(boolean=True, description="Active")
    def active(self, obj: Claim) -> bool:
        return obj.is_active()

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("reviews.delete_claim")


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    """Interrupts escalated to a group by their deadline (``Escalate(group=...)``)."""

    list_display = ["interrupt", "group", "created_at"]
    list_select_related = ["interrupt"]
    fields = ["interrupt", "group", "created_at"]
    readonly_fields = fields


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    """Who items are (and were) assigned to; reassign from the item's page (audited there)."""

    list_display = ["interrupt", "assignee", "assigned_by", "reason", "created_at", "removed_at"]
    list_filter = ["created_at", "removed_at", "group"]
    search_fields = ["user__username", "group__name", "reason"]
    list_select_related = ["interrupt", "user", "group", "assigned_by"]
    fields = ["interrupt", "user", "group", "assigned_by", "reason", "created_at", "removed_at",
              "removed_by"]
    readonly_fields = fields

    @admin.display(description="Assigned to")
    def assignee(self, obj: Assignment) -> str:
        return obj.assignee_label

    def view_on_site(self, obj: Assignment) -> str:
        return reverse("reviews:interrupt", args=[obj.interrupt_id])


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    """Each reviewer's approval of items that need several (``approvals=N``)."""

    list_display = ["created_at", "user", "interrupt"]
    list_select_related = ["user", "interrupt"]
    search_fields = ["user__username", "interrupt__interrupt_id"]
    date_hierarchy = "created_at"
    fields = ["created_at", "user", "interrupt", "value"]
    readonly_fields = fields

    def view_on_site(self, obj: Approval) -> str:
        return reverse("reviews:interrupt", args=[obj.interrupt_id])
