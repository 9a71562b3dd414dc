"""An audit that outlives its data: deleting a thread keeps its decisions (with what the audit
shows of them), and the filtered audit log exports as CSV, for staff only."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews import services
from reviews.models import Decision
from workflows import DjangoSaver
from workflows.models import Thread

pytestmark = pytest.mark.django_db

AUDIT = reverse("reviews:audit")
EXPORT = reverse("reviews:audit_export")


@pytest.fixture
def staff(reviewer_client, user_factory):
    return reviewer_client(user_factory("zed", is_staff=True))


@pytest.fixture
def decided(user_factory, interrupt_factory, thread_factory):
    alice = user_factory("alice")
    essay = interrupt_factory()
    section = interrupt_factory(
        thread=thread_factory(workflow="parallel-review"),
        value={"section": "Risks", "text": "=HYPERLINK(\"http://evil\")"},
    )
    services.answer_interrupt(interrupt=essay, user=alice, value=True, decision="approve")
    services.answer_interrupt(
        interrupt=section, user=alice, value={"approved": False, "comment": "-1, no"},
        decision="answer",
    )
    return alice, essay, section


def test_a_decision_keeps_what_the_audit_shows(decided):
    _, essay, _ = decided
    decision = Decision.objects.get(interrupt=essay)
    assert (decision.workflow, decision.thread_key, decision.interrupt_key) == (
        "essay-review", essay.thread.thread_id, essay.interrupt_id,
    )
    assert decision.question == "An essay about topic: cats"


@pytest.mark.parametrize("how", ["orm", "saver"])
def test_deleting_a_thread_keeps_its_decisions(decided, staff, admin_client, how):
    _, essay, _ = decided
    thread_id = essay.thread.thread_id
    if how == "orm":
        essay.thread.delete()
    else:
        DjangoSaver().delete_thread(thread_id)
    assert not Thread.objects.filter(thread_id=thread_id).exists()
    kept = Decision.objects.get(thread_key=thread_id)
    assert (kept.interrupt, kept.run, kept.kind, kept.user.username) == (
        None, None, "approve", "alice",
    )
    page = staff.get(AUDIT, {"workflow": "essay-review"})
    assert [d.pk for d in page.context["decisions"]] == [kept.pk]
    html = page.content.decode()
    assert "Deleted thread" in html and "An essay about topic: cats" in html
    admin_page = admin_client.get(reverse("admin:reviews_decision_change", args=[kept.pk]))
    assert admin_page.status_code == 200 and "(deleted)" in admin_page.content.decode()


def _rows(response):
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_export_has_the_filtered_log(decided, staff):
    response = staff.get(EXPORT)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = _rows(response)
    assert [(r["decided_by"], r["kind"], r["workflow"]) for r in rows] == [
        ("alice", "answer", "parallel-review"), ("alice", "approve", "essay-review"),
    ]
    assert rows[1]["value"] == "true" and rows[1]["thread_deleted"] == "no"
    # cells a spreadsheet would run as formulas are quoted
    assert rows[0]["question"] == "Risks"
    assert rows[0]["value"].startswith('{"approved": false')
    only = _rows(staff.get(EXPORT, {"workflow": "essay-review", "kind": "approve"}))
    assert [r["interrupt_id"] for r in only] == [decided[1].interrupt_id]


def test_csv_cells_that_look_like_formulas_are_defused(user_factory, interrupt_factory, staff):
    interrupt = interrupt_factory(value="=cmd|' /C calc'!A0")
    services.answer_interrupt(interrupt=interrupt, user=user_factory(), value="@SUM(1)", decision="answer")
    row = _rows(staff.get(EXPORT))[0]
    assert row["question"] == "'=cmd|' /C calc'!A0"
    assert row["value"] == '"@SUM(1)"'  # JSON-quoted: not a formula


def test_csv_export_is_for_staff_and_refuses_bad_filters(client, reviewer_client, staff):
    assert client.get(EXPORT).status_code == 302
    assert reviewer_client().get(EXPORT).status_code == 403
    response = staff.get(EXPORT, {"kind": "nonsense"})
    assert response.status_code == 400 and b"Invalid filter" in response.content


def test_the_audit_page_links_its_export_with_its_filters(decided, staff):
    html = staff.get(AUDIT, {"workflow": "essay-review"}).content.decode()
    assert f'href="{EXPORT}?workflow=essay-review"' in html


def test_the_export_includes_the_systems_decisions(register_workflow, interrupt_factory, thread_factory, staff):
    from workflows.deadlines import Default

    register_workflow("timed", review_deadline=timedelta(hours=1), on_deadline=Default(True, decision="approve"))
    now = timezone.now()
    interrupt_factory(thread=thread_factory(workflow="timed"), deadline_at=now)
    services.apply_deadlines(now=now)
    row = _rows(staff.get(EXPORT, {"user": "system"}))[0]
    assert (row["decided_by"], row["kind"], row["workflow"]) == ("System (deadline)", "approve", "timed")


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_existing_decisions():
    """reviews 0006 on a database with decisions made before it: each keeps its workflow,
    thread id, interrupt id and question."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("reviews", "0005_decision_kinds_and_diffs")], [("reviews", "0006_audit_outlives_data")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    user = apps.get_model("auth", "User").objects.create(username="old")
    thread = apps.get_model("workflows", "Thread").objects.create(
        thread_id="t-1", workflow="essay-review", status="done"
    )
    interrupt = apps.get_model("workflows", "Interrupt").objects.create(
        interrupt_id="i-1", thread=thread, checkpoint_id="c", task_id="t",
        value={"essay": "An old essay", "action": "Approve it"}, status="resolved",
    )
    apps.get_model("reviews", "Decision").objects.create(
        interrupt=interrupt, user=user, kind="approve", value=True
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # back to the latest
    decision = Decision.objects.get()
    assert (decision.workflow, decision.thread_key, decision.interrupt_key, decision.question) == (
        "essay-review", "t-1", "i-1", "An old essay",
    )
    assert decision.by == Decision.By.REVIEWER
