// A CPU emulation of the CUDA execution model, for running the library's CUDA kernels on machines
// without a GPU (CI, developers' machines): each thread of a block is a fiber (Boost.Context) on one
// OS thread, blocks run one after another, and a thread switches to the next only at a barrier or a
// warp-wide instruction, which completes when every thread it concerns has arrived. The instructions
// the kernels use in PTX (ptx.h) are computed here by their definitions in the PTX manual: mma.sync's
// and ldmatrix's register layouts, shfl.sync.bfly, and cp.async, whose copies land only when a
// cp.async.wait_group lets them (so a read before the wait sees stale memory, as it may on a GPU).
// Threads that diverge at a barrier or a warp instruction, or leave while the others wait, stop the
// launch with an error instead of hanging.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace simt {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr Dim3() = default;
  constexpr Dim3(unsigned x_, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

constexpr size_t kSharedBytes = 227 * 1024;  // a Hopper block's most

// Runs `thread` for every thread of every block; returns null, or why the launch failed.
const char* launch(Dim3 grid, Dim3 block, size_t sharedBytes, const std::function<void()>& thread);

// The running thread's coordinates (CUDA's built-in variables) and its block's shared memory.
extern Dim3 threadIdx, blockIdx, blockDim, gridDim;
unsigned char* sharedMemory();

// __syncthreads().
void syncBlock();

// shfl.sync.bfly: lane l gets `value` of lane l ^ laneMask.
float shuffleXor(float value, int laneMask);

// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32: d (16 x 8, f32) = a (16 x 16, f16) b (16 x 8,
// f16) + c, each lane holding its fragments of a, b, c and d in the manual's layout.
void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8j..8j+7 give the rows of matrix j, lane l
// gets row l / 4 (with trans, column l / 4), elements 2 (l % 4) and 2 (l % 4) + 1, of each.
void ldmatrixX4(uint32_t (&r)[4], const void* row, bool transpose);

// cp.async of `bytes` (zeros past `validBytes`), commit_group, wait_group N.
void copyAsync(void* dst, const void* src, int bytes, int validBytes);
void commitCopies();
void waitForCopies(int pending);

}  // namespace simt
