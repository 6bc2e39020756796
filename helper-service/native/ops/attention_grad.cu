// The attention backward on CUDA (attention_grad.h) in the manner of flash attention's: the
// probabilities are recomputed tile by tile from q, k and each row's log-sum-exp and never leave the
// chip, where the backward written in ONNX operators writes and reads (lq x lk) maps per head (at
// full resolution of the SD-1.x RAD pass, 16 x 5376 x 10752 per head).
//
// Three kernels, each block owning 64 rows (queries or keys) of one head and each warp 16 of them:
// - rowStats: each query's log-sum-exp, online over the key tiles, and Σ grad_out∘o;
// - queryGrads: for the block's queries, over all key tiles: S, dP, dS and dq += dS k;
// - keyGrads: for the block's keys, over all query tiles: Sᵀ, dPᵀ, then dv += Pᵀ grad_out and
//   dk += dSᵀ q.
// Splitting dq from dk and dv computes S and dP once more but needs no atomics. The products run on
// the tensor cores (mma.sync m16n8k16: fp16 in, float32 accumulators; two m16n8k8 on Turing), with
// operands from shared memory by ldmatrix. A product's accumulators are in registers in the layout
// the PTX manual gives, so the exponentials and dS are computed there and become the next product's
// fp16 operand without a trip through memory, as in flash attention 2. The other side's next tile
// loads in the background (cp.async, two buffers) while a tile computes. Checked against float64 on
// an H200 (helper-service/scripts/custom-op-check/attention_grad_check.cu), and by the tests on the
// CPU emulation of native/emulation, whose errors match the H200's to three digits; the Turing path
// (sm_75: m16n8k8, plain copies) is compiled but has not run on a Turing GPU.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "attention_grad.h"
#include "launch.h"
#include "ptx.h"

namespace {

using reatco::ptx::commitCopies, reatco::ptx::copy16, reatco::ptx::copy4, reatco::ptx::exp2Approx, reatco::ptx::ldmatrix, reatco::ptx::mma,
    reatco::ptx::waitForCopies;

constexpr int kTile = 64;           // rows per block, and per step of the loop over the other side
constexpr int kWarps = kTile / 16;  // a warp owns 16 rows of the block's tile
constexpr int kThreads = kWarps * 32;
constexpr int kSteps = kTile / 8;   // 8-column accumulator tiles across a step's 64 columns
constexpr float kLog2e = 1.4426950408889634f;

struct Problem {
  const half *q, *k, *v, *o, *go;
  const float *lse, *rowdot, *gradScale;
  float *lseOut, *rowdotOut;
  half *dq, *dk, *dv;
  int heads, lq, lk, d;
  float scale, scaleLog2;  // 1/√d, and times log2(e) for exp2
  bool vectorLoads;        // d, and so every head's first column, a multiple of 8 halves
};

// Halves per row of a (64 x DP) tile in shared memory: 16-byte rows whose 8-row groups fall on
// distinct banks for ldmatrix.
template <int DP>
__host__ __device__ constexpr int tileStride() { return DP + 8; }

template <int DP>
__host__ __device__ constexpr int tileHalves() { return kTile * tileStride<DP>(); }

using Frag = uint32_t[4];  // an A operand (16 x 16), or two B operands (16 x 8 each)
using Acc = float[4];      // a 16 x 8 accumulator: rows g and g + 8, columns 2t and 2t + 1

__device__ inline uint32_t pack(float lo, float hi) {
  const half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}

__device__ inline int lane() { return threadIdx.x % 32; }

// Rows row0.. of head `column / d` of a (batch, tokens, heads * d) tensor into a (64 x DP) tile, zeros
// beyond the tensor's rows and the head's d columns; in the background where d allows 16-byte copies.
template <int DP>
__device__ void loadTile(half* tile, const half* t, const Problem& p, int batch, int tokens, int column, int row0) {
  constexpr int S = tileStride<DP>();
  const size_t channels = size_t(p.heads) * p.d;
  if (p.vectorLoads) {
    constexpr int chunks = DP / 8;
    for (int i = threadIdx.x; i < kTile * chunks; i += kThreads) {
      const int r = i / chunks, c = (i % chunks) * 8, row = row0 + r;
      const bool inside = row < tokens && c < p.d;
      copy16(tile + r * S + c, inside ? t + (size_t(batch) * tokens + row) * channels + column + c : t, inside);
    }
  } else {
    for (int i = threadIdx.x; i < kTile * DP; i += kThreads) {
      const int r = i / DP, c = i % DP, row = row0 + r;
      tile[r * S + c] = row < tokens && c < p.d ? t[(size_t(batch) * tokens + row) * channels + column + c] : __float2half(0.f);
    }
  }
}

// Runs body(row0, buffer) over the tiles row0 = 0, 64, .. < length of the other side, fetch(row0,
// buffer) having loaded them into one of two buffers: the next tile's copies are in flight while a
// tile computes.
template <typename Fetch, typename Body>
__device__ void pipelined(int length, Fetch fetch, Body body) {
  fetch(0, 0);
  commitCopies();
  for (int row0 = 0, buffer = 0; row0 < length; row0 += kTile, buffer ^= 1) {
    if (row0 + kTile < length) {
      fetch(row0 + kTile, buffer ^ 1);
      commitCopies();
      waitForCopies<1>();
    } else {
      waitForCopies<0>();
    }
    __syncthreads();
    body(row0, buffer);
    __syncthreads();  // the buffer is refilled next step
  }
}

// The warp's 16 rows of a tile as A operands, DP / 16 of them along the head's columns.
template <int DP>
__device__ void loadRows(Frag (&a)[DP / 16], const half* tile) {
  constexpr int S = tileStride<DP>();
  const int l = lane(), r0 = (threadIdx.x / 32) * 16;
#pragma unroll
  for (int kk = 0; kk < DP / 16; kk++) ldmatrix<false>(a[kk], tile + (r0 + (l & 7) + 8 * ((l >> 3) & 1)) * S + kk * 16 + 8 * (l >> 4));
}

// out (16 x 64) = rows (the warp's 16 x DP) · tileᵀ (tile: 64 x DP).
template <int DP>
__device__ void rowsTimesTileT(const Frag (&rows)[DP / 16], const half* tile, Acc (&out)[kSteps]) {
  constexpr int S = tileStride<DP>();
  const int l = lane();
#pragma unroll
  for (int j = 0; j < kSteps; j++) out[j][0] = out[j][1] = out[j][2] = out[j][3] = 0.f;
#pragma unroll
  for (int kk = 0; kk < DP / 16; kk++) {
#pragma unroll
    for (int np = 0; np < kSteps / 2; np++) {
      Frag b;
      ldmatrix<false>(b, tile + (16 * np + (l & 7) + 8 * (l >> 4)) * S + kk * 16 + 8 * ((l >> 3) & 1));
      mma(out[2 * np], rows[kk], b[0], b[1]);
      mma(out[2 * np + 1], rows[kk], b[2], b[3]);
    }
  }
}

// A 16 x 64 map in accumulators as four A operands (16 x 16 each) in fp16.
__device__ inline void asOperands(const Acc (&map)[kSteps], Frag (&a)[kSteps / 2]) {
#pragma unroll
  for (int kk = 0; kk < kSteps / 2; kk++) {
    a[kk][0] = pack(map[2 * kk][0], map[2 * kk][1]);
    a[kk][1] = pack(map[2 * kk][2], map[2 * kk][3]);
    a[kk][2] = pack(map[2 * kk + 1][0], map[2 * kk + 1][1]);
    a[kk][3] = pack(map[2 * kk + 1][2], map[2 * kk + 1][3]);
  }
}

// acc (16 x DP) += map (16 x 64, as operands) · tile (64 x DP).
template <int DP>
__device__ void mapTimesTile(const Frag (&map)[kSteps / 2], const half* tile, Acc (&acc)[DP / 8]) {
  constexpr int S = tileStride<DP>();
  const int l = lane();
#pragma unroll
  for (int kk = 0; kk < kSteps / 2; kk++) {
#pragma unroll
    for (int np = 0; np < DP / 16; np++) {
      Frag b;
      ldmatrix<true>(b, tile + (16 * kk + (l & 7) + 8 * ((l >> 3) & 1)) * S + 16 * np + 8 * (l >> 4));
      mma(acc[2 * np], map[kk], b[0], b[1]);
      mma(acc[2 * np + 1], map[kk], b[2], b[3]);
    }
  }
}

template <int N>
__device__ inline void clear(Acc (&acc)[N]) {
#pragma unroll
  for (int n = 0; n < N; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
}

// The warp's 16 rows of acc, times factor, into rows row0 + 16 warp.. of head `column / d` of out.
template <int DP>
__device__ void storeRows(const Acc (&acc)[DP / 8], half* out, const Problem& p, int batch, int tokens, int column, int row0, float factor) {
  const int l = lane(), g = l >> 2, t = l & 3;
  const size_t channels = size_t(p.heads) * p.d;
#pragma unroll
  for (int half_ = 0; half_ < 2; half_++) {
    const int row = row0 + (threadIdx.x / 32) * 16 + g + 8 * half_;
    if (row >= tokens) continue;
    half* dst = out + (size_t(batch) * tokens + row) * channels + column;
#pragma unroll
    for (int n = 0; n < DP / 8; n++) {
      const int c = 8 * n + 2 * t;
      const float a = acc[n][2 * half_] * factor, b = acc[n][2 * half_ + 1] * factor;
      if (p.vectorLoads) {
        if (c < p.d) *reinterpret_cast<half2*>(dst + c) = __floats2half2_rn(a, b);
      } else {
        if (c < p.d) dst[c] = __float2half_rn(a);
        if (c + 1 < p.d) dst[c + 1] = __float2half_rn(b);
      }
    }
  }
}

// Running (max, Σ exp2) in log2 units, merged with another.
__device__ inline void merge(float& m, float& l, float m2, float l2) {
  const float top = fmaxf(m, m2);
  if (top == -INFINITY) return;
  l = l * exp2Approx(m - top) + l2 * exp2Approx(m2 - top);
  m = top;
}

template <int DP>
__global__ void __launch_bounds__(kThreads) rowStats(Problem p) {
  unsigned char* smem = reatco::ptx::dynamicShared();
  half* tiles = reinterpret_cast<half*>(smem);  // two buffers of keys
  const int l = lane(), g = l >> 2, t = l & 3, warp = threadIdx.x / 32;
  const int bh = blockIdx.y, batch = bh / p.heads, column = (bh % p.heads) * p.d, q0 = blockIdx.x * kTile;
  loadTile<DP>(tiles, p.q, p, batch, p.lq, column, q0);
  commitCopies();
  waitForCopies<0>();
  __syncthreads();
  Frag queries[DP / 16];
  loadRows<DP>(queries, tiles);
  __syncthreads();
  float m[2] = {-INFINITY, -INFINITY}, sum[2] = {0.f, 0.f};  // rows g and g + 8, log2 units
  pipelined(
      p.lk, [&](int k0, int buffer) { loadTile<DP>(tiles + buffer * tileHalves<DP>(), p.k, p, batch, p.lk, column, k0); },
      [&](int k0, int buffer) {
        Acc s[kSteps];
        rowsTimesTileT<DP>(queries, tiles + buffer * tileHalves<DP>(), s);
        const bool tail = k0 + kTile > p.lk;
#pragma unroll
        for (int h = 0; h < 2; h++) {
          float x[2 * kSteps], top = -INFINITY;
#pragma unroll
          for (int j = 0; j < kSteps; j++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
              const bool inside = !tail || k0 + 8 * j + 2 * t + e < p.lk;
              x[2 * j + e] = inside ? s[j][2 * h + e] * p.scaleLog2 : -INFINITY;
              top = fmaxf(top, x[2 * j + e]);
            }
          }
          const float next = fmaxf(m[h], top);
          if (next == -INFINITY) continue;
          float add = 0.f;
#pragma unroll
          for (int i = 0; i < 2 * kSteps; i++) add += exp2Approx(x[i] - next);
          sum[h] = sum[h] * exp2Approx(m[h] - next) + add;
          m[h] = next;
        }
      });
  // The four lanes of a row group hold the row's columns between them.
#pragma unroll
  for (int h = 0; h < 2; h++) {
#pragma unroll
    for (int o = 1; o <= 2; o <<= 1) merge(m[h], sum[h], __shfl_xor_sync(0xffffffff, m[h], o), __shfl_xor_sync(0xffffffff, sum[h], o));
    const int row = q0 + warp * 16 + g + 8 * h;
    if (t == 0 && row < p.lq) p.lseOut[size_t(bh) * p.lq + row] = (m[h] + __log2f(sum[h])) * 0.6931471805599453f;
  }
  // Σ grad_out∘o over the head's columns, half a row per lane.
  const int row = q0 + warp * 16 + (l >> 1);
  float dot = 0.f;
  if (row < p.lq) {
    const size_t at = (size_t(batch) * p.lq + row) * size_t(p.heads) * p.d + column;
    for (int c = l & 1; c < p.d; c += 2) dot += __half2float(p.go[at + c]) * __half2float(p.o[at + c]);
  }
  dot += __shfl_xor_sync(0xffffffff, dot, 1);
  if (row < p.lq && (l & 1) == 0) p.rowdotOut[size_t(bh) * p.lq + row] = dot;
}

// The warp's 16 of the block's 64 rows of a and b as A operands, through the shared tiles.
template <int DP>
__device__ void ownRows(Frag (&ra)[DP / 16], const half* a, Frag (&rb)[DP / 16], const half* b, half* tiles, const Problem& p, int batch,
                        int tokens, int column, int row0) {
  loadTile<DP>(tiles, a, p, batch, tokens, column, row0);
  loadTile<DP>(tiles + tileHalves<DP>(), b, p, batch, tokens, column, row0);
  commitCopies();
  waitForCopies<0>();
  __syncthreads();
  loadRows<DP>(ra, tiles);
  loadRows<DP>(rb, tiles + tileHalves<DP>());
  __syncthreads();
}

template <int DP>
__global__ void __launch_bounds__(kThreads) queryGrads(Problem p) {
  unsigned char* smem = reatco::ptx::dynamicShared();
  half* tiles = reinterpret_cast<half*>(smem);  // two buffers of (keys, values)
  const int l = lane(), g = l >> 2, t = l & 3, warp = threadIdx.x / 32;
  const int bh = blockIdx.y, batch = bh / p.heads, column = (bh % p.heads) * p.d, q0 = blockIdx.x * kTile;
  Frag queries[DP / 16], gradOut[DP / 16];
  ownRows<DP>(queries, p.q, gradOut, p.go, tiles, p, batch, p.lq, column, q0);
  float lse2[2], dot[2];
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const int row = q0 + warp * 16 + g + 8 * h;
    const bool inside = row < p.lq;
    lse2[h] = inside ? p.lse[size_t(bh) * p.lq + row] * kLog2e : 0.f;
    dot[h] = inside ? p.rowdot[size_t(bh) * p.lq + row] : 0.f;
  }
  Acc dq[DP / 8];
  clear(dq);
  pipelined(
      p.lk,
      [&](int k0, int buffer) {
        half* keys = tiles + 2 * buffer * tileHalves<DP>();
        loadTile<DP>(keys, p.k, p, batch, p.lk, column, k0);
        loadTile<DP>(keys + tileHalves<DP>(), p.v, p, batch, p.lk, column, k0);
      },
      [&](int k0, int buffer) {
        const half* keys = tiles + 2 * buffer * tileHalves<DP>();
        Acc s[kSteps], dp[kSteps];
        rowsTimesTileT<DP>(queries, keys, s);
        rowsTimesTileT<DP>(gradOut, keys + tileHalves<DP>(), dp);
        const bool tail = k0 + kTile > p.lk;
#pragma unroll
        for (int j = 0; j < kSteps; j++) {
#pragma unroll
          for (int e = 0; e < 4; e++) {
            const int h = e >> 1;
            const bool inside = !tail || k0 + 8 * j + 2 * t + (e & 1) < p.lk;
            const float prob = inside ? exp2Approx(s[j][e] * p.scaleLog2 - lse2[h]) : 0.f;
            s[j][e] = prob * (dp[j][e] - dot[h]);
          }
        }
        Frag ds[kSteps / 2];
        asOperands(s, ds);
        mapTimesTile<DP>(ds, keys, dq);
      });
  storeRows<DP>(dq, p.dq, p, batch, p.lq, column, q0, *p.gradScale * p.scale);
}

// Queries past lq need no mask here: their q and grad_out rows load as zeros, so they add nothing
// to dk (dS q) or dv (P grad_out).
template <int DP>
__global__ void __launch_bounds__(kThreads) keyGrads(Problem p) {
  unsigned char* smem = reatco::ptx::dynamicShared();
  half* tiles = reinterpret_cast<half*>(smem);  // two buffers of (queries, grad_out)
  float* stats = reinterpret_cast<float*>(tiles + 4 * tileHalves<DP>());  // two buffers of (lse, rowdot)
  const int t = lane() & 3;
  const int bh = blockIdx.y, batch = bh / p.heads, column = (bh % p.heads) * p.d, k0 = blockIdx.x * kTile;
  Frag keys[DP / 16], values[DP / 16];
  ownRows<DP>(keys, p.k, values, p.v, tiles, p, batch, p.lk, column, k0);
  Acc dk[DP / 8], dv[DP / 8];
  clear(dk);
  clear(dv);
  pipelined(
      p.lq,
      [&](int q0, int buffer) {
        half* queries = tiles + 2 * buffer * tileHalves<DP>();
        loadTile<DP>(queries, p.q, p, batch, p.lq, column, q0);
        loadTile<DP>(queries + tileHalves<DP>(), p.go, p, batch, p.lq, column, q0);
        // Threads 0-63 the log-sum-exps, 64-127 the row terms.
        const int i = threadIdx.x % kTile, row = q0 + i;
        copy4(stats + (2 * buffer + threadIdx.x / kTile) * kTile + i, (threadIdx.x < kTile ? p.lse : p.rowdot) + size_t(bh) * p.lq + min(row, p.lq - 1),
              row < p.lq);
      },
      [&](int, int buffer) {
        const half* queries = tiles + 2 * buffer * tileHalves<DP>();
        const half* gradOut = queries + tileHalves<DP>();
        const float* lse = stats + 2 * buffer * kTile;
        const float* dots = lse + kTile;
        Acc s[kSteps], dp[kSteps];
        rowsTimesTileT<DP>(keys, queries, s);      // Sᵀ: the warp's keys against the tile's queries
        rowsTimesTileT<DP>(values, gradOut, dp);  // dPᵀ = v grad_outᵀ
#pragma unroll
        for (int j = 0; j < kSteps; j++) {
          const float2 lq = *reinterpret_cast<const float2*>(lse + 8 * j + 2 * t);
          const float2 dot = *reinterpret_cast<const float2*>(dots + 8 * j + 2 * t);
#pragma unroll
          for (int e = 0; e < 4; e++) {
            s[j][e] = exp2Approx(s[j][e] * p.scaleLog2 - (e & 1 ? lq.y : lq.x) * kLog2e);
            dp[j][e] = s[j][e] * (dp[j][e] - (e & 1 ? dot.y : dot.x));
          }
        }
        Frag probs[kSteps / 2], probGrads[kSteps / 2];
        asOperands(s, probs);
        asOperands(dp, probGrads);
        mapTimesTile<DP>(probs, gradOut, dv);
        mapTimesTile<DP>(probGrads, queries, dk);
      });
  const float g = *p.gradScale;
  storeRows<DP>(dk, p.dk, p, batch, p.lk, column, k0, g * p.scale);
  storeRows<DP>(dv, p.dv, p, batch, p.lk, column, k0, g);
}

// Two buffers of two tiles and of a tile's rows' statistics (keyGrads; the other kernels use less):
// under the 48 KB a block gets without asking, up to the largest head size.
template <int DP>
constexpr size_t sharedBytes() { return 4 * tileHalves<DP>() * 2 + 4 * kTile * 4; }
static_assert(sharedBytes<reatco::kAttentionMaxHeadSize>() <= 48 * 1024, "shared memory within the default");

template <typename Kernel>
cudaError_t launch(Kernel kernel, int64_t rows, int64_t batch, const Problem& p, size_t bytes, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((rows + kTile - 1) / kTile), static_cast<unsigned>(batch * p.heads));
  return reatco::launchKernel(kernel, grid, dim3(kThreads), bytes, stream, p);
}

struct Stats {
  template <int DP>
  static cudaError_t run(const Problem& p, int64_t batch, cudaStream_t stream) {
    return launch(rowStats<DP>, p.lq, batch, p, sharedBytes<DP>(), stream);
  }
};

struct Grads {
  template <int DP>
  static cudaError_t run(const Problem& p, int64_t batch, cudaStream_t stream) {
    const cudaError_t error = launch(queryGrads<DP>, p.lq, batch, p, sharedBytes<DP>(), stream);
    return error != cudaSuccess ? error : launch(keyGrads<DP>, p.lk, batch, p, sharedBytes<DP>(), stream);
  }
};

// The problem for `shape`, or why the kernels cannot take it.
const char* describe(const reatco::AttentionShape& shape, Problem& p) {
  if (shape.d < 1 || shape.d > reatco::kAttentionMaxHeadSize) return "attention backward: head size must be 1 to 80";
  if (shape.lq > 0x7fffffff || shape.lk > 0x7fffffff || shape.batch * shape.heads > 65535)
    return "attention backward: too many tokens, or batch x heads over 65535";
  p.heads = static_cast<int>(shape.heads);
  p.lq = static_cast<int>(shape.lq);
  p.lk = static_cast<int>(shape.lk);
  p.d = static_cast<int>(shape.d);
  p.scale = 1.f / sqrtf(static_cast<float>(shape.d));
  p.scaleLog2 = p.scale * kLog2e;
  p.vectorLoads = shape.d % 8 == 0;
  return nullptr;
}

// Kernels::run for the head size padded to a multiple of 16.
template <typename Kernels>
const char* dispatch(const Problem& p, int64_t batch, void* stream) {
  static_assert(reatco::kAttentionMaxHeadSize == 80, "one case per tile width");
  const auto s = static_cast<cudaStream_t>(stream);
  cudaError_t error;
  switch ((p.d + 15) / 16) {
    case 1: error = Kernels::template run<16>(p, batch, s); break;
    case 2: error = Kernels::template run<32>(p, batch, s); break;
    case 3: error = Kernels::template run<48>(p, batch, s); break;
    case 4: error = Kernels::template run<64>(p, batch, s); break;
    default: error = Kernels::template run<80>(p, batch, s); break;
  }
  return error == cudaSuccess ? nullptr : cudaGetErrorString(error);
}

}  // namespace

namespace reatco {

const char* LaunchAttentionRowStats(const void* q, const void* k, const void* o, const void* grad_out, float* lse, float* rowdot,
                                    AttentionShape shape, void* stream) {
  Problem p{};
  if (const char* why = describe(shape, p)) return why;
  if (shape.batch == 0 || shape.heads == 0 || shape.lq == 0) return nullptr;
  if (shape.lk == 0) return "attention backward: no keys";
  p.q = static_cast<const half*>(q);
  p.k = static_cast<const half*>(k);
  p.o = static_cast<const half*>(o);
  p.go = static_cast<const half*>(grad_out);
  p.lseOut = lse;
  p.rowdotOut = rowdot;
  return dispatch<Stats>(p, shape.batch, stream);
}

const char* LaunchAttentionGrad(const void* q, const void* k, const void* v, const void* grad_out, const float* lse,
                                const float* rowdot, const float* grad_scale, void* dq, void* dk, void* dv, AttentionShape shape,
                                void* stream) {
  Problem p{};
  if (const char* why = describe(shape, p)) return why;
  if (shape.batch == 0 || shape.heads == 0 || shape.lq == 0 || shape.lk == 0) return nullptr;
  p.q = static_cast<const half*>(q);
  p.k = static_cast<const half*>(k);
  p.v = static_cast<const half*>(v);
  p.go = static_cast<const half*>(grad_out);
  p.lse = lse;
  p.rowdot = rowdot;
  p.gradScale = grad_scale;
  p.dq = static_cast<half*>(dq);
  p.dk = static_cast<half*>(dk);
  p.dv = static_cast<half*>(dv);
  return dispatch<Grads>(p, shape.batch, stream);
}

}  // namespace reatco
