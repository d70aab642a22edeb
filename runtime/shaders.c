/* Lookup of the embedded SPIR-V by shader name. */
#include <string.h>

#include "visid/shaders.h"

const struct visid_shader *visid_shader_find(const char *name)
{
	for (const struct visid_shader *s = visid_shaders; s->name; s++)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}
