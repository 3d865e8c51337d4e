/*
 * fuzz_repl_frame.c — libFuzzer target for the replication frame decoders,
 * which read bytes from the network.
 *
 * Input: a frame.  Each decoder runs on it twice: as it is (it must be
 * rejected unless its MAC is right, which random bytes never are), and
 * re-signed with the test key so the body parser itself is reached.  A
 * batch that decodes is walked record by record.
 *
 * Build and run: make fuzz (FUZZ_SECONDS each).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repl.h"

static repl_key key;
static int key_ready;

static void decode_all(const uint8_t *f, size_t n)
{
	repl_pull pull;
	repl_batch b;
	repl_error e;
	repl_rec rec;
	uint8_t type;

	(void)repl_frame_peek(f, n, &type);
	(void)repl_pull_decode(f, n, &key, &pull);
	(void)repl_error_decode(f, n, &key, &e);
	if (repl_batch_decode(f, n, &key, &b) == GT_OK) {
		uint32_t k = 0;
		while (repl_batch_next(&b, &rec))
			k++;
		if (k != b.info.count)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t kb[] = "meridian-fuzz-cluster-key";
	uint8_t *f;
	unsigned mdlen = 0;

	if (!key_ready) {
		if (repl_key_init(&key, kb, sizeof(kb) - 1) != GT_OK)
			abort();
		key_ready = 1;
	}
	decode_all(data, size);
	if (size < REPL_FRAME_OVERHEAD || size > REPL_FRAME_MAX)
		return 0;
	/* Re-sign: fix the length field and the MAC so the body is parsed. */
	f = malloc(size);
	if (f == NULL)
		return 0;
	memcpy(f, data, size);
	memcpy(f, REPL_FRAME_MAGIC, 4);
	f[4] = REPL_FRAME_VERSION;
	{
		uint32_t body = (uint32_t)(size - REPL_FRAME_OVERHEAD);
		f[8] = (uint8_t)(body >> 24);
		f[9] = (uint8_t)(body >> 16);
		f[10] = (uint8_t)(body >> 8);
		f[11] = (uint8_t)body;
	}
	HMAC(EVP_sha256(), kb, (int)(sizeof(kb) - 1), f,
	    size - REPL_FRAME_MAC_LEN, f + size - REPL_FRAME_MAC_LEN, &mdlen);
	decode_all(f, size);
	free(f);
	return 0;
}
