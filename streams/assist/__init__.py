"""The assistant of the streams stage: per-call state, strategies, risk, and the
records-in, drafts-out :class:`~streams.assist.assistant.Assistant` (no Faust here)."""
