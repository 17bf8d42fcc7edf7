/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cjson.h - canonical JSON (RFC 8785, JCS) on top of jansson, for documents
 * made of objects, arrays, strings, integers, true, false and null.
 *
 * Parsing is strict: duplicate keys, invalid UTF-8, non-integer numbers
 * (1.0, 1e3), integers beyond +-(2^53-1), trailing garbage, and nesting deeper
 * than 64 are refused with HSM_ERR_FORMAT and a message that says which.
 * A string or key containing \u0000 is refused too: C consumers read
 * strings as char *, and a NUL would silently cut them. Any JSON value may be
 * the top level. Depth counts objects and arrays: [[1]] has depth 2.
 * Serializing sorts object keys by UTF-16 code units and escapes strings
 * exactly as RFC 8785 3.2.2.2 says; the output has no whitespace. The writer
 * holds values built in code to the same rules, so whatever cjson_dump
 * produces, cjson_parse accepts. docs/formats/canonical-json.md has the rules.
 */
#ifndef HSMADM_CJSON_H
#define HSMADM_CJSON_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/err.h"

#define CJSON_MAX_DEPTH 64
#define CJSON_MAX_INT   9007199254740991LL   /* 2^53 - 1 */

/* Parse len bytes (need not be NUL-terminated). *out is a new reference. */
hsm_rc cjson_parse(const char *buf, size_t len, json_t **out);

/* cjson_parse, and *canonical = 1 when buf is byte for byte the canonical
 * form of what it parsed to (what cjson_dump writes for it), else 0: the
 * check of a frame, in one pass for the plain documents frames are (strings
 * of printable ASCII without escapes), else parsed, written back and
 * compared. Errors are cjson_parse's. */
hsm_rc cjson_parse_canonical(const char *buf, size_t len, json_t **out, int *canonical);

/* Canonical bytes of v, malloc'ed, NUL-terminated; *len excludes the NUL.
 * A real number or an out-of-range integer anywhere in v is HSM_ERR_FORMAT. */
hsm_rc cjson_dump(const json_t *v, char **out, size_t *len);

/* cjson_dump after head (at most 64) bytes of zeros that the caller fills,
 * in the same buffer: a frame's length header without copying the
 * document behind it. *len counts the document only. */
hsm_rc cjson_dump_after(const json_t *v, size_t head, char **out, size_t *len);

/* SHA-256 of the canonical bytes of v. */
hsm_rc cjson_digest(const json_t *v, uint8_t out[32]);

/* Strict typed getters for parsed documents: a missing key or wrong type is
 * HSM_ERR_FORMAT with a message naming the key. A non-object obj is
 * HSM_ERR_FORMAT too. Returned strings, objects and arrays are borrowed:
 * valid while obj lives; do not json_decref them. */
hsm_rc cjson_get_str(const json_t *obj, const char *key, const char **out);
hsm_rc cjson_get_int(const json_t *obj, const char *key, long long *out);
hsm_rc cjson_get_obj(const json_t *obj, const char *key, json_t **out);
hsm_rc cjson_get_arr(const json_t *obj, const char *key, json_t **out);
hsm_rc cjson_get_bool(const json_t *obj, const char *key, int *out);
/* A hex string field decoded to exactly n bytes. */
hsm_rc cjson_get_hex(const json_t *obj, const char *key, uint8_t *out, size_t n);

/* Read a whole regular file and cjson_parse it (max 64 MiB). A missing file
 * is HSM_ERR_NOT_FOUND, other open/read failures HSM_ERR_IO; the message
 * starts with the path. */
hsm_rc cjson_load_file(const char *path, json_t **out);
/* Canonical bytes + "\n" written atomically: tmp file, fsync, rename, fsync dir.
 * mode is the file mode (e.g. 0600), set exactly (umask does not apply).
 * Nothing is written if v cannot be serialized; a failure before the rename
 * leaves the old file, if any, as it was and removes the temporary file. */
hsm_rc cjson_save_file(const char *path, const json_t *v, int mode);

#endif
