/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * simserve.h - the network side of hsmadm-simd: a TLS 1.3 listener with
 * required client certificates, a thread per connection, frames in and
 * answers out (simmod does the work), and a clean stop on SIGTERM/SIGINT.
 */
#ifndef HSMADM_SIM_SIMSERVE_H
#define HSMADM_SIM_SIMSERVE_H

#include "hsmadm/err.h"
#include "simmod.h"

typedef struct simserve_opts {
	const char   *dir;
	const char   *listen;      /* "127.0.0.1:0", "[::1]:4433", ... */
	const char   *port_file;   /* write the chosen port here (optional) */
	int           max_per_client; /* connections one client address may hold (0: 16) */
	int           delay_ms;    /* test-only: sleep before every answer */
	simmod_faults faults;      /* test-only */
	int           has_pin_fd;  /* the token PIN on descriptor pin_fd */
	int           pin_fd;
} simserve_opts;

/* Runs until SIGTERM or SIGINT. Prints "listening on ADDR:PORT" on stdout. */
hsm_rc simserve_run(const simserve_opts *o);

#endif
