/*
 * manifest.tsv: visid_model_verify with the input as the manifest beside a
 * small model file. Any manifest either lets the model through or refuses it
 * with a logged error: as the model is always readable, the only results
 * are 0 and -EBADMSG. The seeds list the model with its real sum, so the
 * hashing path is reached too.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fuzz.h"
#include "model_check.h"

#define MODEL_NAME "m.tflite"
/* The model's bytes: tests/fuzz/make-seeds lists their sha256. */
#define MODEL_BYTES "TFL3 fuzz model"

static char dir[128], manifest_path[160], model_path[160];

static void remove_dir(void)
{
	unlink(manifest_path);
	unlink(model_path);
	rmdir(dir);
}

static int write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = size ? write(fd, data, size) : 0;
	close(fd);
	return n == (ssize_t)size ? 0 : -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	fuzz_quiet_log();
	snprintf(dir, sizeof(dir), "%s/visid-fuzz-manifest.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(manifest_path, sizeof(manifest_path), "%s/manifest.tsv", dir);
	snprintf(model_path, sizeof(model_path), "%s/" MODEL_NAME, dir);
	atexit(remove_dir);
	if (write_file(model_path, MODEL_BYTES, strlen(MODEL_BYTES)))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int ret;

	if (write_file(manifest_path, data, size))
		return 0;
	ret = visid_model_verify(model_path);
	if (ret != 0 && ret != -EBADMSG)
		__builtin_trap();
	return 0;
}
