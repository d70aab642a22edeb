/*
 * visid_model_verify on copies of the fetched models beside a copy of the
 * real manifest: intact files pass, damaged ones are refused with the file and
 * both sums named, files the manifest does not list and directories without a
 * manifest load unchecked, and a damaged manifest is refused by line number.
 * (tests/test_faults.c checks scripts/fetch-models itself.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "model_check.h"
#include "visid/log.h"

static const char *const fetched[] = { "face_detection_full_range.tflite",
				       "face_detection_short_range.tflite",
				       "MobileFaceNet.tflite" };

static char log_text[8192];
static enum visid_log_level saved_level;

static void capture(enum visid_log_level level, const char *msg, void *data)
{
	size_t used = strlen(log_text);

	snprintf(log_text + used, sizeof(log_text) - used, "%s\n", msg);
}

static void log_begin(void)
{
	log_text[0] = '\0';
	saved_level = visid_log_get_level();
	visid_log_set_handler(capture, NULL);
	visid_log_set_level(VISID_LOG_INFO);
}

static void log_end(void)
{
	visid_log_set_handler(NULL, NULL);
	visid_log_set_level(saved_level);
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	char buf[65536];
	size_t n;
	int ret = 0;

	if (!out) {
		if (in)
			fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			ret = -1;
	if (ferror(in))
		ret = -1;
	fclose(in);
	if (fclose(out))
		ret = -1;
	return ret;
}

static int write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ret;

	if (!f)
		return -1;
	ret = fwrite(text, 1, len, f) == len ? 0 : -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

/* A fresh directory holding copies of the fetched models, and of the manifest if asked. */
static const char *model_copy(int with_manifest, char *dir, size_t len)
{
	const char *tmp = visid_test_tmpdir();
	char from[600], to[600];

	if (!tmp)
		return NULL;
	snprintf(dir, len, "%s", tmp);
	for (size_t i = 0; i < sizeof(fetched) / sizeof(fetched[0]); i++) {
		snprintf(to, sizeof(to), "%s/%s", dir, fetched[i]);
		if (copy_file(visid_test_model(fetched[i], from, sizeof(from)), to))
			return NULL;
	}
	snprintf(to, sizeof(to), "%s/manifest.tsv", dir);
	if (with_manifest && copy_file(visid_test_model("manifest.tsv", from, sizeof(from)), to))
		return NULL;
	return dir;
}

static int verify_in(const char *dir, const char *file)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return visid_model_verify(path);
}

/* The sum sha256sum computes, so the expected message does not rest on visid's own hashing. */
static int coreutils_sha256(const char *path, char *hex)
{
	char cmd[700];
	FILE *p;
	int ok;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	ok = fscanf(p, "%64s", hex) == 1 && strlen(hex) == 64;
	return pclose(p) == 0 && ok ? 0 : -1;
}

/* The real manifest's text, for tests that rewrite it. */
static char *real_manifest(size_t *len, int *lines)
{
	char path[600];
	FILE *f = fopen(visid_test_model("manifest.tsv", path, sizeof(path)), "rb");
	char *text = f ? calloc(1, 65536) : NULL;

	if (!text) {
		if (f)
			fclose(f);
		return NULL;
	}
	*len = fread(text, 1, 65535, f);
	fclose(f);
	*lines = 0;
	for (size_t i = 0; i < *len; i++)
		*lines += text[i] == '\n';
	return text;
}

static void test_fetched_models_pass(void)
{
	char dir[400];
	int ret;

	VT_CHECK(model_copy(1, dir, sizeof(dir)), "cannot copy the models to a scratch directory");
	log_begin();
	for (size_t i = 0; i < sizeof(fetched) / sizeof(fetched[0]); i++) {
		ret = verify_in(dir, fetched[i]);
		VT_CHECK(ret == 0, "%s: intact copy refused (%d)", fetched[i], ret);
	}
	log_end();
	VT_CHECK(!log_text[0], "intact models logged: %.300s", log_text);
}

/* One damaged file: refused, with the file, both sums and the fix in the message. */
static void expect_damage_named(const char *dir, const char *file)
{
	char path[600], actual[80];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	VT_CHECK(coreutils_sha256(path, actual) == 0, "sha256sum %.300s failed", path);
	log_begin();
	ret = visid_model_verify(path);
	log_end();
	VT_CHECK(ret == -EBADMSG, "%s: damaged file not refused: %d", file, ret);
	VT_CHECK(strstr(log_text, path) && strstr(log_text, actual) &&
		 strstr(log_text, "scripts/fetch-models"),
		 "message lacks the file, its sum %s or the fix: %.300s", actual, log_text);
	printf("\n    %.*s", (int)strcspn(log_text, "\n"), log_text);
}

static void test_flipped_byte_refused(void)
{
	const char *file = "face_detection_short_range.tflite";
	char dir[400], path[600];
	FILE *f;
	int c;

	VT_CHECK(model_copy(1, dir, sizeof(dir)), "cannot copy the models to a scratch directory");
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r+b");
	VT_CHECK(f != NULL, "cannot open %.300s", path);
	if (!f)
		return;
	fseek(f, 5000, SEEK_SET);
	c = getc(f);
	fseek(f, 5000, SEEK_SET);
	putc(c ^ 0x01, f);
	fclose(f);
	expect_damage_named(dir, file);
}

static void test_truncated_refused(void)
{
	const char *file = "MobileFaceNet.tflite";
	char dir[400], path[600];

	VT_CHECK(model_copy(1, dir, sizeof(dir)), "cannot copy the models to a scratch directory");
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	VT_CHECK(truncate(path, 1 << 20) == 0, "cannot truncate %.300s", path);
	expect_damage_named(dir, file);
}

/* A file the manifest does not list is a user's own model: loaded, with an info line. */
static void test_unlisted_file_allowed(void)
{
	char dir[400], from[600], to[600];
	int ret;

	VT_CHECK(model_copy(1, dir, sizeof(dir)), "cannot copy the models to a scratch directory");
	snprintf(from, sizeof(from), "%s/face_detection_short_range.tflite", dir);
	snprintf(to, sizeof(to), "%s/my_detector.tflite", dir);
	VT_CHECK(copy_file(from, to) == 0, "cannot copy %.300s", from);
	log_begin();
	ret = visid_model_verify(to);
	log_end();
	VT_CHECK(ret == 0, "unlisted model refused: %d", ret);
	VT_CHECK(strstr(log_text, "my_detector.tflite") && strstr(log_text, "not listed"),
		 "no line naming the unchecked model: '%.300s'", log_text);
}

/* Without a manifest nothing is checked and nothing said, even for a damaged file. */
static void test_no_manifest_allowed(void)
{
	char dir[400], path[600];
	int ret;

	VT_CHECK(model_copy(0, dir, sizeof(dir)), "cannot copy the models to a scratch directory");
	snprintf(path, sizeof(path), "%s/MobileFaceNet.tflite", dir);
	VT_CHECK(truncate(path, 4096) == 0, "cannot truncate %.300s", path);
	log_begin();
	for (size_t i = 0; i < sizeof(fetched) / sizeof(fetched[0]); i++) {
		ret = verify_in(dir, fetched[i]);
		VT_CHECK(ret == 0, "%s refused without a manifest: %d", fetched[i], ret);
	}
	ret = visid_model_verify("MobileFaceNet.tflite");
	VT_CHECK(ret == 0, "a bare file name refused: %d", ret);
	log_end();
	VT_CHECK(!log_text[0], "logged without a manifest: %.300s", log_text);
}

/*
 * A copy of the models whose manifest is the real one with extra appended,
 * plus copy.tflite, a copy of the short-range detector that extra may list.
 * Verifying file must give want. Returns the line number extra starts at.
 */
static int verify_with_extra(const char *extra, size_t extra_len, const char *file, int want)
{
	size_t len;
	int lines, ret;
	char *text = real_manifest(&len, &lines);
	char dir[400], path[600], copy[600];

	VT_CHECK(text && model_copy(0, dir, sizeof(dir)), "cannot prepare the models");
	if (!text)
		return -1;
	if (len && text[len - 1] != '\n')
		text[len++] = '\n', lines++;
	snprintf(path, sizeof(path), "%s/%s", dir, fetched[1]);
	snprintf(copy, sizeof(copy), "%s/copy.tflite", dir);
	VT_CHECK(copy_file(path, copy) == 0, "cannot copy %.300s", path);
	snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
	VT_CHECK(write_text(path, text, len) == 0, "cannot write %.300s", path);
	free(text);
	if (extra_len) {
		FILE *f = fopen(path, "ab");

		VT_CHECK(f && fwrite(extra, 1, extra_len, f) == extra_len, "cannot extend %.300s",
			 path);
		if (f)
			fclose(f);
	}
	log_begin();
	ret = verify_in(dir, file);
	log_end();
	VT_CHECK(ret == want, "%s with manifest + '%.60s...' (%zu bytes): %d, expected %d", file,
		 extra, extra_len, ret, want);
	return lines + 1;
}

static void expect_line_named(int lineno, const char *why)
{
	char where[40];

	snprintf(where, sizeof(where), "manifest.tsv:%d:", lineno);
	VT_CHECK(strstr(log_text, where) && strstr(log_text, why),
		 "no '%s' with '%s' in: %.300s", where, why, log_text);
}

static void test_malformed_manifest_refused(void)
{
	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "broken.tflite\tpkg\t1.0\n", "fewer than 5" },
		{ "\tpkg\t1.0\tpath\t"
		  "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633\tMIT\n",
		  "no file name" },
		{ "x.tflite\tpkg\t1.0\tpath\t3bc182eb\tMIT\n", "not 64 hex" },
		{ "x.tflite\tpkg\t1.0\tpath\t"
		  "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c2663g\tMIT\n",
		  "not 64 hex" },
	};
	int lineno;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lineno = verify_with_extra(bad[i].line, strlen(bad[i].line), fetched[0], -EBADMSG);
		expect_line_named(lineno, bad[i].why);
	}
	printf("\n    %.*s", (int)strcspn(log_text, "\n"), log_text);

	/* Comments and blank lines (also with CR LF) are not entries. */
	verify_with_extra("\n# another comment\r\n\r\n", 22, fetched[0], 0);
	VT_CHECK(!log_text[0], "comments or blank lines logged: %.300s", log_text);
}

/* Repeating a listed file's line is a damaged manifest, whichever sum comes first. */
static void test_file_listed_twice_refused(void)
{
	char first[512];
	size_t len;
	int lines, lineno;
	char *text = real_manifest(&len, &lines), *entry;

	VT_CHECK(text != NULL, "cannot read the real manifest");
	if (!text)
		return;
	entry = strstr(text, fetched[0]);
	VT_CHECK(entry && entry[-1] == '\n', "%s not listed in the real manifest", fetched[0]);
	if (!entry)
		goto out_free_text;
	snprintf(first, sizeof(first), "%.*s\n", (int)strcspn(entry, "\n"), entry);
	lineno = verify_with_extra(first, strlen(first), fetched[0], -EBADMSG);
	expect_line_named(lineno, "listed a second time");
out_free_text:
	free(text);
}

/*
 * The line reader at and past its 4096-byte buffer: an entry for copy.tflite
 * padded to 4095 bytes still matches; one byte more, a line of 100,000 bytes
 * without a newline, or a NUL byte make the manifest malformed. Run in the
 * sanitizer build, this also shows that no length overflows the buffer.
 */
static void test_long_lines_bounded(void)
{
	static const size_t sizes[] = { 4095, 4096, 100000 };
	char *line = malloc(100001), *text, *entry;
	size_t len, fields_len, n;
	int lines, lineno;

	text = real_manifest(&len, &lines);
	VT_CHECK(line && text, "out of memory or no manifest");
	if (!line || !text)
		goto out_free;
	entry = strstr(text, fetched[1]);
	VT_CHECK(entry != NULL, "%s not listed in the real manifest", fetched[1]);
	if (!entry)
		goto out_free;
	/* copy.tflite, then the short-range detector's fields, its licence padded with 'x'. */
	entry += strlen(fetched[1]);
	fields_len = strcspn(entry, "\n");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = (size_t)snprintf(line, 100001, "copy.tflite%.*s", (int)fields_len, entry);
		memset(line + n, 'x', sizes[i] - n);
		n = sizes[i];
		if (sizes[i] < 100000)
			line[n++] = '\n';
		lineno = verify_with_extra(line, n, "copy.tflite", i == 0 ? 0 : -EBADMSG);
		if (i)
			expect_line_named(lineno, "longer than 4096");
		else
			VT_CHECK(!log_text[0], "a 4095-byte entry was not matched: %.300s",
				 log_text);
	}
	memcpy(line, "a.tflite\0\tpkg\n", 14);
	lineno = verify_with_extra(line, 14, fetched[0], -EBADMSG);
	expect_line_named(lineno, "NUL");
out_free:
	free(line);
	free(text);
}

static const char *model_check_skip(void)
{
	char path[300];

	for (size_t i = 0; i < sizeof(fetched) / sizeof(fetched[0]); i++)
		if (access(visid_test_model(fetched[i], path, sizeof(path)), R_OK))
			return "models not fetched (make models, or set VISID_MODEL_DIR)";
	if (access(visid_test_model("manifest.tsv", path, sizeof(path)), R_OK))
		return "models/manifest.tsv not found beside the models";
	return NULL;
}

VISID_SUITE(model_check, "model_check", NULL, NULL, model_check_skip,
	    VISID_TEST(test_fetched_models_pass), VISID_TEST(test_flipped_byte_refused),
	    VISID_TEST(test_truncated_refused), VISID_TEST(test_unlisted_file_allowed),
	    VISID_TEST(test_no_manifest_allowed), VISID_TEST(test_malformed_manifest_refused),
	    VISID_TEST(test_file_listed_twice_refused), VISID_TEST(test_long_lines_bounded))
