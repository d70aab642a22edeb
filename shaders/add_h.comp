#version 450
/* add on fp16 tensors: fp16 texels in, fp16 storage out, fp32 arithmetic. */
#extension GL_GOOGLE_include_directive : require
#define TEXELS 1
#define HALF 1
#include "add.glsl"
