"""Signals of the workflows app, for other apps to hang their reactions on (``workflows``
never names another app's groups or models).

* ``run_status_changed``: a run's status was committed (``running``, then ``interrupted`` /
  ``success`` / ``error``). Sent after commit by the process that executes the run, with
  ``sender=Run`` and the keyword arguments ``run_id`` (str), ``thread_pk`` (int) and ``status``
  (a ``Run.Status`` value). Sent with ``asend`` from the executor's event loop, so receivers
  may be ``async def`` (preferred: no thread hop) or plain functions. ``reviews`` connects the
  inbox broadcast.
* ``sweep``: a server or worker process swept (``workflows.execution.recovery.recover``: stale
  runs requeued, queued runs woken); ``sender=None``, keyword argument ``now`` (an aware
  ``datetime``). Sent with ``send`` from a database thread of the executor: receivers
  are sync, may use the ORM, and must be idempotent (several processes sweep). A receiver's
  exception is logged, never raised into the sweep (``send_robust``).
"""

from django.dispatch import Signal

__all__ = ["run_status_changed", "sweep"]

run_status_changed = Signal()
sweep = Signal()
