#version 450
// out = silu(gate) * up, element-wise.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Gate { float G[]; };
layout(std430, binding = 1) readonly buffer Up { float U[]; };
layout(std430, binding = 2) writeonly buffer Output { float O[]; };

layout(push_constant) uniform Params { uint count; } p;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
    if (i >= p.count) return;
    float g = G[i];
    O[i] = g / (1.0 + exp(-g)) * U[i];
}
