"""The reviewer's pages: the inbox and an interrupt's detail with its answer form."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from workflows import services as workflow_services
from workflows.models import Interrupt
from workflows.views import HtmxHttpRequest, workflow_title

from . import services
from .forms import (
    answer_form_class,
    build_answer_form,
    buttons_of,
    decision_kind_of,
    resume_value_of,
)
from .models import Decision
from .permissions import can_answer, missing_answer_permissions

PAGE = "reviews/interrupt.html"
NOT_ALLOWED = "You are not allowed to answer this interrupt. Your answer was not sent."


def inbox_context(user: Any) -> dict[str, Any]:
    """The pending interrupts, longest-waiting first, with their workflows' titles and whether
    ``user`` may answer each."""
    interrupts = list(
        Interrupt.objects.pending().select_related("thread").order_by("created_at", "id")
    )
    for interrupt in interrupts:
        interrupt.workflow_title = workflow_title(interrupt.thread.workflow)
        interrupt.can_answer = can_answer(user, interrupt.thread.workflow)
    return {"interrupts": interrupts}


@require_GET
@login_required
def inbox(request: HtmxHttpRequest) -> HttpResponse:
    template = "reviews/inbox.html#inbox-list" if request.htmx else "reviews/inbox.html"
    return render(request, template, inbox_context(request.user))


def _get_interrupt(pk: int) -> Interrupt:
    return get_object_or_404(
        Interrupt.objects.select_related("thread", "thread__created_by", "resolved_by"), pk=pk
    )


def _render_page(
    request: HtmxHttpRequest,
    interrupt: Interrupt,
    form: Any = None,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    missing = missing_answer_permissions(request.user, interrupt.thread.workflow)
    if form is None and interrupt.status == Interrupt.Status.PENDING and not missing:
        form = build_answer_form(answer_form_class(interrupt), interrupt)
    context = {
        "can_answer": not missing,
        "missing_permissions": missing,
        "interrupt": interrupt,
        "thread": interrupt.thread,
        "workflow_title": workflow_title(interrupt.thread.workflow),
        "decision": Decision.objects.select_related("user").filter(interrupt=interrupt).first(),
        "form": form,
        "buttons": buttons_of(form) if form is not None else [],
        "error": error,
    }
    # An htmx POST swaps just the answer card; everything else gets the whole page.
    partial = request.htmx and request.method == "POST"
    template = f"{PAGE}#answer-card" if partial else PAGE
    return render(request, template, context, status=status)


@require_GET
@login_required
def interrupt_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _render_page(request, _get_interrupt(pk))


@require_POST
@login_required
def interrupt_answer(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    interrupt = _get_interrupt(pk)
    if not can_answer(request.user, interrupt.thread.workflow):
        return _render_page(request, interrupt, error=NOT_ALLOWED, status=403)
    if interrupt.status != Interrupt.Status.PENDING:
        return _render_page(request, interrupt, error=_not_pending_message(interrupt), status=409)
    form = build_answer_form(answer_form_class(interrupt), interrupt, request.POST)
    if not form.is_valid():
        return _render_page(
            request, interrupt, form, error="Please correct the answer below.", status=400
        )
    try:
        services.answer_interrupt(
            interrupt=interrupt,
            user=request.user,
            value=resume_value_of(form),
            decision=decision_kind_of(form),
        )
    except services.NotAllowed:  # a permission revoked since the check above
        return _render_page(request, interrupt, error=NOT_ALLOWED, status=403)
    except workflow_services.InterruptNotPending:
        interrupt = _get_interrupt(pk)
        return _render_page(request, interrupt, error=_not_pending_message(interrupt), status=409)
    except workflow_services.InvalidResumeValue as exc:
        return _render_page(request, interrupt, form, error=str(exc), status=400)
    url = reverse("workflows:thread", args=[interrupt.thread_id])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _not_pending_message(interrupt: Interrupt) -> str:
    if interrupt.status == Interrupt.Status.CANCELLED:
        return "This interrupt was cancelled: the run no longer waits for it."
    who = interrupt.resolved_by.get_username() if interrupt.resolved_by else "someone else"
    return f"Already answered by {who}. Your answer was not sent."
