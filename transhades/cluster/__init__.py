"""Scale-out: one bot over many processes, sharing work through Redis Streams (see ARCHITECTURE.md)."""
