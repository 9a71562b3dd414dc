"""A workflow shared by the test process and its subprocess (cross-process resume)."""

from pathlib import Path

from workflows import DjangoSaver, entrypoint, interrupt, task


@task
def write_essay(request: dict) -> str:
    # record each execution in a file, so both processes' calls can be counted
    with Path(request["log"]).open("a") as log:
        log.write("write_essay\n")
    return f"An essay about topic: {request['topic']}"


@entrypoint(checkpointer=DjangoSaver())
def crossproc_essay(request: dict) -> dict:
    essay = write_essay(request).result()
    is_approved = interrupt({"essay": essay, "action": "Please approve/reject the essay"})
    return {"essay": essay, "is_approved": is_approved}


@task
def wait_for_file(path: str) -> str:
    """Block until ``path`` exists (the test creates it to let the run finish)."""
    import time

    deadline = time.monotonic() + 30
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "released"


@entrypoint(checkpointer=DjangoSaver())
def slow_run(request: dict) -> str:
    Path(request["started"]).touch()
    return wait_for_file(request["release"]).result()
