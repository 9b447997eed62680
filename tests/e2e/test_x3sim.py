#!/usr/bin/env python3
"""End-to-end smoke test of mlc-x3sim, the simulated Sage X3 server.

Starts the real binary on an ephemeral loopback port and checks, over HTTP,
what the connector's poller relies on: Basic auth, the api1 envelope, exact
two-decimal amounts, $next paging (also while records change), where and
orderBy, $diagnoses errors, and the /sim/ ground-truth and control routes.

    python3 test_x3sim.py --bin <cmake build dir>   # binary: <bin>/sim/mlc-x3sim
"""
import argparse
import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

DEADLINE_S = 10
PASSWORD = "s3cret-x3"


class Sim:
    def __init__(self, binary, workdir, extra):
        self.port_file = os.path.join(workdir, "x3sim.port")
        self.log_path = os.path.join(workdir, "x3sim.log")
        env = dict(os.environ, X3SIM_TEST_PW=PASSWORD)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--port-file", self.port_file,
             "--password-env", "X3SIM_TEST_PW", "--folder", "SEED"] + extra,
            stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        deadline = time.monotonic() + DEADLINE_S
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("mlc-x3sim exited early with %s" % self.proc.returncode)
            if time.monotonic() > deadline:
                raise RuntimeError("mlc-x3sim wrote no port file in %ss" % DEADLINE_S)
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.banner = self.proc.stdout.readline().strip()
        self.base = "http://127.0.0.1:%d" % self.port
        self.api = self.base + "/api1/x3/erp/SEED/PORDER"

    def stop(self):
        """SIGTERM, expect a clean exit 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return -9
        self.log.close()
        return self.proc.returncode


def request(url, method="GET", auth=("admin", PASSWORD)):
    """Returns (status, headers, raw body text)."""
    req = urllib.request.Request(url, method=method)
    if auth is not None:
        tok = base64.b64encode(("%s:%s" % auth).encode()).decode()
        req.add_header("Authorization", "Basic " + tok)
    if method == "POST":
        req.data = b""
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE_S) as resp:
            return resp.status, resp.headers, resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8")


def query_url(sim, count=None, where=None, order_by=None, rep="PORDER.$query"):
    params = [("representation", rep)]
    if count is not None:
        params.append(("count", str(count)))
    if where is not None:
        params.append(("where", where))
    if order_by is not None:
        params.append(("orderBy", order_by))
    return sim.api + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def get_json(url, expect=200, **kw):
    status, headers, body = request(url, **kw)
    if status != expect:
        raise AssertionError("GET %s: HTTP %d (expected %d): %s" % (url, status, expect, body[:300]))
    # Amounts must stay exact decimal text: never let them become floats.
    return json.loads(body, parse_float=str), headers, body


def fetch_all(sim, url, between_pages=None):
    """Follows $links.$next until absent; returns (pages, all resources)."""
    pages, rows = 0, []
    while url is not None:
        doc, _, _ = get_json(url)
        pages += 1
        assert pages < 10000, "paging does not terminate"
        rows.extend(doc["$resources"])
        nxt = doc["$links"].get("$next")
        url = nxt["$url"] if nxt else None
        if url is not None and between_pages is not None:
            between_pages()
    return pages, rows


def assert_diagnosis(body, code=None):
    doc = json.loads(body)
    diags = doc.get("$diagnoses")
    assert isinstance(diags, list) and diags, "no $diagnoses in %r" % body
    assert diags[0]["$severity"] == "error", diags
    assert diags[0]["$message"], diags
    if code is not None:
        assert diags[0]["$sdataCode"] == code, diags


# ---- the checks -------------------------------------------------------------

def t_banner_and_port_file(sim):
    assert sim.banner == "mlc-x3sim listening on http://127.0.0.1:%d" % sim.port, sim.banner


def t_missing_or_wrong_auth_is_401_with_syracuse_realm(sim):
    for auth in (None, ("admin", "wrong"), ("other", PASSWORD)):
        status, headers, body = request(query_url(sim), auth=auth)
        assert status == 401, (auth, status)
        assert headers["WWW-Authenticate"] == 'Basic realm="Syracuse"', headers
        assert_diagnosis(body)
    with open(sim.log_path) as f:
        assert PASSWORD not in f.read(), "password leaked into the log"


def t_envelope_has_sdata_fields_and_exact_amounts(sim):
    doc, headers, body = get_json(query_url(sim))
    assert headers["Content-Type"] == "application/json; charset=utf-8", headers["Content-Type"]
    for k in ("$itemsPerPage", "$totalResults", "$startIndex", "$resources", "$links"):
        assert k in doc, k
    assert doc["$itemsPerPage"] == 20 and doc["$startIndex"] == 1, doc
    assert doc["$totalResults"] == len(doc["$resources"]) == 6, doc["$totalResults"]
    assert "$next" not in doc["$links"]
    for r in doc["$resources"]:
        for k in ("$uuid", "$key", "$url", "$etag", "POHNUM", "POHFCY", "BPSNUM", "ORDDAT",
                  "CUR", "TOTORD", "TTVORD", "APPFLG", "CLEFLG", "ORDREF", "CREDATTIM",
                  "UPDDATTIM", "UPDUSR"):
            assert k in r, (k, r)
        assert r["$key"] == r["POHNUM"]
        assert re.fullmatch(r"PO\d{4}-\d{6}", r["POHNUM"]), r["POHNUM"]
        assert r["BPSNUM_REF"]["$description"] == r["BPSNUM_REF"]["$title"] != ""
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["UPDDATTIM"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", r["ORDDAT"])
        assert r["CUR"] in ("EUR", "USD", "GBP")
        assert 1 <= r["APPFLG"] <= 5 and r["CLEFLG"] in (1, 2)
        # parse_float=str: the raw JSON number text, which must be n.dd
        assert re.fullmatch(r"\d+\.\d\d", r["TOTORD"]), r["TOTORD"]
        assert re.fullmatch(r"\d+\.\d\d", r["TTVORD"]), r["TTVORD"]
    assert re.search(r'"TOTORD":\d+\.\d\d[,}]', body), "amounts are not JSON numbers"
    # the details URL of a resource works
    d, _, _ = get_json(doc["$resources"][0]["$url"])
    assert d["$key"] == doc["$resources"][0]["$key"]


def t_paging_by_two_returns_every_row_once(sim):
    request(sim.base + "/sim/generate?n=9", method="POST", auth=None)
    full, _, _ = get_json(query_url(sim, count=1000))
    expect = sorted(r["$key"] for r in full["$resources"])
    for order in (None, "UPDDATTIM asc,POHNUM asc", "TOTORD desc", "APPFLG;UPDDATTIM desc"):
        pages, rows = fetch_all(sim, query_url(sim, count=2, order_by=order))
        keys = [r["$key"] for r in rows]
        assert sorted(keys) == expect, (order, keys, expect)
        assert pages == (len(expect) + 1) // 2, (order, pages)
    # the default order is by key
    _, rows = fetch_all(sim, query_url(sim, count=3))
    assert [r["$key"] for r in rows] == expect


def t_paging_while_records_change_skips_nothing(sim):
    before, _, _ = get_json(query_url(sim, count=1000))
    start = {r["$key"] for r in before["$resources"]}
    gen = lambda: request(sim.base + "/sim/generate?n=3", method="POST", auth=None)
    _, rows = fetch_all(sim, query_url(sim, count=2, order_by="UPDDATTIM asc,POHNUM asc"), gen)
    seen = [(r["$key"], r["$etag"]) for r in rows]
    assert len(seen) == len(set(seen)), "a version was served twice in one query"
    missing = start - {k for k, _ in seen}
    assert not missing, "rows skipped while paging: %s" % sorted(missing)


def t_where_upddattim_gt_filters(sim):
    full, _, _ = get_json(query_url(sim, count=1000))
    stamps = sorted({r["UPDDATTIM"] for r in full["$resources"]})
    pivot = stamps[-1]
    # Make a later stamp: the clock has one-second precision, so wait (with a
    # deadline) until a generated change lands in a later second.
    deadline = time.monotonic() + DEADLINE_S
    while True:
        request(sim.base + "/sim/generate?n=1", method="POST", auth=None)
        doc, _, _ = get_json(query_url(sim, count=1000, where="UPDDATTIM gt @%s@" % pivot))
        if doc["$resources"]:
            break
        assert time.monotonic() < deadline, "no change after %s" % pivot
        time.sleep(0.05)
    assert all(r["UPDDATTIM"] > pivot for r in doc["$resources"])
    assert doc["$totalResults"] == len(doc["$resources"])
    everything, _, _ = get_json(query_url(sim, count=1000))
    later = {r["$key"] for r in everything["$resources"] if r["UPDDATTIM"] > pivot}
    assert {r["$key"] for r in doc["$resources"]} == later
    ge, _, _ = get_json(query_url(sim, count=1000, where="UPDDATTIM ge @%s@" % pivot))
    assert len(ge["$resources"]) > len(doc["$resources"])
    none, _, body = get_json(query_url(sim, where="UPDDATTIM gt @2999-01-01T00:00:00Z@"))
    assert none["$resources"] == [] and none["$totalResults"] == 0 and '"$resources":[]' in body
    key = everything["$resources"][0]["$key"]
    one, _, _ = get_json(query_url(
        sim, where="(POHNUM eq '%s' or POHNUM eq 'x''y') and UPDDATTIM ge @2000-01-01@" % key))
    assert [r["$key"] for r in one["$resources"]] == [key]


def t_errors_are_sdata_diagnoses(sim):
    cases = [
        (query_url(sim, rep="PORDR.$query"), 400, None, "PORDR.$query"),
        (query_url(sim, rep="PORDER.$details"), 400, None, "PORDER.$details"),
        (sim.api, 400, None, "representation"),
        (query_url(sim, count=0), 400, None, None),
        (query_url(sim, count=1001), 400, None, None),
        (query_url(sim, where="UPDDATTIM gt"), 400, "BadWhereSyntax", None),
        (query_url(sim, where="UPDDATTIM gt @2024-02-30@"), 400, "BadWhereSyntax", None),
        (query_url(sim, where="NOSUCH eq 1"), 500, None, "NOSUCH"),
        (query_url(sim, where="POHNUM eq 'x' " + " " * 4096), 400, "BadWhereSyntax", None),
        (query_url(sim, order_by="POHNUM sideways"), 400, None, None),
        (sim.api + "?representation=PORDER.$query&cursor=not-hex", 400, None, None),
        (sim.base + "/api1/x3/erp/OTHER/PORDER?representation=PORDER.$query", 404, None, "OTHER"),
        (sim.base + "/api1/x3/erp/SEED/NOPE?representation=NOPE.$query", 404, None, "NOPE"),
    ]
    for url, status, code, mentions in cases:
        got, headers, body = request(url)
        assert got == status, (url, got, body)
        assert headers["Content-Type"].startswith("application/json"), url
        assert_diagnosis(body, code)
        if mentions:
            assert mentions in json.loads(body)["$diagnoses"][0]["$message"], (url, body)


def t_truth_lists_exactly_the_served_versions(sim):
    doc, _, _ = get_json(query_url(sim, count=1000))
    served = {(r["$key"], r["UPDDATTIM"]): r for r in doc["$resources"]}
    request(sim.base + "/sim/generate?n=5", method="POST", auth=None)
    truth, _, _ = get_json(sim.base + "/sim/truth", auth=None)
    versions = {(v["key"], v["stamp"]): v for v in truth["versions"]}
    assert len(versions) == len(truth["versions"]), "truth repeats a (key, stamp)"
    for pair, r in served.items():
        v = versions.get(pair)
        assert v is not None, "served %s missing from truth" % (pair,)
        if v["revisions"] == 1:
            f = v["fields"]
            assert f["TOTORD"] == r["TOTORD"] and f["TTVORD"] == r["TTVORD"], (f, r)
            assert f["BPSNUM"] == r["BPSNUM"] and f["APPFLG"] == r["APPFLG"]
            assert f["BPSNUM_REF"] == r["BPSNUM_REF"]
    # versions generated but never served are not ground truth
    stats, _, _ = get_json(sim.base + "/sim/stats", auth=None)
    assert stats["served_versions"] == len(truth["versions"])
    assert stats["generated"] > stats["served_versions"] - 0  # sanity
    after, _, _ = get_json(query_url(sim, count=1000))
    truth2, _, _ = get_json(sim.base + "/sim/truth", auth=None)
    for r in after["$resources"]:
        assert any(v["key"] == r["$key"] and v["stamp"] == r["UPDDATTIM"]
                   for v in truth2["versions"])


def t_generate_pause_resume_and_stats(sim):
    s0, _, _ = get_json(sim.base + "/sim/stats", auth=None)
    doc, _, _ = get_json(sim.base + "/sim/generate?n=4", method="POST", auth=None)
    assert doc == {"generated": 4}, doc
    s1, _, _ = get_json(sim.base + "/sim/stats", auth=None)
    assert s1["generated"] == s0["generated"] + 4, (s0, s1)
    assert s1["requests"] > s0["requests"]
    status, _, body = request(sim.base + "/sim/generate?n=0", method="POST", auth=None)
    assert status == 400, body
    status, _, _ = request(sim.base + "/sim/generate", method="GET", auth=None)
    assert status == 405
    p, _, _ = get_json(sim.base + "/sim/pause", method="POST", auth=None)
    assert p == {"paused": True}
    r, _, _ = get_json(sim.base + "/sim/resume", method="POST", auth=None)
    assert r == {"paused": False}


def t_rate_generates_changes_and_max_versions_caps_them(binary, workdir):
    sim = Sim(binary, workdir, ["--rate", "50", "--initial", "2", "--max-versions", "12",
                                "--quiet", "--seed", "7"])
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            s, _, _ = get_json(sim.base + "/sim/stats", auth=None)
            if s["generated"] >= 12:
                break
            assert time.monotonic() < deadline, s
            time.sleep(0.05)
        g, _, _ = get_json(sim.base + "/sim/generate?n=5", method="POST", auth=None)
        assert g == {"generated": 0}, g
        s, _, _ = get_json(sim.base + "/sim/stats", auth=None)
        assert s["generated"] == 12, s
    finally:
        assert sim.stop() == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="cmake build directory")
    args = ap.parse_args()
    binary = os.path.join(args.bin, "sim", "mlc-x3sim")
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="x3sim-e2e-") as workdir:
        # Initial 6 records, no automatic changes: the test drives them.
        sim = Sim(binary, workdir, ["--rate", "0", "--initial", "6", "--seed", "1"])
        checks = [t_banner_and_port_file,
                  t_missing_or_wrong_auth_is_401_with_syracuse_realm,
                  t_envelope_has_sdata_fields_and_exact_amounts,
                  t_paging_by_two_returns_every_row_once,
                  t_paging_while_records_change_skips_nothing,
                  t_where_upddattim_gt_filters,
                  t_errors_are_sdata_diagnoses,
                  t_truth_lists_exactly_the_served_versions,
                  t_generate_pause_resume_and_stats]
        try:
            for check in checks:
                try:
                    check(sim)
                    passed += 1
                    print("ok   %s" % check.__name__)
                except Exception:
                    failed += 1
                    print("FAIL %s" % check.__name__)
                    traceback.print_exc(file=sys.stdout)
        finally:
            rc = sim.stop()
        if rc == 0:
            passed += 1
            print("ok   sigterm_exits_0")
        else:
            failed += 1
            print("FAIL sigterm_exits_0 (exit %s)" % rc)
            with open(sim.log_path) as f:
                sys.stdout.write(f.read()[-4000:])
        sub = os.path.join(workdir, "second")
        os.mkdir(sub)
        try:
            t_rate_generates_changes_and_max_versions_caps_them(binary, sub)
            passed += 1
            print("ok   t_rate_generates_changes_and_max_versions_caps_them")
        except Exception:
            failed += 1
            print("FAIL t_rate_generates_changes_and_max_versions_caps_them")
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
