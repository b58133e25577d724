"""The plain parts of supervision: restart policy as data (``policy``: ``ChildSpec``, ``RestartPolicy``, backoff,
intensity, escalation) and the registry that addresses actors by name across restarts (``registry``)."""
