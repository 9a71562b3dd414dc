"""State changes of the review product, one keyword-only function each:

* ``answers``: ``answer_interrupt``, resume a paused run and record who decided what;
* ``approvals``: N approvers and four eyes (``approvals=N``, ``self_approval=False``);
* ``claims``: ``claim_interrupt`` / ``release_claim``, a reviewer's lease on an item;
* ``assignment``: ``assign`` / ``reassign`` / ``assign_from_workflow``, whose queue it is in;
* ``deadlines``: ``apply_deadlines`` / ``escalate``, what the periodic sweep does at a deadline;
* ``comments``: ``add_comment``, a reviewer's note before deciding;
* ``common``: the errors they raise and the row lock they share.

Every change is told after commit to the open inboxes and to the item's open pages
(``reviews.presence``).
"""

from . import answers, approvals, assignment, claims, comments, common, deadlines
from .answers import *  # noqa: F403
from .approvals import *  # noqa: F403
from .assignment import *  # noqa: F403
from .claims import *  # noqa: F403
from .comments import *  # noqa: F403
from .common import *  # noqa: F403
from .deadlines import *  # noqa: F403

__all__ = [
    *answers.__all__,
    *approvals.__all__,
    *assignment.__all__,
    *claims.__all__,
    *comments.__all__,
    *common.__all__,
    *deadlines.__all__,
]
