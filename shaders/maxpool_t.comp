#version 450
/* maxpool reading fp32 texel buffers (see common.glsl for why). */
#extension GL_GOOGLE_include_directive : require
#define TEXELS 1
#include "maxpool.glsl"
