/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * livecmp.c - the replayed state of an evidence log against what live
 * modules say now (hsmadm-audit replay --against). Lives in ops/ because it
 * talks to modules; the replay itself is evidence/'s and stays offline.
 */
#include <string.h>
#include <jansson.h>

#include "hsmadm/livecmp.h"

hsm_rc
live_compare(const json_t *replayed, moddrv *drv, json_t **out)
{
	json_t *doms = json_array(), *d, *live = NULL;
	const char *serial = moddrv_serial(drv);
	size_t i;
	int all = 1, any = 0;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	if (doms == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_array_foreach(json_object_get(replayed, "domains"), i, d) {
		json_t *diff, *entry;
		const char *k;
		json_t *v;

		if (strcmp(json_string_value(json_object_get(d, "module")), serial) != 0)
			continue;
		any = 1;
		if ((rc = moddrv_query(drv, (unsigned)(long long)json_integer_value(json_object_get(d, "domain")), &live)) != HSM_OK) {
			rc = hsm_fail_wrap(rc, "querying %s domain %lld", serial, (long long)json_integer_value(json_object_get(d, "domain")));
			goto out;
		}
		json_object_del(live, "state_digest");
		if ((diff = json_array()) == NULL) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		json_object_foreach(d, k, v)
			if (!json_equal(v, json_object_get(live, k)))
				json_array_append_new(diff, json_string(k));
		json_object_foreach(live, k, v)
			if (json_object_get(d, k) == NULL)
				json_array_append_new(diff, json_string(k));
		if (json_array_size(diff) > 0)
			all = 0;
		entry = json_pack("{s:I, s:b, s:o}", "domain", (json_int_t)(long long)json_integer_value(json_object_get(d, "domain")),
		    "in_step", json_array_size(diff) == 0, "differs", diff);
		json_array_append_new(doms, entry);
		json_decref(live);
		live = NULL;
	}
	if (!any) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "the log has no domain of module %s", serial);
		goto out;
	}
	*out = json_pack("{s:s, s:O}", "module", serial, "domains", doms);
	if (!all)
		rc = hsm_fail(HSM_ERR_DIVERGED, "module %s is not in the state the log says; "
		    "see \"differs\" for what changed since", serial);
out:
	json_decref(live);
	json_decref(doms);
	return rc;
}
