"""The reviewer's path end to end over HTTP: start a workflow, answer its interrupt, see it done.

Runs are executed explicitly (``running.execute_run``), as a background executor would.
"""

import pytest
from django.urls import reverse

from reviews.models import Decision
from workflows.execution import running
from workflows.models import Interrupt, Run, Thread

pytestmark = pytest.mark.django_db(transaction=True)


def test_start_answer_and_finish(reviewer_client):
    client = reviewer_client()
    response = client.post(
        reverse("workflows:start", args=["essay-review"]), {"essay-review-topic": "otters"}
    )
    thread = Thread.objects.get()
    assert response["Location"] == reverse("workflows:thread", args=[thread.pk])
    running.execute_run(Run.objects.get().pk)

    inbox = client.get(reverse("reviews:inbox")).content.decode()
    interrupt = Interrupt.objects.pending().get(thread=thread)
    assert "An essay about topic: otters" in inbox

    response = client.post(reverse("reviews:answer", args=[interrupt.pk]), {"decision": "approve"})
    assert response.status_code == 302
    running.execute_run(Decision.objects.get().run_id)

    thread.refresh_from_db()
    assert thread.status == Thread.Status.DONE
    assert thread.result == {"essay": "An essay about topic: otters", "is_approved": True}
    page = client.get(reverse("workflows:thread", args=[thread.pk])).content.decode()
    assert "Answered by " + client.user.username in page
    assert 'class="card outcome outcome-done"' in page
