#!/usr/bin/env python3
"""End-to-end tests of mlc-x3sim's GraphQL endpoint (POST /xtrem/api) and of
the three record kinds: selected fields only, decimals as strings, the same
data as api1 (PINVOICE, GACCENTRY with its lines), cursor paging (also while
records change), filters on _updateStamp / id with _and / _or, errors that
name what is wrong, configurable root names, and /sim/truth per entity.

    python3 test_x3sim_graphql.py --bin <cmake build dir>
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_x3sim_auth import (PASSWORD, Sim, api1_url, binary_from_args, graphql,  # noqa: E402
                             request, run_checks, wait_for)

BASIC = ("admin", PASSWORD)
DEC = re.compile(r"-?\d+\.\d\d")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

NODES = {
    "po": ("xtremX3Purchasing", "purchaseOrder"),
    "pinv": ("xtremX3InvoicingData", "supplierInvoiceHeader"),
    "gl": ("xtremX3Finance", "journalEntryLine"),
}


def conn_query(root, node, selection, with_vars=True):
    head = ("query Q($first: Int, $after: String, $filter: String, $orderBy: String)"
            if with_vars else "")
    args = ("first: $first, after: $after, filter: $filter, orderBy: $orderBy"
            if with_vars else "first: 1000")
    return ("%s { %s { %s { query(%s) { edges { cursor node { %s } } "
            "pageInfo { endCursor hasNextPage } totalCount } } } }"
            % (head, root, node, args, selection))


def gq(sim, entity, selection, **variables):
    root, node = NODES[entity]
    st, _, body = graphql(sim, conn_query(root, node, selection), variables, basic=BASIC)
    assert st == 200, (st, body)
    doc = json.loads(body)
    assert "errors" not in doc, doc
    return doc["data"][root][node]["query"]


def gq_error(sim, query, variables=None, folder="SEED", status=400):
    st, _, body = graphql(sim, query, variables, folder=folder, basic=BASIC)
    assert st == status, (st, body)
    doc = json.loads(body)
    assert isinstance(doc.get("errors"), list) and doc["errors"][0]["message"], doc
    assert "data" not in doc, doc
    return doc["errors"][0]["message"]


def fetch_all(sim, entity, selection, first, between=None, **variables):
    ids, pages, after, totals = [], 0, None, set()
    while True:
        page = gq(sim, entity, selection, first=first, after=after, **variables)
        pages += 1
        assert pages < 1000
        totals.add(page["totalCount"])
        ids.extend(e["node"] for e in page["edges"])
        if page["edges"]:
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, pages, totals
        after = page["pageInfo"]["endCursor"]
        if between is not None:
            between()


def api1_all(sim, cls):
    st, _, body = request(api1_url(sim, cls, count=1000), basic=BASIC)
    assert st == 200, body
    return json.loads(body, parse_float=str)["$resources"]


# ---- checks -------------------------------------------------------------------

def t_purchase_order_fields_selected_and_typed(sim):
    q = gq(sim, "po", "id orderDate purchaseSite { code } orderFromSupplier { code { code "
           "description } } signatureStatus isClosed currency { code } taxExcludedTotalAmount "
           "taxIncludedTotalAmount _updateStamp _createStamp", first=100)
    assert set(q) == {"edges", "pageInfo", "totalCount"}
    rows = {r["POHNUM"]: r for r in api1_all(sim, "PORDER")}
    assert q["totalCount"] == len(rows) == len(q["edges"]) > 0
    sig = ["notSigned", "partlySigned", "signed", "notManaged", "automatic"]
    for e in q["edges"]:
        n = e["node"]
        assert set(n) == {"id", "orderDate", "purchaseSite", "orderFromSupplier",
                          "signatureStatus", "isClosed", "currency", "taxExcludedTotalAmount",
                          "taxIncludedTotalAmount", "_updateStamp", "_createStamp"}, n
        r = rows[n["id"]]
        assert isinstance(n["taxIncludedTotalAmount"], str) and DEC.fullmatch(n["taxIncludedTotalAmount"])
        assert n["taxIncludedTotalAmount"] == r["TTVORD"] and n["taxExcludedTotalAmount"] == r["TOTORD"]
        assert n["purchaseSite"] == {"code": r["POHFCY"]}
        assert n["orderFromSupplier"] == {"code": {"code": r["BPSNUM"],
                                                   "description": r["BPSNUM_REF"]["$description"]}}
        assert n["signatureStatus"] == sig[r["APPFLG"] - 1]
        assert n["isClosed"] is (r["CLEFLG"] == 2)
        assert n["currency"] == {"code": r["CUR"]} and n["orderDate"] == r["ORDDAT"]
        assert n["_updateStamp"] == r["UPDDATTIM"] and ISO.fullmatch(n["_createStamp"])
    # only what is selected comes back
    q = gq(sim, "po", "id orderFromSupplier { code { code } }", first=2)
    assert set(q["edges"][0]["node"]) == {"id", "orderFromSupplier"}
    assert set(q["edges"][0]["node"]["orderFromSupplier"]["code"]) == {"code"}


def t_supplier_invoice_matches_api1(sim):
    q = gq(sim, "pinv", "id billBySupplier { code description } supplierDocumentNumber "
           "invoiceType accountingDate status paymentApproval totalAmountIncludingTax "
           "totalAmountExcludingTax currency { code } site { code } account _updateStamp",
           first=100)
    rows = {r["NUM"]: r for r in api1_all(sim, "PINVOICE")}
    assert len(rows) == len(q["edges"]) > 0
    for r in rows.values():
        for k in ("NUM", "BPR", "BPR_REF", "BPRVCR", "PIHTYP", "INVTYP", "ACCDAT", "CUR", "AMTNOT",
                  "AMTATI", "STA", "PAZ", "ACC", "FCY", "CREDATTIM", "UPDDATTIM", "UPDUSR"):
            assert k in r, (k, r)
        assert r["STA"] in (1, 2) and r["PAZ"] in (1, 2) and r["INVTYP"] in (1, 2)
    for e in q["edges"]:
        n, r = e["node"], rows[e["node"]["id"]]
        assert n["billBySupplier"] == {"code": r["BPR"], "description": r["BPR_REF"]["$description"]}
        assert n["supplierDocumentNumber"] == r["BPRVCR"]
        assert n["totalAmountIncludingTax"] == r["AMTATI"]
        assert n["totalAmountExcludingTax"] == r["AMTNOT"]
        assert n["status"] == ["notPosted", "posted"][r["STA"] - 1]
        assert n["paymentApproval"] == ["notApproved", "approved"][r["PAZ"] - 1]
        assert n["invoiceType"] == ["invoice", "creditNote"][r["INVTYP"] - 1]
        assert n["site"] == {"code": r["FCY"]} and n["account"] == r["ACC"]
        assert n["accountingDate"] == r["ACCDAT"] and n["_updateStamp"] == r["UPDDATTIM"]


def t_journal_entry_lines_one_node_per_line(sim):
    entries = api1_all(sim, "GACCENTRY")
    assert entries
    want = {}
    for en in entries:
        assert en["STA"] in (1, 2) and en["TYP"] and en["JOU"]
        lines = en["GACCENTRYD"]
        assert 2 <= len(lines) <= 4
        debit = sum(int(l["AMTCUR"].replace(".", "")) for l in lines if l["SNS"] == 1)
        credit = sum(int(l["AMTCUR"].replace(".", "")) for l in lines if l["SNS"] == -1)
        assert debit == credit, en  # balanced
        for l in lines:
            want["%s|%d" % (en["NUM"], l["LIN"])] = (en, l)
    nodes, pages, totals = fetch_all(
        sim, "gl", "id journalEntry journalEntryType lineNumber journal accountingDate company "
        "site account businessPartner sign transactionAmount debitAmountInTransactionCurrency "
        "creditAmountInTransactionCurrency currency description status _updateStamp", first=3,
        orderBy="{_updateStamp:1, id:1}")
    assert totals == {len(want)} and pages == (len(want) + 2) // 3, (totals, pages)
    assert sorted(n["id"] for n in nodes) == sorted(want)
    for n in nodes:
        en, l = want[n["id"]]
        assert n["journalEntry"] == en["NUM"] and n["lineNumber"] == l["LIN"]
        assert n["journalEntryType"] == en["TYP"] and n["journal"] == en["JOU"]
        assert n["account"] == l["ACC"] and n["businessPartner"] == l["BPR"]
        assert n["sign"] == ("debit" if l["SNS"] == 1 else "credit")
        assert n["transactionAmount"] == l["AMTCUR"]
        assert (n["debitAmountInTransactionCurrency"] if l["SNS"] == 1
                else n["creditAmountInTransactionCurrency"]) == l["AMTCUR"]
        assert n["status"] == ["temporary", "final"][en["STA"] - 1]
        assert n["_updateStamp"] == en["UPDDATTIM"] and n["currency"] == l["CUR"]
        assert n["company"] == en["CPY"] and n["site"] == en["FCY"]


def t_paging_returns_every_node_once(sim):
    expect = sorted(r["POHNUM"] for r in api1_all(sim, "PORDER"))
    for order in (None, "{_updateStamp:1, id:1}", "{_updateStamp:-1}", "{_createStamp:1}"):
        kw = {"orderBy": order} if order else {}
        nodes, pages, _ = fetch_all(sim, "po", "id", 2, **kw)
        ids = [n["id"] for n in nodes]
        assert sorted(ids) == expect and len(ids) == len(set(ids)), (order, ids)
        assert pages == (len(expect) + 1) // 2
    nodes, _, _ = fetch_all(sim, "po", "id", 3)
    assert [n["id"] for n in nodes] == expect  # default order: id


def t_paging_while_records_change_skips_nothing(sim):
    start = {r["POHNUM"] for r in api1_all(sim, "PORDER")}
    gen = lambda: request(sim.url("/sim/generate?n=3&entity=po"), method="POST")
    nodes, _, _ = fetch_all(sim, "po", "id _updateStamp", 2, between=gen,
                            orderBy="{_updateStamp:1, id:1}")
    seen = [(n["id"], n["_updateStamp"]) for n in nodes]
    assert len(seen) == len(set(seen)), "a version was served twice in one query"
    missing = start - {k for k, _ in seen}
    assert not missing, "rows skipped while paging: %s" % sorted(missing)


def t_filter_on_stamp_and_id(sim):
    rows = api1_all(sim, "PORDER")
    pivot = max(r["UPDDATTIM"] for r in rows)

    def later_exists():
        request(sim.url("/sim/generate?n=1&entity=po"), method="POST")
        q = gq(sim, "po", "id _updateStamp", first=1000,
               filter="{_updateStamp:{_gt:'%s'}}" % pivot)
        return q if q["edges"] else None
    q = wait_for(later_exists, 10, "a change after %s" % pivot)
    assert all(e["node"]["_updateStamp"] > pivot for e in q["edges"])
    assert q["totalCount"] == len(q["edges"])
    now_rows = api1_all(sim, "PORDER")
    later = {r["POHNUM"] for r in now_rows if r["UPDDATTIM"] > pivot}
    assert {e["node"]["id"] for e in q["edges"]} == later
    # JSON double quotes work the same, and _gte includes the pivot second
    ge = gq(sim, "po", "id", first=1000, filter='{"_updateStamp":{"_gte":"%s"}}' % pivot)
    assert len(ge["edges"]) > len(q["edges"])
    # keyset resume predicate: stamp > S or (stamp = S and id > K)
    s = sorted(now_rows, key=lambda r: (r["UPDDATTIM"], r["POHNUM"]))
    mid = s[len(s) // 2]
    f = ("{_or:[{_updateStamp:{_gt:'%s'}},{_and:[{_updateStamp:{_eq:'%s'}},{id:{_gt:'%s'}}]}]}"
         % (mid["UPDDATTIM"], mid["UPDDATTIM"], mid["POHNUM"]))
    got = gq(sim, "po", "id", first=1000, filter=f, orderBy="{_updateStamp:1, id:1}")
    assert [e["node"]["id"] for e in got["edges"]] == [r["POHNUM"] for r in s[len(s) // 2 + 1:]]
    none = gq(sim, "po", "id", first=5, filter="{_updateStamp:{_gt:'2999-01-01T00:00:00Z'}}")
    assert none["edges"] == [] and none["totalCount"] == 0
    assert none["pageInfo"] == {"endCursor": None, "hasNextPage": False}


def t_inline_arguments_and_anonymous_query(sim):
    st, _, body = graphql(sim, '{ xtremX3Purchasing { purchaseOrder { query(first: 2, '
                          'orderBy: "{id:-1}") { edges { node { id } } totalCount } } } }',
                          basic=BASIC)
    assert st == 200, body
    q = json.loads(body)["data"]["xtremX3Purchasing"]["purchaseOrder"]["query"]
    ids = sorted((r["POHNUM"] for r in api1_all(sim, "PORDER")), reverse=True)
    assert [e["node"]["id"] for e in q["edges"]] == ids[:2]
    assert set(q) == {"edges", "totalCount"}


def t_errors_name_what_is_wrong(sim):
    good = conn_query("xtremX3Purchasing", "purchaseOrder", "id")
    assert "x-xtrem-endpoint" in gq_error(sim, good, folder=None)
    assert "NOPE" in gq_error(sim, good, folder="NOPE")
    assert "x3Purchasing" in gq_error(sim, conn_query("x3Purchasing", "purchaseOrder", "id"))
    assert "salesOrder" in gq_error(sim, conn_query("xtremX3Purchasing", "salesOrder", "id"))
    assert "POHNUM" in gq_error(sim, conn_query("xtremX3Purchasing", "purchaseOrder", "POHNUM"))
    assert "subfields" in gq_error(sim, conn_query("xtremX3Purchasing", "purchaseOrder",
                                                   "purchaseSite"))
    assert "scalar" in gq_error(sim, conn_query("xtremX3Purchasing", "purchaseOrder",
                                                "id { code }"))
    assert "Syntax Error" in gq_error(sim, "{ xtremX3Purchasing { purchaseOrder { query(first: 1)")
    assert "filter" in gq_error(sim, good, {"filter": "{_updateStamp:{_gt:'soon'}}"})
    assert "cursor" in gq_error(sim, good, {"after": "abcd"}).lower()
    assert "first" in gq_error(sim, good, {"first": 0})
    assert "longer than" in gq_error(sim, good + " " * (16 * 1024))
    assert "Unknown argument" in gq_error(
        sim, '{ xtremX3Purchasing { purchaseOrder { query(limit: 1) { totalCount } } } }')
    # a cursor from another orderBy is refused rather than misread
    page = gq(sim, "po", "id", first=1, orderBy="{_updateStamp:1}")
    assert "orderBy" in gq_error(sim, good, {"after": page["pageInfo"]["endCursor"],
                                             "orderBy": "{_updateStamp:-1}"})
    st, _, body = request(sim.url("/xtrem/api"), method="POST", body=b"{not json",
                          headers={"x-xtrem-endpoint": "SEED"}, basic=BASIC)
    assert st == 400 and json.loads(body)["errors"], body
    st, _, body = request(sim.url("/xtrem/api"), basic=BASIC)
    assert st == 405, st
    st, _, body = request(sim.url("/xtrem/api"), method="POST", body=b"x" * 70000,
                          headers={"x-xtrem-endpoint": "SEED"}, basic=BASIC)
    assert st == 413, st


def t_truth_per_entity_lists_served_versions(sim):
    gq(sim, "gl", "id", first=1000)
    gq(sim, "pinv", "id", first=1000)
    for ent, cls in (("po", "PORDER"), ("pinv", "PINVOICE"), ("gl", "GACCENTRY")):
        st, _, body = request(sim.url("/sim/truth?entity=" + ent))
        versions = json.loads(body)["versions"]
        assert versions and all(v["class"] == cls for v in versions), (ent, versions[:1])
        keys = {(v["key"], v["stamp"]) for v in versions}
        assert len(keys) == len(versions)
        for r in api1_all(sim, cls):
            key = r["POHNUM"] if cls == "PORDER" else r["NUM"]
            assert (key, r["UPDDATTIM"]) in keys, (cls, key)
    gl = json.loads(request(sim.url("/sim/truth?entity=gl"))[2])["versions"]
    assert all(len(v["fields"]["GACCENTRYD"]) >= 2 for v in gl), gl[0]
    default = json.loads(request(sim.url("/sim/truth"))[2])["versions"]
    assert all(v["class"] == "PORDER" for v in default)
    assert request(sim.url("/sim/truth?entity=sales"))[0] == 400


def t_generate_by_entity_and_stats_routes(sim):
    before = sim.sim("/sim/stats")
    doc = sim.sim("/sim/generate?n=3&entity=pinv&mode=create", method="POST")
    assert doc == {"generated": 3}, doc
    after = sim.sim("/sim/stats")
    assert after["records_by_entity"]["pinv"] == before["records_by_entity"]["pinv"] + 3
    assert after["records_by_entity"]["po"] == before["records_by_entity"]["po"]
    assert after["routes"]["graphql"] > 0 and after["routes"]["api1"] > 0, after
    assert after["routes"]["sim"] > before["routes"]["sim"]
    assert after["requests"] == sum(after["routes"].values()), after
    st, _, _ = request(sim.url("/sim/generate?entity=nope"), method="POST")
    assert st == 400
    # no entity: purchase orders, as before there were three kinds
    assert sim.sim("/sim/generate?n=4&mode=create", method="POST") == {"generated": 4}
    s2 = sim.sim("/sim/stats")["records_by_entity"]
    assert s2 == dict(after["records_by_entity"], po=after["records_by_entity"]["po"] + 4), s2
    # any: a mix of the enabled kinds
    sim.sim("/sim/generate?n=30&mode=create&entity=any", method="POST")
    s3 = sim.sim("/sim/stats")["records_by_entity"]
    assert all(s3[k] > s2[k] for k in ("po", "pinv", "gl")), (s2, s3)


def t_old_root_names_on_request(binary, work):
    sim = Sim(binary, work, ["--rate", "0", "--initial", "2", "--graphql-roots", "old",
                             "--entities", "po", "--quiet"])
    try:
        st, _, body = graphql(sim, conn_query("x3Purchasing", "purchaseOrder", "id"), {},
                              basic=BASIC)
        assert st == 200 and len(json.loads(body)["data"]["x3Purchasing"]["purchaseOrder"]
                                 ["query"]["edges"]) == 2, body
        msg = gq_error(sim, conn_query("xtremX3Purchasing", "purchaseOrder", "id"))
        assert "xtremX3Purchasing" in msg, msg
        stats = sim.sim("/sim/stats")
        assert stats["records_by_entity"] == {"po": 2, "pinv": 0, "gl": 0}, stats
    finally:
        assert sim.stop() == 0


def main():
    binary = binary_from_args()
    shared = {}

    def with_shared(fn):
        def run(binary_, work):
            if "sim" not in shared:
                shared["sim"] = Sim(binary_, work, ["--rate", "0", "--initial", "7", "--seed", "3",
                                                    "--quiet"])
            fn(shared["sim"])
        run.__name__ = fn.__name__
        return run

    checks = [with_shared(f) for f in (
        t_purchase_order_fields_selected_and_typed,
        t_supplier_invoice_matches_api1,
        t_journal_entry_lines_one_node_per_line,
        t_paging_returns_every_node_once,
        t_paging_while_records_change_skips_nothing,
        t_filter_on_stamp_and_id,
        t_inline_arguments_and_anonymous_query,
        t_errors_name_what_is_wrong,
        t_truth_per_entity_lists_served_versions,
        t_generate_by_entity_and_stats_routes)]

    def t_sigterm_exits_0(binary_, work):
        assert shared["sim"].stop() == 0
    checks += [t_sigterm_exits_0, t_old_root_names_on_request]
    try:
        return run_checks(checks, binary, "x3sim-gql-")
    finally:
        if "sim" in shared and shared["sim"].proc.poll() is None:
            shared["sim"].stop()


if __name__ == "__main__":
    sys.exit(main())
