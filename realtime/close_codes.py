"""The close codes the site's sockets close with, declared once (docs/protocol.md and
the pages' ``static/realtime/protocol.js`` are generated from here)."""

# Close codes 4400-4499 tell the browser client not to reconnect (like HTTP's 4xx); 4500
# is retried. (Application close codes must be 1000 or 3000-4999: autobahn refuses 1011
# from an application.)
CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN = 4403
CLOSE_LOGGED_OUT = 4401
CLOSE_TOO_MANY = 4429
# The user is no longer a member of the private room (removed, or left).
CLOSE_REMOVED = 4410
CLOSE_SERVER_ERROR = 4500
# A draining process (SIGTERM, ``realtime.server.drain``): the client reconnects, to another.
CLOSE_RESTART = 1012
# Not now, but soon: a user over the socket cap while some of the sockets counted may be
# of a process that just died.
CLOSE_TRY_AGAIN = 1013
