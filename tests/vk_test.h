/*
 * What the Vulkan suites share: a device created once per suite with the
 * validation layer on (when installed), a skip reason where no Vulkan
 * device exists, and the check that no validation message was seen.
 */
#ifndef VISID_VK_TEST_H
#define VISID_VK_TEST_H

#include <stdio.h>

#include "harness.h"
#include "visid/gpu.h"
#include "visid/log.h"

static struct visid_gpu *vt_gpu;

static void vt_quiet(enum visid_log_level level, const char *msg, void *data)
{
}

static const char *vt_skip(void)
{
	struct visid_gpu_options opt = { 0 };
	struct visid_gpu *gpu;
	int ret;

	visid_log_set_handler(vt_quiet, NULL);
	ret = visid_gpu_create(&opt, &gpu);
	visid_log_set_handler(NULL, NULL);
	if (ret)
		return "no Vulkan device could be created";
	visid_gpu_destroy(gpu);
	return NULL;
}

static int vt_init(void)
{
	struct visid_gpu_options opt = { .validation = 1 };

	return visid_gpu_create(&opt, &vt_gpu) ? -1 : 0;
}

static int vt_clean(void)
{
	visid_gpu_destroy(vt_gpu);
	vt_gpu = NULL;
	return 0;
}

#define VT_NO_VALIDATION_MESSAGES()                                                             \
	VT_CHECK(visid_gpu_validation_errors(vt_gpu) == 0, "%u validation messages on '%s'",    \
		 visid_gpu_validation_errors(vt_gpu), visid_gpu_name(vt_gpu))

#endif
