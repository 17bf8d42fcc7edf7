/* SPDX-License-Identifier: BSD-2-Clause */
/* test_keypart.c - custodian key-part operations against an in-memory
 * envelope store and in-memory 9D keys (the card engine is tested elsewhere). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/crypto.h"
#include "hsmadm/keypart.h"

#define MAXP 8

struct mem {
	char    *ids[MAXP];
	uint8_t *env[MAXP];
	size_t   len[MAXP];
	int      truncate_writes;   /* simulate a card that loses a byte */
};

static int
mem_find(struct mem *m, const char *id)
{
	for (int i = 0; i < MAXP; i++)
		if (m->ids[i] != NULL && strcmp(m->ids[i], id) == 0)
			return i;
	return -1;
}

static hsm_rc
mem_put(void *ctx, const char *id, const uint8_t *env, size_t n)
{
	struct mem *m = ctx;

	if (mem_find(m, id) >= 0)
		return HSM_ERR_EXISTS;
	for (int i = 0; i < MAXP; i++) {
		if (m->ids[i] == NULL) {
			m->ids[i] = strdup(id);
			m->len[i] = m->truncate_writes ? n - 1 : n;
			m->env[i] = malloc(n);
			memcpy(m->env[i], env, n);
			return HSM_OK;
		}
	}
	return hsm_fail(HSM_ERR_STATE, "card full");
}

static hsm_rc
mem_get(void *ctx, const char *id, uint8_t **env, size_t *n)
{
	struct mem *m = ctx;
	int i = mem_find(m, id);

	if (i < 0)
		return HSM_ERR_NOT_FOUND;
	*env = malloc(m->len[i]);
	memcpy(*env, m->env[i], m->len[i]);
	*n = m->len[i];
	return HSM_OK;
}

static hsm_rc
mem_del(void *ctx, const char *id)
{
	struct mem *m = ctx;
	int i = mem_find(m, id);

	if (i < 0)
		return HSM_ERR_NOT_FOUND;
	free(m->ids[i]);
	free(m->env[i]);
	m->ids[i] = NULL;
	m->env[i] = NULL;
	return HSM_OK;
}

static hsm_rc
mem_list(void *ctx, char ***ids, size_t *n)
{
	struct mem *m = ctx;
	size_t k = 0;

	*ids = calloc(MAXP, sizeof(char *));
	for (int i = 0; i < MAXP; i++)
		if (m->ids[i] != NULL)
			(*ids)[k++] = strdup(m->ids[i]);
	*n = k;
	return HSM_OK;
}

static void
mem_clear(struct mem *m)
{
	for (int i = 0; i < MAXP; i++) {
		free(m->ids[i]);
		free(m->env[i]);
	}
	memset(m, 0, sizeof(*m));
}

static const keypart_store_ops mem_ops = { mem_put, mem_get, mem_del, mem_list };

/* 9D key-agreement that counts uses ("PIN entries"). */
struct ka_ctx {
	EVP_PKEY *priv;
	int calls;
};

static hsm_rc
ka_ecdh(void *ctx, EVP_PKEY *peer, hsm_secbuf **shared)
{
	struct ka_ctx *k = ctx;

	k->calls++;
	return crypto_ecdh(k->priv, peer, shared);
}

static void
ka_free(void *ctx)
{
	(void)ctx;
}

static const struct hsm_keyagree_ops ka_ops = { ka_ecdh, ka_free };

struct tcard {
	EVP_PKEY *key;
	struct ka_ctx kc;
	hsm_keyagree *ka;
	struct mem mem;
	keypart_card c;
};

struct fx {
	struct tcard a, b;   /* primary and backup custodian cards */
};

static int
tcard_init(struct tcard *t, const char *id)
{
	if (crypto_ec_generate(HSM_CURVE_P384, &t->key) != HSM_OK)
		return -1;
	t->kc.priv = t->key;
	if (keyagree_new(&ka_ops, &t->kc, t->key, id, &t->ka) != HSM_OK)
		return -1;
	t->c.card_id = id;
	t->c.label = id;
	t->c.pub9d = t->key;
	t->c.ka = t->ka;
	t->c.store = &mem_ops;
	t->c.store_ctx = &t->mem;
	return 0;
}

static void
tcard_free(struct tcard *t)
{
	keyagree_free(&t->ka);
	EVP_PKEY_free(t->key);
	mem_clear(&t->mem);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || tcard_init(&f->a, "card-a") != 0 || tcard_init(&f->b, "card-b") != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tcard_free(&f->a);
	tcard_free(&f->b);
	free(f);
	return 0;
}

static void
test_generate_list_verify(void **state)
{
	struct fx *f = *state;
	uint8_t kpvp[HSM_VP_LEN], kpvp2[HSM_VP_LEN], got[HSM_VP_LEN], zero[HSM_VP_LEN] = { 0 };
	envelope_info *infos = NULL;
	size_t n = 0;

	assert_int_equal(keypart_generate(&f->a.c, "p1", kpvp), HSM_OK);
	assert_int_equal(f->a.kc.calls, 0);   /* sealing needs no PIN */
	assert_memory_equal(kpvp + 28, zero, 4);   /* EP11 pattern: last 4 bytes zero */
	assert_int_equal(keypart_generate(&f->a.c, "p2", kpvp2), HSM_OK);
	assert_memory_not_equal(kpvp, kpvp2, HSM_VP_LEN);

	assert_int_equal(keypart_list(&f->a.c, &infos, &n), HSM_OK);
	assert_int_equal(n, 2);
	assert_string_equal(infos[0].part_id, "p1");
	assert_string_equal(infos[0].card_id, "card-a");
	assert_memory_equal(infos[0].kpvp, kpvp, HSM_VP_LEN);
	free(infos);

	assert_int_equal(keypart_verify(&f->a.c, "p1", kpvp, got), HSM_OK);
	assert_memory_equal(got, kpvp, HSM_VP_LEN);
	assert_int_equal(f->a.kc.calls, 1);
	assert_int_equal(keypart_verify(&f->a.c, "p1", NULL, got), HSM_OK);

	/* A wrong recorded pattern is refused without asking the card. */
	f->a.kc.calls = 0;
	assert_int_equal(keypart_verify(&f->a.c, "p1", kpvp2, got), HSM_ERR_VERIFY);
	assert_int_equal(f->a.kc.calls, 0);
	assert_non_null(strstr(hsm_errmsg(), "the record says"));

	assert_int_equal(keypart_check(&f->a.c, "p1", kpvp), HSM_OK);
	assert_int_equal(keypart_check(&f->a.c, "p1", kpvp2), HSM_ERR_VERIFY);
	assert_int_equal(keypart_check(&f->a.c, "p7", kpvp), HSM_ERR_NOT_FOUND);
	assert_int_equal(f->a.kc.calls, 0);
	assert_int_equal(keypart_generate(&f->a.c, "p1", got), HSM_ERR_EXISTS);
	assert_int_equal(keypart_verify(&f->a.c, "p9", NULL, got), HSM_ERR_NOT_FOUND);
	assert_int_equal(keypart_generate(&f->a.c, "bad id", got), HSM_ERR_USAGE);
}

static void
test_copy_to_backup(void **state)
{
	struct fx *f = *state;
	uint8_t kpvp[HSM_VP_LEN], got[HSM_VP_LEN], other[HSM_VP_LEN];

	assert_int_equal(keypart_generate(&f->a.c, "p1", kpvp), HSM_OK);
	assert_int_equal(keypart_generate(&f->a.c, "p2", other), HSM_OK);

	/* Refusals that need no PIN. */
	f->a.kc.calls = 0;
	assert_int_equal(keypart_copy(&f->a.c, &f->a.c, "p1", kpvp, got), HSM_ERR_USAGE);
	assert_int_equal(keypart_copy(&f->a.c, &f->b.c, "p7", NULL, got), HSM_ERR_NOT_FOUND);
	assert_int_equal(keypart_copy(&f->a.c, &f->b.c, "p1", other, got), HSM_ERR_VERIFY);
	assert_int_equal(f->a.kc.calls, 0);
	assert_int_equal(mem_find(&f->b.mem, "p1"), -1);   /* nothing written */

	assert_int_equal(keypart_copy(&f->a.c, &f->b.c, "p1", kpvp, got), HSM_OK);
	assert_memory_equal(got, kpvp, HSM_VP_LEN);
	assert_int_equal(f->a.kc.calls, 1);
	assert_int_equal(f->b.kc.calls, 0);
	/* The backup opens it with its own key, to the same pattern. */
	assert_int_equal(keypart_verify(&f->b.c, "p1", kpvp, got), HSM_OK);
	assert_int_equal(f->b.kc.calls, 1);
	/* Second copy refused before the PIN. */
	f->a.kc.calls = 0;
	assert_int_equal(keypart_copy(&f->a.c, &f->b.c, "p1", kpvp, got), HSM_ERR_EXISTS);
	assert_int_equal(f->a.kc.calls, 0);
}

static void
test_moved_envelope_refused(void **state)
{
	struct fx *f = *state;
	uint8_t kpvp[HSM_VP_LEN], got[HSM_VP_LEN], *env = NULL;
	size_t n = 0;

	assert_int_equal(keypart_generate(&f->a.c, "p1", kpvp), HSM_OK);
	/* Someone copies the raw envelope to the backup card, or under another id. */
	assert_int_equal(mem_get(&f->a.mem, "p1", &env, &n), HSM_OK);
	assert_int_equal(mem_put(&f->b.mem, "p1", env, n), HSM_OK);
	assert_int_equal(mem_put(&f->a.mem, "p3", env, n), HSM_OK);
	free(env);
	assert_int_equal(keypart_verify(&f->b.c, "p1", NULL, got), HSM_ERR_VERIFY);
	assert_int_equal(keypart_verify(&f->a.c, "p3", NULL, got), HSM_ERR_VERIFY);
	assert_int_equal(f->a.kc.calls + f->b.kc.calls, 0);
}

static void
test_card_that_loses_data(void **state)
{
	struct fx *f = *state;
	uint8_t kpvp[HSM_VP_LEN];

	f->a.mem.truncate_writes = 1;
	assert_int_equal(keypart_generate(&f->a.c, "p1", kpvp), HSM_ERR_CARD);
	assert_non_null(strstr(hsm_errmsg(), "did not keep"));
}

static void
test_destroy(void **state)
{
	struct fx *f = *state;
	uint8_t kpvp[HSM_VP_LEN], other[HSM_VP_LEN], got[HSM_VP_LEN];

	assert_int_equal(keypart_generate(&f->a.c, "p1", kpvp), HSM_OK);
	assert_int_equal(keypart_generate(&f->a.c, "p2", other), HSM_OK);
	assert_int_equal(keypart_destroy(&f->a.c, "p1", other, got), HSM_ERR_VERIFY);
	assert_true(mem_find(&f->a.mem, "p1") >= 0);
	assert_int_equal(keypart_destroy(&f->a.c, "p1", kpvp, got), HSM_OK);
	assert_memory_equal(got, kpvp, HSM_VP_LEN);
	assert_int_equal(mem_find(&f->a.mem, "p1"), -1);
	assert_int_equal(keypart_destroy(&f->a.c, "p1", NULL, got), HSM_ERR_NOT_FOUND);
	assert_int_equal(f->a.kc.calls, 0);
}

static void
test_rewrap_for_a_group(void **state)
{
	struct fx *f = *state;
	uint8_t kpvp[HSM_VP_LEN], other[HSM_VP_LEN], vp[HSM_VP_LEN];
	EVP_PKEY *imp1 = NULL, *imp2 = NULL;
	keypart_target t[2];
	hsm_secbuf *p1 = NULL, *p2 = NULL;

	assert_int_equal(keypart_generate(&f->a.c, "p1", kpvp), HSM_OK);
	assert_int_equal(keypart_generate(&f->a.c, "p2", other), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &imp1), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &imp2), HSM_OK);
	memset(t, 0, sizeof(t));
	t[0].importer = imp1;
	t[0].binding = (kpwrap_binding){ "DC1-M01", 5, 1 };
	t[1].importer = imp2;
	t[1].binding = (kpwrap_binding){ "DC2-M01", 5, 1 };

	assert_int_equal(keypart_rewrap(&f->a.c, "p1", other, t, 2), HSM_ERR_VERIFY);
	assert_int_equal(f->a.kc.calls, 0);
	assert_int_equal(keypart_rewrap(&f->a.c, "p1", kpvp, t, 2), HSM_OK);
	assert_int_equal(f->a.kc.calls, 1);   /* one card use for the whole group */

	assert_int_equal(kpwrap_unwrap_pkey(&t[0].blob, imp1, &t[0].binding, &p1), HSM_OK);
	assert_int_equal(kpwrap_unwrap_pkey(&t[1].blob, imp2, &t[1].binding, &p2), HSM_OK);
	assert_true(secure_equal(p1->data, p2->data, HSM_KEY_LEN));
	assert_int_equal(vp_compute(p1->data, vp), HSM_OK);
	assert_memory_equal(vp, kpvp, HSM_VP_LEN);
	secbuf_free(&p1);
	secbuf_free(&p2);
	assert_int_equal(keypart_rewrap(&f->a.c, "p1", NULL, t, 2), HSM_ERR_USAGE);
	EVP_PKEY_free(imp1);
	EVP_PKEY_free(imp2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_generate_list_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_to_backup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moved_envelope_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_that_loses_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrap_for_a_group, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
