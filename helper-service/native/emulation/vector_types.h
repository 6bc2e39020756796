// CUDA's vector types that the kernels use, for the CPU emulation (simt.h).
#pragma once

struct float2 {
  float x, y;
};
struct uint4 {
  unsigned x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
