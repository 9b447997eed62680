/* x3_api1: see x3_api1.h. */
#include "x3_api1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlc_http.h"
#include "mlc_json.h"
#include "mlc_log.h"
#include "mlc_time.h"

int
x3_api1_first_url(const struct mlc_cfg *cfg, const struct mlc_cfg_entity *e,
    int64_t stamp_s, char **url, struct mlc_err *err)
{
	char iso[MLC_TIME_ISO_LEN], where[256], order[256];
	char *w = NULL, *ob = NULL, *rep = NULL;
	size_t n;

	mlc_time_format(stamp_s, iso);
	snprintf(where, sizeof(where), "%s ge @%s@", e->stamp_field, iso);
	snprintf(order, sizeof(order), "%s asc,%s asc", e->stamp_field, e->key_field);
	w = mlc_http_urlencode(where);
	ob = mlc_http_urlencode(order);
	rep = mlc_http_urlencode(e->representation);
	if (w == NULL || ob == NULL || rep == NULL) {
		free(w); free(ob); free(rep);
		return mlc_err_set(err, "out of memory");
	}
	n = strlen(cfg->x3.url) + strlen(cfg->x3.folder) + strlen(e->class_name) +
	    strlen(rep) + strlen(w) + strlen(ob) + 128;
	*url = malloc(n);
	if (*url != NULL)
		snprintf(*url, n,
		    "%s/api1/x3/erp/%s/%s?representation=%s.$query&count=%d&where=%s&orderBy=%s",
		    cfg->x3.url, cfg->x3.folder, e->class_name, rep, cfg->x3.page_size, w, ob);
	free(w); free(ob); free(rep);
	return *url ? 0 : mlc_err_set(err, "out of memory");
}

static void
row_free(struct x3_row *r)
{
	free(r->key);
	free(r->stamp);
	for (size_t i = 0; i < r->n_fields; i++) {
		free(r->fields[i].name);
		free(r->fields[i].value);
	}
	free(r->fields);
}

void
x3_page_free(struct x3_page *page)
{
	for (size_t i = 0; i < page->n_rows; i++)
		row_free(&page->rows[i]);
	free(page->rows);
	free(page->next_url);
	free(page->end_cursor);
	memset(page, 0, sizeof(*page));
}

static int
add_field(struct x3_row *r, const char *name, const char *value)
{
	if (r->n_fields >= X3_MAX_RAW_FIELDS) {
		r->n_dropped++;  /* the poller says so in the cycle's audit */
		return 0;        /* keep the first X3_MAX_RAW_FIELDS */
	}
	if (r->n_fields == r->cap_fields) {
		/* Grown as needed: a typical row has a few dozen fields, and
		 * zeroing 1024 slots per row cost more than parsing it. */
		size_t cap = r->cap_fields ? r->cap_fields * 2 : 32;
		struct mlc_field *f;

		if (cap > X3_MAX_RAW_FIELDS)
			cap = X3_MAX_RAW_FIELDS;
		f = realloc(r->fields, cap * sizeof(*f));
		if (f == NULL)
			return -1;
		r->fields = f;
		r->cap_fields = cap;
	}
	r->fields[r->n_fields].name = strdup(name);
	r->fields[r->n_fields].value = strdup(value);
	if (r->fields[r->n_fields].name == NULL || r->fields[r->n_fields].value == NULL)
		return -1;
	r->n_fields++;
	return 0;
}

/* Is next on the same origin (scheme://host:port/) as base? */
static int
same_origin(const char *base, const char *next)
{
	const char *p = strstr(base, "://");
	size_t n;

	if (p == NULL)
		return 0;
	p = strchr(p + 3, '/');
	n = p ? (size_t)(p - base) : strlen(base);
	return strncmp(base, next, n) == 0 && (next[n] == '/' || next[n] == '\0');
}

int
x3_row_flatten(struct x3_row *r, const char *prefix, json_t *v, int depth,
    struct mlc_err *err)
{
	char name[160];
	const char *text, *k;
	json_t *sub;
	size_t i;

	if (depth > 6)
		return 0; /* deeper than any field the records use */
	if (json_is_object(v)) {
		/* api1 reference: BPSNUM_REF: {"$description": "Acme"} */
		text = mlc_json_scalar_text(json_object_get(v, "$description"));
		if (text == NULL)
			text = mlc_json_scalar_text(json_object_get(v, "$title"));
		if (text != NULL && prefix[0] != '\0') {
			if (strlen(text) > X3_MAX_FIELD_LEN)
				return mlc_err_set(err, "field %s longer than %d bytes", prefix,
				    X3_MAX_FIELD_LEN);
			return add_field(r, prefix, text) == 0 ? 0 : mlc_err_set(err, "out of memory");
		}
		json_object_foreach(v, k, sub) {
			if (k[0] == '$' || strlen(k) > 64)
				continue;
			if ((size_t)snprintf(name, sizeof(name), "%s%s%s", prefix,
			    prefix[0] ? "." : "", k) >= sizeof(name))
				continue;
			if (x3_row_flatten(r, name, sub, depth + 1, err) != 0)
				return -1;
		}
		return 0;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, sub) {
			if (i >= 1000)
				break;
			if ((size_t)snprintf(name, sizeof(name), "%s.%zu", prefix, i) >= sizeof(name))
				continue;
			if (x3_row_flatten(r, name, sub, depth + 1, err) != 0)
				return -1;
		}
		return 0;
	}
	text = mlc_json_scalar_text(v);
	if (text == NULL || prefix[0] == '\0')
		return 0;
	if (strlen(text) > X3_MAX_FIELD_LEN)
		return mlc_err_set(err, "field %s longer than %d bytes", prefix, X3_MAX_FIELD_LEN);
	return add_field(r, prefix, text) == 0 ? 0 : mlc_err_set(err, "out of memory");
}

static int
parse_row(json_t *res, size_t idx, const struct mlc_cfg_entity *e,
    struct x3_row *r, struct mlc_err *err)
{
	const char *key, *stamp;

	key = mlc_json_scalar_text(json_object_get(res, e->key_field));
	stamp = mlc_json_scalar_text(json_object_get(res, e->stamp_field));
	if (key == NULL || key[0] == '\0')
		return mlc_err_set(err, "resource %zu has no key field %s", idx, e->key_field);
	if (strlen(key) > 128)
		return mlc_err_set(err, "resource %zu: key %s longer than 128 bytes", idx,
		    e->key_field);
	if (stamp == NULL || mlc_time_parse(stamp, &r->stamp_s) != 0)
		return mlc_err_set(err, "resource %zu (%s): field %s is missing or not a "
		    "UTC date-time", idx, key, e->stamp_field);
	r->key = strdup(key);
	r->stamp = malloc(MLC_TIME_ISO_LEN);
	if (r->key == NULL || r->stamp == NULL)
		return mlc_err_set(err, "out of memory");
	mlc_time_format(r->stamp_s, r->stamp);
	/* Lines (GACCENTRYD: [{ACC, SNS, ...}]) become GACCENTRYD.0.ACC ... */
	if (x3_row_flatten(r, "", res, 0, err) != 0) {
		mlc_err_prefix(err, "resource %zu (%s)", idx, key);
		return -1;
	}
	return 0;
}

int
x3_api1_parse_page(const char *body, size_t len, const struct mlc_cfg_entity *e,
    const char *base_url, struct x3_page *page, struct mlc_err *err)
{
	json_t *root, *resources, *next;
	const char *next_url;
	size_t i;

	memset(page, 0, sizeof(*page));
	root = mlc_json_loads_exact(body, len, 32, err);
	if (root == NULL)
		return -1;
	if (!json_is_object(root)) {
		json_decref(root);
		return mlc_err_set(err, "response is not a JSON object");
	}
	resources = json_object_get(root, "$resources");
	if (!json_is_array(resources)) {
		json_decref(root);
		return mlc_err_set(err, "response has no $resources array");
	}
	if (json_array_size(resources) > X3_MAX_ROWS_PER_PAGE) {
		size_t n = json_array_size(resources); /* read before root is freed */

		json_decref(root);
		return mlc_err_set(err, "page has %zu resources, more than %d", n,
		    X3_MAX_ROWS_PER_PAGE);
	}
	page->rows = calloc(json_array_size(resources) + 1, sizeof(*page->rows));
	if (page->rows == NULL) {
		json_decref(root);
		return mlc_err_set(err, "out of memory");
	}
	for (i = 0; i < json_array_size(resources); i++) {
		json_t *res = json_array_get(resources, i);

		if (!json_is_object(res)) {
			mlc_err_set(err, "resource %zu is not an object", i);
			goto fail;
		}
		page->n_rows++;
		if (parse_row(res, i, e, &page->rows[i], err) != 0)
			goto fail;
	}
	next = json_object_get(json_object_get(json_object_get(root, "$links"), "$next"), "$url");
	next_url = mlc_json_scalar_text(next);
	if (next_url != NULL && next_url[0] != '\0') {
		if (!same_origin(base_url, next_url)) {
			mlc_err_set(err, "$links.$next points to another server than x3.url; "
			    "refusing to send credentials there");
			goto fail;
		}
		page->next_url = strdup(next_url);
		if (page->next_url == NULL) {
			mlc_err_set(err, "out of memory");
			goto fail;
		}
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	x3_page_free(page);
	return -1;
}

void
x3_api1_describe_error(long status, const char *body, size_t len,
    char *out, size_t outsz)
{
	struct mlc_err err;
	json_t *root = body ? mlc_json_loads_exact(body, len, 16, &err) : NULL;
	json_t *diags = root ? json_object_get(root, "$diagnoses") : NULL;

	if (json_is_array(diags) && json_array_size(diags) > 0) {
		json_t *d = json_array_get(diags, 0);
		const char *msg = mlc_json_scalar_text(json_object_get(d, "$message"));
		const char *code = mlc_json_scalar_text(json_object_get(d, "$sdataCode"));

		snprintf(out, outsz, "HTTP %ld from X3: %.200s%s%.60s%s", status,
		    msg ? msg : "(no message)", code ? " (" : "", code ? code : "",
		    code ? ")" : "");
	} else {
		snprintf(out, outsz, "HTTP %ld from X3", status);
	}
	json_decref(root);
}

int
x3_api1_fetch(const struct mlc_cfg *cfg, const struct mlc_cfg_entity *e,
    const char *url, const char *password, struct x3_page *page, struct mlc_err *err)
{
	static const char *const headers[] = {
		"Accept: application/json;vnd.sage=syracuse",
		"X-Requested-With: stateless",
		NULL,
	};
	struct mlc_http_opts o = {
		.timeout_ms = cfg->x3.timeout_ms,
		.ca_file = cfg->x3.ca_file[0] ? cfg->x3.ca_file : NULL,
		.max_body = X3_MAX_PAGE_BYTES,
	};
	struct mlc_http_resp resp;
	char why[400];
	int r;

	memset(&resp, 0, sizeof(resp));
	if (mlc_http_request("GET", url, headers, NULL, 0, cfg->x3.user, password, &o,
	    &resp, err) != 0)
		return -1;
	if (resp.status != 200) {
		x3_api1_describe_error(resp.status, resp.body, resp.body_len, why, sizeof(why));
		if (resp.status == 401)
			mlc_err_set(err, "%s: check x3.user and the password (x3.password_env "
			    "or x3.password_file)", why);
		else if (resp.status == 404)
			mlc_err_set(err, "%s: check x3.folder '%s' and the class '%s' of "
			    "entity %s", why, cfg->x3.folder, e->class_name, e->name);
		else if (resp.status == 400)
			mlc_err_set(err, "%s: check the representation '%s' and key/stamp "
			    "fields of entity %s", why, e->representation, e->name);
		else
			mlc_err_set(err, "%s", why);
		mlc_http_resp_free(&resp);
		return -1;
	}
	r = x3_api1_parse_page(resp.body, resp.body_len, e, cfg->x3.url, page, err);
	mlc_http_resp_free(&resp);
	return r;
}
