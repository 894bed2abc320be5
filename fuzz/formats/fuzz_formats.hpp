// The bodies of the file-format fuzz targets (checkpoints, safetensors, HDF5 weights,
// JSON, FASTA, A2M/A3M, CSV, mzTab), shared by the libFuzzer entry points (fuzz_*.cpp
// here, built by fuzz/build.sh) and the seed-corpus replay test
// (tests/fuzz/test_fuzz_replay.cpp, no clang needed). A tranova::error is the expected
// outcome for a malformed file; anything else (crash, sanitizer report, another
// exception) is a bug.
//
// Readers that only take a path get the bytes through a temporary file (temp_input).
#pragma once

#include "core/checkpoint.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"
#include "denovo/mztab.hpp"
#include "msa/msa.hpp"
#include "retrieval/fasta_db.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"

#include "../common/temp_input.hpp"
#include "stored_zip.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace tranova_fuzz {

// Touches every value of a read checkpoint (the sanitizers check the reads).
inline float touch(const tranova::core::checkpoint& ck) {
    float acc = 0;
    for (const auto& n : ck.names) {
        const auto& t = ck.at(n);
        for (float x : t.data) acc += x;
    }
    for (const auto& [k, v] : ck.meta) acc += float(k.size() + v.size());
    return acc;
}

// Raw bytes as a checkpoint file (zip or safetensors, by content).
inline int fuzz_checkpoint_one(const uint8_t* data, size_t size) {
    for (const char* key : {"", "state_dict"}) {
        tranova::core::checkpoint_options o;
        o.state_dict_key = key;
        try {
            volatile float s = touch(tranova::core::checkpoint_read_memory(data, size, "fuzz.ckpt", o));
            (void)s;
        } catch (const tranova::error&) {
        }
    }
    return 0;
}

// The input is data.pkl of a torch.save zip that also holds storages data/0..3 of 64
// bytes each: the fuzzer mutates the pickle, not the container.
inline int fuzz_pickle_one(const uint8_t* data, size_t size) {
    std::vector<std::pair<std::string, std::string>> files = {{"archive/data.pkl", std::string((const char*)data, size)}};
    for (int k = 0; k < 4; k++) {
        std::string bytes(64, '\0');
        for (int i = 0; i < 64; i++) bytes[i] = char(i * 7 + k);
        files.push_back({"archive/data/" + std::to_string(k), bytes});
    }
    const std::vector<uint8_t> z = make_stored_zip(files);
    return fuzz_checkpoint_one(z.data(), z.size());
}

// The input is a safetensors header and its data separated by one NUL byte (JSON text
// holds no raw NUL); the 8-byte length prefix is computed, so mutations of the header
// keep reaching the header checks. Without a NUL the bytes are read as they are.
inline int fuzz_safetensors_one(const uint8_t* data, size_t size) {
    const void* nul = std::memchr(data, 0, size);
    if (!nul) return fuzz_checkpoint_one(data, size);
    const size_t hlen = (size_t)((const uint8_t*)nul - data);
    std::vector<uint8_t> f(8);
    for (int i = 0; i < 8; i++) f[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    f.insert(f.end(), data, data + hlen);
    f.insert(f.end(), data + hlen + 1, data + size);
    return fuzz_checkpoint_one(f.data(), f.size());
}

// An HDF5 weight file: read it (format marker, attributes, tensors, finiteness), then
// look every tensor and config field up as a model loader would.
inline int fuzz_hdf5_one(const uint8_t* data, size_t size) {
    temp_input in(data, size, ".h5");
    try {
        tranova::core::weights w = tranova::core::weights_read(in.path());
        volatile float acc = 0;
        for (const auto& e : w.entries()) {
            const float* p = w.get(e.name, e.shape);
            for (size_t i = 0; i < e.numel; i++) acc = acc + p[i];
        }
        for (const auto& [k, v] : w.config) {
            (void)w.config_int_or(k + ".missing", 0);
            try {
                (void)w.config_double(k);
            } catch (const tranova::error&) {
            }
        }
        (void)w.parameter_count();
    } catch (const tranova::error&) {
    }
    return 0;
}

inline int fuzz_json_one(const uint8_t* data, size_t size) {
    try {
        tranova::core::json_value v = tranova::core::json_parse((const char*)data, size, "fuzz.json");
        volatile size_t n = v.dump().size();
        (void)n;
        if (v.kind == tranova::core::json_value::object_v) (void)v.find("dtype");
    } catch (const tranova::error&) {
    }
    return 0;
}

// FASTA through the database reader (htslib BGZF: plain, gzip, bgzip), record by record
// and in chunks.
inline int fuzz_fasta_one(const uint8_t* data, size_t size) {
    temp_input in(data, size, ".fasta");
    try {
        tranova::retrieval::fasta_reader r(in.path());
        tranova::retrieval::fasta_record rec;
        size_t n = 0;
        while (r.next(rec)) n += rec.seq.size() + rec.name.size();
        (void)n;
    } catch (const tranova::error&) {
    }
    try {
        tranova::retrieval::fasta_reader r(in.path());
        std::vector<tranova::retrieval::fasta_record> chunk;
        size_t used = 0;
        while (r.next_chunk(chunk, 64, used) > 0) {
        }
    } catch (const tranova::error&) {
    }
    return 0;
}

// A2M and A3M through the MSA reader (in memory and from a file, which adds gzip
// detection), then the writers and focus columns on what was read.
inline int fuzz_msa_one(const uint8_t* data, size_t size) {
    using namespace tranova::msa;
    std::string_view text((const char*)data, size);
    for (format f : {format::a2m, format::a3m}) {
        try {
            alignment a = parse_alignment(text, f, "fuzz.msa");
            (void)a.focus_columns();
            volatile size_t n = to_a2m(a, 60).size() + to_a3m(a, 0).size();
            (void)n;
        } catch (const tranova::error&) {
        }
    }
    temp_input in(data, size, ".a3m");
    try {
        (void)read_alignment(in.path());
    } catch (const tranova::error&) {
    }
    return 0;
}

inline int fuzz_csv_one(const uint8_t* data, size_t size) {
    temp_input in(data, size, ".csv");
    for (char sep : {',', '\t'}) {
        try {
            tranova::csv_reader r(in.path(), sep);
            (void)r.column("mutant");
            std::vector<std::string> fields;
            while (r.next(fields)) (void)r.where();
        } catch (const tranova::error&) {
        }
    }
    return 0;
}

inline int fuzz_mztab_one(const uint8_t* data, size_t size) {
    temp_input in(data, size, ".mztab");
    try {
        tranova::denovo::mztab_file f = tranova::denovo::read_mztab(in.path());
        for (const auto& p : f.psms) (void)p.sequence_text.size();
    } catch (const tranova::error&) {
    }
    return 0;
}

}  // namespace tranova_fuzz
