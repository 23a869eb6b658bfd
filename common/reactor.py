"""Twisted's reactor, where daphne runs one.

Importing ``twisted.internet.reactor`` installs Twisted's default reactor when none is
installed yet. daphne installs its asyncio reactor first; under ``manage.py``, tests or
another server nothing may install one. So the reactor is imported in this one place,
deliberately inside the function, and only once something has installed it.
"""

from __future__ import annotations

import sys
from typing import Any


def installed_reactor() -> Any | None:
    """The reactor daphne installed, or None outside a Twisted server."""
    if "twisted.internet.reactor" not in sys.modules:
        return None
    from twisted.internet import reactor  # deliberately here: see the module's doc

    return reactor
