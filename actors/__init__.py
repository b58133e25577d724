"""The actor shells. Each receives messages and calls a plain object from ``transhades``; none holds rules."""
