#version 450
/* resize reading fp32 texel buffers (see common.glsl for why). */
#extension GL_GOOGLE_include_directive : require
#define TEXELS 1
#include "resize.glsl"
