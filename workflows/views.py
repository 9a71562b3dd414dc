"""Pages of the workflows app: registered workflows with start forms, the live thread page, and
the thread's checkpoint history (staff)."""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from . import live, registry, selectors, services, time_travel, truncation, validation
from .checkpointer import DjangoSaver
from .diffs import MISSING as _MISSING
from .diffs import value_changes
from .forms import ForkForm
from .models import Checkpoint, Interrupt, PendingWrite, Thread, TimeTravel
from .row_urls import pk_url
from .templatetags.workflow_display import thread_label
from .times import shown_time

RECENT_THREADS = 25


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def workflow_title(name: str) -> str:
    try:
        return registry.get(name).title
    except registry.UnknownWorkflow:
        return name or "Workflow"


def _value_url(thread: Thread, key: str) -> str:
    return truncation.value_url(thread.pk, key)


def thread_page_context(thread: Thread, *, limit: int | None = None) -> dict[str, Any]:
    """What the thread page and its live updates render, read from the database. Each value is
    at most ``limit`` bytes (default ``FLOWSITE_MAX_PUSH_BYTES``), shortened by
    ``workflows.truncation.shrink`` with a link to its whole (:func:`thread_value`)."""
    events = selectors.thread_events(thread)
    # the timeline holds every interrupt of the thread: its pending ones need no query of their own
    pending = sorted(
        (e["interrupt"] for e in events
         if e["kind"] == "interrupt" and e["interrupt"].status == Interrupt.Status.PENDING),
        key=lambda intr: (intr.created_at, intr.pk),
    )
    limit = limit or truncation.max_push_bytes()
    for event in events:
        url = _value_url(thread, event["id"])
        event["value"] = truncation.shrink(event["value"], limit, url=url)
        intr = event.get("interrupt")
        if intr is not None and truncation.json_size(intr.value) > limit:
            intr = event["interrupt"] = copy.copy(intr)  # a display copy: agent requests read it
            intr.value = truncation.shrink(
                intr.value, limit, url=_value_url(thread, f"interrupt-{intr.interrupt_id}")
            )
    live_blocks = live.live_blocks(thread.pk) if thread.status == Thread.Status.RUNNING else []
    return {
        "thread": thread,
        "workflow_title": workflow_title(thread.workflow),
        "events": events,
        "input": truncation.shrink(thread.input, limit, url=_value_url(thread, "input")),
        "result": truncation.shrink(thread.result, limit, url=_value_url(thread, "result")),
        "pending": pending,
        # the text model calls are writing now (kept in the "live" cache while it streams)
        "live_blocks": live.shown_blocks(live_blocks, limit),
    }


def pending_of(thread: Thread) -> list[Interrupt]:
    """The thread's pending interrupts, oldest first (one query)."""
    return list(Interrupt.objects.pending().filter(thread=thread).order_by("created_at", "id"))


def running_state_context(thread: Thread) -> dict[str, Any]:
    """What the thread page's ``running-state`` partial renders for a running thread: its status
    and pending interrupts (the timeline and the outcome are as they were: a running thread's
    entries arrive as chunks, its outcome when it stops)."""
    return {"thread": thread, "pending": pending_of(thread)}


def viewable_thread(user: Any, pk: int, queryset: Any = None) -> Thread:
    """The thread ``pk`` if ``user`` may see it (its workflow's ``view_permission``); raises
    ``Http404`` when there is none, ``PermissionDenied`` (the 403 page) when it is hidden."""
    thread = get_object_or_404(queryset if queryset is not None else Thread.objects, pk=pk)
    if not registry.can_view(user, thread.workflow):
        raise PermissionDenied("You are not allowed to see this workflow's threads.")
    return thread


def _list_context(user: Any, bound: tuple[str, Any] | None = None) -> dict[str, Any]:
    entries = []
    for workflow in registry.all_workflows():
        if bound and bound[0] == workflow.name:
            form = bound[1]
        elif workflow.input_form is not None:
            form = workflow.input_form(prefix=workflow.name)
        else:
            form = None
        entries.append({"workflow": workflow, "form": form, "can_start": workflow.can_start(user)})
    # the newest threads by the created_at index, each one's pending count a subquery run
    # for those rows only (a join and GROUP BY would read every thread)
    pending = (
        Interrupt.objects.pending().filter(thread=OuterRef("pk")).order_by()
        .values("thread").annotate(n=Count("pk")).values("n")
    )
    threads = (
        Thread.objects.select_related("created_by")
        .annotate(pending_count=Coalesce(Subquery(pending), 0))
        .exclude(workflow__in=registry.hidden_from(user))
        .order_by("-created_at")[:RECENT_THREADS]
    )
    titles = {entry["workflow"].name: entry["workflow"].title for entry in entries}
    thread_url = pk_url("workflows:thread")
    threads = list(threads)
    for thread in threads:  # what each row shows, computed once (not per row by filters)
        thread.workflow_title = titles.get(thread.workflow, thread.workflow)
        thread.url = thread_url(thread.pk)
        thread.label = thread_label(thread)
        thread.created = shown_time(thread.created_at)
    return {"entries": entries, "threads": threads}


@require_GET
@login_required
def workflow_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "workflows/list.html", _list_context(request.user))


@require_POST
@login_required
def workflow_start(request: HtmxHttpRequest, name: str) -> HttpResponse:
    try:
        workflow = registry.get(name)
    except registry.UnknownWorkflow as exc:
        raise Http404(str(exc)) from None
    if not workflow.can_start(request.user):
        messages.error(request, f"You are not allowed to start {workflow.title}.")
        return render(request, "workflows/list.html", _list_context(request.user), status=403)
    form = None
    data: dict[str, Any] = {}
    if workflow.input_form is not None:
        form = workflow.input_form(request.POST, prefix=workflow.name)
        if not form.is_valid() or not validation.fields_within(form, validation.max_input_bytes()):
            context = _list_context(request.user, bound=(workflow.name, form))
            return render(request, "workflows/list.html", context, status=400)
        data = form.cleaned_data
    try:
        run = services.start_run(
            workflow=workflow.name, input=workflow.make_input(data), user=request.user
        )
    except (TypeError, ValueError) as exc:
        if form is not None:  # beside the fields (e.g. the input as a whole is too large)
            form.add_error(None, f"{workflow.title} could not start: {exc}")
        else:
            messages.error(request, f"{workflow.title} could not start: {exc}")
        context = _list_context(request.user, bound=(name, form))
        return render(request, "workflows/list.html", context, status=400)
    messages.success(request, f"Started {workflow.title}.")
    return redirect("workflows:thread", pk=run.thread_id)


@require_GET
@login_required
def thread_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    thread = viewable_thread(request.user, pk, Thread.objects.select_related("created_by"))
    return render(request, "workflows/thread.html", thread_page_context(thread))


VALUE_LABELS = {"input": "Input", "result": "Result"}


@require_GET
@login_required
def thread_value(request: HtmxHttpRequest, pk: int, key: str) -> HttpResponse:
    """One stored value of a thread, whole (where a live page shows a value shortened by
    ``workflows.truncation``): an HTML page, or the JSON itself with ``?format=json``. The
    thread page's permission (``view_permission``); 404 for a key the thread has no value for."""
    thread = viewable_thread(request.user, pk, Thread.objects.select_related("created_by"))
    try:
        value = selectors.thread_value(thread, key)
    except LookupError:
        raise Http404("This thread has no such value.") from None
    if request.GET.get("format") == "json":
        return JsonResponse(value, safe=False, json_dumps_params={"ensure_ascii": False})
    context = {
        "thread": thread,
        "workflow_title": workflow_title(thread.workflow),
        "key": key,
        "label": VALUE_LABELS.get(key) or key.split("-", 1)[0].capitalize(),
        "value": value,
        "size": truncation.json_size(value),
    }
    return render(request, "workflows/value.html", context)


@require_POST
@login_required
def thread_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    thread = viewable_thread(request.user, pk)
    try:
        allowed = registry.get(thread.workflow).can_start(request.user)
    except registry.UnknownWorkflow:
        allowed = request.user.is_superuser
    if not allowed:  # a retry re-runs the workflow's side effects: as starting it
        raise PermissionDenied("You may not run this workflow.")
    try:
        services.retry_run(thread=thread, user=request.user)
    except services.ThreadNotRetryable:
        messages.warning(request, "This thread has no failed run to retry.")
        url = reverse("workflows:thread", args=[thread.pk])
        return HttpResponse(status=409, headers={"HX-Redirect": url}) if request.htmx else redirect(url)
    else:
        messages.success(
            request, "Retrying: finished tasks are replayed, the failed one runs again."
        )
    url = reverse("workflows:thread", args=[thread.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


# -- checkpoint history (staff) ---------------------------------------------------------------
HISTORY_PER_PAGE = 20
MAX_CHANGES = 30
CHANNEL_LABELS = {
    "__start__": "Input", "__end__": "Returned", "__previous__": "Saved as previous",
    "__pregel_tasks": "Scheduled tasks",  # a LangGraph graph's Send packets
}
DIFF_CHANNELS = ("__end__", "__previous__")


def _new_task(task_id: str) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "name": "",
        "is_entry": False,
        "results": [],
        "errors": [],
        "resumes": [],
        "interrupts": [],
        "returned": [],
        "other": [],
    }


def _file_write(
    write: PendingWrite, value: Any, tasks: dict[str, dict[str, Any]], scheduled: Any = None
) -> None:
    """File one pending write under its task: a result, an error, resume values, a LangGraph
    node's channel writes... (``scheduled``: its checkpoint's ``Send`` packets, naming them)."""
    task = tasks.setdefault(write.task_id, _new_task(write.task_id))
    if write.task_path and not task["name"]:
        task["name"] = selectors.task_name(write.task_path, scheduled)
        task["is_entry"] = write.task_path.startswith("~__pregel_pull")
    channel = write.channel
    if channel == "__call__" and isinstance(value, dict) and not task["name"]:
        task["name"] = str(value.get("name", ""))
    elif channel == "__return__":
        task["results"].append(value)
    elif channel == "__error__":
        task["errors"].append(value)
    elif channel == "__resume__":
        task["resumes"].extend(value if isinstance(value, list) else [value])
    elif channel in DIFF_CHANNELS:
        task["returned"].append((CHANNEL_LABELS[channel], value))
    elif channel not in ("__call__", "__interrupt__", "__scheduled__", "__no_writes__") and not (
        write.serde_type and channel.startswith("branch:")  # LangGraph's routing
    ):
        task["other"].append((channel, value))


def checkpoint_history(thread: Thread, page_number: Any = None) -> dict[str, Any]:
    """One page of ``thread``'s checkpoints, newest first, read from the database: each with its
    values, what changed since its parent checkpoint, and its pending writes by task (results,
    errors, resume values and the interrupts raised, with their answers)."""
    serde = DjangoSaver().serde
    checkpoints = Checkpoint.objects.filter(thread=thread).order_by("-checkpoint_id")
    page = Paginator(checkpoints, HISTORY_PER_PAGE).get_page(page_number)
    rows = list(page.object_list)
    ids = {row.checkpoint_id for row in rows}
    parents = {row.parent_checkpoint_id for row in rows if row.parent_checkpoint_id} - ids
    all_rows = rows + list(checkpoints.filter(checkpoint_id__in=parents))
    values = {  # as JSON-able values: what the page shows and the diff compares
        row.checkpoint_id: serde.to_display(serde.loads(row.data)["channel_values"])
        for row in all_rows
    }

    tasks_of: dict[str, dict[str, dict[str, Any]]] = {cid: {} for cid in ids}
    writes = PendingWrite.objects.filter(thread=thread, checkpoint_id__in=ids).order_by("id")
    for write in writes:
        value = serde.to_display(serde.loads(write.value))
        scheduled = selectors.scheduled_sends(values[write.checkpoint_id])
        _file_write(write, value, tasks_of[write.checkpoint_id], scheduled)
    interrupts = Interrupt.objects.filter(thread=thread, checkpoint_id__in=ids)
    for intr in selectors.with_answerers(interrupts.order_by("created_at", "id")):
        intr.answered_by = selectors.answered_by(intr) if intr.status == "resolved" else ""
        tasks = tasks_of[intr.checkpoint_id]
        tasks.setdefault(intr.task_id, _new_task(intr.task_id))["interrupts"].append(intr)

    entries = []
    for row in rows:
        mine = values[row.checkpoint_id]
        parent = values.get(row.parent_checkpoint_id) if row.parent_checkpoint_id else None
        changes = []
        # a LangGraph graph's state is all its channels; a Flowsite entrypoint's, what it returned
        channels = DIFF_CHANNELS if not row.serde_type else [
            c for c in {**(parent or {}), **mine} if not c.startswith("__")
        ]
        for channel in channels:
            before = parent.get(channel, _MISSING) if parent is not None else _MISSING
            for change in value_changes(before, mine.get(channel, _MISSING)):
                label = CHANNEL_LABELS.get(channel, channel)
                change["where"] = f"{label} › {change['path']}" if change["path"] else label
                changes.append(change)
        forkable, state = time_travel.editable_state(row, mine)  # decoded once, above
        entries.append(
            {
                "forkable": forkable,
                "fork_form": ForkForm(
                    initial={"checkpoint_id": row.checkpoint_id, "values": state},
                    auto_id=f"fork-{row.pk}-%s",
                ) if forkable else None,
                "checkpoint": row,
                "short_id": row.checkpoint_id.rsplit("-", 1)[-1][-8:],
                "values": [(CHANNEL_LABELS.get(name, name), value) for name, value in mine.items()],
                "has_parent": parent is not None,
                "changes": changes[:MAX_CHANGES],
                "more_changes": max(0, len(changes) - MAX_CHANGES),
                "tasks": list(tasks_of[row.checkpoint_id].values()),
            }
        )
    return {"page_obj": page, "entries": entries}


def _history_thread(request: HtmxHttpRequest, pk: int) -> Thread:
    if not request.user.is_staff:
        raise PermissionDenied("The checkpoint history is for staff.")
    return viewable_thread(request.user, pk, Thread.objects.select_related("created_by"))


def _render_history(
    request: HtmxHttpRequest, thread: Thread, *, page: Any = None, bound: ForkForm | None = None,
    error: str = "", status: int = 200,
) -> HttpResponse:
    """The history page; ``bound``: a refused fork form, shown again (with its errors) on the
    entry of its checkpoint."""
    history = checkpoint_history(thread, page)
    if bound is not None:
        wanted = bound.data.get("checkpoint_id")
        for entry in history["entries"]:
            if entry["checkpoint"].checkpoint_id == wanted and entry["forkable"]:
                bound.auto_id = entry["fork_form"].auto_id
                entry["fork_form"], entry["fork_open"] = bound, True
    travels = TimeTravel.objects.filter(thread=thread).select_related("requested_by", "run")
    context = {
        "thread": thread,
        "workflow_title": workflow_title(thread.workflow),
        "page_prefix": f"{reverse('workflows:history', args=[thread.pk])}?page=",
        "time_travels": travels[:20],
        "error": error,
        **history,
    }
    return render(request, "workflows/history.html", context, status=status)


@require_GET
@login_required
def thread_history(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Staff only: the thread's checkpoints, newest first, with their pending writes, and
    time travel from each (replay, fork with edited state)."""
    thread = _history_thread(request, pk)
    return _render_history(request, thread, page=request.GET.get("page"))


def _traveled(request: HtmxHttpRequest, thread: Thread, message: str) -> HttpResponse:
    """After a replay or fork: the thread page, which streams the new run."""
    messages.success(request, message)
    url = reverse("workflows:thread", args=[thread.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_POST
@login_required
def thread_replay(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Staff only: replay the thread from the posted ``checkpoint_id``."""
    thread = _history_thread(request, pk)
    checkpoint_id = request.POST.get("checkpoint_id", "")
    try:
        time_travel.replay_run(thread=thread, checkpoint_id=checkpoint_id, user=request.user)
    except time_travel.CannotTimeTravel as exc:
        return _render_history(request, thread, error=f"Not replayed: {exc}.", status=409)
    return _traveled(request, thread, "Replaying from the checkpoint: the new run is below.")


@require_POST
@login_required
def thread_fork(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Staff only: fork the thread from the posted ``checkpoint_id`` with the posted state
    (``ForkForm``); invalid JSON or a state ``update_state`` refuses is a form error (400)."""
    thread = _history_thread(request, pk)
    form = ForkForm(request.POST)
    if not form.is_valid():
        return _render_history(
            request, thread, bound=form, error="Not forked: correct the edited state.", status=400
        )
    try:
        time_travel.fork_run(
            thread=thread, checkpoint_id=form.cleaned_data["checkpoint_id"],
            values=form.cleaned_data["values"], user=request.user,
        )
    except time_travel.InvalidState as exc:
        form.add_error("values", str(exc))
        return _render_history(
            request, thread, bound=form, error="Not forked: correct the edited state.", status=400
        )
    except time_travel.CannotTimeTravel as exc:
        return _render_history(request, thread, error=f"Not forked: {exc}.", status=409)
    return _traveled(request, thread, "Forked with the edited state: the new run is below.")
