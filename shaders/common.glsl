/*
 * What every visid shader shares: the workgroup width as specialization
 * constant 0, a flat invocation index over a 2-D grid of groups (the host
 * splits large dispatches over y to stay under the group count limit), and
 * the way read-only tensors are declared and read.
 *
 * INPUT(binding, name) declares a read-only tensor; FETCH(name, i) reads
 * float i and FETCH4(name, i) the vec4 at vec4 index i. A shader compiled
 * with TEXELS set reads them from uniform texel buffers, and the host binds
 * each as R or RGBA texels to match whether the shader reads floats or
 * vec4s there (fp16 texels when HALF is set too); otherwise they are
 * storage buffers. CPU implementations gather texels with vector code but
 * load from storage buffers one guarded scalar per invocation and
 * component: on lavapipe texel reads made the convolutions twice as fast.
 * HALF also makes OUTPUT buffers hold fp16; arithmetic stays fp32.
 */
#ifndef VISID_COMMON_GLSL
#define VISID_COMMON_GLSL

layout(local_size_x_id = 0) in;

#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_PRELU 2

#ifndef TEXELS
#define TEXELS 0
#endif
#ifndef HALF
#define HALF 0
#endif

#if TEXELS
#define INPUT(b, name) layout(binding = b) uniform samplerBuffer name##_t;
#define FETCH(name, i) texelFetch(name##_t, int(i)).x
#define FETCH4(name, i) texelFetch(name##_t, int(i))
#else
#define INPUT(b, name)                                                                   \
	layout(std430, binding = b) readonly buffer name##_s { float name[]; };          \
	layout(std430, binding = b) readonly buffer name##_s4 { vec4 name##4[]; };
#define FETCH(name, i) name[i]
#define FETCH4(name, i) name##4[i]
#endif

#if HALF
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define OUTPUT(b, name)                                                                  \
	layout(std430, binding = b) writeonly buffer name##_s { float16_t name##_h[]; }; \
	layout(std430, binding = b) writeonly buffer name##_s4 { f16vec4 name##_h4[]; };
#define STORE(name, i, v) name##_h[i] = float16_t(v)
#define STORE4(name, i, v) name##_h4[i] = f16vec4(v)
#else
#define OUTPUT(b, name)                                                                  \
	layout(std430, binding = b) writeonly buffer name##_s { float name##_f[]; };     \
	layout(std430, binding = b) writeonly buffer name##_s4 { vec4 name##_f4[]; };
#define STORE(name, i, v) name##_f[i] = (v)
#define STORE4(name, i, v) name##_f4[i] = (v)
#endif

uint flat_invocation()
{
	return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x *
	       gl_WorkGroupSize.x;
}

vec4 activate4(vec4 v, int act, vec4 slope)
{
	if (act == ACT_RELU)
		return max(v, vec4(0.0));
	if (act == ACT_PRELU)
		return mix(slope * v, v, greaterThan(v, vec4(0.0)));
	return v;
}

float activate(float v, int act, float slope)
{
	if (act == ACT_RELU)
		return max(v, 0.0);
	if (act == ACT_PRELU)
		return v > 0.0 ? v : slope * v;
	return v;
}

#endif
