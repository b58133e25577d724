"""The job flow and all its rules, as plain state machines the dispatcher actor drives (no pykka here).

- ``jobflow``: ``JobFlow``, the dispatcher's brain: a job's steps, retries and failover, what happens on each result.
- ``tasks``: the work items handed to actors (download ranges, preparation, transcription of a chunk).
- ``outcomes``: what a finished step means for its job; ``effects``: what the flow asks the actor to do, as values.
- ``placement`` (which member takes a task), ``roster`` (members and their states), ``routing`` (provider order,
  durations), ``admission`` (per-user limits and the queue), ``breaker`` (a provider's circuit breaker).
"""
