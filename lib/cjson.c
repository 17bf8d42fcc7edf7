/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cjson.c - canonical JSON (RFC 8785) on top of jansson.
 *
 * jansson does the tokenizing (and refuses duplicate keys, bad UTF-8, NUL and
 * trailing garbage for us); we add what RFC 8785 and our signatures need:
 * integers only, within the IEEE-754 exact range, bounded depth, and our own
 * writer, because json_dumps neither sorts keys by UTF-16 code units nor
 * escapes exactly as RFC 8785 3.2.2.2 says.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#if defined(__SSE2__)
#include <emmintrin.h>   /* plain_len: 16 bytes per step (every x86-64 has SSE2) */
#endif

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/fileio.h"

#define CJSON_MAX_FILE (64u * 1024 * 1024)

/* ---------------------------------------------------------------- paths */

/* A JSON-pointer-like path ("/admins/3/ski") for error messages, so that a
 * person can find the bad value in a large document. */
struct path {
	char   buf[256];
	size_t len;
};

/* Append "/seg" (cut with "..." if the buffer is full), replacing control
 * and non-ASCII bytes with '?' so a hostile key cannot drive the terminal;
 * returns the old length to restore. */
static size_t
path_push(struct path *p, const char *seg, size_t n)
{
	size_t old = p->len, i;

	if (p->len + 5 >= sizeof(p->buf))
		return old;
	p->buf[p->len++] = '/';
	/* Keep room for "..." and the NUL. */
	for (i = 0; i < n && p->len + 4 < sizeof(p->buf); i++) {
		unsigned char c = (unsigned char)seg[i];
		p->buf[p->len++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (i < n) {
		memcpy(p->buf + p->len, "...", 3);
		p->len += 3;
	}
	p->buf[p->len] = '\0';
	return old;
}

static size_t
path_push_index(struct path *p, size_t idx)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%zu", idx);

	return path_push(p, tmp, (size_t)n);
}

static void
path_pop(struct path *p, size_t old)
{
	p->len = old;
	p->buf[old] = '\0';
}

static const char *
path_str(const struct path *p)
{
	return p->len == 0 ? "the top level" : p->buf;
}

/* ---------------------------------------------------------------- UTF-8 */

/* Decode one code point from s[*i..n); advance *i. Returns -1 on invalid
 * UTF-8 (truncated, overlong, surrogate, beyond U+10FFFF). */
static long
utf8_next(const unsigned char *s, size_t n, size_t *i)
{
	unsigned char c = s[*i];
	size_t need;
	long cp, min;

	if (c < 0x80) {
		(*i)++;
		return c;
	} else if (c >= 0xc2 && c <= 0xdf) {
		need = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (n - *i <= need)
		return -1;
	for (size_t k = 1; k <= need; k++) {
		unsigned char cc = s[*i + k];
		if ((cc & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (cc & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += need + 1;
	return cp;
}

/* UTF-16 code units of a UTF-8 key, malloc'ed (at least one unit allocated). */
static hsm_rc
utf16_units(const char *s, size_t n, uint16_t **out, size_t *nout,
    const struct path *p)
{
	uint16_t *u;
	size_t i = 0, k = 0;

	*out = NULL;
	*nout = 0;
	/* A UTF-8 sequence never yields more UTF-16 units than it has bytes. */
	if ((u = malloc((n + 1) * sizeof(*u))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "JSON: out of memory sorting keys");
	while (i < n) {
		long cp = utf8_next((const unsigned char *)s, n, &i);
		if (cp < 0) {
			free(u);
			return hsm_fail(HSM_ERR_FORMAT,
			    "JSON: an object key at %s is not valid UTF-8", path_str(p));
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			u[k++] = (uint16_t)(0xd800 | (cp >> 10));
			u[k++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
		} else {
			u[k++] = (uint16_t)cp;
		}
	}
	*out = u;
	*nout = k;
	return HSM_OK;
}

/* ---------------------------------------------------------------- output */

struct obuf {
	char  *p;
	size_t len;
	size_t cap;
};

static hsm_rc
ob_put(struct obuf *o, const char *s, size_t n)
{
	if (n > SIZE_MAX - o->len - 1)
		return hsm_fail(HSM_ERR_NOMEM, "JSON: document too large");
	if (o->len + n + 1 > o->cap) {
		size_t ncap = o->cap ? o->cap : 256;
		char *np;
		while (ncap < o->len + n + 1)
			ncap = ncap > SIZE_MAX / 2 ? o->len + n + 1 : ncap * 2;
		if ((np = realloc(o->p, ncap)) == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "JSON: out of memory writing document");
		o->p = np;
		o->cap = ncap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return HSM_OK;
}

static hsm_rc
ob_putc(struct obuf *o, char c)
{
	return ob_put(o, &c, 1);
}

#if !defined(__SSE2__)
#define ONES 0x0101010101010101ULL
#endif

static int
plain_byte(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}

/* How many bytes from s are printable ASCII other than '"' and '\\' (a
 * string's literal bytes that need neither a check nor an escape): the bulk
 * of a frame, a batch of blobs in base64. Sixteen bytes per step with SSE2
 * (every x86-64), else eight (bithacks' hasless, hasmore and haszero, exact
 * as a yes/no); the byte that stops it is found one at a time. */
static size_t
plain_len(const char *s, size_t n)
{
	size_t k = 0;

#if defined(__SSE2__)
	const __m128i lo = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f),
	              qu = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');

	for (; k + 16 <= n; k += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + k));
		/* Signed: 0x20..0x7f are above 0x1f, 0x80..0xff below. */
		__m128i bad = _mm_or_si128(_mm_cmpeq_epi8(v, del),
		                           _mm_or_si128(_mm_cmpeq_epi8(v, qu), _mm_cmpeq_epi8(v, bs)));
		if (_mm_movemask_epi8(_mm_andnot_si128(bad, _mm_cmpgt_epi8(v, lo))) != 0xffff)
			break;
	}
#else
	for (; k + 8 <= n; k += 8) {
		uint64_t w, x, y;
		memcpy(&w, s + k, 8);
		x = w ^ (ONES * '\\');
		y = w ^ (ONES * '"');
		if ((((w - ONES * 0x20) & ~w) | ((w + ONES) | w) | ((x - ONES) & ~x) |
		     ((y - ONES) & ~y)) & (ONES * 0x80))
			break;
	}
#endif
	while (k < n && plain_byte((unsigned char)s[k]))
		k++;
	return k;
}

/* A string exactly as RFC 8785 3.2.2.2 (ECMAScript JSON.stringify) writes
 * it: the two-character escapes for " \ BS FF LF CR TAB, \u00xx (lowercase)
 * for the other controls, everything else as literal UTF-8 ('/' included). */
static hsm_rc
write_string(struct obuf *o, const char *s, size_t n, const struct path *p)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i = 0, start = 0;
	hsm_rc rc;

	if ((rc = ob_putc(o, '"')) != HSM_OK)
		return rc;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char ubuf[7];

		if (plain_byte(c) || c == 0x7f) {
			i += c == 0x7f ? 1 : plain_len(s + i, n - i);
			continue;
		}
		if (c >= 0x80) {
			/* Literal: only check that it is well-formed UTF-8. */
			if (utf8_next((const unsigned char *)s, n, &i) < 0)
				return hsm_fail(HSM_ERR_FORMAT,
				    "JSON: string at %s is not valid UTF-8", path_str(p));
			continue;
		}
		switch (c) {
		case '"':  esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case 0:
			/* The parser refuses \u0000 (C consumers use char *), so the
			 * writer must not produce a document the parser refuses. */
			return hsm_fail(HSM_ERR_FORMAT,
			    "JSON: string at %s contains a NUL character, which is not "
			    "accepted", path_str(p));
		default:
			ubuf[0] = '\\', ubuf[1] = 'u', ubuf[2] = '0', ubuf[3] = '0';
			ubuf[4] = hexd[c >> 4], ubuf[5] = hexd[c & 15], ubuf[6] = '\0';
			esc = ubuf;
			break;
		}
		/* Flush the literal run before this escape, then the escape. */
		if ((rc = ob_put(o, s + start, i - start)) != HSM_OK)
			return rc;
		if ((rc = ob_put(o, esc, strlen(esc))) != HSM_OK)
			return rc;
		start = ++i;
	}
	if ((rc = ob_put(o, s + start, i - start)) != HSM_OK)
		return rc;
	return ob_putc(o, '"');
}

struct member {
	const char *key;
	size_t      klen;
	uint16_t   *u16;
	size_t      n16;
	json_t     *val;
};

/* Keys of ASCII only (all of ours): their bytes are their UTF-16 code
 * units, so they are compared as they are, with no conversion. */
static int
member_cmp_ascii(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->klen < y->klen ? x->klen : y->klen);

	if (c != 0)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static int
is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* RFC 8785 3.2.3: compare keys as arrays of UTF-16 code units. */
static int
member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->n16 < y->n16 ? x->n16 : y->n16;

	for (size_t i = 0; i < n; i++)
		if (x->u16[i] != y->u16[i])
			return x->u16[i] < y->u16[i] ? -1 : 1;
	if (x->n16 != y->n16)
		return x->n16 < y->n16 ? -1 : 1;
	return 0;
}

static hsm_rc write_value(struct obuf *o, const json_t *v, int depth, struct path *p);

static hsm_rc
write_object(struct obuf *o, const json_t *v, int depth, struct path *p)
{
	struct member *m = NULL;
	size_t n = json_object_size(v), k = 0;
	const char *key;
	json_t *val;
	int ascii = 1;
	hsm_rc rc = HSM_OK;

	if (n == 0)
		return ob_put(o, "{}", 2);
	if ((m = calloc(n, sizeof(*m))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "JSON: out of memory writing an object");
	json_object_foreach((json_t *)v, key, val) {
		if (k == n)
			break;
		m[k].key = key;
		m[k].klen = json_object_iter_key_len(json_object_key_to_iter(key));
		m[k].val = val;
		if (memchr(key, '\0', m[k].klen) != NULL) {
			rc = hsm_fail(HSM_ERR_FORMAT,
			    "JSON: an object key at %s contains a NUL character, which is "
			    "not accepted", path_str(p));
			goto out;
		}
		ascii = ascii && is_ascii(key, m[k].klen);
		k++;
	}
	for (size_t i = 0; !ascii && i < k; i++)
		if ((rc = utf16_units(m[i].key, m[i].klen, &m[i].u16, &m[i].n16, p)) != HSM_OK)
			goto out;
	qsort(m, k, sizeof(*m), ascii ? member_cmp_ascii : member_cmp);
	if ((rc = ob_putc(o, '{')) != HSM_OK)
		goto out;
	for (size_t i = 0; i < k; i++) {
		size_t old;
		if (i > 0 && (rc = ob_putc(o, ',')) != HSM_OK)
			goto out;
		if ((rc = write_string(o, m[i].key, m[i].klen, p)) != HSM_OK)
			goto out;
		if ((rc = ob_putc(o, ':')) != HSM_OK)
			goto out;
		old = path_push(p, m[i].key, m[i].klen);
		rc = write_value(o, m[i].val, depth, p);
		path_pop(p, old);
		if (rc != HSM_OK)
			goto out;
	}
	rc = ob_putc(o, '}');
out:
	for (size_t i = 0; i < n; i++)
		free(m[i].u16);
	free(m);
	return rc;
}

static hsm_rc
check_integer(json_int_t iv, const struct path *p)
{
	if (iv > CJSON_MAX_INT || iv < -CJSON_MAX_INT)
		return hsm_fail(HSM_ERR_FORMAT,
		    "JSON: integer %lld at %s is out of range; only integers from "
		    "-(2^53-1) to 2^53-1 are accepted", (long long)iv, path_str(p));
	return HSM_OK;
}

static hsm_rc
write_value(struct obuf *o, const json_t *v, int depth, struct path *p)
{
	char num[32];
	hsm_rc rc;

	if (v == NULL)
		return hsm_fail(HSM_ERR_USAGE, "JSON: missing value at %s", path_str(p));
	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth + 1 > CJSON_MAX_DEPTH)
			return hsm_fail(HSM_ERR_FORMAT,
			    "JSON: nesting at %s is deeper than %d levels", path_str(p),
			    CJSON_MAX_DEPTH);
		if (json_is_object(v))
			return write_object(o, v, depth + 1, p);
		if ((rc = ob_putc(o, '[')) != HSM_OK)
			return rc;
		for (size_t i = 0; i < json_array_size(v); i++) {
			size_t old;
			if (i > 0 && (rc = ob_putc(o, ',')) != HSM_OK)
				return rc;
			old = path_push_index(p, i);
			rc = write_value(o, json_array_get(v, i), depth + 1, p);
			path_pop(p, old);
			if (rc != HSM_OK)
				return rc;
		}
		return ob_putc(o, ']');
	case JSON_STRING:
		return write_string(o, json_string_value(v), json_string_length(v), p);
	case JSON_INTEGER:
		if ((rc = check_integer(json_integer_value(v), p)) != HSM_OK)
			return rc;
		(void)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return ob_put(o, num, strlen(num));
	case JSON_REAL:
		return hsm_fail(HSM_ERR_FORMAT,
		    "JSON: the number at %s is not an integer; only integers are "
		    "accepted", path_str(p));
	case JSON_TRUE:
		return ob_put(o, "true", 4);
	case JSON_FALSE:
		return ob_put(o, "false", 5);
	case JSON_NULL:
		return ob_put(o, "null", 4);
	}
	return hsm_fail(HSM_ERR_INTERNAL, "JSON: unknown value type at %s", path_str(p));
}

hsm_rc
cjson_dump_after(const json_t *v, size_t head, char **out, size_t *len)
{
	static const char zeros[64];
	struct obuf o = { NULL, 0, 0 };
	struct path p = { { 0 }, 0 };
	hsm_rc rc;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (head > sizeof(zeros))
		return hsm_fail(HSM_ERR_USAGE, "JSON: at most %zu bytes before a document",
		    sizeof(zeros));
	/* Room for the caller's head (zeros), then the document. */
	if ((rc = ob_put(&o, zeros, head)) != HSM_OK || (rc = write_value(&o, v, 0, &p)) != HSM_OK) {
		free(o.p);
		return rc;
	}
	*out = o.p;
	if (len != NULL)
		*len = o.len - head;
	return HSM_OK;
}

hsm_rc
cjson_dump(const json_t *v, char **out, size_t *len)
{
	return cjson_dump_after(v, 0, out, len);
}

hsm_rc
cjson_digest(const json_t *v, uint8_t out[32])
{
	char *buf = NULL;
	size_t len = 0;
	unsigned int dlen = 0;
	hsm_rc rc;

	if ((rc = cjson_dump(v, &buf, &len)) != HSM_OK)
		return rc;
	if (EVP_Digest(buf, len, out, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
		rc = hsm_fail(HSM_ERR_CRYPTO, "JSON: SHA-256 of the canonical bytes failed");
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------- input */

/* Count nesting before jansson builds anything, so a hostile document of a
 * few KiB cannot make a deep tree (jansson alone allows 2048 levels). Only
 * brackets outside strings count; anything malformed is left for jansson. */
static hsm_rc
check_depth(const char *buf, size_t len)
{
	int depth = 0, in_str = 0, esc = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > CJSON_MAX_DEPTH)
				return hsm_fail(HSM_ERR_FORMAT,
				    "JSON: nesting deeper than %d levels at byte %zu; the "
				    "document is refused", CJSON_MAX_DEPTH, i);
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return HSM_OK;
}

/* Integers only, within +-(2^53-1), anywhere in the tree. */
static hsm_rc
check_tree(const json_t *v, int depth, struct path *p)
{
	const char *key;
	json_t *val;
	hsm_rc rc;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth + 1 > CJSON_MAX_DEPTH)
			return hsm_fail(HSM_ERR_FORMAT,
			    "JSON: nesting at %s is deeper than %d levels", path_str(p),
			    CJSON_MAX_DEPTH);
		if (json_is_object(v)) {
			json_object_foreach((json_t *)v, key, val) {
				size_t old = path_push(p, key, strlen(key));
				rc = check_tree(val, depth + 1, p);
				path_pop(p, old);
				if (rc != HSM_OK)
					return rc;
			}
			return HSM_OK;
		}
		for (size_t i = 0; i < json_array_size(v); i++) {
			size_t old = path_push_index(p, i);
			rc = check_tree(json_array_get(v, i), depth + 1, p);
			path_pop(p, old);
			if (rc != HSM_OK)
				return rc;
		}
		return HSM_OK;
	case JSON_INTEGER:
		return check_integer(json_integer_value(v), p);
	case JSON_REAL:
		/* Not printed: %g would show 1.0 as "1" and confuse the reader. */
		return hsm_fail(HSM_ERR_FORMAT,
		    "JSON: the number at %s is not an integer (it has a fraction or "
		    "an exponent); only integers are accepted", path_str(p));
	default:
		return HSM_OK;
	}
}

/*
 * The fast path of cjson_parse: one pass over a document that is already in
 * the plainest canonical spelling (every frame of the module protocol, a
 * 230 KB batch of blobs among them), building the tree jansson would build.
 * It takes only: no whitespace, object keys strictly ascending (so no
 * duplicates), strings of printable ASCII without escapes, integers within
 * +-(2^53-1) without leading zeros or "-0", true, false, null, nesting within
 * CJSON_MAX_DEPTH. On anything else (an escape, non-ASCII, a space, a key out
 * of order, a fraction, out of memory) it gives up with NULL and the general
 * path decides exactly as before: it accepts nothing that path refuses, and
 * what it accepts is byte for byte what cjson_dump writes for its tree.
 */
struct canon {
	const char *s;
	size_t      n, i;
};

/* The body of the plain string opening at s[c->i] ('"'): *len bytes at
 * *body, and c->i past the closing quote. 0 if it is not plain. */
static int
canon_str(struct canon *c, const char **body, size_t *len)
{
	const char *b = c->s + c->i + 1;
	size_t n;

	if (c->i >= c->n || c->s[c->i] != '"')
		return 0;
	/* The first byte that is not plain must be the closing quote. */
	n = plain_len(b, c->n - c->i - 1);
	if (n == c->n - c->i - 1 || b[n] != '"')
		return 0;
	*body = b;
	*len = n;
	c->i += n + 2;
	return 1;
}

static json_t *
canon_int(struct canon *c)
{
	const char *s = c->s;
	size_t i = c->i, start;
	long long v = 0;
	int neg = 0;

	if (i < c->n && s[i] == '-')
		neg = 1, i++;
	start = i;
	if (i >= c->n || s[i] < '0' || s[i] > '9' || (s[i] == '0' && neg))
		return NULL;
	if (s[i] == '0')
		i++;   /* a lone zero: a digit after it is refused below */
	else
		/* 2^53-1 has 16 digits: 16 cannot overflow, 17 are out of range. */
		while (i < c->n && s[i] >= '0' && s[i] <= '9' && i - start < 16)
			v = v * 10 + (s[i++] - '0');
	if ((i < c->n && s[i] >= '0' && s[i] <= '9') || v > CJSON_MAX_INT)
		return NULL;
	c->i = i;
	return json_integer(neg ? -v : v);
}

static json_t *canon_value(struct canon *c, int depth);

/* An object whose keys ascend strictly, in bytes: for ASCII keys that is
 * RFC 8785's UTF-16 order. */
static json_t *
canon_object(struct canon *c, int depth)
{
	const char *key, *prev = NULL;
	size_t klen, plen = 0;
	json_t *o = json_object(), *v;

	c->i++;
	if (o != NULL && c->i < c->n && c->s[c->i] == '}') {
		c->i++;
		return o;
	}
	while (o != NULL) {
		int cmp;
		if (!canon_str(c, &key, &klen))
			break;
		cmp = prev == NULL ? -1 : memcmp(prev, key, plen < klen ? plen : klen);
		if (cmp > 0 || (cmp == 0 && plen >= klen) || c->i >= c->n || c->s[c->i++] != ':' ||
		    (v = canon_value(c, depth + 1)) == NULL)
			break;
		if (json_object_setn_new_nocheck(o, key, klen, v) != 0 || c->i >= c->n)
			break;
		prev = key, plen = klen;
		if (c->s[c->i] == '}') {
			c->i++;
			return o;
		}
		if (c->s[c->i++] != ',')
			break;
	}
	json_decref(o);
	return NULL;
}

static json_t *
canon_array(struct canon *c, int depth)
{
	json_t *a = json_array(), *v;

	c->i++;
	if (a != NULL && c->i < c->n && c->s[c->i] == ']') {
		c->i++;
		return a;
	}
	while (a != NULL) {
		if ((v = canon_value(c, depth + 1)) == NULL || json_array_append_new(a, v) != 0 ||
		    c->i >= c->n)
			break;
		if (c->s[c->i] == ']') {
			c->i++;
			return a;
		}
		if (c->s[c->i++] != ',')
			break;
	}
	json_decref(a);
	return NULL;
}

static json_t *
canon_word(struct canon *c, const char *w, json_t *v)
{
	size_t n = strlen(w);

	if (c->n - c->i < n || memcmp(c->s + c->i, w, n) != 0)
		return NULL;
	c->i += n;
	return v;
}

static json_t *
canon_value(struct canon *c, int depth)
{
	const char *body;
	size_t len;

	if (c->i >= c->n)
		return NULL;
	switch (c->s[c->i]) {
	case '{':
	case '[':
		if (depth + 1 > CJSON_MAX_DEPTH)
			return NULL;
		return c->s[c->i] == '{' ? canon_object(c, depth) : canon_array(c, depth);
	case '"':
		/* Plain ASCII: jansson's UTF-8 scan has nothing to find. */
		return canon_str(c, &body, &len) ? json_stringn_nocheck(body, len) : NULL;
	case 't':
		return canon_word(c, "true", json_true());
	case 'f':
		return canon_word(c, "false", json_false());
	case 'n':
		return canon_word(c, "null", json_null());
	default:
		return canon_int(c);
	}
}

/* The whole document through the fast path, or NULL. */
static json_t *
canon_parse(const char *buf, size_t len)
{
	struct canon c = { buf, len, 0 };
	json_t *v = canon_value(&c, 0);

	if (v != NULL && c.i != len) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* Turn a jansson error into one plain message per kind of refusal. */
static hsm_rc
parse_error(const json_error_t *e)
{
	char text[JSON_ERROR_TEXT_LENGTH] = "";
	const char *what;

	switch (json_error_code(e)) {
	case json_error_out_of_memory:
		return hsm_fail(HSM_ERR_NOMEM, "JSON: out of memory while parsing");
	case json_error_duplicate_key:
		what = "the same key appears twice in one object";
		break;
	case json_error_invalid_utf8:
		what = "the text is not valid UTF-8";
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		what = "a string contains \\u0000 (NUL), which is not accepted";
		break;
	case json_error_numeric_overflow:
		what = "a number is out of range; only integers from -(2^53-1) to "
		    "2^53-1 are accepted";
		break;
	case json_error_end_of_input_expected:
		what = "there is more text after the end of the JSON value";
		break;
	case json_error_premature_end_of_input:
		what = "the JSON ends too early (truncated?)";
		break;
	case json_error_stack_overflow:
		what = "nesting is too deep";
		break;
	default:
		/* jansson quotes the input near the error; keep control bytes and
		 * non-ASCII out of the terminal. */
		for (size_t i = 0; i < sizeof(text) - 1 && e->text[i] != '\0'; i++) {
			unsigned char c = (unsigned char)e->text[i];
			text[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
			text[i + 1] = '\0';
		}
		return hsm_fail(HSM_ERR_FORMAT, "JSON: invalid syntax at line %d, column %d: %s",
		    e->line, e->column, text);
	}
	return hsm_fail(HSM_ERR_FORMAT, "JSON: %s (line %d, column %d)", what, e->line,
	    e->column);
}

/* Every spelling jansson reads, held to our rules after it. */
static hsm_rc
parse_general(const char *buf, size_t len, json_t **out)
{
	struct path p = { { 0 }, 0 };
	json_error_t e;
	json_t *v;
	hsm_rc rc;

	if ((rc = check_depth(buf, len)) != HSM_OK)
		return rc;
	/* No JSON_DISABLE_EOF_CHECK (trailing text is an error), no
	 * JSON_ALLOW_NUL (\u0000 is an error), no JSON_DECODE_INT_AS_REAL. */
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (v == NULL)
		return parse_error(&e);
	if ((rc = check_tree(v, 0, &p)) != HSM_OK) {
		json_decref(v);
		return rc;
	}
	*out = v;
	return HSM_OK;
}

hsm_rc
cjson_parse(const char *buf, size_t len, json_t **out)
{
	*out = NULL;
	if (buf == NULL)
		return hsm_fail(HSM_ERR_USAGE, "JSON: no input");
	if ((*out = canon_parse(buf, len)) != NULL)
		return HSM_OK;
	return parse_general(buf, len, out);
}

hsm_rc
cjson_parse_canonical(const char *buf, size_t len, json_t **out, int *canonical)
{
	char *c = NULL;
	size_t cl = 0;
	hsm_rc rc;

	*out = NULL;
	*canonical = 0;
	if (buf == NULL)
		return hsm_fail(HSM_ERR_USAGE, "JSON: no input");
	/* The fast path's documents are canonical by construction: nothing to
	 * write back. Any other document is written back and compared. */
	if ((*out = canon_parse(buf, len)) != NULL) {
		*canonical = 1;
		return HSM_OK;
	}
	if ((rc = parse_general(buf, len, out)) != HSM_OK)
		return rc;
	if ((rc = cjson_dump(*out, &c, &cl)) != HSM_OK) {
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	*canonical = cl == len && memcmp(c, buf, len) == 0;
	free(c);
	return HSM_OK;
}

/* ---------------------------------------------------------------- getters */

static hsm_rc
get_field(const json_t *obj, const char *key, json_t **out)
{
	*out = NULL;
	if (!json_is_object(obj))
		return hsm_fail(HSM_ERR_FORMAT,
		    "JSON: expected an object holding field \"%s\"", key);
	if ((*out = json_object_get(obj, key)) == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "JSON: field \"%s\" is missing", key);
	return HSM_OK;
}

static hsm_rc
wrong_type(const char *key, const char *want)
{
	return hsm_fail(HSM_ERR_FORMAT, "JSON: field \"%s\" must be %s", key, want);
}

hsm_rc
cjson_get_str(const json_t *obj, const char *key, const char **out)
{
	json_t *v;
	hsm_rc rc;

	*out = NULL;
	if ((rc = get_field(obj, key, &v)) != HSM_OK)
		return rc;
	if (!json_is_string(v))
		return wrong_type(key, "a string");
	*out = json_string_value(v);
	return HSM_OK;
}

hsm_rc
cjson_get_int(const json_t *obj, const char *key, long long *out)
{
	json_t *v;
	hsm_rc rc;

	*out = 0;
	if ((rc = get_field(obj, key, &v)) != HSM_OK)
		return rc;
	if (!json_is_integer(v))
		return wrong_type(key, "an integer");
	if (json_integer_value(v) > CJSON_MAX_INT || json_integer_value(v) < -CJSON_MAX_INT)
		return hsm_fail(HSM_ERR_FORMAT,
		    "JSON: field \"%s\" is out of range (beyond +-(2^53-1))", key);
	*out = (long long)json_integer_value(v);
	return HSM_OK;
}

hsm_rc
cjson_get_obj(const json_t *obj, const char *key, json_t **out)
{
	json_t *v;
	hsm_rc rc;

	*out = NULL;
	if ((rc = get_field(obj, key, &v)) != HSM_OK)
		return rc;
	if (!json_is_object(v))
		return wrong_type(key, "an object");
	*out = v;
	return HSM_OK;
}

hsm_rc
cjson_get_arr(const json_t *obj, const char *key, json_t **out)
{
	json_t *v;
	hsm_rc rc;

	*out = NULL;
	if ((rc = get_field(obj, key, &v)) != HSM_OK)
		return rc;
	if (!json_is_array(v))
		return wrong_type(key, "an array");
	*out = v;
	return HSM_OK;
}

hsm_rc
cjson_get_bool(const json_t *obj, const char *key, int *out)
{
	json_t *v;
	hsm_rc rc;

	*out = 0;
	if ((rc = get_field(obj, key, &v)) != HSM_OK)
		return rc;
	if (!json_is_boolean(v))
		return wrong_type(key, "true or false");
	*out = json_is_true(v);
	return HSM_OK;
}

hsm_rc
cjson_get_hex(const json_t *obj, const char *key, uint8_t *out, size_t n)
{
	const char *s;
	hsm_rc rc;

	if ((rc = cjson_get_str(obj, key, &s)) != HSM_OK)
		return rc;
	if (strlen(s) != json_string_length(json_object_get(obj, key)))
		return hsm_fail(HSM_ERR_FORMAT, "JSON: field \"%s\" contains a NUL character",
		    key);
	if ((rc = hex_decode_into(s, out, n)) != HSM_OK)
		return hsm_fail_wrap(rc, "JSON: field \"%s\"", key);
	return HSM_OK;
}

/* ---------------------------------------------------------------- files */

hsm_rc
cjson_load_file(const char *path, json_t **out)
{
	char *buf = NULL;
	size_t len = 0;
	hsm_rc rc;

	*out = NULL;
	if ((rc = hsm_file_read(path, CJSON_MAX_FILE, &buf, &len)) != HSM_OK)
		return rc;
	if ((rc = cjson_parse(buf, len, out)) != HSM_OK)
		(void)hsm_fail_wrap(rc, "%s", path);
	free(buf);
	return rc;
}

hsm_rc
cjson_save_file(const char *path, const json_t *v, int mode)
{
	char *doc = NULL;
	size_t doclen = 0;
	hsm_rc rc;

	if (path == NULL || *path == '\0')
		return hsm_fail(HSM_ERR_USAGE, "no file name given");
	if (mode < 0 || mode > 07777)
		return hsm_fail(HSM_ERR_USAGE, "file mode %o is not valid", (unsigned)mode);
	/* Serialize first: a document we cannot write must not touch the disk. */
	if ((rc = cjson_dump(v, &doc, &doclen)) != HSM_OK)
		return rc;
	doc[doclen] = '\n';  /* the NUL slot: cjson_dump always leaves one */
	rc = hsm_file_replace(path, doc, doclen + 1, (mode_t)mode);
	free(doc);
	return rc;
}
