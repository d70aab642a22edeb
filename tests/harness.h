/*
 * The regression suite's harness: each file of tests/ declares its suites with
 * VISID_SUITE and they register themselves; main.c runs them with CUnit.
 * A suite whose "skip" hook returns a reason is reported as skipped with that
 * reason instead of silently passing.
 */
#ifndef VISID_TEST_HARNESS_H
#define VISID_TEST_HARNESS_H

#include <stdio.h>
#include <CUnit/CUnit.h>

struct visid_test_suite {
	const char *name;
	int (*init)(void);
	int (*clean)(void);
	/* NULL when the suite can run here, otherwise why it cannot. */
	const char *(*skip)(void);
	CU_TestInfo *tests;
	struct visid_test_suite *next;
};

void visid_test_register(struct visid_test_suite *suite);

#define VISID_SUITE(ident, name_, init_, clean_, skip_, ...)                                   \
	static CU_TestInfo ident##_tests[] = { __VA_ARGS__, CU_TEST_INFO_NULL };               \
	static struct visid_test_suite ident##_suite = { name_, init_, clean_, skip_,          \
							 ident##_tests, NULL };                \
	__attribute__((constructor)) static void ident##_register(void)                        \
	{                                                                                      \
		visid_test_register(&ident##_suite);                                           \
	}

#define VISID_TEST(fn) { #fn, fn }

/* A check that prints file:line and the values when it fails. */
#define VT_CHECK(cond, ...)                                                                    \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			char vt_msg_[512];                                                     \
			snprintf(vt_msg_, sizeof(vt_msg_), __VA_ARGS__);                       \
			fprintf(stderr, "\n    FAIL %s:%d: %s\n", __FILE__, __LINE__, vt_msg_); \
			CU_assertImplementation(CU_FALSE, __LINE__, vt_msg_, __FILE__, "",      \
						CU_FALSE);                                     \
		} else {                                                                       \
			CU_assertImplementation(CU_TRUE, __LINE__, #cond, __FILE__, "",         \
						CU_FALSE);                                     \
		}                                                                              \
	} while (0)

/* Path of a file under the shared test data (../shared, or $VISID_SHARED). */
const char *visid_test_shared(const char *relative, char *buf, size_t len);
/* 1 when ../shared/<relative> exists. */
int visid_test_have_shared(const char *relative);
/* Path of a fetched model file (models/, or $VISID_MODEL_DIR). */
const char *visid_test_model(const char *file, char *buf, size_t len);
/*
 * The backend the visid program gets when a test starts it: cpu, or
 * $VISID_TEST_CLI_BACKEND (tests/sanitize/run sets vulkan, see there).
 */
const char *visid_test_cli_backend(void);
/* A fresh private scratch directory under $TMPDIR, removed at exit. */
const char *visid_test_tmpdir(void);
/* Reads a whole little-endian float32 file; returns count or -1. */
long visid_test_read_f32(const char *path, float **out);

#endif
