/*
 * route: which configured routes (config `routes:`) a record goes to.
 *
 * A route matches a record when every filter it sets matches; a filter it
 * does not set matches everything, so the minimal route (name, entity,
 * channel) takes every record of its entity. Filters, all on the canonical
 * fields of docs/records.md:
 *   entity     the entity's config name, its kind, or "*"
 *   event      the record's event is one of the list
 *   amount_gte / amount_lt
 *              the record's amount (route_amount) compared as a decimal,
 *              never as floating point: "1000" and "1000.00" are equal; a
 *              record without a decimal amount does not match a threshold
 *   currency   the record's currency equals it
 *   suppliers  supplier_code (GL entries: any line's partner)
 *   sites      site
 *   accounts   invoices: any of gl_accounts; GL entries: any line's account
 *   journals   journal
 * A list value ending in '*' matches by prefix ("6*" is every account
 * starting with 6).
 *
 * Several routes may match one record; the record is posted once per
 * channel (route_select keeps the first matching route of each channel, in
 * config order, and its template).
 *
 * The config loader (common/mlc_cfg.c) has already rejected bad rules, so
 * nothing here fails: a record simply matches or not.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>

#include "mlc_cfg.h"
#include "mlc_money.h"
#include "mlc_proto.h"

/* The kind of a record's entity ("purchase_order", "supplier_invoice",
 * "gl_entry"), or "" when the entity is not configured. */
const char *route_kind(const struct mlc_cfg *cfg, const char *entity);

/* GL entries carry their lines as fields line.N.* (N from 0). The number
 * of line indexes worth looking at: the record's `lines` when it is a
 * small decimal, else ROUTE_GL_LINES_MAX. */
#define ROUTE_GL_LINES_MAX 256
unsigned route_gl_lines(const struct mlc_record *r);

/* The amount thresholds compare: `field` (amount_excl_tax or
 * amount_incl_tax; "" means amount_excl_tax) for purchase orders and
 * invoices, the total of the debit lines for GL entries. Returns 0 with
 * *out set, or -1 when the record carries no decimal amount (missing,
 * not a decimal, or a total that overflows). */
int route_amount(const struct mlc_record *r, const char *kind, const char *field,
    struct mlc_money *out);

/* 1 when route rt takes record r, else 0. */
int route_matches(const struct mlc_cfg *cfg, const struct mlc_cfg_route *rt,
    const struct mlc_record *r);

/* Fills out[0..] with the indexes (into cfg->routes) of the routes r goes
 * to: each matching route, except that a channel already taken by an
 * earlier matching route is skipped. Returns how many (<= max). */
size_t route_select(const struct mlc_cfg *cfg, const struct mlc_record *r, size_t *out,
    size_t max);

#endif
