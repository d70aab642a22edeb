#version 450
/* copy over fp32 storage buffers: the variant every Vulkan device runs (copy.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "copy.glsl"
