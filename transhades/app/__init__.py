"""The application: what starts and serves the bot.

- ``tree``: the supervision tree as data (``child_specs``), ``start_tree``, the ``Tree`` handle, and ``main`` (what
  ``python supervisor.py`` runs).
- ``service``: ``transhades run``: config, signals, health server, drain and stop.
- ``cli``: every command of ``transhades``; ``chat``: the bot in a terminal; ``early``: signals while loading.
- ``health``: /healthz, /readyz, /metrics; ``logs``: one line per record, secrets redacted.
"""
