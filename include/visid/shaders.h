/* The SPIR-V of shaders/, compiled by glslang at build time and linked in. */
#ifndef VISID_SHADERS_H
#define VISID_SHADERS_H

#include <stddef.h>
#include <stdint.h>

struct visid_shader {
	const char *name;	/* file name under shaders/ without ".comp" */
	const uint32_t *code;
	size_t size;		/* bytes */
};

/* Terminated by an entry whose name is NULL. */
extern const struct visid_shader visid_shaders[];

const struct visid_shader *visid_shader_find(const char *name);

#endif
