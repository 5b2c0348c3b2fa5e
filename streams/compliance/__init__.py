"""Compliance rules: file format, ASR-tolerant phrase matching, evaluation over a call (pure)."""
