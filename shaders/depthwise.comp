#version 450
/* depthwise over fp32 storage buffers: the variant every Vulkan device runs (depthwise.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "depthwise.glsl"
