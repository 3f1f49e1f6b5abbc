// The project's native addon: a synchronous single-precision GEMM on whatever OpenBLAS the
// system has, and the fused elementwise kernels of elementwise.c.
//
// Built by native/build.js with plain `cc` against Node's own N-API headers; OpenBLAS is
// opened with dlopen() at run time, so neither its headers nor a link step are needed, and a
// machine without it simply gets a clear error from open(). lib/backends/gemm/openblas.ts sets
// OPENBLAS_CORETYPE (when the CPU needs it) before calling open(), since OpenBLAS picks its
// kernels once, when the library is loaded.
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#define NAPI_VERSION 8
#include <node_api.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef char *(*corename_fn)(void);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);

sgemm_fn qlora_sgemm; // shared with attention.c
#define sgemm qlora_sgemm
static corename_fn corename;
static set_threads_fn set_threads;
static get_threads_fn get_threads;

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, #call " failed"); return NULL; } } while (0)

static napi_value str(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &v);
  return v;
}

// open(path, coretype) -> { core, threads }: loads OpenBLAS from `path` (a file name or a full
// path). A non-empty `coretype` is put in the C environment first (OPENBLAS_CORETYPE): Node's
// process.env does that too, but not inside a vm context such as jest's or a notebook kernel's.
static napi_value open_lib(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[4096], coretype[64] = "";
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len));
  if (argc > 1) CHECK(napi_get_value_string_utf8(env, argv[1], coretype, sizeof coretype, &len));
  if (coretype[0]) setenv("OPENBLAS_CORETYPE", coretype, 1);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) { napi_throw_error(env, NULL, dlerror()); return NULL; }
  sgemm_fn f = (sgemm_fn)dlsym(h, "cblas_sgemm");
  if (!f) { napi_throw_error(env, NULL, "the library has no cblas_sgemm"); return NULL; }
  sgemm = f;
  corename = (corename_fn)dlsym(h, "openblas_get_corename");
  set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
  get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
  napi_value out, threads;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_set_named_property(env, out, "core", str(env, corename ? corename() : "unknown")));
  CHECK(napi_create_int32(env, get_threads ? get_threads() : 1, &threads));
  CHECK(napi_set_named_property(env, out, "threads", threads));
  return out;
}

static napi_value set_num_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &n));
  if (set_threads && n > 0) set_threads(n);
  return NULL;
}

// The data of a Float32Array (NULL when empty), or false when `v` is not one.
static bool f32(napi_env env, napi_value v, float **data, size_t *length) {
  napi_typedarray_type type;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &type, length, &p, NULL, NULL) != napi_ok || type != napi_float32_array) return false;
  *data = (float *)p;
  return true;
}

// gemm(transA, transB, M, N, K, batch, A, strideA, B, strideB, C, bias|null, activation, alpha)
//   for each i < batch: C[i] = act(op(A[i])·op(B[i]) + bias), row-major, C[i] = C + i·M·N,
//   A[i] = A + i·strideA (strideA 0 broadcasts one matrix), op() transposes when asked.
//   activation: 0 linear, 1 relu, 2 relu6, 3 leakyrelu(alpha), 4 sigmoid, 5 elu (tfjs' set).
static napi_value gemm(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 14) { napi_throw_error(env, NULL, "gemm: 14 arguments expected"); return NULL; }
  if (!sgemm) { napi_throw_error(env, NULL, "gemm: open() a BLAS first"); return NULL; }
  bool ta, tb;
  int32_t M, N, K, batch, act;
  int64_t sa, sb;
  double alpha;
  CHECK(napi_get_value_bool(env, argv[0], &ta));
  CHECK(napi_get_value_bool(env, argv[1], &tb));
  CHECK(napi_get_value_int32(env, argv[2], &M));
  CHECK(napi_get_value_int32(env, argv[3], &N));
  CHECK(napi_get_value_int32(env, argv[4], &K));
  CHECK(napi_get_value_int32(env, argv[5], &batch));
  CHECK(napi_get_value_int64(env, argv[7], &sa));
  CHECK(napi_get_value_int64(env, argv[9], &sb));
  CHECK(napi_get_value_int32(env, argv[12], &act));
  CHECK(napi_get_value_double(env, argv[13], &alpha));
  size_t na, nb, nc, nbias = 0;
  float *A, *B, *C;
  if (!f32(env, argv[6], &A, &na) || !f32(env, argv[8], &B, &nb) || !f32(env, argv[10], &C, &nc)) { napi_throw_type_error(env, NULL, "gemm: A, B and C must be Float32Arrays"); return NULL; }
  napi_valuetype bt;
  CHECK(napi_typeof(env, argv[11], &bt));
  float *bias = NULL;
  if (bt != napi_null && bt != napi_undefined) {
    if (!f32(env, argv[11], &bias, &nbias) || (int64_t)nbias != N) { napi_throw_error(env, NULL, "gemm: bias must be a Float32Array of length N"); return NULL; }
  }
  const size_t mn = (size_t)M * N;
  // Bounds checks: a wrong stride from JS must throw, never read or write outside the arrays.
  if (M < 0 || N < 0 || K < 0 || batch < 0 || sa < 0 || sb < 0 || nc < mn * batch ||
      (batch > 0 && (na < (size_t)sa * (batch - 1) + (size_t)M * K || nb < (size_t)sb * (batch - 1) + (size_t)K * N))) {
    napi_throw_range_error(env, NULL, "gemm: array too short for the given shape");
    return NULL;
  }
  if (mn == 0) return NULL;
  for (int32_t i = 0; i < batch; i++) {
    float *c = C + i * mn;
    if (bias) for (int32_t r = 0; r < M; r++) memcpy(c + (size_t)r * N, bias, sizeof(float) * N);
    if (K > 0) {
      sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, M, N, K, 1.0f, A + i * sa, ta ? M : K, B + i * sb,
            tb ? K : N, bias ? 1.0f : 0.0f, c, N);
    } else if (!bias) {
      memset(c, 0, sizeof(float) * mn);
    }
    const float a = (float)alpha;
    switch (act) {
      case 1: for (size_t j = 0; j < mn; j++) c[j] = c[j] < 0 ? 0 : c[j]; break;
      case 2: for (size_t j = 0; j < mn; j++) c[j] = c[j] < 0 ? 0 : (c[j] > 6 ? 6 : c[j]); break;
      case 3: for (size_t j = 0; j < mn; j++) c[j] = c[j] < 0 ? a * c[j] : c[j]; break;
      case 4: for (size_t j = 0; j < mn; j++) c[j] = 1.0f / (1.0f + expf(-c[j])); break;
      case 5: for (size_t j = 0; j < mn; j++) c[j] = c[j] < 0 ? expf(c[j]) - 1.0f : c[j]; break;
      default: break;
    }
  }
  return NULL;
}

void qlora_dropout(const float *x, float *out, size_t n, uint32_t key0, uint32_t key1, uint32_t threshold, float scale);
void qlora_gelu(const float *x, float *out, size_t n);
void qlora_gelu_grad(const float *x, const float *dy, float *out, size_t n);
void qlora_layer_norm(const float *x, const float *gamma, const float *beta, float *y, size_t rows, size_t C, float eps);
void qlora_layer_norm_grad(const float *x, const float *gamma, const float *dy, float *dx, float *dgamma, float *dbeta,
                           double *acc, size_t rows, size_t C, float eps);

#define GET_F32(i, name) float *name; size_t name##_n; \
  if (!f32(env, argv[i], &name, &name##_n)) { napi_throw_type_error(env, NULL, "argument " #i " must be a Float32Array"); return NULL; }

static uint32_t get_u32(napi_env env, napi_value v) {
  uint32_t out = 0;
  napi_get_value_uint32(env, v, &out);
  return out;
}

// dropout(x, out, key0, key1, threshold, scale)
static napi_value dropout(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  double scale;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  GET_F32(0, x);
  GET_F32(1, out);
  CHECK(napi_get_value_double(env, argv[5], &scale));
  if (x_n < out_n) { napi_throw_range_error(env, NULL, "dropout: x is shorter than out"); return NULL; }
  qlora_dropout(x, out, out_n, get_u32(env, argv[2]), get_u32(env, argv[3]), get_u32(env, argv[4]), (float)scale);
  return NULL;
}

// gelu(x, out)
static napi_value gelu(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  GET_F32(0, x);
  GET_F32(1, out);
  if (x_n < out_n) { napi_throw_range_error(env, NULL, "gelu: x is shorter than out"); return NULL; }
  qlora_gelu(x, out, out_n);
  return NULL;
}

// geluGrad(x, dy, out)
static napi_value gelu_grad(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  GET_F32(0, x);
  GET_F32(1, dy);
  GET_F32(2, out);
  if (x_n < out_n || dy_n < out_n) { napi_throw_range_error(env, NULL, "geluGrad: x or dy is shorter than out"); return NULL; }
  qlora_gelu_grad(x, dy, out, out_n);
  return NULL;
}

// layerNorm(x, gamma, beta, y, eps): rows of gamma.length
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  double eps;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  GET_F32(0, x);
  GET_F32(1, gamma);
  GET_F32(2, beta);
  GET_F32(3, y);
  CHECK(napi_get_value_double(env, argv[4], &eps));
  size_t C = gamma_n;
  if (C == 0 || beta_n != C || x_n != y_n || x_n % C) { napi_throw_range_error(env, NULL, "layerNorm: shapes do not match"); return NULL; }
  qlora_layer_norm(x, gamma, beta, y, x_n / C, C, (float)eps);
  return NULL;
}

// layerNormGrad(x, gamma, dy, dx, dgamma, dbeta, eps)
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  double eps;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  GET_F32(0, x);
  GET_F32(1, gamma);
  GET_F32(2, dy);
  GET_F32(3, dx);
  GET_F32(4, dgamma);
  GET_F32(5, dbeta);
  CHECK(napi_get_value_double(env, argv[6], &eps));
  size_t C = gamma_n;
  if (C == 0 || dgamma_n != C || dbeta_n != C || x_n != dy_n || x_n != dx_n || x_n % C) {
    napi_throw_range_error(env, NULL, "layerNormGrad: shapes do not match");
    return NULL;
  }
  double *acc = malloc(sizeof(double) * 2 * C);
  if (!acc) { napi_throw_error(env, NULL, "layerNormGrad: out of memory"); return NULL; }
  qlora_layer_norm_grad(x, gamma, dy, dx, dgamma, dbeta, acc, x_n / C, C, (float)eps);
  free(acc);
  return NULL;
}

typedef struct {
  int B, T, H, D;
  float scale;
  uint32_t key0, key1, threshold;
  float dropScale;
} attn_args;
void qlora_attention(const attn_args *a, const float *q, const float *k, const float *v, const float *keep, float *o, float *scratch);
void qlora_attention_grad(const attn_args *a, const float *q, const float *k, const float *v, const float *keep, const float *dO,
                          float *dq, float *dk, float *dv, float *scratch);

// Reads [B, T, H, D, scale, key0, key1, threshold, dropScale] from argv[first..] and checks the
// arrays: q/k/v-like ones hold B·T·H·D values, keep B·T.
static bool attn_read(napi_env env, napi_value *argv, int first, attn_args *a) {
  int32_t i32[4];
  double d;
  for (int i = 0; i < 4; i++) if (napi_get_value_int32(env, argv[first + i], &i32[i]) != napi_ok || i32[i] <= 0) return false;
  a->B = i32[0], a->T = i32[1], a->H = i32[2], a->D = i32[3];
  if (napi_get_value_double(env, argv[first + 4], &d) != napi_ok) return false;
  a->scale = (float)d;
  a->key0 = get_u32(env, argv[first + 5]);
  a->key1 = get_u32(env, argv[first + 6]);
  a->threshold = get_u32(env, argv[first + 7]);
  if (napi_get_value_double(env, argv[first + 8], &d) != napi_ok) return false;
  a->dropScale = (float)d;
  return true;
}

// attention(q, k, v, keep, out, B, T, H, D, scale, key0, key1, threshold, dropScale)
static napi_value attention(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  attn_args a;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!sgemm) { napi_throw_error(env, NULL, "attention: open() a BLAS first"); return NULL; }
  GET_F32(0, q);
  GET_F32(1, k);
  GET_F32(2, v);
  GET_F32(3, keep);
  GET_F32(4, out);
  if (argc < 14 || !attn_read(env, argv, 5, &a)) { napi_throw_error(env, NULL, "attention: bad shape arguments"); return NULL; }
  size_t n = (size_t)a.B * a.T * a.H * a.D;
  if (q_n != n || k_n != n || v_n != n || out_n != n || keep_n != (size_t)a.B * a.T) {
    napi_throw_range_error(env, NULL, "attention: array sizes do not match [B·T, H·D] and [B, T]");
    return NULL;
  }
  float *scratch = malloc(sizeof(float) * 2 * a.T * a.T);
  if (!scratch) { napi_throw_error(env, NULL, "attention: out of memory"); return NULL; }
  qlora_attention(&a, q, k, v, keep, out, scratch);
  free(scratch);
  return NULL;
}

// attentionGrad(q, k, v, keep, dO, dq, dk, dv, B, T, H, D, scale, key0, key1, threshold, dropScale)
static napi_value attention_grad(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value argv[17];
  attn_args a;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!sgemm) { napi_throw_error(env, NULL, "attentionGrad: open() a BLAS first"); return NULL; }
  GET_F32(0, q);
  GET_F32(1, k);
  GET_F32(2, v);
  GET_F32(3, keep);
  GET_F32(4, dO);
  GET_F32(5, dq);
  GET_F32(6, dk);
  GET_F32(7, dv);
  if (argc < 17 || !attn_read(env, argv, 8, &a)) { napi_throw_error(env, NULL, "attentionGrad: bad shape arguments"); return NULL; }
  size_t n = (size_t)a.B * a.T * a.H * a.D;
  if (q_n != n || k_n != n || v_n != n || dO_n != n || dq_n != n || dk_n != n || dv_n != n || keep_n != (size_t)a.B * a.T) {
    napi_throw_range_error(env, NULL, "attentionGrad: array sizes do not match [B·T, H·D] and [B, T]");
    return NULL;
  }
  float *scratch = malloc(sizeof(float) * 2 * a.T * a.T);
  if (!scratch) { napi_throw_error(env, NULL, "attentionGrad: out of memory"); return NULL; }
  qlora_attention_grad(&a, q, k, v, keep, dO, dq, dk, dv, scratch);
  free(scratch);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, open_lib, NULL, NULL, NULL, napi_default, NULL},
    {"setNumThreads", NULL, set_num_threads, NULL, NULL, NULL, napi_default, NULL},
    {"gemm", NULL, gemm, NULL, NULL, NULL, napi_default, NULL},
    {"dropout", NULL, dropout, NULL, NULL, NULL, napi_default, NULL},
    {"gelu", NULL, gelu, NULL, NULL, NULL, napi_default, NULL},
    {"geluGrad", NULL, gelu_grad, NULL, NULL, NULL, napi_default, NULL},
    {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_default, NULL},
    {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
    {"attention", NULL, attention, NULL, NULL, NULL, napi_default, NULL},
    {"attentionGrad", NULL, attention_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
