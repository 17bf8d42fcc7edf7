/* SPDX-License-Identifier: BSD-2-Clause */
/* p11_register - test helper: make the token objects of one whole master
 * key of a pkcs11 module's domain through the module's own key store code
 * (sim/keystore.c), for set-ups that write registers directly
 * (rotate_reencipher_common.sh). Prints the objects' id.
 *
 *   p11_register LIB TOKEN PINFILE SERIAL DOMAIN HEXKEY
 */
#include <stdio.h>
#include <stdlib.h>

#include "hsmadm/codec.h"
#include "hsmadm/secbuf.h"
#include "keystore.h"
#include "p11.h"

int
main(int argc, char **argv)
{
	hsm_secbuf *pin = NULL, *key = NULL;
	keystore *ks = NULL;
	char id[KS_ID_LEN + 1];
	hsm_rc rc;

	if (argc != 7) {
		fprintf(stderr, "usage: p11_register LIB TOKEN PINFILE SERIAL DOMAIN HEXKEY\n");
		return 2;
	}
	if ((rc = secure_init()) != HSM_OK || (rc = secbuf_new(32, &key)) != HSM_OK ||
	    (rc = hex_decode_into(argv[6], key->data, 32)) != HSM_OK ||
	    (rc = p11_read_pin(-1, argv[3], &pin)) != HSM_OK ||
	    (rc = ks_open_pkcs11(argv[4], argv[1], argv[2], pin, &ks)) != HSM_OK ||
	    (rc = ks_register_make(ks, (unsigned)atoi(argv[5]), key->data, id)) != HSM_OK) {
		fprintf(stderr, "p11_register: %s\n", hsm_errmsg());
		rc = HSM_ERR_USAGE;
	} else
		printf("%s\n", id);
	ks_free(&ks);
	secbuf_free(&pin);
	secbuf_free(&key);
	return rc == HSM_OK ? 0 : 1;
}
