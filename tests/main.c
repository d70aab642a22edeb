/*
 * visid-tests: runs every registered CUnit suite.
 *   visid-tests [-l] [-s SUITE] [-t TEST]
 * Exit status is 0 only when no assertion failed.
 */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/Basic.h>

#include "harness.h"
#include "visid/log.h"

static struct visid_test_suite *suites;
static char tmp_root[256];

void visid_test_register(struct visid_test_suite *suite)
{
	struct visid_test_suite **p = &suites;

	while (*p && strcmp((*p)->name, suite->name) < 0)
		p = &(*p)->next;
	suite->next = *p;
	*p = suite;
}

const char *visid_test_shared(const char *relative, char *buf, size_t len)
{
	const char *root = getenv("VISID_SHARED");

	snprintf(buf, len, "%s/%s", root ? root : "../shared", relative);
	return buf;
}

int visid_test_have_shared(const char *relative)
{
	char path[512];

	return access(visid_test_shared(relative, path, sizeof(path)), R_OK) == 0;
}

const char *visid_test_model(const char *file, char *buf, size_t len)
{
	const char *dir = getenv("VISID_MODEL_DIR");

	snprintf(buf, len, "%s/%s", dir ? dir : "models", file);
	return buf;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	chmod(path, 0700);
	return remove(path);
}

static void remove_tmp_root(void)
{
	if (tmp_root[0])
		nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *visid_test_tmpdir(void)
{
	static int serial;
	static char path[300];

	if (!tmp_root[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmp_root, sizeof(tmp_root), "%s/visid-tests.XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(tmp_root)) {
			tmp_root[0] = 0;
			return NULL;
		}
		atexit(remove_tmp_root);
	}
	snprintf(path, sizeof(path), "%s/%d", tmp_root, ++serial);
	if (mkdir(path, 0700))
		return NULL;
	return path;
}

long visid_test_read_f32(const char *path, float **out)
{
	FILE *f = fopen(path, "rb");
	long bytes;
	float *data;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	bytes = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc(bytes > 0 ? bytes : 1);
	if (!data || fread(data, 1, bytes, f) != (size_t)bytes) {
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	*out = data;
	return bytes / 4;
}

const char *visid_test_cli_backend(void)
{
	const char *b = getenv("VISID_TEST_CLI_BACKEND");

	return b && *b ? b : "cpu";
}

static int add_suite(struct visid_test_suite *s, const char *only_test, int *skipped)
{
	const char *why = s->skip ? s->skip() : NULL;
	CU_pSuite cu;

	if (why) {
		printf("SKIP suite '%s': %s\n", s->name, why);
		(*skipped)++;
		return 0;
	}
	cu = CU_add_suite(s->name, s->init, s->clean);
	if (!cu)
		return -1;
	for (CU_TestInfo *t = s->tests; t->pName; t++)
		if (!only_test || !strcmp(only_test, t->pName))
			if (!CU_add_test(cu, t->pName, t->pTestFunc))
				return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *only_suite = NULL, *only_test = NULL;
	int opt, skipped = 0, failed;

	while ((opt = getopt(argc, argv, "ls:t:")) != -1) {
		switch (opt) {
		case 'l':
			for (struct visid_test_suite *s = suites; s; s = s->next)
				for (CU_TestInfo *t = s->tests; t->pName; t++)
					printf("%s/%s\n", s->name, t->pName);
			return 0;
		case 's':
			only_suite = optarg;
			break;
		case 't':
			only_test = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-l] [-s SUITE] [-t TEST]\n", argv[0]);
			return 2;
		}
	}

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (struct visid_test_suite *s = suites; s; s = s->next) {
		if (only_suite && strcmp(only_suite, s->name))
			continue;
		if (add_suite(s, only_test, &skipped)) {
			fprintf(stderr, "cannot register suite %s\n", s->name);
			return 1;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	printf("\n%d suite(s) skipped (reasons above)\n", skipped);
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
