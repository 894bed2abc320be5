# tranova convert: help, both checkpoint formats, folder input, corrupt inputs (one-line
# errors, exit 1), usage errors (exit 2), unwritable output (exit 1, no partial file).
source "$(dirname "$0")/cli_lib.sh" "$@"
M="$DATA/core/tranception_tiny_ctx64"

run "$TRANOVA" convert --help
expect_rc 0; expect_out "Usage: tranova convert"; expect_out "tranception"; expect_out "Examples:"

run "$TRANOVA" convert --arch tranception --checkpoint "$M/pytorch_model.bin" -o bin.h5
expect_rc 0; expect_file bin.h5; expect_err "ignored 4 constant buffers"
run "$TRANOVA" convert --arch tranception --checkpoint "$M/model.safetensors" -o st.h5
expect_rc 0; expect_file st.h5; expect_err "read from 'lm_head.weight'"
mkdir folder && cp "$M/config.json" "$M/pytorch_model.bin" folder/
run "$TRANOVA" convert --arch tranception --checkpoint folder -o folder.h5 --quiet
expect_rc 0; expect_file folder.h5
# bin.h5 and folder.h5 come from the same file: identical bytes except converted_from
# (a fixed-length attribute of the same length, so the sizes agree)
if [ "$(stat -c %s bin.h5)" = "$(stat -c %s folder.h5)" ]; then _pass; else _fail "bin/folder sizes differ"; fi
expect_no_temp .

# config: needed, found beside the checkpoint, or given
cp "$M/model.safetensors" lonely.safetensors
run "$TRANOVA" convert --arch tranception --checkpoint lonely.safetensors -o x.h5 --quiet
expect_rc 1; expect_err "needs a config.json"; expect_no_file x.h5
run "$TRANOVA" convert --arch tranception --checkpoint lonely.safetensors --config "$M/config.json" -o x.h5 --quiet
expect_rc 0; expect_file x.h5

# corrupt inputs: one line on stderr, exit 1, no output file
head -c 100000 "$M/pytorch_model.bin" > trunc.bin
printf 'JUNKJUNKJUNKJUNK' > magic.bin
head -c 5000 "$M/model.safetensors" > trunc.safetensors
printf '{"n_layer": 2,' > bad_config.json
for f in trunc.bin magic.bin trunc.safetensors; do
  run "$TRANOVA" convert --arch tranception --checkpoint "$f" --config "$M/config.json" -o out.h5 --quiet
  expect_rc 1; expect_one_line_err; expect_err "$f"; expect_no_file out.h5
done
run "$TRANOVA" convert --arch tranception --checkpoint magic.bin --config "$M/config.json" -o out.h5 --quiet
expect_err "wrong magic"
run "$TRANOVA" convert --arch tranception --checkpoint "$M/pytorch_model.bin" --config bad_config.json -o out.h5 --quiet
expect_rc 1; expect_one_line_err; expect_err "invalid JSON"; expect_no_file out.h5
# a Lightning checkpoint of another model: clean error naming a tensor
run "$TRANOVA" convert --arch tranception --checkpoint "$DATA/core/casanovo_tiny.ckpt" --config "$M/config.json" -o out.h5 --quiet
expect_rc 1; expect_one_line_err; expect_err "is missing"; expect_no_file out.h5
# hostile pickle (os.system global) and an unsupported opcode: rejected, nothing executed
run "$TRANOVA" convert --arch tranception --checkpoint "$DATA/core/hostile_global.pt" --config "$M/config.json" -o out.h5 --quiet
expect_rc 1; expect_one_line_err; expect_err "global 'os.system'"; expect_no_file out.h5; expect_no_file touch
run "$TRANOVA" convert --arch tranception --checkpoint "$DATA/core/unsupported_opcode.pt" --config "$M/config.json" -o out.h5 --quiet
expect_rc 1; expect_one_line_err; expect_err "unsupported pickle opcode 0x49 at offset 3"; expect_no_file out.h5
run "$TRANOVA" convert --arch tranception --checkpoint no_such.bin -o out.h5 --quiet
expect_rc 1; expect_err "no_such.bin"

# usage errors
run "$TRANOVA" convert --arch nope --checkpoint "$M" -o out.h5
expect_rc 2; expect_err "unknown --arch 'nope'"
run "$TRANOVA" convert --checkpoint "$M" -o out.h5
expect_rc 2; expect_err "--arch is required"
run "$TRANOVA" convert --arch tranception --checkpoint "$M"
expect_rc 2

# unwritable output
run "$TRANOVA" convert --arch tranception --checkpoint "$M" -o no_dir/out.h5 --quiet
expect_rc 1; expect_no_file no_dir/out.h5
mkdir ro && chmod 555 ro
run "$TRANOVA" convert --arch tranception --checkpoint "$M" -o ro/out.h5 --quiet
if [ "$(id -u)" != 0 ]; then expect_rc 1; expect_no_file ro/out.h5; fi
chmod 755 ro
expect_no_temp ro
finish
