"""The LangChain integration is optional (issue 7, item 7): the runtime works without
langchain-core installed and imports it only when a program uses it."""

from __future__ import annotations

WITHOUT_LANGCHAIN = """
import sys
sys.modules["langchain_core"] = None  # as if not installed: importing it raises ImportError
import workflows
from workflows import entrypoint, task

@task
def double(x: int) -> int:
    return 2 * x

@entrypoint()
def wf(x: int) -> int:
    return double(x).result()

print(list(wf.stream(2, stream_mode=["messages", "tools", "updates"])))
try:
    wf.invoke(1, {"callbacks": [object()]})
except ImportError as exc:
    print("ImportError:", exc)
"""


LAZY = """
import sys
from workflows import entrypoint

@entrypoint()
def wf(x: int) -> int:
    return x

wf.invoke(1)
print("langchain_core" in sys.modules)
"""


def run_python(code: str) -> str:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip()


def test_runtime_works_without_langchain():
    assert run_python(WITHOUT_LANGCHAIN).splitlines() == [
        "[('updates', {'double': 4}), ('updates', {'wf': 4})]",
        'ImportError: config["callbacks"] needs langchain-core: pip install "flowsite[agents]"',
    ]


def test_langchain_is_imported_only_when_used():
    assert run_python(LAZY) == "False"
