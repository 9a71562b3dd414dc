"""Read-only admin for workflow state: threads, checkpoints, pending writes, interrupts, runs.

Everything here is written by the runtime and the services; the admin is for looking, so no
add/change/delete. Stored values are shown decoded and indented.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import Checkpoint, Interrupt, PendingWrite, Run, Thread


def pretty_json(value: Any) -> str:
    """``value`` (JSON data) as indented JSON in a ``<pre>``, escaped."""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


def pretty_serialized(text: str) -> str:
    """A serialized value (the runtime serializer's JSON text) indented; raw if unparsable."""
    try:
        return pretty_json(json.loads(text))
    except (TypeError, ValueError):
        return format_html("<pre>{}</pre>", text)


def json_display(field: str, description: str):
    """An admin display method showing the JSON ``field`` with :func:`pretty_json`."""

    @admin.display(description=description)
    def show(self, obj: Any) -> str:
        return pretty_json(getattr(obj, field))

    return show


def _short(value: Any, length: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= length else text[: length - 1] + "…"


class ReadOnlyAdmin(admin.ModelAdmin):
    """A view-only model admin: the rows are written by code, never by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class InterruptInline(ReadOnlyInline):
    model = Interrupt
    fields = ["interrupt_id", "status", "created_at", "resolved_by", "resolved_at"]
    readonly_fields = fields


class RunInline(ReadOnlyInline):
    model = Run
    fields = ["id", "kind", "status", "requested_by", "created_at", "finished_at", "error"]
    readonly_fields = fields


@admin.register(Thread)
class ThreadAdmin(ReadOnlyAdmin):
    list_display = ["id", "thread_id", "workflow", "title", "status", "created_by", "created_at"]
    list_filter = ["status", "workflow", "created_at"]
    search_fields = ["thread_id", "title", "workflow", "created_by__username"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    fields = [
        "thread_id",
        "workflow",
        "title",
        "status",
        "created_by",
        "created_at",
        "updated_at",
        "input_display",
        "result_display",
        "error",
    ]
    readonly_fields = fields
    inlines = [InterruptInline, RunInline]

    input_display = json_display("input", "Input")
    result_display = json_display("result", "Result")

    def view_on_site(self, obj: Thread) -> str:
        return reverse("workflows:thread", args=[obj.pk])


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["checkpoint_id", "thread", "step", "source", "checkpoint_ns", "created_at"]
    list_filter = ["source", "created_at"]
    search_fields = ["checkpoint_id", "parent_checkpoint_id", "thread__thread_id"]
    list_select_related = ["thread"]
    fields = [
        "thread",
        "checkpoint_ns",
        "checkpoint_id",
        "parent_checkpoint_id",
        "step",
        "source",
        "serde_type",
        "created_at",
        "metadata_display",
        "data_display",
    ]
    readonly_fields = fields

    metadata_display = json_display("metadata", "Metadata")

    @admin.display(description="Checkpoint")
    def data_display(self, obj: Checkpoint) -> str:
        return pretty_serialized(obj.data)


@admin.register(PendingWrite)
class PendingWriteAdmin(ReadOnlyAdmin):
    list_display = ["id", "thread", "checkpoint_id", "task_id", "idx", "channel", "value_short"]
    list_filter = ["channel", "created_at"]
    search_fields = ["thread__thread_id", "checkpoint_id", "task_id", "channel"]
    list_select_related = ["thread"]
    fields = [
        "thread",
        "checkpoint_ns",
        "checkpoint_id",
        "task_id",
        "task_path",
        "idx",
        "channel",
        "serde_type",
        "created_at",
        "value_display",
    ]
    readonly_fields = fields

    @admin.display(description="Value")
    def value_short(self, obj: PendingWrite) -> str:
        return obj.value if len(obj.value) <= 80 else obj.value[:79] + "…"

    @admin.display(description="Value")
    def value_display(self, obj: PendingWrite) -> str:
        return pretty_serialized(obj.value)


@admin.register(Interrupt)
class InterruptAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "interrupt_id",
        "thread",
        "workflow",
        "status",
        "value_short",
        "created_at",
        "resolved_by",
    ]
    list_filter = ["status", "thread__workflow", "created_at"]
    search_fields = ["interrupt_id", "thread__thread_id", "thread__title"]
    list_select_related = ["thread", "resolved_by"]
    date_hierarchy = "created_at"
    fields = [
        "interrupt_id",
        "thread",
        "checkpoint_id",
        "task_id",
        "status",
        "created_at",
        "value_display",
        "schema_display",
        "resume_value_display",
        "resolved_by",
        "resolved_at",
    ]
    readonly_fields = fields

    @admin.display(description="Workflow", ordering="thread__workflow")
    def workflow(self, obj: Interrupt) -> str:
        return obj.thread.workflow

    @admin.display(description="Value")
    def value_short(self, obj: Interrupt) -> str:
        return _short(obj.value)

    value_display = json_display("value", "Value")
    schema_display = json_display("response_schema", "Response schema")
    resume_value_display = json_display("resume_value", "Resume value")

    def view_on_site(self, obj: Interrupt) -> str:
        return reverse("reviews:interrupt", args=[obj.pk])


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "thread",
        "kind",
        "status",
        "requested_by",
        "worker",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["id", "thread__thread_id", "worker", "requested_by__username"]
    list_select_related = ["thread", "requested_by"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "thread",
        "kind",
        "status",
        "requested_by",
        "worker",
        "lease_expires_at",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "input_display",
    ]
    readonly_fields = fields

    @admin.display(description="Input / command")
    def input_display(self, obj: Run) -> str:
        return pretty_serialized(obj.input)
