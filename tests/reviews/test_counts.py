"""Counts that stop counting (workflows.pagination): the inbox, its tabs and the nav badge
read at most COUNT_CAP + 1 rows and say "20+" beyond; every page stays reachable."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.urls import reverse

from reviews import services
from reviews.models import Decision
from workflows import pagination
from workflows.models import Interrupt

pytestmark = pytest.mark.django_db

INBOX = reverse("reviews:inbox")


@pytest.fixture
def cap_of_20(monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 20)


@pytest.fixture
def pending_45(interrupt_factory):
    return [interrupt_factory() for _ in range(45)]


def listed(response):
    return [interrupt.pk for interrupt in response.context["interrupts"]]


def test_capped_count_says_plus_beyond_the_cap(pending_45):
    count = pagination.capped_count(Interrupt.objects.all(), cap=20)
    assert (count.value, count.capped, str(count)) == (20, True, "20+")
    exact = pagination.capped_count(Interrupt.objects.all(), cap=1000)
    assert (exact.value, exact.capped, str(exact)) == (45, False, "45")
    assert exact == 45 and count != 20  # a capped count equals no number
    assert not pagination.capped_count(Interrupt.objects.none())


def test_the_inbox_counts_up_to_the_cap_and_every_page_is_reachable(
    cap_of_20, pending_45, reviewer_client
):
    client = reviewer_client()
    first = client.get(INBOX)
    html = first.content.decode()
    assert listed(first) == [i.pk for i in pending_45[:20]]
    assert "1–20 of 20+ waiting" in html and "Page 1 of 1+" in html
    assert f"{INBOX}?page=2" in html  # a next page beyond the cap
    assert '<span class="tab-count">20+</span>' in html  # the tab
    assert ">20+</span>" in html.split('id="nav-pending-count"', 1)[1]  # the nav's badge

    second = client.get(INBOX, {"page": 2})
    assert listed(second) == [i.pk for i in pending_45[20:40]]
    assert "21–40 of 40+ waiting" in second.content.decode()

    last = client.get(INBOX, {"page": 3})
    assert listed(last) == [i.pk for i in pending_45[40:]]
    html = last.content.decode()
    assert "41–45 of 45 waiting" in html and "Page 3 of 3" in html
    assert f"{INBOX}?page=4" not in html
    assert listed(client.get(INBOX, {"page": 9})) == listed(last)  # past the end: the last page


def test_the_count_reads_at_most_cap_plus_one_rows(pending_45):
    from django.test.utils import CaptureQueriesContext

    paginator = pagination.CappedPaginator(Interrupt.objects.order_by("id"), 20, cap=20)
    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 21
    assert len(queries) == 1 and "LIMIT 21" in queries[0]["sql"]
    assert paginator.count_label == "20+" and paginator.num_pages_label == "1+"
    with pytest.raises(ValueError, match="multiple of per_page"):
        pagination.CappedPaginator(Interrupt.objects.all(), 20, cap=30)


def test_below_the_cap_as_django_paginator(pending_45):
    queryset = Interrupt.objects.order_by("id")
    capped = pagination.CappedPaginator(queryset, 20).get_page("2")
    plain = Paginator(queryset, 20).get_page("2")
    assert list(capped.object_list) == list(plain.object_list)
    assert (capped.paginator.count, capped.paginator.num_pages) == (45, 3)
    assert capped.paginator.count_label == "45" and capped.paginator.num_pages_label == "3"
    assert pagination.CappedPaginator(queryset, 20).get_page("x").number == 1


def test_the_answered_tab_is_capped(cap_of_20, pending_45, reviewer_client):
    client = reviewer_client()
    for interrupt in pending_45[:21]:
        services.answer_interrupt(interrupt=interrupt, user=client.user, value=True, decision="approve")
    assert Decision.objects.filter(user=client.user).count() == 21
    html = client.get(reverse("reviews:archive")).content.decode()
    assert "1–20 of 20+ answered" in html
    assert '<span class="tab-count">20+</span>' in html


def test_recent_threads_count_their_pending_interrupts(reviewer_client, thread_factory, interrupt_factory):
    thread = thread_factory()
    interrupt_factory(thread=thread)
    interrupt_factory(thread=thread)
    interrupt_factory(thread=thread, status=Interrupt.Status.RESOLVED)
    alone = interrupt_factory().thread
    threads = {t.pk: t for t in reviewer_client().get(reverse("workflows:list")).context["threads"]}
    assert (threads[thread.pk].pending_count, threads[alone.pk].pending_count) == (2, 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL's")
def test_search_indexes_exist_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
            "('interrupt_value_trgm', 'thread_input_trgm', 'interrupt_pending_order')"
        )
        indexes = dict(cursor.fetchall())
    assert "gin_trgm_ops" in indexes["interrupt_value_trgm"]
    assert "upper((value)::text)" in indexes["interrupt_value_trgm"]
    assert "gin_trgm_ops" in indexes["thread_input_trgm"]
    assert "WHERE ((status)::text = 'pending'::text)" in indexes["interrupt_pending_order"]


def test_capped_counts_counts_several_lists_in_one_query(pending_45):
    from django.test.utils import CaptureQueriesContext

    first = pending_45[0]
    with CaptureQueriesContext(connection) as queries:
        counts = pagination.capped_counts(
            {
                "all": Interrupt.objects.all(),
                "one": Interrupt.objects.filter(pk=first.pk).values("thread").distinct(),
                "none": Interrupt.objects.none(),
            },
            cap=20,
        )
    assert len(queries) == 1
    assert counts == {"all": pagination.CappedCount(20, capped=True), "one": 1, "none": 0}
    assert str(counts["all"]) == "20+"
    assert pagination.capped_counts({}) == {}


def test_the_id_paginator_counts_and_pages_with_one_query(pending_45):
    from django.test.utils import CaptureQueriesContext

    ids = Interrupt.objects.order_by("id").values_list("pk", flat=True)
    with CaptureQueriesContext(connection) as queries:
        page = pagination.CappedIdPaginator(ids, 20, cap=20).get_page("1")
        assert list(page.object_list) == [i.pk for i in pending_45[:20]]
        assert (page.paginator.count_label, page.paginator.num_pages_label) == ("20+", "1+")
    assert len(queries) == 1 and "LIMIT 21" in queries[0]["sql"]
    deep = pagination.CappedIdPaginator(ids, 20, cap=20).get_page("3")  # the cap grows to it
    assert list(deep.object_list) == [i.pk for i in pending_45[40:]]
    assert deep.paginator.count == 45 and deep.paginator.capped_total == pagination.CappedCount(20, True)
    assert pagination.CappedIdPaginator(ids, 20).get_page("x").number == 1


def test_the_inbox_counts_its_list_once_and_reads_assignees_only_when_assigned(
    pending_45, reviewer_client
):
    from django.test.utils import CaptureQueriesContext

    from reviews.services import assign

    client = reviewer_client()
    with CaptureQueriesContext(connection) as queries:
        html = client.get(INBOX).content.decode()
    sqls = [query["sql"] for query in queries.captured_queries]
    assert "1–20 of 45 waiting" in html and '<span class="tab-count">45</span>' in html
    assert ">45</span>" in html.split('id="nav-pending-count"', 1)[1]
    pending_counts = [sql for sql in sqls if "COUNT(" in sql and "workflows_interrupt" in sql
                      and "reviews_assignment" not in sql and "reviews_decision" not in sql]
    assert pending_counts == []  # the list's ids gave the header, the tab and the badge
    assert not any('"reviews_assignment"."reason"' in sql for sql in sqls)

    assign(interrupt=pending_45[0], users=[client.user])
    with CaptureQueriesContext(connection) as queries:
        html = client.get(INBOX).content.decode()
    assert any('"reviews_assignment"."reason"' in query["sql"] for query in queries.captured_queries)
    assert "assignee-me" in html.split(f'id="inbox-item-{pending_45[1].pk}"')[0]
