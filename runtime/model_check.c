/*
 * Model files checked against their manifest before the loader parses them.
 * A damaged or substituted file would otherwise fail late as a parse error
 * somewhere in the flatbuffer, or worse, load and compute wrong embeddings
 * that no longer match the gallery.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "model_check.h"
#include "visid/log.h"

#define MANIFEST_NAME "manifest.tsv"
/* Far above any real line (about 200 bytes); a longer one is malformed, not truncated. */
#define MANIFEST_LINE_MAX 4096
/* file, package, version, path in tarball, sha256, licence */
#define MANIFEST_FIELDS 6
#define FIELD_FILE 0
#define FIELD_SHA256 4
#define SHA256_HEX_LEN (2 * crypto_hash_sha256_BYTES)

/* 0 when a line is read, -ENODATA at the end, -E2BIG, -EILSEQ (a NUL) or -EIO. */
static int read_line(FILE *f, char *buf, size_t size)
{
	size_t len = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			return -EILSEQ;
		if (len + 1 >= size)
			return -E2BIG;
		buf[len++] = (char)c;
	}
	if (c == EOF && ferror(f))
		return -EIO;
	if (c == EOF && len == 0)
		return -ENODATA;
	if (len && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return 0;
}

/* NULL when line is a well-formed entry, else what is wrong with it. */
static const char *parse_entry(char *line, char **file, char **sha256)
{
	char *field[MANIFEST_FIELDS];
	int n = 0;

	for (char *p = line; p && n < MANIFEST_FIELDS; n++) {
		field[n] = p;
		p = strchr(p, '\t');
		if (p)
			*p++ = '\0';
	}
	if (n <= FIELD_SHA256)
		return "fewer than 5 tab-separated fields";
	if (!*field[FIELD_FILE])
		return "no file name";
	if (strlen(field[FIELD_SHA256]) != SHA256_HEX_LEN)
		return "the sha256 field is not 64 hex digits";
	for (char *p = field[FIELD_SHA256]; *p; p++) {
		if (!isxdigit((unsigned char)*p))
			return "the sha256 field is not 64 hex digits";
		*p = (char)tolower((unsigned char)*p);
	}
	*file = field[FIELD_FILE];
	*sha256 = field[FIELD_SHA256];
	return NULL;
}

/*
 * Reads the whole manifest, so a damaged one is refused whichever line is
 * damaged. 1 and the sum in expected when it lists name, 0 when it does not,
 * -EBADMSG when a line is malformed or name is listed twice.
 */
static int manifest_lookup(FILE *f, const char *manifest, const char *name, char *expected)
{
	char line[MANIFEST_LINE_MAX], *file, *sha256;
	const char *why;
	int found = 0, ret;

	for (int lineno = 1;; lineno++) {
		ret = read_line(f, line, sizeof(line));
		if (ret == -ENODATA)
			return found;
		if (ret == -EIO) {
			visid_err("%s:%d: read error", manifest, lineno);
			return ret;
		}
		if (ret == -E2BIG)
			why = "line longer than 4096 bytes";
		else if (ret == -EILSEQ)
			why = "a NUL byte";
		else if (line[0] == '#' || line[0] == '\0')
			continue;
		else
			why = parse_entry(line, &file, &sha256);
		if (why) {
			visid_err("%s:%d: malformed model manifest (%s); restore it from "
				  "models/manifest.tsv of the source tree (make install)",
				  manifest, lineno, why);
			return -EBADMSG;
		}
		if (strcmp(file, name))
			continue;
		if (found) {
			visid_err("%s:%d: %s is listed a second time", manifest, lineno, name);
			return -EBADMSG;
		}
		memcpy(expected, sha256, SHA256_HEX_LEN + 1);
		found = 1;
	}
}

static int file_sha256(const char *path, char *hex)
{
	unsigned char digest[crypto_hash_sha256_BYTES], buf[65536];
	crypto_hash_sha256_state state;
	size_t n;
	FILE *f;
	int ret = 0;

	if (sodium_init() < 0) {
		visid_err("%s: libsodium could not be initialised to check the model", path);
		return -EIO;
	}
	f = fopen(path, "rb");
	if (!f) {
		ret = -errno;
		visid_err("%s: cannot open model: %s", path, strerror(-ret));
		return ret;
	}
	crypto_hash_sha256_init(&state);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_hash_sha256_update(&state, buf, n);
	if (ferror(f)) {
		visid_err("%s: read error while checking the model", path);
		ret = -EIO;
	}
	fclose(f);
	crypto_hash_sha256_final(&state, digest);
	sodium_bin2hex(hex, SHA256_HEX_LEN + 1, digest, sizeof(digest));
	return ret;
}

int visid_model_verify(const char *path)
{
	char manifest[4096], expected[SHA256_HEX_LEN + 1], actual[SHA256_HEX_LEN + 1];
	const char *name = strrchr(path, '/');
	int dir_len, ret;
	FILE *f;

	name = name ? name + 1 : path;
	dir_len = (int)(name - path);
	if (!*name) {
		visid_err("%s: a directory, not a model file", path);
		return -EISDIR;
	}
	if (snprintf(manifest, sizeof(manifest), "%.*s%s", dir_len, path, MANIFEST_NAME) >=
	    (int)sizeof(manifest)) {
		visid_err("%s: path too long to look for its manifest", path);
		return -ENAMETOOLONG;
	}

	f = fopen(manifest, "r");
	if (!f) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		ret = -errno;
		visid_err("%s: cannot read the manifest to check %s: %s", manifest, name,
			  strerror(-ret));
		return ret;
	}
	ret = manifest_lookup(f, manifest, name, expected);
	fclose(f);
	if (ret < 0)
		return ret;
	if (!ret) {
		visid_info("%s: not listed in %s, so loaded without a checksum check", path,
			   manifest);
		return 0;
	}

	ret = file_sha256(path, actual);
	if (ret)
		return ret;
	if (strcmp(actual, expected)) {
		visid_err("%s: sha256 %s, but %s expects %s: the file is damaged or not the one "
			  "fetched; re-run scripts/fetch-models %.*s", path, actual, manifest,
			  expected, dir_len ? dir_len : 1, dir_len ? path : ".");
		return -EBADMSG;
	}
	return 0;
}
