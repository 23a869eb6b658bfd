"""daphne's command line with the size limits the server patches allow, decided in the
worker itself: ``python -m realtime.server.rundaphne --max-frame N [daphne's options] APP``.

daphne reads ``--websocket-max-*`` before it loads the application, and without the
server patches autobahn would apply the message limit to what the server sends too (a
history page or a resume over it could not go out). This asks the patches' guard in the
same process, just before daphne starts, so the options always match what
``rtsite.asgi`` will install, a worker restarted after an upgrade included
(docs/decisions.md, "Server patches guarded to what was tested").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import uvloop

# uvloop under Twisted's asyncio reactor (RT_UVLOOP=0: asyncio's own loop). daphne makes
# its loop with asyncio.new_event_loop() as daphne.server is first imported, so the
# policy is set before that import. Measured in issue 29 (docs/decisions.md).
if os.environ.get("RT_UVLOOP", "1") != "0":
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

from daphne.cli import CommandLineInterface

from realtime.server import patches


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--max-frame", type=int, required=True)
    ours, daphne_args = parser.parse_known_args(argv)
    CommandLineInterface().run([*patches.daphne_size_flags(ours.max_frame), *daphne_args])


if __name__ == "__main__":
    main(sys.argv[1:])
