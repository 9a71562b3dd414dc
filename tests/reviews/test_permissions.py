"""Who may answer: reviews.answer_interrupt, a workflow's review_permission, superusers."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from reviews import services
from reviews.models import Decision
from reviews.permissions import can_answer, missing_answer_permissions
from workflows import registry
from workflows.models import Interrupt, Run

pytestmark = pytest.mark.django_db


def answer_url(interrupt):
    return reverse("reviews:answer", args=[interrupt.pk])


def detail_url(interrupt):
    return reverse("reviews:interrupt", args=[interrupt.pk])


def assert_nothing_written(interrupt):
    assert not Decision.objects.exists() and not Run.objects.exists()
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING and interrupt.resolved_by is None


# -- the site-wide permission ----------------------------------------------------------------
def test_answer_without_the_permission_is_403_and_writes_nothing(
    reviewer_client, user_factory, interrupt_factory
):
    interrupt = interrupt_factory()
    client = reviewer_client(user_factory(reviewer=False))
    response = client.post(answer_url(interrupt), {"decision": "approve"})
    assert response.status_code == 403
    assert "You are not allowed to answer this interrupt" in response.content.decode()
    assert_nothing_written(interrupt)


def test_htmx_answer_without_the_permission_gets_the_answer_card(
    reviewer_client, user_factory, interrupt_factory
):
    interrupt = interrupt_factory()
    client = reviewer_client(user_factory(reviewer=False))
    response = client.post(answer_url(interrupt), {"decision": "approve"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    html = response.content.decode()
    assert html.lstrip().startswith('<article class="card answer-card" id="answer-card">')
    assert "View only" in html and 'name="decision"' not in html
    assert_nothing_written(interrupt)


def test_detail_page_is_read_only_without_the_permission(
    reviewer_client, user_factory, interrupt_factory
):
    interrupt = interrupt_factory(value={"essay": "Readable <essay>", "action": "Approve?"})
    response = reviewer_client(user_factory(reviewer=False)).get(detail_url(interrupt))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Readable &lt;essay&gt;" in html  # the payload is shown
    assert "View only" in html and "You can read this request, but not answer it." in html
    assert "<code>reviews.answer_interrupt</code>" in html  # what to ask for
    assert 'name="decision"' not in html and answer_url(interrupt) not in html


def test_inbox_marks_items_the_user_cannot_answer(reviewer_client, user_factory, interrupt_factory):
    interrupt = interrupt_factory()
    html = (
        reviewer_client(user_factory(reviewer=False)).get(reverse("reviews:inbox")).content.decode()
    )
    assert "inbox-item-locked" in html and f'href="{detail_url(interrupt)}">View</a>' in html
    assert "You can see what is waiting, but not answer it" in html  # said once, on top

    html = reviewer_client().get(reverse("reviews:inbox")).content.decode()
    assert "inbox-item-locked" not in html
    assert f'href="{detail_url(interrupt)}">Review</a>' in html


def test_permission_through_a_group(reviewer_client, user_factory, interrupt_factory):
    reviewers = Group.objects.create(name="Reviewers")
    reviewers.permissions.add(Permission.objects.get(codename="answer_interrupt"))
    user = user_factory(reviewer=False)
    user.groups.add(reviewers)
    interrupt = interrupt_factory()
    response = reviewer_client(user).post(answer_url(interrupt), {"decision": "approve"})
    assert response.status_code == 302
    assert Decision.objects.get().user == user


def test_superuser_needs_no_explicit_permission(reviewer_client, user_factory, interrupt_factory):
    admin = user_factory(reviewer=False, is_superuser=True)
    interrupt = interrupt_factory()
    assert (
        reviewer_client(admin).post(answer_url(interrupt), {"decision": "approve"}).status_code
        == 302
    )


def test_inactive_superuser_may_not_answer(user_factory, interrupt_factory):
    user = user_factory(reviewer=False, is_superuser=True, is_active=False)
    assert not can_answer(user, interrupt_factory().thread.workflow)


def test_demo_reviewer_can_answer_every_workflow(django_user_model, register_workflow):
    register_workflow("guarded", review_permission="reviews.no_one_has_this")
    call_command("create_demo_reviewer", username="demo", password="demo-password", stdout=None)
    demo = django_user_model.objects.get(username="demo")
    assert all(can_answer(demo, w.name) for w in registry.all_workflows())


def test_service_refuses_a_user_without_the_permission(user_factory, interrupt_factory):
    interrupt = interrupt_factory()
    with pytest.raises(services.NotAllowed) as caught:
        services.answer_interrupt(
            interrupt=interrupt, user=user_factory(reviewer=False), value=True, decision="approve"
        )
    assert caught.value.missing == ["reviews.answer_interrupt"]
    assert_nothing_written(interrupt)


# -- a workflow's own permission --------------------------------------------------------------
@pytest.fixture
def guarded(register_workflow, permission_factory, thread_factory, interrupt_factory):
    """An interrupt of a workflow that needs ``reviews.review_contracts`` besides the
    site-wide permission; returns ``(interrupt, permission)``."""
    name, permission = permission_factory("review_contracts")
    register_workflow("contract-review", title="Contract review", review_permission=name)
    interrupt = interrupt_factory(thread=thread_factory(workflow="contract-review"))
    return interrupt, permission


def test_workflow_permission_is_required_too(reviewer_client, user_factory, guarded):
    interrupt, permission = guarded
    client = reviewer_client()  # holds reviews.answer_interrupt only
    assert missing_answer_permissions(client.user, "contract-review") == [
        "reviews.review_contracts"
    ]
    page = client.get(detail_url(interrupt)).content.decode()
    assert "Answering Contract review needs the permission" in page
    assert "<code>reviews.review_contracts</code>" in page
    assert "<code>reviews.answer_interrupt</code>" not in page  # only what is missing
    response = client.post(answer_url(interrupt), {"decision": "approve"})
    assert response.status_code == 403
    assert_nothing_written(interrupt)

    allowed = user_factory()
    allowed.user_permissions.add(permission)
    response = reviewer_client(allowed).post(answer_url(interrupt), {"decision": "approve"})
    assert response.status_code == 302
    assert Decision.objects.get().user == allowed


def test_workflow_permission_alone_is_not_enough(reviewer_client, user_factory, guarded):
    interrupt, permission = guarded
    user = user_factory(reviewer=False)
    user.user_permissions.add(permission)
    assert (
        reviewer_client(user).post(answer_url(interrupt), {"decision": "approve"}).status_code
        == 403
    )
    assert_nothing_written(interrupt)


def test_other_workflows_stay_answerable(reviewer_client, interrupt_factory, guarded):
    plain = interrupt_factory()  # essay-review: no workflow permission
    client = reviewer_client()
    html = client.get(reverse("reviews:inbox")).content.decode()
    assert html.count("inbox-item-locked") == 1
    assert html.count("You can't answer this workflow") == 1
    assert "You can see what is waiting, but not answer it" not in html
    assert client.post(answer_url(plain), {"decision": "approve"}).status_code == 302


# -- registry -------------------------------------------------------------------------------
@pytest.mark.parametrize("argument", ["review_permission", "start_permission", "view_permission"])
@pytest.mark.parametrize("value", ["answer_interrupt", "reviews.", "a.b.c", "reviews answer", 3])
def test_register_refuses_a_malformed_permission(register_workflow, argument, value):
    before = dict(registry._registry)
    with pytest.raises(
        ValueError, match=f'{argument} must be a permission name like "app_label.codename"'
    ):
        register_workflow("bad-permission", **{argument: value})
    assert registry._registry == before


def test_registered_permissions_default_to_none():
    essay = registry.get("essay-review")
    assert essay.review_permission is None and essay.start_permission is None
    assert essay.view_permission is None
