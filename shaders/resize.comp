#version 450
/* resize over fp32 storage buffers: the variant every Vulkan device runs (resize.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "resize.glsl"
