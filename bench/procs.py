"""CPU and memory of each component process while ``callassist bench`` runs a load level (psutil).

A thread samples every process tree (the component and its children) once a second: CPU
from the difference of cumulative CPU times (user + system, so nothing is lost between
samples), memory as resident set size.  Averages are CPU-seconds over wall seconds, i.e.
"cores busy"; the machine's other tenants do not count (the bench reports that the CPU was
shared, it cannot see by whom).
"""

from __future__ import annotations

import threading
import time

import psutil

from bench.stats import ProcessUsage

BENCH = "bench client"  # the bench's own process: replay clients and readers, without its children


def _tree(pid: int, children: bool) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)] if children else [p]
    except psutil.Error:
        return []


def _cpu_rss(pid: int, children: bool = True) -> tuple[float, float]:
    cpu = rss = 0.0
    for p in _tree(pid, children):
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except psutil.Error:
            continue  # exited between listing and reading
    return cpu, rss


class UsageSampler:
    def __init__(self, pids: dict[str, int], own_pid: int | None = None, interval_s: float = 1.0) -> None:
        # the bench itself is the parent of every component: count it without its children
        self.pids = {**pids, BENCH: own_pid} if own_pid else dict(pids)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-usage", daemon=True)
        self._start: dict[str, tuple[float, float]] = {}
        self._prev: dict[str, tuple[float, float]] = {}
        self._peak_cpu: dict[str, float] = dict.fromkeys(self.pids, 0.0)
        self._peak_rss: dict[str, float] = dict.fromkeys(self.pids, 0.0)
        self._t0 = 0.0

    def start(self) -> UsageSampler:
        self._t0 = time.monotonic()
        for name, pid in self.pids.items():
            cpu, rss = _cpu_rss(pid, name != BENCH)
            self._start[name] = self._prev[name] = (cpu, self._t0)
            self._peak_rss[name] = rss
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> dict[str, float]:
        now = time.monotonic()
        rss_now: dict[str, float] = {}
        for name, pid in self.pids.items():
            cpu, rss = _cpu_rss(pid, name != BENCH)
            prev_cpu, prev_t = self._prev[name]
            if now > prev_t:
                self._peak_cpu[name] = max(self._peak_cpu[name], (cpu - prev_cpu) / (now - prev_t))
            self._prev[name] = (cpu, now)
            self._peak_rss[name] = max(self._peak_rss[name], rss)
            rss_now[name] = rss
        return rss_now

    def stop(self) -> list[ProcessUsage]:
        self._stop.set()
        self._thread.join()
        rss_end = self._sample()
        out = []
        for name in self.pids:
            cpu_end, t_end = self._prev[name]
            cpu_start, t_start = self._start[name]
            wall = max(t_end - t_start, 1e-9)
            out.append(ProcessUsage(
                name, (cpu_end - cpu_start) / wall, self._peak_cpu[name],
                self._peak_rss[name] / 2**20, rss_end.get(name, 0.0) / 2**20,
            ))
        return out
