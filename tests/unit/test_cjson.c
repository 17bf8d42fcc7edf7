/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_cjson.c - canonical JSON: RFC 8785 vectors (those made of strings and
 * integers), one test per refused input, round trips, getters, files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "hsmadm/cjson.h"

/* Parse in, dump it, and expect exactly want (byte for byte). */
static void
canon_is(const char *in, const char *want)
{
	json_t *v = NULL, *v2 = NULL;
	char *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0;

	if (cjson_parse(in, strlen(in), &v) != HSM_OK)
		fail_msg("parse failed: %s", hsm_errmsg());
	assert_int_equal(cjson_dump(v, &out, &len), HSM_OK);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	assert_int_equal(out[len], '\0');
	/* Canonical output parses back to the same canonical output. */
	assert_int_equal(cjson_parse(out, len, &v2), HSM_OK);
	assert_int_equal(cjson_dump(v2, &out2, &len2), HSM_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(out2, out, len);
	assert_true(json_equal(v, v2));
	free(out);
	free(out2);
	json_decref(v);
	json_decref(v2);
}

/* Parse n bytes and expect HSM_ERR_FORMAT with a message containing want. */
static void
refused_n(const char *in, size_t n, const char *want)
{
	json_t *v = (json_t *)1;

	hsm_err_clear();
	assert_int_equal(cjson_parse(in, n, &v), HSM_ERR_FORMAT);
	assert_null(v);
	assert_int_equal(hsm_errcode(), HSM_ERR_FORMAT);
	if (strstr(hsm_errmsg(), want) == NULL)
		fail_msg("input %.60s: message \"%s\" lacks \"%s\"", in, hsm_errmsg(), want);
}

static void
refused(const char *in, const char *want)
{
	refused_n(in, strlen(in), want);
}

/* Dump v and expect HSM_ERR_FORMAT mentioning want; v is consumed. */
static void
dump_refused(json_t *v, const char *want)
{
	char *out = (char *)1;
	size_t len = 7;

	assert_non_null(v);
	hsm_err_clear();
	assert_int_equal(cjson_dump(v, &out, &len), HSM_ERR_FORMAT);
	assert_null(out);
	assert_int_equal(len, 0);
	if (strstr(hsm_errmsg(), want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", hsm_errmsg(), want);
	json_decref(v);
}

/* ------------------------------------------------------------ vectors */

/* RFC 8785 3.2.3 sorting example (cyberphone testdata weird.json): keys
 * compared as UTF-16 code units, so U+1F602 (surrogates D83D DE02) sorts
 * before U+FB33 although its code point is larger, and U+0080 after "<". */
static void
test_rfc8785_sorting(void **state)
{
	(void)state;
	canon_is("{\n"
	    "  \"\\u20ac\": \"Euro Sign\",\n"
	    "  \"\\r\": \"Carriage Return\",\n"
	    "  \"\\u000a\": \"Newline\",\n"
	    "  \"1\": \"One\",\n"
	    "  \"\\u0080\": \"Control\\u007f\",\n"
	    "  \"\\ud83d\\ude02\": \"Smiley\",\n"
	    "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\",\n"
	    "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
	    "  \"</script>\": \"Browser Challenge\"\n"
	    "}",
	    "{\"\\n\":\"Newline\",\"\\r\":\"Carriage Return\",\"1\":\"One\","
	    "\"</script>\":\"Browser Challenge\",\"\xc2\x80\":\"Control\x7f\","
	    "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
	    "\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x82\":\"Smiley\","
	    "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
	/* The brief's set: U+1F600, U+20AC, CR, "1", U+00F6, U+0080. */
	canon_is("{\"\\ud83d\\ude00\":1,\"\\u20ac\":2,\"\\r\":3,\"1\":4,"
	    "\"\\u00f6\":5,\"\\u0080\":6}",
	    "{\"\\r\":3,\"1\":4,\"\xc2\x80\":6,\"\xc3\xb6\":5,\"\xe2\x82\xac\":2,"
	    "\"\xf0\x9f\x98\x80\":1}");
	/* Non-BMP against the top of the BMP: D83D < E000 <= FFFD. */
	canon_is("{\"\\ufffd\":1,\"\\ue000\":2,\"\\ud83d\\ude00\":3}",
	    "{\"\xf0\x9f\x98\x80\":3,\"\xee\x80\x80\":2,\"\xef\xbf\xbd\":1}");
	/* Locale plays no part (testdata french.json). */
	canon_is("{\"peach\":\"This sorting order\",\"p\\u00e9ch\\u00e9\":\"is wrong "
	    "according to French\",\"p\\u00eache\":\"but canonicalization MUST\","
	    "\"sin\":\"ignore locale\"}",
	    "{\"peach\":\"This sorting order\",\"p\xc3\xa9" "ch\xc3\xa9\":\"is wrong "
	    "according to French\",\"p\xc3\xaa" "che\":\"but canonicalization MUST\","
	    "\"sin\":\"ignore locale\"}");
	/* A key that is a prefix of another sorts first. */
	canon_is("{\"ab\":1,\"a\":2,\"\":3}", "{\"\":3,\"a\":2,\"ab\":1}");
}

/* RFC 8785 3.2.2.2 string example (testdata values.json, without its
 * non-integer numbers, which we refuse) and nested structures
 * (structures.json, with 56 instead of 56.0). */
static void
test_rfc8785_strings_and_structures(void **state)
{
	(void)state;
	canon_is("{\n  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
	    "  \"literals\": [null, true, false]\n}",
	    "{\"literals\":[null,true,false],\"string\":\"\xe2\x82\xac$\\u000f\\nA'B"
	    "\\\"\\\\\\\\\\\"/\"}");
	canon_is("{\n  \"1\": {\"f\": {\"f\": \"hi\",\"F\": 5} ,\"\\n\": 56},\n"
	    "  \"10\": { },\n  \"\": \"empty\",\n  \"a\": { },\n"
	    "  \"111\": [ {\"e\": \"yes\",\"E\": \"no\" } ],\n  \"A\": { }\n}",
	    "{\"\":\"empty\",\"1\":{\"\\n\":56,\"f\":{\"F\":5,\"f\":\"hi\"}},\"10\":{},"
	    "\"111\":[{\"E\":\"no\",\"e\":\"yes\"}],\"A\":{},\"a\":{}}");
}

static void
test_string_escaping(void **state)
{
	char in[32 * 6 + 64], *p = in;

	(void)state;
	/* Every control character, written as \u00XX escapes on input. */
	p += sprintf(p, "[\"");
	for (int c = 1; c < 0x20; c++)
		p += sprintf(p, "\\u%04X", c);
	sprintf(p, "\\u007f/<>&\\u2028\\\"\\\\\"]");
	canon_is(in,
	    "[\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
	    "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
	    "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\x7f/<>&"
	    "\xe2\x80\xa8\\\"\\\\\"]");
	/* Escaped non-ASCII comes out as literal UTF-8; "\/" as "/". */
	canon_is("[\"\\u00e9\\u4e2d\\ud834\\udd1e\\/\"]",
	    "[\"\xc3\xa9\xe4\xb8\xad\xf0\x9d\x84\x9e/\"]");
	/* Literal UTF-8 input stays literal. */
	canon_is("\"\xc3\xa9t\xc3\xa9\"", "\"\xc3\xa9t\xc3\xa9\"");
	canon_is("\"\"", "\"\"");
}

static void
test_integers_and_literals(void **state)
{
	(void)state;
	canon_is("[0,-0,1,-1,9007199254740991,-9007199254740991,123456789]",
	    "[0,0,1,-1,9007199254740991,-9007199254740991,123456789]");
	canon_is("[true,false,null,[],{}]", "[true,false,null,[],{}]");
	canon_is(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n\n", "{\"a\":[1,2]}");
	canon_is("42", "42");
	canon_is("null", "null");
}

/* ------------------------------------------------------------ refusals */

static void
test_refuse_duplicate_keys(void **state)
{
	(void)state;
	refused("{\"a\":1,\"a\":2}", "the same key appears twice");
	/* The same key spelled two ways is still the same key. */
	refused("{\"a\":1,\"\\u0061\":1}", "the same key appears twice");
	refused("[{\"x\":{\"k\":1,\"k\":1}}]", "the same key appears twice");
}

static void
test_refuse_invalid_utf8(void **state)
{
	(void)state;
	refused("\"\xff\"", "not valid UTF-8");
	refused("\"\xc0\xaf\"", "not valid UTF-8");          /* overlong '/' */
	refused("\"\xed\xa0\x80\"", "not valid UTF-8");      /* surrogate D800 */
	refused("\"\xf4\x90\x80\x80\"", "not valid UTF-8");  /* beyond U+10FFFF */
	refused("\"\xc3\"", "not valid UTF-8");              /* truncated */
	refused("{\"\xe2\x82\":1}", "not valid UTF-8");      /* in a key */
}

static void
test_refuse_non_integers(void **state)
{
	(void)state;
	refused("1.0", "is not an integer");
	refused("[1e2]", "is not an integer");
	refused("[1E2]", "is not an integer");
	refused("{\"a\":-0.5}", "is not an integer");
	refused("{\"a\":{\"b\":[0,0.0]}}", "at /a/b/1 is not an integer");
	/* Paths in messages: control and non-ASCII bytes shown as '?', long keys
	 * cut with "...". */
	refused("{\"\\u001b[2J\\u00e9\":[1.5]}", "at /?[2J?" "?/0 is not");
	{
		char doc[700];
		memset(doc, 'k', sizeof(doc));
		memcpy(doc, "{\"", 2);
		strcpy(doc + 600, "\":{\"x\":0.5}}");
		refused(doc, "kkkkkkkk... is not an integer");
	}
	refused("1e-400", "is not an integer");
	/* Too large for jansson's double: still a number we refuse. */
	refused("1e400", "out of range");
}

static void
test_refuse_integer_range(void **state)
{
	(void)state;
	refused("9007199254740992", "out of range");
	refused("[-9007199254740992]", "integer -9007199254740992 at /0 is out of range");
	refused("{\"n\":9223372036854775807}", "out of range");
	refused("99999999999999999999999", "out of range");
	refused("-99999999999999999999999", "out of range");
}

static void
test_refuse_trailing_garbage(void **state)
{
	(void)state;
	refused("{} x", "more text after the end");
	refused("{}{}", "more text after the end");
	refused("1 2", "more text after the end");
	refused_n("{}\0", 3, "more text after the end");
}

/* n nested arrays (or objects) around 1. */
static char *
nested(int n, int objects)
{
	char *s = malloc((size_t)n * 6 + 8), *p = s;

	for (int i = 0; i < n; i++)
		p += sprintf(p, objects ? "{\"k\":" : "[");
	p += sprintf(p, "1");
	for (int i = 0; i < n; i++)
		*p++ = objects ? '}' : ']';
	*p = '\0';
	return s;
}

static void
test_refuse_depth(void **state)
{
	char *s;

	(void)state;
	s = nested(CJSON_MAX_DEPTH, 0);
	canon_is(s, s);
	free(s);
	s = nested(CJSON_MAX_DEPTH, 1);
	canon_is(s, s);
	free(s);
	s = nested(CJSON_MAX_DEPTH + 1, 0);
	refused(s, "nesting deeper than 64 levels");
	free(s);
	s = nested(CJSON_MAX_DEPTH + 1, 1);
	refused(s, "nesting deeper than 64 levels");
	free(s);
	/* Deeper than jansson's own limit (2048): still our message. */
	s = nested(5000, 0);
	refused(s, "nesting deeper than 64 levels");
	free(s);
	/* Brackets inside strings are not nesting. */
	s = malloc(300);
	memset(s, '[', 300);
	s[0] = '"';
	s[298] = '"';
	s[299] = '\0';
	canon_is(s, s);
	free(s);
}

static void
test_refuse_nul(void **state)
{
	(void)state;
	refused("\"a\\u0000b\"", "contains \\u0000 (NUL)");
	refused("{\"a\\u0000\":1}", "contains \\u0000 (NUL)");
	/* A raw NUL byte inside a string is a raw control character. */
	refused_n("\"a\0b\"", 5, "invalid syntax");
}

static void
test_refuse_other_syntax(void **state)
{
	(void)state;
	refused("", "ends too early");
	refused("{\"a\":", "ends too early");
	refused("[1,2", "ends too early");
	refused("{'a':1}", "invalid syntax");
	refused("[1,]", "invalid syntax");
	refused("[01]", "invalid syntax");
	refused("[+1]", "invalid syntax");
	refused("\"\\ud800\"", "invalid syntax");     /* lone surrogate escape */
	refused("\"a\tb\"", "invalid syntax");         /* raw control character */
	refused("[NaN]", "invalid syntax");
	refused("\xef\xbb\xbf{}", "invalid token near '?" "?" "?'");  /* BOM, not echoed */
	assert_int_equal(cjson_parse(NULL, 0, &(json_t *){ NULL }), HSM_ERR_USAGE);
}

/* ------------------------------------------------- canonical fast path */

/* cjson_parse_canonical on in: the return code, and the verdict when it
 * parsed; its tree must be the one jansson builds. */
static hsm_rc
canon_check(const char *in, size_t n, int *canonical)
{
	json_t *v = NULL, *ref;
	hsm_rc rc;

	*canonical = -1;
	hsm_err_clear();
	rc = cjson_parse_canonical(in, n, &v, canonical);
	if (rc != HSM_OK) {
		assert_null(v);
		assert_int_equal(*canonical, 0);
		return rc;
	}
	ref = json_loadb(in, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	assert_non_null(ref);
	assert_true(json_equal(v, ref));
	json_decref(ref);
	json_decref(v);
	return rc;
}

static void
canonical_yes(const char *in)
{
	int c;

	if (canon_check(in, strlen(in), &c) != HSM_OK)
		fail_msg("%.60s: %s", in, hsm_errmsg());
	if (c != 1)
		fail_msg("%.60s: not seen as canonical", in);
}

static void
canonical_no(const char *in)
{
	int c;

	if (canon_check(in, strlen(in), &c) != HSM_OK)
		fail_msg("%.60s: %s", in, hsm_errmsg());
	if (c != 0)
		fail_msg("%.60s: seen as canonical", in);
}

static void
canonical_refused(const char *in, const char *want)
{
	int c;

	assert_int_equal(canon_check(in, strlen(in), &c), HSM_ERR_FORMAT);
	if (strstr(hsm_errmsg(), want) == NULL)
		fail_msg("input %.60s: message \"%s\" lacks \"%s\"", in, hsm_errmsg(), want);
	refused(in, want);   /* and cjson_parse says the same */
}

static void
test_canonical_plain(void **state)
{
	size_t big = 1100000;
	char *doc = malloc(big + 64);
	int c;

	(void)state;
	canonical_yes("{}");
	canonical_yes("[]");
	canonical_yes("0");
	canonical_yes("-1");
	canonical_yes("\"\"");
	canonical_yes("[true,false,null,{},[],\"\",0]");
	canonical_yes("{\"\":0,\"A\":1,\"a\":2,\"aa\":3,\"ab\":[{\"x\":\"y z ~!#$%&'()*+,-./\"}],\"b\":-9}");
	canonical_yes("{\"id\":7,\"ok\":true,\"result\":{\"blobs\":\"AAAA+/9z\",\"count\":2,\"failed\":[]}}");
	canonical_yes("[9007199254740991,-9007199254740991,1000000000000000,10]");
	/* A batch of blobs: one string of a million base64 characters. */
	memcpy(doc, "{\"blobs\":\"", 10);
	for (size_t i = 0; i < big; i++)
		doc[10 + i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
	strcpy(doc + 10 + big, "\",\"n\":1}");
	canonical_yes(doc);
	/* ... and that string with one byte that leaves the fast path. */
	doc[10 + big / 2] = '\\';
	assert_int_equal(canon_check(doc, strlen(doc), &c), HSM_ERR_FORMAT);
	doc[10 + big / 2] = (char)0xc3;
	assert_int_equal(canon_check(doc, strlen(doc), &c), HSM_ERR_FORMAT);   /* bad UTF-8 */
	doc[10 + big / 2] = ' ';
	canonical_yes(doc);
	free(doc);
	doc = nested(CJSON_MAX_DEPTH, 1);
	canonical_yes(doc);
	free(doc);
	/* Canonical but not plain: decided by the general path, same verdict. */
	canonical_yes("\"\xc3\xa9t\xc3\xa9\"");
	canonical_yes("{\"\xc3\xa9\":1,\"\xf0\x9f\x98\x80\":2,\"\xef\xbd\xa1\":3}");   /* UTF-16 order */
	canonical_yes("[\"a\\nb\",\"\\\"\",\"\\\\\",\"\\u001f\",\"\x7f\"]");
}

static void
test_canonical_refused(void **state)
{
	char *s;

	(void)state;
	/* JSON, but not in its canonical spelling. */
	canonical_no(" {}");
	canonical_no("{} ");
	canonical_no("{\"a\": 1}");
	canonical_no("[1, 2]");
	canonical_no("{\"b\":1,\"a\":2}");               /* keys out of order */
	canonical_no("{\"aa\":1,\"a\":2}");
	canonical_no("{\"\xef\xbd\xa1\":1,\"\xf0\x9f\x98\x80\":2}");   /* code point order, not UTF-16 */
	canonical_no("[\"\\u0041\"]");                   /* needless escapes */
	canonical_no("[\"\\/\"]");
	canonical_no("[\"\\u00e9\"]");
	canonical_no("[\"\\u000a\"]");
	canonical_no("[\"\\u007f\"]");
	canonical_no("[-0]");
	/* Not JSON we accept at all: the same refusal as cjson_parse. */
	canonical_refused("{\"a\":1,\"a\":2}", "the same key appears twice");
	canonical_refused("{\"a\":1,\"\\u0061\":2}", "the same key appears twice");
	canonical_refused("[01]", "invalid syntax");
	canonical_refused("[1.0]", "is not an integer");
	canonical_refused("[1e3]", "is not an integer");
	canonical_refused("[9007199254740992]", "out of range");
	canonical_refused("[-12345678901234567]", "out of range");
	canonical_refused("[\"\xff\"]", "not valid UTF-8");
	canonical_refused("[\"a\\u0000\"]", "contains \\u0000 (NUL)");
	canonical_refused("[\"a\tb\"]", "invalid syntax");
	canonical_refused("{\"a\":1", "ends too early");
	canonical_refused("{}{}", "more text after the end");
	canonical_refused("[tru]", "invalid syntax");
	s = nested(CJSON_MAX_DEPTH + 1, 0);
	canonical_refused(s, "nesting deeper than 64 levels");
	free(s);
}

/* The reference verdict, as the frame check had it before the fast path:
 * jansson, our rules (cjson_dump enforces the same), then written back and
 * compared byte for byte. */
static hsm_rc
reference(const char *in, size_t n, json_t **v, int *canonical)
{
	char *out = NULL;
	size_t len = 0;
	hsm_rc rc;

	*canonical = 0;
	*v = json_loadb(in, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (*v == NULL)
		return HSM_ERR_FORMAT;
	if ((rc = cjson_dump(*v, &out, &len)) != HSM_OK) {
		json_decref(*v);
		*v = NULL;
		return rc;
	}
	*canonical = len == n && memcmp(out, in, n) == 0;
	free(out);
	return HSM_OK;
}

/* Seeded mutations of canonical documents: the fast path must never accept
 * what the reference refuses, nor call canonical what is not. */
static void
test_canonical_differential(void **state)
{
	static const char *const seeds[] = {
		"{\"id\":3,\"op\":\"blob.reencipher\",\"params\":{\"blobs\":\"SEtCAR+/abc0\",\"domain\":5,\"to\":\"pending\"}}",
		"{\"error\":{\"code\":1,\"message\":\"no\",\"reason\":\"bad_json\"},\"id\":-1,\"ok\":false}",
		"[[],{},[{\"a\":[1,-2,30]}],true,false,null,\"\",9007199254740991]",
		"{\"\":{\"\":[]},\"a\":\"b\",\"aa\":0,\"b\":[\"x\",\"y\"]}",
	};
	static const char alphabet[] = "{}[],:\"\\ 0019-.eEtrunfalsAz+/\x7f\x80\xc3\xa9\x01\n";
	unsigned long long x = 0x9e3779b97f4a7c15ULL;
	char buf[256];
	int it;

	(void)state;
	for (it = 0; it < 40000; it++) {
		const char *seed = seeds[it % 4];
		size_t n = strlen(seed), k, edits;
		json_t *v = NULL, *r = NULL;
		int c = -1, rc_c = 0;
		hsm_rc rc, want;

		memcpy(buf, seed, n);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		for (edits = 1 + (x >> 60) % 3, k = 0; k < edits; k++) {
			size_t at = (size_t)((x >> 8) % n);
			char ch = alphabet[(x >> 32) % (sizeof(alphabet) - 1)];
			switch ((x >> 40) % 3) {
			case 0:
				buf[at] = ch;
				break;
			case 1:
				if (n + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, n - at);
					buf[at] = ch;
					n++;
				}
				break;
			default:
				if (n > 1) {
					memmove(buf + at, buf + at + 1, n - at - 1);
					n--;
				}
				break;
			}
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		}
		want = reference(buf, n, &r, &rc_c);
		rc = cjson_parse_canonical(buf, n, &v, &c);
		if (rc != want || (rc == HSM_OK && (c != rc_c || !json_equal(v, r))))
			fail_msg("mutation %d \"%.*s\": %d/%d, reference %d/%d", it, (int)n, buf, rc, c,
			         want, rc_c);
		json_decref(v);
		/* cjson_parse takes the same documents, to the same tree. */
		rc = cjson_parse(buf, n, &v);
		assert_int_equal(rc, want);
		if (rc == HSM_OK)
			assert_true(json_equal(v, r));
		json_decref(v);
		json_decref(r);
	}
}

/* Every byte value at every place of a string (within the 8-byte steps of
 * the fast path's scan and in its tail): the same verdict as the reference. */
static void
test_canonical_every_byte(void **state)
{
	char doc[40];
	int c;

	(void)state;
	for (int at = 0; at < 21; at++) {
		for (int b = 1; b < 256; b++) {
			json_t *v = NULL, *r = NULL;
			int rc_c = 0;
			hsm_rc want, rc;

			memcpy(doc, "[\"ABCDEFGHIJKLMNOPQRSTU\"]", 26);
			doc[2 + at] = (char)b;
			want = reference(doc, 25, &r, &rc_c);
			rc = cjson_parse_canonical(doc, 25, &v, &c);
			if (rc != want || (rc == HSM_OK && (c != rc_c || !json_equal(v, r))))
				fail_msg("byte 0x%02x at %d: %d/%d, reference %d/%d", b, at, rc, c, want, rc_c);
			json_decref(v);
			json_decref(r);
		}
	}
}

static void
test_dump_after(void **state)
{
	json_t *v = json_pack("{s:s, s:i}", "b", "x", "a", 1);
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(cjson_dump_after(v, 4, &out, &len), HSM_OK);
	assert_int_equal(len, strlen("{\"a\":1,\"b\":\"x\"}"));
	assert_memory_equal(out, "\0\0\0\0{\"a\":1,\"b\":\"x\"}", 4 + len + 1);
	free(out);
	assert_int_equal(cjson_dump_after(v, 0, &out, &len), HSM_OK);
	assert_string_equal(out, "{\"a\":1,\"b\":\"x\"}");
	free(out);
	assert_int_equal(cjson_dump_after(v, 65, &out, &len), HSM_ERR_USAGE);
	assert_null(out);
	json_decref(v);
}

/* Values built in code are held to the same rules by the writer. */
static void
test_dump_refusals(void **state)
{
	json_t *deep, *o;

	(void)state;
	dump_refused(json_real(1.5), "is not an integer");
	dump_refused(json_pack("{s:[i,f]}", "a", 1, 2.0), "at /a/1 is not an integer");
	dump_refused(json_integer(CJSON_MAX_INT + 1), "out of range");
	dump_refused(json_integer(-CJSON_MAX_INT - 1), "out of range");
	dump_refused(json_stringn("a\0b", 3), "contains a NUL character");
	o = json_object();
	assert_int_equal(json_object_setn_new_nocheck(o, "k\0y", 3, json_true()), 0);
	dump_refused(o, "key at the top level contains a NUL");
	dump_refused(json_string_nocheck("\xff"), "not valid UTF-8");
	o = json_object();
	assert_int_equal(json_object_set_new_nocheck(o, "\xc3", json_true()), 0);
	dump_refused(o, "not valid UTF-8");
	deep = json_integer(1);
	for (int i = 0; i < CJSON_MAX_DEPTH + 1; i++) {
		json_t *a = json_array();
		json_array_append_new(a, deep);
		deep = a;
	}
	dump_refused(deep, "deeper than 64 levels");
}

/* ------------------------------------------------------------ round trip */

static void
test_roundtrip_built(void **state)
{
	json_t *v, *back = NULL;
	char *out = NULL;
	size_t len = 0;

	(void)state;
	v = json_pack("{s:s, s:I, s:[b,n,s], s:{s:i, s:s}, s:s}",
	    "zeta", "last", "num", (json_int_t)-CJSON_MAX_INT,
	    "list", 1, "\xf0\x9f\x98\x80\n\t\"\\",
	    "obj", "\xe2\x82\xac", 1, "A", "\x01",
	    "", "empty key");
	assert_non_null(v);
	assert_int_equal(cjson_dump(v, &out, &len), HSM_OK);
	assert_string_equal(out,
	    "{\"\":\"empty key\",\"list\":[true,null,\"\xf0\x9f\x98\x80\\n\\t\\\"\\\\\"],"
	    "\"num\":-9007199254740991,\"obj\":{\"A\":\"\\u0001\",\"\xe2\x82\xac\":1},"
	    "\"zeta\":\"last\"}");
	assert_int_equal(cjson_parse(out, len, &back), HSM_OK);
	assert_true(json_equal(v, back));
	free(out);
	json_decref(v);
	json_decref(back);
}

static void
test_digest(void **state)
{
	static const uint8_t want[32] = {
		0x63, 0xe8, 0x06, 0x3d, 0x9d, 0xc6, 0xf0, 0xfd, 0x5a, 0x24, 0xb4, 0x70,
		0x68, 0x18, 0xa1, 0x65, 0xfd, 0x57, 0xc3, 0x53, 0x1b, 0x74, 0x46, 0x6c,
		0xf5, 0xde, 0xa6, 0x2b, 0xff, 0x09, 0xb0, 0xb6,
	};
	uint8_t d[32], d2[32];
	json_t *a = NULL, *b = NULL;
	/* SHA-256 of {"a":1,"b":[true,"x"]}; key order and spacing do not matter. */
	const char *t1 = "{\"b\":[true,\"x\"],\"a\":1}";
	const char *t2 = "{ \"a\" : 1 , \"b\" : [ true , \"\\u0078\" ] }";

	(void)state;
	assert_int_equal(cjson_parse(t1, strlen(t1), &a), HSM_OK);
	assert_int_equal(cjson_parse(t2, strlen(t2), &b), HSM_OK);
	assert_int_equal(cjson_digest(a, d), HSM_OK);
	assert_int_equal(cjson_digest(b, d2), HSM_OK);
	assert_memory_equal(d, want, 32);
	assert_memory_equal(d2, want, 32);
	json_decref(b);
	b = json_real(0.5);
	assert_int_equal(cjson_digest(b, d), HSM_ERR_FORMAT);
	json_decref(a);
	json_decref(b);
}

/* ------------------------------------------------------------ getters */

static void
test_getters(void **state)
{
	const char *doc = "{\"s\":\"text\",\"i\":-42,\"o\":{\"x\":1},\"a\":[1],\"b\":true,"
	    "\"f\":false,\"h\":\"00ff\",\"H\":\"00FF\",\"n\":null}";
	json_t *v = NULL, *o = NULL, *arr = NULL;
	const char *s = NULL;
	long long i = 0;
	int b = -1;
	uint8_t hx[2];

	(void)state;
	assert_int_equal(cjson_parse(doc, strlen(doc), &v), HSM_OK);
	assert_int_equal(cjson_get_str(v, "s", &s), HSM_OK);
	assert_string_equal(s, "text");
	assert_int_equal(cjson_get_int(v, "i", &i), HSM_OK);
	assert_int_equal(i, -42);
	assert_int_equal(cjson_get_obj(v, "o", &o), HSM_OK);
	assert_int_equal(json_object_size(o), 1);
	assert_int_equal(cjson_get_arr(v, "a", &arr), HSM_OK);
	assert_int_equal(json_array_size(arr), 1);
	assert_int_equal(cjson_get_bool(v, "b", &b), HSM_OK);
	assert_int_equal(b, 1);
	assert_int_equal(cjson_get_bool(v, "f", &b), HSM_OK);
	assert_int_equal(b, 0);
	assert_int_equal(cjson_get_hex(v, "h", hx, 2), HSM_OK);
	assert_memory_equal(hx, "\x00\xff", 2);

	/* Missing key: message names it. */
	assert_int_equal(cjson_get_str(v, "nope", &s), HSM_ERR_FORMAT);
	assert_null(s);
	assert_string_equal(hsm_errmsg(), "JSON: field \"nope\" is missing");
	/* Wrong types: message names key and expected type. */
	assert_int_equal(cjson_get_str(v, "i", &s), HSM_ERR_FORMAT);
	assert_string_equal(hsm_errmsg(), "JSON: field \"i\" must be a string");
	assert_int_equal(cjson_get_int(v, "s", &i), HSM_ERR_FORMAT);
	assert_string_equal(hsm_errmsg(), "JSON: field \"s\" must be an integer");
	assert_int_equal(cjson_get_obj(v, "a", &o), HSM_ERR_FORMAT);
	assert_null(o);
	assert_string_equal(hsm_errmsg(), "JSON: field \"a\" must be an object");
	assert_int_equal(cjson_get_arr(v, "o", &arr), HSM_ERR_FORMAT);
	assert_string_equal(hsm_errmsg(), "JSON: field \"o\" must be an array");
	assert_int_equal(cjson_get_bool(v, "n", &b), HSM_ERR_FORMAT);
	assert_string_equal(hsm_errmsg(), "JSON: field \"n\" must be true or false");
	assert_int_equal(cjson_get_hex(v, "H", hx, 2), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "field \"H\": hex: uppercase"));
	assert_int_equal(cjson_get_hex(v, "h", hx, 4), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "expected 4 bytes"));
	assert_int_equal(cjson_get_hex(v, "i", hx, 2), HSM_ERR_FORMAT);
	/* Not an object at all. */
	assert_int_equal(cjson_get_str(arr, "s", &s), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "expected an object"));
	assert_int_equal(cjson_get_int(NULL, "s", &i), HSM_ERR_FORMAT);
	json_decref(v);

	/* Integers past 2^53-1 built in code are refused by the getter too. */
	v = json_pack("{s:I}", "big", (json_int_t)CJSON_MAX_INT + 1);
	assert_int_equal(cjson_get_int(v, "big", &i), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "out of range"));
	json_decref(v);
}

/* ------------------------------------------------------------ files */

struct tmpdir {
	char path[256];
};

static int
setup_dir(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));
	const char *base = getenv("TMPDIR");

	snprintf(t->path, sizeof(t->path), "%s/test_cjson.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(t->path) == NULL)
		return -1;
	*state = t;
	return 0;
}

static int
teardown_dir(void **state)
{
	struct tmpdir *t = *state;
	DIR *d = opendir(t->path);
	struct dirent *e;
	char p[600];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", t->path, e->d_name);
		chmod(p, 0700);
		if (unlink(p) != 0)
			rmdir(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(t->path);
	free(t);
	return 0;
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static char *
slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
test_save_and_load(void **state)
{
	struct tmpdir *t = *state;
	char path[512];
	json_t *v, *back = NULL;
	struct stat st;

	snprintf(path, sizeof(path), "%s/state.json", t->path);
	v = json_pack("{s:i,s:s}", "b", 2, "a", "x");
	assert_int_equal(cjson_save_file(path, v, 0600), HSM_OK);
	assert_string_equal(slurp(path), "{\"a\":\"x\",\"b\":2}\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_entries(t->path), 1);
	assert_int_equal(cjson_load_file(path, &back), HSM_OK);
	assert_true(json_equal(v, back));
	json_decref(back);

	/* Replacing keeps one file, new content, the mode asked for. */
	json_object_set_new(v, "c", json_true());
	assert_int_equal(cjson_save_file(path, v, 0640), HSM_OK);
	assert_string_equal(slurp(path), "{\"a\":\"x\",\"b\":2,\"c\":true}\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(count_entries(t->path), 1);

	/* A document the writer refuses leaves the old file alone and no
	 * temporary file behind. */
	json_object_set_new(v, "r", json_real(0.25));
	assert_int_equal(cjson_save_file(path, v, 0600), HSM_ERR_FORMAT);
	assert_string_equal(slurp(path), "{\"a\":\"x\",\"b\":2,\"c\":true}\n");
	assert_int_equal(count_entries(t->path), 1);
	json_decref(v);
}

static void
test_save_refusals(void **state)
{
	struct tmpdir *t = *state;
	char path[512];
	json_t *v = json_pack("{s:i}", "a", 1);

	snprintf(path, sizeof(path), "%s/missing/dir/x.json", t->path);
	assert_int_equal(cjson_save_file(path, v, 0600), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "cannot create a temporary file"));
	snprintf(path, sizeof(path), "%s/", t->path);
	assert_int_equal(cjson_save_file(path, v, 0600), HSM_ERR_USAGE);
	assert_int_equal(cjson_save_file("", v, 0600), HSM_ERR_USAGE);
	snprintf(path, sizeof(path), "%s/x.json", t->path);
	assert_int_equal(cjson_save_file(path, v, 0100000), HSM_ERR_USAGE);
	/* The target is a directory: rename fails, nothing left behind. */
	snprintf(path, sizeof(path), "%s/sub", t->path);
	assert_int_equal(mkdir(path, 0700), 0);
	{
		char inner[600];
		snprintf(inner, sizeof(inner), "%s/f", path);
		assert_int_equal(cjson_save_file(inner, v, 0600), HSM_OK);
		assert_int_equal(cjson_save_file(path, v, 0600), HSM_ERR_IO);
		assert_non_null(strstr(hsm_errmsg(), "cannot replace"));
		assert_int_equal(unlink(inner), 0);
	}
	assert_int_equal(count_entries(t->path), 1);
	json_decref(v);
}

static void
test_load_refusals(void **state)
{
	struct tmpdir *t = *state;
	char path[512];
	json_t *v = (json_t *)1;
	int fd;

	snprintf(path, sizeof(path), "%s/none.json", t->path);
	assert_int_equal(cjson_load_file(path, &v), HSM_ERR_NOT_FOUND);
	assert_null(v);
	assert_int_equal(cjson_load_file(t->path, &v), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "not a regular file"));
	snprintf(path, sizeof(path), "%s/fifo", t->path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(cjson_load_file(path, &v), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "fifo is not a regular file"));

	snprintf(path, sizeof(path), "%s/bad.json", t->path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"a\":1.5}", 9), 9);
	close(fd);
	assert_int_equal(cjson_load_file(path, &v), HSM_ERR_FORMAT);
	assert_null(v);
	assert_non_null(strstr(hsm_errmsg(), "bad.json: JSON: the number at /a is not an integer"));

	/* Larger than 64 MiB (sparse, so cheap). */
	snprintf(path, sizeof(path), "%s/big.json", t->path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)64 * 1024 * 1024 + 1), 0);
	close(fd);
	assert_int_equal(cjson_load_file(path, &v), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "larger than 64 MiB"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8785_sorting),
		cmocka_unit_test(test_rfc8785_strings_and_structures),
		cmocka_unit_test(test_string_escaping),
		cmocka_unit_test(test_integers_and_literals),
		cmocka_unit_test(test_refuse_duplicate_keys),
		cmocka_unit_test(test_refuse_invalid_utf8),
		cmocka_unit_test(test_refuse_non_integers),
		cmocka_unit_test(test_refuse_integer_range),
		cmocka_unit_test(test_refuse_trailing_garbage),
		cmocka_unit_test(test_refuse_depth),
		cmocka_unit_test(test_refuse_nul),
		cmocka_unit_test(test_refuse_other_syntax),
		cmocka_unit_test(test_canonical_plain),
		cmocka_unit_test(test_canonical_refused),
		cmocka_unit_test(test_canonical_differential),
		cmocka_unit_test(test_canonical_every_byte),
		cmocka_unit_test(test_dump_after),
		cmocka_unit_test(test_dump_refusals),
		cmocka_unit_test(test_roundtrip_built),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_getters),
		cmocka_unit_test_setup_teardown(test_save_and_load, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_save_refusals, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_load_refusals, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
