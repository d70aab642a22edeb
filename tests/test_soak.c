/*
 * A soak run of the device loop: one photo of a stranger repeated as a long
 * stream through `visid run`, with a member enrolled. After warm-up the
 * resident memory must stay flat (growth under 1 MiB) and the state
 * directory must not grow or gain files. $VISID_SOAK_FRAMES sets the length
 * (default 1000, about 30 s on two cores; docs/HARDENING.md records a
 * 100,000-frame run).
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hardening.h"

#define STRANGER "identity/dlib_johns/john_salley/000179_02159509.jpg"
#define MEMBER "identity/face_recognition/barack_obama/"
#define MAX_SAMPLES 100000
#define MAX_FILES 32

struct dir_state {
	int n;
	char names[MAX_FILES][64];
	long long sizes[MAX_FILES];
};

static void snapshot(const char *dir, struct dir_state *s)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[600];
	struct stat st;

	s->n = 0;
	while (d && (e = readdir(d)) && s->n < MAX_FILES) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		snprintf(s->names[s->n], sizeof(s->names[0]), "%.63s", e->d_name);
		s->sizes[s->n++] = stat(path, &st) ? -1 : (long long)st.st_size;
	}
	if (d)
		closedir(d);
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static const char *soak_skip(void)
{
	if (access(hard_visid_bin(), X_OK))
		return "the visid binary is not built ($VISID_BIN or build/visid)";
	if (!visid_test_have_shared("data/faces/" STRANGER))
		return "../shared/data/faces is absent";
#ifdef __SANITIZE_ADDRESS__
	/* make check SANITIZE=1 builds the program the same way. */
	return "built with AddressSanitizer, whose quarantine makes RSS grow by design";
#else
	return NULL;
#endif
}

static long median_of(long *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			long t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? v[n / 2] : -1;
}

static void test_rss_flat_and_state_unchanged(void)
{
	static long samples[MAX_SAMPLES];
	const char *dir = hard_open_tmpdir(), *env = getenv("VISID_SOAK_FRAMES");
	long frames = env ? atol(env) : 1000, warm, end, window[64];
	char state[400], count[32], spec[600], out[450], err[450];
	const char *enroll[] = { "enroll", "--state-dir", state, "--partial", "obama",
				 hard_face(MEMBER "obama.jpg"), NULL };
	const char *argv[] = { "run", "--state-dir", state, "--no-control", "--source", spec,
			       "--repeat", count, "--stats", NULL };
	struct timespec tick = { 0, 200 * 1000 * 1000 };
	struct dir_state before, after;
	int n = 0, status, nw = 0;
	unsigned stat_frames = 0;
	struct hard_run r;
	char *text, *line;
	pid_t pid;

	VT_CHECK(dir != NULL, "no scratch directory");
	if (!dir)
		return;
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(count, sizeof(count), "%ld", frames);
	snprintf(spec, sizeof(spec), "image:%s", hard_face(STRANGER));
	snprintf(out, sizeof(out), "%s/events", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	hard_run(&r, NULL, enroll);
	VT_CHECK(r.status == 0, "enrolling obama exited %d: %.300s", r.status, r.err);
	hard_run_free(&r);
	snapshot(state, &before);

	pid = hard_spawn(NULL, argv, out, err);
	VT_CHECK(pid > 0, "cannot start visid run");
	if (pid <= 0)
		return;
	for (;;) {
		long kib = rss_kib(pid);
		char path[64];
		FILE *f;

		/* A zombie has no VmRSS: the run is over. */
		if (kib < 0)
			break;
		if (n < MAX_SAMPLES)
			samples[n++] = kib;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (f) {
			char st = 0;

			(void)!fscanf(f, "%*d %*s %c", &st);
			fclose(f);
			if (st == 'Z')
				break;
		}
		nanosleep(&tick, NULL);
	}
	status = hard_wait(pid);
	VT_CHECK(status == 0, "visid run exited %d", status);
	text = hard_read_file(err, NULL);
	line = text ? strstr(text, "\nframe ") : NULL;
	if (line)
		sscanf(line, "\nframe %u", &stat_frames);
	VT_CHECK(stat_frames == frames, "%u frames processed, %ld given", stat_frames, frames);
	free(text);

	/* Warm-up is the first quarter; compare its end with the last tenth's peak. */
	VT_CHECK(n >= 20, "only %d RSS samples: the run was too short to judge", n);
	if (n < 20)
		return;
	for (int i = n / 4; i < n / 4 + n / 10 && nw < 64; i++)
		window[nw++] = samples[i];
	warm = median_of(window, nw);
	end = 0;
	for (int i = n - n / 10; i < n; i++)
		end = samples[i] > end ? samples[i] : end;
	VT_CHECK(end - warm < 1024, "RSS grew by %ld KiB after warm-up (%ld -> %ld KiB)",
		 end - warm, warm, end);
	printf("\n    %ld frames, %d RSS samples: %ld KiB after warm-up, %ld KiB peak at the end "
	       "(%+ld KiB)", frames, n, warm, end, end - warm);

	snapshot(state, &after);
	VT_CHECK(after.n == before.n, "the state directory had %d files, now %d", before.n,
		 after.n);
	for (int i = 0; i < after.n && i < before.n; i++)
		VT_CHECK(!strcmp(after.names[i], before.names[i]) &&
			 after.sizes[i] <= before.sizes[i],
			 "%s: %lld bytes before, %s %lld after", before.names[i], before.sizes[i],
			 after.names[i], after.sizes[i]);
}

VISID_SUITE(soak, "soak", NULL, NULL, soak_skip, VISID_TEST(test_rss_flat_and_state_unchanged))
