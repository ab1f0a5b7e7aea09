"""How much memory this process holds, from Linux's /proc (for the build log and the benchmarks)."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")


def memory_mb() -> dict[str, float]:
    """VmRSS (resident now), RssAnon (resident and private) and VmHWM (peak resident) in MB; empty where /proc is
    not there (not Linux)."""
    fields = {}
    try:
        lines = _STATUS.read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        name, _, value = line.partition(":")
        if name in {"VmRSS", "RssAnon", "VmHWM"}:
            fields[name] = int(value.split()[0]) / 1024
    return fields


def resident_mb() -> float:
    """VmRSS in MB (0.0 where unknown)."""
    return memory_mb().get("VmRSS", 0.0)
