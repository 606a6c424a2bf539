#version 450
// Rotates pairs (2i, 2i+1) of each head in place. The cosines and sines,
// computed in double precision on the host, are dynamic data in D:
// for row j and pair i, cos at p.table + 2*(j*pairs + i), sin after it.
layout(local_size_x = 64) in;

layout(std430, binding = 0) buffer Rows { float X[]; };
layout(std430, binding = 1) readonly buffer Dynamic { float D[]; };

layout(push_constant) uniform Params {
    uint n;        // rows
    uint heads;
    uint head_dim;
    uint pairs;    // rotated pairs per head
    uint table;    // float offset of the table in D
} p;

void main() {
    uint id = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 64u;
    uint i = id % p.pairs;
    uint h = (id / p.pairs) % p.heads;
    uint j = id / (p.pairs * p.heads);
    if (j >= p.n) return;
    uint c = p.table + 2u * (j * p.pairs + i);
    float cs = D[c], sn = D[c + 1u];
    uint x = j * p.heads * p.head_dim + h * p.head_dim + 2u * i;
    float x0 = X[x], x1 = X[x + 1u];
    X[x] = x0 * cs - x1 * sn;
    X[x + 1u] = x0 * sn + x1 * cs;
}
