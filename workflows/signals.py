"""Signals of the workflows app, for other apps to hang their reactions on (``workflows``
never names another app's groups or models).

* ``run_status_changed``: a run's status was committed (``running``, then ``interrupted`` /
  ``success`` / ``error``). Sent after commit by the process that executes the run, with
  ``sender=Run`` and the keyword arguments ``run_id`` (str), ``thread_pk`` (int) and ``status``
  (a ``Run.Status`` value). Sent with ``asend`` from the executor's event loop, so receivers
  may be ``async def`` (preferred: no thread hop) or plain functions. ``reviews`` connects the
  inbox broadcast.
* ``run_interrupted``: a run paused on interrupts. Sent with ``sender=Run``, ``run_id``,
  ``workflow`` (the thread's workflow name) and ``interrupts`` (the thread's pending
  ``Interrupt`` rows, oldest first, as a lazy queryset: read when a receiver iterates it, so a
  receiver with nothing to do for ``workflow`` costs no query) *inside* the transaction
  that records the run's outcome (``workflows.services.lifecycle.finish_run``), in a savepoint:
  what receivers write commits with the outcome or not at all; a receiver that raises has its
  writes rolled back and is logged, and the outcome is still recorded. Receivers that talk to
  the outside world (mail, webhooks) must do it in ``transaction.on_commit``. ``reviews``
  assigns new interrupts on it.
* ``sweep``: a server or worker process swept (``workflows.execution.recovery.recover``: stale
  runs requeued, queued runs woken); ``sender=None``, keyword argument ``now`` (an aware
  ``datetime``). Sent with ``send`` from a database thread of the executor: receivers
  are sync, may use the ORM, and must be idempotent (several processes sweep). A receiver's
  exception is logged, never raised into the sweep (``send_robust``).
"""

from django.dispatch import Signal

__all__ = ["run_interrupted", "run_status_changed", "sweep"]

run_interrupted = Signal()
run_status_changed = Signal()
sweep = Signal()
