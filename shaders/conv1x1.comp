#version 450
#extension GL_GOOGLE_include_directive : require
#include "conv1x1.glsl"
