"""Transcripts kept by their media's content (``stores``: ``open_store`` over memory, SQLite or Redis; each entry
records its owners, so ``/forget`` erases a user's share)."""
