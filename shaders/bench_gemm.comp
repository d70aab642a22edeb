#version 450
/* bench_gemm reading storage buffers (see bench_gemm.glsl). */
#extension GL_GOOGLE_include_directive : require
#include "bench_gemm.glsl"
