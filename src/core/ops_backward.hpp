// Backward twins of the core ops (training), llm.c style. Read ops.hpp's conventions first;
// these add:
//   - Every `foo_backward(dinp, dweight, ..., dout, inp, ...)` ACCUMULATES (+=) into the
//     gradient buffers it is given; nothing here zeroes a gradient. The trainer zeroes
//     the parameter gradients once per optimizer step (and activation gradients before
//     each backward pass), so gradient accumulation over micro-batches and a tensor used
//     twice (tied weights, residual branches) need no special code.
//   - Any gradient pointer may be nullptr: that gradient is not computed (frozen
//     parameters, inputs that need no gradient, e.g. token ids or a stop-gradient memory).
//   - Gradient buffers have the layout of the tensor they belong to and must not alias any
//     input of the same call.
//   - Backward reads what the forward saved; each op says what (its input, its output,
//     layernorm's mean/rstd, attention's probabilities, dropout's seed and offset).
//   - Determinism: every backward repeats its bits run to run. All of them except the
//     multithreaded BLAS products also give the same bits for ANY thread count
//     (reductions over rows run in a fixed order, threads split the columns; attention
//     runs one (batch, head) per thread on single-threaded BLAS). linear's products of
//     >= 32 rows run on the packed AVX-512 kernel (core/linear.hpp: one thread sums each
//     output tile, so they keep this promise too). The exception is what still goes to
//     multithreaded OpenBLAS (gemm/matmul, small or forced-BLAS linear products, CPUs
//     without AVX-512): OpenBLAS picks other kernels and blockings per thread count, so a
//     bit-identical resume needs the same thread count. tests/core checks 1 vs 2 threads
//     for every op that promises it.
//   - Naive twins are templates over float and double (instantiated for both) that
//     accumulate in double: the float instance is the oracle for the fast path, the
//     double one is what the finite-difference tests differentiate. The double forwards
//     the gradient checks need are at the end of this file.
//   - Training has no cache: conv1d and attention backward require start == 0.
#pragma once

#include "core/ops.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tranova::core {

// Non-deduced parameter type: lets optional (nullptr) arguments sit beside deduced ones.
// (std::type_identity_t spelled out: this header is also read by nvcc in C++17 mode.)
template <typename T>
struct nondeduced_type {
    using type = T;
};
template <typename T>
using nondeduced = typename nondeduced_type<T>::type;

// ---------------------------------------------------------------------------------------
// Embedding: dtable (V, C) += dout (N, C) scattered to rows ids[0..N). Throws
// tranova::error for an id outside [0, V). Threads split the channels and every thread
// walks the rows in index order, so repeated ids accumulate in the same order whatever
// the thread count.
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int N, int C, int V);
template <typename T>
void embedding_backward_naive(T* dtable, const T* dout, const int32_t* ids, int N, int C, int V);

// ---------------------------------------------------------------------------------------
// LayerNorm training forward: out as layernorm_forward (bit-identical to it), and saves
// mean (N) and rstd (N) = 1 / sqrt(var + eps) for the backward. out must not alias inp
// (the backward reads inp). weight/bias may be nullptr (1 / 0).
void layernorm_forward_train(float* out, float* mean, float* rstd, const float* inp,
                             const float* weight, const float* bias, int N, int C, float eps);
template <typename T>
void layernorm_forward_train_naive(T* out, T* mean, T* rstd, const T* inp, nondeduced<const T*> weight,
                                   nondeduced<const T*> bias, int N, int C, double eps);
// With n = (x - mean) rstd, g = dout * weight:
//   dinp += rstd (g - mean_c(g) - n mean_c(g n)),  dweight += sum_rows dout n,
//   dbias += sum_rows dout.
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean,
                        const float* rstd, int N, int C);
template <typename T>
void layernorm_backward_naive(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                              nondeduced<const T*> weight, const T* mean, const T* rstd, int N, int C);

// ---------------------------------------------------------------------------------------
// gemm backward, for c = alpha op(a) op(b) (+ beta c_old: the gradient of c_old,
// beta * dc, is the caller's). da has a's layout (row stride lda, (K, M) if trans_a), db
// has b's layout (ldb), dc is (M, N) with row stride ldc:
//   d op(a) += alpha dc op(b)^T,   d op(b) += alpha op(a)^T dc     (one sgemm each, beta 1)
void gemm_backward(float* da, float* db, const float* dc, const float* a, const float* b,
                   int M, int N, int K, bool trans_a, bool trans_b, float alpha, int lda,
                   int ldb, int ldc);
template <typename T>
void gemm_backward_naive(T* da, T* db, const T* dc, const T* a, const T* b, int M, int N,
                         int K, bool trans_a, bool trans_b, double alpha, int lda, int ldb,
                         int ldc);
// Contiguous form, the twin of matmul_forward.
void matmul_backward(float* da, float* db, const float* dc, const float* a, const float* b,
                     int M, int N, int K, bool trans_a = false, bool trans_b = false);
template <typename T>
void matmul_backward_naive(T* da, T* db, const T* dc, const T* a, const T* b, int M, int N,
                           int K, bool trans_a = false, bool trans_b = false);
// linear: out (N, OC) = inp (N, IC) W^T + b, W (OC, IC):
//   dinp += dout W,  dweight += dout^T inp,  dbias += sum_rows dout.
void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int N, int IC, int OC);
template <typename T>
void linear_backward_naive(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                           const T* weight, int N, int IC, int OC);

// ---------------------------------------------------------------------------------------
// Activations: dinp[i] += f'(inp[i]) dout[i], from the forward's INPUT. f'(0) of relu
// and squared_relu is 0 (as PyTorch). gelu: Phi(x) + x phi(x); gelu_tanh: derivative of
// the tanh form.
void relu_backward(float* dinp, const float* dout, const float* inp, size_t n);
void squared_relu_backward(float* dinp, const float* dout, const float* inp, size_t n);
void gelu_backward(float* dinp, const float* dout, const float* inp, size_t n);
void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, size_t n);
template <typename T> void relu_backward_naive(T* dinp, const T* dout, const T* inp, size_t n);
template <typename T> void squared_relu_backward_naive(T* dinp, const T* dout, const T* inp, size_t n);
template <typename T> void gelu_backward_naive(T* dinp, const T* dout, const T* inp, size_t n);
template <typename T> void gelu_tanh_backward_naive(T* dinp, const T* dout, const T* inp, size_t n);

// add (out = a + b): da += dout, db += dout. Trivial; a residual connection usually
// needs no call at all, because the residual stream's gradient buffer is simply passed
// on as the dout of both branches (they accumulate into it).
void add_backward(float* da, float* db, const float* dout, size_t n);
template <typename T> void add_backward_naive(T* da, T* db, const T* dout, size_t n);

// ---------------------------------------------------------------------------------------
// Softmax / log-softmax over rows, from the forward's OUTPUT (N, C):
//   softmax:     dinp += out * (dout - sum_c dout out)
//   log_softmax: dinp += dout - exp(out) * sum_c dout
void softmax_backward(float* dinp, const float* dout, const float* out, int N, int C);
void log_softmax_backward(float* dinp, const float* dout, const float* out, int N, int C);
template <typename T>
void softmax_backward_naive(T* dinp, const T* dout, const T* out, int N, int C);
template <typename T>
void log_softmax_backward_naive(T* dinp, const T* dout, const T* out, int N, int C);

// ---------------------------------------------------------------------------------------
// Causal depthwise conv1d backward for a full sequence (s.start == 0, else throws),
// layouts and strides as in conv1d_shape: dinp has inp's layout (ld_in, bs_in), dout
// has out's (ld_out, bs_out); dweight (WC, K), dbias (WC); channel c uses kernel row
// c % WC, so dweight/dbias sum over every channel sharing a row.
void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias,
                                      const float* dout, const float* inp, const float* weight,
                                      const conv1d_shape& s);
template <typename T>
void conv1d_causal_depthwise_backward_naive(T* dinp, T* dweight, T* dbias, const T* dout,
                                            const T* inp, const T* weight,
                                            const conv1d_shape& s);

// ---------------------------------------------------------------------------------------
// Attention backward (self/cross, causal, ALiBi, key padding; s.start == 0, else throws)
// from the probabilities P (B, NH, T, TK) that attention_forward wrote to `probs`.
// dq/dk/dv have the layouts of q/k/v (ld_q/bs_q, ...), dout that of out (ld_o, bs_o), so
// dq, dk and dv may be column slices of one fused dQKV buffer. Per (batch, head):
//   dV += P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dP * P)),
//   dQ += scale dS K,  dK += scale dS^T Q.
// Masked keys and all-masked query rows have P = 0, hence zero gradient; the ALiBi bias
// does not depend on q/k (its slopes are constants). Tasks are (batch, head), each on one
// thread with single-threaded BLAS, so the result does not depend on the thread count.
// Called inside an OpenMP parallel region it runs on the calling thread (the caller holds
// a blas_single_thread_guard, as for gemm); scratch: attention_backward_scratch_floats.
size_t attention_backward_scratch_floats(const attention_shape& s);
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* probs,
                        const attention_shape& s, float* scratch);
template <typename T>
void attention_backward_naive(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k,
                              const T* v, const T* probs, const attention_shape& s);

// ---------------------------------------------------------------------------------------
// Dropout (inverted): out[i] = keep(i) ? inp[i] / (1 - p) : 0, p in [0, 1] (throws
// otherwise; p = 1 drops everything). keep(i) depends only on (seed, offset + i) through
// a counter-based hash, so nothing is saved for the backward (it recomputes the mask
// from seed and offset), the mask does not depend on the thread count, and a tensor
// processed in chunks gives the same mask as in one call (pass each chunk's offset).
// Give each dropout site and step its own seed or disjoint offset range.
//
// The hash is SplitMix64: draw number (index + 1) of the generator seeded with
// mix64(seed); the element is kept when its high 32 bits are >= p * 2^32.
constexpr uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
constexpr uint64_t counter_hash(uint64_t seed, uint64_t index) {
    return mix64(mix64(seed) + (index + 1) * 0x9e3779b97f4a7c15ULL);
}
// keep(i) <=> (counter_hash(seed, offset + i) >> 32) >= dropout_threshold(p)
uint64_t dropout_threshold(float p);

void dropout_forward(float* out, const float* inp, size_t n, float p, uint64_t seed,
                     uint64_t offset);
void dropout_backward(float* dinp, const float* dout, size_t n, float p, uint64_t seed,
                      uint64_t offset);
template <typename T>
void dropout_forward_naive(T* out, const T* inp, size_t n, float p, uint64_t seed,
                           uint64_t offset);
template <typename T>
void dropout_backward_naive(T* dinp, const T* dout, size_t n, float p, uint64_t seed,
                            uint64_t offset);

// ---------------------------------------------------------------------------------------
// Double-precision naive forwards of the ops.hpp ops (same semantics as their float
// twins), so gradient checks can difference every op in double (ops_naive_double.cpp).
void embedding_forward_naive(double* out, const int32_t* ids, const double* table, int N, int C, int V);
void gemm_naive(double* c, const double* a, const double* b, int M, int N, int K, bool trans_a,
                bool trans_b, double alpha, double beta, int lda, int ldb, int ldc);
void matmul_forward_naive(double* c, const double* a, const double* b, int M, int N, int K,
                          bool trans_a = false, bool trans_b = false);
void linear_forward_naive(double* out, const double* inp, const double* weight,
                          const double* bias, int N, int IC, int OC);
void relu_forward_naive(double* out, const double* inp, size_t n);
void squared_relu_forward_naive(double* out, const double* inp, size_t n);
void gelu_forward_naive(double* out, const double* inp, size_t n);
void gelu_tanh_forward_naive(double* out, const double* inp, size_t n);
void add_forward_naive(double* out, const double* a, const double* b, size_t n);
void softmax_forward_naive(double* out, const double* inp, int N, int C);
void log_softmax_forward_naive(double* out, const double* inp, int N, int C);
void conv1d_causal_depthwise_forward_naive(double* out, const double* inp, const double* weight,
                                           const double* bias, const conv1d_shape& s);
void attention_forward_naive(double* out, double* probs, const double* q, const double* k,
                             const double* v, const attention_shape& s);

}  // namespace tranova::core
