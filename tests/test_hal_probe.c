/*
 * visid-probe, run as a program: its JSON must list what the library itself
 * finds (cameras, display cards) and choose the zero-copy path that the
 * Vulkan extensions it reports allow. In the VM it sees vivid and virtio-gpu.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "harness.h"
#include "visid/hal.h"

static char probe_path[PATH_MAX];

static const char *probe_skip(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return "cannot find the test binary's directory (/proc/self/exe)";
	self[n] = 0;
	slash = strrchr(self, '/');
	*slash = 0;
	snprintf(probe_path, sizeof(probe_path), "%.3000s/visid-probe", self);
	if (access(probe_path, X_OK))
		return "visid-probe is not built next to visid-tests";
	return NULL;
}

static cJSON *run_probe(void)
{
	char cmd[PATH_MAX + 32], *text = NULL;
	size_t len = 0, cap = 0;
	cJSON *root = NULL;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' --json", probe_path);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *grown = realloc(text, cap = cap * 2 + 8192);

			if (!grown)
				break;
			text = grown;
		}
		size_t got = fread(text + len, 1, 4096, p);

		if (!got)
			break;
		len += got;
	}
	if (pclose(p) == 0 && text) {
		text[len] = 0;
		root = cJSON_Parse(text);
	}
	free(text);
	return root;
}

static int has_true(const cJSON *obj, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static void test_probe_matches_the_library(void)
{
	cJSON *root = run_probe(), *cams, *disps, *gpus, *item;
	char paths[16][64];
	int n_cams, n_cards_with_connectors = 0;

	VT_CHECK(root != NULL, "%.200s --json gave no JSON object", probe_path);
	if (!root)
		return;
	cams = cJSON_GetObjectItem(root, "cameras");
	disps = cJSON_GetObjectItem(root, "displays");
	gpus = cJSON_GetObjectItem(root, "vulkan");
	VT_CHECK(cJSON_IsArray(cams) && cJSON_IsArray(disps) && cJSON_IsArray(gpus),
		 "cameras, displays or vulkan is missing");
	if (!cJSON_IsArray(cams) || !cJSON_IsArray(disps) || !cJSON_IsArray(gpus))
		goto out_free;

	n_cams = visid_v4l2_list(paths, 16);
	VT_CHECK(cJSON_GetArraySize(cams) == n_cams, "probe lists %d cameras, the library %d",
		 cJSON_GetArraySize(cams), n_cams);
	cJSON_ArrayForEach(item, cams)
	{
		VT_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(item, "formats")) > 0,
			 "camera %s lists no formats",
			 cJSON_GetStringValue(cJSON_GetObjectItem(item, "path")));
	}
	cJSON_ArrayForEach(item, disps) n_cards_with_connectors +=
	    cJSON_GetArraySize(cJSON_GetObjectItem(item, "connectors")) > 0;
	VT_CHECK(n_cards_with_connectors == visid_drm_list(paths, 16),
		 "probe lists %d cards with connectors, the library %d", n_cards_with_connectors,
		 visid_drm_list(paths, 16));

	cJSON_ArrayForEach(item, gpus)
	{
		cJSON *ext = cJSON_GetObjectItem(item, "extensions");
		const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(item, "zero_copy"));
		const char *want = has_true(ext, "VK_EXT_external_memory_dma_buf") &&
					   has_true(ext, "VK_KHR_external_memory_fd")
				       ? "dma-buf"
				   : has_true(ext, "VK_EXT_external_memory_host") ? "host pointer"
										  : "copy";

		VT_CHECK(path && !strncmp(path, want, strlen(want)),
			 "%.80s: zero-copy path '%.80s', its extensions allow '%s'",
			 cJSON_GetStringValue(cJSON_GetObjectItem(item, "name")), path, want);
	}
	printf("\n    probe: %d camera(s), %d display card(s) with connectors, %d Vulkan device(s)",
	       n_cams, n_cards_with_connectors, cJSON_GetArraySize(gpus));
out_free:
	cJSON_Delete(root);
}

VISID_SUITE(hal_probe, "hal_probe", NULL, NULL, probe_skip,
	    VISID_TEST(test_probe_matches_the_library))
