#!/usr/bin/env python3
"""Writes torch.save fixtures for tests/torch_bin_test.cpp into OUT_DIR (torch 2.11); the test
reads the committed tests/data/torch_bin.
Usage: make_bin_fixture.py [OUT_DIR]   (default tests/data/torch_bin)

Good files: ordered.bin (transformers-style OrderedDict with _metadata), tied.bin (shared
storage), views.bin (offset/strided/expanded views), plain.bin (dict), proto4.bin (pickle
protocol 4). expected.json lists, per file and in order, each tensor's dtype, shape, stride,
storage offset, the first entry sharing its storage, and where its values lie in expected.raw
(contiguous bytes). Bad files: legacy.bin, evil.bin (os.system global), not_tensor.bin (a list
entry), protocol0.bin (text opcodes), overrun.bin (a view past its storage), short_record.bin
(a storage record shorter than declared).
"""
import collections
import io
import json
import os
import pickle
import sys
import zipfile

import torch


def good_state_dicts():
    torch.manual_seed(0)
    ordered = collections.OrderedDict()
    ordered["model.embed_tokens.weight"] = torch.randn(7, 4)
    ordered["model.layers.0.self_attn.q_proj.weight"] = torch.randn(4, 4).half()
    ordered["model.layers.0.input_layernorm.weight"] = torch.randn(4).bfloat16()
    ordered["model.norm.weight"] = torch.randn(4, dtype=torch.float64)
    ordered["position_ids"] = torch.arange(5)
    ordered["mask"] = torch.tensor([True, False, True])
    ordered["scalar"] = torch.tensor(-1.5)
    ordered["empty"] = torch.zeros(0, 3)
    ordered._metadata = collections.OrderedDict([("", {"version": 1}), ("model", {"version": 1})])

    embed = torch.randn(6, 3)
    tied = collections.OrderedDict()
    tied["model.embed_tokens.weight"] = embed
    tied["model.norm.weight"] = torch.randn(3)
    tied["lm_head.weight"] = embed
    tied["embed_transposed"] = embed.t()

    base = torch.randn(5, 6)
    views = collections.OrderedDict()
    views["slice"] = base[1:3, 2:5]
    views["transposed"] = base.t()
    views["every_other_column"] = base[:, ::2]
    views["expanded"] = torch.randn(4).expand(3, 4)
    views["row"] = base[4]

    plain = {"a": torch.randn(2, 3).half(), "b": torch.arange(6, dtype=torch.int32).reshape(2, 3)}
    return {"ordered.bin": ordered, "tied.bin": tied, "views.bin": views, "plain.bin": plain}


def describe(state_dict, raw):
    entries, first_owner = [], {}
    for name, tensor in state_dict.items():
        key = tensor.untyped_storage().data_ptr()
        owner = first_owner.setdefault(key, name)
        values = bytes(tensor.clone(memory_format=torch.contiguous_format).untyped_storage())
        entries.append({"name": name, "dtype": str(tensor.dtype).replace("torch.", ""),
                        "shape": list(tensor.shape), "stride": list(tensor.stride()),
                        "offset": tensor.storage_offset(), "shares_with": owner,
                        "raw_offset": raw.tell(), "nbytes": len(values)})
        raw.write(values)
    return entries


class _FakeStorage:
    pass


class _FakeTensor:
    """Pickles as _rebuild_tensor_v2 over a _FakeStorage, to forge inconsistent files."""

    def __init__(self, shape, stride):
        self.shape, self.stride = shape, stride

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (_FakeStorage(), 0, self.shape, self.stride, False, collections.OrderedDict()))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def forge(path, template, obj, storage_numel=12, record_bytes=bytes(48), protocol=2):
    """Copies the zip `template` but swaps in a pickle of `obj` and a data/0 of `record_bytes`."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=protocol)
    pickler.persistent_id = lambda o: (("storage", torch.FloatStorage, "0", "cpu", storage_numel)
                                       if isinstance(o, _FakeStorage) else None)
    pickler.dump(obj)
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                data = buffer.getvalue()
            elif info.filename.endswith("/data/0"):
                data = record_bytes
            target.writestr(info.filename.replace("template/", "forged/"), data)


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    expected = {}
    with open(os.path.join(out_dir, "expected.raw"), "wb") as raw:
        for file_name, state_dict in good_state_dicts().items():
            torch.save(state_dict, os.path.join(out_dir, file_name))
            expected[file_name] = describe(state_dict, raw)
        state_dict = good_state_dicts()["ordered.bin"]
        torch.save(state_dict, os.path.join(out_dir, "proto4.bin"), pickle_protocol=4)
        expected["proto4.bin"] = describe(state_dict, raw)
    with open(os.path.join(out_dir, "expected.json"), "w") as out:
        json.dump(expected, out, indent=1)

    torch.save({"w": torch.ones(3)}, os.path.join(out_dir, "legacy.bin"),
               _use_new_zipfile_serialization=False)
    template = os.path.join(out_dir, "template")
    torch.save({"w": torch.ones(12)}, template)
    forge(os.path.join(out_dir, "evil.bin"), template, {"w": _Evil()})
    forge(os.path.join(out_dir, "not_tensor.bin"), template, {"w": [1.5, None]})
    forge(os.path.join(out_dir, "protocol0.bin"), template, {"w": 1}, protocol=0)
    forge(os.path.join(out_dir, "overrun.bin"), template,
          collections.OrderedDict(w=_FakeTensor((3, 4), (4, 1))), 8, bytes(32))
    forge(os.path.join(out_dir, "short_record.bin"), template,
          collections.OrderedDict(w=_FakeTensor((3, 4), (4, 1))), 12, bytes(20))
    os.remove(template)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/torch_bin")
