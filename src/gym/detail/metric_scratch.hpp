// Internals of the gym metrics' fast path (gym/metrics.cpp): the (value, index) pairs of the
// numpy quicksort port and the per-thread scratch buffers assay_metrics reuses. Not part of
// gym's interface: the evaluator (which keeps one scratch per thread) and the tests
// include it.
#pragma once

#include <cstdint>
#include <vector>

namespace tranova::gym::detail {

// (value, index) pair sorted by the numpy quicksort port.
struct np_pair {
    double v;
    int64_t i;
};

// Per-thread scratch buffers, reused across calls (no allocation once warm).
struct metric_scratch {
    std::vector<np_pair> np_buf;
    std::vector<uint64_t> keys, keys_tmp;
    std::vector<uint32_t> keys32, keys32_tmp;
    std::vector<uint32_t> order, order_tmp, pos, mark;
    std::vector<double> sv;  // predictions in decreasing order
    std::vector<double> s_rank, sub_s, terms, sorted;
    std::vector<int8_t> pred_bin, sub_pred;
    std::vector<int64_t> np_order;
    std::vector<int8_t> depth_pred;  // depth slices
    std::vector<double> depth_s;
    std::vector<uint32_t> depth_order;
    std::vector<double> log2_pos;  // log2(p + 1) for NDCG positions p = 0, 1, ...
};

}  // namespace tranova::gym::detail
