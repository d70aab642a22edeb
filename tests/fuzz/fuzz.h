/*
 * What the libFuzzer targets of tests/fuzz share: the input as a file that
 * never touches the disk (a memfd named through /proc/self/fd), and the
 * library's log kept quiet while still formatting every message, so a bad
 * format argument is still caught by the sanitizers.
 */
#ifndef VISID_FUZZ_H
#define VISID_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "visid/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void fuzz_log_sink(enum visid_log_level level, const char *msg, void *data)
{
	/* Reading the message makes an unterminated one visible to ASan. */
	volatile size_t n = 0;

	while (msg[n])
		n++;
}

/* Quiet unless FUZZ_VERBOSE is set, for reproducing one input by hand. */
static inline void fuzz_quiet_log(void)
{
	if (!getenv("FUZZ_VERBOSE")) {
		visid_log_set_level(VISID_LOG_DEBUG);
		visid_log_set_handler(fuzz_log_sink, NULL);
	}
}

/*
 * The input as a file: returns the memfd (close it when done) and writes
 * its /proc/self/fd path into path, or -1.
 */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	lseek(fd, 0, SEEK_SET);
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
