/*
 * visid-probe: what a device offers for bring-up, in one listing: cameras
 * (formats, sizes, rates, controls), displays (connectors, modes, planes)
 * and Vulkan devices (driver, the features and extensions the pipeline uses,
 * and the path a camera frame would take into the GPU without a copy).
 *
 *   visid-probe [--json] [-v]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <linux/videodev2.h>
#include <vulkan/vulkan.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "visid/hal.h"
#include "visid/log.h"
#include "vk_import.h"

#define MAX_DEVICES 32

static const char *const vk_exts_used[] = {
    VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME,
    VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME,
    VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME,
    VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME,
};

static void fourcc_string(uint32_t fourcc, char out[5])
{
	for (int i = 0; i < 4; i++) {
		char c = fourcc >> (8 * i);

		out[i] = c >= 32 && c < 127 ? c : '.';
	}
	out[4] = 0;
}

/* ---- V4L2 ------------------------------------------------------------- */

static cJSON *v4l2_format_json(const struct visid_v4l2_format *f)
{
	cJSON *o = cJSON_CreateObject(), *sizes = cJSON_AddArrayToObject(o, "sizes");
	char fcc[5];

	fourcc_string(f->fourcc, fcc);
	cJSON_AddStringToObject(o, "fourcc", fcc);
	cJSON_AddStringToObject(o, "name", f->name);
	cJSON_AddBoolToObject(o, "compressed", f->compressed);
	for (int s = 0; s < f->n_sizes; s++) {
		cJSON *size = cJSON_CreateObject();

		cJSON_AddNumberToObject(size, "width", f->sizes[s].width);
		cJSON_AddNumberToObject(size, "height", f->sizes[s].height);
		cJSON_AddNumberToObject(size, "max_fps", f->sizes[s].max_fps);
		cJSON_AddItemToArray(sizes, size);
	}
	return o;
}

static cJSON *v4l2_device_json(const struct visid_v4l2_info *info)
{
	cJSON *o = cJSON_CreateObject(), *formats, *controls;

	cJSON_AddStringToObject(o, "path", info->path);
	cJSON_AddStringToObject(o, "driver", info->driver);
	cJSON_AddStringToObject(o, "card", info->card);
	cJSON_AddStringToObject(o, "bus", info->bus);
	cJSON_AddBoolToObject(o, "multiplanar", info->multiplanar);
	cJSON_AddBoolToObject(o, "streaming", !!(info->capabilities & V4L2_CAP_STREAMING));
	formats = cJSON_AddArrayToObject(o, "formats");
	for (int i = 0; i < info->n_formats; i++)
		cJSON_AddItemToArray(formats, v4l2_format_json(&info->formats[i]));
	controls = cJSON_AddArrayToObject(o, "controls");
	for (int i = 0; i < info->n_controls; i++) {
		const struct visid_v4l2_control *c = &info->controls[i];
		cJSON *ctrl = cJSON_CreateObject();

		cJSON_AddStringToObject(ctrl, "name", c->name);
		cJSON_AddNumberToObject(ctrl, "id", c->id);
		cJSON_AddNumberToObject(ctrl, "type", c->type);
		cJSON_AddNumberToObject(ctrl, "min", (double)c->minimum);
		cJSON_AddNumberToObject(ctrl, "max", (double)c->maximum);
		cJSON_AddNumberToObject(ctrl, "step", (double)c->step);
		cJSON_AddNumberToObject(ctrl, "default", (double)c->default_value);
		cJSON_AddNumberToObject(ctrl, "value", (double)c->value);
		cJSON_AddItemToArray(controls, ctrl);
	}
	return o;
}

static cJSON *probe_v4l2(void)
{
	char paths[MAX_DEVICES][64];
	cJSON *list = cJSON_CreateArray();
	int n = visid_v4l2_list(paths, MAX_DEVICES);

	for (int i = 0; i < n && i < MAX_DEVICES; i++) {
		struct visid_v4l2_info info;

		if (visid_v4l2_query(paths[i], &info))
			continue;
		cJSON_AddItemToArray(list, v4l2_device_json(&info));
		visid_v4l2_info_free(&info);
	}
	return list;
}

/* ---- DRM -------------------------------------------------------------- */

static cJSON *drm_connector_json(int fd, uint32_t id)
{
	drmModeConnectorPtr c = drmModeGetConnector(fd, id);
	cJSON *o, *modes;
	char name[48];

	if (!c)
		return NULL;
	o = cJSON_CreateObject();
	snprintf(name, sizeof(name), "%s-%u", drmModeGetConnectorTypeName(c->connector_type) ?: "?",
		 c->connector_type_id);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "id", c->connector_id);
	cJSON_AddStringToObject(o, "status",
				c->connection == DRM_MODE_CONNECTED	 ? "connected"
				: c->connection == DRM_MODE_DISCONNECTED ? "disconnected"
									 : "unknown");
	modes = cJSON_AddArrayToObject(o, "modes");
	for (int m = 0; m < c->count_modes; m++) {
		cJSON *mode = cJSON_CreateObject();

		cJSON_AddStringToObject(mode, "name", c->modes[m].name);
		cJSON_AddNumberToObject(mode, "width", c->modes[m].hdisplay);
		cJSON_AddNumberToObject(mode, "height", c->modes[m].vdisplay);
		cJSON_AddNumberToObject(mode, "refresh", c->modes[m].vrefresh);
		cJSON_AddBoolToObject(mode, "preferred",
				      !!(c->modes[m].type & DRM_MODE_TYPE_PREFERRED));
		cJSON_AddItemToArray(modes, mode);
	}
	drmModeFreeConnector(c);
	return o;
}

static const char *plane_type(int fd, uint32_t plane_id)
{
	drmModeObjectPropertiesPtr props =
	    drmModeObjectGetProperties(fd, plane_id, DRM_MODE_OBJECT_PLANE);
	const char *type = "?";

	for (uint32_t i = 0; props && i < props->count_props; i++) {
		drmModePropertyPtr p = drmModeGetProperty(fd, props->props[i]);

		if (p && !strcmp(p->name, "type"))
			type = props->prop_values[i] == DRM_PLANE_TYPE_PRIMARY	? "primary"
			       : props->prop_values[i] == DRM_PLANE_TYPE_CURSOR ? "cursor"
										: "overlay";
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
	return type;
}

static cJSON *drm_planes_json(int fd)
{
	drmModePlaneResPtr res;
	cJSON *list = cJSON_CreateArray();

	drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1);
	res = drmModeGetPlaneResources(fd);
	for (uint32_t i = 0; res && i < res->count_planes; i++) {
		drmModePlanePtr p = drmModeGetPlane(fd, res->planes[i]);
		cJSON *o, *formats;

		if (!p)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", p->plane_id);
		cJSON_AddStringToObject(o, "type", plane_type(fd, p->plane_id));
		cJSON_AddNumberToObject(o, "possible_crtcs", p->possible_crtcs);
		formats = cJSON_AddArrayToObject(o, "formats");
		for (uint32_t f = 0; f < p->count_formats; f++) {
			char fcc[5];

			fourcc_string(p->formats[f], fcc);
			cJSON_AddItemToArray(formats, cJSON_CreateString(fcc));
		}
		cJSON_AddItemToArray(list, o);
		drmModeFreePlane(p);
	}
	drmModeFreePlaneResources(res);
	return list;
}

static cJSON *drm_card_json(const char *path, int fd)
{
	drmVersionPtr v = drmGetVersion(fd);
	drmModeRes *res = drmModeGetResources(fd);
	cJSON *o = cJSON_CreateObject(), *conns;
	uint64_t cap = 0;

	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddStringToObject(o, "driver", v ? v->name : "?");
	drmFreeVersion(v);
	cJSON_AddBoolToObject(o, "dumb_buffers", !drmGetCap(fd, DRM_CAP_DUMB_BUFFER, &cap) && cap);
	cap = 0;
	drmGetCap(fd, DRM_CAP_PRIME, &cap);
	cJSON_AddBoolToObject(o, "prime_import", !!(cap & DRM_PRIME_CAP_IMPORT));
	cJSON_AddBoolToObject(o, "prime_export", !!(cap & DRM_PRIME_CAP_EXPORT));
	cJSON_AddBoolToObject(o, "atomic", !drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1));
	cJSON_AddBoolToObject(o, "master", drmIsMaster(fd));
	cJSON_AddNumberToObject(o, "crtcs", res ? res->count_crtcs : 0);
	conns = cJSON_AddArrayToObject(o, "connectors");
	for (int i = 0; res && i < res->count_connectors; i++) {
		cJSON *c = drm_connector_json(fd, res->connectors[i]);

		if (c)
			cJSON_AddItemToArray(conns, c);
	}
	if (!res)
		cJSON_AddStringToObject(o, "note", "no mode-setting resources: a render-only GPU");
	drmModeFreeResources(res);
	cJSON_AddItemToObject(o, "planes", drm_planes_json(fd));
	return o;
}

static cJSON *probe_drm(void)
{
	cJSON *list = cJSON_CreateArray();

	for (int i = 0; i < 16; i++) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Probing must not keep master from whoever drives the display next. */
		if (drmIsMaster(fd))
			drmDropMaster(fd);
		cJSON_AddItemToArray(list, drm_card_json(path, fd));
		close(fd);
	}
	return list;
}

/* ---- Vulkan ----------------------------------------------------------- */

static int has_extension(const VkExtensionProperties *exts, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(exts[i].extensionName, name))
			return 1;
	return 0;
}

static const char *device_type(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
		return "integrated";
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
		return "discrete";
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
		return "virtual";
	case VK_PHYSICAL_DEVICE_TYPE_CPU:
		return "cpu";
	default:
		return "other";
	}
}

/* The way a camera's frame reaches this device: the library's own choice (vk_import.c). */
static const char *import_path(VkPhysicalDevice phys)
{
	switch (visid_vk_import_path_of(phys)) {
	case VISID_VK_IMPORT_DMABUF:
		return "dma-buf: the camera's exported buffer imported as device memory";
	case VISID_VK_IMPORT_HOST:
		return "host pointer: the camera buffer's CPU mapping imported in place";
	default:
		return "copy: no external-memory import, frames are copied into device memory";
	}
}

static uint32_t timestamp_bits(VkPhysicalDevice phys)
{
	VkQueueFamilyProperties fams[16];
	uint32_t n = 16, bits = 0;

	vkGetPhysicalDeviceQueueFamilyProperties(phys, &n, fams);
	for (uint32_t i = 0; i < n; i++)
		if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT && fams[i].timestampValidBits > bits)
			bits = fams[i].timestampValidBits;
	return bits;
}

static cJSON *vk_device_json(VkPhysicalDevice phys)
{
	VkPhysicalDeviceDriverProperties driver = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
	};
	VkPhysicalDeviceSubgroupProperties subgroup = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
	    .pNext = &driver,
	};
	VkPhysicalDeviceProperties2 props = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
	    .pNext = &subgroup,
	};
	VkPhysicalDeviceVulkan12Features f12 = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
	};
	VkPhysicalDeviceVulkan11Features f11 = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
	    .pNext = &f12,
	};
	VkPhysicalDeviceFeatures2 feats = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
	    .pNext = &f11,
	};
	VkExtensionProperties *exts = NULL;
	uint32_t n_exts = 0, api;
	cJSON *o = cJSON_CreateObject(), *ext_obj, *feat_obj;
	char version[32];

	vkGetPhysicalDeviceProperties2(phys, &props);
	api = props.properties.apiVersion;
	if (api >= VK_API_VERSION_1_2)
		vkGetPhysicalDeviceFeatures2(phys, &feats);
	vkEnumerateDeviceExtensionProperties(phys, NULL, &n_exts, NULL);
	exts = calloc(n_exts ? n_exts : 1, sizeof(*exts));
	if (exts)
		vkEnumerateDeviceExtensionProperties(phys, NULL, &n_exts, exts);
	else
		n_exts = 0;

	cJSON_AddStringToObject(o, "name", props.properties.deviceName);
	cJSON_AddStringToObject(o, "type", device_type(props.properties.deviceType));
	snprintf(version, sizeof(version), "%u.%u.%u", VK_API_VERSION_MAJOR(api),
		 VK_API_VERSION_MINOR(api), VK_API_VERSION_PATCH(api));
	cJSON_AddStringToObject(o, "api", version);
	cJSON_AddStringToObject(o, "driver", driver.driverName[0] ? driver.driverName : "?");
	cJSON_AddStringToObject(o, "driver_info", driver.driverInfo);

	ext_obj = cJSON_AddObjectToObject(o, "extensions");
	for (size_t i = 0; i < sizeof(vk_exts_used) / sizeof(vk_exts_used[0]); i++)
		cJSON_AddBoolToObject(ext_obj, vk_exts_used[i],
				      has_extension(exts, n_exts, vk_exts_used[i]));
	feat_obj = cJSON_AddObjectToObject(o, "features");
	cJSON_AddBoolToObject(feat_obj, "shaderFloat16", f12.shaderFloat16);
	cJSON_AddBoolToObject(feat_obj, "shaderInt8", f12.shaderInt8);
	cJSON_AddBoolToObject(feat_obj, "storageBuffer16BitAccess", f11.storageBuffer16BitAccess);
	cJSON_AddBoolToObject(feat_obj, "storageBuffer8BitAccess", f12.storageBuffer8BitAccess);
	cJSON_AddNumberToObject(feat_obj, "subgroupSize", subgroup.subgroupSize);
	cJSON_AddNumberToObject(feat_obj, "maxComputeWorkGroupInvocations",
				props.properties.limits.maxComputeWorkGroupInvocations);
	cJSON_AddNumberToObject(feat_obj, "timestampBits", timestamp_bits(phys));

	cJSON_AddStringToObject(o, "zero_copy", import_path(phys));
	free(exts);
	return o;
}

static cJSON *probe_vulkan(const char **error)
{
	VkApplicationInfo app = {
	    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
	    .pApplicationName = "visid-probe",
	    .apiVersion = VK_API_VERSION_1_2,
	};
	VkInstanceCreateInfo info = {
	    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
	    .pApplicationInfo = &app,
	};
	VkPhysicalDevice devs[MAX_DEVICES];
	uint32_t n = MAX_DEVICES;
	VkInstance instance;
	cJSON *list = cJSON_CreateArray();
	VkResult r;

	r = vkCreateInstance(&info, NULL, &instance);
	if (r != VK_SUCCESS) {
		*error = "no Vulkan instance (no loader or ICD installed)";
		return list;
	}
	r = vkEnumeratePhysicalDevices(instance, &n, devs);
	if (r != VK_SUCCESS && r != VK_INCOMPLETE)
		*error = "Vulkan lists no physical devices";
	for (uint32_t i = 0; r >= 0 && i < n; i++)
		cJSON_AddItemToArray(list, vk_device_json(devs[i]));
	vkDestroyInstance(instance, NULL);
	return list;
}

/* ---- text output ------------------------------------------------------ */

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int yes(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void print_cameras(const cJSON *list, int verbose)
{
	const cJSON *dev, *f, *s, *c;

	printf("Cameras (V4L2): %d\n", cJSON_GetArraySize(list));
	cJSON_ArrayForEach(dev, list)
	{
		printf("  %s: %s (%s, %s)%s\n", str(dev, "path"), str(dev, "card"),
		       str(dev, "driver"), str(dev, "bus"),
		       yes(dev, "multiplanar") ? ", multi-planar" : "");
		cJSON_ArrayForEach(f, cJSON_GetObjectItem(dev, "formats"))
		{
			printf("    %s %-28s", str(f, "fourcc"), str(f, "name"));
			cJSON_ArrayForEach(s, cJSON_GetObjectItem(f, "sizes"))
			    printf(" %.0fx%.0f@%.0f", num(s, "width"), num(s, "height"),
				   num(s, "max_fps"));
			printf("\n");
		}
		printf("    controls: %d\n",
		       cJSON_GetArraySize(cJSON_GetObjectItem(dev, "controls")));
		if (!verbose)
			continue;
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(dev, "controls"))
		    printf("      %-32s %.0f [%.0f..%.0f] default %.0f\n", str(c, "name"),
			   num(c, "value"), num(c, "min"), num(c, "max"), num(c, "default"));
	}
}

static void print_displays(const cJSON *list)
{
	const cJSON *card, *conn, *mode, *plane;

	printf("Displays (DRM): %d\n", cJSON_GetArraySize(list));
	cJSON_ArrayForEach(card, list)
	{
		printf("  %s: %s, %.0f CRTCs, %s%s%s%s\n", str(card, "path"), str(card, "driver"),
		       num(card, "crtcs"), yes(card, "atomic") ? "atomic" : "legacy only",
		       yes(card, "dumb_buffers") ? ", dumb buffers" : "",
		       yes(card, "prime_import") ? ", PRIME import" : "",
		       yes(card, "prime_export") ? ", PRIME export" : "");
		if (str(card, "note")[0])
			printf("    %s\n", str(card, "note"));
		cJSON_ArrayForEach(conn, cJSON_GetObjectItem(card, "connectors"))
		{
			printf("    %s: %s", str(conn, "name"), str(conn, "status"));
			cJSON_ArrayForEach(mode, cJSON_GetObjectItem(conn, "modes"))
			    printf(" %s@%.0f%s", str(mode, "name"), num(mode, "refresh"),
				   yes(mode, "preferred") ? "*" : "");
			printf("\n");
		}
		cJSON_ArrayForEach(plane, cJSON_GetObjectItem(card, "planes"))
		    printf("    plane %.0f: %s, %d formats\n", num(plane, "id"), str(plane, "type"),
			   cJSON_GetArraySize(cJSON_GetObjectItem(plane, "formats")));
	}
}

static void print_gpus(const cJSON *list, const char *error)
{
	const cJSON *dev, *item;

	printf("Vulkan devices: %d%s%s\n", cJSON_GetArraySize(list), error ? ": " : "",
	       error ? error : "");
	cJSON_ArrayForEach(dev, list)
	{
		printf("  %s (%s), Vulkan %s, driver %s %s\n", str(dev, "name"), str(dev, "type"),
		       str(dev, "api"), str(dev, "driver"), str(dev, "driver_info"));
		cJSON_ArrayForEach(item, cJSON_GetObjectItem(dev, "extensions"))
		    printf("    %-36s %s\n", item->string, cJSON_IsTrue(item) ? "yes" : "no");
		cJSON_ArrayForEach(item, cJSON_GetObjectItem(dev, "features"))
		{
			if (cJSON_IsBool(item))
				printf("    %-36s %s\n", item->string,
				       cJSON_IsTrue(item) ? "yes" : "no");
			else
				printf("    %-36s %.0f\n", item->string, item->valuedouble);
		}
		printf("    zero-copy import: %s\n", str(dev, "zero_copy"));
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: visid-probe [--json] [-v]\n"
		   "  Lists cameras, displays and Vulkan devices for bring-up.\n"
		   "  --json   one JSON object on stdout\n"
		   "  -v       also every camera control, and debug messages\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *vk_error = NULL;
	int json = 0, verbose = 0, opt;
	cJSON *root, *cams, *disps, *gpus;

	while ((opt = getopt_long(argc, argv, "jvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'v':
			verbose = 1;
			visid_log_set_level(VISID_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	root = cJSON_CreateObject();
	cams = probe_v4l2();
	disps = probe_drm();
	gpus = probe_vulkan(&vk_error);
	cJSON_AddItemToObject(root, "cameras", cams);
	cJSON_AddItemToObject(root, "displays", disps);
	cJSON_AddItemToObject(root, "vulkan", gpus);
	if (vk_error)
		cJSON_AddStringToObject(root, "vulkan_error", vk_error);

	if (json) {
		char *text = cJSON_Print(root);

		if (!text) {
			fprintf(stderr, "visid-probe: out of memory\n");
			cJSON_Delete(root);
			return 1;
		}
		printf("%s\n", text);
		free(text);
	} else {
		print_cameras(cams, verbose);
		print_displays(disps);
		print_gpus(gpus, vk_error);
	}
	cJSON_Delete(root);
	return 0;
}
