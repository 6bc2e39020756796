// The CUDA kernels of the attention backward (attention_grad.cu), called by reatco_ops.cc. q, o and
// grad_out are (batch, lq, heads * d), k and v (batch, lk, heads * d), all fp16; lse and rowdot
// (batch, heads, lq) float32. Each call runs on `stream` (a cudaStream_t) and returns null, or why it
// could not launch.
#pragma once
#include <cstdint>

namespace reatco {

struct AttentionShape {
  int64_t batch, heads, lq, lk, d;
};

// The largest head size d the kernels take (their tiles hold a head's columns, padded to 16).
constexpr int64_t kAttentionMaxHeadSize = 80;

// lse = log Σ_j exp(q_i·k_j / √d) for each query row i of each head; rowdot = Σ_c grad_out∘o by head.
const char* LaunchAttentionRowStats(const void* q, const void* k, const void* o, const void* grad_out, float* lse, float* rowdot,
                                    AttentionShape shape, void* stream);

// P = exp(q kᵀ / √d - lse), dS = P ∘ (grad_out vᵀ - rowdot):
// dq = s dS k / √d, dk = s dSᵀ q / √d, dv = s Pᵀ grad_out, s = *grad_scale (one float32 on the device).
const char* LaunchAttentionGrad(const void* q, const void* k, const void* v, const void* grad_out, const float* lse,
                                const float* rowdot, const float* grad_scale, void* dq, void* dk, void* dv, AttentionShape shape,
                                void* stream);

}  // namespace reatco
