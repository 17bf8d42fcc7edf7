/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * codec.h - hex and base64 with strict decoding.
 * Hex: lowercase only on output; decoding accepts lowercase only (uppercase,
 * odd length, whitespace or any other character is HSM_ERR_FORMAT).
 * Base64: RFC 4648 standard alphabet with '=' padding; decoding refuses
 * missing or extra padding, non-zero pad bits, whitespace and the URL alphabet,
 * so every byte string has exactly one accepted encoding.
 * Encoders return malloc'ed NUL-terminated strings (free with free()).
 * Decoders return malloc'ed bytes (free with free(); not for secrets: decode
 * secrets with the *_into variants into a secbuf).
 */
#ifndef HSMADM_CODEC_H
#define HSMADM_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

hsm_rc hex_encode(const uint8_t *in, size_t n, char **out);
/* Writes 2n+1 bytes (with NUL) into out, which must be big enough. */
void   hex_encode_buf(const uint8_t *in, size_t n, char *out);
hsm_rc hex_decode(const char *in, uint8_t **out, size_t *outlen);
/* Decode into a caller buffer of exactly want bytes (len(in) must be 2*want). */
hsm_rc hex_decode_into(const char *in, uint8_t *out, size_t want);

hsm_rc b64_encode(const uint8_t *in, size_t n, char **out);
hsm_rc b64_decode(const char *in, uint8_t **out, size_t *outlen);

#endif
