#version 450
/* add over fp32 storage buffers: the variant every Vulkan device runs (add.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "add.glsl"
