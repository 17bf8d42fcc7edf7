/* SPDX-License-Identifier: BSD-2-Clause */
/* blob.c - hsmadm-rotate blob: the application side of key blobs, to prove a
 * rotation: make blobs into a JSON Lines file, encrypt data with a blob,
 * decrypt it on every member, show a blob's header. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/blob.h"
#include "hsmadm/codec.h"
#include "hsmadm/fileio.h"
#include "hsmadm/moddriver.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/wsconfig.h"
#include "cmdutil.h"
#include "rotate.h"

static const char usage_text[] =
"Usage: hsmadm-rotate blob generate TARGET --count N --output FILE [--usage U]\n"
"                                   [--label L] [--id-prefix P]\n"
"       hsmadm-rotate blob encrypt TARGET BLOB (--data TEXT | --in FILE) [--out FILE]\n"
"       hsmadm-rotate blob decrypt TARGET BLOB (--data B64 | --in FILE) [--out FILE]\n"
"       hsmadm-rotate blob show BLOB\n"
"TARGET is GROUP, or --module M --domain D. BLOB is --blob TEXT (base64 or a\n"
"JSON line) or --blob-file FILE [--line N]. generate makes N blobs under the\n"
"current key (on the first member) with ids P-1..P-N. encrypt prints the\n"
"ciphertext in base64; decrypt runs on every member and prints the data once\n"
"all agree. Blob operations need no administrator signature: any workstation\n"
"whose client certificate the modules trust may call them.\n"
"  --usage encrypt|decrypt|all (default all)   --home DIR   --timeout SEC\n";

struct bopts {
	const char *sub, *group, *module, *home, *blob, *blob_file, *data, *in, *out, *usage;
	const char *label, *id_prefix;
	int domain, line, count, timeout;
};

static int
parse(int argc, char **argv, struct bopts *o)
{
	enum { O_MODULE = 256, O_DOMAIN, O_HOME, O_BLOB, O_BLOBF, O_LINE, O_DATA, O_IN, O_OUT,
	       O_COUNT, O_USAGE, O_LABEL, O_IDP, O_OUTPUT, O_TIMEOUT, O_HELP };
	static const struct option lo[] = {
		{ "module", required_argument, NULL, O_MODULE }, { "domain", required_argument, NULL, O_DOMAIN },
		{ "home", required_argument, NULL, O_HOME }, { "blob", required_argument, NULL, O_BLOB },
		{ "blob-file", required_argument, NULL, O_BLOBF }, { "line", required_argument, NULL, O_LINE },
		{ "data", required_argument, NULL, O_DATA }, { "in", required_argument, NULL, O_IN },
		{ "out", required_argument, NULL, O_OUT }, { "output", required_argument, NULL, O_OUTPUT },
		{ "count", required_argument, NULL, O_COUNT }, { "usage", required_argument, NULL, O_USAGE },
		{ "label", required_argument, NULL, O_LABEL }, { "id-prefix", required_argument, NULL, O_IDP },
		{ "timeout", required_argument, NULL, O_TIMEOUT }, { "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	o->domain = -1;
	o->line = 1;
	o->timeout = 30;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_MODULE: o->module = optarg; break;
		case O_DOMAIN:
			if (cmd_parse_int(optarg, 0, 84, &o->domain) != 0)
				return cmd_usage_error(ROTATE_PROG, "--domain takes 0 to 84");
			break;
		case O_HOME: o->home = optarg; break;
		case O_BLOB: o->blob = optarg; break;
		case O_BLOBF: o->blob_file = optarg; break;
		case O_LINE:
			if (cmd_parse_int(optarg, 1, 2000000000, &o->line) != 0)
				return cmd_usage_error(ROTATE_PROG, "--line takes a line number from 1");
			break;
		case O_DATA: o->data = optarg; break;
		case O_IN: o->in = optarg; break;
		case O_OUT: case O_OUTPUT: o->out = optarg; break;
		case O_COUNT:
			if (cmd_parse_int(optarg, 1, 100000000, &o->count) != 0)
				return cmd_usage_error(ROTATE_PROG, "--count takes 1 to 100000000");
			break;
		case O_USAGE: o->usage = optarg; break;
		case O_LABEL: o->label = optarg; break;
		case O_IDP: o->id_prefix = optarg; break;
		case O_TIMEOUT:
			if (cmd_parse_int(optarg, 1, 3600, &o->timeout) != 0)
				return cmd_usage_error(ROTATE_PROG, "--timeout takes 1 to 3600 seconds");
			break;
		case O_HELP: fputs(usage_text, stdout); return -1;
		default: return cmd_usage_error(ROTATE_PROG, "blob: unknown option %s (see --help)",
		                                argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->sub = argv[optind++];
	if (optind < argc)
		o->group = argv[optind++];
	if (o->sub == NULL || optind < argc)
		return cmd_usage_error(ROTATE_PROG, "blob: give generate, encrypt, decrypt or show (see --help)");
	return 0;
}

/* The blob given with --blob (base64 or a JSON line) or --blob-file/--line. */
static hsm_rc
get_blob(const struct bopts *o, uint8_t blob[BLOB_LEN])
{
	char id[BLOB_ID_MAX + 1], *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t r = -1;
	FILE *f;
	int i;
	hsm_rc rc;

	if (o->blob != NULL && o->blob[0] != '{') {
		if ((rc = blob_b64_decode(o->blob, strlen(o->blob), 1, blob, &n)) != HSM_OK)
			return rc;
		return blob_parse(blob, BLOB_LEN, NULL);
	}
	if (o->blob != NULL)
		return blob_line_parse(o->blob, strlen(o->blob), blob, id);
	if (o->blob_file == NULL)
		return hsm_fail(HSM_ERR_USAGE, "give the blob with --blob or --blob-file");
	if ((f = fopen(o->blob_file, "r")) == NULL)
		return hsm_fail(HSM_ERR_NOT_FOUND, "cannot read %s", o->blob_file);
	for (i = 0; i < o->line && (r = getline(&line, &cap, f)) >= 0; i++)
		;
	fclose(f);
	if (r < 0)
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "%s has no line %d", o->blob_file, o->line);
	else
		rc = blob_line_parse(line, (size_t)r - (line[r - 1] == '\n'), blob, id);
	free(line);
	return rc == HSM_OK ? rc : hsm_fail_wrap(rc, "%s line %d", o->blob_file, o->line);
}

struct target {
	moddrv  **drv;
	unsigned *dom;
	size_t    n;
};

static void
targets_close(struct target *t)
{
	size_t i;

	for (i = 0; t->drv != NULL && i < t->n; i++)
		moddrv_free(&t->drv[i]);
	free(t->drv);
	free(t->dom);
}

static hsm_rc
targets_open(const struct bopts *o, const wsconfig *cfg, struct target *t)
{
	wsc_member *wm = NULL, one;
	size_t i;
	hsm_rc rc = HSM_OK;

	memset(t, 0, sizeof(*t));
	if ((o->group == NULL) == (o->module == NULL) || (o->module && o->domain < 0))
		return hsm_fail(HSM_ERR_USAGE, "give GROUP, or --module and --domain");
	if (o->group != NULL && (rc = wsconfig_group_find(cfg, o->group, &wm, &t->n)) != HSM_OK)
		return rc;
	if (o->group == NULL) {
		one.module = o->module;
		one.domain = (unsigned)o->domain;
		t->n = 1;
	}
	if ((t->drv = calloc(t->n, sizeof(*t->drv))) == NULL ||
	    (t->dom = calloc(t->n, sizeof(*t->dom))) == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; rc == HSM_OK && i < t->n; i++) {
		const wsc_member *m = wm ? &wm[i] : &one;
		t->dom[i] = m->domain;
		if ((rc = wsconfig_module_open(cfg, m->module, o->timeout * 1000, &t->drv[i])) != HSM_OK)
			rc = hsm_fail_wrap(rc, "module %s", m->module);
	}
	free(wm);
	return rc;
}

/* N blobs under CURRENT (on the first member), as JSON Lines, atomically. */
static hsm_rc
do_generate(const struct bopts *o, struct target *t)
{
	uint8_t *bl = NULL, mkvp[HSM_VP_LEN];
	char *text = NULL, id[BLOB_ID_MAX + 1];
	size_t len = 0, n, i;
	long done = 0;
	hsm_file_tx *tx = NULL;
	hsm_rc rc;

	if (o->count <= 0 || o->out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "generate needs --count N and --output FILE");
	if ((bl = malloc(BLOB_BATCH_MAX * BLOB_LEN)) == NULL ||
	    (text = malloc(BLOB_BATCH_MAX * BLOB_LINE_MAX)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = hsm_file_begin(o->out, 0600, &tx)) != HSM_OK)
		goto out;
	while (done < o->count) {
		n = (size_t)(o->count - done) < BLOB_BATCH_MAX ? (size_t)(o->count - done) : BLOB_BATCH_MAX;
		if ((rc = moddrv_blob_generate(t->drv[0], t->dom[0], o->usage, o->label, n, bl,
		                               mkvp)) != HSM_OK)
			goto out;
		for (i = 0, len = 0; i < n; i++) {
			snprintf(id, sizeof(id), "%.100s-%ld", o->id_prefix ? o->id_prefix : "blob",
			         done + (long)i + 1);
			len += blob_line_format(bl + i * BLOB_LEN, id, text + len);
		}
		if ((rc = hsm_file_write(tx, text, len)) != HSM_OK)
			goto out;
		done += (long)n;
	}
	rc = hsm_file_commit(&tx);
	if (rc == HSM_OK) {
		char hex[17];
		hex_encode_buf(mkvp, 8, hex);
		printf("%ld blobs under the current key %s... written to %s\n", done, hex, o->out);
	}
out:
	hsm_file_abort(&tx);
	free(bl);
	free(text);
	return rc;
}

/* The data: --data TEXT, or the file --in (encrypt: raw bytes; decrypt:
 * base64 text, one line). */
static hsm_rc
get_data(const struct bopts *o, int enc, uint8_t **out, size_t *n)
{
	char *buf = NULL;
	size_t len = 0;
	hsm_rc rc;

	*out = NULL;
	*n = 0;
	if ((o->data == NULL) == (o->in == NULL))
		return hsm_fail(HSM_ERR_USAGE, "give the data with --data or --in");
	if (o->data != NULL) {
		buf = strdup(o->data);
		len = strlen(o->data);
	} else if ((rc = hsm_file_read(o->in, BLOB_DATA_MAX * 2, &buf, &len)) != HSM_OK)
		return rc;
	if (buf == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (enc) {
		*out = (uint8_t *)buf;
		*n = len;
		return HSM_OK;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	rc = b64_decode(buf, out, n);
	free(buf);
	return rc == HSM_OK ? rc : hsm_fail_wrap(rc, "the encrypted data (base64)");
}

static hsm_rc
put_out(const struct bopts *o, const uint8_t *p, size_t n, int as_b64)
{
	char *text = NULL;
	hsm_rc rc = HSM_OK;

	if (as_b64 && (rc = b64_encode(p, n, &text)) != HSM_OK)
		return rc;
	if (o->out != NULL)
		rc = hsm_file_replace(o->out, as_b64 ? (const void *)text : (const void *)p,
		                      as_b64 ? strlen(text) : n, 0600);
	else if (as_b64)
		printf("%s\n", text);
	else if (fwrite(p, 1, n, stdout) != n)
		rc = hsm_fail(HSM_ERR_IO, "cannot write the output");
	free(text);
	return rc;
}

/* encrypt on the first member; decrypt on every member, which must agree. */
static hsm_rc
do_crypt(const struct bopts *o, struct target *t, int enc)
{
	uint8_t blob[BLOB_LEN], *in = NULL, *out = NULL, *first = NULL;
	size_t n = 0, outlen = 0, firstlen = 0, i;
	hsm_rc rc;

	if ((rc = get_blob(o, blob)) != HSM_OK || (rc = get_data(o, enc, &in, &n)) != HSM_OK)
		goto out;
	for (i = 0; i < (enc ? 1 : t->n); i++) {
		if ((rc = moddrv_blob_crypt(t->drv[i], t->dom[i], enc, blob, in, n, &out,
		                            &outlen)) != HSM_OK) {
			rc = hsm_fail_wrap(rc, "module %s domain %u", moddrv_serial(t->drv[i]), t->dom[i]);
			goto out;
		}
		fprintf(stderr, "module %s domain %u: %s\n", moddrv_serial(t->drv[i]), t->dom[i],
		        enc ? "encrypted" : "decrypted");
		if (first == NULL) {
			first = out;
			firstlen = outlen;
		} else {
			int same = outlen == firstlen && memcmp(out, first, outlen) == 0;
			secure_wipe(out, outlen);
			free(out);
			if (!same) {
				rc = hsm_fail(HSM_ERR_VERIFY, "module %s domain %u decrypted to other data than the first member",
				              moddrv_serial(t->drv[i]), t->dom[i]);
				goto out;
			}
		}
		out = NULL;
	}
	rc = put_out(o, first, firstlen, enc);
out:
	if (first != NULL && !enc)
		secure_wipe(first, firstlen);
	free(first);
	free(in);
	return rc;
}

static hsm_rc
do_show(const struct bopts *o)
{
	uint8_t blob[BLOB_LEN];
	char hex[2 * BLOB_PREFIX_LEN + 1], lab[2 * BLOB_LABEL_LEN + 1];
	blob_info info;
	hsm_rc rc;

	if ((rc = get_blob(o, blob)) != HSM_OK || (rc = blob_parse(blob, BLOB_LEN, &info)) != HSM_OK)
		return rc;
	blob_prefix_hex(info.prefix, hex);
	hex_encode_buf(info.attrs.label, BLOB_LABEL_LEN, lab);
	printf("key blob version %d\n  wrapped under the key  %s...\n  usage                  %s%s%s\n  label digest           %s\n",
	       BLOB_VERSION, hex, info.attrs.usage & BLOB_USE_ENCRYPT ? "encrypt" : "",
	       info.attrs.usage == BLOB_USE_KNOWN ? "," : "",
	       info.attrs.usage & BLOB_USE_DECRYPT ? "decrypt" : "", lab);
	return HSM_OK;
}

int
rotate_blob(int argc, char **argv)
{
	struct bopts o;
	struct target t;
	wsconfig *cfg = NULL;
	hsm_rc rc;
	int r;

	memset(&o, 0, sizeof(o));
	memset(&t, 0, sizeof(t));
	if ((r = parse(argc, argv, &o)) != 0)
		return r < 0 ? 0 : r;
	if (strcmp(o.sub, "show") == 0)
		return (rc = do_show(&o)) == HSM_OK ? 0 : cmd_fail(ROTATE_PROG, rc);
	if (strcmp(o.sub, "generate") != 0 && strcmp(o.sub, "encrypt") != 0 &&
	    strcmp(o.sub, "decrypt") != 0)
		return cmd_usage_error(ROTATE_PROG, "blob: unknown command \"%s\" (see --help)", o.sub);
	if ((r = rotate_open_config(o.home, &cfg)) != 0)
		return r;
	if ((rc = targets_open(&o, cfg, &t)) == HSM_OK) {
		if (strcmp(o.sub, "generate") == 0)
			rc = do_generate(&o, &t);
		else
			rc = do_crypt(&o, &t, strcmp(o.sub, "encrypt") == 0);
	}
	targets_close(&t);
	wsconfig_free(&cfg);
	return rc == HSM_OK ? 0 : cmd_fail(ROTATE_PROG, rc);
}
