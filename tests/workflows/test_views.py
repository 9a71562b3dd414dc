"""The workflows pages: the list with start forms, starting a run, and the thread page."""

import pytest
from django.urls import reverse

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
