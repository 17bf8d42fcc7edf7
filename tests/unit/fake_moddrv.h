/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fake_moddrv.h - a module driver (moddriver.h) for unit tests of decisions
 * that depend only on what a member reports: domain.query answers a fixed
 * public state (the shape of docs/formats/module-protocol.md), and
 * command.apply is refused and counted, so a test can assert that nothing
 * was sent. For a driver that runs the emulator's real module logic, see
 * sim_driver.h.
 */
#ifndef HSMADM_TEST_FAKE_MODDRV_H
#define HSMADM_TEST_FAKE_MODDRV_H

#include <jansson.h>
#include "hsmadm/moddriver.h"

/* A driver for module `serial` whose domain.query (any domain) answers a
 * copy of state; the driver takes the reference to state, also when it
 * fails. Each apply call adds one to *applies (shared by several drivers
 * if the test likes). */
hsm_rc fake_moddrv_open(const char *serial, json_t *state, unsigned *applies, moddrv **out);

#endif
