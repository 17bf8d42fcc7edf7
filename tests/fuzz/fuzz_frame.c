/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_frame.c - the module's untrusted input without TLS: a byte stream of
 * frames as a workstation could send it, through the frame parser, the
 * request parser and the emulator's request handler (domain.query and
 * command.apply reach admincmd, kpwrap and the state machine); every answer
 * must itself be a well-formed answer. Also the workstation side: the same
 * messages through modproto_answer_check and receipt_verify. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/cjson.h"
#include "hsmadm/modproto.h"
#include "hsmadm/receipt.h"
#include "hsmadm/x509util.h"

#include "simmod.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static simmod *mod;
static X509 *module_ca;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char tmp[] = "/tmp/fuzz_frame.XXXXXX";
	char dir[64], ca[96];
	simmod_init_opts o;

	(void)argc;
	(void)argv;
	if (mkdtemp(tmp) == NULL)
		abort();
	snprintf(dir, sizeof(dir), "%s/m", tmp);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.serial = "FZ-M01";
	o.domains = 2;
	if (simmod_init(&o, NULL) != HSM_OK || simmod_open(dir, NULL, &mod) != HSM_OK)
		abort();
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	if (x509u_load_pem(ca, &module_ca) != HSM_OK)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	int frames = 0;

	while (off < size && frames < 16) {
		json_t *msg = NULL, *answer = NULL, *res = NULL;
		modproto_request req;
		size_t used = 0;
		int drop = 0;
		hsm_rc rc;

		rc = modproto_frame_parse(data + off, size - off, &used, &msg);
		if (rc == HSM_ERR_NOT_FOUND || used == 0)
			break;   /* incomplete or unrecoverable: the server would stop here */
		off += used;
		frames++;
		if (rc != HSM_OK)
			continue;
		(void)modproto_request_parse(msg, &req);
		if (simmod_handle(mod, msg, &answer, &drop) == HSM_OK && !drop) {
			/* What the module answers must be a valid answer. */
			char *out = NULL;
			size_t len = 0;
			if (answer == NULL || cjson_dump(answer, &out, &len) != HSM_OK ||
			    len > MODPROTO_MAX_FRAME)
				abort();
			free(out);
			if (!json_is_boolean(json_object_get(answer, "ok")))
				abort();
		}
		/* Workstation side: the input as if it were an answer / a receipt. */
		if (modproto_answer_check(msg, 1, &res, NULL) == HSM_OK)
			(void)receipt_verify(json_object_get(res, "receipt"), module_ca, NULL, NULL);
		(void)receipt_verify(msg, module_ca, NULL, NULL);
		json_decref(res);
		json_decref(answer);
		json_decref(msg);
	}
	return 0;
}
