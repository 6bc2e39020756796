// CUDA's half-precision types and conversions for the CPU emulation (simt.h), on the compiler's
// _Float16 (IEEE binary16, conversions rounding to nearest even, as the __*_rn intrinsics do).
#pragma once
#include <cstdint>

#include "vector_types.h"

using half = _Float16;
struct half2 {
  half x, y;
};

inline half __float2half(float v) { return static_cast<half>(v); }
inline half __float2half_rn(float v) { return static_cast<half>(v); }
inline float __half2float(half v) { return static_cast<float>(v); }
inline half2 __floats2half2_rn(float a, float b) { return {static_cast<half>(a), static_cast<half>(b)}; }
inline float2 __half22float2(half2 v) { return {static_cast<float>(v.x), static_cast<float>(v.y)}; }
