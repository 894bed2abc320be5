// The weights of one torch nn.MultiheadAttention (batch_first, packed in_proj) as the de novo
// layers read them. The wiring itself (q/k/v projections, core attention, output
// projection) is part of the one Transformer layer of layers.hpp; every op is core's,
// through the model's core::backend.
#pragma once

namespace tranova::denovo_model {

// in_proj (3d,d)+(3d) (rows q, k, v), out_proj (d,d)+(d).
struct mha_weights {
    const float* in_w = nullptr;
    const float* in_b = nullptr;
    const float* out_w = nullptr;
    const float* out_b = nullptr;
};

}  // namespace tranova::denovo_model
