"""A test app for worker processes (``tests.workflows.worker_settings``): its ``workflows``
module registers the workflow whose tasks count their executions."""
