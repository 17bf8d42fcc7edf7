/* SPDX-License-Identifier: BSD-2-Clause */
/* receipt.c - OA-signed receipts: signing (module side) and offline
 * verification against the pinned module CA (workstation, auditor). */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/ecdsa_lows.h"
#include "hsmadm/receipt.h"
#include "hsmadm/x509util.h"

/* Exactly one of oa_key and oa_signer signs. */
static hsm_rc
sign_body(json_t *body, EVP_PKEY *oa_key, hsm_signer *oa_signer, X509 *oa_cert, json_t **out)
{
	char *canon = NULL, *sig64 = NULL, *cert64 = NULL;
	uint8_t *sig = NULL, *der = NULL;
	size_t clen = 0, siglen = 0, derlen = 0;
	json_t *r;
	hsm_rc rc;

	*out = NULL;
	if (!json_is_object(body) || (oa_key == NULL) == (oa_signer == NULL) || oa_cert == NULL)
		return hsm_fail(HSM_ERR_USAGE, "receipt_sign: bad arguments");
	if ((rc = cjson_dump(body, &canon, &clen)) != HSM_OK)
		goto out;
	if (oa_key != NULL)
		rc = crypto_ecdsa_sign(oa_key, canon, clen, &sig, &siglen);
	else
		rc = signer_sign(oa_signer, canon, clen, &sig, &siglen);
	if (rc != HSM_OK)
		goto out;
	if ((rc = b64_encode(sig, siglen, &sig64)) != HSM_OK)
		goto out;
	if ((rc = x509u_to_der(oa_cert, &der, &derlen)) != HSM_OK)
		goto out;
	if ((rc = b64_encode(der, derlen, &cert64)) != HSM_OK)
		goto out;
	r = json_pack("{s:O, s:s, s:s}", "body", body, "signature", sig64, "oa_cert", cert64);
	if (r == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	*out = r;
	rc = HSM_OK;
out:
	free(canon);
	free(sig);
	free(sig64);
	free(der);
	free(cert64);
	return rc;
}

hsm_rc
receipt_sign(json_t *body, EVP_PKEY *oa_key, X509 *oa_cert, json_t **out)
{
	return sign_body(body, oa_key, NULL, oa_cert, out);
}

hsm_rc
receipt_sign_with(json_t *body, hsm_signer *oa, X509 *oa_cert, json_t **out)
{
	return sign_body(body, NULL, oa, oa_cert, out);
}

hsm_rc
receipt_verify(const json_t *receipt, X509 *module_ca, const char *expect_serial,
               const json_t **bodyp)
{
	const json_t *body;
	const char *sig64, *cert64, *module;
	uint8_t *sig = NULL, *der = NULL;
	size_t siglen = 0, derlen = 0, clen = 0;
	char *canon = NULL;
	char serial[128], ou[64];
	X509 *oa = NULL;
	EVP_PKEY *pub;
	hsm_curve curve;
	long long v;
	hsm_rc rc;

	if (bodyp != NULL)
		*bodyp = NULL;
	if (module_ca == NULL)
		return hsm_fail(HSM_ERR_USAGE, "receipt_verify: no module CA");
	if (!json_is_object(receipt) || json_object_size(receipt) != 3) {
		rc = hsm_fail(HSM_ERR_FORMAT, "receipt must be an object with body, signature and oa_cert");
		goto out;
	}
	body = json_object_get(receipt, "body");
	if (!json_is_object(body)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "receipt has no \"body\" object");
		goto out;
	}
	if ((rc = cjson_get_str(receipt, "signature", &sig64)) != HSM_OK ||
	    (rc = cjson_get_str(receipt, "oa_cert", &cert64)) != HSM_OK ||
	    (rc = cjson_get_int(body, "v", &v)) != HSM_OK ||
	    (rc = cjson_get_str(body, "module", &module)) != HSM_OK)
		goto wrapfmt;
	if (v != RECEIPT_VERSION) {
		rc = hsm_fail(HSM_ERR_FORMAT, "receipt version %lld is not supported (want %d)",
		              v, RECEIPT_VERSION);
		goto out;
	}
	if ((rc = b64_decode(sig64, &sig, &siglen)) != HSM_OK ||
	    (rc = b64_decode(cert64, &der, &derlen)) != HSM_OK)
		goto wrapfmt;
	if ((rc = x509u_from_der(der, derlen, &oa)) != HSM_OK)
		goto wrapfmt;

	/* Trust: the OA certificate was issued by the pinned module CA, is an
	 * OA certificate (not the module's TLS one) and names the module. */
	if ((rc = x509u_verify_issued_by(oa, module_ca)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "receipt from module %s", module);
		goto out;
	}
	if (x509u_subject_ou(oa, ou, sizeof(ou)) != HSM_OK || strcmp(ou, X509U_OU_OA) != 0) {
		rc = hsm_fail(HSM_ERR_TRUST, "receipt from module %s is signed with a certificate that is not an OA certificate",
		              module);
		goto out;
	}
	if (x509u_subject_serial(oa, serial, sizeof(serial)) != HSM_OK ||
	    strcmp(serial, module) != 0) {
		rc = hsm_fail(HSM_ERR_TRUST, "receipt names module %s but its OA certificate is for another module",
		              module);
		goto out;
	}
	if (expect_serial != NULL && strcmp(expect_serial, module) != 0) {
		rc = hsm_fail(HSM_ERR_TRUST, "receipt is from module %s, expected %s", module,
		              expect_serial);
		goto out;
	}
	pub = X509_get0_pubkey(oa);
	if (pub == NULL || crypto_ec_curve(pub, &curve) != HSM_OK || curve != HSM_CURVE_P384) {
		rc = hsm_fail(HSM_ERR_TRUST, "OA key of module %s is not a P-384 key", module);
		goto out;
	}
	if ((rc = cjson_dump(body, &canon, &clen)) != HSM_OK)
		goto wrapfmt;
	/* one accepted encoding: the high-S twin of a valid signature is refused */
	if (crypto_ecdsa_check_low_s(pub, sig, siglen) != HSM_OK) {
		rc = hsm_fail(HSM_ERR_VERIFY, "receipt from module %s: the OA signature is not "
		    "in the one accepted encoding (canonical DER, low S)", module);
		goto out;
	}
	rc = crypto_ecdsa_verify(pub, canon, clen, sig, siglen);
	if (rc == HSM_ERR_VERIFY) {
		rc = hsm_fail(HSM_ERR_VERIFY, "receipt from module %s: the OA signature does not match its body (altered receipt?)",
		              module);
		goto out;
	}
	if (rc != HSM_OK)
		goto wrapfmt;
	if (bodyp != NULL)
		*bodyp = body;
	rc = HSM_OK;
	goto out;
wrapfmt:
	rc = hsm_fail_wrap(rc, "receipt");
out:
	free(sig);
	free(der);
	free(canon);
	X509_free(oa);
	return rc;
}

hsm_rc
receipt_verify_file(const json_t *receipt, const char *module_ca_pem,
                    const char *expect_serial, const json_t **body)
{
	X509 *ca = NULL;
	hsm_rc rc;

	if ((rc = x509u_load_pem(module_ca_pem, &ca)) != HSM_OK)
		return rc;
	rc = receipt_verify(receipt, ca, expect_serial, body);
	X509_free(ca);
	return rc;
}
