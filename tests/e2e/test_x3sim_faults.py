#!/usr/bin/env python3
"""End-to-end tests of mlc-x3sim's run-time faults (POST /sim/fault): 5xx
rate, latency, licence throttling, 429 with Retry-After, malformed JSON, partial GraphQL answers,
equal stamps, late commits, changes during paging, and the listing, clearing
and counting of faults. (expire_tokens is covered in test_x3sim_auth.py.)

    python3 test_x3sim_faults.py --bin <cmake build dir>
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_x3sim_auth import (PASSWORD, PO_QUERY, Sim, api1_url, binary_from_args,  # noqa: E402
                             graphql, request, run_checks)

BASIC = ("admin", PASSWORD)


def fault(sim, query):
    return sim.sim("/sim/fault?" + query, method="POST")


def api1(sim, **kw):
    return request(api1_url(sim, **kw), basic=BASIC)


def fresh(binary, work, extra=()):
    return Sim(binary, work, ["--rate", "0", "--initial", "6", "--seed", "5", "--quiet"]
               + list(extra))


def t_5xx_rate_answers_html_503_on_data_routes_only(binary, work):
    sim = fresh(binary, work)
    try:
        fault(sim, "kind=5xx&rate=100")
        st, hdrs, body = api1(sim)
        assert st == 503 and hdrs["Content-Type"].startswith("text/html"), (st, hdrs)
        assert "<html>" in body and "Service Unavailable" in body
        st, _, _ = graphql(sim, PO_QUERY, {"first": 1}, basic=BASIC)
        assert st == 503
        assert sim.sim("/sim/stats")["faults"]["5xx"] == 2   # /sim/ is never faulted
        fault(sim, "kind=5xx&rate=50")
        codes = [api1(sim, count=1)[0] for _ in range(40)]
        assert set(codes) == {200, 503}, codes
        assert 5 <= codes.count(503) <= 35, codes
        fault(sim, "kind=clear")
        assert all(api1(sim, count=1)[0] == 200 for _ in range(10))
        assert sim.sim("/sim/fault")["active"] == {}
    finally:
        assert sim.stop() == 0


def t_latency_delays_data_requests(binary, work):
    sim = fresh(binary, work)
    try:
        fault(sim, "kind=latency&ms=400")
        t0 = time.monotonic()
        assert api1(sim)[0] == 200
        assert time.monotonic() - t0 >= 0.4
        t0 = time.monotonic()
        sim.sim("/sim/stats")
        assert time.monotonic() - t0 < 0.4
        assert sim.sim("/sim/fault")["active"] == {"latency": {"ms": 400}}
        fault(sim, "kind=latency&ms=0")
        t0 = time.monotonic()
        assert api1(sim)[0] == 200 and time.monotonic() - t0 < 0.4
    finally:
        assert sim.stop() == 0


def t_throttle_gives_licence_503_for_next_k(binary, work):
    sim = fresh(binary, work)
    try:
        fault(sim, "kind=throttle&n=2")
        for _ in range(2):
            st, hdrs, body = api1(sim)
            assert st == 503 and hdrs["Content-Type"].startswith("application/json"), st
            d = json.loads(body)["$diagnoses"][0]
            assert d["$severity"] == "error" and "licence" in d["$message"].lower(), d
            assert "no more return answers" in d["$message"], d
        assert api1(sim)[0] == 200
        assert sim.sim("/sim/stats")["faults"]["throttle"] == 2
    finally:
        assert sim.stop() == 0


def t_ratelimit_gives_429_with_retry_after_for_next_k(binary, work):
    sim = fresh(binary, work)
    try:
        doc = fault(sim, "kind=ratelimit&n=2&retry_after=3")
        assert doc["active"] == {"ratelimit": {"n": 2, "retry_after": 3}}, doc
        st, hdrs, body = api1(sim)
        assert st == 429 and hdrs["Retry-After"] == "3", (st, dict(hdrs))
        d = json.loads(body)["$diagnoses"][0]
        assert d["$severity"] == "error" and "retry after 3" in d["$message"], d
        st, hdrs, _ = graphql(sim, PO_QUERY, {"first": 1}, basic=BASIC)
        assert st == 429 and hdrs["Retry-After"] == "3", st
        assert api1(sim)[0] == 200
        assert sim.sim("/sim/stats")["faults"]["ratelimit"] == 2
        fault(sim, "kind=ratelimit&n=1")   # Retry-After defaults to 1
        st, hdrs, _ = api1(sim)
        assert st == 429 and hdrs["Retry-After"] == "1", (st, dict(hdrs))
        fault(sim, "kind=ratelimit&n=5")
        assert fault(sim, "kind=clear")["active"] == {}
        st, hdrs, _ = api1(sim)
        assert st == 200 and "Retry-After" not in hdrs, (st, dict(hdrs))
    finally:
        assert sim.stop() == 0


def t_malformed_pages_have_invalid_escape(binary, work):
    sim = fresh(binary, work)
    try:
        fault(sim, "kind=malformed&n=2")
        st, _, body = api1(sim, cls="PINVOICE")
        assert st == 200 and "\\q" in body, body[:200]
        try:
            json.loads(body)
            raise AssertionError("malformed page parsed")
        except json.JSONDecodeError as e:
            assert "escape" in str(e), e
        st, _, body = graphql(sim, PO_QUERY, {"first": 2}, basic=BASIC)
        assert st == 200 and "\\q" in body
        try:
            json.loads(body)
            raise AssertionError("malformed GraphQL page parsed")
        except json.JSONDecodeError:
            pass
        st, _, body = api1(sim, cls="PINVOICE")
        json.loads(body)  # the fault is spent
    finally:
        assert sim.stop() == 0


def t_partial_graphql_returns_data_and_errors(binary, work):
    sim = fresh(binary, work)
    try:
        fault(sim, "kind=partial&n=1")
        st, _, body = graphql(sim, PO_QUERY, {"first": 3}, basic=BASIC)
        doc = json.loads(body)
        assert st == 200 and doc["errors"][0]["message"], doc
        assert len(doc["data"]["xtremX3Purchasing"]["purchaseOrder"]["query"]["edges"]) == 3
        st, _, body = graphql(sim, PO_QUERY, {"first": 3}, basic=BASIC)
        assert "errors" not in json.loads(body)
    finally:
        assert sim.stop() == 0


def created_rows(sim, cls, keyfield, before):
    st, _, body = api1(sim, cls=cls, count=1000)
    return [r for r in json.loads(body)["$resources"] if r[keyfield] not in before]


def keys(sim, cls, keyfield):
    st, _, body = api1(sim, cls=cls, count=1000)
    return {r[keyfield] for r in json.loads(body)["$resources"]}


def t_equal_stamps_share_one_stamp_across_seconds(binary, work):
    sim = fresh(binary, work)
    try:
        before = keys(sim, "PORDER", "POHNUM")
        fault(sim, "kind=equal_stamps&n=5")
        sim.sim("/sim/generate?n=2&entity=po&mode=create", method="POST")
        t = int(time.time())
        while int(time.time()) == t:      # cross a second boundary
            time.sleep(0.05)
        sim.sim("/sim/generate?n=3&entity=po&mode=create", method="POST")
        rows = created_rows(sim, "PORDER", "POHNUM", before)
        assert len(rows) == 5 and len({r["UPDDATTIM"] for r in rows}) == 1, \
            [r["UPDDATTIM"] for r in rows]
        assert sim.sim("/sim/stats")["faults"]["equal_stamps"] == 5
        # the sixth change is stamped normally again
        sim.sim("/sim/generate?n=1&entity=po&mode=create", method="POST")
        six = created_rows(sim, "PORDER", "POHNUM", before)
        assert len({r["UPDDATTIM"] for r in six}) == 2
    finally:
        assert sim.stop() == 0


def t_late_commits_get_older_stamps(binary, work):
    sim = fresh(binary, work)
    try:
        before = keys(sim, "GACCENTRY", "NUM")
        fault(sim, "kind=late&n=3&age=3600")
        sim.sim("/sim/generate?n=4&entity=gl&mode=create", method="POST")
        rows = created_rows(sim, "GACCENTRY", "NUM", before)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3500))
        old = [r for r in rows if r["UPDDATTIM"] < now]
        assert len(rows) == 4 and len(old) == 3, [r["UPDDATTIM"] for r in rows]
        # a late row is invisible to `UPDDATTIM gt <latest seen>`: the poller's problem
        latest = max(r["UPDDATTIM"] for r in rows)
        st, _, body = request(api1_url(sim, "GACCENTRY", where="UPDDATTIM lt @%s@" % latest),
                              basic=BASIC)
        assert {r["NUM"] for r in json.loads(body)["$resources"]} >= {r["NUM"] for r in old}
    finally:
        assert sim.stop() == 0


def t_paging_changes_modify_records_between_pages(binary, work):
    sim = fresh(binary, work, ["--entities", "po"])
    try:
        fault(sim, "kind=paging_changes&n=2")
        g0 = sim.sim("/sim/stats")["generated"]
        url, pages, seen = api1_url(sim, count=2, order_by="UPDDATTIM asc,POHNUM asc"), 0, []
        while url:
            st, _, body = request(url, basic=BASIC)
            doc = json.loads(body)
            pages += 1
            seen += [(r["POHNUM"], r["$etag"]) for r in doc["$resources"]]
            nxt = doc["$links"].get("$next")
            url = nxt["$url"] if nxt else None
            assert pages < 50, "paging never ends"
        g1 = sim.sim("/sim/stats")["generated"]
        assert g1 - g0 == 2 * (pages - 1), (g0, g1, pages)
        assert len(seen) == len(set(seen))
        assert {k for k, _ in seen} == keys(sim, "PORDER", "POHNUM")  # none skipped
        # GraphQL pages too
        st, _, body = graphql(sim, PO_QUERY, {"first": 2}, basic=BASIC)
        assert json.loads(body)["data"]["xtremX3Purchasing"]["purchaseOrder"]["query"][
            "pageInfo"]["hasNextPage"]
        assert sim.sim("/sim/stats")["generated"] == g1 + 2
        fault(sim, "kind=paging_changes&n=0")
        graphql(sim, PO_QUERY, {"first": 2}, basic=BASIC)
        assert sim.sim("/sim/stats")["generated"] == g1 + 2
    finally:
        assert sim.stop() == 0


def t_fault_listing_and_bad_requests(binary, work):
    sim = fresh(binary, work)
    try:
        fault(sim, "kind=throttle&n=3")
        doc = fault(sim, "kind=late&n=2&age=30")
        assert doc["active"] == {"throttle": {"n": 3}, "late": {"n": 2, "age": 30}}, doc
        assert set(doc["fired"]) == {"5xx", "latency", "throttle", "malformed", "partial",
                                     "equal_stamps", "late", "paging_changes", "expire_tokens",
                                     "ratelimit"}
        for q in ("kind=nope", "kind=5xx&rate=101", "kind=throttle&n=-1", "kind=latency&ms=x",
                  "kind=ratelimit&retry_after=3601", ""):
            st, _, body = request(sim.url("/sim/fault?" + q), method="POST")
            assert st == 400 and json.loads(body)["$diagnoses"], (q, st, body)
        assert fault(sim, "kind=clear")["active"] == {}
    finally:
        assert sim.stop() == 0


def main():
    return run_checks([t_5xx_rate_answers_html_503_on_data_routes_only,
                       t_latency_delays_data_requests,
                       t_throttle_gives_licence_503_for_next_k,
                       t_ratelimit_gives_429_with_retry_after_for_next_k,
                       t_malformed_pages_have_invalid_escape,
                       t_partial_graphql_returns_data_and_errors,
                       t_equal_stamps_share_one_stamp_across_seconds,
                       t_late_commits_get_older_stamps,
                       t_paging_changes_modify_records_between_pages,
                       t_fault_listing_and_bad_requests],
                      binary_from_args(), "x3sim-faults-")


if __name__ == "__main__":
    sys.exit(main())
