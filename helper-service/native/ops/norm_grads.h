// The CUDA kernels of the norm and activation backwards (norm_grads.cu), called by reatco_ops.cc. All
// tensors are fp16 and row-major except the float32 per-row statistics; each call runs on `stream` (a
// cudaStream_t) and returns null, or why it could not launch.
#pragma once
#include <cstdint>

namespace reatco {
// Means over each row of g and g * x, g = grad * silu'(y) if silu else grad (rows x cols).
const char* LaunchNormGradRowMeans(const void* grad, const void* x, const void* y, float* mean_g, float* mean_gx, int64_t rows,
                                   int64_t cols, bool silu, void* stream);
// dx = g a + x p + q, a, p and q one float32 per row.
const char* LaunchNormGradApply(const void* grad, const void* x, const void* y, const float* a, const float* p, const float* q,
                                void* dx, int64_t rows, int64_t cols, bool silu, void* stream);
// Layer norm's input gradient over rows of cols: rstd (d - mean(d) - x̂ mean(d x̂)), d = weight grad.
const char* LaunchLayerNormGrad(const void* grad, const void* x, const float* mean, const float* rstd, const void* weight, void* dx,
                                int64_t rows, int64_t cols, void* stream);
// The gradient of hidden * gelu(gate) with respect to [hidden, gate]: grad rows x half_cols, projected
// and the output rows x (2 half_cols).
const char* LaunchGatedGeluGrad(const void* grad, const void* projected, void* out, int64_t rows, int64_t half_cols, void* stream);
}  // namespace reatco
