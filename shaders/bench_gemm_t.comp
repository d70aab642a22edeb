#version 450
/* bench_gemm reading fp32 texel buffers (see bench_gemm.glsl). */
#extension GL_GOOGLE_include_directive : require
#define TEXELS 1
#include "bench_gemm.glsl"
