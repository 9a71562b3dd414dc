"""Registry of the workflows a Django project offers on the dashboard.

Apps register workflows in a ``workflows.py`` module, autodiscovered from ``INSTALLED_APPS`` as
the admin discovers ``admin.py``::

    from workflows import registry

    registry.register(
        "essay-review", essay_workflow,
        title="Essay review", description="Writes an essay and asks a reviewer to approve it.",
        input_form=TopicForm,                    # a django.forms.Form shown on the start page
        build_input=lambda data: data["topic"],  # cleaned_data -> the entrypoint's input
        resume_form=ApproveRejectForm,           # how reviewers answer its interrupts
        # Optional Django permissions: to answer its interrupts (besides the site-wide
        # reviews.answer_interrupt), to start it, and to see its threads at all. Superusers
        # hold every permission.
        review_permission="essays.review_essay",
        start_permission="essays.start_essay",
        view_permission="essays.view_essay",
        # Optional: answer its interrupts by default (or escalate them) when nobody did in
        # time; the inbox shows the time left (see workflows.deadlines).
        review_deadline=timedelta(hours=4),
        on_deadline=Default(False, decision="reject"),  # or Escalate(group="leads")
        # Optional review policy (the ``reviews`` app applies it): who its items are assigned
        # to when they appear, how many distinct approvals resume the run, and whether the
        # user who started the run may approve it (four eyes).
        assignees=["alice", "group:editors"],    # or a callable(interrupt value) -> that list
        approvals=2,
        self_approval=False,
    )

The workflow may also be a compiled LangGraph graph (``StateGraph(...).compile()``,
``create_agent(...)``, ``langgraph.func.entrypoint``): the executor runs it on
``LangGraphDjangoSaver`` and resumes it with ``langgraph.types.Command`` (``workflows.adapters``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .deadlines import Default, Escalate, check_deadline, deadline_action

__all__ = [
    "Default",
    "Escalate",
    "RegisteredWorkflow",
    "UnknownWorkflow",
    "all_workflows",
    "autodiscover",
    "get",
    "register",
]


class UnknownWorkflow(LookupError):
    """No workflow is registered under that name."""

    def __init__(self, name: str) -> None:
        known = ", ".join(sorted(_registry)) or "none"
        super().__init__(f"Unknown workflow {name!r}; registered: {known}")
        self.name = name


@dataclass(frozen=True)
class RegisteredWorkflow:
    """A workflow as the dashboard offers it.

    ``entrypoint`` is the ``@entrypoint`` object or the compiled LangGraph graph; ``input_form`` a form class whose
    ``cleaned_data`` ``build_input`` turns into the entrypoint's input (default: the dict itself);
    ``resume_form`` is the form class reviewers answer its interrupts with (``None``: a form
    built from the interrupt's ``response_schema``, else a JSON answer; see ``reviews.forms``).

    ``review_permission``, ``start_permission`` and ``view_permission`` are Django permission
    names (``"app_label.codename"``) a user must hold to answer this workflow's interrupts (on
    top of ``reviews.answer_interrupt``), to start it, and to see its threads at all (thread,
    interrupt and history pages, the thread's WebSocket, inbox items); ``None`` adds no
    requirement. Superusers hold every permission.

    ``review_deadline`` is how long an interrupt may wait (``None``: for ever); ``on_deadline``
    what happens then: a ``Default`` answer, an ``Escalate`` to a group, or ``None`` (the
    deadline is only shown). See ``workflows.deadlines``.
    ``assignees`` is who the workflow's interrupts are assigned to when they appear: a list of
    usernames and ``"group:<name>"`` (Django groups), or a callable taking the interrupt's value
    (its JSON payload) and returning such a list; ``None`` assigns nobody. ``approvals`` is how
    many distinct reviewers must approve before the run resumes (1: the first answer decides);
    ``self_approval=False`` forbids the user who started the run to approve it. The ``reviews``
    app applies these (``reviews.services``).
    """

    name: str
    entrypoint: Any
    title: str
    description: str = ""
    input_form: type | None = None
    build_input: Callable[[dict], Any] = field(default=lambda data: data)
    resume_form: type | None = None
    review_permission: str | None = None
    start_permission: str | None = None
    view_permission: str | None = None
    review_deadline: timedelta | None = None
    on_deadline: Default | Escalate | None = None
    assignees: Sequence[str] | Callable[[Any], Sequence[str]] | None = None
    approvals: int = 1
    self_approval: bool = True

    @property
    def is_langgraph(self) -> bool:
        """Whether this workflow is a LangGraph graph (else a Flowsite entrypoint)."""
        from .adapters import is_langgraph_graph

        return is_langgraph_graph(self.entrypoint)

    def make_input(self, cleaned_data: dict) -> Any:
        return self.build_input(cleaned_data)

    def can_start(self, user: Any) -> bool:
        """Whether ``user`` may start this workflow (``start_permission``, if any)."""
        if not getattr(user, "is_authenticated", False):
            return False
        return self.start_permission is None or user.has_perm(self.start_permission)

    def can_view(self, user: Any) -> bool:
        """Whether ``user`` may see this workflow's threads (``view_permission``, if any)."""
        if not getattr(user, "is_authenticated", False):
            return False
        return self.view_permission is None or user.has_perm(self.view_permission)


_registry: dict[str, RegisteredWorkflow] = {}
_PERMISSION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_]+$")


def register(
    name: str,
    entrypoint: Any,
    *,
    title: str,
    description: str = "",
    input_form: type | None = None,
    build_input: Callable[[dict], Any] | None = None,
    resume_form: type | None = None,
    review_permission: str | None = None,
    start_permission: str | None = None,
    view_permission: str | None = None,
    review_deadline: timedelta | None = None,
    on_deadline: Any = None,
    assignees: Sequence[str] | Callable[[Any], Sequence[str]] | None = None,
    approvals: int = 1,
    self_approval: bool = True,
) -> RegisteredWorkflow:
    """Register ``entrypoint`` (a Flowsite ``@entrypoint`` or a compiled LangGraph graph) under
    ``name`` (a slug). Re-registering a name replaces it.

    Raises ``TypeError`` for an ``entrypoint`` that is neither (e.g. a plain function),
    ``ValueError`` for a name that is not a slug, or a permission that is not of the
    form ``"app_label.codename"``, ``assignees`` that is neither a list of strings nor callable,
    or ``approvals`` that is not a positive int. Whether the permission exists is not checked (the database
    may not be ready yet): one that does not exist lets only superusers through.
    ``review_deadline``: ``TypeError`` if not a ``timedelta``, ``ValueError`` if not positive or
    when ``on_deadline`` is given without it (``workflows.deadlines.check_deadline``).
    """
    from django.utils.text import slugify

    from .adapters import check_workflow

    check_workflow(entrypoint)
    if slugify(name) != name:
        raise ValueError(f"Workflow names must be slugs, got {name!r}")
    for argument, value in (("review_permission", review_permission),
                            ("start_permission", start_permission),
                            ("view_permission", view_permission)):
        if value is not None and not (isinstance(value, str) and _PERMISSION.match(value)):
            raise ValueError(
                f'{argument} must be a permission name like "app_label.codename", got {value!r}'
            )
    check_deadline(review_deadline, on_deadline)
    _check_review_policy(assignees, approvals, self_approval)
    item = RegisteredWorkflow(
        name=name,
        entrypoint=entrypoint,
        title=title,
        description=description,
        input_form=input_form,
        build_input=build_input or (lambda data: data),
        resume_form=resume_form,
        review_permission=review_permission,
        start_permission=start_permission,
        view_permission=view_permission,
        review_deadline=review_deadline,
        on_deadline=deadline_action(on_deadline),
        assignees=assignees if callable(assignees) or assignees is None else tuple(assignees),
        approvals=approvals,
        self_approval=self_approval,
    )
    _registry[name] = item
    return item


def _check_review_policy(assignees: Any, approvals: Any, self_approval: Any) -> None:
    if not (assignees is None or callable(assignees)):
        if isinstance(assignees, str) or not all(isinstance(a, str) and a for a in assignees):
            raise ValueError(
                'assignees must be a list of usernames and "group:<name>", or a callable, '
                f"got {assignees!r}"
            )
    if isinstance(approvals, bool) or not isinstance(approvals, int) or approvals < 1:
        raise ValueError(f"approvals must be a positive int, got {approvals!r}")
    if not isinstance(self_approval, bool):
        raise ValueError(f"self_approval must be True or False, got {self_approval!r}")


def get(name: str) -> RegisteredWorkflow:
    """The workflow registered as ``name``. Raises :class:`UnknownWorkflow`."""
    try:
        return _registry[name]
    except KeyError:
        raise UnknownWorkflow(name) from None


def all_workflows() -> list[RegisteredWorkflow]:
    return sorted(_registry.values(), key=lambda w: w.title)


def can_view(user: Any, name: str) -> bool:
    """Whether ``user`` may see the threads of the workflow named ``name``: its
    ``view_permission``; a name no longer registered asks for none (logged in is enough)."""
    try:
        return _registry[name].can_view(user)
    except KeyError:
        return bool(getattr(user, "is_authenticated", False))


def hidden_from(user: Any) -> list[str]:
    """Names of the registered workflows whose threads ``user`` may not see (for querysets:
    ``.exclude(workflow__in=hidden_from(user))``)."""
    return [w.name for w in _registry.values() if not w.can_view(user)]


def autodiscover() -> None:
    """Import every installed app's ``workflows`` module (called from ``AppConfig.ready``)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("workflows")
