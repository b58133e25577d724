"""Tools for developers and operators, not for the bot's users: servers of one's own to break on purpose, and the
cluster's fault simulation."""
