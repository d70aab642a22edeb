#version 450
/* depthwise reading fp32 texel buffers (see common.glsl for why). */
#extension GL_GOOGLE_include_directive : require
#define TEXELS 1
#include "depthwise.glsl"
