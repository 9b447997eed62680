"""Smoke run of the benchmark scripts (bench/run_all.sh runs the real ones,
outside ctest): a small backlog through bench/throughput.py, so the script
that produces docs/bench.md's throughput figures keeps working. Its figures
here mean nothing (sanitizer build, tiny backlog)."""
import json
import os
import subprocess
import sys

import harness

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_throughput_bench_moves_every_record_and_reports_cpu_and_rss(a):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "throughput.py"), "--bin", a.bin,
                        "--records", "500", "--no-wrk", "--json", "--timeout", "90"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["records"] == 500 and res["posted"] == 500, res
    assert res["ratelimited"] == 0, res
    assert res["records_per_s"] > 0 and res["wall_s"] > 0, res
    for stage in ("poller", "formatter", "dispatcher-0", "auditor"):
        assert res["cpu_s_per_1000"][stage] > 0, (stage, res)
        assert res["peak_rss_kb"][stage] > 1000, (stage, res)


if __name__ == "__main__":
    harness.run([test_throughput_bench_moves_every_record_and_reports_cpu_and_rss])
