/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fake_group.h - a domain group of two members that answer from the test
 * driver (fake_moddrv.h), for the ops tests of decisions around a command
 * (quorum, groupcmd): five people with P-384 key files in a private
 * directory; Alice and Bob administer both members, Carol only the first
 * (unless the members are set up the same), Mallory and Newbie neither. Nothing is ever applied (applies counts the
 * tries). Uses cmocka's asserts: include it after <cmocka.h>.
 */
#ifndef HSMADM_TEST_FAKE_GROUP_H
#define HSMADM_TEST_FAKE_GROUP_H

#include <stddef.h>
#include "hsmadm/admincmd.h"
#include "hsmadm/group.h"
#include "hsmadm/signers.h"

enum { FG_ALICE, FG_BOB, FG_CAROL, FG_MALLORY, FG_NEWBIE, FG_NPEOPLE };
extern const char *const fg_names[FG_NPEOPLE];

#define FG_MAX_SAID 32

struct fake_group {
	char        *dir;
	char         key[FG_NPEOPLE][600];   /* private key files */
	char        *pubhex[FG_NPEOPLE];     /* 04||X||Y in hex */
	group_member m[2];
	unsigned     applies;
	char        *said[FG_MAX_SAID];      /* lines said through fg_say */
	size_t       nsaid;
};

/* Keys in a new directory named after test; members at counter 7 with
 * signature and revocation thresholds 2. */
void fg_setup(struct fake_group *g, const char *test);
/* Members again, at counter with both thresholds thr; same: Carol
 * administers the second member too, so that the members are configured
 * the same (a group command may be sent to them). */
void fg_members(struct fake_group *g, long long counter, unsigned thr, int same);
void fg_teardown(struct fake_group *g);

/* A say callback keeping the lines (ctx: the fake_group). */
void fg_say(void *ctx, const char *line);
/* The line said n-th (from 0) contains text; fails the test if not. */
void fg_said_at(const struct fake_group *g, size_t n, const char *text);

/* Signers from the key files of the people in who (-1 ends the list). */
signers *fg_signers(const struct fake_group *g, const int *who);
/* The params of admin.add for Newbie (a new reference). */
json_t *fg_add_newbie(const struct fake_group *g);

#endif
