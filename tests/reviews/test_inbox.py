"""The inbox's filters and pages, and the archive of one's answers."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews import services
from reviews.models import Claim, Decision
from workflows.models import Interrupt

pytestmark = pytest.mark.django_db

INBOX = reverse("reviews:inbox")
ARCHIVE = reverse("reviews:archive")


def listed(response):
    return [interrupt.pk for interrupt in response.context["interrupts"]]


@pytest.fixture
def waiting(interrupt_factory, thread_factory):
    """Three pending interrupts, oldest first: two essays and a section review."""
    now = timezone.now()
    return [
        interrupt_factory(
            value={"essay": "An essay about otters", "action": "Approve?"},
            created_at=now - timedelta(hours=3),
        ),
        interrupt_factory(
            thread=thread_factory(workflow="parallel-review", input={"title": "Launch plan"}),
            value={"section": "Risks", "text": "Reviewers are busy"},
            created_at=now - timedelta(hours=2),
        ),
        interrupt_factory(
            value={"essay": "Un essai sur les hérissons", "action": "Approve?"},
            created_at=now - timedelta(hours=1),
        ),
    ]


# -- filters ------------------------------------------------------------------------------------
def test_default_is_every_pending_interrupt_oldest_first(
    reviewer_client, waiting, interrupt_factory
):
    interrupt_factory(status=Interrupt.Status.RESOLVED)
    response = reviewer_client().get(INBOX)
    assert response.status_code == 200
    assert listed(response) == [i.pk for i in waiting]
    assert "3 waiting · oldest first" in response.content.decode()


def test_newest_first(reviewer_client, waiting):
    response = reviewer_client().get(INBOX, {"sort": "newest"})
    assert listed(response) == [i.pk for i in reversed(waiting)]
    assert "newest first" in response.content.decode()


def test_filter_by_workflow(reviewer_client, waiting):
    response = reviewer_client().get(INBOX, {"workflow": "parallel-review"})
    assert listed(response) == [waiting[1].pk]
    html = response.content.decode()
    assert "1 waiting that match" in html
    assert '<option value="parallel-review" selected>' in html  # the form shows the filter


@pytest.mark.parametrize(
    "q, expected",
    [
        ("OTTERS", [0]),  # case-insensitive
        ("busy", [1]),  # in the payload
        ("launch plan", [1]),  # in the thread's input
        ("hérissons", [2]),  # non-ASCII (SQLite stores it escaped)
        ("approve?", [0, 2]),
        ("nothing like this", []),
    ],
)
def test_search_in_the_payload(reviewer_client, waiting, q, expected):
    response = reviewer_client().get(INBOX, {"q": q})
    assert listed(response) == [waiting[i].pk for i in expected]


def test_search_is_escaped_for_like(reviewer_client, waiting):
    assert listed(reviewer_client().get(INBOX, {"q": "%"})) == []
    assert listed(reviewer_client().get(INBOX, {"q": "_"})) == []


def test_mine_and_unclaimed(reviewer_client, user_factory, waiting):
    me, other = reviewer_client(), user_factory()
    services.claim_interrupt(interrupt=waiting[0], user=me.user)
    services.claim_interrupt(interrupt=waiting[1], user=other)
    lapsed = services.claim_interrupt(interrupt=waiting[2], user=me.user)
    Claim.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert listed(me.get(INBOX, {"claim": "mine"})) == [waiting[0].pk]
    assert listed(me.get(INBOX, {"claim": "unclaimed"})) == [waiting[2].pk]  # lapsed = free
    assert listed(reviewer_client(other).get(INBOX, {"claim": "mine"})) == [waiting[1].pk]


def test_filters_combine(reviewer_client, waiting):
    client = reviewer_client()
    services.claim_interrupt(interrupt=waiting[2], user=client.user)
    response = client.get(
        INBOX, {"workflow": "essay-review", "claim": "mine", "q": "essai", "sort": "newest"}
    )
    assert listed(response) == [waiting[2].pk]


def test_nothing_matches(reviewer_client, waiting):
    html = reviewer_client().get(INBOX, {"q": "zebras"}).content.decode()
    assert "Nothing waiting matches these filters" in html
    assert f'href="{INBOX}">Clear the filters</a>' in html
    assert "Nothing waiting for review" not in html


@pytest.mark.parametrize(
    "params, message",
    [
        ({"workflow": "no-such-workflow"}, "Select a valid choice."),
        ({"claim": "everyone"}, "Select a valid choice."),
        ({"sort": "alphabetical"}, "Select a valid choice."),
        ({"q": "x" * 201}, "Ensure this value has at most 200 characters"),
    ],
)
def test_a_bad_filter_is_400_reported_and_ignored(reviewer_client, waiting, params, message):
    response = reviewer_client().get(INBOX, {**params, "sort": params.get("sort", "newest")})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Some filters were ignored" in html and message in html
    # The other filters still apply; nothing is written by a GET anyway.
    expected = (
        [i.pk for i in reversed(waiting)] if "sort" not in params else [i.pk for i in waiting]
    )
    assert listed(response) == expected


# -- pagination ---------------------------------------------------------------------------------
@pytest.fixture
def many(interrupt_factory):
    start = timezone.now() - timedelta(days=1)
    return [
        interrupt_factory(
            value={"essay": f"Essay number {n}"}, created_at=start + timedelta(minutes=n)
        )
        for n in range(45)
    ]


def test_twenty_per_page_with_links_that_keep_the_filters(reviewer_client, many):
    client = reviewer_client()
    first = client.get(INBOX, {"q": "essay"})
    assert listed(first) == [i.pk for i in many[:20]]
    html = first.content.decode()
    assert "1–20 of 45 waiting that match" in html and "Page 1 of 3" in html
    next_url = f"{INBOX}?q=essay&amp;page=2"
    assert f'href="{next_url}" hx-get="{next_url}" hx-target="#inbox-list"' in html

    assert listed(client.get(INBOX, {"q": "essay", "page": 3})) == [i.pk for i in many[40:]]
    # Django's get_page: past the end is the last page, nonsense is the first.
    assert listed(client.get(INBOX, {"page": 99})) == [i.pk for i in many[40:]]
    assert listed(client.get(INBOX, {"page": "abc"})) == [i.pk for i in many[:20]]


def test_htmx_gets_the_list_with_a_clean_url_to_push(reviewer_client, many):
    response = reviewer_client().get(
        INBOX,
        {"q": "essay", "workflow": "", "claim": "", "sort": "", "page": "2"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="inbox-list"')
    assert "<html" not in html and 'name="q"' not in html  # the form stays as it is
    assert response["HX-Push-Url"] == f"{INBOX}?q=essay&page=2"
    # The list's socket follows the same filters and page.
    assert 'ws-connect="/ws/inbox/?list=1&amp;q=essay&amp;page=2"' in html


def test_htmx_history_restore_gets_the_whole_page(reviewer_client, many):
    response = reviewer_client().get(
        INBOX, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


def test_filter_form_is_a_get_form_enhanced_with_htmx(reviewer_client, waiting):
    html = reviewer_client().get(INBOX).content.decode()
    assert f'<form class="filters" method="get" action="{INBOX}"' in html
    assert f'hx-get="{INBOX}" hx-target="#inbox-list"' in html and 'hx-push-url="true"' in html


# -- archive ------------------------------------------------------------------------------------
def test_archive_lists_my_decisions_newest_first(reviewer_client, user_factory, waiting):
    me, other = reviewer_client(), user_factory()
    services.answer_interrupt(interrupt=waiting[0], user=me.user, value=True, decision="approve")
    services.answer_interrupt(
        interrupt=waiting[1],
        user=me.user,
        value={"approved": False, "comment": "Too risky"},
        decision="respond",
    )
    services.answer_interrupt(interrupt=waiting[2], user=other, value=False, decision="reject")

    response = me.get(ARCHIVE)
    assert response.status_code == 200
    decisions = list(response.context["decisions"])
    assert [d.interrupt_id for d in decisions] == [waiting[1].pk, waiting[0].pk]
    html = response.content.decode()
    assert "Approved" in html and "Responded" in html and "Too risky" in html
    assert "hérissons" not in html  # someone else's answer
    assert reverse("reviews:interrupt", args=[waiting[0].pk]) in html
    assert 'Answered by me <span class="tab-count">2</span>' in html


def test_archive_filters(reviewer_client, waiting):
    me = reviewer_client()
    for interrupt in waiting:
        services.answer_interrupt(interrupt=interrupt, user=me.user, value=True, decision="approve")
    by_workflow = me.get(ARCHIVE, {"workflow": "parallel-review"}).context["decisions"]
    assert [d.interrupt_id for d in by_workflow] == [waiting[1].pk]
    by_text = me.get(ARCHIVE, {"q": "otters"}).context["decisions"]
    assert [d.interrupt_id for d in by_text] == [waiting[0].pk]
    response = me.get(ARCHIVE, {"workflow": "nope"})
    assert response.status_code == 400 and "Some filters were ignored" in response.content.decode()


def test_archive_empty_and_login(client, reviewer_client):
    html = reviewer_client().get(ARCHIVE).content.decode()
    assert "You have not answered anything yet" in html
    response = client.get(ARCHIVE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Decision.objects.exists()
