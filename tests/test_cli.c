/*
 * The visid program end to end on real photos: enrollment from five angles,
 * refusal of an incomplete one, identification of members and strangers,
 * deletion and re-enrollment, and the device loop on labelled video frames.
 * Runs the built binary ($VISID_BIN, default build/visid) on the CPU backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define FACES "data/faces/"

static char state_dir[300];
static char out[1 << 18];

static const char *visid_bin(void)
{
	const char *bin = getenv("VISID_BIN");

	return bin ? bin : "build/visid";
}

/*
 * Runs visid with the given arguments (NULL-terminated) on the test gallery;
 * stdout goes to out[], stderr to the test log. Returns the exit status.
 */
static int run_visid(const char *first, ...)
{
	const char *argv[64];
	int argc = 0, pipefd[2], status;
	size_t used = 0;
	ssize_t n;
	va_list ap;
	pid_t pid;

	argv[argc++] = visid_bin();
	va_start(ap, first);
	for (const char *a = first; a && argc < 62; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		setenv("VISID_STATE_DIR", state_dir, 1);
		setenv("VISID_BACKEND", visid_test_cli_backend(), 1);
		setenv("VISID_CONFIG", "/dev/null", 1);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + used, sizeof(out) - 1 - used)) > 0)
		used += (size_t)n;
	out[used] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *shared(const char *rel)
{
	static char paths[16][512];
	static int next;
	char *p = paths[next++ % 16];

	visid_test_shared(rel, p, 512);
	return p;
}

/* The member named in the first identify line, "unknown", or "none". */
static const char *identified(void)
{
	static char name[80];
	char *m = strstr(out, "\"member\":");

	if (!m)
		return "none";
	if (!strncmp(m + 9, "null", 4))
		return "unknown";
	sscanf(m + 10, "%79[^\"]", name);
	return name;
}

static const char *skip_reason(void)
{
	if (access(visid_bin(), X_OK))
		return "the visid binary is not built ($VISID_BIN or build/visid)";
	if (!visid_test_have_shared(FACES "pose/pointing04"))
		return "../shared/data/faces is absent";
	return NULL;
}

static int init_gallery(void)
{
	const char *dir = visid_test_tmpdir();

	if (!dir)
		return -1;
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	return 0;
}

#define P04(person, file) shared(FACES "pose/pointing04/" person "/" file)

static void test_incomplete_enrollment_refused(void)
{
	int ret = run_visid("enroll", "frontonly", P04("person03", "s1_front.jpg"), NULL);

	VT_CHECK(ret == 1, "enrollment from one angle exited %d, want 1", ret);
	ret = run_visid("list", NULL);
	VT_CHECK(!strstr(out, "frontonly"), "refused member listed anyway: %.200s", out);
}

static void test_five_angles_then_identify(void)
{
	static const char *const people[] = { "person01", "person02" };
	char path[5][512];
	int ret;

	for (int i = 0; i < 2; i++) {
		static const char *const files[] = { "s1_front.jpg", "s1_left30.jpg",
						      "s1_right30.jpg", "s1_up30.jpg",
						      "s1_down30.jpg" };
		char rel[128];

		for (int f = 0; f < 5; f++) {
			snprintf(rel, sizeof(rel), FACES "pose/pointing04/%s/%s", people[i],
				 files[f]);
			visid_test_shared(rel, path[f], sizeof(path[f]));
		}
		ret = run_visid("enroll", people[i], path[0], path[1], path[2], path[3], path[4],
				NULL);
		VT_CHECK(ret == 0, "five-angle enrollment of %s exited %d: %.200s", people[i], ret,
			 out);
	}
	ret = run_visid("identify", P04("person01", "s2_front.jpg"), NULL);
	VT_CHECK(ret == 0 && !strcmp(identified(), "person01"),
		 "person01's other series identified as '%s' (exit %d)", identified(), ret);
	run_visid("identify", P04("person02", "s2_front.jpg"), NULL);
	VT_CHECK(!strcmp(identified(), "person02"), "person02's other series identified as '%s'",
		 identified());
	run_visid("identify", P04("person05", "s2_front.jpg"), NULL);
	VT_CHECK(!strcmp(identified(), "unknown"), "a stranger identified as '%s'", identified());
}

/*
 * The suite's gallery is shared and its tests build on each other in order;
 * a test run alone (-t) enrolls the member it builds on itself.
 */
static void need_member(const char *name)
{
	run_visid("list", NULL);
	if (strstr(out, name))
		return;
	if (!strcmp(name, "person01"))
		run_visid("enroll", name, P04("person01", "s1_front.jpg"),
			  P04("person01", "s1_left30.jpg"), P04("person01", "s1_right30.jpg"),
			  P04("person01", "s1_up30.jpg"), P04("person01", "s1_down30.jpg"), NULL);
	else
		run_visid("enroll", name, "--partial",
			  shared(FACES "identity/face_recognition/barack_obama/obama.jpg"), NULL);
}

/* Five angles of five different people, or a face already enrolled: refused. */
static void test_mixed_people_refused(void)
{
	int ret;

	need_member("person01");
	ret = run_visid("enroll", "mixed", P04("person08", "s1_front.jpg"),
			    P04("person09", "s1_left30.jpg"), P04("person10", "s1_right30.jpg"),
			    P04("person11", "s1_up30.jpg"), P04("person12", "s1_down30.jpg"), NULL);

	VT_CHECK(ret == 1, "five people enrolled as one member: exit %d", ret);
	ret = run_visid("enroll", "twin", "--partial", P04("person01", "s2_left30.jpg"), NULL);
	VT_CHECK(ret == 1, "person01 enrolled a second time under another name: exit %d", ret);
	run_visid("list", NULL);
	VT_CHECK(!strstr(out, "mixed") && !strstr(out, "twin"),
		 "a refused member is listed: %.200s", out);
}

static void test_strangers_and_no_faces(void)
{
	static const char *const strangers[] = {
		FACES "identity/face_recognition/joe_biden/biden.jpg",
		FACES "identity/insightface/tom_hanks/Tom_Hanks_54745.png",
		FACES "pose/pointing04/person07/s1_front.jpg",
	};
	int ret;

	ret = run_visid("enroll", "obama", "--partial",
			shared(FACES "identity/face_recognition/barack_obama/obama.jpg"),
			shared(FACES "identity/face_recognition/barack_obama/obama1.jpg"), NULL);
	VT_CHECK(ret == 0, "partial enrollment exited %d", ret);
	run_visid("identify", shared(FACES "identity/face_recognition/barack_obama/obama2.jpg"),
		  NULL);
	VT_CHECK(!strcmp(identified(), "obama"), "obama2.jpg identified as '%s'", identified());
	for (size_t i = 0; i < sizeof(strangers) / sizeof(strangers[0]); i++) {
		if (!visid_test_have_shared(strangers[i]))
			continue;
		run_visid("identify", shared(strangers[i]), NULL);
		VT_CHECK(!strcmp(identified(), "unknown"), "stranger %s identified as '%s'",
			 strangers[i], identified());
	}
	ret = run_visid("identify", shared(FACES "noface/faceapi_white.png"), NULL);
	VT_CHECK(!strstr(out, "\"member\""), "a face found in a blank frame: %.200s", out);
}

static void test_delete_and_reenroll(void)
{
	int ret;

	need_member("obama");
	ret = run_visid("delete", "obama", NULL);
	VT_CHECK(ret == 0, "delete exited %d", ret);
	run_visid("identify", shared(FACES "identity/face_recognition/barack_obama/obama2.jpg"),
		  NULL);
	VT_CHECK(!strcmp(identified(), "unknown"), "deleted member still identified: '%s'",
		 identified());
	ret = run_visid("delete", "obama", NULL);
	VT_CHECK(ret == 1, "deleting a missing member exited %d, want 1", ret);
	ret = run_visid("enroll", "obama", "--partial",
			shared(FACES "identity/face_recognition/barack_obama/obama.jpg"), NULL);
	VT_CHECK(ret == 0, "re-enrollment exited %d", ret);
	run_visid("identify", shared(FACES "identity/face_recognition/barack_obama/obama2.jpg"),
		  NULL);
	VT_CHECK(!strcmp(identified(), "obama"), "re-enrolled member identified as '%s'",
		 identified());
}

/*
 * Guided enrollment as from a camera: the frames (a directory standing in
 * for the camera, looping) show a motion-blurred face, then the five angles.
 * Each angle is asked for in turn; the blurred frame is refused with its
 * reason.
 */
static void test_guided_enrollment(void)
{
	static const char *const frames[] = {
		FACES "blur/derived/%s",
		FACES "pose/pointing04/person01/s1_front.jpg",
		FACES "pose/pointing04/person01/s1_left30.jpg",
		FACES "pose/pointing04/person01/s1_right30.jpg",
		FACES "pose/pointing04/person01/s1_up30.jpg",
		FACES "pose/pointing04/person01/s1_down30.jpg",
	};
	char dir[300], link[400], src[320], rel[200], target[PATH_MAX];
	int ret;

	run_visid("delete", "--all", NULL);
	snprintf(dir, sizeof(dir), "%s", visid_test_tmpdir());
	for (int i = 0; i < 6; i++) {
		snprintf(rel, sizeof(rel), frames[i], "barack_obama_obama2_motion15.jpg");
		snprintf(link, sizeof(link), "%s/%d.jpg", dir, i);
		VT_CHECK(realpath(shared(rel), target) && symlink(target, link) == 0,
			 "cannot link %.200s", rel);
	}
	snprintf(src, sizeof(src), "dir:%s", dir);
	ret = run_visid("enroll", "guided", "--camera", "--loop", "--source", src, "--timeout",
			"60", NULL);
	VT_CHECK(ret == 0, "guided enrollment exited %d: %.300s", ret, out);
	VT_CHECK(strstr(out, "blurred"), "the blurred frame was not refused: %.300s", out);
	VT_CHECK(strstr(out, "Look straight at the camera") && strstr(out, "Captured: front") &&
		     strstr(out, "Tilt your head slightly down") && strstr(out, "Captured: down"),
		 "the angles were not asked for and captured in turn: %.300s", out);
	run_visid("identify", P04("person01", "s2_front.jpg"), NULL);
	VT_CHECK(!strcmp(identified(), "guided"), "the guided member identified as '%s'",
		 identified());
}

/* Which members a "frame" event names (bit 0 miranda, 1 lacamoire, 2 obama, 3 other). */
static unsigned members_in(const char *line)
{
	static const char *const names[] = { "miranda", "lacamoire", "obama" };
	unsigned bits = 0;

	for (const char *m = strstr(line, "\"member\":\""); m; m = strstr(m + 1, "\"member\":\"")) {
		int known = 0;

		for (int i = 0; i < 3; i++)
			if (!strncmp(m + 10, names[i], strlen(names[i]))) {
				bits |= 1u << i;
				known = 1;
			}
		if (!known)
			bits |= 1u << 3;
	}
	return bits;
}

/*
 * The device loop on the labelled Hamilton frames: 000-003 Miranda small on
 * stage, 004-013 Lacamoire in profile, 014-035 Miranda near-frontal,
 * 036-045 the audience with Barack Obama. Frames within a detection interval
 * of a scene cut may still show the previous track.
 */
static void test_run_on_labelled_video(void)
{
	char src[600], *line;
	int ret, miranda_hits = 0, wrong = 0, frames = 0;

	run_visid("delete", "--all", NULL);
	ret = run_visid("enroll", "miranda", "--partial",
			shared(FACES "identity/face_recognition/lin_manuel_miranda/"
				     "lin-manuel-miranda.jpg"), NULL);
	VT_CHECK(ret == 0, "enrolling miranda exited %d", ret);
	run_visid("enroll", "lacamoire", "--partial",
		  shared(FACES "identity/face_recognition/alex_lacamoire/alex-lacamoire.png"),
		  NULL);
	run_visid("enroll", "obama", "--partial",
		  shared(FACES "identity/face_recognition/barack_obama/obama.jpg"),
		  shared(FACES "identity/face_recognition/barack_obama/obama1.jpg"), NULL);
	snprintf(src, sizeof(src), "dir:%s", shared(FACES "video/hamilton_frames"));
	ret = run_visid("run", "--source", src, "--no-control", "--frame-events", NULL);
	VT_CHECK(ret == 0, "visid run exited %d", ret);

	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned seen;
		int n;

		if (!strstr(line, "\"event\":\"frame\"") ||
		    sscanf(strstr(line, "\"frame\":") + 8, "%d", &n) != 1)
			continue;
		frames++;
		seen = members_in(line);
		if (n >= 14 && n <= 35 && (seen & 1))
			miranda_hits++;
		if (seen & 8)
			wrong++;
		if (n >= 7 && n <= 13 && (seen & ~2u))
			wrong++;
		if (n >= 17 && n <= 35 && (seen & ~1u))
			wrong++;
		if (n >= 39 && (seen & ~4u))
			wrong++;
	}
	VT_CHECK(frames == 46, "%d frame events, want 46", frames);
	VT_CHECK(miranda_hits >= 20, "Miranda recognised in %d of his 22 near-frontal frames",
		 miranda_hits);
	VT_CHECK(wrong == 0, "%d frames name somebody the labels do not show", wrong);
}

/* Whether the file contains the text. */
static int file_has(const char *path, const char *text)
{
	static char buf[1 << 18];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return strstr(buf, text) != NULL;
}

/*
 * The daemon and its control socket, as a companion app uses them: status,
 * list, find, delete (the daemon reloads its gallery), then SIGTERM.
 */
static void test_daemon_control(void)
{
	char sock[400], src[600], log[420];
	int ret, status = -1;
	pid_t pid;

	run_visid("delete", "--all", NULL);
	run_visid(
	    "enroll", "miranda", "--partial",
	    shared(FACES "identity/face_recognition/lin_manuel_miranda/lin-manuel-miranda.jpg"),
	    NULL);
	run_visid("enroll", "lacamoire", "--partial",
		  shared(FACES "identity/face_recognition/alex_lacamoire/alex-lacamoire.png"),
		  NULL);
	run_visid("enroll", "obama", "--partial",
		  shared(FACES "identity/face_recognition/barack_obama/obama.jpg"), NULL);
	snprintf(sock, sizeof(sock), "%s/control.sock", visid_test_tmpdir());
	snprintf(log, sizeof(log), "%s.log", sock);
	snprintf(src, sizeof(src), "dir:%s", shared(FACES "video/hamilton_frames"));
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		setenv("VISID_STATE_DIR", state_dir, 1);
		setenv("VISID_BACKEND", visid_test_cli_backend(), 1);
		setenv("VISID_CONFIG", "/dev/null", 1);
		execl(visid_bin(), visid_bin(), "run", "--source", src, "--loop", "--control", sock,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && access(sock, F_OK); i++)
		usleep(100000);
	VT_CHECK(access(sock, F_OK) == 0, "the daemon made no control socket at %.200s", sock);

	ret = run_visid("ctl", "--socket", sock, "status", NULL);
	VT_CHECK(ret == 0 && strstr(out, "\"members\":3"), "status: exit %d, '%.200s'", ret,
		 out);
	ret = run_visid("ctl", "--socket", sock, "list", NULL);
	VT_CHECK(ret == 0 && strstr(out, "lacamoire"), "list: exit %d, '%.200s'", ret, out);
	ret = run_visid("ctl", "--socket", sock, "find", "miranda", NULL);
	VT_CHECK(ret == 0 && strstr(out, "looking_for"), "find: exit %d, '%.200s'", ret, out);
	/* Miranda shows in the looping frames: found, and the daemon runs on. */
	for (int i = 0; i < 1200 && !file_has(log, "\"event\":\"found\""); i++)
		usleep(100000);
	VT_CHECK(file_has(log, "\"event\":\"found\""), "no found event in %.200s", log);
	ret = run_visid("ctl", "--socket", sock, "find", "nobody", NULL);
	VT_CHECK(ret == 1 && strstr(out, "no member named 'nobody'"),
		 "find of a stranger: exit %d, '%.200s'", ret, out);
	ret = run_visid("ctl", "--socket", sock, "delete", "lacamoire", NULL);
	VT_CHECK(ret == 0 && strstr(out, "deleted"), "delete: exit %d, '%.200s'", ret, out);
	ret = run_visid("ctl", "--socket", sock, "status", NULL);
	VT_CHECK(strstr(out, "\"members\":2"), "after delete: '%.200s'", out);
	ret = run_visid("list", NULL);
	VT_CHECK(!strstr(out, "lacamoire"), "deleted member still stored: %.200s", out);

	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	VT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "the daemon did not exit cleanly on SIGTERM (status %d)", status);
	VT_CHECK(access(sock, F_OK) != 0, "control socket left behind");
}

/*
 * The README's demonstration: the people of the demo photo sample3.jpg are
 * enrolled; in the other photos exactly one face (in sample1.jpg, the same
 * woman with her head tilted) is recognised, and nobody else matches.
 */
static void test_demo_photos(void)
{
	char path[700], dir[300], link[600], target[600];
	int ret, recognised = 0, wrong = 0;
	char *line;

	if (access("models/samples/sample3.jpg", R_OK)) {
		fprintf(stderr,
			"\n    SKIP: models/samples absent (scripts/fetch-models --samples)");
		return;
	}
	run_visid("delete", "--all", NULL);
	for (int i = 1; i <= 3; i++) {
		char name[16], face[8];

		snprintf(name, sizeof(name), "person%d", i);
		snprintf(face, sizeof(face), "%d", i);
		ret = run_visid("enroll", name, "--partial", "--face", face,
				"models/samples/sample3.jpg", NULL);
		VT_CHECK(ret == 0, "enrolling face %d of sample3.jpg exited %d", i, ret);
	}
	snprintf(dir, sizeof(dir), "%s", visid_test_tmpdir());
	for (int n = 1; n <= 6; n++) {
		if (n == 3)
			continue;
		snprintf(target, sizeof(target), "%s/models/samples/sample%d.jpg",
			 getcwd(path, sizeof(path)), n);
		snprintf(link, sizeof(link), "%s/sample%d.jpg", dir, n);
		VT_CHECK(symlink(target, link) == 0, "cannot link %.200s", link);
	}
	snprintf(path, sizeof(path), "dir:%s", dir);
	ret = run_visid("run", "--stills", "--source", path, "--no-control", NULL);
	VT_CHECK(ret == 0, "visid run exited %d", ret);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strstr(line, "\"event\":\"recognised\""))
			continue;
		if (strstr(line, "\"frame\":0,") && strstr(line, "\"member\":\"person1\""))
			recognised++;
		else
			wrong++;
	}
	VT_CHECK(recognised == 1, "the woman of sample3.jpg recognised %d times in sample1.jpg",
		 recognised);
	VT_CHECK(wrong == 0, "%d other faces matched a member", wrong);
}

VISID_SUITE(cli, "cli", init_gallery, NULL, skip_reason,
	    VISID_TEST(test_incomplete_enrollment_refused),
	    VISID_TEST(test_five_angles_then_identify), VISID_TEST(test_mixed_people_refused),
	    VISID_TEST(test_strangers_and_no_faces), VISID_TEST(test_delete_and_reenroll),
	    VISID_TEST(test_guided_enrollment), VISID_TEST(test_run_on_labelled_video),
	    VISID_TEST(test_daemon_control), VISID_TEST(test_demo_photos))
