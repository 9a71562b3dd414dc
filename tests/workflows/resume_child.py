"""Run in a subprocess: resume a thread from the database alone and print the result as JSON.

Usage: python -m tests.workflows.resume_child THREAD_ID RESUME_JSON
(DATABASE_URL must name the test database.)
"""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")

import django  # noqa: E402

django.setup()

from tests.workflows.crossproc_workflow import crossproc_essay  # noqa: E402
from workflows import Command  # noqa: E402

thread_id, resume = sys.argv[1], json.loads(sys.argv[2])
result = crossproc_essay.invoke(Command(resume=resume), {"configurable": {"thread_id": thread_id}})
print(json.dumps(result))
