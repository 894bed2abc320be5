// Import of foreign checkpoints without Python: PyTorch zip files as torch.save writes
// them (data.pkl + raw storages; shared storages and strided views), PyTorch Lightning
// .ckpt files (the state_dict under a key) and safetensors. The result is a plain
// name -> tensor map converted to float32; mapping names to a model's layout is the
// converter's job (apps/convert).
//
// Safety: the pickle reader understands only the opcodes a state_dict (and Lightning's
// hyper_parameters) needs, and only these globals: torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter(_with_state), torch._tensor._rebuild_from_type_v2,
// collections.OrderedDict, Lightning's AttributeDict, torch.*Storage, torch.Size,
// torch.device, plus a short list of plain-data classes kept as opaque values (numpy
// scalars, paths, sets; see kOpaqueGlobals). Anything else (another global, an unknown
// opcode) is rejected with a one-line tranova::error naming the file and byte offset;
// nothing is executed.
// Every read is bounds-checked: corrupt or truncated input throws, never crashes. Nesting
// depth, object/memo/cell counts, metadata size and total tensor expansion are capped
// (docs/core.md); safetensors byte ranges must tile the data area exactly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tranova::core {

enum class dtype : uint8_t { f32, f64, f16, bf16, i64, i32, i16, i8, u8, boolean };
const char* dtype_name(dtype t);
size_t dtype_size(dtype t);

struct checkpoint_tensor {
    std::vector<int64_t> shape;  // [] = scalar
    dtype source = dtype::f32;   // element type in the file
    std::vector<float> data;     // C-order values converted to float32 (numel = prod(shape))
    size_t numel() const { return data.size(); }
};

struct checkpoint {
    std::string path;    // file actually read
    std::string format;  // "pytorch-zip", "lightning-ckpt" or "safetensors"
    std::vector<std::string> names;                  // tensor names in file order
    std::map<std::string, checkpoint_tensor> tensors;
    // Scalar metadata flattened to strings: Lightning "hyper_parameters.dim_model" -> "512",
    // "epoch" -> "3"; safetensors "__metadata__.format" -> "pt". Lists print as [a, b].
    std::map<std::string, std::string> meta;

    bool has(const std::string& name) const { return tensors.count(name) != 0; }
    // Throws tranova::error naming the tensor when absent.
    const checkpoint_tensor& at(const std::string& name) const;
};

struct checkpoint_options {
    // For pickled dicts: the key holding the state_dict ("" = auto: "state_dict" when the
    // top-level dict has it, else the top-level dict itself).
    std::string state_dict_key;
};

// Reads `path`: a .bin/.pt/.pth/.ckpt zip, a .safetensors file (detected by content, not
// name), or a folder holding model.safetensors or pytorch_model.bin (first found, in that
// order). Throws tranova::error with a one-line message on any problem.
checkpoint checkpoint_read(const std::string& path, const checkpoint_options& opt = {});

// The same from bytes already in memory (tests feed corrupt variants this way); `name`
// only labels error messages.
checkpoint checkpoint_read_memory(const uint8_t* data, size_t size, const std::string& name,
                                  const checkpoint_options& opt = {});

// Lower-level pieces, exposed for tests and tools.
struct zip_entry {
    std::string name;
    uint64_t data_offset = 0;  // offset of the (stored) data in the archive
    uint64_t size = 0;         // bytes in the archive
    uint64_t uncompressed = 0; // bytes once inflated (= size when stored)
    uint16_t method = 0;       // 0 = stored (what torch.save writes); 8 = deflate
};
// Parses the central directory (ZIP64 aware); checks every offset against `size`.
std::vector<zip_entry> zip_list(const uint8_t* data, size_t size, const std::string& name);

}  // namespace tranova::core
