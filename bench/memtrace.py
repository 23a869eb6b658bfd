"""The site's ASGI application with tracemalloc on (``python -m bench.memory``).

A daphne process started on ``bench.memtrace:application`` writes a tracemalloc
snapshot to ``<RT_MEMTRACE_FILE>.<n>`` at each SIGUSR1, for the bench to compare: what
the sockets opened in between hold, by file and line.
"""

from __future__ import annotations

import itertools
import os
import signal
import tracemalloc
from typing import Any

tracemalloc.start(int(os.environ.get("RT_MEMTRACE_FRAMES", "1")))

from rtsite.asgi import application  # noqa: E402, F401 - what daphne serves

_counter = itertools.count()


def _dump(signum: int, frame: Any) -> None:
    tracemalloc.take_snapshot().dump(f"{os.environ['RT_MEMTRACE_FILE']}.{next(_counter)}")


signal.signal(signal.SIGUSR1, _dump)
