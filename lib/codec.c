/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * codec.c - strict hex and base64.
 *
 * Decoders accept exactly one spelling per byte string: hashes, SKIs and
 * signatures are compared and signed as text, so two spellings of the same
 * bytes would let the same value look different (or a changed value look
 * the same) to a person or a canonical-JSON digest.
 */
#include <stdlib.h>
#include <string.h>

#include "hsmadm/codec.h"

static const char hex_digits[] = "0123456789abcdef";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of a lowercase hex digit, or -1. */
static int
hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Value of a standard base64 character, or -1 (also for '=', '-', '_'). */
static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Name a bad character without echoing control bytes to a terminal. */
static void
char_name(unsigned char c, char buf[16])
{
	if (c >= 0x21 && c <= 0x7e)
		buf[0] = '\'', buf[1] = (char)c, buf[2] = '\'', buf[3] = '\0';
	else if (c == ' ')
		strcpy(buf, "a space");
	else if (c == '\n' || c == '\r' || c == '\t')
		strcpy(buf, "whitespace");
	else
		buf[0] = '0', buf[1] = 'x', buf[2] = hex_digits[c >> 4],
		buf[3] = hex_digits[c & 15], buf[4] = '\0';
}

void
hex_encode_buf(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

hsm_rc
hex_encode(const uint8_t *in, size_t n, char **out)
{
	char *s;

	*out = NULL;
	if (n > (SIZE_MAX - 1) / 2)
		return hsm_fail(HSM_ERR_NOMEM, "hex: input of %zu bytes is too large", n);
	if ((s = malloc(2 * n + 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "hex: out of memory encoding %zu bytes", n);
	hex_encode_buf(in, n, s);
	*out = s;
	return HSM_OK;
}

/* Check and decode len characters of in into out (len/2 bytes). quiet: the
 * input may be a secret (the *_into variant), so messages give the position
 * and kind of a bad character but never the character itself. */
static hsm_rc
hex_decode_raw(const char *in, size_t len, uint8_t *out, int quiet)
{
	char name[16];

	/* Name a bad character before complaining about the length: "uppercase
	 * digit" tells the user more than "odd number of digits". */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (hex_val(c) >= 0)
			continue;
		if (quiet)
			strcpy(name, "a character");
		else
			char_name(c, name);
		if (c >= 'A' && c <= 'F')
			return hsm_fail(HSM_ERR_FORMAT,
			    "hex: uppercase digit%s%s at position %zu; only lowercase "
			    "hex (0-9, a-f) is accepted", quiet ? "" : " ",
			    quiet ? "" : name, i);
		return hsm_fail(HSM_ERR_FORMAT,
		    "hex: %s at position %zu is not a hex digit (0-9, a-f)", name, i);
	}
	if (len % 2 != 0)
		return hsm_fail(HSM_ERR_FORMAT,
		    "hex: odd number of digits (%zu); each byte needs two", len);
	for (size_t i = 0; i < len / 2; i++)
		out[i] = (uint8_t)(hex_val((unsigned char)in[2 * i]) << 4 |
		    hex_val((unsigned char)in[2 * i + 1]));
	return HSM_OK;
}

hsm_rc
hex_decode(const char *in, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t len;
	hsm_rc rc;

	*out = NULL;
	*outlen = 0;
	if (in == NULL)
		return hsm_fail(HSM_ERR_USAGE, "hex: no input");
	len = strlen(in);
	/* malloc(0) may return NULL; always ask for at least one byte. */
	if ((buf = malloc(len / 2 + 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "hex: out of memory decoding %zu digits", len);
	if ((rc = hex_decode_raw(in, len, buf, 0)) != HSM_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len / 2;
	return HSM_OK;
}

hsm_rc
hex_decode_into(const char *in, uint8_t *out, size_t want)
{
	size_t len;

	if (in == NULL)
		return hsm_fail(HSM_ERR_USAGE, "hex: no input");
	len = strlen(in);
	if (len % 2 == 0 && len != 2 * want)
		return hsm_fail(HSM_ERR_FORMAT,
		    "hex: expected %zu bytes (%zu digits), got %zu digits",
		    want, 2 * want, len);
	/* hex_decode_raw checks every digit before writing, so a bad string
	 * never leaves half a value in the caller's buffer. */
	return hex_decode_raw(in, len, out, 1);
}

hsm_rc
b64_encode(const uint8_t *in, size_t n, char **out)
{
	size_t olen, i, j = 0;
	char *s;

	*out = NULL;
	if (n > (SIZE_MAX / 4) * 3 - 3)
		return hsm_fail(HSM_ERR_NOMEM, "base64: input of %zu bytes is too large", n);
	olen = (n + 2) / 3 * 4;
	if ((s = malloc(olen + 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "base64: out of memory encoding %zu bytes", n);
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		s[j++] = b64_alphabet[v >> 18];
		s[j++] = b64_alphabet[(v >> 12) & 63];
		s[j++] = b64_alphabet[(v >> 6) & 63];
		s[j++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		s[j++] = b64_alphabet[v >> 18];
		s[j++] = b64_alphabet[(v >> 12) & 63];
		s[j++] = '=';
		s[j++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		s[j++] = b64_alphabet[v >> 18];
		s[j++] = b64_alphabet[(v >> 12) & 63];
		s[j++] = b64_alphabet[(v >> 6) & 63];
		s[j++] = '=';
	}
	s[j] = '\0';
	*out = s;
	return HSM_OK;
}

hsm_rc
b64_decode(const char *in, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t len, pad = 0, nbytes, j = 0;
	char name[16];

	*out = NULL;
	*outlen = 0;
	if (in == NULL)
		return hsm_fail(HSM_ERR_USAGE, "base64: no input");
	len = strlen(in);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '=' || b64_val(c) >= 0)
			continue;
		char_name(c, name);
		if (c == '-' || c == '_')
			return hsm_fail(HSM_ERR_FORMAT,
			    "base64: %s at position %zu is from the URL-safe alphabet; "
			    "use standard base64 ('+' and '/')", name, i);
		return hsm_fail(HSM_ERR_FORMAT,
		    "base64: %s at position %zu is not a base64 character", name, i);
	}
	if (len % 4 != 0)
		return hsm_fail(HSM_ERR_FORMAT,
		    "base64: length %zu is not a multiple of 4; padding '=' is missing "
		    "or there is extra text", len);
	if (len > 0 && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (in[i] == '=')
			return hsm_fail(HSM_ERR_FORMAT,
			    "base64: padding '=' at position %zu is not at the end, or "
			    "there is too much of it (at most two)", i);
	/* The bits the padding hides must be zero, or two strings would decode
	 * to the same bytes. */
	if (pad == 1 && (b64_val((unsigned char)in[len - 2]) & 0x03) != 0)
		return hsm_fail(HSM_ERR_FORMAT,
		    "base64: non-zero bits before the padding at position %zu; "
		    "the encoding is not canonical", len - 2);
	if (pad == 2 && (b64_val((unsigned char)in[len - 3]) & 0x0f) != 0)
		return hsm_fail(HSM_ERR_FORMAT,
		    "base64: non-zero bits before the padding at position %zu; "
		    "the encoding is not canonical", len - 3);
	nbytes = len / 4 * 3 - pad;
	if ((buf = malloc(nbytes + 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "base64: out of memory decoding %zu characters",
		    len);
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = 0;
		for (size_t k = 0; k < 4; k++) {
			int d = b64_val((unsigned char)in[i + k]);
			v = v << 6 | (uint32_t)(d < 0 ? 0 : d);
		}
		if (j < nbytes)
			buf[j++] = (uint8_t)(v >> 16);
		if (j < nbytes)
			buf[j++] = (uint8_t)(v >> 8);
		if (j < nbytes)
			buf[j++] = (uint8_t)v;
	}
	*out = buf;
	*outlen = nbytes;
	return HSM_OK;
}
