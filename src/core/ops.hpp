// Model-core ops: plain functions over flat float32 buffers (llm.c style).
//
// Conventions (read these once, they hold for every function below):
//   - Outputs come first, then inputs, then sizes. Nothing here allocates; ops that need
//     temporary space take a caller-provided `scratch` buffer and a function that says
//     how large it must be.
//   - Row-major everywhere. Legend: B = batch, T = sequence positions computed by this
//     call, TK = key positions, C = channels, NH = heads, HD = head dim, N = rows.
//   - Linear weights use the PyTorch nn.Linear layout (OC, IC): y = x W^T + b.
//   - Every op `foo_forward` has a `foo_forward_naive` twin: a straightforward loop
//     implementation used as the oracle in tests/core (and as a fallback). The fast path
//     matches its twin within the tolerances stated in tests/core/test_ops.cpp.
//   - Parallelism: OpenMP inside the op (over batch, heads, rows). BLAS is called either
//     outside OpenMP regions (with the threads set by tranova::set_threads) or inside
//     them single-threaded (ops take care of that themselves via blas_single_thread_guard).
//     On a shared/oversubscribed machine set OMP_WAIT_POLICY=passive (docs/core.md).
//   - Incremental / cached processing: attention and the causal convolution can compute
//     only positions [start, start+T) of a sequence, reading keys/values (resp. inputs)
//     of earlier positions from caller-held caches (see attention_shape, conv1d_causal).
//   - Ops do not validate sizes beyond cheap checks (ids in range); callers own shapes.
//
// What is not here: model structure (src/tranception, src/denovo_model), weight files
// (core/weights.hpp), checkpoint import (core/checkpoint.hpp), devices (core/backend.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tranova::core {

// ---------------------------------------------------------------------------------------
// Embedding lookup
// out (N, C) <- table (V, C) rows ids[0..N). Throws tranova::error when an id is outside
// [0, V) (names the index and id).
void embedding_forward(float* out, const int32_t* ids, const float* table, int N, int C, int V);
void embedding_forward_naive(float* out, const int32_t* ids, const float* table, int N, int C, int V);

// ---------------------------------------------------------------------------------------
// LayerNorm over the last dim (biased variance, like torch.nn.LayerNorm)
// out (N, C) = (inp - mean) / sqrt(var + eps) * weight + bias. weight/bias (C) may be
// nullptr (then 1 / 0). out may equal inp (in place).
void layernorm_forward(float* out, const float* inp, const float* weight, const float* bias,
                       int N, int C, float eps);
void layernorm_forward_naive(float* out, const float* inp, const float* weight,
                             const float* bias, int N, int C, float eps);

// ---------------------------------------------------------------------------------------
// General matrix multiply (BLAS sgemm semantics, row-major, explicit leading dims)
// c (M, N) = alpha * op(a) op(b) + beta * c, op(a) (M, K), op(b) (K, N).
// a is (M, K) with row stride lda, or (K, M) if trans_a; b is (K, N) with row stride ldb,
// or (N, K) if trans_b; c has row stride ldc. beta == 0 ignores c's old contents.
// Runs BLAS with the threads of tranova::set_threads. To call it from inside an OpenMP
// parallel region, hold a blas_single_thread_guard created before the region.
void gemm(float* c, const float* a, const float* b, int M, int N, int K, bool trans_a,
          bool trans_b, float alpha, float beta, int lda, int ldb, int ldc);
void gemm_naive(float* c, const float* a, const float* b, int M, int N, int K, bool trans_a,
                bool trans_b, float alpha, float beta, int lda, int ldb, int ldc);

// Contiguous convenience form: c (M, N) = a (M, K) @ b (K, N)   (trans flags as in gemm,
// leading dims implied by the shapes).
void matmul_forward(float* c, const float* a, const float* b, int M, int N, int K,
                    bool trans_a = false, bool trans_b = false);
void matmul_forward_naive(float* c, const float* a, const float* b, int M, int N, int K,
                          bool trans_a = false, bool trans_b = false);

// ---------------------------------------------------------------------------------------
// Linear layer, PyTorch layout
// out (N, OC) = inp (N, IC) @ weight^T + bias; weight (OC, IC), bias (OC) or nullptr.
// One sgemm (bias pre-broadcast into out, beta = 1).
void linear_forward(float* out, const float* inp, const float* weight, const float* bias,
                    int N, int IC, int OC);
void linear_forward_naive(float* out, const float* inp, const float* weight,
                          const float* bias, int N, int IC, int OC);

// ---------------------------------------------------------------------------------------
// Activations, elementwise over n values; out may equal inp.
// relu: max(x, 0); squared_relu: max(x, 0)^2 (Primer / Tranception);
// gelu: exact x * 0.5 * (1 + erf(x / sqrt 2)) (torch default);
// gelu_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (torch approximate='tanh').
void relu_forward(float* out, const float* inp, size_t n);
void relu_forward_naive(float* out, const float* inp, size_t n);
void squared_relu_forward(float* out, const float* inp, size_t n);
void squared_relu_forward_naive(float* out, const float* inp, size_t n);
void gelu_forward(float* out, const float* inp, size_t n);
void gelu_forward_naive(float* out, const float* inp, size_t n);
void gelu_tanh_forward(float* out, const float* inp, size_t n);
void gelu_tanh_forward_naive(float* out, const float* inp, size_t n);

// Elementwise out[i] = a[i] + b[i] (residual connections); out may alias a or b.
void add_forward(float* out, const float* a, const float* b, size_t n);
void add_forward_naive(float* out, const float* a, const float* b, size_t n);

// ---------------------------------------------------------------------------------------
// Softmax / log-softmax over each row (max-subtracted, accumulated in float).
// out (N, C) from inp (N, C); out may equal inp.
void softmax_forward(float* out, const float* inp, int N, int C);
void softmax_forward_naive(float* out, const float* inp, int N, int C);
void log_softmax_forward(float* out, const float* inp, int N, int C);
void log_softmax_forward_naive(float* out, const float* inp, int N, int C);

// y[j] = exp(x[j] - mx) for j < n (in place allowed; x[j] <= mx expected), returns the
// sum. Exponents below -87 give exactly 0 (never subnormal). AVX2 path: relative error
// < 1e-6 against std::exp. The building block of softmax and attention.
float exp_shift_sum(float* y, const float* x, int n, float mx);

// ---------------------------------------------------------------------------------------
// Sinusoidal encodings.
// sinusoidal_forward: out (N, n_sin + n_cos) with
//   out[i, j]         = sin(x[i] / sin_term[j])   for j <  n_sin
//   out[i, n_sin + j] = cos(x[i] / cos_term[j])   for j <  n_cos
// This is depthcharge's FloatEncoder / PositionalEncoder / MassEncoder form (the terms
// are stored in Casanovo/PrimeNovo checkpoints as buffers; sinusoidal_terms rebuilds them).
void sinusoidal_forward(float* out, const float* x, int N, const float* sin_term, int n_sin,
                        const float* cos_term, int n_cos);
void sinusoidal_forward_naive(float* out, const float* x, int N, const float* sin_term,
                              int n_sin, const float* cos_term, int n_cos);
// Geometric wavelength terms as depthcharge 0.2 computes them (float32):
//   base = min_wavelength / (2 pi), scale = max_wavelength / min_wavelength,
//   sin_term[j] = base * scale^(j / (n_sin - 1)), cos_term[j] = base * scale^(j / (n_cos - 1)).
// (n == 1 gives exponent 0.)
void sinusoidal_terms(float* sin_term, int n_sin, float* cos_term, int n_cos,
                      float min_wavelength, float max_wavelength);
// Classic "Attention is all you need" table, interleaved: out (T, C) for positions
// start..start+T-1: out[t, 2i] = sin(p / 10000^(2i/C)), out[t, 2i+1] = cos(same).
void sinusoidal_positions_forward(float* out, int start, int T, int C);

// ---------------------------------------------------------------------------------------
// Causal depthwise 1-D convolution over time (per-channel kernels), for Tranception's
// Q/K/V convolutions. Weight layout is PyTorch's depthwise Conv1d (WC, 1, K) = (WC, K).
//
//   out[b, t, c] = bias[c % WC] + sum_{m=0..K-1} weight[c % WC, m] * inp[b, s - (K-1) + m, c]
//   for absolute positions s = start + t, t in [0, T); inp rows at s' < 0 are zero.
//
// inp points at absolute position 0 of batch 0 and must hold rows [0, start + T) of every
// batch item (rows before `start` are the cached inputs of earlier positions; only the
// last K-1 of them are read). Channel c uses kernel row c % WC, so one call can cover
// several heads sharing one filter set (C = heads * WC). bias may be nullptr.
//   inp: row stride ld_in, batch stride bs_in; out: row stride ld_out, batch stride bs_out
//   (out row 0 = position start). out must not overlap inp.
struct conv1d_shape {
    int B = 1, T = 0, start = 0, C = 0, WC = 0, K = 1;
    long ld_in = 0, bs_in = 0, ld_out = 0, bs_out = 0;
};
void conv1d_causal_depthwise_forward(float* out, const float* inp, const float* weight,
                                     const float* bias, const conv1d_shape& s);
void conv1d_causal_depthwise_forward_naive(float* out, const float* inp, const float* weight,
                                           const float* bias, const conv1d_shape& s);

// ---------------------------------------------------------------------------------------
// Multi-head scaled dot-product attention (self or cross), with optional causal mask,
// ALiBi bias, key padding mask and a start offset into cached keys/values.
//
// Query i of this call has absolute position p_i = start + i. It attends to keys
// j in [0, TK) (cross-attention: all TK; causal: only j <= p_i):
//   s[i, j]  = scale * <q_i, k_j> + alibi_slopes[h] * j     (if alibi_slopes)
//   masked   : causal j > p_i, or key_valid[b, j] == 0  -> excluded (probability 0)
//   out_i    = sum_j softmax_j(s)[i, j] * v_j
// ALiBi is Tranception's form (+slope * key index), which softmax makes equal to the
// usual -slope * (p_i - j). A query row with no allowed key gets out = 0 (and probs 0).
//
// Layouts: q (B, T, NH*HD), k/v (B, TK, NH*HD), out (B, T, NH*HD), head h in columns
// [h*HD, (h+1)*HD). Each has a row stride and a batch stride (in floats), so q/k/v may be
// column slices of a fused QKV buffer and k/v may be a KV cache of capacity > TK.
// For cached self-attention: TK = start + T and the cache holds rows [0, start + T).
struct attention_shape {
    int B = 1, T = 0, TK = 0, NH = 1, HD = 0;
    int start = 0;                        // absolute position of query row 0 (causal only)
    bool causal = false;
    float scale = 0.0f;                   // 0 -> 1 / sqrt(HD)
    const float* alibi_slopes = nullptr;  // (NH) or nullptr
    const uint8_t* key_valid = nullptr;   // (B, TK), row stride TK; nonzero = attend; or nullptr
    long ld_q = 0, bs_q = 0, ld_k = 0, bs_k = 0, ld_v = 0, bs_v = 0, ld_o = 0, bs_o = 0;
};
// Fill the strides of a contiguous layout: q/out (B, T, NH*HD), k/v (B, TK, NH*HD).
attention_shape attention_shape_contiguous(int B, int T, int TK, int NH, int HD);
// Floats of scratch attention_forward needs with the current OpenMP thread count.
size_t attention_scratch_floats(const attention_shape& s);
// probs: optional (B, NH, T, TK) output of the attention probabilities (nullptr = skip).
void attention_forward(float* out, float* probs, const float* q, const float* k,
                       const float* v, const attention_shape& s, float* scratch);
void attention_forward_naive(float* out, float* probs, const float* q, const float* k,
                             const float* v, const attention_shape& s);
// attention_forward computes its two products (Q K^T, P V) with the AVX-512 kernel of
// core/linear.hpp when the CPU has AVX-512F, else with BLAS (tests force the BLAS path
// through core/detail/attention.hpp).
bool attention_uses_avx512();

// ---------------------------------------------------------------------------------------
// BLAS thread helpers (used by ops; exposed for models calling BLAS themselves).
// While alive, BLAS runs single-threaded; restores the previous BLAS thread count after.
// Create it OUTSIDE an OpenMP parallel region that calls gemm/BLAS from its threads.
class blas_single_thread_guard {
    int saved_ = 0;
public:
    blas_single_thread_guard();
    ~blas_single_thread_guard();
    blas_single_thread_guard(const blas_single_thread_guard&) = delete;
    blas_single_thread_guard& operator=(const blas_single_thread_guard&) = delete;
};

}  // namespace tranova::core
