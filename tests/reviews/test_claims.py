"""Claims: a reviewer's ten-minute lease on an interrupt, in the services and on the pages."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from reviews import services
from reviews.models import Claim, Decision
from workflows import services as workflow_services
from tests.races import at_once
from workflows.models import Interrupt, Run

pytestmark = pytest.mark.django_db


def hhmm(moment):
    return timezone.localtime(moment).strftime("%H:%M")


def lapse(claim):
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def assert_not_answered(interrupt):
    assert not Decision.objects.exists() and not Run.objects.exists()
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING


# -- services --------------------------------------------------------------------------------------
def test_claim_lasts_ten_minutes(user_factory, interrupt_factory):
    user, interrupt = user_factory(), interrupt_factory()
    before = timezone.now()
    claim = services.claim_interrupt(interrupt=interrupt, user=user)
    lease = timedelta(minutes=10)
    assert (claim.interrupt, claim.user) == (interrupt, user)
    assert before + lease <= claim.expires_at <= timezone.now() + lease
    assert claim.is_active()


def test_claiming_again_renews_ones_own_lease(user_factory, interrupt_factory):
    user, interrupt = user_factory(), interrupt_factory()
    first = services.claim_interrupt(interrupt=interrupt, user=user)
    Claim.objects.filter(pk=first.pk).update(expires_at=timezone.now() + timedelta(minutes=1))
    renewed = services.claim_interrupt(interrupt=interrupt, user=user)
    assert renewed.pk == first.pk and renewed.claimed_at == first.claimed_at
    assert renewed.expires_at > timezone.now() + timedelta(minutes=9)
    assert Claim.objects.count() == 1


def test_someone_elses_lease_is_refused_and_unchanged(user_factory, interrupt_factory):
    alice, bob, interrupt = user_factory("alice"), user_factory("bob"), interrupt_factory()
    claim = services.claim_interrupt(interrupt=interrupt, user=alice)
    with pytest.raises(services.ClaimedByOther) as caught:
        services.claim_interrupt(interrupt=interrupt, user=bob)
    assert caught.value.claim.user == alice
    assert str(caught.value) == f"alice is reviewing this until {hhmm(claim.expires_at)}"
    assert Claim.objects.get() == claim and Claim.objects.get().user == alice


def test_a_lapsed_lease_is_taken_over(user_factory, interrupt_factory):
    alice, bob, interrupt = user_factory(), user_factory(), interrupt_factory()
    lapse(services.claim_interrupt(interrupt=interrupt, user=alice))
    claim = services.claim_interrupt(interrupt=interrupt, user=bob)
    assert claim.user == bob and claim.is_active()
    assert Claim.objects.count() == 1


@pytest.mark.parametrize("status", [Interrupt.Status.RESOLVED, Interrupt.Status.CANCELLED])
def test_only_pending_interrupts_can_be_claimed(user_factory, interrupt_factory, status):
    interrupt = interrupt_factory(status=status)
    with pytest.raises(workflow_services.InterruptNotPending):
        services.claim_interrupt(interrupt=interrupt, user=user_factory())
    assert not Claim.objects.exists()


def test_claiming_needs_the_answer_permission(user_factory, interrupt_factory):
    with pytest.raises(services.NotAllowed):
        services.claim_interrupt(interrupt=interrupt_factory(), user=user_factory(reviewer=False))
    assert not Claim.objects.exists()


def test_release(user_factory, interrupt_factory):
    alice, bob, interrupt = user_factory(), user_factory(), interrupt_factory()
    services.claim_interrupt(interrupt=interrupt, user=alice)
    with pytest.raises(services.ClaimNotHeld):
        services.release_claim(interrupt=interrupt, user=bob)
    assert Claim.objects.get().user == alice
    services.release_claim(interrupt=interrupt, user=alice)
    assert not Claim.objects.exists()
    with pytest.raises(services.ClaimNotHeld):
        services.release_claim(interrupt=interrupt, user=alice)


def test_one_claim_row_per_interrupt(user_factory, interrupt_factory):
    interrupt, later = interrupt_factory(), timezone.now() + timedelta(minutes=5)
    Claim.objects.create(interrupt=interrupt, user=user_factory(), expires_at=later)
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.objects.create(interrupt=interrupt, user=user_factory(), expires_at=later)


def test_answer_is_refused_while_another_holds_the_lease(user_factory, interrupt_factory):
    alice, bob, interrupt = user_factory("alice"), user_factory("bob"), interrupt_factory()
    services.claim_interrupt(interrupt=interrupt, user=alice)
    with pytest.raises(services.ClaimedByOther, match="alice is reviewing this until"):
        services.answer_interrupt(interrupt=interrupt, user=bob, value=True, decision="approve")
    assert_not_answered(interrupt)
    assert Claim.objects.get().user == alice


def test_answer_after_the_lease_lapsed_and_it_is_released(user_factory, interrupt_factory):
    alice, bob, interrupt = user_factory(), user_factory(), interrupt_factory()
    lapse(services.claim_interrupt(interrupt=interrupt, user=alice))
    services.answer_interrupt(interrupt=interrupt, user=bob, value=True, decision="approve")
    assert Decision.objects.get().user == bob
    assert not Claim.objects.exists()


def test_answering_releases_ones_own_claim(user_factory, interrupt_factory):
    alice, interrupt = user_factory(), interrupt_factory()
    services.claim_interrupt(interrupt=interrupt, user=alice)
    services.answer_interrupt(interrupt=interrupt, user=alice, value=False, decision="reject")
    assert not Claim.objects.exists()
    assert Decision.objects.get().kind == "reject"


def test_claim_and_release_tell_the_inbox_and_the_item_after_commit(
    user_factory, interrupt_factory, monkeypatch, django_capture_on_commit_callbacks
):
    from workflows.execution import publishing

    sent = []
    monkeypatch.setattr(publishing, "group_send", lambda group, message: sent.append(group))
    user, interrupt = user_factory(), interrupt_factory()
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_interrupt(interrupt=interrupt, user=user)
        assert sent == []
    with django_capture_on_commit_callbacks(execute=True):
        services.release_claim(interrupt=interrupt, user=user)
    item = f"review.{interrupt.pk}"  # the item's open pages (reviews.presence)
    assert sent == ["inbox", item, "inbox", item]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lapsed", [False, True], ids=["unclaimed", "lapsed"])
def test_concurrent_claims_one_wins(user_factory, interrupt_factory, lapsed):
    """Reviewers claiming at the same moment, each in its own thread and connection: exactly
    one gets the claim, the others are told who has it."""
    users = [user_factory() for _ in range(5)]
    interrupt = interrupt_factory()
    if lapsed:
        lapse(services.claim_interrupt(interrupt=interrupt, user=user_factory()))

    def claim(user):
        try:
            services.claim_interrupt(interrupt=interrupt, user=user)
            return ("won", user.pk)
        except services.ClaimedByOther as exc:
            return ("refused", exc.claim.user_id)

    outcomes = at_once(claim, users)
    winners = [pk for outcome, pk in outcomes if outcome == "won"]
    assert len(outcomes) == len(users) and len(winners) == 1
    assert all(pk == winners[0] for outcome, pk in outcomes if outcome == "refused")
    assert Claim.objects.get().user_id == winners[0]


# -- pages -----------------------------------------------------------------------------------------
def claim_url(interrupt):
    return reverse("reviews:claim", args=[interrupt.pk])


def release_url(interrupt):
    return reverse("reviews:release", args=[interrupt.pk])


def detail_url(interrupt):
    return reverse("reviews:interrupt", args=[interrupt.pk])


def test_unclaimed_page_offers_a_claim_beside_the_form(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    html = reviewer_client().get(detail_url(interrupt)).content.decode()
    assert "Nobody is reviewing this." in html
    assert f'hx-post="{claim_url(interrupt)}"' in html and "Claim for 10 minutes" in html
    assert 'name="decision" value="approve"' in html  # answering needs no claim


def test_claim_then_release_without_htmx(reviewer_client, interrupt_factory):
    client, interrupt = reviewer_client(), interrupt_factory()
    response = client.post(claim_url(interrupt), follow=True)
    claim = Claim.objects.get()
    assert claim.user == client.user
    assert response.redirect_chain == [(detail_url(interrupt), 302)]
    html = response.content.decode()
    assert f"You are reviewing this until {hhmm(claim.expires_at)}." in html  # the message
    assert f'action="{release_url(interrupt)}"' in html
    assert 'name="decision" value="approve"' in html  # still answerable by its holder

    response = client.post(release_url(interrupt), follow=True)
    assert "Released: others can review it now." in response.content.decode()
    assert not Claim.objects.exists()


def test_htmx_claim_swaps_the_claim_bar_only(reviewer_client, interrupt_factory):
    client, interrupt = reviewer_client(), interrupt_factory()
    response = client.post(claim_url(interrupt), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="claim-bar" class="claim-bar claim-bar-mine">')
    assert "You are reviewing this until" in html and "Release" in html
    response = client.post(release_url(interrupt), HTTP_HX_REQUEST="true")
    assert "Nobody is reviewing this." in response.content.decode()


def test_others_see_who_is_reviewing_and_cannot_answer(
    reviewer_client, user_factory, interrupt_factory
):
    alice, bob = reviewer_client(user_factory("alice")), reviewer_client(user_factory("bob"))
    interrupt = interrupt_factory()
    alice.post(claim_url(interrupt))
    until = hhmm(Claim.objects.get().expires_at)

    page = bob.get(detail_url(interrupt)).content.decode()
    assert "<strong>alice</strong> is reviewing this (until" in page and until in page
    assert "Being reviewed" in page and 'name="decision"' not in page
    inbox = bob.get(reverse("reviews:inbox")).content.decode()
    assert "alice is reviewing (until" in inbox and until in inbox
    assert "You are reviewing (until" in alice.get(reverse("reviews:inbox")).content.decode()

    response = bob.post(reverse("reviews:answer", args=[interrupt.pk]), {"decision": "reject"})
    assert response.status_code == 409
    assert f"alice is reviewing this until {until}. Your answer was not sent." in (
        response.content.decode()
    )
    assert_not_answered(interrupt)


def test_claiming_a_claimed_interrupt_is_409_and_replaces_the_card(
    reviewer_client, user_factory, interrupt_factory
):
    interrupt = interrupt_factory()
    services.claim_interrupt(interrupt=interrupt, user=user_factory("alice"))
    response = reviewer_client().post(claim_url(interrupt), HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#answer-card" and response["HX-Reswap"] == "outerHTML"
    html = response.content.decode()
    assert html.lstrip().startswith('<article class="card answer-card" id="answer-card">')
    assert "alice is reviewing this until" in html
    assert Claim.objects.get().user.username == "alice"


def test_releasing_someone_elses_claim_is_409(reviewer_client, user_factory, interrupt_factory):
    interrupt = interrupt_factory()
    services.claim_interrupt(interrupt=interrupt, user=user_factory("alice"))
    response = reviewer_client().post(release_url(interrupt))
    assert response.status_code == 409
    assert "You had no claim on this interrupt to release." in response.content.decode()
    assert Claim.objects.get().user.username == "alice"


def test_after_the_lease_lapses_others_can_answer(reviewer_client, user_factory, interrupt_factory):
    interrupt = interrupt_factory()
    lapse(services.claim_interrupt(interrupt=interrupt, user=user_factory("alice")))
    bob = reviewer_client()
    page = bob.get(detail_url(interrupt)).content.decode()
    assert "alice" not in page and 'name="decision" value="approve"' in page
    response = bob.post(reverse("reviews:answer", args=[interrupt.pk]), {"decision": "approve"})
    assert response.status_code == 302
    assert Decision.objects.get().user == bob.user and not Claim.objects.exists()


def test_claim_without_permission_is_403(reviewer_client, user_factory, interrupt_factory):
    interrupt = interrupt_factory()
    response = reviewer_client(user_factory(reviewer=False)).post(claim_url(interrupt))
    assert response.status_code == 403
    assert not Claim.objects.exists()


def test_claim_an_answered_interrupt_is_409(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory(status=Interrupt.Status.RESOLVED)
    response = reviewer_client().post(claim_url(interrupt))
    assert response.status_code == 409
    assert not Claim.objects.exists()


@pytest.mark.parametrize("url", [claim_url, release_url])
def test_claim_urls_need_login_and_post(client, reviewer_client, interrupt_factory, url):
    interrupt = interrupt_factory()
    response = client.post(url(interrupt))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert reviewer_client().get(url(interrupt)).status_code == 405
    assert not Claim.objects.exists()


def test_admin_lists_claims_and_deleting_one_releases_it(
    reviewer_client, user_factory, interrupt_factory
):
    admin = reviewer_client(user_factory(is_staff=True, is_superuser=True))
    claim = services.claim_interrupt(interrupt=interrupt_factory(), user=user_factory("alice"))
    page = admin.get(reverse("admin:reviews_claim_changelist"))
    assert page.status_code == 200 and "alice" in page.content.decode()
    assert admin.get(reverse("admin:reviews_claim_add")).status_code == 403
    response = admin.post(reverse("admin:reviews_claim_delete", args=[claim.pk]), {"post": "yes"})
    assert response.status_code == 302 and not Claim.objects.exists()
