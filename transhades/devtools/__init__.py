"""Tools for developers and operators, not for the bot's users; nothing in the product imports them (only the
commands of ``transhades bench`` and ``transhades simulate`` run them).

- ``bench``: the brief's numbers against baselines; ``cpu``: CPU per voice note; ``scaling``: scale-out.
- ``simulate`` (+ ``chaos``: faults on purpose, ``doubles``: instant stand-ins): the actor system under faults.
- ``cluster_sim``: a cluster of real processes under Redis, PostgreSQL and process faults; ``lab``: those
  processes; ``servers``: Redis and PostgreSQL servers of one's own to stop and restart.
"""
