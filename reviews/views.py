"""The reviewer's pages: the inbox (filtered, paginated), the archive of one's answers, an
interrupt's detail with its claim bar and answer form, and the audit log (staff)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.paginator import Page
from django.db.models import Count, Exists, OuterRef
from django.http import HttpResponse, HttpResponseBadRequest, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url, reswap, retarget

from workflows import registry
from workflows import services as workflow_services
from workflows.agent_requests import InvalidDecision, classify
from workflows.models import Interrupt
from workflows.pagination import CappedIdPaginator, CappedPaginator, capped_counts
from workflows.templatetags.workflow_display import thread_label
from workflows.row_urls import pk_url
from workflows.times import shown_time
from workflows.value_html import value_html
from workflows.views import HtmxHttpRequest, workflow_title

from . import bulk, export, notifications, presence, selectors, services
from .templatetags.reviews_tags import previewed
from .forms import (
    AuditFilterForm,
    CommentForm,
    InboxFilterForm,
    ReassignForm,
    ReviewFilterForm,
    answer_form_class,
    audit_of,
    build_answer_form,
    buttons_of,
    decision_kind_of,
    resume_value_of,
)
from .models import Approval, Assignment, Claim, Comment, Decision
from .permissions import ANSWER_PERMISSION, can_answer, missing_answer_permissions

PAGE = "reviews/interrupt.html"
PER_PAGE = 20
NOT_SENT = "Your answer was not sent."
NOT_ALLOWED = f"You are not allowed to answer this interrupt. {NOT_SENT}"
# An answer form posting ``then=next`` (the keyboard's answers) opens the next waiting item.
THEN_NEXT = "next"


def inbox_context(user: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """What the inbox list shows ``user`` for the filters in ``params`` (``q``, ``workflow``,
    ``claim``, ``sort``, ``page``): one page of pending interrupts, each with its workflow's
    title, whether ``user`` may answer it and who holds an unexpired claim on it; and, unfiltered,
    ``waiting_count`` (the paginator's capped count: the tab and the nav's badge read it rather
    than counting again).

    One query reads the first ids in the list's order (``CappedIdPaginator``: its count and the
    page's ids; an index-only walk of the pending index), or with a narrowing filter a capped
    count and the page's ids; then one query reads the page's 20 rows by primary key with their
    threads, escalations and claims (one-to-one: joined) and whether each is assigned; the
    assignees are read only when some are."""
    form = InboxFilterForm(params, viewer=user)
    filters = form.filters()
    queryset = selectors.inbox_interrupts(user=user, **filters)
    # A filter on the thread, a claim or an assignment keeps few rows of the pending index's
    # order: its capped count is cheaper by its own plan (from the filter's side) than by
    # walking that order to the cap, so it counts apart; the whole list or a search reads the
    # ids once.
    narrowed = filters["workflow"] or filters["claim"] or filters["assigned"]
    paginator = (CappedPaginator if narrowed else CappedIdPaginator)(
        queryset.values_list("pk", flat=True), PER_PAGE
    )
    page = paginator.get_page(params.get("page"))
    ids = list(page.object_list)
    rows = (
        Interrupt.objects.select_related("thread", "escalation", "claim__user")
        .defer("resume_value", "thread__result", "thread__error")  # not on a pending card
        .annotate(assigned=Exists(Assignment.objects.current().filter(interrupt=OuterRef("pk"))))
        .in_bulk(ids)
    )
    interrupts = [rows[pk] for pk in ids if pk in rows]
    now = timezone.now()
    assigned = [interrupt.pk for interrupt in interrupts if interrupt.assigned]
    assignees_of = _assignees_of(assigned) if assigned else {}
    per_workflow = {  # (approvals needed, title, may answer) of each workflow on the page
        name: (services.review_policy(name)[0], workflow_title(name), can_answer(user, name))
        for name in {interrupt.thread.workflow for interrupt in interrupts}
    }
    approved = {}
    if any(needed > 1 for needed, _title, _may in per_workflow.values()):
        approved = dict(
            Approval.objects.filter(interrupt__in=ids).values_list("interrupt_id").annotate(n=Count("id"))
        )
    item_url, thread_url = pk_url("reviews:interrupt"), pk_url("workflows:thread")
    for interrupt in interrupts:
        name = interrupt.thread.workflow
        _with_deadline(interrupt, now)
        interrupt.assignees = assignees_of.get(interrupt.pk, [])
        needed, interrupt.workflow_title, interrupt.can_answer = per_workflow[name]
        interrupt.approvals_needed = needed
        interrupt.approvals_given = approved.get(interrupt.pk, 0)
        claim = interrupt.active_claim = _active_claim(interrupt, now)
        interrupt.claimed_by_me = claim is not None and claim.user_id == user.pk
        _card_display(interrupt, item_url, thread_url)
    context = {
        **_list_urls(reverse("reviews:inbox"), form, page),
        "filter_form": form,
        "filtered": form.is_filtered(),
        "newest_first": filters["sort"] == selectors.NEWEST,
        "order_label": ORDER_LABELS.get(filters["sort"], ORDER_LABELS[""]),
        "assigned": filters["assigned"],
        "user": user,
        "page_obj": page,
        "interrupts": interrupts,
        "can_review": user.has_perm(ANSWER_PERMISSION),
    }
    if not form.is_filtered() and not filters["assigned"]:  # the whole list: the tab's count
        context["waiting_count"] = paginator.capped_total
    return context


def _active_claim(interrupt: Interrupt, now: Any) -> Claim | None:
    """``interrupt``'s claim (read with it: ``select_related("claim__user")``) if its lease
    lasts at ``now`` (as ``Claim.objects.active``), else ``None``."""
    try:
        claim = interrupt.claim
    except ObjectDoesNotExist:
        return None
    return claim if claim.expires_at > now else None


def _card_display(interrupt: Interrupt, item_url: Any, thread_url: Any) -> None:
    """Set what an inbox card shows, computed here rather than by filters and tags per card:
    ``item_url``, ``thread_url``, ``label`` (``thread_label``), ``created`` (``shown_time``), and the payload:
    ``agent_request`` (``classify``; the card lists its calls) or else ``payload_html`` (its
    preview, ``previewed``, as ``value_html``)."""
    interrupt.item_url = item_url(interrupt.pk)
    interrupt.thread_url = thread_url(interrupt.thread_id)
    interrupt.label = thread_label(interrupt.thread)
    interrupt.created = shown_time(interrupt.created_at)
    shown = previewed(interrupt)
    interrupt.agent_request = classify(shown.value, shown.response_schema)
    interrupt.payload_html = "" if interrupt.agent_request else value_html(shown.value)


ORDER_LABELS = {"": "oldest first", selectors.NEWEST: "newest first", selectors.DUE: "due first"}


def _with_deadline(interrupt: Interrupt, now: Any) -> Interrupt:
    """Set what ``reviews/includes/due.html`` shows: ``is_overdue`` and ``escalation_or_none``
    (the interrupt's ``Escalation``, if its deadline escalated it)."""
    interrupt.is_overdue = interrupt.deadline_at is not None and interrupt.deadline_at <= now
    try:
        interrupt.escalation_or_none = interrupt.escalation
    except ObjectDoesNotExist:
        interrupt.escalation_or_none = None
    return interrupt


def _list_urls(list_url: str, form: ReviewFilterForm, page: Page) -> dict[str, str]:
    """URLs of a filtered, paginated list: ``list_url``, the current page's (``page_url``),
    the page links' prefix (``page_prefix`` + number), and the query of the inbox's socket."""
    query = form.querystring()
    params = [query] if query else []
    current = [*params, f"page={page.number}"] if page.number > 1 else params
    return {
        "list_url": list_url,
        "page_url": f"{list_url}?{'&'.join(current)}" if current else list_url,
        "page_prefix": f"{list_url}?{'&'.join([*params, 'page='])}",
        "socket_query": "&".join(["list=1", *current]),
    }


def _list_response(
    request: HtmxHttpRequest, template: str, partial: str, context: dict[str, Any]
) -> HttpResponse:
    """The whole page, or for htmx (filters, page links) only the list. A filter value that
    does not validate is reported on the page, and the response is a 400."""
    status = 400 if context["filter_form"].errors else 200
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, f"{template}#{partial}", context, status=status)
        return push_url(response, context["page_url"])  # the clean URL, not the raw form's
    return render(request, template, context, status=status)


@require_GET
@login_required
def inbox(request: HtmxHttpRequest) -> HttpResponse:
    context = inbox_context(request.user, request.GET)
    context.update(_tab_counts(request.user, context))
    context["bulk_outcomes"] = request.session.pop(BULK_OUTCOMES, None)
    return _list_response(request, "reviews/inbox.html", "inbox-list", context)


BULK_OUTCOMES = "reviews.bulk_outcomes"  # session key: a bulk answer's report, shown once


@require_POST
@login_required
def bulk_answer(request: HtmxHttpRequest) -> HttpResponse:
    """One decision for the inbox's selected items (``interrupt``: their ids; ``decision``:
    approve or reject), each answered on its own (``reviews.bulk``); then back to the inbox
    (``next``: its URL with the filters), which reports each item's outcome. A selection of
    several workflows, none, or a bad decision is a 400 on the inbox page, nothing answered."""
    ids = request.POST.getlist("interrupt")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("reviews:inbox")
    try:
        if not all(pk.isdigit() for pk in ids):
            raise ValueError("The selection is not a list of items.")
        outcomes = bulk.answer_in_bulk(
            interrupt_ids=[int(pk) for pk in ids],
            user=request.user,
            decision=request.POST.get("decision", ""),
            label=_bulk_label,
        )
    except ValueError as exc:  # MixedWorkflows too
        params = QueryDict(urlsplit(back).query)  # the inbox as it was, its filters kept
        context = inbox_context(request.user, params)
        context.update(_tab_counts(request.user, context))
        context["bulk_error"] = str(exc)
        for interrupt in context["interrupts"]:  # the selection stays ticked
            interrupt.selected = str(interrupt.pk) in ids
        return render(request, "reviews/inbox.html", context, status=400)
    request.session[BULK_OUTCOMES] = {
        "decision": request.POST["decision"],
        "answered": sum(outcome.ok for outcome in outcomes),
        "failed": sum(not outcome.ok for outcome in outcomes),
        "items": [outcome.as_dict() for outcome in outcomes],
    }
    return redirect(back)


def _bulk_label(interrupt: Interrupt) -> str:
    return f"{workflow_title(interrupt.thread.workflow)}: {thread_label(interrupt.thread)}"


@require_GET
@login_required
def archive(request: HtmxHttpRequest) -> HttpResponse:
    """The interrupts the user answered, newest first, with their decisions."""
    form = ReviewFilterForm(request.GET, viewer=request.user)
    queryset = selectors.answered_by(user=request.user, **form.filters())
    context = _decision_page(request, reverse("reviews:archive"), form, queryset)
    known = {}
    if not form.is_filtered():  # all of mine: the tab's count
        known["answered_count"] = context["page_obj"].paginator.capped_total
    context.update(_tab_counts(request.user, known))
    return _list_response(request, "reviews/archive.html", "archive-list", context)


@require_GET
@login_required
def audit(request: HtmxHttpRequest) -> HttpResponse:
    """Staff only: every decision, newest first: who answered what, when, on which thread."""
    if not request.user.is_staff:
        raise PermissionDenied("The audit log is for staff.")
    form = AuditFilterForm(request.GET)
    queryset = selectors.audit_log(**form.filters())
    context = _decision_page(request, reverse("reviews:audit"), form, queryset)
    return _list_response(request, "reviews/audit.html", "audit-list", context)


@require_GET
@login_required
def audit_export(request: HtmxHttpRequest) -> HttpResponse:
    """Staff only: the audit log for the same filters as the page, as a streamed CSV file. A
    filter that does not validate is a 400 (rather than an export of more than was asked)."""
    if not request.user.is_staff:
        raise PermissionDenied("The audit log is for staff.")
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        return HttpResponseBadRequest(f"Invalid filter: {errors}", content_type="text/plain")
    lines = export.csv_lines(selectors.audit_log(**form.filters()))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return StreamingHttpResponse(
        lines,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )


def _decision_page(request: HtmxHttpRequest, url: str, form: Any, queryset: Any) -> dict[str, Any]:
    """Context of a filtered, paginated list of decisions (the archive and the audit log)."""
    page = CappedPaginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
    decisions = list(page.object_list)
    item_url, thread_url = pk_url("reviews:interrupt"), pk_url("workflows:thread")
    for decision in decisions:  # what each row shows, computed once (not per row by filters)
        decision.workflow_title = workflow_title(decision.workflow)
        decision.created = shown_time(decision.created_at)
        interrupt = decision.interrupt
        if interrupt is not None:  # kept when its thread is deleted, without it
            decision.item_url = item_url(interrupt.pk)
            decision.thread_url = thread_url(interrupt.thread_id)
            decision.label = thread_label(interrupt.thread)
    return {
        **_list_urls(url, form, page),
        "filter_form": form,
        "filtered": form.is_filtered(),
        "page_obj": page,
        "decisions": decisions,
    }


def _tab_counts(user: Any, known: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The tabs' badges, capped (``workflows.pagination``: "1,000+"), all in one query
    (``capped_counts``); a count in ``known`` (``waiting_count`` from ``inbox_context``,
    ``answered_count`` from the archive's paginator) is not counted again."""
    known = dict(known or {})
    wanted = {
        "waiting_count": selectors.visible_pending(user),
        **selectors.assigned_count_querysets(user),
        "answered_count": Decision.objects.filter(user=user),
    }
    counts = capped_counts({name: rows for name, rows in wanted.items() if name not in known})
    return {name: known[name] if name in known else counts[name] for name in wanted}


def _assignees_of(interrupts: list[Interrupt] | list[int]) -> dict[int, list[Assignment]]:
    """The current assignments of each of ``interrupts`` (rows or pks; one query), by
    interrupt pk."""
    found: dict[int, list[Assignment]] = {}
    rows = Assignment.objects.current().filter(interrupt__in=interrupts)
    for row in rows.select_related("user", "group"):
        found.setdefault(row.interrupt_id, []).append(row)
    return found


def _get_interrupt(pk: int, user: Any) -> Interrupt:
    """The interrupt ``pk``; ``PermissionDenied`` (403) when ``user`` may not see its thread
    (the workflow's ``view_permission``)."""
    interrupt = get_object_or_404(
        Interrupt.objects.select_related("thread", "thread__created_by", "resolved_by", "escalation"),
        pk=pk,
    )
    if not registry.can_view(user, interrupt.thread.workflow):
        raise PermissionDenied("You are not allowed to see this workflow's threads.")
    return interrupt


def _assignment_context(
    interrupt: Interrupt, user: Any, form: ReassignForm | None
) -> dict[str, Any]:
    """The item's assignees, its assignment history (staff) and the reassign form (staff,
    while it is pending)."""
    rows = list(
        Assignment.objects.filter(interrupt=interrupt).select_related(
            "user", "group", "assigned_by", "removed_by"
        )
    )
    staff = user.is_staff
    if staff and form is None and interrupt.status == Interrupt.Status.PENDING:
        names = [
            f"group:{row.group.name}" if row.group_id else row.user.get_username()
            for row in rows
            if row.removed_at is None
        ]
        form = ReassignForm(initial={"assignees": ", ".join(names)})
    return {
        "assignees": [row for row in rows if row.removed_at is None],
        "assignment_history": rows if staff else [],
        "reassign_form": form if staff and interrupt.status == Interrupt.Status.PENDING else None,
    }


def _approval_context(interrupt: Interrupt, user: Any) -> dict[str, Any]:
    """An item needing several approvals: who approved so far, how many are needed, whether
    ``user`` is one of them; and whether ``user`` may not approve it (the run's starter under
    ``self_approval=False``)."""
    needed, _self = services.review_policy(interrupt.thread.workflow)
    approvals = list(interrupt.approvals.select_related("user")) if needed > 1 else []
    return {
        "approvals_needed": needed,
        "approvals": approvals,
        "approved_by_me": any(a.user_id == user.pk for a in approvals),
        "self_approval_barred": services.is_self_approval(interrupt, user),
    }


def _claim_context(interrupt: Interrupt, user: Any) -> dict[str, Any]:
    claim = None
    if interrupt.status == Interrupt.Status.PENDING:
        claim = Claim.objects.active().filter(interrupt=interrupt).select_related("user").first()
    return {
        "claim": claim,
        "claim_is_mine": claim is not None and claim.user_id == user.pk,
        "lease_minutes": int(Claim.LEASE.total_seconds() // 60),
    }


def _render_page(
    request: HtmxHttpRequest,
    interrupt: Interrupt,
    form: Any = None,
    *,
    error: str = "",
    status: int = 200,
    comment_form: CommentForm | None = None,
    comment_error: str = "",
    reassign_form: ReassignForm | None = None,
) -> HttpResponse:
    missing = missing_answer_permissions(request.user, interrupt.thread.workflow)
    claims = _claim_context(interrupt, request.user)
    held_by_other = claims["claim"] is not None and not claims["claim_is_mine"]
    if form is None and interrupt.status == Interrupt.Status.PENDING and not missing:
        form = build_answer_form(answer_form_class(interrupt), interrupt)
    decision = Decision.objects.select_related("user").filter(interrupt=interrupt).first()
    approval = _approval_context(interrupt, request.user)
    form = None if held_by_other or approval["approved_by_me"] else form
    agent_form = form if getattr(form, "agent_request", None) is not None else None
    _with_deadline(interrupt, timezone.now())
    context = {
        **claims,
        "can_answer": not missing,
        "missing_permissions": missing,
        "interrupt": interrupt,
        "thread": interrupt.thread,
        "workflow_title": workflow_title(interrupt.thread.workflow),
        "decision": decision,
        "decision_actions": list(decision.actions.all()) if decision else [],
        "agent_request": classify(interrupt.value, interrupt.response_schema),
        "agent_form": agent_form,
        "form": form,
        "buttons": buttons_of(form) if form is not None else [],
        "error": error,
        **comments_context(interrupt, request.user, comment_form, comment_error),
        **presence_context(interrupt, request.user, claims["claim"]),
        **_assignment_context(interrupt, request.user, reassign_form),
        **approval,
    }
    # An htmx POST swaps just the answer card; everything else gets the whole page.
    partial = request.htmx and request.method == "POST"
    if not partial:  # where the keys j and k go
        context["previous_item"], context["next_item"] = selectors.neighbours(
            user=request.user, interrupt=interrupt
        )
    card = "agent-answer" if agent_form is not None else "answer-card"
    template = f"{PAGE}#{card}" if partial else PAGE
    response = render(request, template, context, status=status)
    if partial:  # claim buttons target the claim bar; a refusal replaces the whole card
        retarget(response, "#answer-card")
        reswap(response, "outerHTML")
    return response


@require_GET
@login_required
def interrupt_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _render_page(request, _get_interrupt(pk, request.user))


@require_POST
@login_required
def interrupt_answer(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    interrupt = _get_interrupt(pk, request.user)
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
        run = services.answer_interrupt(
            interrupt=interrupt,
            user=request.user,
            value=resume_value_of(form),
            decision=decision_kind_of(form),
            **audit_of(form),
        )
    except services.SelfApproval as exc:
        return _render_page(request, interrupt, form, error=f"{exc} {NOT_SENT}", status=403)
    except services.NotAllowed:  # a permission revoked since the check above
        return _render_page(request, interrupt, error=NOT_ALLOWED, status=403)
    except (services.AlreadyApproved, services.PlainApprovalNeeded) as exc:
        return _render_page(request, interrupt, form, error=f"{exc}. {NOT_SENT}", status=409)
    except services.ClaimedByOther as exc:
        return _render_page(request, interrupt, error=f"{exc}. {NOT_SENT}", status=409)
    except workflow_services.InterruptNotPending:
        interrupt = _get_interrupt(pk, request.user)
        return _render_page(request, interrupt, error=_not_pending_message(interrupt), status=409)
    except (workflow_services.InvalidResumeValue, InvalidDecision) as exc:
        return _render_page(request, interrupt, form, error=str(exc), status=400)
    if run is None:  # an approval of several: the item waits for the next approver
        approved, needed = _approval_progress(interrupt)
        messages.success(
            request, f"Your approval is recorded: {approved} of {needed} approvals."
        )
        url = reverse("reviews:interrupt", args=[interrupt.pk])
    elif request.POST.get("then") == THEN_NEXT:
        url = _next_item_url(request, interrupt, decision_kind_of(form))
    else:
        url = reverse("workflows:thread", args=[interrupt.thread_id])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _next_item_url(request: HtmxHttpRequest, answered: Interrupt, kind: str) -> str:
    """After an answer given from the keyboard: the next waiting item the user may answer
    (``selectors.next_waiting``), or the inbox when none is left; a message says what was sent."""
    sent = f"{Decision.Kind(kind).label}: {workflow_title(answered.thread.workflow)}"
    following = selectors.next_waiting(user=request.user, after=answered)
    if following is None:
        messages.success(request, f"{sent}. Nothing else is waiting for you.")
        return reverse("reviews:inbox")
    messages.success(request, f"{sent}. Here is the next one.")
    return reverse("reviews:interrupt", args=[following.pk])


# -- comments and presence -------------------------------------------------------------------------
def comments_context(
    interrupt: Interrupt, user: Any, form: CommentForm | None = None, error: str = ""
) -> dict[str, Any]:
    """The item's comments, oldest first, and whether ``user`` may add one (a reviewer of the
    workflow, while the item waits)."""
    return {
        "interrupt": interrupt,
        "comments": list(Comment.objects.filter(interrupt=interrupt).select_related("author")),
        "can_comment": interrupt.status == Interrupt.Status.PENDING
        and can_answer(user, interrupt.thread.workflow),
        "comment_form": form or CommentForm(),
        "comment_error": error,
    }


_UNREAD = object()


def presence_context(interrupt: Interrupt, user: Any, claim: Any = _UNREAD) -> dict[str, Any]:
    """Who holds a claim on the item and who else has its page open (``reviews.presence``),
    as ``user``'s page shows it; also what the page's socket pushes (``ReviewConsumer``).
    ``claim``: the item's active claim (or ``None``) when the caller read it already."""
    if claim is _UNREAD:
        claim = None
        if interrupt.status == Interrupt.Status.PENDING:
            claim = Claim.objects.active().filter(interrupt=interrupt).select_related("user").first()
    others = [viewer for viewer in presence.viewers(interrupt.pk) if viewer.pk != user.pk]
    return {
        "interrupt": interrupt,
        "presence_claim": claim,
        "presence_claim_is_mine": claim is not None and claim.user_id == user.pk,
        "presence_others": others,
    }


@require_POST
@login_required
def interrupt_comment(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Add a comment (``body``); htmx gets the comments card back, a plain POST the page."""
    interrupt = _get_interrupt(pk, request.user)
    form = CommentForm(request.POST)
    error, status = "", 400
    if form.is_valid():
        try:
            services.add_comment(
                interrupt=interrupt, user=request.user, body=form.cleaned_data["body"]
            )
        except services.NotAllowed:
            error, status = "You are not allowed to review this workflow, so you cannot comment.", 403
        except workflow_services.InterruptNotPending:
            interrupt = _get_interrupt(pk, request.user)
            error, status = "This item is no longer waiting: comments come before the decision.", 409
        except ValueError as exc:
            form.add_error("body", str(exc))
        else:
            form, status = None, 200
    if request.htmx:
        context = comments_context(interrupt, request.user, form, error)
        return render(request, f"{PAGE}#comments", context, status=status)
    if status == 200:
        return redirect(reverse("reviews:interrupt", args=[pk]) + "#comments")
    return _render_page(request, interrupt, comment_form=form, comment_error=error, status=status)


def _approval_progress(interrupt: Interrupt) -> tuple[int, int]:
    """``(approvals given, approvals needed)`` of a pending ``interrupt``."""
    needed, _self = services.review_policy(interrupt.thread.workflow)
    return interrupt.approvals.count(), needed


def _not_pending_message(interrupt: Interrupt) -> str:
    if interrupt.status == Interrupt.Status.CANCELLED:
        return "This interrupt was cancelled: the run no longer waits for it."
    decision = Decision.objects.select_related("user").filter(interrupt=interrupt).first()
    if decision is not None:
        who = decision.decided_by
    else:
        who = interrupt.resolved_by.get_username() if interrupt.resolved_by else "someone else"
    return f"Already answered by {who}. {NOT_SENT}"


# -- claims ----------------------------------------------------------------------------------------
def _claim_changed(request: HtmxHttpRequest, interrupt: Interrupt, message: str) -> HttpResponse:
    """After a claim or release: the claim bar for htmx (the answer form keeps what was typed),
    else back to the page with a message."""
    if request.htmx:
        context = {"interrupt": interrupt, **_claim_context(interrupt, request.user)}
        return render(request, f"{PAGE}#claim-bar", context)
    messages.success(request, message)
    return redirect("reviews:interrupt", pk=interrupt.pk)


@require_POST
@login_required
def interrupt_claim(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    interrupt = _get_interrupt(pk, request.user)
    try:
        claim = services.claim_interrupt(interrupt=interrupt, user=request.user)
    except services.NotAllowed:
        error = "You are not allowed to answer this interrupt, so you cannot claim it."
        return _render_page(request, interrupt, error=error, status=403)
    except services.ClaimedByOther as exc:
        return _render_page(request, interrupt, error=f"{exc}.", status=409)
    except workflow_services.InterruptNotPending:
        interrupt = _get_interrupt(pk, request.user)
        return _render_page(request, interrupt, error=_not_pending_message(interrupt), status=409)
    until = timezone.localtime(claim.expires_at)
    return _claim_changed(request, interrupt, f"You are reviewing this until {until:%H:%M}.")


@require_POST
@login_required
def interrupt_release(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    interrupt = _get_interrupt(pk, request.user)
    try:
        services.release_claim(interrupt=interrupt, user=request.user)
    except services.ClaimNotHeld:
        error = "You had no claim on this interrupt to release."
        return _render_page(request, interrupt, error=error, status=409)
    return _claim_changed(request, interrupt, "Released: others can review it now.")


# -- assignment -----------------------------------------------------------------------------------
@require_POST
@login_required
def interrupt_reassign(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Staff: replace the item's assignees (``services.reassign``); the form's errors (an
    unknown name) come back on the page with a 400, nothing changed."""
    interrupt = _get_interrupt(pk, request.user)
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may reassign reviews.")
    form = ReassignForm(request.POST)
    if form.is_valid():
        users, groups = form.assignees_split()
        try:
            services.reassign(
                interrupt=interrupt, users=users, groups=groups, by=request.user,
                reason=form.cleaned_data["reason"],
            )
        except services.UnknownAssignee as exc:
            form.add_error("assignees", str(exc))
        except workflow_services.InterruptNotPending:
            interrupt = _get_interrupt(pk, request.user)
            return _render_page(
                request, interrupt, error=_not_pending_message(interrupt), status=409
            )
        else:
            names = ", ".join(a.assignee_label for a in services.current_assignees(interrupt))
            messages.success(request, f"Assigned to {names}." if names else "Unassigned.")
            return redirect("reviews:interrupt", pk=interrupt.pk)
    return _render_page(request, interrupt, status=400, reassign_form=form)


# -- links sent by email ---------------------------------------------------------------------------
@require_GET
def review_link(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """An emailed link (``reviews.notifications.review_link``): a valid, unexpired signature
    redirects to the item, whose page requires login as always; else a page saying why (400
    for a link that was altered, 410 for an expired one)."""
    try:
        pk = notifications.interrupt_of_link(token)
    except signing.SignatureExpired:
        context = {"reason": "expired"}
        return render(request, "reviews/link_invalid.html", context, status=410)
    except signing.BadSignature:
        return render(request, "reviews/link_invalid.html", {"reason": "invalid"}, status=400)
    return redirect("reviews:interrupt", pk=pk)
