"""The workflows pages: the list with start forms, starting a run, and the thread page."""

import pytest
from django.urls import reverse

from workflows import services
from workflows.models import Interrupt, Run, Thread

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def external_executor(settings):
    settings.FLOWSITE_EXECUTOR = "external"


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/workflows/"),
        ("post", "/workflows/essay-review/start/"),
        ("get", "/threads/1/"),
        ("post", "/threads/1/retry/"),
    ],
)
def test_login_required(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Thread.objects.exists()


def test_list_shows_workflows_with_forms_and_recent_threads(reviewer_client, thread_factory):
    thread = thread_factory(status=Thread.Status.DONE, input="otters")
    html = reviewer_client().get(reverse("workflows:list")).content.decode()
    assert "Essay review" in html and "Parallel section review" in html
    assert f'action="{reverse("workflows:start", args=["essay-review"])}"' in html
    assert 'name="essay-review-topic"' in html  # forms are prefixed: one page, many forms
    assert reverse("workflows:thread", args=[thread.pk]) in html
    assert 'class="badge badge-done"' in html


def test_start_unknown_workflow_is_404(reviewer_client):
    response = reviewer_client().post(reverse("workflows:start", args=["no-such-workflow"]))
    assert response.status_code == 404
    assert not Thread.objects.exists()


def test_start_only_by_post(reviewer_client):
    assert (
        reviewer_client().get(reverse("workflows:start", args=["essay-review"])).status_code == 405
    )


def test_start_with_invalid_form_is_400_and_writes_nothing(reviewer_client):
    response = reviewer_client().post(
        reverse("workflows:start", args=["parallel-review"]),
        {"parallel-review-title": "Plan", "parallel-review-sections": "no colon here"},
    )
    assert response.status_code == 400
    assert "is not of the form" in response.content.decode()
    assert not Thread.objects.exists() and not Run.objects.exists()


def test_start_queues_a_run_and_redirects_to_the_thread(reviewer_client):
    client = reviewer_client()
    response = client.post(
        reverse("workflows:start", args=["essay-review"]), {"essay-review-topic": "otters"}
    )
    thread = Thread.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("workflows:thread", args=[thread.pk])
    assert (thread.workflow, thread.input, thread.created_by) == (
        "essay-review",
        "otters",
        client.user,
    )
    assert Run.objects.get().kind == Run.Kind.START


def test_thread_page(reviewer_client, interrupt_factory, thread_factory):
    thread = thread_factory(input="otters")
    pending = interrupt_factory(thread=thread, value={"essay": "About <otters>"})
    html = reviewer_client().get(reverse("workflows:thread", args=[thread.pk])).content.decode()
    assert f'ws-connect="/ws/threads/{thread.pk}/"' in html
    assert 'id="thread-status"' in html and "Waiting for review" in html
    assert 'id="timeline"' in html and f'id="event-interrupt-{pending.interrupt_id}"' in html
    assert "About &lt;otters&gt;" in html
    assert reverse("reviews:interrupt", args=[pending.pk]) in html  # the Review link


def test_a_threads_state_is_three_queries_and_its_pending_interrupts_come_from_its_timeline(
    interrupt_factory, thread_factory, user_factory
):
    """What the thread page and every pushed state read: the checkpoints, the writes and the
    interrupts (their answerers joined), whatever the interrupts; the audit rows only for an
    interrupt answered without a user (see the deadline tests)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from workflows.views import thread_page_context

    thread = thread_factory(status=Thread.Status.INTERRUPTED)
    later = interrupt_factory(thread=thread)
    earlier = interrupt_factory(thread=thread)
    Interrupt.objects.filter(pk=earlier.pk).update(created_at=later.created_at - timezone.timedelta(seconds=1))
    interrupt_factory(thread=thread, status=Interrupt.Status.RESOLVED, resume_value=True,
                      resolved_by=user_factory("ann"), resolved_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        context = thread_page_context(thread)
    assert len(queries) == 3, [q["sql"][:80] for q in queries]
    assert [i.pk for i in context["pending"]] == [earlier.pk, later.pk]  # oldest first
    assert any(e["name"] == "Answered by ann" for e in context["events"])


@pytest.mark.django_db(transaction=True)
def test_thread_page_shows_a_plain_interrupt_and_its_answer_as_values(reviewer_client):
    """The essay's interrupt is no agent request: its value and its answer are shown as they
    are (a definition list, Yes/No), not as tool calls."""
    from workflows.execution import running

    run = services.start_run(workflow="essay-review", input="tidal pools")
    assert running.execute_run(run.pk) == Run.Status.INTERRUPTED
    thread = Thread.objects.get(pk=run.thread_id)
    intr = Interrupt.objects.pending().get(thread=thread)
    url = reverse("workflows:thread", args=[thread.pk])

    page = reviewer_client().get(url).content.decode()
    pending = page[page.index('id="thread-pending"'):page.index('id="thread-outcome"')]
    assert "<span>An essay about topic: tidal pools</span>" in pending
    assert "The agent wants" not in page and "agent-call" not in page
    event = page[page.index(f'<li id="event-interrupt-{intr.interrupt_id}"'):]
    assert "<dt>Essay</dt>" in event and "<dt>Action</dt>" in event
    assert "Please approve/reject the essay" in event

    services.resume_run(interrupt=intr, value=True)
    page = reviewer_client().get(url).content.decode()
    answer = page[page.index(f'<li id="event-resume-{intr.interrupt_id}"'):]
    assert '<span class="value value-bool yes">Yes</span>' in answer.split("</li>", 1)[0]
    assert "agent-call" not in page


def test_thread_page_shows_progress_while_running(reviewer_client, thread_factory):
    thread = thread_factory(status=Thread.Status.RUNNING)
    html = reviewer_client().get(reverse("workflows:thread", args=[thread.pk])).content.decode()
    assert '<progress class="run-progress"' in html and 'id="progress-text"' in html


def test_thread_page_shows_result_or_error(reviewer_client, thread_factory):
    client = reviewer_client()
    done = thread_factory(
        status=Thread.Status.DONE, result={"essay": "Final text", "is_approved": True}
    )
    html = client.get(reverse("workflows:thread", args=[done.pk])).content.decode()
    assert "outcome-done" in html and "Final text" in html and "<progress" not in html
    failed = thread_factory(status=Thread.Status.ERROR, error="ConnectionError: down")
    html = client.get(reverse("workflows:thread", args=[failed.pk])).content.decode()
    assert "ConnectionError: down" in html
    assert f'action="{reverse("workflows:retry", args=[failed.pk])}"' in html


def test_thread_404(reviewer_client):
    assert reviewer_client().get(reverse("workflows:thread", args=[12345])).status_code == 404


def test_retry_a_failed_thread(reviewer_client, thread_factory):
    client = reviewer_client()
    thread = thread_factory(status=Thread.Status.ERROR, error="boom")
    response = client.post(reverse("workflows:retry", args=[thread.pk]), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("workflows:thread", args=[thread.pk])
    assert Run.objects.get().kind == Run.Kind.RETRY
    thread.refresh_from_db()
    assert thread.status == Thread.Status.RUNNING


def test_retry_a_thread_that_did_not_fail_writes_nothing(reviewer_client, thread_factory):
    thread = thread_factory(status=Thread.Status.DONE)
    response = reviewer_client().post(reverse("workflows:retry", args=[thread.pk]), follow=True)
    assert "no failed run to retry" in response.content.decode()
    assert not Run.objects.exists()


def test_admin_is_read_only_and_shows_values(reviewer_client, user_factory, interrupt_factory):
    admin = user_factory(is_staff=True, is_superuser=True)
    client = reviewer_client(admin)
    interrupt = interrupt_factory(value={"essay": "Readable <b>essay</b>"})
    page = client.get(reverse("admin:workflows_interrupt_change", args=[interrupt.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "&quot;essay&quot;: &quot;Readable &lt;b&gt;essay&lt;/b&gt;&quot;" in html
    assert 'name="_save"' not in html
    assert client.get(reverse("admin:workflows_thread_add")).status_code == 403
    for name in ["thread", "checkpoint", "pendingwrite", "interrupt", "run"]:
        assert client.get(reverse(f"admin:workflows_{name}_changelist")).status_code == 200
    assert client.get(reverse("admin:reviews_decision_changelist")).status_code == 200
    assert Interrupt.objects.count() == 1


# -- start_permission ----------------------------------------------------------------------------
@pytest.fixture
def guarded_workflow(monkeypatch):
    """``essay-review`` registered again as ``guarded-essay``, needing ``reviews.start_guarded``
    to start; returns the Permission."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from flowsite.workflows import TopicForm, essay_review
    from reviews.models import Decision
    from workflows import registry

    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    registry.register(
        "guarded-essay",
        essay_review,
        title="Guarded essay",
        input_form=TopicForm,
        build_input=lambda data: data["topic"],
        start_permission="reviews.start_guarded",
    )
    return Permission.objects.create(
        codename="start_guarded",
        name="Can start guarded essays",
        content_type=ContentType.objects.get_for_model(Decision),
    )


def test_start_without_start_permission_is_403_and_writes_nothing(
    reviewer_client, guarded_workflow
):
    response = reviewer_client().post(
        reverse("workflows:start", args=["guarded-essay"]), {"guarded-essay-topic": "otters"}
    )
    assert response.status_code == 403
    assert "You are not allowed to start Guarded essay." in response.content.decode()
    assert not Thread.objects.exists() and not Run.objects.exists()


def test_list_shows_why_a_workflow_cannot_be_started(reviewer_client, guarded_workflow):
    html = reviewer_client().get(reverse("workflows:list")).content.decode()
    assert "workflow-card-locked" in html
    assert "Starting it needs the permission <code>reviews.start_guarded</code>" in html
    assert f'action="{reverse("workflows:start", args=["guarded-essay"])}"' not in html
    assert f'action="{reverse("workflows:start", args=["essay-review"])}"' in html


@pytest.mark.parametrize("how", ["permission", "superuser"])
def test_start_with_start_permission(reviewer_client, user_factory, guarded_workflow, how):
    if how == "superuser":
        user = user_factory(is_superuser=True)
    else:
        user = user_factory()
        user.user_permissions.add(guarded_workflow)
    client = reviewer_client(user)
    assert (
        f'action="{reverse("workflows:start", args=["guarded-essay"])}"'
        in client.get(reverse("workflows:list")).content.decode()
    )
    response = client.post(
        reverse("workflows:start", args=["guarded-essay"]), {"guarded-essay-topic": "otters"}
    )
    assert response.status_code == 302
    assert Thread.objects.get().workflow == "guarded-essay"


# -- checkpoint history (staff) ---------------------------------------------------------------
def history_url(thread):
    return reverse("workflows:history", args=[thread.pk])


def test_history_is_for_staff(client, reviewer_client, user_factory, thread_factory):
    thread = thread_factory()
    response = client.get(history_url(thread))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = reviewer_client().get(history_url(thread))
    assert response.status_code == 403
    assert "The checkpoint history is for staff." in response.content.decode()
    staff = reviewer_client(user_factory(is_staff=True))
    assert staff.get(history_url(thread)).status_code == 200
    assert (
        reviewer_client(user_factory(is_staff=True)).get("/threads/999/history/").status_code == 404
    )


def test_thread_page_links_the_history_for_staff_only(
    reviewer_client, user_factory, thread_factory
):
    thread = thread_factory()
    link = f'href="{history_url(thread)}"'
    assert (
        link
        not in reviewer_client().get(reverse("workflows:thread", args=[thread.pk])).content.decode()
    )
    staff = reviewer_client(user_factory(is_staff=True))
    assert link in staff.get(reverse("workflows:thread", args=[thread.pk])).content.decode()


def test_history_of_a_thread_without_checkpoints(reviewer_client, user_factory, thread_factory):
    html = (
        reviewer_client(user_factory(is_staff=True))
        .get(history_url(thread_factory()))
        .content.decode()
    )
    assert "No checkpoints yet" in html


@pytest.mark.django_db(transaction=True)
def test_history_of_an_approved_essay(reviewer_client, user_factory):
    from reviews.services import answer_interrupt
    from workflows.execution import running

    staff = reviewer_client(user_factory(is_staff=True, is_superuser=True))
    staff.post(reverse("workflows:start", args=["essay-review"]), {"essay-review-topic": "otters"})
    running.execute_run(Run.objects.get().pk)
    thread = Thread.objects.get()
    interrupt = Interrupt.objects.get()
    run = answer_interrupt(interrupt=interrupt, user=staff.user, value=True, decision="approve")
    running.execute_run(run.pk)

    response = staff.get(history_url(thread))
    entries = response.context["entries"]
    # Newest first: the finished run's checkpoint (loop, step 0), then its input (step -1).
    assert [(e["checkpoint"].source, e["checkpoint"].step) for e in entries] == [
        ("loop", 0),
        ("input", -1),
    ]
    done, started = entries
    assert dict(started["values"]) == {"Input": "otters"}
    assert dict(done["values"])["Returned"] == {
        "essay": "An essay about topic: otters",
        "is_approved": True,
    }
    changes = {(c["where"], c["kind"], c["new"]) for c in done["changes"]}
    assert ("Returned › is_approved", "added", True) in changes
    assert not started["has_parent"] and done["has_parent"]

    tasks = {task["name"]: task for task in started["tasks"]}
    assert tasks["write_essay"]["results"] == ["An essay about topic: otters"]
    entry = tasks["essay_review"]
    assert entry["is_entry"] and entry["interrupts"] == [interrupt]
    assert entry["resumes"] == [True]

    html = response.content.decode()
    assert "Checkpoint history" in html and "The thread's first checkpoint." in html
    assert f"answered by {staff.user.username}" in html
    assert f'title="{done["checkpoint"].checkpoint_id}"' in html


@pytest.mark.django_db(transaction=True)
def test_history_shows_a_tasks_error(reviewer_client, user_factory, monkeypatch):
    from workflows import DjangoSaver, entrypoint, registry, task
    from workflows.execution import running

    @task
    def call_service(topic: str) -> str:
        raise ConnectionError(f"the service is down for {topic}")

    @entrypoint(checkpointer=DjangoSaver())
    def failing(topic: str) -> str:
        return call_service(topic).result()

    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    registry.register("failing", failing, title="Failing")
    services.start_run(workflow="failing", input="otters")
    running.execute_run(Run.objects.get().pk)
    thread = Thread.objects.get()
    assert thread.status == Thread.Status.ERROR

    staff = reviewer_client(user_factory(is_staff=True))
    response = staff.get(history_url(thread))
    [entry] = response.context["entries"]
    errors = {task["name"]: task["errors"] for task in entry["tasks"]}
    assert "the service is down for otters" in errors["call_service"][0]
    assert "the service is down for otters" in response.content.decode()


def test_history_pages_diff_against_a_parent_on_the_next_page(
    reviewer_client, user_factory, thread_factory
):
    from workflows.checkpointer import DjangoSaver
    from workflows.models import Checkpoint

    serde = DjangoSaver().serde
    thread = thread_factory(status=Thread.Status.DONE)
    parent = None
    for n in range(21):  # step n returns {"count": n}
        checkpoint_id = f"1f000000-0000-6000-8000-{n:012d}"
        Checkpoint.objects.create(
            thread=thread,
            checkpoint_id=checkpoint_id,
            parent_checkpoint_id=parent,
            step=n,
            source=Checkpoint.Source.LOOP,
            data=serde.dumps({"channel_values": {"__end__": {"count": n}}}).decode(),
        )
        parent = checkpoint_id
    staff = reviewer_client(user_factory(is_staff=True))
    first = staff.get(history_url(thread))
    assert [e["checkpoint"].step for e in first.context["entries"]] == list(range(20, 0, -1))
    assert "Page 1 of 2" in first.content.decode()
    last_on_page = first.context["entries"][-1]  # step 1, whose parent is on page 2
    assert [(c["where"], c["old"], c["new"]) for c in last_on_page["changes"]] == [
        ("Returned › count", 0, 1)
    ]
    second = staff.get(history_url(thread), {"page": 2})
    assert [e["checkpoint"].step for e in second.context["entries"]] == [0]


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": 2}, [("a", "changed", 1, 2)]),
        ({"a": 1}, {"a": 1, "b": {"c": "x"}}, [("b.c", "added", None, "x")]),
        ({"a": 1, "b": 2}, {"a": 1}, [("b", "removed", 2, None)]),
        ({"l": [1, 2]}, {"l": [1, 3, 4]}, [("l[1]", "changed", 2, 3), ("l[2]", "added", None, 4)]),
        ({"flag": 1}, {"flag": True}, [("flag", "changed", 1, True)]),  # not equal to a person
        ("draft", {"text": "final"}, [("", "changed", "draft", {"text": "final"})]),
    ],
)
def test_value_changes(old, new, expected):
    from workflows.views import value_changes

    assert [(c["path"], c["kind"], c["old"], c["new"]) for c in value_changes(old, new)] == expected
