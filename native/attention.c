// DistilBERT's self-attention core as one kernel per direction, on the BLAS the addon opened:
//
//   O = dropout(softmax(scale·Q·Kᵀ masked)) · V        per batch b and head h
//
// Q, K, V and O stay in the linear layers' layout [B·T, H·D] (head h = columns h·D..h·D+D−1),
// so no transposes are needed: BLAS takes the row stride. Only one T×T score matrix exists at a
// time (scratch), and nothing T×T is kept for the backward pass, which recomputes the scores
// from Q and K (one extra T×T×D GEMM per head) — that is what lets batch 8 × 512 train inside
// the wasm heap. Semantics are HF DistilBERT's MultiHeadSelfAttention (masked_fill with fp32's
// most negative value, softmax, dropout) and the dropout mask is SeededDropout's: element
// (b, h, i, j) of the [B, H, T, T] weights hashes its flat index, exactly as lib/backends/dropout.ts.
#include <float.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
extern sgemm_fn qlora_sgemm;
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

typedef struct {
  int B, T, H, D;
  float scale;        // 1/√D
  uint32_t key0, key1, threshold; // dropout; threshold 2^24 (or more) means no dropout
  float dropScale;    // 1/(1 − rate)
} attn_args;

// P (T×T) = softmax over rows of scale·Q_bh·K_bhᵀ, masked keys at −FLT_MAX (HF's masked_fill).
VECTORISED static void scores_softmax(const attn_args *a, const float *q, const float *k, const float *keep, float *P) {
  const int T = a->T, C = a->H * a->D;
  qlora_sgemm(RowMajor, NoTrans, Trans, T, T, a->D, a->scale, q, C, k, C, 0.0f, P, T);
  for (int i = 0; i < T; i++) {
    float *row = P + (size_t)i * T;
    float max = -FLT_MAX;
    for (int j = 0; j < T; j++) {
      row[j] = keep[j] != 0.0f ? row[j] : -FLT_MAX;
      max = row[j] > max ? row[j] : max;
    }
    float sum = 0;
    for (int j = 0; j < T; j++) {
      row[j] = exp_neg(row[j] - max);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < T; j++) row[j] *= inv;
  }
}

// M (T×T) = dropout mask · dropScale for head (b, h): 0 where dropped.
VECTORISED static void apply_dropout(const attn_args *a, int b, int h, const float *P, float *out) {
  const size_t T = (size_t)a->T;
  const uint32_t base = (uint32_t)(((size_t)b * a->H + h) * T * T);
  for (size_t e = 0; e < T * T; e++) {
    uint32_t hsh = fmix32(fmix32((base + (uint32_t)e) ^ a->key0) ^ a->key1);
    out[e] = (hsh >> 8) < a->threshold ? P[e] * a->dropScale : 0.0f;
  }
}

// Forward. scratch: 2·T·T floats.
void qlora_attention(const attn_args *a, const float *q, const float *k, const float *v, const float *keep, float *o, float *scratch) {
  const int T = a->T, D = a->D, C = a->H * a->D;
  float *P = scratch, *Pd = scratch + (size_t)T * T;
  const int dropping = a->threshold < (1u << 24);
  for (int b = 0; b < a->B; b++) {
    for (int h = 0; h < a->H; h++) {
      const size_t off = (size_t)b * T * C + (size_t)h * D;
      scores_softmax(a, q + off, k + off, keep + (size_t)b * T, P);
      if (dropping) apply_dropout(a, b, h, P, Pd);
      qlora_sgemm(RowMajor, NoTrans, NoTrans, T, D, T, 1.0f, dropping ? Pd : P, T, v + off, C, 0.0f, o + off, C);
    }
  }
}

// dS = P ⊙ (dP − rowsum(dP ⊙ P)), in place in dP; dP arrives as d(weights after dropout).
VECTORISED static void softmax_grad(const attn_args *a, int b, int h, const float *P, float *dP, int dropping) {
  const size_t T = (size_t)a->T;
  if (dropping) apply_dropout(a, b, h, dP, dP); // d(dropout)/dP = the same mask · dropScale
  for (size_t i = 0; i < T; i++) {
    const float *p = P + i * T;
    float *d = dP + i * T;
    float dot = 0;
    for (size_t j = 0; j < T; j++) dot += d[j] * p[j];
    for (size_t j = 0; j < T; j++) d[j] = p[j] * (d[j] - dot);
  }
}

// Backward: dq, dk, dv from dO, recomputing the scores. scratch: 2·T·T floats.
void qlora_attention_grad(const attn_args *a, const float *q, const float *k, const float *v, const float *keep, const float *dO,
                          float *dq, float *dk, float *dv, float *scratch) {
  const int T = a->T, D = a->D, C = a->H * a->D;
  float *P = scratch, *dP = scratch + (size_t)T * T;
  const int dropping = a->threshold < (1u << 24);
  for (int b = 0; b < a->B; b++) {
    for (int h = 0; h < a->H; h++) {
      const size_t off = (size_t)b * T * C + (size_t)h * D;
      scores_softmax(a, q + off, k + off, keep + (size_t)b * T, P);
      if (dropping) {
        apply_dropout(a, b, h, P, dP); // dP holds the dropped weights for a moment
        qlora_sgemm(RowMajor, Trans, NoTrans, T, D, T, 1.0f, dP, T, dO + off, C, 0.0f, dv + off, C);
      } else {
        qlora_sgemm(RowMajor, Trans, NoTrans, T, D, T, 1.0f, P, T, dO + off, C, 0.0f, dv + off, C);
      }
      qlora_sgemm(RowMajor, NoTrans, Trans, T, T, D, 1.0f, dO + off, C, v + off, C, 0.0f, dP, T);
      softmax_grad(a, b, h, P, dP, dropping);
      qlora_sgemm(RowMajor, NoTrans, NoTrans, T, D, T, a->scale, dP, T, k + off, C, 0.0f, dq + off, C);
      qlora_sgemm(RowMajor, Trans, NoTrans, T, D, T, a->scale, dP, T, q + off, C, 0.0f, dk + off, C);
    }
  }
}
