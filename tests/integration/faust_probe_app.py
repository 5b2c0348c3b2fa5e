"""A tiny Faust worker used by test_embedded_quirks.py as a real, separately started process.

Agents: ``count`` adds each record's integer value to a table keyed by the record key and,
for a value of 0 (a probe), writes ``key=current total`` to the ``out`` topic (for -1: the
sum over all keys); ``hop``
forwards records unchanged to the ``hop_out`` topic (one Faust hop, for latency).
Settings come from CALLASSIST_* like every callassist process; topic names from argv.
"""

from __future__ import annotations

import sys

import faust

from streams.platform.settings import CommonSettings
from streams.worker.faust_app import make_app


def build(app_id: str, prefix: str) -> faust.App:
    settings = CommonSettings()
    app = make_app(settings, app_id, topic_partitions=1)
    counts_in = app.topic(f"{prefix}.counts", partitions=1)
    out = app.topic(f"{prefix}.out", partitions=1)
    hop_in = app.topic(f"{prefix}.hop", partitions=1)
    hop_out = app.topic(f"{prefix}.hop_out", partitions=1)
    table = app.Table("totals", default=int, partitions=1)

    @app.agent(counts_in)
    async def count(stream: faust.StreamT) -> None:
        async for event in stream.events():
            key = event.key.decode()
            value = int(event.value)
            if value == 0:
                await out.send(key=event.key, value=f"{key}={table[key]}".encode())
            elif value < 0:  # probe of the whole table: the sum of all totals
                await out.send(key=event.key, value=f"{key}={sum(table.values())}".encode())
            else:
                table[key] += value

    @app.agent(hop_in)
    async def hop(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await hop_out.send(key=event.key, value=event.value)

    return app


if __name__ == "__main__":
    app_id, prefix = sys.argv[1], sys.argv[2]
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    build(app_id, prefix).main()
