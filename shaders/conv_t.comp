#version 450
/* conv reading fp32 texel buffers (see common.glsl for why). */
#extension GL_GOOGLE_include_directive : require
#define TEXELS 1
#include "conv.glsl"
