#version 450
/* conv1x1 over fp32 storage buffers: the variant every Vulkan device runs (conv1x1.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "conv1x1.glsl"
