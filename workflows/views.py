"""Pages of the workflows app: registered workflows with start forms, and the live thread page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from . import registry, selectors, services
from .models import Interrupt, Thread

RECENT_THREADS = 25


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def workflow_title(name: str) -> str:
    try:
        return registry.get(name).title
    except registry.UnknownWorkflow:
        return name or "Workflow"


def thread_page_context(thread: Thread) -> dict[str, Any]:
    """What the thread page and its live updates render, read from the database."""
    return {
        "thread": thread,
        "workflow_title": workflow_title(thread.workflow),
        "events": selectors.thread_events(thread),
        "pending": list(
            Interrupt.objects.pending().filter(thread=thread).order_by("created_at", "id")
        ),
    }


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
    threads = (
        Thread.objects.select_related("created_by")
        .annotate(pending_count=Count("interrupts", filter=Q(interrupts__status="pending")))
        .order_by("-created_at")[:RECENT_THREADS]
    )
    titles = {entry["workflow"].name: entry["workflow"].title for entry in entries}
    for thread in threads:
        thread.workflow_title = titles.get(thread.workflow, thread.workflow)
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
        if not form.is_valid():
            context = _list_context(request.user, bound=(workflow.name, form))
            return render(request, "workflows/list.html", context, status=400)
        data = form.cleaned_data
    try:
        run = services.start_run(
            workflow=workflow.name, input=workflow.make_input(data), user=request.user
        )
    except TypeError as exc:
        messages.error(request, f"{workflow.title} could not start: {exc}")
        context = _list_context(request.user, bound=(name, form))
        return render(request, "workflows/list.html", context, status=400)
    messages.success(request, f"Started {workflow.title}.")
    return redirect("workflows:thread", pk=run.thread_id)


@require_GET
@login_required
def thread_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    thread = get_object_or_404(Thread.objects.select_related("created_by"), pk=pk)
    return render(request, "workflows/thread.html", thread_page_context(thread))


@require_POST
@login_required
def thread_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    thread = get_object_or_404(Thread, pk=pk)
    try:
        services.retry_run(thread=thread, user=request.user)
    except services.ThreadNotRetryable:
        messages.warning(request, "This thread has no failed run to retry.")
    else:
        messages.success(
            request, "Retrying: finished tasks are replayed, the failed one runs again."
        )
    url = reverse("workflows:thread", args=[thread.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
