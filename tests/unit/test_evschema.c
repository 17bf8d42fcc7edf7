/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evschema.c - the JSON Schema subset checker (evidence/evschema.c) one
 * keyword at a time, on small hand-written schemas: type, const, enum,
 * minimum, minLength, pattern (and a pattern that does not compile),
 * required, properties, additionalProperties false, items, minItems, nesting
 * past the depth limit; what each accepts, what it refuses, and that the
 * message names the JSON path of the offending value. (test_evlog_schema.c
 * checks the published record schemas against what the writer writes.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/evschema.h"

struct scase {
	const char *schema;
	const char *doc;
	hsm_rc      want;
	const char *msg;      /* with HSM_ERR_FORMAT: the message must contain it */
};

static json_t *
load(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (v == NULL)
		fail_msg("bad test JSON %s: %s", text, je.text);
	return v;
}

static void
run_cases(const struct scase *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *s = load(c[i].schema), *d = load(c[i].doc);
		hsm_rc rc;

		hsm_err_clear();
		rc = evschema_check(s, d);
		if (rc != c[i].want)
			fail_msg("case %zu: schema %s doc %s: rc %d, want %d (%s)", i, c[i].schema,
			         c[i].doc, (int)rc, (int)c[i].want, hsm_errmsg());
		if (c[i].msg != NULL && strstr(hsm_errmsg(), c[i].msg) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, hsm_errmsg(), c[i].msg);
		json_decref(s);
		json_decref(d);
	}
}

#define OK(s, d)      { s, d, HSM_OK, NULL }
#define BAD(s, d, m)  { s, d, HSM_ERR_FORMAT, m }

static void
test_type(void **state)
{
	static const struct scase c[] = {
		OK("{\"type\":\"object\"}", "{}"),
		OK("{\"type\":\"array\"}", "[]"),
		OK("{\"type\":\"string\"}", "\"x\""),
		OK("{\"type\":\"integer\"}", "-3"),
		OK("{\"type\":\"boolean\"}", "false"),
		OK("{\"type\":\"null\"}", "null"),
		BAD("{\"type\":\"object\"}", "[]", "record: must be of type object"),
		BAD("{\"type\":\"array\"}", "{}", "must be of type array"),
		BAD("{\"type\":\"string\"}", "1", "must be of type string"),
		BAD("{\"type\":\"integer\"}", "1.5", "must be of type integer"),
		BAD("{\"type\":\"integer\"}", "\"1\"", "must be of type integer"),
		BAD("{\"type\":\"boolean\"}", "0", "must be of type boolean"),
		BAD("{\"type\":\"null\"}", "false", "must be of type null"),
		/* a type the subset does not know matches nothing */
		BAD("{\"type\":\"number\"}", "1", "must be of type number"),
		/* no type, or a schema that is not an object: anything goes */
		OK("{}", "[1,\"a\"]"),
		OK("true", "{\"a\":1}"),
		/* keywords outside the subset are ignored */
		OK("{\"maxLength\":1,\"format\":\"date-time\"}", "\"long string\""),
	};

	(void)state;
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

static void
test_values(void **state)
{
	static const struct scase c[] = {
		OK("{\"const\":\"v1\"}", "\"v1\""),
		BAD("{\"const\":\"v1\"}", "\"v2\"", "record: must be v1"),
		BAD("{\"const\":1}", "2", "must be the constant"),
		OK("{\"enum\":[\"a\",\"b\"]}", "\"b\""),
		BAD("{\"enum\":[\"a\",\"b\"]}", "\"c\"", "not one of the allowed values"),
		BAD("{\"enum\":[]}", "\"a\"", "not one of the allowed values"),
		OK("{\"minimum\":0}", "0"),
		OK("{\"minimum\":0}", "9007199254740991"),
		BAD("{\"minimum\":0}", "-1", "must be at least 0"),
		BAD("{\"minimum\":1}", "0", "must be at least 1"),
		OK("{\"minimum\":1}", "\"0\""),   /* minimum is for integers only */
		OK("{\"minLength\":2}", "\"ab\""),
		BAD("{\"minLength\":2}", "\"a\"", "too short"),
		BAD("{\"minLength\":1}", "\"\"", "too short"),
		OK("{\"minLength\":5}", "[1]"),   /* minLength is for strings only */
	};

	(void)state;
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

static void
test_pattern(void **state)
{
	static const struct scase c[] = {
		OK("{\"pattern\":\"^[0-9a-f]{4}$\"}", "\"0a9f\""),
		BAD("{\"pattern\":\"^[0-9a-f]{4}$\"}", "\"0A9F\"", "does not match ^[0-9a-f]{4}$"),
		BAD("{\"pattern\":\"^[0-9a-f]{4}$\"}", "\"0a9f0\"", "does not match"),
		BAD("{\"pattern\":\"^[0-9a-f]{4}$\"}", "\"\"", "does not match"),
		/* unanchored: a match anywhere will do, as in JSON Schema */
		OK("{\"pattern\":\"b+\"}", "\"abbc\""),
		BAD("{\"pattern\":\"[a-\"}", "\"x\"", "schema pattern does not compile"),
		OK("{\"pattern\":\"^x$\"}", "7"),  /* pattern is for strings only */
	};

	(void)state;
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

#define PERSON "{\"type\":\"object\",\"required\":[\"name\",\"age\"],"           \
	"\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1},"           \
	"\"age\":{\"type\":\"integer\",\"minimum\":0}}"
#define CLOSED PERSON ",\"additionalProperties\":false}"
#define OPEN   PERSON "}"

static void
test_objects(void **state)
{
	static const struct scase c[] = {
		OK(OPEN, "{\"name\":\"Ann\",\"age\":3}"),
		OK(OPEN, "{\"name\":\"Ann\",\"age\":3,\"extra\":[1]}"),
		BAD(OPEN, "{\"name\":\"Ann\"}", "record.age: missing"),
		BAD(OPEN, "{}", "missing"),
		BAD(OPEN, "{\"name\":\"\",\"age\":3}", "record.name: too short"),
		BAD(OPEN, "{\"name\":\"Ann\",\"age\":-3}", "record.age: must be at least 0"),
		BAD(OPEN, "{\"name\":1,\"age\":3}", "record.name: must be of type string"),
		OK(CLOSED, "{\"name\":\"Ann\",\"age\":3}"),
		BAD(CLOSED, "{\"name\":\"Ann\",\"age\":3,\"extra\":1}", "record.extra: not allowed"),
		/* required and properties only apply to objects */
		OK("{\"required\":[\"a\"]}", "[]"),
		/* a present null is present */
		OK("{\"required\":[\"a\"]}", "{\"a\":null}"),
	};

	(void)state;
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

#define MEMBERS "{\"type\":\"object\",\"properties\":{\"members\":{\"type\":\"array\"," \
	"\"minItems\":1,\"items\":" OPEN "}}}"

static void
test_arrays(void **state)
{
	static const struct scase c[] = {
		OK(MEMBERS, "{\"members\":[{\"name\":\"A\",\"age\":1},{\"name\":\"B\",\"age\":2}]}"),
		BAD(MEMBERS, "{\"members\":[]}", "record.members: too few items"),
		BAD(MEMBERS, "{\"members\":[{\"name\":\"A\",\"age\":1},{\"age\":2}]}",
		    "record.members[1].name: missing"),
		BAD(MEMBERS, "{\"members\":[{\"name\":\"A\",\"age\":1},{\"name\":\"B\",\"age\":-2}]}",
		    "record.members[1].age: must be at least 0"),
		BAD(MEMBERS, "{\"members\":{}}", "record.members: must be of type array"),
		OK("{\"minItems\":2}", "\"x\""),  /* minItems is for arrays only */
		OK("{\"items\":{\"type\":\"string\"}}", "[]"),
		BAD("{\"items\":{\"type\":\"string\"}}", "[\"a\",\"b\",3]", "record[2]: must be of type"),
	};

	(void)state;
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

/* Nested n levels deep: {"items":{"items":...{}}} against [[...[1]...]]. */
static hsm_rc
nested(int n)
{
	json_t *s = json_object(), *d = json_integer(1);
	hsm_rc rc;
	int i;

	for (i = 0; i < n; i++) {
		json_t *ns = json_object(), *nd = json_array();
		json_object_set_new(ns, "items", s);
		json_array_append_new(nd, d);
		s = ns;
		d = nd;
	}
	rc = evschema_check(s, d);
	json_decref(s);
	json_decref(d);
	return rc;
}

static void
test_depth(void **state)
{
	(void)state;
	assert_int_equal(nested(32), HSM_OK);
	assert_int_equal(nested(33), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "schema nests too deep"));
	assert_int_equal(nested(200), HSM_ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_pattern),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_depth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
