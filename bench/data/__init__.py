"""Benchmark inputs: the sample call's reference transcript, bench rules and KB (a package so they ship)."""
