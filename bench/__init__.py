"""Benchmarks and evaluations: commands that print numbers (the one home of them).

``callassist bench`` is :mod:`bench.cli`; every other module runs as ``python -m bench.NAME``
(see README.md and docs/bench.md). bench/ sits above every component and may import any of
them; nothing in pipeline/, assist_ui/, streams/ or models/ imports bench/.
"""
