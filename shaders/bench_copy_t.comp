#version 450
/* bench_copy reading an fp32 texel buffer (see bench_copy.glsl). */
#extension GL_GOOGLE_include_directive : require
#define TEXELS 1
#include "bench_copy.glsl"
