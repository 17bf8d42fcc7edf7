/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evschema.h - checks a JSON document against the subset of JSON Schema
 * (draft 2020-12) that the evidence record schemas in evidence/schemas/ use:
 * type, required, properties, additionalProperties (false), items, minItems,
 * enum (strings), const (string), minimum, minLength, pattern (POSIX ERE).
 * Anything else in a schema is ignored. Used by the tests to prove that what
 * the writer produces matches the published schemas, without a dependency.
 */
#ifndef HSMADM_EVSCHEMA_H
#define HSMADM_EVSCHEMA_H

#include <jansson.h>
#include "hsmadm/err.h"

/* HSM_OK if doc matches schema; HSM_ERR_FORMAT with a message naming the
 * JSON path ("body.members[1].name: missing") if not. */
hsm_rc evschema_check(const json_t *schema, const json_t *doc);

#endif
