/* SPDX-License-Identifier: BSD-2-Clause */
/* test_words.c - the PGP word list against its published examples. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/words.h"

/* Hex string (with optional spaces) to bytes; test helper only. */
static size_t
unhex(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s != '\0') {
		unsigned v;
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static void
check(const char *hex, const char *want)
{
	uint8_t b[64];
	size_t n = unhex(hex, b);
	char *w = NULL;

	assert_int_equal(words_encode(b, n, &w), HSM_OK);
	assert_string_equal(w, want);
	free(w);
}

static void
test_corner_words(void **state)
{
	(void)state;
	assert_string_equal(words_word(0x00, 0), "aardvark");
	assert_string_equal(words_word(0x00, 1), "adroitness");
	assert_string_equal(words_word(0xff, 0), "Zulu");
	assert_string_equal(words_word(0xff, 1), "Yucatan");
	assert_string_equal(words_word(0x9e, 2), "quiver");
	assert_string_equal(words_word(0x9e, 3), "onlooker");
	assert_string_equal(words_word(0x80, 0), "merit");
	assert_string_equal(words_word(0x7f, 1), "integrate");
}

static void
test_published_examples(void **state)
{
	(void)state;
	/* The example in the PGP word list description. */
	check("E582 94F2 E9A2 2748 6E8B 061B 31CC 528F D7FA 3F19",
	    "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator "
	    "goldfish Medusa afflict bravado chatter revolver Dupont midsummer "
	    "stopwatch whimsical cowbell bottomless");
	/* Two further published fingerprint examples, from other implementations. */
	check("d1c2 25e4 26c6 33dd 94d1 a7e8 c3f4 08aa 9b34 2488",
	    "stairway repellent bombast tradition bookshelf responsive chisel "
	    "tambourine Pluto scavenger repay typewriter snowcap Virginia aimless "
	    "pedigree puppy confidence bluebird maritime");
	check("4155 9711 308F 2A21 B9D5 072D 6219 58AF CB50 B5F9",
	    "cranky equipment preshrunk Babylon chairlift midsummer brickyard "
	    "Camelot sentence specialist ahead clergyman flagpole bottomless "
	    "endorse pharmacy spheroid embezzle scorecard Waterloo");
}

/* Every word is distinct within and across the lists, so any word read
 * aloud names one byte and one parity. */
static void
test_lists_distinct(void **state)
{
	(void)state;
	for (int a = 0; a < 512; a++) {
		const char *wa = words_word((uint8_t)(a & 0xff), (size_t)(a >> 8));
		assert_true(strlen(wa) >= 4 && strlen(wa) <= 11);
		for (int b = a + 1; b < 512; b++)
			assert_string_not_equal(wa,
			    words_word((uint8_t)(b & 0xff), (size_t)(b >> 8)));
	}
}

static void
test_empty_and_single(void **state)
{
	char *w = NULL;

	(void)state;
	assert_int_equal(words_encode((const uint8_t *)"", 0, &w), HSM_OK);
	assert_string_equal(w, "");
	free(w);
	assert_int_equal(words_encode((const uint8_t *)"\x01", 1, &w), HSM_OK);
	assert_string_equal(w, "absurd");
	free(w);
	assert_int_equal(words_encode(NULL, 3, &w), HSM_ERR_USAGE);
	assert_null(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corner_words),
		cmocka_unit_test(test_published_examples),
		cmocka_unit_test(test_lists_distinct),
		cmocka_unit_test(test_empty_and_single),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
