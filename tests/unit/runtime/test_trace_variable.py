"""``_X_AMZN_TRACE_ID`` is set per invocation without glibc's setenv leak, in the Python
worker and in the Node.js bootstrap."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from canaria.runtime.launch import NODE_DIR

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
    del os.environ["_X_AMZN_TRACE_ID"]  # removed by the handler: ours again too
    trace.set("Root=1-third")
    assert libc.getenv(b"_X_AMZN_TRACE_ID") == b"Root=1-third" == os.environb[b"_X_AMZN_TRACE_ID"]
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


NODE_PROBE = """
const traceenv = require(process.argv[1]);
const grown = () => {
  global.gc();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 200000; i++) {
    const root = i.toString(16).padStart(24, '0');
    process.env._X_AMZN_TRACE_ID = `Root=1-00000000-${root};Parent=0;Sampled=0`;
  }
  global.gc();
  return Math.round((process.memoryUsage().rss - before) / 1024);
};
const plain = grown();
traceenv.install();
const ours = grown();
process.env.TZ = 'America/New_York';  // other variables still reach the real environment
const tz = new Date(0).getTimezoneOffset();
const child = require('child_process').execSync('echo $_X_AMZN_TRACE_ID').toString().trim();
console.log(ours, plain, tz, child === process.env._X_AMZN_TRACE_ID);
"""


def test_the_node_bootstrap_keeps_trace_ids_out_of_the_c_environment() -> None:
    out = subprocess.run(
        ["node", "--expose-gc", "-e", NODE_PROBE, str(NODE_DIR / "traceenv.js")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    ours_kib, plain_kib, tz_offset, child_agrees = int(out[0]), int(out[1]), int(out[2]), out[3]
    assert ours_kib < 4096, f"grew {ours_kib} KiB over 200,000 invocations"
    assert plain_kib > 16 * 1024  # what process.env alone costs
    assert tz_offset == 300 and child_agrees == "true"
