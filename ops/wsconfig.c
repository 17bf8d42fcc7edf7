/* SPDX-License-Identifier: BSD-2-Clause */
/* wsconfig.c - the workstation configuration directory. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsmadm/wsconfig.h"
#include "hsmadm/cjson.h"
#include "hsmadm/fileio.h"
#include "hsmadm/group.h"
#include "hsmadm/moddriver.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/thread.h"

#define WSC_FILE_MAX (1024 * 1024)

struct wsconfig {
	char   *dir;
	json_t *doc;
};

hsm_rc
wsconfig_home(const char *opt, char **out)
{
	const char *e, *home;
	char buf[WSC_PATH_MAX];

	*out = NULL;
	if (opt != NULL && *opt != '\0')
		snprintf(buf, sizeof(buf), "%s", opt);
	else if ((e = getenv("HSMADM_HOME")) != NULL && *e != '\0')
		snprintf(buf, sizeof(buf), "%s", e);
	else if ((home = getenv("HOME")) != NULL && *home != '\0')
		snprintf(buf, sizeof(buf), "%s/.config/hsmadm", home);
	else
		return hsm_fail(HSM_ERR_USAGE,
		    "no workstation directory: give --home or set HSMADM_HOME");
	if ((*out = strdup(buf)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

/* Refuse what others may read or write: the pinned CAs decide trust. */
static hsm_rc
check_private(const char *path, int is_dir)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return hsm_fail(HSM_ERR_IO, "cannot read %s: %s", path, strerror(errno));
	if (is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return hsm_fail(HSM_ERR_STATE, "%s is not a %s", path,
		    is_dir ? "directory" : "regular file");
	if (st.st_uid != geteuid())
		return hsm_fail(HSM_ERR_STATE, "%s belongs to another user; use your own --home",
		    path);
	if ((st.st_mode & 077) != 0)
		return hsm_fail(HSM_ERR_STATE,
		    "%s can be read or changed by other users; run: chmod %s %s",
		    path, is_dir ? "700" : "600", path);
	return HSM_OK;
}

static void
path_in(const wsconfig *cfg, const char *name, char out[WSC_PATH_MAX])
{
	snprintf(out, WSC_PATH_MAX, "%s/%s", cfg->dir, name);
}

/* tmp file, fsync, rename, fsync the directory. */
static hsm_rc
write_atomic(const wsconfig *cfg, const char *name, const char *buf, size_t len)
{
	char path[WSC_PATH_MAX];

	path_in(cfg, name, path);
	return hsm_file_replace(path, buf, len, 0600);
}

static hsm_rc
copy_in(const wsconfig *cfg, const char *src, const char *name)
{
	hsm_secbuf *sb = NULL;
	hsm_rc rc;

	/* May be a private key: read into locked memory, wiped when freed. */
	if ((rc = hsm_file_read_secret(src, WSC_FILE_MAX, &sb)) != HSM_OK)
		return rc;
	if (sb->len == 0 || strstr((const char *)sb->data, "-----BEGIN ") == NULL)
		rc = hsm_fail(HSM_ERR_FORMAT, "%s is not a PEM file", src);
	else
		rc = write_atomic(cfg, name, (const char *)sb->data, sb->len);
	secbuf_free(&sb);
	return rc;
}

static hsm_rc
check_doc(json_t *doc)
{
	json_t *a;
	long long v;
	hsm_rc rc;

	if (!json_is_object(doc))
		return hsm_fail(HSM_ERR_FORMAT, "config.json is not a JSON object");
	if ((rc = cjson_get_int(doc, "v", &v)) != HSM_OK)
		return rc;
	if (v != 1)
		return hsm_fail(HSM_ERR_FORMAT, "config.json version %lld is not supported", v);
	if ((rc = cjson_get_arr(doc, "modules", &a)) != HSM_OK ||
	    (rc = cjson_get_arr(doc, "groups", &a)) != HSM_OK)
		return rc;
	return HSM_OK;
}

hsm_rc
wsconfig_open(const char *home, wsconfig **out)
{
	wsconfig *cfg = NULL;
	char path[WSC_PATH_MAX];
	hsm_rc rc;

	*out = NULL;
	if (home == NULL)
		return hsm_fail(HSM_ERR_USAGE, "wsconfig_open: no directory");
	if (mkdir(home, 0700) != 0 && errno != EEXIST)
		return hsm_fail(HSM_ERR_IO, "cannot create %s: %s", home, strerror(errno));
	if ((rc = check_private(home, 1)) != HSM_OK)
		return rc;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL || (cfg->dir = strdup(home)) == NULL) {
		free(cfg);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	path_in(cfg, "config.json", path);
	if (access(path, F_OK) == 0) {
		if ((rc = check_private(path, 0)) != HSM_OK)
			goto out;
		if ((rc = cjson_load_file(path, &cfg->doc)) != HSM_OK ||
		    (rc = check_doc(cfg->doc)) != HSM_OK) {
			rc = hsm_fail_wrap(rc, "%s", path);
			goto out;
		}
	} else {
		cfg->doc = json_pack("{s:i, s:[], s:[], s:n}", "v", 1, "modules", "groups",
		    "client");
		if (cfg->doc == NULL) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	*out = cfg;
	cfg = NULL;
	rc = HSM_OK;
out:
	wsconfig_free(&cfg);
	return rc;
}

hsm_rc
wsconfig_save(wsconfig *cfg)
{
	char path[WSC_PATH_MAX];
	hsm_rc rc;

	path_in(cfg, "config.json", path);
	if ((rc = cjson_save_file(path, cfg->doc, 0600)) != HSM_OK)
		return hsm_fail_wrap(rc, "cannot save %s", path);
	return HSM_OK;
}

void
wsconfig_free(wsconfig **cfg)
{
	if (cfg == NULL || *cfg == NULL)
		return;
	json_decref((*cfg)->doc);
	free((*cfg)->dir);
	free(*cfg);
	*cfg = NULL;
}

const char *
wsconfig_dir(const wsconfig *cfg)
{
	return cfg->dir;
}

const json_t *
wsconfig_json(const wsconfig *cfg)
{
	return cfg->doc;
}

size_t
wsconfig_nmodules(const wsconfig *cfg)
{
	return json_array_size(json_object_get(cfg->doc, "modules"));
}

static hsm_rc
module_from(const wsconfig *cfg, const json_t *m, wsc_module *out)
{
	const char *ca;
	hsm_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cjson_get_str(m, "name", &out->name)) != HSM_OK ||
	    (rc = cjson_get_str(m, "serial", &out->serial)) != HSM_OK ||
	    (rc = cjson_get_str(m, "address", &out->address)) != HSM_OK ||
	    (rc = cjson_get_str(m, "oa_fingerprint", &out->oa_fingerprint)) != HSM_OK ||
	    (rc = cjson_get_str(m, "ca", &ca)) != HSM_OK)
		return hsm_fail_wrap(rc, "config.json: a module entry");
	out->oa_cert = json_string_value(json_object_get(m, "oa_cert"));
	if (strchr(ca, '/') != NULL)
		return hsm_fail(HSM_ERR_FORMAT, "config.json: module CA file name \"%s\" "
		    "must be inside the directory", ca);
	path_in(cfg, ca, out->ca_path);
	return HSM_OK;
}

hsm_rc
wsconfig_module_at(const wsconfig *cfg, size_t i, wsc_module *out)
{
	json_t *m = json_array_get(json_object_get(cfg->doc, "modules"), i);

	if (m == NULL)
		return hsm_fail(HSM_ERR_NOT_FOUND, "no module %zu", i);
	return module_from(cfg, m, out);
}

hsm_rc
wsconfig_module_find(const wsconfig *cfg, const char *key, wsc_module *out)
{
	size_t i, n = wsconfig_nmodules(cfg);
	hsm_rc rc;

	for (i = 0; i < n; i++) {
		if ((rc = wsconfig_module_at(cfg, i, out)) != HSM_OK)
			return rc;
		if (strcmp(out->name, key) == 0 || strcmp(out->serial, key) == 0)
			return HSM_OK;
	}
	return hsm_fail(HSM_ERR_NOT_FOUND,
	    "module \"%s\" is not trusted by this workstation; add it with: "
	    "hsmadm-domain module add", key);
}

static int
safe_word(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > WSC_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

hsm_rc
wsconfig_module_add(wsconfig *cfg, const char *name, const char *serial,
                    const char *address, const char *ca_pem_src,
                    const char *oa_fingerprint, const char *oa_cert, int replace)
{
	json_t *mods = json_object_get(cfg->doc, "modules"), *m, *e;
	char ca_name[WSC_NAME_MAX + 16];
	size_t i;
	hsm_rc rc;

	if (!safe_word(name) || !safe_word(serial))
		return hsm_fail(HSM_ERR_USAGE, "module names and serials may contain only "
		    "letters, digits, '.', '_' and '-' (at most %d)", WSC_NAME_MAX);
	if (address == NULL || strchr(address, ':') == NULL)
		return hsm_fail(HSM_ERR_USAGE, "module address \"%s\" must be host:port",
		    address ? address : "");
	json_array_foreach(mods, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		const char *s = json_string_value(json_object_get(e, "serial"));
		if ((n && strcmp(n, name) == 0) || (s && strcmp(s, serial) == 0)) {
			if (!replace || !s || strcmp(s, serial) != 0)
				return hsm_fail(HSM_ERR_EXISTS,
				    "a module named %s or with serial %s is already trusted", name,
				    serial);
			json_array_remove(mods, i);
			break;
		}
	}
	snprintf(ca_name, sizeof(ca_name), "ca-%s.pem", serial);
	if ((rc = copy_in(cfg, ca_pem_src, ca_name)) != HSM_OK)
		return rc;
	m = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "serial", serial,
	    "address", address, "ca", ca_name, "oa_fingerprint", oa_fingerprint);
	if (m != NULL && oa_cert != NULL &&
	    json_object_set_new(m, "oa_cert", json_string(oa_cert)) != 0) {
		json_decref(m);
		m = NULL;
	}
	if (m == NULL || json_array_append_new(mods, m) != 0)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

size_t
wsconfig_ngroups(const wsconfig *cfg)
{
	return json_array_size(json_object_get(cfg->doc, "groups"));
}

hsm_rc
wsconfig_group_find(const wsconfig *cfg, const char *name, wsc_member **members, size_t *n)
{
	json_t *g, *ms, *m;
	size_t i;
	long long d;
	hsm_rc rc;

	*members = NULL;
	*n = 0;
	json_array_foreach(json_object_get(cfg->doc, "groups"), i, g) {
		const char *gn = json_string_value(json_object_get(g, "name"));
		if (gn == NULL || strcmp(gn, name) != 0)
			continue;
		if ((rc = cjson_get_arr(g, "members", &ms)) != HSM_OK)
			return hsm_fail_wrap(rc, "config.json: group %s", name);
		if ((*members = calloc(json_array_size(ms) + 1, sizeof(**members))) == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		json_array_foreach(ms, i, m) {
			if ((rc = cjson_get_str(m, "module", &(*members)[i].module)) != HSM_OK ||
			    (rc = cjson_get_int(m, "domain", &d)) != HSM_OK || d < 0 || d > 84) {
				free(*members);
				*members = NULL;
				return hsm_fail(HSM_ERR_FORMAT, "config.json: group %s has a bad member",
				    name);
			}
			(*members)[i].domain = (unsigned)d;
		}
		*n = json_array_size(ms);
		return HSM_OK;
	}
	return hsm_fail(HSM_ERR_NOT_FOUND,
	    "no domain group \"%s\"; create it with: hsmadm-domain group create", name);
}

hsm_rc
wsconfig_group_add(wsconfig *cfg, const char *name, const wsc_member *members, size_t n)
{
	json_t *groups = json_object_get(cfg->doc, "groups"), *g, *ms;
	wsc_member *old = NULL;
	wsc_module mod;
	size_t on, i, j;
	hsm_rc rc;

	if (!safe_word(name))
		return hsm_fail(HSM_ERR_USAGE, "group names may contain only letters, digits, "
		    "'.', '_' and '-' (at most %d)", WSC_NAME_MAX);
	if (n == 0)
		return hsm_fail(HSM_ERR_USAGE, "a group needs at least one member");
	if (wsconfig_group_find(cfg, name, &old, &on) == HSM_OK) {
		free(old);
		return hsm_fail(HSM_ERR_EXISTS, "a group named %s already exists", name);
	}
	if ((ms = json_array()) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if ((rc = wsconfig_module_find(cfg, members[i].module, &mod)) != HSM_OK)
			goto fail;
		if (members[i].domain > 84) {
			rc = hsm_fail(HSM_ERR_USAGE, "domain %u does not exist (0..84)",
			    members[i].domain);
			goto fail;
		}
		for (j = 0; j < i; j++)
			if (members[j].domain == members[i].domain &&
			    strcmp(json_string_value(json_object_get(json_array_get(ms, j), "module")),
			    mod.serial) == 0) {
				rc = hsm_fail(HSM_ERR_USAGE, "%s domain %u is named twice",
				    mod.serial, members[i].domain);
				goto fail;
			}
		json_array_append_new(ms, json_pack("{s:s, s:I}", "module", mod.serial,
		    "domain", (json_int_t)members[i].domain));
	}
	g = json_pack("{s:s, s:o}", "name", name, "members", ms);
	if (g == NULL || json_array_append_new(groups, g) != 0)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
fail:
	json_decref(ms);
	return rc;
}

hsm_rc
wsconfig_parse_member(const wsconfig *cfg, const char *spec, wsc_member *out)
{
	char mod[WSC_NAME_MAX + 1], *end;
	const char *colon = strrchr(spec, ':');
	wsc_module m;
	long d;
	hsm_rc rc;

	if (colon == NULL || colon == spec || (size_t)(colon - spec) > WSC_NAME_MAX)
		return hsm_fail(HSM_ERR_USAGE, "member \"%s\" must be MODULE:DOMAIN", spec);
	memcpy(mod, spec, (size_t)(colon - spec));
	mod[colon - spec] = '\0';
	errno = 0;
	d = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || d < 0 || d > 84)
		return hsm_fail(HSM_ERR_USAGE, "member \"%s\": the domain must be 0..84", spec);
	if ((rc = wsconfig_module_find(cfg, mod, &m)) != HSM_OK)
		return rc;
	out->module = m.serial;
	out->domain = (unsigned)d;
	return HSM_OK;
}

hsm_rc
wsconfig_client_set(wsconfig *cfg, const char *cert_src, const char *key_src)
{
	hsm_rc rc;

	if ((rc = copy_in(cfg, cert_src, "client-cert.pem")) != HSM_OK ||
	    (rc = copy_in(cfg, key_src, "client-key.pem")) != HSM_OK)
		return rc;
	if (json_object_set_new(cfg->doc, "client", json_pack("{s:s, s:s}",
	    "cert", "client-cert.pem", "key", "client-key.pem")) != 0)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

hsm_rc
wsconfig_client_paths(const wsconfig *cfg, char cert[WSC_PATH_MAX], char key[WSC_PATH_MAX])
{
	json_t *c = json_object_get(cfg->doc, "client");
	hsm_rc rc;

	if (!json_is_object(c))
		return hsm_fail(HSM_ERR_NOT_FOUND,
		    "this workstation has no TLS client certificate yet; set it with: "
		    "hsmadm-domain client set --cert FILE --key FILE");
	path_in(cfg, "client-cert.pem", cert);
	path_in(cfg, "client-key.pem", key);
	if ((rc = check_private(key, 0)) != HSM_OK)
		return rc;
	return HSM_OK;
}

hsm_rc
wsconfig_module_open(const wsconfig *cfg, const char *key, int timeout_ms, moddrv **out)
{
	char cert[WSC_PATH_MAX], ckey[WSC_PATH_MAX];
	wsc_module mod;
	hsm_rc rc;

	*out = NULL;
	if ((rc = wsconfig_module_find(cfg, key, &mod)) != HSM_OK ||
	    (rc = wsconfig_client_paths(cfg, cert, ckey)) != HSM_OK)
		return rc;
	if ((rc = modclient_sim_open(mod.address, mod.serial, mod.ca_path, cert, ckey,
	    timeout_ms, out)) != HSM_OK)
		return hsm_fail_wrap(rc, "module %s (%s)", mod.name, mod.serial);
	return HSM_OK;
}

void
wsconfig_group_close(group_member **members, size_t n)
{
	size_t i, j;

	if (members == NULL || *members == NULL)
		return;
	/* The members of one module share its connection: free it once. */
	for (i = 0; i < n; i++) {
		moddrv *d = (*members)[i].drv;
		for (j = i + 1; d != NULL && j < n; j++)
			if ((*members)[j].drv == d)
				(*members)[j].drv = NULL;
		moddrv_free(&(*members)[i].drv);
		free((char *)(*members)[i].ca_pem);
		free((char *)(*members)[i].oa_fingerprint);
		free((char *)(*members)[i].oa_cert);
	}
	free(*members);
	*members = NULL;
}

struct open_job {
	const wsconfig *cfg;
	const char     *module;
	int             timeout_ms;
	moddrv         *drv;
	hsm_rc          rc;
	char            msg[1024];
};

static void *
open_worker(void *p)
{
	struct open_job *j = p;

	hsm_err_clear();
	j->rc = wsconfig_module_open(j->cfg, j->module, j->timeout_ms, &j->drv);
	if (j->rc != HSM_OK)
		snprintf(j->msg, sizeof(j->msg), "%s", hsm_errmsg());
	return NULL;
}

/* Connect to every module at once (handshakes are the slow part); the
 * first failure is returned. */
static hsm_rc
open_all(struct open_job *jobs, size_t nj)
{
	pthread_t *th = calloc(nj + 1, sizeof(*th));
	char *started = calloc(nj + 1, 1);
	hsm_rc rc = HSM_OK;
	size_t i;

	for (i = 0; i < nj; i++)
		if (th != NULL && started != NULL && nj > 1 &&
		    hsm_thread_start(&th[i], open_worker, &jobs[i], 0) == HSM_OK)
			started[i] = 1;
		else {
			hsm_err_clear();   /* no thread: run it here */
			open_worker(&jobs[i]);
		}
	for (i = 0; i < nj; i++) {
		if (started != NULL && started[i])
			pthread_join(th[i], NULL);
		if (jobs[i].rc != HSM_OK && rc == HSM_OK)
			rc = hsm_fail(jobs[i].rc, "%s", jobs[i].msg);
	}
	free(th);
	free(started);
	return rc;
}

hsm_rc
wsconfig_group_open(const wsconfig *cfg, const char *name, int timeout_ms,
                    group_member **members, size_t *n)
{
	wsc_member *ms = NULL;
	group_member *g = NULL;
	struct open_job *jobs = NULL;
	size_t *job_of = NULL;
	wsc_module mod;
	size_t nm = 0, nj = 0, i, k;
	hsm_rc rc = HSM_OK;

	*members = NULL;
	*n = 0;
	if ((rc = wsconfig_group_find(cfg, name, &ms, &nm)) != HSM_OK)
		return rc;
	g = calloc(nm + 1, sizeof(*g));
	jobs = calloc(nm + 1, sizeof(*jobs));
	job_of = calloc(nm + 1, sizeof(*job_of));
	if (g == NULL || jobs == NULL || job_of == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* One connection per module, shared by its members: the engine sends
	 * one request per connection carrying all of its domains. */
	for (i = 0; i < nm; i++) {
		if ((rc = wsconfig_module_find(cfg, ms[i].module, &mod)) != HSM_OK)
			goto out;
		g[i].module = mod.serial;
		g[i].domain = ms[i].domain;
		if ((g[i].ca_pem = strdup(mod.ca_path)) == NULL ||
		    (mod.oa_fingerprint != NULL &&
		     (g[i].oa_fingerprint = strdup(mod.oa_fingerprint)) == NULL) ||
		    (mod.oa_cert != NULL && (g[i].oa_cert = strdup(mod.oa_cert)) == NULL)) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		for (k = 0; k < nj && strcmp(jobs[k].module, mod.serial) != 0; k++)
			;
		if (k == nj) {
			jobs[nj].cfg = cfg;
			jobs[nj].module = mod.serial;
			jobs[nj++].timeout_ms = timeout_ms;
		}
		job_of[i] = k;
	}
	rc = open_all(jobs, nj);
	for (i = 0; i < nm; i++)
		g[i].drv = jobs[job_of[i]].drv;
	if (rc == HSM_OK) {
		*members = g;
		*n = nm;
		g = NULL;
	}
out:
	if (g != NULL)
		wsconfig_group_close(&g, nm);
	free(ms);
	free(jobs);
	free(job_of);
	return rc;
}
