/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * adminlook.h - before an administrator is added: does the new name or
 * identity look like one a domain already has? Two admins that read alike in
 * a report ("Admin 1" and "admin1", "Alice Smith" and "Alice Smyth") are an
 * auditor's nightmare, and a second name under an identity that is already
 * registered counts as the same person. The command is not refused (a
 * rehearsal may want exactly that); the people at the workstation are told.
 */
#ifndef HSMADM_ADMINLOOK_H
#define HSMADM_ADMINLOOK_H

#include <stddef.h>
#include <jansson.h>

/* Compare name and identity (either may be NULL) with the admins of each
 * domain state (the "admins" array of a domain.query answer). Writes one
 * sentence per finding into out (separated by newlines, truncated to len)
 * and returns how many there were. */
size_t adminlook_similar(json_t *const *states, size_t n, const char *name,
                         const char *identity, char *out, size_t len);

/* 1 if a and b are the same after folding case and dropping everything but
 * letters and digits, or within two edits of each other (both at least 4
 * characters long once folded) with the same digits ("Admin 1" and
 * "Admin 2" are numbered apart on purpose). */
int adminlook_alike(const char *a, const char *b);

#endif
