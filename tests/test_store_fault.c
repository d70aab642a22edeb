/*
 * The gallery under faults: a process killed at every kind of point in
 * enroll, delete and re-vectorisation, and a disk that fills during enroll.
 *
 * Kills: a child process installs a counting VFS over SQLite's own and kills
 * itself (SIGKILL) just before its Nth write, truncate, sync or delete, N
 * drawn from a fixed pseudo-random sequence over the operation's whole range.
 * The parent then opens the gallery as the next boot would and checks it.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>

#include "harness.h"
#include "store_fault/store_test.h"
#include "visid/log.h"

#define TRIALS_PER_OP 20
#define T0 1700000000LL

/* --- the counting VFS ---------------------------------------------------- */

struct shim_file {
	sqlite3_file base;
	sqlite3_file *real;
};

static sqlite3_vfs shim_vfs, *real_vfs;
static sqlite3_io_methods shim_io;
static long shim_ops, shim_kill_at = -1;
static int shim_kill_after;

/* Called around each operation that changes a file: the kill points. */
static void shim_tick(void)
{
	if (++shim_ops == shim_kill_at && !shim_kill_after)
		raise(SIGKILL);
}

static int shim_done(int rc)
{
	if (shim_ops == shim_kill_at && shim_kill_after)
		raise(SIGKILL);
	return rc;
}

static sqlite3_file *real_of(sqlite3_file *f)
{
	return ((struct shim_file *)f)->real;
}

static int shim_close(sqlite3_file *f)
{
	return real_of(f)->pMethods->xClose(real_of(f));
}

static int shim_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	return real_of(f)->pMethods->xRead(real_of(f), buf, amt, off);
}

static int shim_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	shim_tick();
	return shim_done(real_of(f)->pMethods->xWrite(real_of(f), buf, amt, off));
}

static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	shim_tick();
	return shim_done(real_of(f)->pMethods->xTruncate(real_of(f), size));
}

static int shim_sync(sqlite3_file *f, int flags)
{
	shim_tick();
	return shim_done(real_of(f)->pMethods->xSync(real_of(f), flags));
}

static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int shim_lock(sqlite3_file *f, int lock)
{
	return real_of(f)->pMethods->xLock(real_of(f), lock);
}

static int shim_unlock(sqlite3_file *f, int lock)
{
	return real_of(f)->pMethods->xUnlock(real_of(f), lock);
}

static int shim_check_lock(sqlite3_file *f, int *out)
{
	return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int shim_control(sqlite3_file *f, int op, void *arg)
{
	return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int shim_sector(sqlite3_file *f)
{
	return real_of(f)->pMethods->xSectorSize(real_of(f));
}

static int shim_device(sqlite3_file *f)
{
	return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct shim_file *sf = (struct shim_file *)f;
	int rc;

	sf->real = (sqlite3_file *)(sf + 1);
	rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out);
	f->pMethods = rc == SQLITE_OK ? &shim_io : NULL;
	return rc;
}

static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	shim_tick();
	return shim_done(real_vfs->xDelete(real_vfs, name, sync_dir));
}

static int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int shim_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static int shim_random(sqlite3_vfs *vfs, int n, char *out)
{
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int shim_sleep(sqlite3_vfs *vfs, int us)
{
	return real_vfs->xSleep(real_vfs, us);
}

static int shim_time(sqlite3_vfs *vfs, double *out)
{
	return real_vfs->xCurrentTime(real_vfs, out);
}

static int shim_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	return real_vfs->xGetLastError(real_vfs, n, out);
}

/* Makes the counting VFS the default; only ever done in a child process. */
static void shim_install(long kill_at)
{
	real_vfs = sqlite3_vfs_find(NULL);
	shim_io = (sqlite3_io_methods){
		.iVersion = 1, .xClose = shim_close, .xRead = shim_read, .xWrite = shim_write,
		.xTruncate = shim_truncate, .xSync = shim_sync, .xFileSize = shim_file_size,
		.xLock = shim_lock, .xUnlock = shim_unlock, .xCheckReservedLock = shim_check_lock,
		.xFileControl = shim_control, .xSectorSize = shim_sector,
		.xDeviceCharacteristics = shim_device,
	};
	shim_vfs = (sqlite3_vfs){
		.iVersion = 1, .szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile,
		.mxPathname = real_vfs->mxPathname, .zName = "visid-test-kill",
		.xOpen = shim_open, .xDelete = shim_delete, .xAccess = shim_access,
		.xFullPathname = shim_full_path, .xDlOpen = NULL, .xRandomness = shim_random,
		.xSleep = shim_sleep, .xCurrentTime = shim_time, .xGetLastError = shim_last_error,
	};
	sqlite3_vfs_register(&shim_vfs, 1);
	shim_ops = 0;
	shim_kill_at = kill_at;
}

/* --- the operations under test --------------------------------------------- */

enum fault_op { OP_ENROLL, OP_DELETE, OP_REVECTORIZE };
static const char *const op_names[] = { "enroll", "delete", "re-vectorisation" };

static char template_dir[256];
static int64_t clock_now = T0;
static int64_t template_ids[2];

/* Runs one operation; the shim's count starts where the operation does. */
static int run_op(enum fault_op op, const char *dir, long kill_at)
{
	const struct st_person *p = st_people();
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store_options opt;
	struct visid_store *store;
	int ret;

	visid_log_set_level(VISID_LOG_ERROR);
	st_options(&opt, dir, &clock_now);
	opt.flags = 0;
	if (op == OP_REVECTORIZE) {
		opt.model_id = st_model_b;
		opt.embed_ctx = (void *)st_model_b;
		shim_install(kill_at);
		ret = visid_store_open(&opt, &store);
	} else {
		shim_install(-1);
		ret = visid_store_open(&opt, &store);
		shim_ops = 0;
		shim_kill_at = kill_at;
	}
	if (ret)
		return ret;
	if (op == OP_ENROLL) {
		st_slots(&p[2], st_model_a, slots);
		ret = visid_store_enroll(store, p[2].name, p[2].image[1], p[2].len[1], slots, NULL);
	} else if (op == OP_DELETE) {
		ret = visid_store_delete(store, template_ids[1]);
	}
	visid_store_close(store);
	return ret;
}

/*
 * In a child: runs op, killed just before (or, with after, just after) its
 * kill_at-th file change; returns the changes counted, or -1.
 */
static long run_child(enum fault_op op, const char *dir, long kill_at, int after, int *killed)
{
	int fds[2], status;
	long ops = -1;
	pid_t pid;

	if (pipe(fds))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int ret;

		close(fds[0]);
		shim_kill_after = after;
		ret = run_op(op, dir, kill_at);
		if (write(fds[1], &shim_ops, sizeof(shim_ops)) != sizeof(shim_ops))
			ret = -EIO;
		_exit(ret ? 1 : 0);	/* _exit: the parent's atexit cleanup must not run here */
	}
	close(fds[1]);
	if (pid > 0 && read(fds[0], &ops, sizeof(ops)) != sizeof(ops))
		ops = -1;
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	*killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	if (!*killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		return -1;
	return *killed ? kill_at : ops;
}

static int make_template(void)
{
	const struct st_person *p = st_people();
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store_options opt;
	struct visid_store *store;
	int ret;

	snprintf(template_dir, sizeof(template_dir), "%s/template", visid_test_tmpdir());
	st_options(&opt, template_dir, &clock_now);
	ret = visid_store_open(&opt, &store);
	for (int i = 0; !ret && i < 2; i++) {
		st_slots(&p[i], st_model_a, slots);
		ret = visid_store_enroll(store, p[i].name, NULL, 0, slots, &template_ids[i]);
	}
	if (store)
		visid_store_close(store);
	return ret;
}

/* A member is whole: all five slots, images as enrolled, vectors of the gallery's model. */
static int member_whole(struct visid_store *store, const struct visid_store_gallery *g,
			const struct st_person *p, const char *model)
{
	struct visid_store_member m;
	float vec[VISID_EMBED_DIM];
	const struct visid_store_gallery_entry *e = NULL;

	if (visid_store_find(store, p->name, &m))
		return 0;
	if (m.slots != 0x1f || m.damaged)
		return -1;
	for (int i = 0; i < g->count; i++)
		if (g->members[i].id == m.id)
			e = &g->members[i];
	if (!e || e->slots != 0x1f)
		return -1;
	for (int pose = 0; pose < VISID_POSE_COUNT; pose++) {
		uint8_t *bytes;
		size_t len;
		int same;

		st_embed((void *)model, p->image[pose], p->len[pose], vec);
		if (memcmp(vec, e->vectors[pose], sizeof(vec)))
			return -1;
		if (visid_store_get_image(store, m.id, pose, &bytes, &len))
			return -1;
		same = len == p->len[pose] && !memcmp(bytes, p->image[pose], len);
		visid_store_free_bytes(bytes, len);
		if (!same)
			return -1;
	}
	return 1;
}

/*
 * Opens the gallery after the kill: it must open (SQLite rolls a hot journal
 * back, the integrity check passes) and hold each member whole or not at all.
 * Returns 1 when the operation took effect, 0 when not, -1 when inconsistent.
 */
static int check_after(enum fault_op op, const char *dir, char *why, size_t size)
{
	const struct st_person *p = st_people();
	struct visid_store_gallery *g = malloc(sizeof(*g));
	struct visid_store_options opt;
	struct visid_store *store;
	char model[VISID_STORE_MODEL_ID_SIZE];
	int ret, state[3];

	st_options(&opt, dir, &clock_now);
	opt.flags = 0;
	opt.model_id = NULL;
	ret = g ? visid_store_open(&opt, &store) : -ENOMEM;
	if (ret) {
		snprintf(why, size, "the gallery does not open: %d", ret);
		free(g);
		return -1;
	}
	snprintf(model, sizeof(model), "%s", visid_store_model_id(store));
	ret = visid_store_load_gallery(store, g);
	for (int i = 0; i < 3; i++)
		state[i] = member_whole(store, g, &p[i], model);
	visid_store_gallery_wipe(g);
	visid_store_close(store);
	free(g);

	snprintf(why, size, "gallery of %d, model %.8s, members %d %d %d", ret, model,
		 state[0], state[1], state[2]);
	if (state[0] < 0 || state[1] < 0 || state[2] < 0 || !state[0])
		return -1;
	switch (op) {
	case OP_ENROLL:
		return state[1] == 1 ? state[2] : -1;
	case OP_DELETE:
		return state[2] == 0 ? !state[1] : -1;
	case OP_REVECTORIZE:
		if (state[1] != 1 || state[2] != 0)
			return -1;
		return !strcmp(model, st_model_b);
	}
	return -1;
}

static void kill_trials(enum fault_op op, unsigned *seed)
{
	char dir[300], why[256];
	long total;
	int killed, outcomes[2] = { 0, 0 }, kills = 0;

	snprintf(dir, sizeof(dir), "%s/count-%d", visid_test_tmpdir(), op);
	st_copy_dir(template_dir, dir);
	total = run_child(op, dir, -1, 0, &killed);
	VT_CHECK(total > 3, "%s: counting its file changes gave %ld", op_names[op], total);
	if (total <= 3)
		return;

	for (int trial = 0; trial < TRIALS_PER_OP; trial++) {
		/*
		 * Before the first change, around the last (the journal's deletion:
		 * the commit point), the rest spread pseudo-randomly.
		 */
		long at = trial == 0 ? 1 : trial <= 2 ? total : 1 + (long)(rand_r(seed) % total);
		int after = trial & 1, state;

		snprintf(dir, sizeof(dir), "%s/trial-%d-%d", visid_test_tmpdir(), op, trial);
		st_copy_dir(template_dir, dir);
		if (run_child(op, dir, at, after, &killed) < 0) {
			VT_CHECK(0, "%s trial %d: the child failed without being killed",
				 op_names[op], trial);
			continue;
		}
		kills += killed;
		state = check_after(op, dir, why, sizeof(why));
		VT_CHECK(state >= 0, "%s killed %s change %ld of %ld: inconsistent: %s",
			 op_names[op], after ? "after" : "before", at, total, why);
		if (state >= 0)
			outcomes[state]++;
	}
	printf("\n    %s: %ld file changes, %d kills: %d rolled back, %d committed ",
	       op_names[op], total, kills, outcomes[0], outcomes[1]);
	VT_CHECK(kills == TRIALS_PER_OP, "%s: only %d of %d trials were killed", op_names[op],
		 kills, TRIALS_PER_OP);
	VT_CHECK(outcomes[0] > 0 && outcomes[1] > 0,
		 "%s: kills never landed on both sides of the commit (%d, %d)", op_names[op],
		 outcomes[0], outcomes[1]);
}

static void test_killed_mid_operation(void)
{
	unsigned seed = 20240601;
	int ret = make_template();

	VT_CHECK(ret == 0, "building the template gallery: %d", ret);
	if (ret)
		return;
	kill_trials(OP_ENROLL, &seed);
	kill_trials(OP_DELETE, &seed);
	kill_trials(OP_REVECTORIZE, &seed);
}

/* --- disk full ---------------------------------------------------------------- */

static char mount_refusal[256];

/* In a child with its own mount namespace: mounts a 256 KiB tmpfs at dir. */
static int mount_small_fs(const char *dir)
{
	if (unshare(CLONE_NEWNS)) {
		snprintf(mount_refusal, sizeof(mount_refusal), "unshare(CLONE_NEWNS): %s",
			 strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("visid-test", dir, "tmpfs", 0, "size=256k,mode=0700")) {
		snprintf(mount_refusal, sizeof(mount_refusal), "mount -t tmpfs: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

static const char *skip_without_mount(void)
{
	static char why[400];
	const char *photos = st_skip_without_photos();
	char dir[300];
	int fds[2], status;
	pid_t pid;

	if (photos)
		return photos;
	snprintf(dir, sizeof(dir), "%s/probe", visid_test_tmpdir());
	if (mkdir(dir, 0700) || pipe(fds))
		return "no scratch directory for the mount probe";
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int ret = mount_small_fs(dir);

		if (write(fds[1], mount_refusal, sizeof(mount_refusal)) < 0)
			ret = -1;
		_exit(ret ? 1 : 0);
	}
	close(fds[1]);
	mount_refusal[0] = 0;
	if (pid < 0 || read(fds[0], mount_refusal, sizeof(mount_refusal)) < 0)
		snprintf(mount_refusal, sizeof(mount_refusal), "fork failed");
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return NULL;
	snprintf(why, sizeof(why), "cannot mount a small tmpfs in a private mount namespace "
		 "(%s): needs root or CAP_SYS_ADMIN", mount_refusal);
	return why;
}

static char report[4096];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	size_t n = strlen(report);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(report + n, sizeof(report) - n, fmt, ap);
	va_end(ap);
	strncat(report, "\n", sizeof(report) - strlen(report) - 1);
}

static char full_log[2048];

static void capture_full(enum visid_log_level level, const char *msg, void *data)
{
	size_t n = strlen(full_log);

	snprintf(full_log + n, sizeof(full_log) - n, "%s\n", msg);
}

/* Fills the filesystem, then frees `spare` bytes of it. */
static int fill_disk(const char *path, size_t spare)
{
	static char block[4096];
	FILE *f = fopen(path, "wb");
	long written = 0;

	if (!f)
		return -errno;
	setvbuf(f, NULL, _IONBF, 0);
	while (fwrite(block, 1, sizeof(block), f) == sizeof(block))
		written += sizeof(block);
	fclose(f);
	return truncate(path, written > (long)spare ? written - (long)spare : 0) ? -errno : 0;
}

/* A gallery of one member, and a snapshot of its directory; 0 or -1 after saying why. */
static int seed_gallery(const struct visid_store_options *opt, struct st_snapshot *snap)
{
	const struct st_person *p = st_people();
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store *store;
	int ret;

	ret = visid_store_open(opt, &store);
	if (!ret) {
		st_slots(&p[0], st_model_a, slots);
		ret = visid_store_enroll(store, p[0].name, NULL, 0, slots, NULL);
		visid_store_close(store);
	}
	if (ret) {
		say("FAIL setting up the gallery in %s: %d", opt->dir, ret);
		return -1;
	}
	st_snapshot(opt->dir, snap);
	return 0;
}

/*
 * Runs body(arg) in a child with the log captured (limits and mounts stay
 * there) and checks what it said: any line with FAIL fails the test.
 */
static void run_in_child(void (*body)(const char *), const char *arg, const char *what)
{
	int fds[2], status;
	ssize_t got;
	pid_t pid;

	VT_CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		report[0] = 0;
		visid_log_set_handler(capture_full, NULL);
		visid_log_set_level(VISID_LOG_ERROR);
		body(arg);
		if (write(fds[1], report, strlen(report)) < 0)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	got = pid > 0 ? read(fds[0], report, sizeof(report) - 1) : -1;
	close(fds[0]);
	report[got > 0 ? got : 0] = 0;
	VT_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		 WEXITSTATUS(status) == 0, "%s: the child crashed", what);
	printf("\n%s", report);
	VT_CHECK(report[0] && !strstr(report, "FAIL"), "%s:\n%s", what, report);
}

/* The whole scenario runs in the child that owns the mount; failures come back as text. */
static void disk_full_child(const char *mnt)
{
	const struct st_person *p = st_people();
	static const size_t spare[] = { 0, 8192, 24576, 40960 };
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store_member m[VISID_STORE_MAX_MEMBERS];
	struct visid_store_options opt;
	struct visid_store *store;
	struct st_snapshot before, after;
	char dir[400], filler[400];
	const uint8_t *a, *b;
	size_t la, lb;
	int ret, n;

	snprintf(dir, sizeof(dir), "%s/state", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	st_options(&opt, dir, &clock_now);
	if (seed_gallery(&opt, &before))
		return;

	for (size_t i = 0; i < sizeof(spare) / sizeof(spare[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "%zu bytes free", spare[i]);
		ret = fill_disk(filler, spare[i]);
		if (!ret)
			ret = visid_store_open(&opt, &store);
		if (ret) {
			say("FAIL %s: opening a full gallery: %d", what, ret);
			continue;
		}
		full_log[0] = 0;
		st_slots(&p[1], st_model_a, slots);
		ret = visid_store_enroll(store, p[1].name, p[1].image[0], p[1].len[0], slots, NULL);
		if (ret != -ENOSPC)
			say("FAIL %s: enroll returned %d, not -ENOSPC", what, ret);
		if (!strstr(full_log, "disk is full") || !strstr(full_log, dir))
			say("FAIL %s: no clear message: %s", what, full_log);
		n = visid_store_list(store, m, VISID_STORE_MAX_MEMBERS);
		if (n != 1)
			say("FAIL %s: %d members after the failed enroll", what, n);
		visid_store_close(store);

		st_snapshot(dir, &after);
		a = st_snapshot_file(&before, "gallery.db", &la);
		b = st_snapshot_file(&after, "gallery.db", &lb);
		if (after.count != before.count || !a || !b || la != lb || memcmp(a, b, la))
			say("FAIL %s: the state directory changed (%d files, gallery %zu -> %zu "
			    "bytes)", what, after.count, la, lb);
		else
			say("%s: enroll refused with %d, gallery unchanged (%zu bytes)", what, ret,
			    la);
		st_snapshot_free(&after);
		unlink(filler);
	}
	ret = visid_store_open(&opt, &store);
	if (!ret) {
		ret = visid_store_enroll(store, p[1].name, NULL, 0, slots, NULL);
		visid_store_close(store);
	}
	if (ret)
		say("FAIL with space again, enrolling failed: %d", ret);
	st_snapshot_free(&before);
}

static void disk_full_scenario(const char *mnt)
{
	if (mount_small_fs(mnt))
		say("FAIL mounting: %s", mount_refusal);
	else
		disk_full_child(mnt);
}

static void test_disk_full_during_enroll(void)
{
	char mnt[300];

	snprintf(mnt, sizeof(mnt), "%s/small", visid_test_tmpdir());
	VT_CHECK(mkdir(mnt, 0700) == 0, "scratch mount point %s", mnt);
	run_in_child(disk_full_scenario, mnt, "disk full during enroll");
}

/*
 * A file size limit (RLIMIT_FSIZE, as a service manager may set) stops the
 * enroll's writes short: refused with that cause named, not "disk full",
 * and the gallery unchanged.
 */
static void fsize_child(const char *dir)
{
	const struct st_person *p = st_people();
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store_member m[VISID_STORE_MAX_MEMBERS];
	struct visid_store_options opt;
	struct visid_store *store;
	struct st_snapshot before, after;
	struct rlimit lim;
	const uint8_t *a, *b;
	size_t la, lb;
	int ret;

	st_options(&opt, dir, &clock_now);
	if (seed_gallery(&opt, &before))
		return;
	a = st_snapshot_file(&before, "gallery.db", &la);
	/* Room for what is there, not for a member's photo on top. */
	lim.rlim_cur = lim.rlim_max = la + 4096;
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &lim)) {
		say("FAIL setrlimit: %s", strerror(errno));
		return;
	}
	ret = visid_store_open(&opt, &store);
	if (!ret) {
		full_log[0] = 0;
		st_slots(&p[1], st_model_a, slots);
		ret = visid_store_enroll(store, p[1].name, p[1].image[0], p[1].len[0], slots, NULL);
		if (ret != -EFBIG)
			say("FAIL enroll returned %d, not -EFBIG", ret);
		if (!strstr(full_log, "file size limit") || !strstr(full_log, dir))
			say("FAIL no clear message: %s", full_log);
		if (visid_store_list(store, m, VISID_STORE_MAX_MEMBERS) != 1)
			say("FAIL a member was added or lost");
		visid_store_close(store);
	} else {
		say("FAIL opening the gallery under the limit: %d", ret);
	}
	st_snapshot(dir, &after);
	b = st_snapshot_file(&after, "gallery.db", &lb);
	if (after.count != before.count || !a || !b || la != lb || memcmp(a, b, la))
		say("FAIL the state directory changed (%d files, gallery %zu -> %zu bytes)",
		    after.count, la, lb);
	else if (!strstr(report, "FAIL"))
		say("enroll refused under a %llu-byte file size limit: %s",
		    (unsigned long long)lim.rlim_cur, full_log);
	st_snapshot_free(&after);
	st_snapshot_free(&before);
}

static void test_file_size_limit_during_enroll(void)
{
	char dir[300];

	snprintf(dir, sizeof(dir), "%s/fsize", visid_test_tmpdir());
	run_in_child(fsize_child, dir, "file size limit during enroll");
}

VISID_SUITE(store_fault, "store_fault", NULL, NULL, st_skip_without_photos,
	    VISID_TEST(test_killed_mid_operation), VISID_TEST(test_file_size_limit_during_enroll))

VISID_SUITE(store_disk_full, "store_disk_full", NULL, NULL, skip_without_mount,
	    VISID_TEST(test_disk_full_during_enroll))
