#version 450
/* eltwise over fp32 storage buffers: the variant every Vulkan device runs (eltwise.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "eltwise.glsl"
