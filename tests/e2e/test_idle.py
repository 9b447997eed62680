"""Between two polls the four stages sleep: no process wakes up on a
periodic timer while nothing is due (issue 7: "no CPU used between
polls"). A loop that capped its poll timeout (it used to be 1 s) shows up
as context switches in every window."""
import glob
import time

import harness
from harness import Pipeline, wait_for

WINDOW_S = 2.5


def switches(pid):
    """Voluntary + involuntary context switches of every thread of pid
    (ZeroMQ's I/O threads count too)."""
    total = 0
    for f in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            with open(f) as fh:
                for line in fh:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            pass  # a thread that just exited
    return total


def test_stages_do_not_wake_between_polls(a):
    p = Pipeline(a.bin, x3_args=["--rate", "0", "--initial", "3", "--entities", "po", "--seed", "5"],
                 keep=a.keep, poll_interval="60s", min_interval="0s", log_level="warn")
    try:
        p.start_all()
        wait_for(lambda: len(p.messages()) >= 3, 30, "the first poll's 3 messages")
        pids = {n: pr.pid for n, pr in p.procs.items()}
        quiet = {}
        seen = {}

        def all_quiet_once():
            # Acks and audit events settle within a window or two; a stage
            # counts as quiet once it had one whole window without a single
            # wake-up. A periodic timer never gives one.
            s0 = {n: switches(pid) for n, pid in pids.items()}
            time.sleep(WINDOW_S)
            for n, pid in pids.items():
                assert p.alive(n), n + " exited"
                d = switches(pid) - s0[n]
                seen.setdefault(n, []).append(d)
                if d == 0:
                    quiet[n] = True
            return len(quiet) == len(pids)

        try:
            wait_for(all_quiet_once, 25, "a window of %.1f s without wake-ups in every stage" % WINDOW_S)
        except AssertionError:
            raise AssertionError("wake-ups per %.1f s window: %r" % (WINDOW_S, seen))
        # Still nothing lost on the way: the poll's messages arrived once.
        assert len(p.messages()) == 3, p.messages()
        # Sleeping without a timeout, each stage still stops at once on
        # SIGTERM (the signal wakes the loop).
        t0 = time.monotonic()
        codes = p.stop_all()
        assert all(c == 0 for c in codes.values()), codes
        assert time.monotonic() - t0 < 10, "stopping took %.1f s" % (time.monotonic() - t0)
    finally:
        p.close()


if __name__ == "__main__":
    harness.run([test_stages_do_not_wake_between_polls])
