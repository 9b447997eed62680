/*
 * mlc_proto: the frames that pass between the processes, defined once.
 *
 * Every frame is one ZeroMQ message holding one msgpack map. Two keys are in
 * every frame: "v" (schema version, positive integer; this build speaks 1 and
 * rejects higher) and "t" (frame type: "rec", "msg", "aud", "ack").
 *
 *   rec  one changed X3 row (one record version), poller -> formatter
 *   msg  one Slack post to one channel, formatter -> dispatcher
 *   aud  one audit event, any stage -> auditor
 *   ack  "I hold these ids durably", receiver -> sender (chain of custody)
 *
 * Keys of each type are listed with the structs below. Unknown keys are
 * ignored (a newer sender may add some); a missing required key or a key of
 * the wrong type is an error naming the key. All strings are UTF-8 text and
 * bounded (MLC_PROTO_MAX_*); all lengths are checked against what is left
 * of the frame before anything is allocated, so a hostile frame such as
 * dd ff 00 00 00 (an array claiming 4 billion items) is rejected cheaply.
 * Golden vectors in tests/data/proto/ pin the encoding.
 *
 * Ids are stable across retries and restarts so that every hop can drop a
 * duplicate: a record id is entity/key/stamp, a message id is
 * record-id/route/channel (see mlc_proto_make_id).
 */
#ifndef MLC_PROTO_H
#define MLC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "mlc_err.h"

#define MLC_PROTO_VERSION 1

#define MLC_PROTO_MAX_FRAME  (1024 * 1024) /* default ZMQ_MAXMSGSIZE */
#define MLC_PROTO_MAX_ID     512           /* bytes of an id, incl. NUL */
#define MLC_PROTO_MAX_STR    (64 * 1024)   /* any other string (text, blocks) */
#define MLC_PROTO_MAX_FIELDS 256           /* fields of a record, attrs of an event */
#define MLC_PROTO_MAX_ACKS   4096          /* ids in one ack frame */
#define MLC_PROTO_MAX_DEPTH  8             /* nesting of arrays and maps */

enum mlc_frame_type {
	MLC_FRAME_RECORD = 1,
	MLC_FRAME_MESSAGE,
	MLC_FRAME_AUDIT,
	MLC_FRAME_ACK,
};

/* A string field of a record: X3 field name and its value as text
 * (amounts stay decimal text, never converted to floating point). */
struct mlc_field {
	char *name;
	char *value;
};

/*
 * "rec": id, from, entity, key, stamp, event, polled_at (strings, required),
 * fields (map of string -> string, required, may be empty).
 *   entity    entity config name ("purchase_order")
 *   key       the record's key value ("PO-000123")
 *   stamp     its update stamp, UTC ISO-8601 ("2026-11-29T01:02:03Z")
 *   event     what happened ("changed"; later issues add "approved", ...)
 *   polled_at when the poller read it, UTC ISO-8601
 */
struct mlc_record {
	char *id;
	char *from;
	char *entity;
	char *key;
	char *stamp;
	char *event;
	char *polled_at;
	struct mlc_field *fields;
	size_t n_fields;
};

/*
 * "msg": id, from, record_id, entity, key, route, channel, text, blocks,
 * created_at (strings, required). blocks is the Block Kit array as JSON
 * text ("" for none); text is the top-level fallback, already escaped.
 */
struct mlc_message {
	char *id;
	char *from;
	char *record_id;
	char *entity;
	char *key;
	char *route;
	char *channel;
	char *text;
	char *blocks;
	char *created_at;
};

/* One attribute of an audit event: a string or an integer. */
struct mlc_attr {
	char *name;
	int is_int;
	int64_t i;
	char *s;
};

/*
 * "aud": id, from, at (UTC ISO-8601 with milliseconds), kind (strings,
 * required), attrs (map of string -> string|integer, required, may be empty).
 * Kinds used: "start", "stop", "poll" (entity, pages, records, wm_before,
 * wm_after, outcome, error), "post" (msg_id, record_id, channel, route,
 * outcome: "posted" | "failed" | "in_doubt" | "retry", slack_ts, error,
 * attempts), "error" (where, error).
 */
struct mlc_audit {
	char *id;
	char *from;
	char *at;
	char *kind;
	struct mlc_attr *attrs;
	size_t n_attrs;
};

/* "ack": from (string), ids (array of strings, 1..MLC_PROTO_MAX_ACKS). */
struct mlc_ack {
	char *from;
	char **ids;
	size_t n_ids;
};

struct mlc_frame {
	enum mlc_frame_type type;
	union {
		struct mlc_record rec;
		struct mlc_message msg;
		struct mlc_audit aud;
		struct mlc_ack ack;
	} u;
};

/*
 * Decodes one frame. Never reads past buf+len, never allocates more than a
 * small multiple of len. On error returns -1 with a message such as
 * "proto: frame 'rec': missing required key 'stamp'" or "proto: truncated
 * frame (string of 300 bytes at offset 12, 20 left)"; *out is then empty.
 * On success the caller owns *out and frees it with mlc_frame_free().
 *
 * Beyond types and bounds, the decoder (and the encoder, so that whatever
 * we send is accepted) also rejects: a string that is not valid UTF-8 or
 * holds a NUL byte; an empty id (id, record_id, ack ids); bin in place of a
 * string; a key given twice, a top-level key that is not a string, a field
 * or attr name that is empty or given twice; an attr named id, from, at or
 * kind (mlc_audit_to_json puts attrs beside those keys); an integer attr
 * outside int64_t; nesting deeper than MLC_PROTO_MAX_DEPTH (the top-level
 * map is level 1) anywhere, unknown keys included; bytes after the map.
 */
int mlc_proto_decode(const void *buf, size_t len, struct mlc_frame *out,
    struct mlc_err *err);

/* Frees everything a decoded (or hand-built, all heap) frame owns; the
 * struct itself is zeroed. Safe on a zeroed frame. */
void mlc_frame_free(struct mlc_frame *f);

/*
 * Encodes a frame into a malloc'd buffer (*buf, *len). Keys are written in
 * the fixed order documented above, so encoding is deterministic. Fails
 * (-1) if a required string is NULL or longer than its bound, if the frame
 * breaks any rule mlc_proto_decode() enforces, or if the encoded frame
 * would exceed MLC_PROTO_MAX_FRAME; then *buf is NULL and *len 0. The
 * caller frees *buf with free(). Integers use the smallest msgpack form.
 */
int mlc_proto_encode(const struct mlc_frame *f, char **buf, size_t *len,
    struct mlc_err *err);

/* Looks up a record field's value by name; NULL if absent. */
const char *mlc_record_field(const struct mlc_record *r, const char *name);
/* Looks up an audit attribute; NULL if absent. */
const struct mlc_attr *mlc_audit_attr(const struct mlc_audit *a, const char *name);

/*
 * Builds an id from parts joined by '/', each part with '%' and '/'
 * percent-encoded ("%25", "%2F") so that distinct part lists never give the
 * same id. Returns 0, or -1 if it does not fit in outsz (< MLC_PROTO_MAX_ID).
 * The id never exceeds MLC_PROTO_MAX_ID - 1 bytes, however large outsz is.
 * On failure (also for a NULL part) out is set to "" when outsz > 0.
 */
int mlc_proto_make_id(const char *const *parts, size_t n, char *out, size_t outsz);

/* An audit event as one JSON object text (malloc'd): {"id":..,"from":..,
 * "at":..,"kind":..,<attrs...>}; attrs become top-level keys, in order,
 * integers as JSON integers. Compact (one line, no spaces), so it suits a
 * JSON-lines file. Free with free(). Returns NULL on out of memory or an
 * event the decoder would not produce: a NULL or non-UTF-8 string, or an
 * attr whose name repeats a core key or an earlier attr. */
char *mlc_audit_to_json(const struct mlc_audit *a);

#endif
