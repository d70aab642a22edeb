/*
 * Privacy and access, through the visid program on real photos:
 * - the state directory is 0700 and every file in it 0600, after every kind
 *   of change; a directory or file open to group or others is refused;
 * - the control socket is 0660 (its SO_PEERCRED check against other users
 *   is the control suite's test_other_user_refused);
 * - the device loop runs with core dumps disabled and is not dumpable;
 * - once the face pipeline is done with a frame, nothing of it (the
 *   converted pixels, the detector's input, the aligned face crop) is left
 *   anywhere in the process's writable memory;
 * - nothing of a stranger (the face vector the library computes for them, a
 *   row of their face's pixels) appears in events, logs or state files;
 * - the device key never appears in a debug log, raw, hex or base64.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hardening.h"
#include "align.h"
#include "frame_util.h"
#include "preprocess.h"
#include "visid/face.h"
#include "visid/gpu.h"
#include "visid/hal.h"
#include "visid/image.h"

#define OBAMA "identity/face_recognition/barack_obama/"
#define STRANGER "identity/dlib_johns/john_salley/000179_02159509.jpg"

static char base[400], state[450];

static const char *const debug_env[] = { "VISID_LOG=debug", NULL };
static const struct hard_opts debug_opts = { debug_env, (uid_t)-1, 0 };

/* Output of every run of this suite, searched by the key test. */
static char *all_output;
static size_t all_len;

static void keep_output(const struct hard_run *r)
{
	char *p = realloc(all_output, all_len + r->out_len + r->err_len + 1);

	if (!p)
		return;
	all_output = p;
	memcpy(all_output + all_len, r->out, r->out_len);
	memcpy(all_output + all_len + r->out_len, r->err, r->err_len);
	all_len += r->out_len + r->err_len;
	all_output[all_len] = 0;
}

static void keep_file(const char *path)
{
	struct hard_run r = { 0 };

	r.out = hard_read_file(path, &r.out_len);
	r.err = "";
	if (r.out)
		keep_output(&r);
	free(r.out);
}

/* Runs visid at debug level, keeping what it printed. */
static int run(const char *const *argv, struct hard_run *r)
{
	hard_run(r, &debug_opts, argv);
	keep_output(r);
	return r->status;
}

static int privacy_init(void)
{
	const char *dir = hard_open_tmpdir();
	const char *argv[] = { "enroll", "--state-dir", state, "--partial", "obama",
			       hard_face(OBAMA "obama.jpg"), hard_face(OBAMA "obama1.jpg"), NULL };
	struct hard_run r;

	if (!dir)
		return -1;
	snprintf(base, sizeof(base), "%s", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	run(argv, &r);
	hard_run_free(&r);
	return r.status ? -1 : 0;
}

static int privacy_clean(void)
{
	free(all_output);
	all_output = NULL;
	return 0;
}

static const char *privacy_skip(void)
{
	if (access(hard_visid_bin(), X_OK))
		return "the visid binary is not built ($VISID_BIN or build/visid)";
	if (!visid_test_have_shared("data/faces/" STRANGER))
		return "../shared/data/faces is absent";
	return NULL;
}

/* ---- modes ------------------------------------------------------------ */

static void check_modes(const char *when)
{
	DIR *d = opendir(state);
	struct dirent *e;
	struct stat st;
	char path[600];
	int files = 0;

	VT_CHECK(stat(state, &st) == 0 && (st.st_mode & 07777) == 0700,
		 "%s: state directory mode %04o, want 0700", when, (unsigned)(st.st_mode & 07777));
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%.100s", state, e->d_name);
		VT_CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
			 (st.st_mode & 07777) == 0600, "%s: %s has mode %04o, want a 0600 file",
			 when, e->d_name, (unsigned)(st.st_mode & 07777));
		files++;
	}
	if (d)
		closedir(d);
	VT_CHECK(files == 2, "%s: %d files in the state directory, want the key and the "
		 "database only", when, files);
}

static void test_modes_after_every_change(void)
{
	const char *enroll[] = { "enroll", "--state-dir", state, "--partial", "biden",
				 hard_face("identity/face_recognition/joe_biden/biden.jpg"), NULL };
	const char *identify[] = { "identify", "--state-dir", state,
				   hard_face(OBAMA "obama2.jpg"), NULL };
	const char *del[] = { "delete", "--state-dir", state, "biden", NULL };
	struct hard_run r;
	mode_t old = umask(0);

	/* A permissive umask must not leak into the state directory. */
	check_modes("after the first enrollment");
	run(enroll, &r);
	VT_CHECK(r.status == 0, "enroll exited %d", r.status);
	hard_run_free(&r);
	check_modes("after a second enrollment under umask 0");
	run(identify, &r);
	hard_run_free(&r);
	check_modes("after identify");
	run(del, &r);
	hard_run_free(&r);
	check_modes("after delete");
	umask(old);
}

static void expect_refused(const char *dir, const char *why)
{
	const char *list[] = { "list", "--state-dir", dir, NULL };
	struct hard_run r;

	run(list, &r);
	VT_CHECK(r.status == 1 && strstr(r.err, "refusing") && strstr(r.err, dir),
		 "%s: list exited %d: %.300s", why, r.status, r.err);
	printf("\n    %s: %.200s", why, strtok(r.err, "\n"));
	hard_run_free(&r);
}

static void test_open_state_dir_refused(void)
{
	char dir[500], cmd[1100], db[520];
	const char *list[] = { "list", "--state-dir", dir, NULL };
	struct hard_run r;

	snprintf(dir, sizeof(dir), "%s/open", base);
	snprintf(db, sizeof(db), "%s/gallery.db", dir);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", state, dir);
	VT_CHECK(system(cmd) == 0, "cannot copy the gallery");
	chmod(dir, 0755);
	expect_refused(dir, "world-readable directory");
	chmod(dir, 0750);
	expect_refused(dir, "group-readable directory");
	chmod(dir, 0700);
	chmod(db, 0644);
	expect_refused(dir, "world-readable database");
	chmod(db, 0600);
	run(list, &r);
	VT_CHECK(r.status == 0 && strstr(r.out, "obama"), "closed again, list exited %d",
		 r.status);
	hard_run_free(&r);
}

/* ---- the running daemon ----------------------------------------------- */

static int read_limits_core(pid_t pid, char *line, size_t len)
{
	char path[64];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, (int)len, f))
		if (!strncmp(line, "Max core file size", 18)) {
			found = 1;
			break;
		}
	if (f)
		fclose(f);
	return found;
}

static void test_daemon_no_core_dumps_and_socket_mode(void)
{
	char sock[520], spec[600], line[256] = "", err[520];
	const char *argv[] = { "run", "--state-dir", state, "--control", sock, "--source", spec,
			       "--repeat", "100000", NULL };
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	unsigned long soft = 1, hard = 1;
	struct stat st;
	int status, i;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/control.sock", base);
	snprintf(err, sizeof(err), "%s/daemon.err", base);
	snprintf(spec, sizeof(spec), "image:%s", hard_face(STRANGER));
	pid = hard_spawn(&debug_opts, argv, NULL, err);
	VT_CHECK(pid > 0, "cannot start visid run");
	if (pid <= 0)
		return;
	/* The socket appears once set-up (limits included) is done. */
	for (i = 0; i < 600 && access(sock, F_OK); i++)
		nanosleep(&tick, NULL);
	VT_CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0660,
		 "control socket %.300s: mode %04o, want a 0660 socket", sock,
		 (unsigned)(st.st_mode & 07777));
	VT_CHECK(read_limits_core(pid, line, sizeof(line)) &&
		 sscanf(line, "Max core file size %lu %lu", &soft, &hard) == 2 && soft == 0 &&
		 hard == 0, "the daemon may dump core: %s", line);
	printf("\n    %s", strtok(line, "\n"));
	kill(pid, SIGTERM);
	status = hard_wait(pid);
	keep_file(err);
	VT_CHECK(status == 0, "SIGTERM: visid run exited %d, want 0 (a clean stop)", status);
	VT_CHECK(access(sock, F_OK) != 0, "the control socket was left behind");
}

/*
 * Not dumpable: the kernel then gives the process's /proc files to root.
 * That says nothing of a daemon running as root, so as root the daemon
 * runs as nobody here, from a copy of the gallery that nobody owns.
 */
static int daemon_user(uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	*uid = getuid();
	*gid = getgid();
	if (*uid)
		return 0;
	pw = getpwnam("nobody");
	if (!pw)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* The real uid on the Uid: line of /proc/PID/status; -1 when unreadable. */
static long status_uid(pid_t pid)
{
	char path[64], line[256];
	long uid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %ld", &uid) == 1)
			break;
	if (f)
		fclose(f);
	return uid;
}

static void test_daemon_not_dumpable(void)
{
	char home[520], dir[540], sock[560], spec[600], err[520], cmd[2200], path[64];
	const char *argv[] = { "run", "--state-dir", dir, "--control", sock, "--source", spec,
			       "--repeat", "100000", NULL };
	struct hard_opts opt = { debug_env, (uid_t)-1, 0 };
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	struct stat st = { 0 };
	long real = -1;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int i;

	VT_CHECK(daemon_user(&uid, &gid) == 0, "no user 'nobody' to run the daemon as");
	snprintf(home, sizeof(home), "%s/daemon-home", base);
	snprintf(dir, sizeof(dir), "%s/state", home);
	snprintf(sock, sizeof(sock), "%s/control.sock", home);
	snprintf(err, sizeof(err), "%s/daemon-nobody.err", base);
	snprintf(spec, sizeof(spec), "image:%s", hard_face(STRANGER));
	snprintf(cmd, sizeof(cmd), "mkdir -m 700 %s && cp -a %s %s && chown -R %u:%u %s", home,
		 state, dir, (unsigned)uid, (unsigned)gid, home);
	VT_CHECK(system(cmd) == 0, "cannot make a gallery for uid %u in %.300s", (unsigned)uid,
		 home);
	if (uid != getuid())
		opt.uid = uid;
	pid = hard_spawn(&opt, argv, NULL, err);
	VT_CHECK(pid > 0, "cannot start visid run");
	if (pid <= 0)
		return;
	for (i = 0; i < 600 && access(sock, F_OK); i++)
		nanosleep(&tick, NULL);
	VT_CHECK(i < 600, "the daemon did not open its control socket within 60 s");

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	real = status_uid(pid);
	VT_CHECK(stat(path, &st) == 0, "cannot stat %s: %s", path, strerror(errno));
	VT_CHECK(real == (long)uid, "the daemon runs as uid %ld, want %u", real, (unsigned)uid);
	VT_CHECK(uid != 0 && st.st_uid == 0,
		 "the daemon (uid %ld) is dumpable: %s belongs to uid %u, not root", real, path,
		 (unsigned)st.st_uid);
	printf("\n    daemon uid %ld, its %s owned by uid %u", real, path, (unsigned)st.st_uid);
	kill(pid, SIGTERM);
	VT_CHECK(hard_wait(pid) == 0, "SIGTERM: visid run exited non-zero");
	keep_file(err);
}

/* ---- strangers -------------------------------------------------------- */

/* The stranger's face vector and a row of their face's pixels, from the library. */
static int stranger_traces(float vec[VISID_EMBED_DIM], uint8_t row[48])
{
	struct visid_face_options fopt = { 0 };
	struct visid_face_pipeline *pipe;
	struct visid_image img;
	struct visid_face face;
	int ret, x, y;

	fopt.backend = VISID_BACKEND_CPU;
	ret = visid_face_pipeline_create(&fopt, &pipe);
	if (ret)
		return ret;
	ret = visid_image_load(hard_face(STRANGER), &img);
	if (!ret) {
		ret = visid_face_detect(pipe, &img, &face, 1);
		ret = ret == 1 ? visid_face_embed(pipe, &img, &face, vec) : -ENOENT;
		x = (int)(face.box[0] + face.box[2]) / 2 - 8;
		y = (int)(face.box[1] + face.box[3]) / 2;
		if (!ret && x >= 0 && x + 16 <= img.width && y >= 0 && y < img.height)
			memcpy(row, img.data + (size_t)y * img.stride + (size_t)x * 3, 48);
		else if (!ret)
			ret = -ERANGE;
		visid_image_free(&img);
	}
	visid_face_pipeline_destroy(pipe);
	return ret;
}

/* Where any 16-byte run of the vector, or of the pixel row, occurs in data. */
static const char *find_trace(const char *data, size_t len, const float *vec,
			      const uint8_t *row)
{
	static char what[64];
	char text[128];

	for (int i = 0; i + 4 <= VISID_EMBED_DIM; i++)
		if (hard_memmem(data, len, vec + i, 16)) {
			snprintf(what, sizeof(what), "vector bytes at component %d", i);
			return what;
		}
	for (int i = 0; i + 16 <= 48; i += 4)
		if (hard_memmem(data, len, row + i, 16))
			return "a row of face pixels";
	/* As text, the way a JSON or debug line would print it. */
	for (int i = 0; i + 2 <= VISID_EMBED_DIM; i++) {
		snprintf(text, sizeof(text), "%.6g,%.6g", vec[i], vec[i + 1]);
		if (hard_memmem(data, len, text, strlen(text)))
			return "vector components as text";
	}
	snprintf(text, sizeof(text), "%.15g", vec[0]);
	if (hard_memmem(data, len, text, strlen(text)))
		return "the vector's first component as text";
	return NULL;
}

static int search_file(const char *path, const float *vec, const uint8_t *row, char *report,
		       size_t rlen)
{
	size_t len;
	char *data = hard_read_file(path, &len);
	const char *hit;

	if (!data)
		return 0;
	hit = data ? find_trace(data, len, vec, row) : NULL;
	if (hit)
		snprintf(report + strlen(report), rlen - strlen(report), " %s in %s;", hit, path);
	free(data);
	return 1;
}

static void test_stranger_leaves_no_trace(void)
{
	float vec[VISID_EMBED_DIM];
	uint8_t row[48];
	char spec[600], out[520], err[520], probe[520], report[2048] = "", path[700];
	const char *argv[] = { "-v", "-v", "run", "--state-dir", state, "--no-control",
			       "--source", spec, "--repeat", "60", "--frame-events", NULL };
	int ret = stranger_traces(vec, row), searched = 0;
	struct dirent *e;
	size_t len;
	char *events;
	DIR *d;
	FILE *f;

	VT_CHECK(ret == 0, "the library found no face to embed in %s: %d", STRANGER, ret);
	if (ret)
		return;
	/* The search must find what is there: a file holding the traces. */
	snprintf(probe, sizeof(probe), "%s/probe", base);
	f = fopen(probe, "wb");
	if (f) {
		fwrite(vec, sizeof(float), VISID_EMBED_DIM, f);
		fclose(f);
	}
	VT_CHECK(search_file(probe, vec, row, report, sizeof(report)) && report[0],
		 "the search does not find the vector in a file that holds it");
	report[0] = 0;

	snprintf(spec, sizeof(spec), "image:%s", hard_face(STRANGER));
	snprintf(out, sizeof(out), "%s/stranger.out", base);
	snprintf(err, sizeof(err), "%s/stranger.err", base);
	ret = hard_wait(hard_spawn(&debug_opts, argv, out, err));
	VT_CHECK(ret == 0, "visid run on the stranger exited %d", ret);
	keep_file(out);
	keep_file(err);
	events = hard_read_file(out, &len);
	VT_CHECK(events && strstr(events, "\"event\":\"unknown\"") &&
		 !strstr(events, "\"event\":\"recognised\""),
		 "the stranger was not reported as unknown: %.200s", events ? events : "");
	free(events);

	searched += search_file(out, vec, row, report, sizeof(report));
	searched += search_file(err, vec, row, report, sizeof(report));
	d = opendir(state);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%.100s", state, e->d_name);
		searched += search_file(path, vec, row, report, sizeof(report));
	}
	if (d)
		closedir(d);
	VT_CHECK(searched == 4, "searched %d files, want events, log, key and database",
		 searched);
	VT_CHECK(!report[0], "traces of the stranger:%s", report);
	printf("\n    %d files searched for 189 vector windows, a pixel row and text forms",
	       searched);
}

/* ---- what a frame leaves in memory ------------------------------------ */

/*
 * Runs of PIECE_BYTES bytes of one frame's data, in one block the search
 * skips; each names what it was cut from.
 */
#define PIECE_BYTES 64
#define MAX_PIECES 16

struct traces {
	uint8_t *block;
	const char *kind[MAX_PIECES];
	int count;
	uint8_t filter[65536 / 8];	/* hashes of the pieces' first four bytes */
};

/*
 * Under AddressSanitizer the search reads memory the program does not own
 * (allocator redzones, freed blocks) on purpose, so those functions are not
 * instrumented, and ASan's shadow, a mirror of all memory several TiB long,
 * is left out of the regions searched.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
/*
 * The shadow mirrors user space, which ends at the next power of two above
 * the highest mapping (2^47 on x86-64, 2^39 to 2^48 on arm64 by kernel);
 * mappings at 2^63 and up ([vsyscall]) are the kernel's.
 */
static uintptr_t user_top(const char *maps)
{
	uintptr_t top = 1;

	for (const char *line = maps; line && *line; line = strchr(line, '\n')) {
		unsigned long lo, hi;

		if (*line == '\n')
			line++;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi < (uintptr_t)1 << 63)
			while (top < hi)
				top <<= 1;
	}
	return top;
}

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define RAW_READ __attribute__((no_sanitize_address))

static int in_asan_shadow(uintptr_t top, uintptr_t lo, uintptr_t hi)
{
	size_t scale, offset;

	__asan_get_shadow_mapping(&scale, &offset);
	return lo >= offset && hi <= offset + (top >> scale);
}
#else
#define RAW_READ

static int in_asan_shadow(uintptr_t top, uintptr_t lo, uintptr_t hi)
{
	return 0;
}
#endif

RAW_READ static unsigned key_hash(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (v * 2654435761u) >> 16;
}

/*
 * Pieces are copied and compared a byte at a time: glibc's memcpy and
 * memcmp move 64 bytes through one vector register, and the dynamic
 * linker's lazy binding saves those registers on the stack, where the
 * search would then find the test's own copy.
 */
static void copy_piece(uint8_t *dst, const uint8_t *src)
{
	volatile uint8_t *d = dst;

	for (int i = 0; i < PIECE_BYTES; i++)
		d[i] = src[i];
}

RAW_READ static int same_piece(const uint8_t *a, const uint8_t *b)
{
	const volatile uint8_t *x = a;

	for (int i = 0; i < PIECE_BYTES; i++)
		if (x[i] != b[i])
			return 0;
	return 1;
}

static void add_piece(struct traces *t, const void *data, const char *kind)
{
	uint8_t *piece = t->block + (size_t)t->count * PIECE_BYTES;
	unsigned h;

	if (t->count >= MAX_PIECES)
		return;
	copy_piece(piece, data);
	h = key_hash(piece);
	t->filter[h / 8] |= 1u << (h % 8);
	t->kind[t->count++] = kind;
}

/*
 * The private writable mappings of this process, read without allocating
 * (the heap must not change under the search).
 */
static char maps_text[1 << 18];
static struct { uintptr_t lo, hi; } regions[4096];

static int writable_regions(void)
{
	int fd = open("/proc/self/maps", O_RDONLY), n = 0;
	uintptr_t top;
	size_t len = 0;
	ssize_t got;
	char *line;

	if (fd < 0)
		return -1;
	while (len < sizeof(maps_text) - 1 &&
	       (got = read(fd, maps_text + len, sizeof(maps_text) - 1 - len)) > 0)
		len += (size_t)got;
	close(fd);
	maps_text[len] = 0;
	top = user_top(maps_text);
	for (line = maps_text; line && *line && n < 4096; line = strchr(line, '\n')) {
		unsigned long lo, hi;
		char perms[5];

		if (*line == '\n')
			line++;
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && perms[0] == 'r' &&
		    perms[1] == 'w' && perms[3] == 'p' && !in_asan_shadow(top, lo, hi)) {
			regions[n].lo = lo;
			regions[n].hi = hi;
			n++;
		}
	}
	return n;
}

/* Counts the places outside t->block where a piece occurs; hits[i] per piece. */
RAW_READ static int search_memory(const struct traces *t, int hits[MAX_PIECES])
{
	uintptr_t skip_lo = (uintptr_t)t->block;
	uintptr_t skip_hi = skip_lo + (uintptr_t)t->count * PIECE_BYTES;
	int n = writable_regions(), total = 0;

	memset(hits, 0, sizeof(int) * MAX_PIECES);
	for (int r = 0; r < n; r++) {
		const uint8_t *p = (const uint8_t *)regions[r].lo;
		size_t len = regions[r].hi - regions[r].lo;

		for (size_t i = 0; i + PIECE_BYTES <= len; i++) {
			unsigned h = key_hash(p + i);

			if (!(t->filter[h / 8] & 1u << (h % 8)) ||
			    ((uintptr_t)(p + i) >= skip_lo && (uintptr_t)(p + i) < skip_hi))
				continue;
			for (int k = 0; k < t->count; k++)
				if (same_piece(p + i, t->block + (size_t)k * PIECE_BYTES)) {
					hits[k]++;
					total++;
				}
		}
	}
	return n < 0 ? -1 : total;
}

/* The stranger darkened to num/den, as an NV12 camera frame: no other suite makes these. */
static int darker_nv12(struct visid_image *frame, int num, int den)
{
	struct visid_image photo, dark;
	int ret = visid_image_load(hard_face(STRANGER), &photo);

	if (ret)
		return ret;
	ret = visid_image_alloc(&dark, photo.width & ~1, photo.height & ~1, VISID_FMT_RGB24);
	if (!ret)
		ret = visid_image_alloc(frame, dark.width, dark.height, VISID_FMT_NV12);
	if (!ret) {
		for (int y = 0; y < dark.height; y++)
			for (int x = 0; x < 3 * dark.width; x++)
				dark.data[(size_t)y * dark.stride + x] =
					photo.data[(size_t)y * photo.stride + x] * num / den;
		vt_frame_fill(&dark, 0, 0, frame);
	}
	explicit_bzero(photo.data, (size_t)photo.stride * photo.height);
	if (dark.data)
		explicit_bzero(dark.data, (size_t)dark.stride * dark.height);
	visid_image_free(&photo);
	visid_image_free(&dark);
	return ret;
}

/*
 * What the pipeline made of the frame, made again here: converted RGB rows
 * across the face, the letterboxed detector input and the aligned crop, the
 * pieces from the middle of the face.
 */
static int frame_pieces(const struct visid_image *frame, const struct visid_face *face,
			struct traces *t)
{
	const int crop_floats = 3 * VISID_EMB_SIZE * VISID_EMB_SIZE, det_side = 192;
	float *crop = malloc(sizeof(float) * crop_floats);
	float *det = malloc(sizeof(float) * 3 * det_side * det_side);
	int cx = (int)(face->box[0] + face->box[2]) / 2;
	int cy = (int)(face->box[1] + face->box[3]) / 2;
	uint8_t row[3 * 24];
	double sim[4], m[6];
	int ret = -ENOMEM;

	if (!crop || !det || cx < 12 || cx + 12 > frame->width || cy < 8 ||
	    cy + 8 > frame->height)
		goto out_free;
	ret = visid_align_similarity(face->keypoints, sim);
	if (!ret)
		ret = visid_pre_embedder(frame, sim, crop);
	if (!ret)
		ret = visid_pre_detector(frame, NULL, det_side, det_side, 1, det, m);
	if (ret)
		goto out_free;
	for (int i = 0; i < 4; i++) {
		int v = VISID_EMB_SIZE / 2 - 16 + 10 * i, dv = det_side / 2 - 12 + 8 * i;

		visid_image_row_rgb(frame, cy - 6 + 4 * i, cx - 12, cx + 12, row);
		add_piece(t, row, "converted RGB pixels of the frame");
		add_piece(t, det + 3 * ((size_t)dv * det_side + det_side / 2 - 8),
			  "the detector's letterboxed input");
		add_piece(t, crop + 3 * ((size_t)v * VISID_EMB_SIZE + VISID_EMB_SIZE / 2 - 8),
			  "the aligned 112x112 face crop");
	}
	explicit_bzero(row, sizeof(row));

out_free:
	if (crop)
		explicit_bzero(crop, sizeof(float) * crop_floats);
	if (det)
		explicit_bzero(det, sizeof(float) * 3 * det_side * det_side);
	free(crop);
	free(det);
	return ret;
}

static void test_pipeline_wipes_frames(void)
{
	struct visid_face_options fopt = { 0 };
	struct visid_face_pipeline *pipe = NULL;
	struct traces t = { 0 };
	struct visid_image frame = { 0 };
	struct visid_face face;
	float vec[VISID_EMBED_DIM];
	int hits[MAX_PIECES], found, n, ret;
	uint8_t *decoy;

	fopt.backend = VISID_BACKEND_CPU;
	t.block = malloc((size_t)MAX_PIECES * PIECE_BYTES);
	ret = t.block ? darker_nv12(&frame, 7, 8) : -ENOMEM;
	if (!ret)
		ret = visid_face_pipeline_create(&fopt, &pipe);
	VT_CHECK(ret == 0, "cannot set up the frame and the pipeline: %s", strerror(-ret));
	if (ret)
		goto out_free;
	n = visid_face_detect(pipe, &frame, &face, 1);
	ret = n == 1 ? visid_face_embed(pipe, &frame, &face, vec) : -ENOENT;
	VT_CHECK(n == 1 && ret == 0, "no face embedded in the darkened stranger: %d faces, %d", n,
		 ret);
	if (n != 1 || ret)
		goto out_free;
	ret = frame_pieces(&frame, &face, &t);
	VT_CHECK(ret == 0 && t.count == 12, "cannot remake the frame's data: %d", ret);
	if (ret)
		goto out_free;

	/* The search must find what is there: a copy of every piece in the heap. */
	decoy = malloc((size_t)t.count * PIECE_BYTES + 7);
	if (decoy) {
		for (int k = 0; k < t.count; k++)
			copy_piece(decoy + 7 + (size_t)k * PIECE_BYTES,
				   t.block + (size_t)k * PIECE_BYTES);
		found = search_memory(&t, hits);
		explicit_bzero(decoy, (size_t)t.count * PIECE_BYTES + 7);
		free(decoy);
		VT_CHECK(found >= t.count, "the search finds %d of %d pieces placed in the heap",
			 found, t.count);
	}

	found = search_memory(&t, hits);
	VT_CHECK(found == 0, "%d copies of the frame's data are left after detect and embed",
		 found);
	for (int k = 0; k < t.count; k++)
		VT_CHECK(hits[k] == 0, "piece %d of %s: %d copies left", k, t.kind[k], hits[k]);
	printf("\n    %d pieces of a %dx%d NV12 frame: %d copies left in writable memory",
	       t.count, frame.width, frame.height, found);

out_free:
	explicit_bzero(vec, sizeof(vec));
	visid_face_pipeline_destroy(pipe);
	if (frame.data)
		explicit_bzero(frame.data, vt_plane_bytes(&frame, 0) + vt_plane_bytes(&frame, 1));
	visid_image_free(&frame);
	free(t.block);
}

/* A two-frame Y4M file of a and b (NV12 of one size), written without a stdio buffer. */
static int write_y4m(const char *path, const struct visid_image *a, const struct visid_image *b)
{
	const struct visid_image *frames[2] = { a, b };
	int w = a->width, h = a->height, cw = (w + 1) / 2, ch = (h + 1) / 2, fd, ret = 0;
	size_t frame_len = 6 + (size_t)w * h + 2 * (size_t)cw * ch, len;
	char header[80];
	uint8_t *buf, *o;

	len = (size_t)snprintf(header, sizeof(header), "YUV4MPEG2 W%d H%d F25:1 C420jpeg\n", w, h);
	buf = malloc(len + 2 * frame_len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, header, len);
	o = buf + len;
	for (int f = 0; f < 2; f++) {
		const struct visid_image *img = frames[f];

		memcpy(o, "FRAME\n", 6);
		o += 6;
		for (int y = 0; y < h; y++, o += w)
			memcpy(o, img->data + (size_t)y * img->stride, w);
		for (int c = 0; c < 2; c++)
			for (int y = 0; y < ch; y++)
				for (int x = 0; x < cw; x++)
					*o++ = img->uv[(size_t)y * img->uv_stride + 2 * x + c];
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, o - buf) != o - buf)
		ret = -EIO;
	if (fd >= 0)
		close(fd);
	explicit_bzero(buf, len + 2 * frame_len);
	free(buf);
	return ret;
}

/* Four luma runs across the middle of the frame. */
static void luma_pieces(const struct visid_image *img, const char *kind, struct traces *t)
{
	for (int i = 0; i < 4; i++)
		add_piece(t, img->data + (size_t)(img->height / 2 - 8 + 5 * i) * img->stride +
			  (img->width - PIECE_BYTES) / 2, kind);
}

static int count_hits(const int hits[MAX_PIECES], int from, int to)
{
	int n = 0;

	for (int k = from; k < to; k++)
		n += hits[k];
	return n;
}

/*
 * Vulkan: a frame given as a plain image (no camera buffer) is copied to
 * the device for the preprocessing shaders; visid_face_release_frame
 * zeroes that copy. On lavapipe device memory is this process's memory,
 * so the search sees the copy before the release and must not after it.
 */
static void test_device_frame_released(void)
{
	struct visid_gpu_options gopt = { 0 };
	struct visid_face_options fopt = { 0 };
	struct visid_face_pipeline *pipe = NULL;
	struct visid_gpu *gpu = NULL;
	struct visid_image frame = { 0 };
	struct traces t = { 0 };
	struct visid_face face;
	int hits[MAX_PIECES], before, after, n, ret;

	ret = visid_gpu_create(&gopt, &gpu);
	if (ret) {
		printf("\n    SKIP: no Vulkan device (%s)", strerror(-ret));
		return;
	}
	fopt.backend = VISID_BACKEND_VULKAN;
	fopt.gpu = gpu;
	t.block = malloc((size_t)MAX_PIECES * PIECE_BYTES);
	ret = t.block ? darker_nv12(&frame, 6, 8) : -ENOMEM;
	if (!ret)
		ret = visid_face_pipeline_create(&fopt, &pipe);
	VT_CHECK(ret == 0, "cannot set up the frame and the pipeline: %s", strerror(-ret));
	if (ret)
		goto out_free;
	n = visid_face_detect(pipe, &frame, &face, 1);
	VT_CHECK(n == 1, "%d faces found in the darkened stranger", n);
	luma_pieces(&frame, "device frame copy", &t);
	/* Only the pipeline's copy can hold the frame now. */
	explicit_bzero(frame.data, vt_plane_bytes(&frame, 0) + vt_plane_bytes(&frame, 1));
	before = search_memory(&t, hits);
	visid_face_release_frame(pipe);
	after = search_memory(&t, hits);
	VT_CHECK(before >= t.count, "the search finds %d of %d pieces in the device's copy",
		 before, t.count);
	VT_CHECK(after == 0, "%d pieces of the frame left on the device after its release", after);
	printf("\n    device copy of a %dx%d NV12 frame: %d pieces found, %d after the release",
	       frame.width, frame.height, before, after);
out_free:
	visid_face_pipeline_destroy(pipe);
	visid_gpu_destroy(gpu);
	visid_image_free(&frame);
	free(t.block);
}

static void test_source_wipes_frames(void)
{
	struct visid_image a = { 0 }, b = { 0 };
	struct visid_source *src = NULL;
	struct visid_frame frame;
	struct traces t = { 0 };
	int hits[MAX_PIECES], ret, given = 0;
	char path[520];

	snprintf(path, sizeof(path), "%s/two.y4m", base);
	t.block = malloc((size_t)MAX_PIECES * PIECE_BYTES);
	ret = t.block ? darker_nv12(&a, 7, 8) : -ENOMEM;
	if (!ret)
		ret = darker_nv12(&b, 3, 4);
	if (!ret)
		ret = write_y4m(path, &a, &b);
	VT_CHECK(ret == 0, "cannot write %.300s: %s", path, strerror(-ret));
	if (ret)
		goto out_free;
	luma_pieces(&a, "the first frame", &t);
	luma_pieces(&b, "the second frame", &t);
	explicit_bzero(a.data, vt_plane_bytes(&a, 0) + vt_plane_bytes(&a, 1));
	explicit_bzero(b.data, vt_plane_bytes(&b, 0) + vt_plane_bytes(&b, 1));

	ret = visid_source_open(path, NULL, &src);
	VT_CHECK(ret == 0, "cannot open %.300s: %s", path, strerror(-ret));
	if (ret)
		goto out_free;
	given += visid_source_next(src, &frame, 0) == 0;
	given += visid_source_next(src, &frame, 0) == 0;
	VT_CHECK(given == 2, "the source gave %d of its 2 frames", given);
	/* The search sees the source's memory: the frame in hand is found there. */
	search_memory(&t, hits);
	VT_CHECK(count_hits(hits, 4, 8) >= 4, "the frame in hand: %d of 4 pieces found",
		 count_hits(hits, 4, 8));
	VT_CHECK(count_hits(hits, 0, 4) == 0, "%d pieces of the first frame left after the next",
		 count_hits(hits, 0, 4));
	visid_source_close(src);
	search_memory(&t, hits);
	VT_CHECK(count_hits(hits, 0, 8) == 0, "%d pieces of the frames left after close",
		 count_hits(hits, 0, 8));
	printf("\n    y4m source: %d pieces of two frames left after next and close",
	       count_hits(hits, 0, 8));

out_free:
	visid_image_free(&a);
	visid_image_free(&b);
	free(t.block);
}

/*
 * The PNG screen converts each XRGB picture to RGB to encode it. Rows of a
 * picture in their RGB form (bytes that never stand in the canvas, whose
 * pixels are B, G, R, X) must be gone from memory once the screen is
 * closed: the RGB copy is wiped, not only freed. The picture is small, so
 * that copy comes from the heap and not from a mapping that free returns,
 * and each row is one colour, so libpng sends it through zlib as the Sub
 * filter's zeros and no raw row stays in zlib's window.
 */
/* Zeroes the stack below the caller, where returned functions left their locals. */
__attribute__((noinline)) static void scrub_stack(void)
{
	volatile uint8_t area[256 * 1024];

	for (size_t i = 0; i < sizeof(area); i++)
		area[i] = 0;
}

static void test_png_screen_wipes_pictures(void)
{
	struct visid_screen_options opt = { .width = 64, .height = 48 };
	struct visid_screen *scr = NULL;
	struct visid_image canvas;
	struct traces t = { 0 };
	/* Byte by byte, so no vector register holds a row for the search to find. */
	volatile uint8_t row[PIECE_BYTES];
	int hits[MAX_PIECES], ret;
	char spec[520];

	snprintf(spec, sizeof(spec), "png:%s/screen-pictures", base);
	t.block = malloc((size_t)MAX_PIECES * PIECE_BYTES);
	ret = t.block ? visid_screen_open(spec, &opt, &scr) : -ENOMEM;
	VT_CHECK(ret == 0, "cannot open %.300s: %s", spec, strerror(-ret));
	if (!ret)
		ret = visid_screen_canvas(scr, &canvas);
	if (ret)
		goto out;
	for (int y = 0; y < canvas.height; y++) {
		uint8_t *px = canvas.data + (size_t)y * canvas.stride;
		uint8_t rgb[3] = { (uint8_t)(7 * y + 101), (uint8_t)(13 * y + 59),
				   (uint8_t)(29 * y + 17) };

		for (int x = 0; x < canvas.width; x++, px += 4) {
			px[0] = rgb[2];
			px[1] = rgb[1];
			px[2] = rgb[0];
			px[3] = 0;
		}
		if (y >= 4)
			continue;
		for (int k = 0; k < PIECE_BYTES; k++)
			row[k] = rgb[k % 3];
		add_piece(&t, (const uint8_t *)row, "an RGB row of the picture shown");
	}
	for (int k = 0; k < PIECE_BYTES; k++)
		row[k] = 0;
	VT_CHECK(visid_screen_present(scr) == 0, "the picture was not written");
	visid_screen_close(scr);
	scr = NULL;
	/* libpng's and zlib's stack frames are theirs (docs/HARDENING.md): the heap is the test. */
	scrub_stack();
	search_memory(&t, hits);
	VT_CHECK(count_hits(hits, 0, 4) == 0, "%d copies of 4 RGB rows of the picture in memory",
		 count_hits(hits, 0, 4));
	printf("\n    png screen: %d copies of 4 RGB rows left after present and close",
	       count_hits(hits, 0, 4));
out:
	visid_screen_close(scr);
	free(t.block);
}

/* ---- keys ------------------------------------------------------------- */

static void base64(const uint8_t *in, size_t n, char *out, int url)
{
	const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			      : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? abc[v & 63] : '=';
	}
	out[o] = 0;
}

static void test_device_key_never_logged(void)
{
	const char *list[] = { "-v", "-v", "list", "--state-dir", state, NULL };
	char path[520], hex[65], HEX[65], b64[49], b64url[49];
	struct hard_run r;
	size_t len;
	uint8_t *key;

	snprintf(path, sizeof(path), "%s/device.key", state);
	key = (uint8_t *)hard_read_file(path, &len);
	VT_CHECK(key && len == 32, "cannot read the 32-byte key file %.300s", path);
	if (!key || len != 32) {
		free(key);
		return;
	}
	run(list, &r);
	hard_run_free(&r);
	for (int i = 0; i < 32; i++) {
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
		snprintf(HEX + 2 * i, 3, "%02X", key[i]);
	}
	base64(key, 32, b64, 0);
	base64(key, 32, b64url, 1);
	VT_CHECK(all_len > 0, "no output was collected to search");
	/* Any 8 bytes of the key, or 16 characters of an encoding of it, is a leak. */
	for (int i = 0; i + 8 <= 32; i++)
		VT_CHECK(!hard_memmem(all_output, all_len, key + i, 8),
			 "raw key bytes %d..%d in the output", i, i + 7);
	for (int i = 0; i + 16 <= 64; i += 4) {
		VT_CHECK(!hard_memmem(all_output, all_len, hex + i, 16),
			 "key as hex in the output");
		VT_CHECK(!hard_memmem(all_output, all_len, HEX + i, 16),
			 "key as HEX in the output");
	}
	for (int i = 0; i + 16 <= 44; i += 4) {
		VT_CHECK(!hard_memmem(all_output, all_len, b64 + i, 16),
			 "key as base64 in the output");
		VT_CHECK(!hard_memmem(all_output, all_len, b64url + i, 16),
			 "key as base64url in the output");
	}
	printf("\n    %zu bytes of debug output from every run of this suite searched", all_len);
	free(key);
}

VISID_SUITE(privacy, "privacy", privacy_init, privacy_clean, privacy_skip,
	    VISID_TEST(test_modes_after_every_change), VISID_TEST(test_open_state_dir_refused),
	    VISID_TEST(test_daemon_no_core_dumps_and_socket_mode),
	    VISID_TEST(test_daemon_not_dumpable),
	    VISID_TEST(test_stranger_leaves_no_trace), VISID_TEST(test_pipeline_wipes_frames),
	    VISID_TEST(test_source_wipes_frames), VISID_TEST(test_device_frame_released),
	    VISID_TEST(test_png_screen_wipes_pictures), VISID_TEST(test_device_key_never_logged))
