#version 450
/* conv over fp32 storage buffers: the variant every Vulkan device runs (conv.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "conv.glsl"
