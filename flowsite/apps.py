import os

from django.apps import AppConfig

# psycopg pools a forked child inherited: kept referenced, never used nor garbage-collected
# (collecting one would close its connections, which are the parent's sockets too)
_inherited_pools: list = []


def forget_connection_pools() -> None:
    """In a forked child (a test's live Daphne server, a forking process manager): drop the
    parent's psycopg connection pools, so that Django opens the child's own on first use.

    Django keeps one ``psycopg_pool.ConnectionPool`` per alias and process
    (``DatabaseWrapper._connection_pools``); its worker threads do not survive ``fork``, and its
    connections' sockets are shared with the parent.
    """
    from django.conf import settings

    if not any(db.get("OPTIONS", {}).get("pool") for db in settings.DATABASES.values()):
        return
    from django.db.backends.postgresql.base import DatabaseWrapper

    _inherited_pools.extend(DatabaseWrapper._connection_pools.values())
    DatabaseWrapper._connection_pools.clear()


class FlowsiteConfig(AppConfig):
    """The site itself: its example workflows live in ``flowsite/workflows.py``."""

    name = "flowsite"
    verbose_name = "Flowsite"

    def ready(self) -> None:
        os.register_at_fork(after_in_child=forget_connection_pools)
