/*
 * match_check: prints the report of tests/neon/match_data.h for each
 * dot-product path this machine has (all of them unless paths are named on
 * the command line). Built for arm64 by tests/neon/run.sh and run under
 * qemu-user, its output is compared with the x86 paths by tests/test_match.c.
 */
#include <stdio.h>

#include "match_data.h"

static int report(struct visid_gallery *g, enum visid_simd simd)
{
	char line[512];

	printf("# path %s\n", visid_simd_name(simd));
	for (int i = 0; i < MD_QUERIES; i++) {
		int ret = md_report_line(g, simd, i, line, sizeof(line));

		if (ret) {
			fprintf(stderr, "match_check: query %d on %s failed (%d)\n", i,
				visid_simd_name(simd), ret);
			return 1;
		}
		puts(line);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct visid_gallery *g;
	enum visid_simd simd;
	int failed = 0;

	if (md_build_gallery(&g)) {
		fprintf(stderr, "match_check: cannot build the gallery\n");
		return 1;
	}
	if (argc > 1) {
		for (int a = 1; a < argc && !failed; a++) {
			if (visid_simd_parse(argv[a], &simd) || !visid_simd_supported(simd)) {
				fprintf(stderr, "match_check: path %s not available\n", argv[a]);
				failed = 1;
			} else {
				failed = report(g, simd);
			}
		}
	} else {
		for (simd = VISID_SIMD_PORTABLE; simd < VISID_SIMD_COUNT && !failed; simd++)
			if (visid_simd_supported(simd))
				failed = report(g, simd);
	}
	visid_gallery_destroy(g);
	return failed;
}
