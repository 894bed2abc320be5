// Writes the HDF5 seed corpus (fuzz/formats/corpus_hdf5) with the project's own writer:
// small weight files of each attribute kind and tensor rank. Run once by hand:
//   g++ -std=c++20 -Isrc -I/usr/include/hdf5/serial fuzz/formats/make_hdf5_seeds.cpp \
//     build/src/core/libtranova_core.a build/src/util/libtranova_util.a \
//     -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -lfmt -o /tmp/make_hdf5_seeds
//   /tmp/make_hdf5_seeds fuzz/formats/corpus_hdf5
#include "core/weights.hpp"

#include <string>
#include <vector>

int main(int argc, char** argv) {
    using namespace tranova::core;
    const std::string dir = argc > 1 ? argv[1] : ".";
    {
        weights w;
        w.arch = "tranception";
        w.config["n_layer"] = int64_t(1);
        w.config["layer_norm_epsilon"] = 1e-5;
        w.config["position_embedding"] = std::string("grouped_alibi");
        std::vector<float> a = {1.0f / 16, 1.0f / 256, 1.0f / 16, 1.0f / 256};
        w.add("alibi_slopes", {4}, a.data());
        std::vector<float> m(6);
        for (int i = 0; i < 6; i++) m[i] = 0.5f * float(i) - 1;
        w.add("blk.0.ln_1.weight", {2, 3}, m.data());
        weights_write(dir + "/tranception_small.h5", w);
    }
    {
        weights w;
        w.arch = "casanovo";
        w.config["residues"] = std::string("G=57.021464,A=71.037114");
        w.config["n_head"] = int64_t(2);
        float s = 3.0f;
        w.add("encoder.latent_spectrum", {}, &s);
        std::vector<float> z;
        w.add("empty", {0, 4}, z.data());
        std::vector<float> c(2 * 2 * 2, 0.25f);
        w.add("ar_decoder.charge_encoder.weight", {2, 2, 2}, c.data());
        weights_write(dir + "/casanovo_scalar_empty.h5", w);
    }
    {
        weights w;
        w.arch = "x";
        weights_write(dir + "/no_tensors.h5", w);
    }
    return 0;
}
