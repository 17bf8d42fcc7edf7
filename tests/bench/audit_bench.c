/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * audit_bench.c - how fast evlog_verify checks signed records, on one thread
 * and on every core (opts.jobs), compared with OpenSSL's own ECDSA P-384
 * verify loop run on as many threads in the same run, and whether its
 * memory stays flat as the log grows.
 *
 * Usage: audit_bench [RECORDS]   (default 20000; the target size is 100000)
 *        AUDIT_BENCH_ROUNDS=R    rounds (default 3); each round runs the
 *                                reference and the subject back to back, and
 *                                the ratios printed are the rounds' medians,
 *                                so that machine noise cancels
 *        AUDIT_BENCH_KEEP=1 audit_bench N   keeps the logs (for profiling
 *        audit_bench --verify DIR/big.log [JOBS])
 *
 * The log holds one admin-signed record per line (command.signed: an ECDSA
 * P-384 signature over a distinct admin command each), so verifying it costs
 * one P-384 verify per record plus our parsing, canonical-form check and
 * hashing. The signatures are made in parallel up front (they do not depend on
 * the chain); the records are then appended in order.
 * One thread: rates per CPU second (a busy machine does not skew them). All
 * cores: rates per wall second, the subject (verify with jobs = online cores)
 * between two runs of OpenSSL's loop on that many threads. Peak RSS (VmHWM)
 * is measured in a freshly exec'ed child per run, for a log of a tenth of
 * the size and for the whole log, on one thread and on all cores.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evverify.h"

#define THREADS 2

struct job {
	EVP_PKEY   *key;
	json_t    **bodies;
	char      **sigs;
	long        from, to;
	int         failed;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: rates measured in CPU time do not depend on
 * what else the machine is doing (CI runs tests in parallel). */
static double
cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak resident memory of this process image (VmHWM, KiB). Unlike
 * ru_maxrss it does not include the parent's pages from before exec. */
static long
hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void *
sign_range(void *arg)
{
	struct job *j = arg;
	long i;

	for (i = j->from; i < j->to; i++) {
		char *canon = NULL;
		size_t clen = 0, siglen = 0;
		uint8_t *sig = NULL;

		if (cjson_dump(j->bodies[i], &canon, &clen) != HSM_OK ||
		    crypto_ecdsa_sign(j->key, canon, clen, &sig, &siglen) != HSM_OK ||
		    b64_encode(sig, siglen, &j->sigs[i]) != HSM_OK)
			j->failed = 1;
		free(canon);
		free(sig);
		if (j->failed)
			break;
	}
	return NULL;
}

static int
die(const char *what)
{
	fprintf(stderr, "audit_bench: %s: %s\n", what, hsm_errmsg());
	return 1;
}

/* Write a log of n records: ceremony.open, roster, then n-2 command.signed. */
static int
make_log(const char *path, long n, EVP_PKEY *key)
{
	struct evlog_open_opts o;
	evlog *log = NULL;
	json_t *actor = json_pack("{s:s, s:s}", "name", "Alice Example", "role", "admin");
	json_t **bodies = NULL, *roster = NULL;
	char **sigs = NULL, skihex[65], *pub = NULL;
	uint8_t ski[32], *pt = NULL;
	size_t ptlen = 0;
	long i, m = n - 2;
	pthread_t th[THREADS];
	struct job jobs[THREADS];
	int rc = 1, t;
	double t0;

	memset(&o, 0, sizeof(o));
	o.sync = EVLOG_SYNC_NONE;
	o.must_create = 1;
	o.actor = actor;
	if (crypto_ski(key, ski) != HSM_OK || crypto_ec_point(key, &pt, &ptlen) != HSM_OK ||
	    hex_encode(pt, ptlen, &pub) != HSM_OK)
		return die("key");
	hex_encode_buf(ski, 32, skihex);
	bodies = calloc((size_t)m, sizeof(*bodies));
	sigs = calloc((size_t)m, sizeof(*sigs));
	if (bodies == NULL || sigs == NULL)
		goto out;
	t0 = now();
	for (i = 0; i < m; i++) {
		admincmd_target tg = { "DC1-M01", (unsigned)(i % 85), (uint64_t)i };
		admincmd *cmd = NULL;
		/* a window the command format accepts (at most 7 days and an hour) */
		if (admincmd_new(ADMINCMD_OP_MK_ACTIVATE, NULL, &tg, 1, 1700000000,
		    1700000000 + 7 * 86400, &cmd) != HSM_OK) {
			die("admincmd_new");
			goto out;
		}
		bodies[i] = json_deep_copy(admincmd_body(cmd));
		admincmd_free(&cmd);
	}
	for (t = 0; t < THREADS; t++) {
		jobs[t] = (struct job){ key, bodies, sigs, m * t / THREADS, m * (t + 1) / THREADS, 0 };
		if (pthread_create(&th[t], NULL, sign_range, &jobs[t]) != 0)
			goto out;
	}
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (t = 0; t < THREADS; t++)
		if (jobs[t].failed) {
			die("signing");
			goto out;
		}
	if (evlog_open(path, &o, &log) != HSM_OK) {
		die("evlog_open");
		goto out;
	}
	roster = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "members", "name", "Alice Example",
	    "role", "admin", "ski", skihex, "pubkey", pub);
	if (evlog_append(log, EV_ROSTER, actor, roster, NULL) != HSM_OK) {
		die("roster");
		goto out;
	}
	for (i = 0; i < m; i++) {
		uint8_t dg[32];
		char dghex[65];
		json_t *b;
		hsm_rc r;

		if (cjson_digest(bodies[i], dg) != HSM_OK) {
			die("digest");
			goto out;
		}
		hex_encode_buf(dg, 32, dghex);
		b = json_pack("{s:O, s:s, s:s, s:s}", "command_body", bodies[i], "digest", dghex,
		    "ski", skihex, "signature", sigs[i]);
		r = evlog_append(log, EV_COMMAND_SIGNED, actor, b, NULL);
		json_decref(b);
		if (r != HSM_OK) {
			die("append");
			goto out;
		}
	}
	printf("generated %ld records in %.1f s (%d signing threads)\n", n, now() - t0, THREADS);
	rc = 0;
out:
	evlog_close(&log);
	for (i = 0; bodies != NULL && i < m; i++)
		json_decref(bodies[i]);
	for (i = 0; sigs != NULL && i < m; i++)
		free(sigs[i]);
	free(bodies);
	free(sigs);
	free(pub);
	free(pt);
	json_decref(roster);
	json_decref(actor);
	return rc;
}

/* The first n lines of src into dst. */
static int
prefix(const char *src, const char *dst, long n)
{
	FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
	int c;
	long lines = 0;

	if (in == NULL || out == NULL)
		return -1;
	while (lines < n && (c = getc(in)) != EOF) {
		putc(c, out);
		if (c == '\n')
			lines++;
	}
	fclose(in);
	return fclose(out) == 0 ? 0 : -1;
}

/* The verify run itself, in a freshly exec'ed process so that its peak memory
 * is its own and not the generator's: prints "cpu-secs records hwm-kib". */
static int
verify_main(const char *path, int jobs, const char *ca)
{
	struct evlog_verify_opts o;
	evlog_verify_result res;
	double t0, w0, secs, wall;
	hsm_rc rc;

	memset(&o, 0, sizeof(o));
	o.allow_incomplete = 1;
	o.jobs = jobs;
	if (ca != NULL) {
		o.module_ca_files = &ca;
		o.n_module_ca = 1;
	}
	t0 = cpu();
	w0 = now();
	rc = evlog_verify(path, &o, &res);
	secs = cpu() - t0;
	wall = now() - w0;
	if (rc != HSM_OK)
		fprintf(stderr, "verify: %s\n", hsm_errmsg());
	else
		printf("%.6f %.6f %lld %ld %lld %lld\n", secs, wall, res.records, hwm_kb(),
		       res.key_imports, res.chain_checks);
	/* what the verifier decoded: keys and certificate chains are each
	 * done once per run, not once per record */
	fprintf(stderr, "audit_bench: %lld records: %lld public-key imports, %lld "
	    "certificate-chain verifications\n", res.records, res.key_imports,
	    res.chain_checks);
	evlog_verify_result_clear(&res);
	return rc == HSM_OK ? 0 : 1;
}

/* Verify in a child with jobs threads; *secs = its verify CPU time, *wall its
 * wall time, *rss_kb = its peak RSS. */
/* what one verify run decoded: public keys imported, chains verified */
static long long last_imports, last_chains;

static int verify_child_ca(const char *self, const char *path, int jobs, const char *ca,
                           double *secs, double *wall, long *rss_kb, long long *records);

static int
verify_child(const char *self, const char *path, int jobs, double *secs, double *wall,
             long *rss_kb, long long *records)
{
	return verify_child_ca(self, path, jobs, NULL, secs, wall, rss_kb, records);
}

static int
verify_child_ca(const char *self, const char *path, int jobs, const char *ca, double *secs,
                double *wall, long *rss_kb, long long *records)
{
	int pfd[2], status = 0;
	pid_t pid;
	char buf[160], jb[16];
	ssize_t got;

	if (pipe(pfd) != 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		close(pfd[0]);
		if (dup2(pfd[1], 1) < 0)
			_exit(2);
		snprintf(jb, sizeof(jb), "%d", jobs);
		execl(self, self, "--verify", path, jb, ca, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	got = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || got <= 0)
		return -1;
	buf[got] = '\0';
	if (sscanf(buf, "%lf %lf %lld %ld %lld %lld", secs, wall, records, rss_kb, &last_imports,
	    &last_chains) != 6)
		return -1;
	return 0;
}

/* OpenSSL's own loop: EVP_DigestVerify of one signature over a command-sized
 * message, for about secs seconds of the clock given (CPU time of this
 * thread, or wall time). */
struct oloop {
	EVP_PKEY *key;
	double    secs;
	int       wall;
	long      n;
	double    el;
};

static double
thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
openssl_loop(void *arg)
{
	struct oloop *l = arg;
	uint8_t msg[320], *sig = NULL;
	size_t siglen = 0;
	double t0;

	memset(msg, 'x', sizeof(msg));
	l->n = 0;
	if (crypto_ecdsa_sign(l->key, msg, sizeof(msg), &sig, &siglen) != HSM_OK)
		return NULL;
	t0 = l->wall ? now() : thread_cpu();
	do {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		int ok = ctx != NULL &&
		    EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, l->key) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen, msg, sizeof(msg)) == 1;
		EVP_MD_CTX_free(ctx);
		if (!ok) {
			l->n = 0;
			break;
		}
		l->n++;
		l->el = (l->wall ? now() : thread_cpu()) - t0;
	} while (l->el < l->secs);
	free(sig);
	return NULL;
}

/* Verifies per second: threads == 1 per CPU second, else per wall second of
 * `threads` loops side by side. */
static double
openssl_rate(EVP_PKEY *key, int threads, double secs)
{
	struct oloop l[64];
	pthread_t th[64];
	double w0 = now(), total = 0;
	int t;

	if (threads == 1) {
		l[0] = (struct oloop){ key, secs, 0, 0, 0 };
		openssl_loop(&l[0]);
		return l[0].el > 0 ? (double)l[0].n / l[0].el : 0;
	}
	for (t = 0; t < threads && t < 64; t++) {
		l[t] = (struct oloop){ key, secs, 1, 0, 0 };
		if (pthread_create(&th[t], NULL, openssl_loop, &l[t]) != 0)
			return 0;
	}
	for (t = 0; t < threads && t < 64; t++) {
		pthread_join(th[t], NULL);
		total += (double)l[t].n;
	}
	return total / (now() - w0);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One round: OpenSSL's loop on `threads` threads, the subject on as many,
 * OpenSSL again; the subject's rate over the mean of the two. On several
 * threads the rates are per wall second, so the two OpenSSL runs together
 * last as long as the subject did in the round before (*dur): both see the
 * same share of a busy machine. */
static int
round_ratio(const char *self, const char *path, EVP_PKEY *key, int threads, double *dur,
            double *ratio, double *ossl, double *rate, long *rss_kb, long long *recs)
{
	double a, b, secs = 0, wall = 0, ref = threads == 1 || *dur < 2 ? 1.0 : *dur / 2;

	a = openssl_rate(key, threads, ref);
	if (verify_child(self, path, threads, &secs, &wall, rss_kb, recs) != 0)
		return -1;
	*dur = wall;
	b = openssl_rate(key, threads, ref);
	*ossl = (a + b) / 2;
	*rate = (double)*recs / (threads == 1 ? secs : wall);
	*ratio = *ossl > 0 ? *rate / *ossl : 0;
	return 0;
}

/* ---- a real ceremony's log against the synthetic records ---- */

/* Every distinct value of member `key` anywhere in v, collected in set. */
static void
distinct(const json_t *v, const char *key, json_t *set)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e) {
			if (strcmp(k, key) == 0 && json_is_string(e))
				json_object_set_new(set, json_string_value(e), json_true());
			else
				distinct(e, key, set);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			distinct(e, key, set);
	}
}

/* Distinct public keys (admins, roster) and OA certificates in the log. */
static int
count_distinct(const char *path, long *keys, long *certs)
{
	json_t *ks = json_object(), *cs = json_object(), *rec;
	json_error_t je;
	char line[1 << 16];
	FILE *f = fopen(path, "r");

	if (f == NULL || ks == NULL || cs == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if ((rec = json_loads(line, 0, &je)) != NULL) {
			distinct(rec, "pubkey", ks);
			distinct(rec, "oa_cert", cs);
			json_decref(rec);
		}
	fclose(f);
	*keys = (long)json_object_size(ks);
	*certs = (long)json_object_size(cs);
	json_decref(ks);
	json_decref(cs);
	return 0;
}

/* audit_bench --demo LOG CA: the check on a real ceremony's log:
 * public-key imports and chain verifications equal the distinct keys and
 * certificates, and its CPU per record is at most 1.5x a synthetic record's,
 * both measured here in alternating rounds (medians). */
static int
demo_main(const char *log, const char *ca)
{
	char dir[] = "/tmp/audit_demo.XXXXXX", synth[64], self[4096], cmd[128];
	double dc[5], sc[5], x, w;
	long rss, keys = 0, certs = 0;
	long long dn = 0, sn = 0, imports = 0, chains = 0;
	EVP_PKEY *key = NULL;
	ssize_t sl;
	int i, rc = 1;

	if ((sl = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0 || mkdtemp(dir) == NULL)
		return 1;
	self[sl] = '\0';
	snprintf(synth, sizeof(synth), "%s/synthetic.log", dir);
	if (crypto_ec_generate(HSM_CURVE_P384, &key) != HSM_OK || make_log(synth, 2000, key) != 0 ||
	    count_distinct(log, &keys, &certs) != 0)
		goto out;
	for (i = 0; i < 5; i++) {
		if (verify_child_ca(self, log, 1, ca, &x, &w, &rss, &dn) != 0)
			goto out;
		imports = last_imports;
		chains = last_chains;
		if (verify_child(self, synth, 1, &sc[i], &w, &rss, &sn) != 0)
			goto out;
		dc[i] = x / (double)dn;
		sc[i] /= (double)sn;
	}
	x = median(dc, 5) / median(sc, 5);
	/* keys the log names but no check needs (a witness's) are never decoded */
	printf("demo log: %lld records; %lld public-key imports, %ld distinct keys in the log "
	    "(%s); %lld chain verifications, %ld distinct OA certificates (%s)\n", dn, imports,
	    keys, imports <= keys ? "none decoded twice" : "a key decoded MORE than once",
	    chains, certs, chains == certs ? "each once" : "NOT once each");
	printf("CPU per record: demo %.0f us, synthetic %.0f us, ratio %.2f (target <= 1.5: %s)\n",
	    median(dc, 5) * 1e6, median(sc, 5) * 1e6, x, x <= 1.5 ? "met" : "NOT met");
	/* fail on what no busy machine explains: a key or chain done twice */
	rc = imports <= keys && chains <= certs ? 0 : 1;
out:
	EVP_PKEY_free(key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "audit_bench: could not remove %s\n", dir);
	return rc;
}

int
main(int argc, char **argv)
{
	long n, rs1 = 0, rb1 = 0, rsn = 0, rbn = 0;
	char dir[256], big[300], small[300], cmd[400], self[4096];
	const char *tmp = getenv("TMPDIR"), *re = getenv("AUDIT_BENCH_ROUNDS");
	EVP_PKEY *key = NULL;
	double r1[16], rn[16], o1[16], on[16], v1[16], vn[16], x, y, d1 = 0, dn = 0;
	long long recs = 0, srecs = 0;
	int rounds = re ? atoi(re) : 3, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN), i, rc = 1;
	ssize_t sl;

	if (argc >= 3 && argc <= 5 && strcmp(argv[1], "--verify") == 0)
		return verify_main(argv[2], argc >= 4 ? atoi(argv[3]) : 1, argc == 5 ? argv[4] : NULL);
	if (argc == 4 && strcmp(argv[1], "--demo") == 0)
		return demo_main(argv[2], argv[3]);
	n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	if ((sl = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return 1;
	self[sl] = '\0';
	if (n < 1000 || n > 10000000) {
		fprintf(stderr, "usage: audit_bench [RECORDS >= 1000]\n");
		return 2;
	}
	rounds = rounds < 1 ? 1 : rounds > 16 ? 16 : rounds;
	ncpu = ncpu < 1 ? 1 : ncpu > 64 ? 64 : ncpu;
	snprintf(dir, sizeof(dir), "%s/audit_bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(big, sizeof(big), "%s/big.log", dir);
	snprintf(small, sizeof(small), "%s/small.log", dir);
	if (crypto_ec_generate(HSM_CURVE_P384, &key) != HSM_OK || make_log(big, n, key) != 0 ||
	    prefix(big, small, n / 10) != 0)
		goto out;
	/* peak memory of a tenth of the log and of the whole, each thread count;
	 * the small run on all cores also times the first round's reference */
	if (verify_child(self, small, 1, &x, &y, &rs1, &srecs) != 0 ||
	    verify_child(self, small, ncpu, &x, &dn, &rsn, &srecs) != 0)
		goto fail;
	dn *= 10;
	/* rounds of reference, subject, reference: one thread, then all cores */
	for (i = 0; i < rounds; i++)
		if (round_ratio(self, big, key, 1, &d1, &r1[i], &o1[i], &v1[i], &rb1, &recs) != 0 ||
		    round_ratio(self, big, key, ncpu, &dn, &rn[i], &on[i], &vn[i], &rbn, &recs) != 0)
			goto fail;
	x = median(r1, rounds);
	y = median(rn, rounds);
	printf("%lld signed records, %d round(s), medians:\n", recs, rounds);
	printf("one thread:  OpenSSL P-384 verify %8.0f /CPU-s, evlog_verify %8.0f records/CPU-s, "
	    "ratio %.2f (target >= 0.90: %s)\n", median(o1, rounds), median(v1, rounds), x,
	    x >= 0.9 ? "met" : "NOT met");
	printf("%2d threads:  OpenSSL P-384 verify %8.0f /s,     evlog_verify %8.0f records/s,     "
	    "ratio %.2f (target >= 0.90: %s)\n", ncpu, median(on, rounds), median(vn, rounds), y,
	    y >= 0.9 ? "met" : "NOT met");
	printf("peak RSS, one thread: %7lld records %8ld KiB, %7lld records %8ld KiB (%+ld KiB)\n",
	    srecs, rs1, recs, rb1, rb1 - rs1);
	printf("peak RSS, %2d threads: %7lld records %8ld KiB, %7lld records %8ld KiB (%+ld KiB)\n",
	    ncpu, srecs, rsn, recs, rbn, rbn - rsn);
	/* Fail only on what no busy machine explains: memory that grows with the
	 * log, or a rate far below the target. */
	if (rb1 > rs1 + 4096 || rbn > rsn + 4096) {
		fprintf(stderr, "audit_bench: memory grows with the log size\n");
		goto out;
	}
	if (x < 0.5) {
		fprintf(stderr, "audit_bench: verification is far slower than OpenSSL\n");
		goto out;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "audit_bench: verification failed\n");
out:
	EVP_PKEY_free(key);
	if (getenv("AUDIT_BENCH_KEEP") != NULL) {
		/* for profiling: audit_bench --verify DIR/big.log [JOBS] */
		printf("logs kept in %s\n", dir);
		return rc;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "audit_bench: could not remove %s\n", dir);
	return rc;
}
