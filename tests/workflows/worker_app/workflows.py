"""``counted-steps``: three tasks that append their name to the run's log file as they start
and finish, so a test counts each task's executions across processes (``first`` takes long enough for the
default ``"async"`` durability to store its result at once). The first execution of
``slow`` waits (up to ``request["hold"]`` seconds) for the test to kill its worker."""

import time
from pathlib import Path

from workflows import DjangoSaver, entrypoint, registry, task


def _log(request: dict, line: str) -> int:
    """Append ``line``; returns how many times it is in the log now."""
    path = Path(request["log"])
    with path.open("a") as log:
        log.write(line + "\n")
    return path.read_text().splitlines().count(line)


@task
def first(request: dict) -> str:
    _log(request, "first")
    # past the runtime's ASYNC_FLUSH_SECONDS (1 s): its result is stored as it returns
    time.sleep(1.5)
    return "one"


@task
def slow(request: dict) -> str:
    if _log(request, "slow started") == 1:
        time.sleep(request.get("hold", 120))  # the worker is killed in here
    _log(request, "slow done")
    return "two"


@task
def last(request: dict) -> str:
    _log(request, "last")
    return "three"


@entrypoint(checkpointer=DjangoSaver())
def counted_steps(request: dict) -> list:
    return [first(request).result(), slow(request).result(), last(request).result()]


registry.register("counted-steps", counted_steps, title="Counted steps (tests)")
