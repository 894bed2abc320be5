// `tranova convert`: official checkpoint (PyTorch zip, Lightning .ckpt, safetensors, or
// an HF-style folder) -> tranova HDF5 weight file (docs/weights-format.md).
#include "arch_table.hpp"
#include "cli.hpp"

#include "core/checkpoint.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <filesystem>

namespace {

namespace fs = std::filesystem;
using namespace tranova;

int main_convert(int argc, char** argv) {
    std::string archs;
    for (auto& a : convert::arch_table()) archs += fmt::format("\n  {:<12} {}", a.name, a.description);
    cli::parser p({"tranova convert", "--arch ARCH --checkpoint PATH [--config config.json] -o model.h5",
                   "Convert an official checkpoint (PyTorch zip as written by torch.save, Lightning .ckpt, "
                   "safetensors, or a Hugging Face-style folder with pytorch_model.bin or model.safetensors and "
                   "config.json) into a tranova HDF5 weight file. Nothing is executed from the checkpoint: the "
                   "pickle reader accepts only what a state_dict needs. Architectures:" + archs,
                   {"tranova convert --arch tranception --checkpoint Tranception_Small/ -o tranception_small.h5",
                    "tranova convert --arch tranception --checkpoint model.safetensors --config config.json -o m.h5"}});
    std::string arch, ckpt, config, out;
    p.options().add_options()
        ("arch", cli::po::value(&arch), "architecture (see above)")
        ("checkpoint", cli::po::value(&ckpt), "checkpoint file or folder")
        ("config", cli::po::value(&config), "config.json (default: config.json in the checkpoint's folder)")
        ("output,o", cli::po::value(&out), "output weight file (.h5)");
    p.input(ckpt, "--checkpoint");
    p.input(config, "--config");
    p.output(out, "-o");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (arch.empty()) throw usage_error("--arch is required");
    if (ckpt.empty()) throw usage_error("--checkpoint is required");
    if (out.empty()) throw usage_error("-o/--output is required");
    const convert::arch_entry* entry = nullptr;
    for (auto& a : convert::arch_table())
        if (arch == a.name) entry = &a;
    if (!entry) throw usage_error(fmt::format("unknown --arch '{}'", arch));

    std::error_code ec;
    TRANOVA_CHECK(fs::exists(ckpt, ec), "{}: no such file or folder", ckpt);
    // Checkpoints are read by seeking (zip, safetensors): a FIFO would wait for a writer.
    TRANOVA_CHECK(fs::is_regular_file(ckpt, ec) || fs::is_directory(ckpt, ec),
                  "{}: a checkpoint must be a regular file or a folder (this is a FIFO or device)", ckpt);
    if (config.empty()) {
        fs::path dir = fs::is_directory(ckpt, ec) ? fs::path(ckpt) : fs::path(ckpt).parent_path();
        fs::path cand = dir / "config.json";
        if (fs::exists(cand, ec)) config = cand.string();
    }
    core::json_value cfg;
    if (!config.empty()) cfg = core::json_parse_file(config);
    TRANOVA_CHECK(!entry->needs_config || !config.empty(),
                  "{}: arch {} needs a config.json (none beside the checkpoint; pass --config)", ckpt, arch);

    core::checkpoint ck = core::checkpoint_read(ckpt);
    log::info("read {} tensors from {} ({})", ck.names.size(), ck.path, ck.format);
    std::vector<std::string> notes;
    core::weights w = entry->convert(ck, cfg, notes);
    w.require_finite(ck.path);  // a NaN weight would only show up as NaN scores later
    for (auto& n : notes) log::info("note: {}", n);
    w.config["converted_from"] = fs::path(ck.path).filename().string();
    w.config["converted_format"] = ck.format;
    core::weights_write(out, w);
    log::info("wrote {} tensors, {} parameters to {}", w.entries().size(), w.parameter_count(), out);
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(convert, {"convert", "Models", "convert an official checkpoint to a tranova weight file", main_convert})
