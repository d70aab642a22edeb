#version 450
/* bench_copy reading a storage buffer (see bench_copy.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "bench_copy.glsl"
