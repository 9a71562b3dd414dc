"""Benchmarks of Flowsite (scripts: ``bench/*.py``; ``bench.settings`` and ``bench.app`` are what
the served benchmarks run the site with)."""
