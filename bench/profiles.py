"""Where the site's processes spend their CPU during a bench window: py-spy, summarised.

``record(groups, seconds, out_dir)`` samples every process of each group (``{"web": [pid, ...]}``)
with ``py-spy record --format raw --gil`` (collapsed stacks, 100 samples/s, only threads holding the
GIL: CPU, not waits on the database or sockets) for
``seconds``, while the caller drives the load; ``summary(path)`` reads one group's stacks and
returns its top frames by inclusive share (the frame anywhere on the stack), Flowsite's own code
and the libraries it calls, so a bench can print "36% in ThreadConsumer.render_state".

py-spy is in the ``bench`` extra; it needs ptrace on the site's processes (they are this
process's children, so the default ``kernel.yama.ptrace_scope`` of 1 allows it when run as root
or with ``CAP_SYS_PTRACE``).
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["record", "summary"]

FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _is_stdlib(file: str) -> bool:
    """py-spy names a frame's file relative to its ``sys.path`` entry: ``threading.py``,
    ``asyncio/events.py`` (the interpreter's, on every stack) or ``django/db/...``."""
    top = file.split("site-packages/")[-1].split("/", 1)[0].removesuffix(".py")
    return top in sys.stdlib_module_names


def record(groups: dict[str, list[int]], seconds: float, out_dir: Path) -> list[subprocess.Popen]:
    """Start one py-spy per process; wait on the returned processes (they stop by themselves
    after ``seconds``). Raises ``FileNotFoundError`` without py-spy (``pip install -e '.[bench]'``)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise FileNotFoundError("py-spy is not installed: pip install -e '.[bench]'")
    out_dir.mkdir(parents=True, exist_ok=True)
    spies = []
    for group, pids in groups.items():
        for pid in pids:
            spies.append(subprocess.Popen(
                [py_spy, "record", "--format", "raw", "--rate", "100", "--gil", "--duration", str(int(seconds)),
                 "--pid", str(pid), "--output", str(out_dir / f"{group}-{pid}.txt"), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
    return spies


def summary(paths: list[Path], top: int = 25, *, by: str = "inclusive") -> list[tuple[float, str]]:
    """``[(share of samples, "function (file)"), ...]``: the ``top`` frames by share of the
    samples. ``by="inclusive"``: frames of Flowsite's code and of the libraries it calls, each
    counted once per stack it is on; ``by="self"``: the innermost frame of each stack, the
    interpreter's own included (where the time is spent, e.g. ``select``). Raises
    ``ValueError`` for another ``by``."""
    if by not in ("inclusive", "self"):
        raise ValueError(f"by must be 'inclusive' or 'self', not {by!r}")
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            if by == "self":
                inclusive[stack.rsplit(";", 1)[-1].strip()] += int(count)
                continue
            seen = set()
            for frame in stack.split(";"):
                match = FRAME.match(frame.strip())
                if match is None:
                    continue
                file = match["file"].split("site-packages/")[-1]
                if _is_stdlib(file):
                    continue
                name = f"{match['func']} ({file})"
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += int(count)
    if not total:
        return []
    return [(n / total, name) for name, n in inclusive.most_common(top)]
