#!/usr/bin/python3
"""Writes the seed corpora of the checkpoint, pickle, safetensors and JSON fuzz targets
(fuzz/formats/corpus_*). Generation only (needs python3-torch); the build and the replay
test never run Python. Run from the repository root: /usr/bin/python3 fuzz/formats/make_seeds.py
"""
import collections, io, json, os, struct, zipfile
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)))


def put(corpus, name, data):
    d = os.path.join(OUT, "corpus_" + corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def saved(obj):
    b = io.BytesIO()
    torch.save(obj, b)
    return b.getvalue()


def pickle_of(zbytes):
    with zipfile.ZipFile(io.BytesIO(zbytes)) as z:
        return z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])


def deflated(zbytes):
    src = zipfile.ZipFile(io.BytesIO(zbytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for n in src.namelist():
            z.writestr(n, src.read(n))
    return out.getvalue()


torch.manual_seed(0)
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
seeds = {
    "plain": collections.OrderedDict(w=torch.randn(2, 3), b=torch.zeros(3)),
    "views": collections.OrderedDict(full=base, t=base.t(), row=base[1], col=base[:, 2]),
    "dtypes": collections.OrderedDict(h=torch.ones(4, dtype=torch.float16), bf=torch.ones(2, dtype=torch.bfloat16),
                                      i=torch.arange(3), m=torch.tensor([True, False]),
                                      d=torch.ones(2, dtype=torch.float64), s=torch.tensor(2.5)),
    "lightning": {"state_dict": collections.OrderedDict(w=torch.ones(2, 2)), "epoch": 3, "global_step": 10,
                  "hyper_parameters": {"dim_model": 8, "lr": 1e-3, "residues": {"G": 57.02, "A": 71.04},
                                       "tags": ["a", "b"], "flag": True, "none": None}},
    "parameter": collections.OrderedDict(p=torch.nn.Parameter(torch.ones(3))),
}
for name, obj in seeds.items():
    z = saved(obj)
    put("checkpoint", name + ".pt", z)
    put("pickle", name + ".pkl", pickle_of(z))
put("checkpoint", "plain_deflated.pt", deflated(saved(seeds["plain"])))
for f in ("hostile_global.pt", "unsupported_opcode.pt"):
    with open(os.path.join(OUT, "../../tests/data/core", f), "rb") as src:
        z = src.read()
    put("checkpoint", f, z)
    put("pickle", f.replace(".pt", ".pkl"), pickle_of(z))


def safetensors(tensors, meta=None):
    header, data = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, (dt, shape, raw) in tensors.items():
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return json.dumps(header).encode(), data


st = {
    "plain": safetensors({"w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)), "b": ("F16", [2], b"\x00\x3c\x00\x40")},
                         {"format": "pt"}),
    "dtypes": safetensors({"i": ("I64", [1], struct.pack("<q", -5)), "u": ("U8", [3], b"\x01\x02\x03"),
                           "m": ("BOOL", [2], b"\x01\x00"), "bf": ("BF16", [1], b"\x80\x3f"),
                           "d": ("F64", [], struct.pack("<d", 0.5)), "e": ("F32", [0, 3], b"")}),
}
for name, (h, d) in st.items():
    put("safetensors", name + ".st", h + b"\0" + d)               # the target's header\0data form
    put("checkpoint", name + ".safetensors", struct.pack("<Q", len(h)) + h + d)
    put("json", "safetensors_" + name + ".json", h)

put("json", "config.json", json.dumps({"n_layer": 2, "n_embd": 64, "layer_norm_epsilon": 1e-5, "tags": [True, None],
                                       "name": "caf\u00e9 \U0001F600", "nested": {"a": [[1], {"b": -0.5e-3}]}},
                                      ensure_ascii=True).encode())
put("json", "python_specials.json", b'{"a": NaN, "b": Infinity, "c": -Infinity, "d": "\\n\\t\\"\\\\\\/"}')
