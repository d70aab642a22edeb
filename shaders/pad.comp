#version 450
/* pad over fp32 storage buffers: the variant every Vulkan device runs (pad.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "pad.glsl"
