/*
 * Faults the device meets in the field, each through the visid program on
 * real photos: model files missing, truncated or not matching their
 * checksum; no Vulkan device; a state directory that cannot be written or is
 * full; a frame source that is cut off mid-stream and a screen that goes
 * away; SIGTERM in the middle of an enrollment. None may crash (exit by
 * signal) and none may lose or half-store a member.
 *
 * Camera unplug and stall on a real V4L2 driver are covered by the hal_v4l2
 * suite (test_disconnect_reopened, test_stall_restarted_by_watchdog), which
 * tests/vm/run runs against vivid in a VM; the disk full case on a real full
 * filesystem by store_disk_full (test_store_fault.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hardening.h"

#define OBAMA "identity/face_recognition/barack_obama/"
#define BIDEN "identity/face_recognition/joe_biden/biden.jpg"
#define BIDEN2 "identity/face_recognition/joe_biden/biden2.jpg"

static char state[400], model_dir[300];

static const char *real_model_dir(void)
{
	const char *dir = getenv("VISID_MODEL_DIR");

	return dir ? dir : "models";
}

static int run(struct hard_run *r, const char *const *argv)
{
	return hard_run(r, NULL, argv);
}

/* A gallery with one member, "obama", for the suites to damage. */
static int enroll_obama(const char *dir)
{
	const char *argv[] = { "enroll", "--state-dir", dir, "--partial", "obama",
			       hard_face(OBAMA "obama.jpg"), hard_face(OBAMA "obama1.jpg"), NULL };
	struct hard_run r;
	int ret = run(&r, argv);

	if (ret)
		fprintf(stderr, "\n    enrolling obama exited %d: %s", ret, r.err);
	hard_run_free(&r);
	return ret;
}

/* 1 when `visid list` in dir names exactly these members (comma-separated). */
static int members_are(const char *dir, const char *names, char *listing, size_t len)
{
	const char *argv[] = { "list", "--state-dir", dir, NULL };
	struct hard_run r;
	char want[256], *save = NULL;
	int ok, lines = 0;

	ok = run(&r, argv) == 0;
	snprintf(listing, len, "exit %d: %s%s", r.status, r.out, r.err);
	for (const char *p = r.out; ok && (p = strchr(p, '\n')); p++)
		lines++;
	snprintf(want, sizeof(want), "%s", names);
	for (char *n = strtok_r(want, ",", &save); ok && n; n = strtok_r(NULL, ",", &save)) {
		ok = !strncmp(r.out, n, strlen(n)) || strstr(r.out, n);
		lines--;
	}
	hard_run_free(&r);
	return ok && lines == 0;
}

static int faults_init(void)
{
	const char *dir = hard_open_tmpdir();

	if (!dir)
		return -1;
	snprintf(state, sizeof(state), "%s/state", dir);
	return enroll_obama(state) ? -1 : 0;
}

static const char *faults_skip(void)
{
	char path[400];

	if (access(hard_visid_bin(), X_OK))
		return "the visid binary is not built ($VISID_BIN or build/visid)";
	if (!visid_test_have_shared("data/faces/" OBAMA "obama.jpg"))
		return "../shared/data/faces is absent";
	snprintf(path, sizeof(path), "%s/MobileFaceNet.tflite", real_model_dir());
	if (access(path, R_OK))
		return "models not fetched (make models, or set VISID_MODEL_DIR)";
	return NULL;
}

/* ---- models ----------------------------------------------------------- */

static int copy_file(const char *from, const char *to, long limit)
{
	size_t len;
	char *data = hard_read_file(from, &len);
	int fd, ret = -1;

	if (!data)
		return -1;
	if (limit >= 0 && (size_t)limit < len)
		len = (size_t)limit;
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0 && write(fd, data, len) == (ssize_t)len)
		ret = 0;
	if (fd >= 0)
		close(fd);
	free(data);
	return ret;
}

/* A model directory with the real files, one of them cut to `keep` bytes (-1: absent). */
static const char *models_with(const char *victim, long keep)
{
	static const char *const files[] = { "face_detection_full_range.tflite",
					     "face_detection_short_range.tflite",
					     "MobileFaceNet.tflite" };
	const char *dir = hard_open_tmpdir();
	char from[600], to[600];

	if (!dir)
		return NULL;
	for (int i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s/%s", real_model_dir(), files[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, files[i]);
		if (!strcmp(files[i], victim) && keep < 0)
			continue;
		if (copy_file(from, to, strcmp(files[i], victim) ? -1 : keep))
			return NULL;
	}
	snprintf(model_dir, sizeof(model_dir), "%s", dir);
	return model_dir;
}

/* identify with a damaged model directory: exit 1, the file named, the gallery intact. */
static void expect_model_error(const char *what, const char *dir, const char *file)
{
	const char *argv[] = { "identify", "--state-dir", state, "--model-dir", dir,
			       hard_face(OBAMA "obama2.jpg"), NULL };
	struct hard_run r;
	char listing[600];

	run(&r, argv);
	VT_CHECK(r.status == 1, "%s: identify exited %d, want 1 (a clear error, no crash)", what,
		 r.status);
	VT_CHECK(strstr(r.err, file) != NULL, "%s: the error does not name %s: %.300s", what, file,
		 r.err);
	VT_CHECK(members_are(state, "obama", listing, sizeof(listing)),
		 "%s: the gallery changed: %.300s", what, listing);
	printf("\n    %s: %.160s", what, strtok(r.err, "\n"));
	hard_run_free(&r);
}

static void test_model_missing(void)
{
	const char *dir = models_with("MobileFaceNet.tflite", -1);

	VT_CHECK(dir != NULL, "cannot prepare a model directory");
	if (dir)
		expect_model_error("embedder missing", dir, "MobileFaceNet.tflite");
}

static void test_model_truncated(void)
{
	static const long cuts[] = { 0, 7, 4096, 600000 };

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		const char *victim = i % 2 ? "face_detection_full_range.tflite"
					   : "MobileFaceNet.tflite";
		const char *dir = models_with(victim, cuts[i]);
		char what[96];

		VT_CHECK(dir != NULL, "cannot prepare a model directory");
		if (!dir)
			continue;
		snprintf(what, sizeof(what), "%s cut to %ld bytes", victim, cuts[i]);
		expect_model_error(what, dir, victim);
	}
}

/* Installed with its manifest, a model with one byte changed is refused by the library. */
static void test_model_fails_manifest(void)
{
	const char *dir = models_with("none", -1);
	char from[700], to[700];
	unsigned char byte = 0;
	int fd;

	VT_CHECK(dir != NULL, "cannot prepare a model directory");
	if (!dir)
		return;
	snprintf(from, sizeof(from), "%s/manifest.tsv", real_model_dir());
	snprintf(to, sizeof(to), "%s/manifest.tsv", dir);
	if (access(from, R_OK)) {
		printf("\n    SKIP: no manifest.tsv beside the models in %s", real_model_dir());
		return;
	}
	VT_CHECK(copy_file(from, to, -1) == 0, "copying %.200s", from);
	snprintf(to, sizeof(to), "%s/MobileFaceNet.tflite", dir);
	fd = open(to, O_RDWR);
	if (fd < 0 || pread(fd, &byte, 1, 100000) != 1) {
		VT_CHECK(0, "cannot read %.200s: %s", to, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	byte ^= 0x40;
	VT_CHECK(pwrite(fd, &byte, 1, 100000) == 1, "changing %.200s", to);
	close(fd);
	expect_model_error("embedder with one byte changed, manifest beside it", dir,
			   "MobileFaceNet.tflite");
}

/*
 * scripts/fetch-models verifies every file's sha256: a damaged model in the
 * destination is replaced from the package, and a package whose file does
 * not match the manifest is refused with a message naming file and checksum.
 * The script runs from a copy of the tree so its cache is a private one.
 */
static int sh(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_model_wrong_checksum(void)
{
	const char *top = hard_open_tmpdir(), *pkg = "mediapipe-face_detection-0.4.1657300184.tgz";
	char cmd[2400], path[600];
	size_t len;
	char *log;

	if (!top || access("scripts/fetch-models", X_OK) || access("models/manifest.tsv", R_OK)) {
		printf("\n    SKIP: scripts/fetch-models or models/manifest.tsv not found here");
		return;
	}
	snprintf(path, sizeof(path), "models/cache/%s", pkg);
	if (access(path, R_OK)) {
		printf("\n    SKIP: the cached package %s is absent (scripts/fetch-models)", path);
		return;
	}
	/* A tree with the real package cached and a model with one byte changed. */
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; mkdir -p scripts models/cache dest pkg/package;"
		 "cp %s/scripts/fetch-models scripts/; cp %s/models/manifest.tsv models/;"
		 "cp %s/models/cache/%s models/cache/;"
		 "cp %s/*.tflite dest/;"
		 "printf '\\377' | dd of=dest/face_detection_short_range.tflite bs=1 seek=5000 "
		 "conv=notrunc 2>/dev/null",
		 top, getcwd(path, sizeof(path)), path, path, pkg, real_model_dir());
	VT_CHECK(sh(cmd) == 0, "cannot prepare a copy of the tree: %.200s", cmd);

	snprintf(cmd, sizeof(cmd), "cd %s && PATH=/usr/bin:/bin scripts/fetch-models dest "
		 ">log 2>&1 && cd dest && grep -v '^#' ../models/manifest.tsv | "
		 "awk -F'\\t' '{print $5 \"  \" $1}' | sha256sum -c --status", top);
	VT_CHECK(sh(cmd) == 0, "fetch-models did not replace the damaged model with one "
		 "matching its checksum");

	/* Now the package itself is wrong: its file does not match the manifest. */
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; for f in face_detection_full_range face_detection_short_range; do "
		 "head -c 5000 dest/$f.tflite > pkg/package/$f.tflite; done;"
		 "printf x >> dest/face_detection_short_range.tflite;"
		 "tar -C pkg -czf models/cache/%s package", top, pkg);
	VT_CHECK(sh(cmd) == 0, "cannot write a damaged package");
	snprintf(cmd, sizeof(cmd),
		 "cd %s && PATH=/usr/bin:/bin scripts/fetch-models dest >log 2>&1", top);
	VT_CHECK(sh(cmd) == 1, "fetch-models accepted a package whose file fails its checksum");
	snprintf(path, sizeof(path), "%s/log", top);
	log = hard_read_file(path, &len);
	VT_CHECK(log && strstr(log, "wrong sha256") && strstr(log, "face_detection_short_range"),
		 "no clear checksum error: %.300s", log ? log : "(no log)");
	if (log)
		printf("\n    package with a wrong file: %.200s", strtok(log, "\n"));
	free(log);
}

/* ---- Vulkan ----------------------------------------------------------- */

static void test_no_vulkan_device_falls_back_to_cpu(void)
{
	static const char *const env[] = { "VK_ICD_FILENAMES=/nonexistent",
					   "VK_DRIVER_FILES=/nonexistent", "VISID_BACKEND=vulkan",
					   NULL };
	const char *argv[] = { "identify", "--state-dir", state, "--backend", "vulkan",
			       hard_face(OBAMA "obama2.jpg"), NULL };
	struct hard_opts opt = { env, (uid_t)-1, 0 };
	struct hard_run r;

	hard_run(&r, &opt, argv);
	VT_CHECK(r.status == 0, "identify without a Vulkan driver exited %d: %.300s", r.status,
		 r.err);
	VT_CHECK(strstr(r.err, "no usable Vulkan device") && strstr(r.err, "CPU backend"),
		 "no log line about the fallback: %.300s", r.err);
	VT_CHECK(strstr(r.out, "\"member\":\"obama\"") != NULL,
		 "obama2.jpg not identified on the CPU fallback: %.300s", r.out);
	printf("\n    %.160s", strtok(r.err, "\n"));
	hard_run_free(&r);
}

/* ---- the state directory ---------------------------------------------- */

/*
 * A copy of the gallery that this process cannot write: as root, owned by
 * nobody and run as nobody (root ignores modes); otherwise mode 0500.
 */
static uid_t locked_copy(char *dir, size_t len)
{
	const char *base = hard_open_tmpdir();
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = getuid() == 0 && pw ? pw->pw_uid : (uid_t)-1;
	char cmd[1200];

	if (!base || (getuid() == 0 && !pw))
		return (uid_t)-2;
	snprintf(dir, len, "%s/locked", base);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", state, dir);
	if (sh(cmd))
		return (uid_t)-2;
	if (uid != (uid_t)-1) {
		snprintf(cmd, sizeof(cmd), "chown -R %u:%u %s", (unsigned)uid,
			 (unsigned)pw->pw_gid, dir);
		if (sh(cmd))
			return (uid_t)-2;
	}
	chmod(dir, 0500);
	return uid;
}

static void test_state_dir_unwritable(void)
{
	char dir[400], listing[600];
	uid_t uid = locked_copy(dir, sizeof(dir));
	const char *enroll[] = { "enroll", "--state-dir", dir, "--partial", "biden",
				 hard_face(BIDEN), NULL };
	const char *list[] = { "list", "--state-dir", dir, NULL };
	struct hard_opts opt = { NULL, uid, 0 };
	struct hard_run r;

	if (uid == (uid_t)-2) {
		VT_CHECK(0, "cannot make an unwritable copy of the gallery");
		return;
	}
	hard_run(&r, &opt, enroll);
	VT_CHECK(r.status == 1, "enroll into a read-only state dir exited %d, want 1", r.status);
	VT_CHECK(strstr(r.err, dir) != NULL, "the error does not name the state dir: %.300s",
		 r.err);
	printf("\n    unwritable: %.200s", r.err);
	hard_run_free(&r);

	hard_run(&r, &opt, list);
	VT_CHECK(r.status == 0 && strstr(r.out, "obama") && !strstr(r.out, "biden"),
		 "after the failed enroll, list exited %d: %.300s", r.status, r.out);
	hard_run_free(&r);
	/* Back to this user: the store refuses a directory another user owns. */
	if (uid != (uid_t)-1) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "chown -R %u:%u %s", (unsigned)getuid(),
			 (unsigned)getgid(), dir);
		sh(cmd);
	}
	chmod(dir, 0700);
	VT_CHECK(members_are(dir, "obama", listing, sizeof(listing)),
		 "writable again, the gallery is not what it was: %.300s", listing);
}

static void test_state_dir_full(void)
{
	char dir[400], listing[600], cmd[900];
	const char *base = hard_open_tmpdir();
	const char *enroll[] = { "enroll", "--state-dir", dir, "--partial", "biden",
				 hard_face(BIDEN), NULL };
	struct hard_opts opt = { NULL, (uid_t)-1, 0 };
	struct stat st;
	struct hard_run r;

	snprintf(dir, sizeof(dir), "%s/full", base ? base : "/nonexistent");
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", state, dir);
	snprintf(listing, sizeof(listing), "%s/gallery.db", dir);
	if (!base || sh(cmd) || stat(listing, &st)) {
		VT_CHECK(0, "cannot copy the gallery");
		return;
	}
	/* No file may grow past the gallery's present size: the disk is full. */
	opt.file_size_limit = (long)st.st_size;
	hard_run(&r, &opt, enroll);
	VT_CHECK(r.status == 1, "enroll on a full disk exited %d, want 1: %.300s", r.status, r.err);
	VT_CHECK(strstr(r.err, dir) != NULL, "the error does not name the gallery: %.300s", r.err);
	printf("\n    full: %.200s", r.err);
	hard_run_free(&r);
	VT_CHECK(members_are(dir, "obama", listing, sizeof(listing)),
		 "after a full disk the gallery is not what it was: %.300s", listing);
	opt.file_size_limit = 0;
	hard_run(&r, &opt, enroll);
	VT_CHECK(r.status == 0, "with room again, enroll exited %d: %.300s", r.status, r.err);
	hard_run_free(&r);
	VT_CHECK(members_are(dir, "obama,biden", listing, sizeof(listing)),
		 "with room again, both members expected: %.300s", listing);
}

/* ---- frames and screen ------------------------------------------------ */

/* A YUV4MPEG2 stream cut in the middle of its third frame: the loop ends cleanly. */
static void test_source_cut_mid_stream(void)
{
	const char *dir = hard_open_tmpdir();
	char path[400], spec[420];
	const char *argv[] = { "run", "--state-dir", state, "--no-control", "--source", spec,
			       NULL };
	struct hard_run r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cut.y4m", dir ? dir : "/nonexistent");
	snprintf(spec, sizeof(spec), "y4m:%s", path);
	f = fopen(path, "wb");
	VT_CHECK(f != NULL, "cannot write %s", path);
	if (!f)
		return;
	fprintf(f, "YUV4MPEG2 W64 H48 F30:1 C420jpeg\n");
	for (int n = 0; n < 3; n++) {
		fprintf(f, "FRAME\n");
		for (int i = 0; i < (n < 2 ? 64 * 48 * 3 / 2 : 1000); i++)
			fputc((i * 7 + n) & 0xff, f);
	}
	fclose(f);
	run(&r, argv);
	VT_CHECK(r.status == 0 || r.status == 1, "run on a cut stream exited %d", r.status);
	VT_CHECK(r.status == 0 || strstr(r.err, path), "the error does not name %.100s: %.300s",
		 path, r.err);
	printf("\n    cut y4m: exit %d %.160s", r.status, r.err);
	hard_run_free(&r);
}

/* The headless screen's directory vanishes while frames are shown: frames go on. */
static void test_screen_lost_mid_run(void)
{
	const char *dir = hard_open_tmpdir();
	char shots[400], spec[420], out[450], err[450], cmd[500];
	const char *argv[] = { "run", "--state-dir", state, "--no-control", "--source", spec,
			       "--repeat", "40", "--screen", shots, NULL };
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int status, frames = 0, lines = 0;
	char *text;
	pid_t pid;

	snprintf(shots, sizeof(shots), "png:%s/shots", dir ? dir : "/nonexistent");
	snprintf(spec, sizeof(spec), "image:%s", hard_face(OBAMA "obama2.jpg"));
	snprintf(out, sizeof(out), "%s/out", dir ? dir : "/nonexistent");
	snprintf(err, sizeof(err), "%s/err", dir ? dir : "/nonexistent");
	pid = hard_spawn(NULL, argv, out, err);
	VT_CHECK(pid > 0, "cannot start visid run");
	if (pid <= 0)
		return;
	/* Once the first picture is out, the directory goes away. */
	snprintf(cmd, sizeof(cmd), "%s/shots/frame-000000.png", dir);
	for (int i = 0; i < 300 && access(cmd, F_OK); i++)
		nanosleep(&pause, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/shots", dir);
	sh(cmd);
	status = hard_wait(pid);
	text = hard_read_file(out, NULL);
	for (const char *p = text; p && (p = strstr(p, "\"frame\":")); p++)
		frames++;
	VT_CHECK(status == 0, "run with its screen gone exited %d", status);
	VT_CHECK(text && strstr(text, "\"event\":\"recognised\""),
		 "obama not recognised while the screen was going away: %.200s", text);
	free(text);
	text = hard_read_file(err, NULL);
	/* Said once when it starts, not once a frame (debug level repeats it). */
	for (const char *p = text; p && (p = strstr(p, "cannot write")); p++)
		lines++;
	VT_CHECK(lines == 1, "the lost screen was reported %d times: %.300s", lines,
		 text ? text : "");
	VT_CHECK(text && strstr(text, "pictures in a row not shown"),
		 "no count of the pictures not shown: %.300s", text ? text : "");
	printf("\n    screen lost: exit %d, %d frames, stderr %.200s", status, frames,
	       text ? text : "");
	free(text);
}

/* ---- signals ---------------------------------------------------------- */

/*
 * SIGTERM at points spread over an enrollment: afterwards the gallery opens,
 * obama is still there, and biden is either absent or has every angle the
 * uninterrupted enrollment stored for him (whatever the pose estimate makes
 * of his photos). A hot journal left by a kill is rolled back on the next
 * open.
 */
#define KILLS 8

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_sigterm_during_enroll(void)
{
	const char *base = hard_open_tmpdir();
	char dir[400], cmd[900], listing[600];
	const char *enroll[] = { "enroll", "--state-dir", dir, "--partial", "biden",
				 hard_face(BIDEN), hard_face(BIDEN2), NULL };
	const char *del[] = { "delete", "--state-dir", dir, "biden", NULL };
	const char *list[] = { "list", "--state-dir", dir, NULL };
	int stored = 0, absent = 0, killed = 0;
	char angles[64] = "";
	double t0, full;
	struct hard_run r;

	snprintf(dir, sizeof(dir), "%s/sig", base ? base : "/nonexistent");
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", state, dir);
	if (!base || sh(cmd)) {
		VT_CHECK(0, "cannot copy the gallery");
		return;
	}
	t0 = now_s();
	hard_run(&r, NULL, enroll);
	full = now_s() - t0;
	hard_run_free(&r);
	/* What a complete enrollment stores: its angles, as listed. */
	hard_run(&r, NULL, list);
	if (strstr(r.out, "biden"))
		sscanf(strstr(r.out, "biden"), "biden angles %63s", angles);
	VT_CHECK(angles[0], "the uninterrupted enrollment did not store biden: %.300s", r.out);
	hard_run_free(&r);
	hard_run(&r, NULL, del);
	hard_run_free(&r);

	for (int k = 1; k <= KILLS; k++) {
		double at = full * (k <= 6 ? k / 6.0 : 0.9 + (k - 6) * 0.04);
		struct timespec pause = { (time_t)at, (long)((at - (time_t)at) * 1e9) };
		pid_t pid = hard_spawn(NULL, enroll, NULL, NULL);
		int status, ok;

		nanosleep(&pause, NULL);
		kill(pid, SIGTERM);
		status = hard_wait(pid);
		killed += status == 128 + SIGTERM;
		hard_run(&r, NULL, list);
		ok = r.status == 0 && strstr(r.out, "obama");
		VT_CHECK(ok, "after SIGTERM at %.2fs the gallery lists: exit %d %.150s%.150s", at,
			 r.status, r.out, r.err);
		if (strstr(r.out, "biden")) {
			char *line = strstr(r.out, "biden"), got[64] = "";

			stored++;
			sscanf(line, "biden angles %63s", got);
			VT_CHECK(!strcmp(got, angles), "biden stored with angles '%s', not '%s'",
				 got, angles);
			hard_run_free(&r);
			hard_run(&r, NULL, del);
			VT_CHECK(r.status == 0, "deleting the enrolled biden exited %d", r.status);
		} else {
			absent++;
		}
		hard_run_free(&r);
	}
	VT_CHECK(members_are(dir, "obama", listing, sizeof(listing)),
		 "after the kills: %.300s", listing);
	printf("\n    %d SIGTERMs over a %.1fs enrollment: %d killed, %d before the commit, "
	       "%d after", KILLS, full, killed, absent, stored);
}

VISID_SUITE(faults, "faults", faults_init, NULL, faults_skip,
	    VISID_TEST(test_model_missing), VISID_TEST(test_model_truncated),
	    VISID_TEST(test_model_fails_manifest),
	    VISID_TEST(test_model_wrong_checksum),
	    VISID_TEST(test_no_vulkan_device_falls_back_to_cpu),
	    VISID_TEST(test_state_dir_unwritable), VISID_TEST(test_state_dir_full),
	    VISID_TEST(test_source_cut_mid_stream), VISID_TEST(test_screen_lost_mid_run),
	    VISID_TEST(test_sigterm_during_enroll))
