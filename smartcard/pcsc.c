/* SPDX-License-Identifier: BSD-2-Clause */
/* pcsc.c - PC/SC transport on libpcsclite (see pcsc.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <winscard.h>

#include "hsmadm/pcsc.h"
#include "hsmadm/secbuf.h"

#define MAX_READERS 16
#define PNP_NAME "\\\\?PnP?\\Notification"

struct pcsc_ctx {
	SCARDCONTEXT sc;
};

struct pcsc_card {
	pcsc_ctx     *ctx;
	SCARDHANDLE   h;
	char         *reader;
	uint8_t       atr[MAX_ATR_SIZE];
	size_t        atrlen;
	int           tx_depth;
	int           reset_on_close;
	unsigned long napdu;
};

hsm_rc
pcsc_rc(long rv, const char *what, const char *reader)
{
	const char *r = reader ? reader : "the reader";

	switch (rv) {
	case SCARD_S_SUCCESS:
		return HSM_OK;
	case SCARD_W_REMOVED_CARD:
	case SCARD_E_NO_SMARTCARD:
	case SCARD_W_RESET_CARD:
	case SCARD_W_UNPOWERED_CARD:
	case SCARD_W_UNRESPONSIVE_CARD:
	case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_INVALID_HANDLE:
		return hsm_fail(HSM_ERR_CARD_REMOVED,
		    "%s: the card in \"%s\" was removed or reset; insert it again and repeat "
		    "the step (nothing was half-done on the card)", what, r);
	case SCARD_E_NO_SERVICE:
	case SCARD_E_SERVICE_STOPPED:
		return hsm_fail(HSM_ERR_PCSC,
		    "%s: the smart card service (pcscd) is not running; start it and try again", what);
	case SCARD_E_NO_READERS_AVAILABLE:
		return hsm_fail(HSM_ERR_PCSC, "%s: no smart card reader found; plug one in", what);
	case SCARD_E_UNKNOWN_READER:
		return hsm_fail(HSM_ERR_NOT_FOUND,
		    "%s: there is no reader \"%s\"; see 'hsmadm-card list'", what, r);
	case SCARD_E_TIMEOUT:
		return hsm_fail(HSM_ERR_TIMEOUT, "%s: timed out", what);
	case SCARD_E_CANCELLED:
		return hsm_fail(HSM_ERR_CANCELLED, "%s: cancelled", what);
	case SCARD_E_SHARING_VIOLATION:
		return hsm_fail(HSM_ERR_LOCKED,
		    "%s: the card in \"%s\" is in use by another program; close it and retry", what, r);
	case SCARD_E_PROTO_MISMATCH:
		return hsm_fail(HSM_ERR_CARD,
		    "%s: the card in \"%s\" does not speak the T=1 protocol", what, r);
	case SCARD_E_INSUFFICIENT_BUFFER:
		return hsm_fail(HSM_ERR_FORMAT, "%s: the card sent a response that is too long", what);
	case SCARD_E_NO_MEMORY:
		return hsm_fail(HSM_ERR_NOMEM, "%s: out of memory", what);
	default:
		return hsm_fail(HSM_ERR_PCSC, "%s: smart card service error: %s (0x%08lX)",
		    what, pcsc_stringify_error(rv), (unsigned long)rv);
	}
}

hsm_rc
pcsc_open(pcsc_ctx **out)
{
	pcsc_ctx *c;
	LONG rv;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->sc);
	if (rv != SCARD_S_SUCCESS) {
		free(c);
		return pcsc_rc(rv, "connecting to the smart card service", NULL);
	}
	*out = c;
	return HSM_OK;
}

void
pcsc_close(pcsc_ctx **ctxp)
{
	if (ctxp == NULL || *ctxp == NULL)
		return;
	SCardReleaseContext((*ctxp)->sc);
	free(*ctxp);
	*ctxp = NULL;
}

/* Reader names as a malloc'ed multi-string; *names NULL and n 0 if none. */
static hsm_rc
reader_names(pcsc_ctx *ctx, char **names, size_t *count)
{
	DWORD len = 0;
	char *buf = NULL;
	LONG rv;
	size_t n = 0;
	const char *p;

	*names = NULL;
	*count = 0;
	rv = SCardListReaders(ctx->sc, NULL, NULL, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return HSM_OK;
	if (rv != SCARD_S_SUCCESS)
		return pcsc_rc(rv, "listing readers", NULL);
	if ((buf = calloc(1, len + 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rv = SCardListReaders(ctx->sc, NULL, buf, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		free(buf);
		return HSM_OK;
	}
	if (rv != SCARD_S_SUCCESS) {
		free(buf);
		return pcsc_rc(rv, "listing readers", NULL);
	}
	for (p = buf; *p != '\0' && n < MAX_READERS; p += strlen(p) + 1)
		n++;
	*names = buf;
	*count = n;
	return HSM_OK;
}

hsm_rc
pcsc_list(pcsc_ctx *ctx, pcsc_reader **out, size_t *n)
{
	SCARD_READERSTATE st[MAX_READERS];
	pcsc_reader *list = NULL;
	char *names = NULL;
	const char *p;
	size_t cnt = 0, i;
	LONG rv;
	hsm_rc rc;

	*out = NULL;
	*n = 0;
	if ((rc = reader_names(ctx, &names, &cnt)) != HSM_OK || cnt == 0)
		goto out;
	memset(st, 0, sizeof(st));
	for (i = 0, p = names; i < cnt; i++, p += strlen(p) + 1) {
		st[i].szReader = p;
		st[i].dwCurrentState = SCARD_STATE_UNAWARE;
	}
	rv = SCardGetStatusChange(ctx->sc, 0, st, (DWORD)cnt);
	if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
		rc = pcsc_rc(rv, "reading reader states", NULL);
		goto out;
	}
	if ((list = calloc(cnt, sizeof(*list))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < cnt; i++) {
		if ((list[i].name = strdup(st[i].szReader)) == NULL) {
			pcsc_list_free(&list, cnt);
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		list[i].card_present = (st[i].dwEventState & SCARD_STATE_PRESENT) &&
		    !(st[i].dwEventState & SCARD_STATE_MUTE);
		list[i].in_use = (st[i].dwEventState & SCARD_STATE_EXCLUSIVE) != 0;
		list[i].atrlen = st[i].cbAtr <= sizeof(list[i].atr) ? st[i].cbAtr : 0;
		memcpy(list[i].atr, st[i].rgbAtr, list[i].atrlen);
	}
	*out = list;
	*n = cnt;
out:
	free(names);
	return rc;
}

void
pcsc_list_free(pcsc_reader **listp, size_t n)
{
	size_t i;

	if (listp == NULL || *listp == NULL)
		return;
	for (i = 0; i < n; i++)
		free((*listp)[i].name);
	free(*listp);
	*listp = NULL;
}

static int
contains_ci(const char *hay, const char *needle)
{
	size_t hn = strlen(hay), nn = strlen(needle), i, j;

	if (nn > hn)
		return 0;
	for (i = 0; i + nn <= hn; i++) {
		for (j = 0; j < nn; j++)
			if (tolower((unsigned char)hay[i + j]) != tolower((unsigned char)needle[j]))
				break;
		if (j == nn)
			return 1;
	}
	return 0;
}

hsm_rc
pcsc_find_reader(pcsc_ctx *ctx, const char *pattern, char **name)
{
	pcsc_reader *list = NULL;
	size_t n = 0, i, hits = 0, hit = 0;
	hsm_rc rc;

	*name = NULL;
	if ((rc = pcsc_list(ctx, &list, &n)) != HSM_OK)
		return rc;
	if (n == 0) {
		rc = hsm_fail(HSM_ERR_PCSC, "no smart card reader found; plug one in");
		goto out;
	}
	if (pattern != NULL) {
		for (i = 0; i < n; i++)
			if (strcmp(list[i].name, pattern) == 0) {
				hits = 1, hit = i;
				goto found;
			}
		for (i = 0; i < n; i++)
			if (contains_ci(list[i].name, pattern))
				hits++, hit = i;
		if (hits == 0) {
			rc = hsm_fail(HSM_ERR_NOT_FOUND,
			    "no reader matches \"%s\"; see 'hsmadm-card list'", pattern);
			goto out;
		}
		if (hits > 1) {
			rc = hsm_fail(HSM_ERR_USAGE,
			    "%zu readers match \"%s\"; give more of the name (see 'hsmadm-card list')",
			    hits, pattern);
			goto out;
		}
	} else {
		for (i = 0; i < n; i++)
			if (list[i].card_present)
				hits++, hit = i;
		if (hits == 0) {
			rc = hsm_fail(HSM_ERR_NO_CARD, "no card in any reader; insert a card");
			goto out;
		}
		if (hits > 1) {
			rc = hsm_fail(HSM_ERR_USAGE,
			    "%zu readers hold a card; pick one with --reader (see 'hsmadm-card list')",
			    hits);
			goto out;
		}
	}
found:
	if ((*name = strdup(list[hit].name)) == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	pcsc_list_free(&list, n);
	return rc;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A card already offered to pred in its current insertion (reader name plus
 * pcsc-lite's event counter in the high word of the state). */
struct seen {
	char name[128];
	DWORD events;
};

static int
was_seen(const struct seen *s, size_t n, const char *name, DWORD events)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i].events == events && strcmp(s[i].name, name) == 0)
			return 1;
	return 0;
}

hsm_rc
pcsc_wait_card(pcsc_ctx *ctx, const char *reader, pcsc_card_pred pred, void *arg,
               const char *prompt, int timeout_ms, char **reader_out)
{
	SCARD_READERSTATE st[MAX_READERS + 1];
	struct seen seen[32];
	size_t nseen = 0, cnt, i;
	char *names = NULL;
	const char *p;
	long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
	int prompted = 0;
	LONG rv;
	hsm_rc rc = HSM_OK;

	*reader_out = NULL;
	memset(seen, 0, sizeof(seen));
	for (;;) {
		DWORD wait;

		free(names);
		names = NULL;
		if ((rc = reader_names(ctx, &names, &cnt)) != HSM_OK)
			goto out;
		memset(st, 0, sizeof(st));
		for (i = 0, p = names; i < cnt; i++, p += strlen(p) + 1) {
			st[i].szReader = p;
			st[i].dwCurrentState = SCARD_STATE_UNAWARE;
		}
		if (cnt > 0) {
			rv = SCardGetStatusChange(ctx->sc, 0, st, (DWORD)cnt);
			if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
				rc = pcsc_rc(rv, "reading reader states", NULL);
				goto out;
			}
		}
		for (i = 0; i < cnt; i++) {
			DWORD ev = st[i].dwEventState;

			if (!(ev & SCARD_STATE_PRESENT) || (ev & SCARD_STATE_MUTE))
				continue;
			if (reader != NULL && strcmp(st[i].szReader, reader) != 0 &&
			    !contains_ci(st[i].szReader, reader))
				continue;
			if (was_seen(seen, nseen, st[i].szReader, ev >> 16))
				continue;
			rc = pred ? pred(ctx, st[i].szReader, arg) : HSM_OK;
			if (rc == HSM_OK) {
				if ((*reader_out = strdup(st[i].szReader)) == NULL)
					rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
				goto out;
			}
			if (rc != HSM_ERR_NO_CARD)
				goto out;
			if (nseen < sizeof(seen) / sizeof(seen[0])) {
				snprintf(seen[nseen].name, sizeof(seen[nseen].name), "%s", st[i].szReader);
				seen[nseen].events = ev >> 16;
				nseen++;
			}
		}
		if (timeout_ms >= 0 && now_ms() >= deadline) {
			rc = hsm_fail(HSM_ERR_TIMEOUT,
			    "no suitable card was presented within %d seconds; insert the card and "
			    "run the command again", (timeout_ms + 999) / 1000);
			goto out;
		}
		if (!prompted && prompt != NULL) {
			fprintf(stderr, "%s\n", prompt);
			fflush(stderr);
			prompted = 1;
		}
		/* Sleep in pcscd until a reader's state changes or a reader comes or
		 * goes (the PnP pseudo-reader compares its high word with the
		 * number of readers). */
		for (i = 0; i < cnt; i++)
			st[i].dwCurrentState = st[i].dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
		st[cnt].szReader = PNP_NAME;
		st[cnt].dwCurrentState = (DWORD)(cnt << 16);
		if (timeout_ms < 0) {
			wait = INFINITE;
		} else {
			long left = deadline - now_ms();
			wait = left > 0 ? (DWORD)left : 0;
		}
		rv = SCardGetStatusChange(ctx->sc, wait, st, (DWORD)(cnt + 1));
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT &&
		    rv != SCARD_E_UNKNOWN_READER && rv != SCARD_E_READER_UNAVAILABLE) {
			rc = pcsc_rc(rv, "waiting for a card", NULL);
			goto out;
		}
	}
out:
	free(names);
	return rc;
}

hsm_rc
pcsc_connect(pcsc_ctx *ctx, const char *reader, pcsc_card **out)
{
	pcsc_card *c = NULL;
	DWORD proto = 0, rlen = 0, state = 0, atrlen = MAX_ATR_SIZE;
	LONG rv;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->reader = strdup(reader)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	c->ctx = ctx;
	rv = SCardConnect(ctx->sc, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &c->h, &proto);
	if (rv == SCARD_E_NO_SMARTCARD || rv == SCARD_W_REMOVED_CARD) {
		rc = hsm_fail(HSM_ERR_NO_CARD, "there is no card in \"%s\"; insert one", reader);
		goto out;
	}
	if (rv != SCARD_S_SUCCESS) {
		rc = pcsc_rc(rv, "connecting to the card", reader);
		goto out;
	}
	rv = SCardStatus(c->h, NULL, &rlen, &state, &proto, c->atr, &atrlen);
	if (rv == SCARD_S_SUCCESS)
		c->atrlen = atrlen;
	*out = c;
	c = NULL;
out:
	if (c != NULL) {
		free(c->reader);
		free(c);
	}
	return rc;
}

void
pcsc_disconnect(pcsc_card **cardp)
{
	pcsc_card *c;

	if (cardp == NULL || (c = *cardp) == NULL)
		return;
	while (c->tx_depth > 0)
		pcsc_end(c);
	SCardDisconnect(c->h, c->reset_on_close ? SCARD_RESET_CARD : SCARD_LEAVE_CARD);
	free(c->reader);
	free(c);
	*cardp = NULL;
}

void
pcsc_reset_on_close(pcsc_card *card)
{
	card->reset_on_close = 1;
}

const char *
pcsc_card_reader(const pcsc_card *card)
{
	return card->reader;
}

const uint8_t *
pcsc_card_atr(const pcsc_card *card, size_t *len)
{
	*len = card->atrlen;
	return card->atr;
}

unsigned long
pcsc_apdu_count(const pcsc_card *card)
{
	return card->napdu;
}

hsm_rc
pcsc_begin(pcsc_card *card, int *was_reset)
{
	DWORD proto = 0;
	LONG rv;

	if (was_reset != NULL)
		*was_reset = 0;
	if (card->tx_depth > 0) {
		card->tx_depth++;
		return HSM_OK;
	}
	rv = SCardBeginTransaction(card->h);
	if (rv == SCARD_W_RESET_CARD) {
		/* Another program reset the card (yubico-piv-tool does on exit):
		 * nothing of ours was lost that the caller cannot redo. */
		rv = SCardReconnect(card->h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1,
		    SCARD_LEAVE_CARD, &proto);
		if (rv == SCARD_S_SUCCESS)
			rv = SCardBeginTransaction(card->h);
		if (was_reset != NULL)
			*was_reset = 1;
	}
	if (rv != SCARD_S_SUCCESS)
		return pcsc_rc(rv, "reserving the card", card->reader);
	card->tx_depth = 1;
	return HSM_OK;
}

void
pcsc_end(pcsc_card *card)
{
	if (card->tx_depth <= 0)
		return;
	if (--card->tx_depth == 0)
		(void)SCardEndTransaction(card->h, SCARD_LEAVE_CARD);
}

/* One SCardTransmit. rbuf gets data + SW; *rlen in/out. */
static hsm_rc
xmit(pcsc_card *card, const uint8_t *cmd, size_t n, uint8_t *rbuf, size_t *rlen)
{
	DWORD len = (DWORD)*rlen;
	LONG rv;

	card->napdu++;
	rv = SCardTransmit(card->h, SCARD_PCI_T1, cmd, (DWORD)n, NULL, rbuf, &len);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_rc(rv, "talking to the card", card->reader);
	if (len < 2)
		return hsm_fail(HSM_ERR_FORMAT,
		    "the card in \"%s\" sent a response without a status word", card->reader);
	*rlen = len;
	return HSM_OK;
}

/* Append response data to out, refusing overflow. */
static hsm_rc
append(pcsc_card *card, uint8_t *out, size_t cap, size_t *used, const uint8_t *p, size_t n)
{
	if (n > cap - *used)
		return hsm_fail(HSM_ERR_FORMAT,
		    "the card in \"%s\" sent more data than expected (over %zu bytes)",
		    card->reader, cap);
	if (n)
		memcpy(out + *used, p, n);
	*used += n;
	return HSM_OK;
}

hsm_rc
pcsc_apdu(pcsc_card *card, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
          const uint8_t *data, size_t n, uint8_t *out, size_t cap, size_t *outlen,
          uint16_t *sw)
{
	uint8_t cmd[5 + 255 + 1];
	uint8_t rbuf[258];
	size_t off = 0, cmdlen = 0, rlen, used = 0;
	uint16_t s = 0;
	int retried = 0, getresp = 0;
	hsm_rc rc = HSM_OK;

	if (outlen != NULL)
		*outlen = 0;
	*sw = 0;
	if ((rc = pcsc_begin(card, NULL)) != HSM_OK)
		return rc;
	/* Command chaining: every part but the last has CLA | 0x10 and must
	 * answer 9000 without data. */
	for (;;) {
		size_t chunk = n - off > 255 ? 255 : n - off;
		int last = off + chunk == n;

		cmd[0] = last ? cla : (uint8_t)(cla | 0x10);
		cmd[1] = ins;
		cmd[2] = p1;
		cmd[3] = p2;
		if (chunk > 0) {
			cmd[4] = (uint8_t)chunk;
			memcpy(cmd + 5, data + off, chunk);
			cmdlen = 5 + chunk;
			if (last)
				cmd[cmdlen++] = 0x00;   /* Le: up to 256 bytes */
		} else {
			cmd[4] = 0x00;                  /* case 2, Le = 256 */
			cmdlen = 5;
		}
		rlen = sizeof(rbuf);
		if ((rc = xmit(card, cmd, cmdlen, rbuf, &rlen)) != HSM_OK)
			goto out;
		s = (uint16_t)((rbuf[rlen - 2] << 8) | rbuf[rlen - 1]);
		if (last)
			break;
		if (s != 0x9000)
			goto done;  /* the card refused a chain part: report its SW */
		off += chunk;
	}
	for (;;) {
		if ((s & 0xFF00) == 0x6C00 && !retried) {
			/* Wrong Le: repeat the last command with the length the card
			 * asks for. Only for commands without data (case 2). */
			retried = 1;
			if (cmdlen == 5) {
				cmd[4] = (uint8_t)(s & 0xFF);
			} else {
				cmd[cmdlen - 1] = (uint8_t)(s & 0xFF);
			}
			rlen = sizeof(rbuf);
			if ((rc = xmit(card, cmd, cmdlen, rbuf, &rlen)) != HSM_OK)
				goto out;
			s = (uint16_t)((rbuf[rlen - 2] << 8) | rbuf[rlen - 1]);
			continue;
		}
		if ((rc = append(card, out, cap, &used, rbuf, rlen - 2)) != HSM_OK)
			goto out;
		if ((s & 0xFF00) != 0x6100)
			break;
		/* More data waiting: GET RESPONSE. A card that keeps saying so
		 * without end (61xx with no data) must not hang us. */
		if (++getresp > PCSC_MAX_RESPONSE / 128) {
			rc = hsm_fail(HSM_ERR_FORMAT, "the card in \"%s\" keeps announcing more "
			    "response data; giving up", card->reader);
			goto out;
		}
		cmd[0] = 0x00;
		cmd[1] = 0xC0;
		cmd[2] = 0x00;
		cmd[3] = 0x00;
		cmd[4] = (uint8_t)(s & 0xFF);
		cmdlen = 5;
		rlen = sizeof(rbuf);
		if ((rc = xmit(card, cmd, cmdlen, rbuf, &rlen)) != HSM_OK)
			goto out;
		s = (uint16_t)((rbuf[rlen - 2] << 8) | rbuf[rlen - 1]);
	}
done:
	*sw = s;
	if (outlen != NULL)
		*outlen = used;
out:
	secure_wipe(cmd, sizeof(cmd));
	secure_wipe(rbuf, sizeof(rbuf));
	if (rc != HSM_OK && out != NULL && used > 0)
		secure_wipe(out, used);
	pcsc_end(card);
	return rc;
}
