"""Run in a subprocess: start ``slow_run`` on a thread and print the outcome's type name.

Usage: python -m tests.workflows.start_child THREAD_ID REQUEST_JSON
"""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")

import django  # noqa: E402

django.setup()

from tests.workflows.crossproc_workflow import slow_run  # noqa: E402

thread_id, request = sys.argv[1], json.loads(sys.argv[2])
try:
    print(slow_run.invoke(request, {"configurable": {"thread_id": thread_id}}))
except Exception as exc:  # the test reads the error's type and message
    print(f"{type(exc).__name__}: {exc}")
