#version 450
// Copies n rows of k and v into the layer's caches at position pos, a
// dynamic value read from D.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer K { float Kin[]; };
layout(std430, binding = 1) readonly buffer V { float Vin[]; };
layout(std430, binding = 2) writeonly buffer KC { float Kc[]; };
layout(std430, binding = 3) writeonly buffer VC { float Vc[]; };
layout(std430, binding = 4) readonly buffer Dynamic { uint D[]; };

layout(push_constant) uniform Params {
    uint count; // n × width values
    uint pos;   // word offset of pos in D
    uint width;
} p;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
    if (i >= p.count) return;
    uint dst = D[p.pos] * p.width + i;
    Kc[dst] = Kin[i];
    Vc[dst] = Vin[i];
}
