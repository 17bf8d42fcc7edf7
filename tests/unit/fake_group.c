/* SPDX-License-Identifier: BSD-2-Clause */
/* fake_group.c - see fake_group.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "fake_group.h"
#include "fake_moddrv.h"
#include "test_tmpdir.h"

const char *const fg_names[FG_NPEOPLE] = { "Alice", "Bob", "Carol", "Mallory", "Newbie" };

static json_t *
admin_json(const struct fake_group *g, int who)
{
	EVP_PKEY *k = NULL;
	uint8_t ski[HSM_SKI_LEN];
	char skihex[2 * HSM_SKI_LEN + 1];

	assert_int_equal(crypto_priv_load_pem(g->key[who], &k), HSM_OK);
	assert_int_equal(crypto_ski(k, ski), HSM_OK);
	EVP_PKEY_free(k);
	hex_encode_buf(ski, HSM_SKI_LEN, skihex);
	return json_pack("{s:s, s:s, s:s, s:s}", "ski", skihex, "name", fg_names[who],
	                 "identity", fg_names[who], "pubkey", g->pubhex[who]);
}

/* A domain state (the shape of docs/formats/module-protocol.md) with the
 * admins in mask (a bit per person). */
static json_t *
state_of(const struct fake_group *g, const char *module, unsigned mask, long long counter,
         unsigned thr)
{
	json_t *admins = json_array();
	char digest[65];
	int i;

	for (i = 0; i < FG_NPEOPLE; i++)
		if (mask & (1u << i))
			json_array_append_new(admins, admin_json(g, i));
	memset(digest, '0', 64);
	digest[64] = '\0';
	return json_pack("{s:s, s:i, s:I, s:o, s:{s:i, s:i}, s:b, s:s, s:{s:{s:s}, s:{s:s}, "
	    "s:{s:s}}}", "module", module, "domain", 3, "counter", (json_int_t)counter,
	    "admins", admins, "thresholds", "signature", (int)thr, "revocation", (int)thr,
	    "imprint", 0, "state_digest", digest, "registers", "current", "state", "empty",
	    "pending", "state", "empty", "old", "state", "empty");
}

void
fg_members(struct fake_group *g, long long counter, unsigned thr, int same)
{
	static const char *const mods[2] = { "DC1-M01", "DC2-M01" };
	const unsigned masks[2] = { 1u << FG_ALICE | 1u << FG_BOB | 1u << FG_CAROL,
	                            1u << FG_ALICE | 1u << FG_BOB | (same ? 1u << FG_CAROL : 0) };

	for (int i = 0; i < 2; i++) {
		moddrv_free(&g->m[i].drv);
		g->m[i].module = mods[i];
		g->m[i].domain = 3;
		assert_int_equal(fake_moddrv_open(mods[i], state_of(g, mods[i], masks[i], counter,
		                                  thr), &g->applies, &g->m[i].drv), HSM_OK);
	}
}

void
fg_setup(struct fake_group *g, const char *test)
{
	memset(g, 0, sizeof(*g));
	g->dir = make_tmpdir_named(test);
	for (int i = 0; i < FG_NPEOPLE; i++) {
		EVP_PKEY *k = NULL;
		uint8_t *pt = NULL;
		size_t n = 0;
		snprintf(g->key[i], sizeof(g->key[i]), "%s/%s.pem", g->dir, fg_names[i]);
		assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
		assert_int_equal(crypto_priv_save_pem(g->key[i], k), HSM_OK);
		assert_int_equal(crypto_ec_point(k, &pt, &n), HSM_OK);
		assert_int_equal(hex_encode(pt, n, &g->pubhex[i]), HSM_OK);
		free(pt);
		EVP_PKEY_free(k);
	}
	fg_members(g, 7, 2, 0);
}

void
fg_teardown(struct fake_group *g)
{
	for (int i = 0; i < 2; i++)
		moddrv_free(&g->m[i].drv);
	for (int i = 0; i < FG_NPEOPLE; i++)
		free(g->pubhex[i]);
	for (size_t i = 0; i < g->nsaid; i++)
		free(g->said[i]);
	rm_tmpdir(g->dir);
	memset(g, 0, sizeof(*g));
}

void
fg_say(void *ctx, const char *line)
{
	struct fake_group *g = ctx;

	if (g->nsaid < FG_MAX_SAID)
		g->said[g->nsaid++] = strdup(line);
}

void
fg_said_at(const struct fake_group *g, size_t n, const char *text)
{
	if (n >= g->nsaid || strstr(g->said[n], text) == NULL)
		fail_msg("line %zu is \"%s\", not \"%s\"", n, n < g->nsaid ? g->said[n] : "(none)",
		         text);
}

signers *
fg_signers(const struct fake_group *g, const int *who)
{
	const char *keys[8];
	struct signers_opts so;
	signers *s = NULL;
	size_t n = 0;

	while (n < 8 && who[n] >= 0) {
		keys[n] = g->key[who[n]];
		n++;
	}
	memset(&so, 0, sizeof(so));
	so.key_files = keys;
	so.nkeys = n;
	so.pin_fd = so.enter_fd = -1;
	assert_int_equal(signers_new(&so, &s), HSM_OK);
	return s;
}

json_t *
fg_add_newbie(const struct fake_group *g)
{
	return json_pack("{s:s, s:s, s:s}", "pubkey", g->pubhex[FG_NEWBIE], "name", "Newbie",
	                 "identity", "newbie");
}
