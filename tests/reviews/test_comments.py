"""Comments on an item before deciding (``services.add_comment``, the comments card): shown on
the item and beside its decision in the audit log, escaped; refused clearly when not allowed."""

import pytest
from django.urls import reverse

from reviews.models import Comment
from workflows.models import Interrupt

pytestmark = pytest.mark.django_db


def comment_url(interrupt):
    return reverse("reviews:comment", args=[interrupt.pk])


def test_a_comment_is_shown_on_the_item_escaped(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    client = reviewer_client()
    response = client.post(comment_url(interrupt), {"body": "  Check <b>the</b> intro\nplease  "})
    assert response.status_code == 302
    assert response["Location"] == reverse("reviews:interrupt", args=[interrupt.pk]) + "#comments"
    comment = Comment.objects.get()
    assert (comment.author, comment.body) == (client.user, "Check <b>the</b> intro\nplease")
    html = client.get(response["Location"]).content.decode()
    assert "Check &lt;b&gt;the&lt;/b&gt; intro<br>please" in html


def test_htmx_gets_the_comments_card_back(reviewer_client, interrupt_factory):
    interrupt = interrupt_factory()
    response = reviewer_client().post(
        comment_url(interrupt), {"body": "First"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="comments"') and "First" in html
    assert "<textarea" in html and "First</textarea>" not in html  # a fresh form


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("   ", "Write a comment first."),
        ("x" * (Comment.MAX_LENGTH + 1), "at most 4000 characters"),
        ("nul \x00 here", "Null characters are not allowed."),
    ],
)
def test_bad_comments_are_a_400_with_the_reason(reviewer_client, interrupt_factory, body, message):
    interrupt = interrupt_factory()
    response = reviewer_client().post(
        comment_url(interrupt), {"body": body}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Comment.objects.exists()


def test_comments_need_the_review_permission_and_a_pending_item(
    reviewer_client, user_factory, interrupt_factory
):
    interrupt = interrupt_factory()
    reader = reviewer_client(user_factory("reader", reviewer=False))
    response = reader.post(comment_url(interrupt), {"body": "Hi"})
    assert response.status_code == 403
    assert "cannot comment" in response.content.decode()
    assert "Add comment" not in reader.get(reverse("reviews:interrupt", args=[interrupt.pk])).content.decode()

    done = interrupt_factory(status=Interrupt.Status.RESOLVED)
    response = reviewer_client().post(comment_url(done), {"body": "Late"}, headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert "comments come before the decision" in response.content.decode()
    assert not Comment.objects.exists()


def test_the_audit_log_shows_the_comments_beside_the_decision(
    reviewer_client, user_factory, interrupt_factory
):
    interrupt = interrupt_factory()
    client = reviewer_client()
    client.post(comment_url(interrupt), {"body": "Second opinion: <fine>"})
    client.post(reverse("reviews:answer", args=[interrupt.pk]), {"decision": "approve"})
    staff = reviewer_client(user_factory("boss", is_staff=True))
    html = staff.get(reverse("reviews:audit")).content.decode()
    assert "1 comment before the decision" in html
    assert "Second opinion: &lt;fine&gt;" in html


def test_the_service_refuses_what_no_database_stores(user_factory, interrupt_factory):
    from reviews import services

    interrupt = interrupt_factory()
    for body in ("lone \ud800", "nul \x00", "", "x" * (Comment.MAX_LENGTH + 1)):
        with pytest.raises(ValueError):
            services.add_comment(interrupt=interrupt, user=user_factory(), body=body)
    assert not Comment.objects.exists()
