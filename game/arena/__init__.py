"""Snake arenas at run time (``store``: Redis keys, Lua and reads; ``world``: the
world beside the rules and its frames; ``owner``: one arena's authority; ``host``: this
process's claimers and ticker): one authority per arena, across any number of processes.

The world of an arena is run by one process at a time, its *owner*, at a fixed tick
(``ARENA_TICKS_PER_SECOND``), with the pure rules of ``game.snake``. Every daphne
process can be the owner; there is no separate worker to run and supervise.

- **Lease.** The owner holds ``<prefix>:arena:<id>:owner`` in Redis; its value names the
  owner's hub channel (see Inputs). Every tick renews it in the Lua call that logs the
  tick, and that call refuses a process that no longer holds it (fencing): a stalled
  owner that lost its lease cannot write or broadcast another tick.
- **One ticker per process.** A process steps every arena it owns in one pass a tick,
  commits them all in one Lua call, hands their frames to its own sockets directly and
  sends the other processes one layer message with all of them (``publish_batch``): per
  tick, one Redis call and one group send, whatever the number of arenas.
- **Inputs.** A socket's turns, joins and leaves go to the owner through the channel
  layer, to the owner process's hub channel (``Hub.attach``), and straight to the owner
  when it is in the same process. The lease's value names that channel.
- **Turns** are for the world their player saw: each names the owner's epoch, the round
  and the newest tick its socket had, and the owner applies it within
  ``ARENA_TURN_WINDOW_TICKS`` of that tick, in that epoch and round, or never. A turn sent
  with a ``ref`` carries a tag: the tick that applies it records the tag in Redis (in the
  same call that logs the tick) and names it to the sockets, and a refusal names it too.
  Once no tick can apply it any more (a later tick past the window, a new round, a new
  owner), a tag in neither was lost with its owner (or on the way): the socket answers
  ``ack`` only for a turn applied, ``not_applied`` for the rest.
- **Ticks.** Every process's hub hands the ticks of the batches it receives to its own
  sockets, so a client may connect to any process.
- **Snapshots.** Every ``ARENA_SNAPSHOT_SECONDS`` (and at every change of players or
  phase) the owner stores the whole world; between snapshots it logs each tick's turns.
  The rules are deterministic, so snapshot + log replays to exactly the owner's world.
  A joining socket reads both to get the current world; a new owner does the same.
- **Failover.** Each process with a socket on an arena tries every ``ARENA_CLAIM_SECONDS``
  to take the lease; once a dead owner's lease lapses (``ARENA_LEASE_SECONDS``), one of
  them wins, replays, and play goes on from the last logged tick.

An arena is *waiting* (no players), in *play* (a round), or showing its round's
*results*; a round's results go to the database (``game.services``).
"""
