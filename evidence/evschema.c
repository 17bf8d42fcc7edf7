/* SPDX-License-Identifier: BSD-2-Clause */
/* evschema.c - the small JSON Schema subset checker (see evschema.h). */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "hsmadm/evschema.h"

static int
type_ok(const char *t, const json_t *v)
{
	if (strcmp(t, "object") == 0)  return json_is_object(v);
	if (strcmp(t, "array") == 0)   return json_is_array(v);
	if (strcmp(t, "string") == 0)  return json_is_string(v);
	if (strcmp(t, "integer") == 0) return json_is_integer(v);
	if (strcmp(t, "boolean") == 0) return json_is_boolean(v);
	if (strcmp(t, "null") == 0)    return json_is_null(v);
	return 0;
}

static hsm_rc
check(const json_t *s, const json_t *v, const char *path, int depth)
{
	json_t *k, *props, *e;
	const char *name;
	char sub[512];
	size_t i;
	hsm_rc rc;

	if (depth > 32)
		return hsm_fail(HSM_ERR_FORMAT, "%s: schema nests too deep", path);
	if (!json_is_object(s))
		return HSM_OK;
	if ((k = json_object_get(s, "type")) != NULL && json_is_string(k) &&
	    !type_ok(json_string_value(k), v))
		return hsm_fail(HSM_ERR_FORMAT, "%s: must be of type %s", path,
		    json_string_value(k));
	if ((k = json_object_get(s, "const")) != NULL && !json_equal(k, (json_t *)v))
		return hsm_fail(HSM_ERR_FORMAT, "%s: must be %s", path,
		    json_is_string(k) ? json_string_value(k) : "the constant");
	if ((k = json_object_get(s, "enum")) != NULL && json_is_array(k)) {
		int found = 0;
		json_array_foreach(k, i, e)
			if (json_equal(e, (json_t *)v))
				found = 1;
		if (!found)
			return hsm_fail(HSM_ERR_FORMAT, "%s: not one of the allowed values", path);
	}
	if ((k = json_object_get(s, "minimum")) != NULL && json_is_integer(k) &&
	    json_is_integer(v) && json_integer_value(v) < json_integer_value(k))
		return hsm_fail(HSM_ERR_FORMAT, "%s: must be at least %lld", path,
		    (long long)json_integer_value(k));
	if (json_is_string(v)) {
		if ((k = json_object_get(s, "minLength")) != NULL && json_is_integer(k) &&
		    (json_int_t)json_string_length(v) < json_integer_value(k))
			return hsm_fail(HSM_ERR_FORMAT, "%s: too short", path);
		if ((k = json_object_get(s, "pattern")) != NULL && json_is_string(k)) {
			regex_t re;
			int m;
			if (regcomp(&re, json_string_value(k), REG_EXTENDED | REG_NOSUB) != 0)
				return hsm_fail(HSM_ERR_FORMAT, "%s: schema pattern does not "
				    "compile", path);
			m = regexec(&re, json_string_value(v), 0, NULL, 0);
			regfree(&re);
			if (m != 0)
				return hsm_fail(HSM_ERR_FORMAT, "%s: does not match %s", path,
				    json_string_value(k));
		}
	}
	if (json_is_object(v)) {
		if ((k = json_object_get(s, "required")) != NULL && json_is_array(k))
			json_array_foreach(k, i, e)
				if (json_is_string(e) &&
				    json_object_get(v, json_string_value(e)) == NULL)
					return hsm_fail(HSM_ERR_FORMAT, "%s.%s: missing", path,
					    json_string_value(e));
		props = json_object_get(s, "properties");
		json_object_foreach((json_t *)v, name, e) {
			json_t *ps = json_object_get(props, name);
			snprintf(sub, sizeof(sub), "%s.%s", path, name);
			if (ps == NULL) {
				if (json_is_false(json_object_get(s, "additionalProperties")))
					return hsm_fail(HSM_ERR_FORMAT, "%s: not allowed", sub);
				continue;
			}
			if ((rc = check(ps, e, sub, depth + 1)) != HSM_OK)
				return rc;
		}
	}
	if (json_is_array(v)) {
		if ((k = json_object_get(s, "minItems")) != NULL && json_is_integer(k) &&
		    (json_int_t)json_array_size(v) < json_integer_value(k))
			return hsm_fail(HSM_ERR_FORMAT, "%s: too few items", path);
		if ((k = json_object_get(s, "items")) != NULL)
			json_array_foreach(v, i, e) {
				snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
				if ((rc = check(k, e, sub, depth + 1)) != HSM_OK)
					return rc;
			}
	}
	return HSM_OK;
}

hsm_rc
evschema_check(const json_t *schema, const json_t *doc)
{
	return check(schema, doc, "record", 0);
}
