"""Background execution of runs, one concern per module:

* ``waking``: how an executor learns of a queued run (:func:`waking.wake`, on commit);
* ``running``: claiming and executing one run (``astream`` on its Django checkpointer), and
  announcing its status;
* ``recovery``: the sweep that requeues runs of dead workers and wakes queued ones;
* ``publishing``: channel-layer group sends from any thread (live chunks, statuses);
* ``threads``: this process's executor event loop and its database threads;
* ``processes``: this process's worker name, and whether another's process still lives.

The run's lifecycle writes (claim, renew, finish, give up, requeue) are services
(``workflows.services.lifecycle``). The database is the queue and the source of truth; the
channel layer only wakes executors and pushes to browsers (at-most-once).
"""
