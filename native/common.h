// Shared by the addon's C files: vectorisation clones, the dropout hash, a vectorisable exp.
#pragma once
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// One copy of each loop per instruction set, picked when the addon loads.
#define VECTORISED __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTORISED
#endif

static inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// e^x for x <= 0 (all callers), written so the compiler can vectorise it (libm's expf is a
// scalar call): 2^n · p(r), r = x − n·ln2 in [−ln2/2, ln2/2], p a degree-6 Taylor polynomial;
// relative error < 2e-7, below fp32's own rounding of the results it feeds.
static inline float exp_neg(float x) {
  x = x < -87.0f ? -87.0f : x; // e^-87 ≈ 1.6e-38 ≈ 0 for our uses; keeps 2^n a normal float
  // Round to nearest by adding and removing 1.5·2^23 (branch-free, so the loop vectorises).
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693145751953125f - n * 1.42860682030941723e-6f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

