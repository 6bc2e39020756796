// SoftmaxTimesGrad's CUDA kernel (softmax_times_grad.cu), called by reatco_ops.cc.
#pragma once
#include <cstdint>

namespace reatco {
// P = softmax(S) by rows, dS = P * G, all fp16 (rows x cols, row-major) on `stream` (a cudaStream_t).
// Returns null, or why it could not launch.
const char* LaunchSoftmaxTimesGrad(const void* s, const void* g, void* p, void* ds, int64_t rows, int64_t cols, void* stream);
}  // namespace reatco
