"""The served benchmarks' workflows (``bench.app.workflows``), installed by ``bench.settings``."""
