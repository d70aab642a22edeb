#version 450
/* maxpool over fp32 storage buffers: the variant every Vulkan device runs (maxpool.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "maxpool.glsl"
