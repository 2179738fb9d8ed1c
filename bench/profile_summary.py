"""Summarise a py-spy raw profile of the ingest thread: ``python -m bench.profile_summary prof.txt``.

Record one with::

    py-spy record -r 200 -f raw -o prof.txt -- python -m bench.run --quick
"""

from __future__ import annotations

import re
import sys
from collections import Counter

_LINE = re.compile(r" \(([^:]*):\d+\)$")
_OURS = ("stream/", "sinks/", "detectors/", "pickle", "clickhouse_driver", "msgspec", "numpy")


def summarise(path: str, marker: str = "Runtime._run_ingest", top: int = 30) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            stack, _, count = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            if not any(marker in f for f in frames):
                continue
            n = int(count)
            total += n
            frames = [_LINE.sub(r" (\1)", f) for f in frames if "bench/stages.py" not in f]
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    out = [f"samples in the ingest thread: {total}", "", "self time:"]
    out += [f"{100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    out += ["", "inclusive time (driftline and its libraries):"]
    out += [f"{100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(200)
            if any(k in f for k in _OURS)][:top]
    return "\n".join(out)


if __name__ == "__main__":
    print(summarise(sys.argv[1]))
