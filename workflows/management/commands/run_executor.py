"""``manage.py run_executor``: a worker process that executes queued runs from the database.

For the scale-out setup (``FLOWSITE_EXECUTOR=external``, PostgreSQL, ``REDIS_URL`` so that chunks
reach browsers across processes). Several workers may run at once: runs are claimed with
a conditional update (the thread row locked first on PostgreSQL). This process polls the
database; the claimed runs (sync and ``async def`` entrypoints) execute on its executor loop,
``--concurrency`` at once.
"""

import concurrent.futures
import logging
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connections

from workflows import services
from workflows.execution import processes, recovery
from workflows.execution import running as execution

logger = logging.getLogger("workflows.executor")
RECOVER_EVERY = 60.0  # seconds


class Command(BaseCommand):
    help = "Execute queued workflow runs from the database (several at once)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=4, help="Runs executed at once.")
        parser.add_argument("--poll", type=float, default=0.5, help="Seconds between polls when idle.")
        parser.add_argument("--once", action="store_true", help="Exit when no run is queued.")

    def handle(self, *args, concurrency: int, poll: float, once: bool, **options):
        recovery.recover()
        self.stdout.write(f"run_executor {processes.worker_name()}: {concurrency} at once")
        running: set[concurrent.futures.Future] = set()
        last_recovery = time.monotonic()
        try:
            while True:
                running = {f for f in running if not f.done()}
                close_old_connections()
                try:
                    if time.monotonic() - last_recovery > RECOVER_EVERY:
                        recovery.recover()  # runs of dead workers elsewhere, expired leases
                        last_recovery = time.monotonic()
                    run_id = services.claim_next_run() if len(running) < concurrency else None
                except DatabaseError:
                    logger.exception("run_executor: the database is unavailable; retrying")
                    connections.close_all()
                    run_id = None
                if run_id is not None:
                    running.add(execution.submit(run_id, claimed=True))
                    continue
                if once and not running:
                    return
                time.sleep(poll)
        finally:
            concurrent.futures.wait(running)
