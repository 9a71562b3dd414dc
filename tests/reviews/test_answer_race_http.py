"""Two reviewers race answers to the same interrupts over real HTTP (Daphne, forked by
Channels' live server): exactly one answer wins each interrupt, the other gets 409 and a clear
message, one ``Decision`` per interrupt, and each thread resumes once (executed by the server's own executor) and finishes."""

import threading
import time

import httpx
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from reviews.models import Decision
from tests.browser import DaphneTestCase
from workflows import services
from workflows.execution import running
from workflows.models import Interrupt, Run, Thread

PASSWORD = "a-long-reviewer-password"
INTERRUPTS = 6
TIMEOUT = 60.0  # seconds: generous, the machine may be loaded


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class AnswerRaceOverHTTP(DaphneTestCase):
    def logged_in(self, username: str) -> httpx.Client:
        user = get_user_model().objects.create_user(username=username, password=PASSWORD)
        user.user_permissions.add(Permission.objects.get(codename="answer_interrupt"))
        client = httpx.Client(base_url=self.live_server_url, timeout=TIMEOUT)
        client.get(reverse("login"))
        response = client.post(reverse("login"), data={
            "username": username, "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        })
        assert response.status_code == 302, response.text
        return client

    def test_exactly_one_of_two_racing_answers_wins_each_interrupt(self):
        runs = [services.start_run(workflow="essay-review", input=f"topic {i}") for i in range(INTERRUPTS)]
        for run in runs:  # paused here (this process leaves runs queued: reviews' conftest)
            assert running.execute_run(run.pk) == Run.Status.INTERRUPTED
        threads = [run.thread for run in runs]
        alice, bob = self.logged_in("alice"), self.logged_in("bob")
        results: dict[int, dict[str, httpx.Response]] = {}
        try:
            for interrupt in Interrupt.objects.pending():
                url = reverse("reviews:answer", args=[interrupt.pk])
                start = threading.Barrier(2)
                answers: dict[str, httpx.Response] = {}

                def answer(name, client, decision, url=url, start=start, answers=answers):
                    start.wait(TIMEOUT)
                    answers[name] = client.post(url, data={
                        "decision": decision, "csrfmiddlewaretoken": client.cookies["csrftoken"],
                    })

                racers = [threading.Thread(target=answer, args=("alice", alice, "approve")),
                          threading.Thread(target=answer, args=("bob", bob, "reject"))]
                for racer in racers:
                    racer.start()
                for racer in racers:
                    racer.join(TIMEOUT)
                results[interrupt.pk] = answers
        finally:
            alice.close()
            bob.close()

        for pk, answers in results.items():
            codes = sorted(response.status_code for response in answers.values())
            assert codes == [302, 409], (pk, codes)
            winner = next(name for name, response in answers.items() if response.status_code == 302)
            loser = answers["bob" if winner == "alice" else "alice"]
            assert f"Already answered by {winner}" in loser.text
            decision = Decision.objects.get(interrupt_id=pk)  # exactly one
            assert decision.user.username == winner
            interrupt = Interrupt.objects.get(pk=pk)
            assert interrupt.status == Interrupt.Status.RESOLVED
            assert interrupt.resolved_by.username == winner
        assert Decision.objects.count() == INTERRUPTS
        # each thread resumed once, by the server's executor, and finished
        wait_for(lambda: Thread.objects.filter(status=Thread.Status.DONE).count() == INTERRUPTS,
                 "the threads to finish")
        for thread in threads:
            assert Run.objects.filter(thread=thread, kind=Run.Kind.RESUME).count() == 1
