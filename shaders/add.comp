#version 450
// x += y, element-wise.
layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer X { float Xs[]; };
layout(std430, binding = 1) readonly buffer Y { float Ys[]; };

layout(push_constant) uniform Params { uint count; } p;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
    if (i >= p.count) return;
    Xs[i] += Ys[i];
}
