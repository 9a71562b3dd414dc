"""State changes of workflow runs, one keyword-only function each:

* ``runs``: what people and code ask for: start, resume, retry (views, consumers, management
  commands and tests all go through these);
* ``lifecycle``: what the executor writes as it executes a run: claim, lease, finish, give up,
  requeue.
"""

from . import lifecycle, runs
from .lifecycle import *  # noqa: F403
from .runs import *  # noqa: F403

__all__ = [*lifecycle.__all__, *runs.__all__]
