#version 450
// out = x / sqrt(mean(x²) + eps) * w, one workgroup per row.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Input { float X[]; };
layout(std430, binding = 1) readonly buffer Weight { float Wt[]; };
layout(std430, binding = 2) writeonly buffer Output { float O[]; };

layout(push_constant) uniform Params {
    uint cols;
    float eps;
} p;

shared float partial[256];

void main() {
    uint row = gl_WorkGroupID.x * p.cols;
    uint t = gl_LocalInvocationID.x;
    float ss = 0.0;
    for (uint i = t; i < p.cols; i += 256u) ss += X[row + i] * X[row + i];
    partial[t] = ss;
    barrier();
    for (uint width = 128u; width > 0u; width >>= 1) {
        if (t < width) partial[t] += partial[t + width];
        barrier();
    }
    float scale = inversesqrt(partial[0] / float(p.cols) + p.eps);
    for (uint i = t; i < p.cols; i += 256u) O[row + i] = X[row + i] * scale * Wt[i];
}
