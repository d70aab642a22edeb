/*
 * The hardware suites on real kernel drivers: tests/vm/run boots Debian's
 * 6.12 kernel under QEMU with vivid and virtio-gpu and runs this very binary
 * there (suites hal_v4l2, hal_drm, hal_zero_copy, hal_probe, hal_chain). The
 * suite is skipped, with the reason, when QEMU, a static busybox or the
 * kernel package is unavailable, when VISID_VM=0, and inside the VM itself.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define RUN_SCRIPT "tests/vm/run"

static char reason[400];

static int inside_vm(void)
{
	char line[1024] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	return strstr(line, "visid_vm=1") != NULL;
}

/* Runs the script's preparation (tools, kernel download); its last line is the reason. */
static const char *vm_skip(void)
{
	const char *env = getenv("VISID_VM");
	char line[300] = "";
	FILE *p;
	int status;

	if (inside_vm())
		return "already inside the test VM";
	if (env && !strcmp(env, "0"))
		return "VISID_VM=0";
	if (access(RUN_SCRIPT, X_OK))
		return "no " RUN_SCRIPT " here (run the tests from the repository root)";
	p = popen(RUN_SCRIPT " --prepare 2>&1", "r");
	if (!p)
		return "cannot run " RUN_SCRIPT;
	while (fgets(line, sizeof(line), p))
		;
	status = pclose(p);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return NULL;
	line[strcspn(line, "\n")] = 0;
	snprintf(reason, sizeof(reason), "%s", line[0] ? line : RUN_SCRIPT " --prepare failed");
	return reason;
}

static void test_hal_suites_on_vivid_and_virtio_gpu(void)
{
	char self[PATH_MAX], cmd[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int status;

	VT_CHECK(n > 0, "cannot find this binary (/proc/self/exe)");
	if (n <= 0)
		return;
	self[n] = 0;
	snprintf(cmd, sizeof(cmd), RUN_SCRIPT " '%s'", self);
	printf("\n");
	fflush(stdout);
	status = system(cmd);
	VT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "%s exited with status %d (output above)", RUN_SCRIPT,
		 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

VISID_SUITE(vm, "vm", NULL, NULL, vm_skip, VISID_TEST(test_hal_suites_on_vivid_and_virtio_gpu))
