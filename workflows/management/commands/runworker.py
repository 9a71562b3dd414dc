"""``manage.py runworker flowsite.runs``: Channels' ``runworker`` command (same arguments), with
``workflows.execution.worker.RunsWorker`` as its worker class: a worker process that executes
runs woken on the runs channel, ``FLOWSITE_EXECUTOR_CONCURRENCY`` at once, sweeps, and drains
on SIGTERM. For scale-out: ``FLOWSITE_EXECUTOR=external`` on every process, PostgreSQL,
``REDIS_URL``. (Flowsite's app is listed before ``channels`` in ``INSTALLED_APPS`` so that this
command is the one ``manage.py`` runs.)
"""

from channels.management.commands.runworker import Command as ChannelsRunworker

from workflows.execution.worker import RunsWorker


class Command(ChannelsRunworker):
    worker_class = RunsWorker
