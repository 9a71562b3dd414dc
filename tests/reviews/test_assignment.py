"""Assignment: items in users' and groups' queues (registration, callables, staff reassign),
the notice by email with a signed, expiring link, and the ``review_assigned`` signal."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail, signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from reviews import notifications, services
from reviews.models import Assignment
from reviews.signals import review_assigned
from workflows import registry
from workflows.execution import running
from workflows import services as workflow_services
from workflows.models import Interrupt, Run

pytestmark = pytest.mark.django_db


def current(interrupt):
    return sorted(a.assignee_label for a in Assignment.objects.current().filter(interrupt=interrupt))


def link_in(message):
    return re.search(r"http://testserver(/r/[^/\s]+/)", message.body).group(1)


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.FLOWSITE_SITE_URL = "http://testserver"


@pytest.fixture
def received():
    """The ``review_assigned`` signals sent during the test, as dicts."""
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    review_assigned.connect(receiver, weak=False)
    yield seen
    review_assigned.disconnect(receiver)


# -- registration --------------------------------------------------------------------------------
def test_register_checks_the_review_policy(register_workflow):
    with pytest.raises(TypeError):
        register_workflow("x", assignee=["alice"])
    for bad in ("alice", [""], [3]):
        with pytest.raises(ValueError, match="assignees"):
            register_workflow("x", assignees=bad)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="approvals"):
            register_workflow("x", approvals=bad)
    with pytest.raises(ValueError, match="self_approval"):
        register_workflow("x", self_approval=0)
    item = register_workflow("x", assignees=["alice", "group:editors"], approvals=2)
    assert item.assignees == ("alice", "group:editors") and item.approvals == 2
    assert registry.get("essay-review").assignees is None


# -- the service ---------------------------------------------------------------------------------
def test_assign_adds_users_and_groups_once(user_factory, interrupt_factory, django_capture_on_commit_callbacks, received):
    alice, editors = user_factory("alice", email="alice@example.com"), Group.objects.create(name="editors")
    interrupt = interrupt_factory()
    with django_capture_on_commit_callbacks(execute=True):
        rows = services.assign(interrupt=interrupt, users=["alice"], groups=[editors], reason="why")
    assert [r.assignee_label for r in rows] == ["alice", "group editors"]
    assert {r.reason for r in rows} == {"why"} and all(r.assigned_by is None for r in rows)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.assign(interrupt=interrupt, users=[alice], groups=["editors"])
    assert again == [] and current(interrupt) == ["alice", "group editors"]
    assert len(received) == 1  # the second call assigned nobody new: no second notice
    assert received[0]["users"] == [alice] and received[0]["groups"] == [editors]
    assert received[0]["interrupt"] == interrupt and received[0]["by"] is None


def test_unknown_names_are_refused_and_nothing_is_written(user_factory, interrupt_factory):
    user_factory("alice")
    user_factory("gone", is_active=False)
    interrupt = interrupt_factory()
    with pytest.raises(services.UnknownAssignee) as caught:
        services.assign(interrupt=interrupt, users=["alice", "nobody", "gone"], groups=["ghosts"])
    assert caught.value.names == ["nobody", "gone", "group:ghosts"]
    assert not Assignment.objects.exists()


@pytest.mark.parametrize("status", [Interrupt.Status.RESOLVED, Interrupt.Status.CANCELLED])
def test_only_pending_items_are_assigned(user_factory, interrupt_factory, status):
    user_factory("alice")
    with pytest.raises(workflow_services.InterruptNotPending):
        services.assign(interrupt=interrupt_factory(status=status), users=["alice"])
    assert not Assignment.objects.exists()


def test_the_database_refuses_a_second_current_row_and_a_row_of_neither(user_factory, interrupt_factory):
    alice, interrupt = user_factory("alice"), interrupt_factory()
    Assignment.objects.create(interrupt=interrupt, user=alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(interrupt=interrupt, user=alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(interrupt=interrupt)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(interrupt=interrupt, user=alice, group=Group.objects.create(name="g"))


def test_reassign_is_for_staff_and_keeps_the_old_rows(user_factory, interrupt_factory, django_capture_on_commit_callbacks, received):
    alice, bob = user_factory("alice"), user_factory("bob", email="bob@example.com")
    staff = user_factory("sam", is_staff=True)
    interrupt = interrupt_factory()
    services.assign(interrupt=interrupt, users=[alice])
    with pytest.raises(services.NotAllowed):
        services.reassign(interrupt=interrupt, users=[bob], by=alice)
    assert current(interrupt) == ["alice"]
    with django_capture_on_commit_callbacks(execute=True):
        services.reassign(interrupt=interrupt, users=[bob], by=staff, reason="alice is away")
    assert current(interrupt) == ["bob"]
    old = Assignment.objects.get(user=alice)
    assert old.removed_by == staff and old.removed_at is not None
    new = Assignment.objects.current().get()
    assert (new.assigned_by, new.reason) == (staff, "alice is away")
    assert [n["users"] for n in received] == [[bob]] and received[0]["by"] == staff
    # to nobody: every current row removed, no notice
    with django_capture_on_commit_callbacks(execute=True):
        services.reassign(interrupt=interrupt, by=staff)
    assert current(interrupt) == [] and Assignment.objects.count() == 2 and len(received) == 1


# -- notices ---------------------------------------------------------------------------------------
def test_assignees_get_an_email_with_a_signed_link(user_factory, interrupt_factory, django_capture_on_commit_callbacks, client):
    alice = user_factory("alice", email="alice@example.com")
    editors = Group.objects.create(name="editors")
    for name in ("erin", "ed"):
        user_factory(name, email=f"{name}@example.com").groups.add(editors)
    user_factory("eve", is_active=False, email="eve@example.com").groups.add(editors)
    user_factory("noemail").groups.add(editors)
    staff = user_factory("sam", is_staff=True, email="sam@example.com")
    staff.groups.add(editors)
    interrupt = interrupt_factory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.reassign(interrupt=interrupt, users=[alice], groups=[editors], by=staff)
    assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    # alice and the active members with an address, each once; not the staff who did it
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "ed@example.com", "erin@example.com"]
    message = mail.outbox[0]
    assert message.subject == f"Review waiting: Essay review (item {interrupt.pk})"
    assert "assigned by sam" in message.body and "editors" in message.body

    link = link_in(message)
    response = client.get(link)  # not logged in: the link leads to the login page via the item
    item = reverse("reviews:interrupt", args=[interrupt.pk])
    assert response.status_code == 302 and response["Location"] == item
    assert client.get(item)["Location"].startswith(reverse("login"))
    client.force_login(alice)
    assert client.get(link, follow=True).request["PATH_INFO"] == item


def test_an_expired_or_altered_link_is_refused(user_factory, interrupt_factory, client, settings):
    interrupt = interrupt_factory()
    link = notifications.review_link(interrupt).removeprefix("http://testserver")
    settings.FLOWSITE_REVIEW_LINK_MAX_AGE = -1  # every link is older than that
    response = client.get(link)
    assert response.status_code == 410 and "This link has expired" in response.content.decode()
    settings.FLOWSITE_REVIEW_LINK_MAX_AGE = 3600
    assert client.get(link).status_code == 302
    token = link.split("/")[2]
    tampered = signing.dumps({"i": interrupt.pk + 1}, salt="another")
    for bad in (token[:-2] + "xx", tampered, "nonsense"):
        response = client.get(reverse("reviews:link", args=[bad]))
        assert response.status_code == 400 and "This link is not valid" in response.content.decode()


def test_a_failing_receiver_does_not_stop_the_email(user_factory, interrupt_factory, django_capture_on_commit_callbacks):
    def broken(sender, **kwargs):
        raise RuntimeError("slack is down")

    review_assigned.connect(broken, weak=False)
    try:
        user_factory("alice", email="alice@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            services.assign(interrupt=interrupt_factory(), users=["alice"])
    finally:
        review_assigned.disconnect(broken)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


# -- when a run pauses -------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_workflows_assignees_get_its_new_items(register_workflow, user_factory):
    alice = user_factory("alice", email="alice@example.com")
    reviewers = Group.objects.create(name="reviewers")
    user_factory("rita", email="rita@example.com").groups.add(reviewers)
    register_workflow(
        "assigned", assignees=lambda value: ["alice", "group:reviewers", "nobody"] if "cats" in value["essay"] else []
    )
    for topic in ("cats", "dogs"):
        run = workflow_services.start_run(workflow="assigned", input=topic, user=alice)
        running.execute_run(run.pk)
    cats, dogs = (Interrupt.objects.get(thread__input=topic) for topic in ("cats", "dogs"))
    assert current(cats) == ["alice", "group reviewers"]  # "nobody" is no user: logged, skipped
    assert current(dogs) == []
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "rita@example.com"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_assignees_callable_leaves_the_item_unassigned(register_workflow, user_factory):
    register_workflow("broken", assignees=lambda value: 1 / 0)
    run = workflow_services.start_run(workflow="broken", input="cats", user=user_factory())
    running.execute_run(run.pk)
    assert Run.objects.get().status == Run.Status.INTERRUPTED
    assert Interrupt.objects.pending().count() == 1 and not Assignment.objects.exists()


# -- pages -----------------------------------------------------------------------------------------
def test_the_inbox_tabs_list_what_is_assigned_to_me_and_my_groups(user_factory, interrupt_factory, reviewer_client):
    alice, bob = user_factory("alice"), user_factory("bob")
    editors, others = Group.objects.create(name="editors"), Group.objects.create(name="others")
    alice.groups.add(editors)
    mine, ours, theirs, nobodys = (interrupt_factory(value={"n": n}) for n in ("mine", "ours", "theirs", "nobodys"))
    services.assign(interrupt=mine, users=[alice], groups=[editors])
    services.assign(interrupt=ours, groups=[editors, others])
    services.assign(interrupt=theirs, users=[bob], groups=[others])
    client = reviewer_client(alice)

    def listed(query):
        response = client.get(reverse("reviews:inbox") + query)
        assert response.status_code == 200
        return [i.value["n"] for i in response.context["interrupts"]], response.content.decode()

    assert listed("")[0] == ["mine", "ours", "theirs", "nobodys"]
    names, page = listed("?assigned=me")
    assert names == ["mine"]
    assert 'aria-current="page">Assigned to me <span class="tab-count">1</span>' in page
    assert 'My groups <span class="tab-count">2</span>' in page
    assert '<span class="assignee assignee-me">you</span>' in page
    assert listed("?assigned=groups")[0] == ["mine", "ours"]
    # filters keep the tab (the form carries it), and the tab is not a "filter" for the empty state
    assert listed("?assigned=groups&q=ours")[0] == ["ours"]
    assert 'name="assigned" value="groups"' in listed("?assigned=groups")[1]
    assert client.get(reverse("reviews:inbox") + "?assigned=bogus").status_code == 400
    Interrupt.objects.filter(pk=mine.pk).update(status=Interrupt.Status.RESOLVED)
    names, page = listed("?assigned=me")
    assert names == [] and "Nothing waiting is assigned to you" in page


def test_staff_reassign_from_the_item_page(user_factory, interrupt_factory, reviewer_client, django_capture_on_commit_callbacks):
    user_factory("alice")
    bob = user_factory("bob", email="bob@example.com")
    Group.objects.create(name="editors")
    interrupt = interrupt_factory()
    services.assign(interrupt=interrupt, users=["alice"])
    url = reverse("reviews:reassign", args=[interrupt.pk])
    page = reverse("reviews:interrupt", args=[interrupt.pk])

    reviewer = reviewer_client(bob)
    assert 'id="assignment-card"' in reviewer.get(page).content.decode()
    assert "Reassign</button>" not in reviewer.get(page).content.decode()
    assert reviewer.post(url, {"assignees": "bob"}).status_code == 403
    assert current(interrupt) == ["alice"]

    staff = reviewer_client(user_factory("sam", is_staff=True))
    body = staff.get(page).content.decode()
    assert 'value="alice"' in body and "Reassign</button>" in body
    response = staff.post(url, {"assignees": "bob, ghost group:nobody", "reason": "x"})
    assert response.status_code == 400
    assert "No such active user or group: ghost, group:nobody" in response.content.decode()
    assert current(interrupt) == ["alice"]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(url, {"assignees": "bob, group:editors", "reason": "alice is away"})
    assert response.status_code == 302 and response["Location"] == page
    assert current(interrupt) == ["bob", "group editors"]
    assert [m.to for m in mail.outbox] == [["bob@example.com"]]
    body = staff.get(page).content.decode()
    assert "Assigned to bob, group editors." in body
    assert "History (3)" in body and "alice is away" in body and "removed by sam" in body
    Interrupt.objects.filter(pk=interrupt.pk).update(status=Interrupt.Status.RESOLVED)
    assert staff.post(url, {"assignees": "alice"}).status_code == 409
