/*
 * Under AddressSanitizer only: keeps every Vulkan driver and layer mapped
 * until the test program exits. The Vulkan loader unloads the drivers on
 * vkDestroyInstance, and what they allocated for the life of the process is
 * then reported by LeakSanitizer at exit with no module to name it by, so
 * tests/sanitize/lsan.supp could not suppress it. Loaded here with
 * RTLD_NODELETE first, the same files stay mapped and the reports name them.
 */
#ifdef __SANITIZE_ADDRESS__
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const manifest_dirs[] = {
	"/usr/share/vulkan/icd.d", "/usr/share/vulkan/explicit_layer.d",
	"/usr/share/vulkan/implicit_layer.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d",
};

/* The "library_path" of one manifest, loaded for good. */
static void pin_library_of(const char *manifest)
{
	char text[4096], path[512], *key;
	size_t n;
	FILE *f = fopen(manifest, "r");

	if (!f)
		return;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	key = strstr(text, "\"library_path\"");
	if (key && sscanf(key, "\"library_path\" : \"%511[^\"]\"", path) != 1 &&
	    sscanf(key, "\"library_path\": \"%511[^\"]\"", path) != 1)
		key = NULL;
	if (key)
		dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
}

__attribute__((constructor)) static void pin_vulkan_libraries(void)
{
	char path[768];

	for (size_t i = 0; i < sizeof(manifest_dirs) / sizeof(manifest_dirs[0]); i++) {
		DIR *d = opendir(manifest_dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			if (!strstr(e->d_name, ".json"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", manifest_dirs[i], e->d_name);
			pin_library_of(path);
		}
		if (d)
			closedir(d);
	}
}
#endif
