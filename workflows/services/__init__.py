"""State changes of workflow runs, one keyword-only function each:

* ``runs``: what people and code ask for: start, resume, retry (views, consumers, management
  commands and tests all go through these);
* ``lifecycle``: what the executor writes as it executes a run: claim, lease, finish, give up,
  requeue.
"""

from .lifecycle import (
    claim_next_run,
    claim_run,
    finish_run,
    free_thread_owners,
    give_up_run,
    renew_run_leases,
    requeue_run,
    requeue_stale_runs,
    run_lease,
)
from .runs import (
    InterruptNotPending,
    InvalidResumeValue,
    ResumeError,
    ThreadNotRetryable,
    resume_run,
    retry_run,
    start_run,
)

__all__ = [
    "InterruptNotPending",
    "InvalidResumeValue",
    "ResumeError",
    "ThreadNotRetryable",
    "claim_next_run",
    "claim_run",
    "finish_run",
    "free_thread_owners",
    "give_up_run",
    "renew_run_leases",
    "requeue_run",
    "requeue_stale_runs",
    "run_lease",
    "resume_run",
    "retry_run",
    "start_run",
]
