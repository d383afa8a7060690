"""The worker's ``_X_AMZN_TRACE_ID``: set per invocation without glibc's setenv leak."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import ctypes, os
    from canaria.runtime.worker import TraceVariable

    def rss_kib():  # not ru_maxrss, which a child inherits from its parent's peak
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    def grown(set_one):
        before = rss_kib()
        for i in range(200_000):
            set_one(f"Root=1-00000000-{i:024x};Parent=0000000000000000;Sampled=0")
        return rss_kib() - before

    trace = TraceVariable()
    ours = grown(trace.set)
    libc = ctypes.CDLL(None)
    libc.getenv.restype = ctypes.c_char_p
    assert libc.getenv(b"_X_AMZN_TRACE_ID").decode() == os.environ["_X_AMZN_TRACE_ID"]
    os.environ["_X_AMZN_TRACE_ID"] = "set by the handler"  # then ours again
    trace.set("Root=1-again")
    assert libc.getenv(b"_X_AMZN_TRACE_ID") == b"Root=1-again" == os.environb[b"_X_AMZN_TRACE_ID"]
    def plain(value):
        os.environ["_X_AMZN_TRACE_ID"] = value
    print(ours, grown(plain))
    """
)


def test_a_trace_id_per_invocation_does_not_grow_the_worker() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    ours_kib, plain_kib = int(out[0]), int(out[1])
    assert ours_kib < 1024, f"grew {ours_kib} KiB over 200,000 invocations"
    assert plain_kib > 10 * 1024  # what os.environ alone costs: glibc keeps every value
