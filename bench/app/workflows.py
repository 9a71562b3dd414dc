"""Workflows of the served benchmarks.

``counted-essay``: the seed's essay review (task, interrupt, result) whose two tasks append a
line to ``$FLOWSITE_VAR_DIR/bench-effects.log`` as they run (``essay <topic>`` before the
interrupt, ``publish <topic>`` after the approval): with a unique topic per run, each line must
appear exactly once, whichever process ran or replayed the run (appends of one short line are
atomic across processes, ``O_APPEND``).

``ticker``: one task that streams ``{"progress": "tick <n> <unix time>"}`` every ``interval``
seconds for ``seconds`` seconds (input ``{"seconds": float, "interval": float}``), so a
WebSocket client on its thread measures the latency from the writer (the time in the chunk) to
its receipt.
"""

import os
import time
from pathlib import Path

from django import forms
from django.conf import settings

from reviews.forms import ApproveRejectForm
from workflows import DjangoSaver, entrypoint, get_stream_writer, interrupt, registry, task

checkpointer = DjangoSaver()


def effects_log() -> Path:
    return Path(settings.VAR_DIR) / "bench-effects.log"


def _record(line: str) -> None:
    fd = os.open(effects_log(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@task
def write_essay(topic: str) -> str:
    _record(f"essay {topic}")
    return f"An essay about topic: {topic}"


@task
def publish(topic: str) -> str:
    _record(f"publish {topic}")
    return "published"


@entrypoint(checkpointer=checkpointer)
def counted_essay(topic: str) -> dict:
    essay = write_essay(topic).result()
    is_approved = interrupt({"essay": essay, "action": "Please approve/reject the essay"})
    return {"essay": essay, "is_approved": is_approved, "published": publish(topic).result()}


class TopicForm(forms.Form):
    topic = forms.CharField(max_length=200)


@task
def tick(request: dict) -> int:
    write = get_stream_writer()
    deadline = time.monotonic() + float(request["seconds"])
    n = 0
    while time.monotonic() < deadline:
        n += 1
        write({"progress": f"tick {n} {time.time():.6f}"})
        time.sleep(float(request["interval"]))
    return n


@entrypoint(checkpointer=checkpointer)
def ticker(request: dict) -> int:
    return tick(request).result()


class TickerForm(forms.Form):
    seconds = forms.FloatField(min_value=0.1, max_value=600)
    interval = forms.FloatField(min_value=0.005, max_value=10)


registry.register(
    "counted-essay", counted_essay, title="Counted essay (bench)", input_form=TopicForm,
    build_input=lambda data: data["topic"], resume_form=ApproveRejectForm,
)
registry.register(
    "ticker", ticker, title="Ticker (bench)", input_form=TickerForm,
    build_input=lambda data: {"seconds": data["seconds"], "interval": data["interval"]},
)
