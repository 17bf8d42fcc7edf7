/* SPDX-License-Identifier: BSD-2-Clause */
/* vcard_net.c - the card side of the vpcd protocol (vsmartcard's virtual
 * reader driver). The driver listens; we connect, which inserts the card, and
 * close, which removes it. Frames are a 2-byte big-endian length and payload;
 * a 1-byte payload is a control message (00 off, 01 on, 02 reset, 04 ATR),
 * anything else is an APDU. Only the ATR and APDU responses are answered.
 *
 * Speed: the Debian driver writes length and payload in two send()s with
 * Nagle on, so the payload waits for our ACK of the length; Linux delays that
 * ACK ~40 ms unless TCP_QUICKACK is re-armed after every read. We re-arm it,
 * and send each reply in one write(). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "vcard_int.h"

#define POLL_MS 200

static void
quickack(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* Connect once. HSM_ERR_TIMEOUT if refused (driver not there yet). */
static hsm_rc
vpcd_connect(const char *host, uint16_t port, int *out)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[8];
	int fd = -1, one = 1, e = 0, gai;

	*out = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((gai = getaddrinfo(host, portstr, &hints, &res)) != 0)
		return hsm_fail(HSM_ERR_USAGE, "cannot resolve host %s: %s", host, gai_strerror(gai));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return hsm_fail(e == ECONNREFUSED ? HSM_ERR_TIMEOUT : HSM_ERR_IO,
		    "cannot connect to the vpcd reader at %s:%u: %s", host, port, strerror(e));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	quickack(fd);
	*out = fd;
	return HSM_OK;
}

/* Read exactly n bytes. 1 = done, 0 = EOF/error (card removed), -1 = stop.
 * Waits in POLL_MS steps so that a stop request is seen. first_ms > 0: warn
 * once if nothing arrives in that time (another card holds the reader). */
static int
read_exact(int fd, uint8_t *p, size_t n, volatile sig_atomic_t *stop)
{
	while (n > 0) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;
		int pr;

		if (*stop)
			return -1;
		pr = poll(&pfd, 1, POLL_MS);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return 0;
		if (pr == 0)
			continue;
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		quickack(fd);
		p += r;
		n -= (size_t)r;
	}
	return 1;
}

static int
send_frame(int fd, const uint8_t *p, size_t n)
{
	uint8_t buf[2 + VCARD_RESP_MAX];
	size_t off = 0;

	if (n == 0 || n > VCARD_RESP_MAX)
		return 0;               /* never an empty frame: the driver drops the card */
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, p, n);
	n += 2;
	while (off < n) {
		ssize_t w = write(fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		off += (size_t)w;
	}
	return 1;
}

/* Serve one connection until EOF (0) or stop (-1), or a save failure (rc). */
static int
serve(vcard *c, int fd, const char *path, volatile sig_atomic_t *stop, int quiet,
      hsm_rc *rc)
{
	static uint8_t cmd[65536 + 16];
	uint8_t hdr[2], resp[VCARD_RESP_MAX];
	const uint8_t *atr;
	size_t atrlen = vcard_atr(&atr), rlen;
	int k;

	/* pcscd polls a present card with GET ATR every 400 ms. Silence means the
	 * driver did not accept us: another card holds this reader. */
	if (!quiet) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, 1500) == 0)
			fprintf(stderr, "hsmadm-vcard: the reader has not polled the card for 1.5 s; "
			    "is another card already in this reader? Waiting.\n");
	}
	for (;;) {
		size_t n;

		if ((k = read_exact(fd, hdr, 2, stop)) != 1)
			return k;
		n = (size_t)hdr[0] << 8 | hdr[1];
		if (n == 0)
			continue;
		if ((k = read_exact(fd, cmd, n, stop)) != 1)
			return k;
		if (n == 1) {
			switch (cmd[0]) {
			case 0x00: vcard_power_event(c, VCARD_POWER_OFF); break;
			case 0x01: vcard_power_event(c, VCARD_POWER_ON); break;
			case 0x02: vcard_power_event(c, VCARD_POWER_RESET); break;
			case 0x04:
				if (!send_frame(fd, atr, atrlen))
					return 0;
				break;
			default:
				if (!quiet)
					fprintf(stderr, "hsmadm-vcard: ignoring unknown vpcd control byte %02x\n", cmd[0]);
				break;
			}
			continue;
		}
		if ((*rc = vcard_apdu(c, cmd, n, resp, sizeof(resp), &rlen)) != HSM_OK)
			return 2;
		/* Persist before answering: a client that saw 9000 can rely on it. */
		if (path != NULL && vcard_dirty(c)) {
			if ((*rc = vcard_save(c, path, 0)) != HSM_OK)
				return 2;
			vcard_clear_dirty(c);
		}
		if (!send_frame(fd, resp, rlen))
			return 0;
	}
}

hsm_rc
vcard_run(vcard *c, const char *path, const char *host, uint16_t port,
          volatile sig_atomic_t *stop, int quiet)
{
	int fd = -1, waiting_msg = 0, k;
	hsm_rc rc = HSM_OK;

	while (!*stop) {
		rc = vpcd_connect(host, port, &fd);
		if (rc == HSM_ERR_TIMEOUT) {
			if (!quiet && !waiting_msg)
				fprintf(stderr, "hsmadm-vcard: waiting for the vpcd reader at %s:%u "
				    "(is pcscd running with the vpcd driver?)\n", host, port);
			waiting_msg = 1;
			usleep(POLL_MS * 1000);
			continue;
		}
		if (rc != HSM_OK)
			return rc;
		waiting_msg = 0;
		if (!quiet)
			fprintf(stderr, "hsmadm-vcard: card %u inserted into the vpcd reader at %s:%u\n",
			    c->serial, host, port);
		vcard_power_event(c, VCARD_POWER_OFF);
		k = serve(c, fd, path, stop, quiet, &rc);
		close(fd);
		fd = -1;
		vcard_power_event(c, VCARD_POWER_OFF);
		if (k == 2)
			return hsm_fail_wrap(rc, "card %u", c->serial);
		if (k == 0 && !quiet)
			fprintf(stderr, "hsmadm-vcard: the reader closed the connection; reconnecting\n");
	}
	if (!quiet)
		fprintf(stderr, "hsmadm-vcard: card %u removed\n", c->serial);
	return HSM_OK;
}
