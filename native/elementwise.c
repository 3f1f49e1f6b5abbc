// Elementwise kernels that tfjs runs as several single-threaded passes (or as a JS loop), done
// in one vectorised C pass over the wasm heap. Each one computes exactly what its JavaScript
// twin computes (lib/backends/dropout.ts, lib/backends/fused-ops.ts): same integer hash, same
// erf formula, one fp32 rounding per stored value, so results do not depend on which ran.
// Compiled without -ffast-math on purpose: the compiler must not reassociate or contract.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common.h"

// out[i] = x[i]·scale when hash(i) keeps it, else 0: SeededDropout (see lib/backends/dropout.ts).
VECTORISED void qlora_dropout(const float *x, float *out, size_t n, uint32_t key0, uint32_t key1, uint32_t threshold, float scale) {
  for (size_t i = 0; i < n; i++) {
    uint32_t h = fmix32(fmix32((uint32_t)i ^ key0) ^ key1);
    out[i] = (h >> 8) < threshold ? x[i] * scale : 0.0f;
  }
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), the formula tfjs' cpu and wasm Erf use.
static inline float erf_as(float x) {
  const float p = 0.3275911f, a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f, a4 = -1.453152027f, a5 = 1.061405429f;
  float ax = fabsf(x);
  float t = 1.0f / (1.0f + p * ax);
  float y = 1.0f - (((((a5 * t + a4) * t) + a3) * t + a2) * t + a1) * t * exp_neg(-ax * ax);
  return copysignf(y, x);
}

// GELU with exact erf, torch.nn.GELU(): y = x·½·(1 + erf(x/√2)).
VECTORISED void qlora_gelu(const float *x, float *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = x[i] * 0.5f * (1.0f + erf_as(x[i] * 0.70710678118654752f));
}

// Its gradient: dx = dy·(Φ(x) + x·φ(x)), Φ(x) = ½(1 + erf(x/√2)), φ(x) = exp(−x²/2)/√(2π).
VECTORISED void qlora_gelu_grad(const float *x, const float *dy, float *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    float cdf = 0.5f * (1.0f + erf_as(v * 0.70710678118654752f));
    float pdf = exp_neg(-0.5f * v * v) * 0.39894228040143268f;
    out[i] = dy[i] * (cdf + v * pdf);
  }
}

// LayerNorm over rows of C: y = (x − mean)·rstd·gamma + beta, rstd = 1/√(var + eps), biased var.
// Row statistics in double, as lib/backends/fused-ops.ts does in JS.
VECTORISED void qlora_layer_norm(const float *x, const float *gamma, const float *beta, float *y, size_t rows, size_t C, float eps) {
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * C;
    float *yr = y + r * C;
    double sum = 0;
    for (size_t c = 0; c < C; c++) sum += xr[c];
    const double mean = sum / C;
    double sq = 0;
    for (size_t c = 0; c < C; c++) sq += (xr[c] - mean) * (xr[c] - mean);
    const double rstd = 1.0 / sqrt(sq / C + eps);
    for (size_t c = 0; c < C; c++) yr[c] = (float)((xr[c] - mean) * rstd * gamma[c] + beta[c]);
  }
}

// Its gradient: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gamma; dgamma = Σ dy·x̂; dbeta = Σ dy.
// `acc` is 2·C doubles of scratch (the column sums).
VECTORISED void qlora_layer_norm_grad(const float *x, const float *gamma, const float *dy, float *dx, float *dgamma, float *dbeta,
                                      double *acc, size_t rows, size_t C, float eps) {
  for (size_t c = 0; c < 2 * C; c++) acc[c] = 0;
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * C, *dyr = dy + r * C;
    float *dxr = dx + r * C;
    double sum = 0;
    for (size_t c = 0; c < C; c++) sum += xr[c];
    const double mean = sum / C;
    double sq = 0;
    for (size_t c = 0; c < C; c++) sq += (xr[c] - mean) * (xr[c] - mean);
    const double rstd = 1.0 / sqrt(sq / C + eps);
    double sumG = 0, sumGX = 0;
    for (size_t c = 0; c < C; c++) {
      const double xhat = (xr[c] - mean) * rstd;
      const double g = (double)dyr[c] * gamma[c];
      sumG += g;
      sumGX += g * xhat;
      acc[c] += dyr[c] * xhat;
      acc[C + c] += dyr[c];
    }
    const double meanG = sumG / C, meanGX = sumGX / C;
    for (size_t c = 0; c < C; c++) dxr[c] = (float)(rstd * ((double)dyr[c] * gamma[c] - meanG - (xr[c] - mean) * rstd * meanGX));
  }
  for (size_t c = 0; c < C; c++) {
    dgamma[c] = (float)acc[c];
    dbeta[c] = (float)acc[C + c];
  }
}
