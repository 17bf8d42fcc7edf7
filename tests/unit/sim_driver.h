/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sim_driver.h - a module driver (moddriver.h) that hands each request to
 * the emulator's real module logic (simmod_handle) in this process instead
 * of over TLS: a second backend behind the driver interface, as a hardware
 * one would be. A dropped answer (the module's fault injection) makes the
 * "connection" unusable until the receipts op connects again, as the TLS
 * driver does. Shared by the unit tests of the group engine and of the
 * workflows around it; the networked path runs in tests/integration.
 */
#ifndef HSMADM_TEST_SIM_DRIVER_H
#define HSMADM_TEST_SIM_DRIVER_H

#include "hsmadm/moddriver.h"
#include "simmod.h"

struct sim_conn {
	simmod   *m;
	long long id;
	int       lost;        /* a dropped answer: the "connection" is gone */
	int       reconnects;  /* times the receipts op connected again */
};

/* A driver for module `serial` served by m. *conn (may be NULL) borrows the
 * connection's counters; it lives as long as the driver. */
hsm_rc sim_driver_open(simmod *m, const char *serial, moddrv **out, struct sim_conn **conn);

#endif
