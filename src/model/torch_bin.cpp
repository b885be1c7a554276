// torch.save zip archives of state dicts. data.pkl runs on a small pickle machine that knows only
// the opcodes and globals torch.save emits for a dict of tensors (LibTorch's Unpickler hard-wires
// OrderedDict to None and would hold every storage at once); tensors come out as descriptions and
// their storage records are read lazily, one live storage per group of views.
#include "fedkseed/model/torch_bin.h"

#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>
#include <c10/util/StringUtil.h>
#include <c10/util/safe_numerics.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

// The only callables a file may name; any other GLOBAL is refused when read, never resolved.
enum class Global { OrderedDict, RebuildTensorV2, RebuildParameter, StorageType };

struct StorageRef {
  std::string key;  // the archive record data/<key>
  c10::ScalarType dtype = c10::ScalarType::Float;
  int64_t numel = 0;
};

struct TensorRef {
  StorageRef storage;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// One unpickled object. Shared because the memo and SETITEMS/APPENDS alias containers.
struct Value {
  enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };
  Kind kind = Kind::None;
  int64_t integer = 0;          // Bool, Int
  double real = 0;              // Float
  std::string text;             // String
  std::vector<ValuePtr> items;  // Tuple, List; Dict as key, value, key, value...
  Global global = Global::OrderedDict;
  c10::ScalarType dtype = c10::ScalarType::Float;  // Global::StorageType
  StorageRef storage;                              // Storage
  TensorRef tensor;                                // Tensor
};
using Kind = Value::Kind;

const char* kind_name(Kind kind) {
  static const char* const names[] = {"None",   "bool",  "int",    "float",   "str",   "tuple",
                                      "list",   "dict",  "global", "storage", "tensor"};
  return names[static_cast<int>(kind)];
}

ValuePtr make(Kind kind) {
  auto value = std::make_shared<Value>();
  value->kind = kind;
  return value;
}

ValuePtr make_int(Kind kind, int64_t integer) {
  auto value = make(kind);
  value->integer = integer;
  return value;
}

// torch.<Name>Storage class names, e.g. FloatStorage, BFloat16Storage, LongStorage.
const std::unordered_map<std::string, c10::ScalarType>& storage_types() {
  static const std::unordered_map<std::string, c10::ScalarType> types = {
#define FEDKSEED_STORAGE_TYPE(_, name) {#name "Storage", c10::ScalarType::name},
      AT_FORALL_SCALAR_TYPES_WITH_COMPLEX(FEDKSEED_STORAGE_TYPE)
#undef FEDKSEED_STORAGE_TYPE
  };
  return types;
}

class Unpickler {
 public:
  Unpickler(std::string where, const std::string& data) : where_(std::move(where)), data_(data) {}

  // Runs data.pkl to STOP and returns the pickled object.
  ValuePtr run() {
    while (true) {
      op_pos_ = pos_;
      const auto op = static_cast<uint8_t>(*take(1));
      if (op == '.') break;
      if (!control_op(op) && !data_op(op)) {
        const std::string shown = op >= 0x20 && op < 0x7f ? std::string(" ('") + char(op) + "')" : "";
        fail(c10::str("unsupported pickle opcode 0x", hex(op), shown,
                      "; only what torch.save writes for a dict of tensors is read"));
      }
    }
    ValuePtr result = pop();
    if (!stack_.empty() || !marks_.empty()) fail("STOP with values left on the stack");
    return result;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(c10::str(where_, ": data.pkl byte ", op_pos_, ": ", why));
  }

  static std::string hex(uint8_t byte) {
    static const char digits[] = "0123456789abcdef";
    return {digits[byte >> 4], digits[byte & 15]};
  }

  const char* take(size_t n) {
    if (n > data_.size() - pos_) fail("pickle ends early (file truncated?)");
    pos_ += n;
    return data_.data() + pos_ - n;
  }

  uint64_t read_le(size_t n) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(take(n));
    uint64_t result = 0;
    for (size_t i = 0; i < n; ++i) result |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    return result;
  }

  std::string read_line() {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string::npos) fail("pickle ends inside a GLOBAL name");
    const size_t length = end - pos_;
    std::string line(take(length), length);
    take(1);
    return line;
  }

  ValuePtr make_string(size_t length) {
    auto value = make(Kind::String);
    value->text.assign(take(length), length);
    return value;
  }

  ValuePtr pop() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size())) fail("stack underflow");
    ValuePtr value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }

  Value& top(Kind kind, const char* op) {
    if (stack_.empty()) fail(c10::str(op, " on an empty stack"));
    if (stack_.back()->kind != kind) fail(c10::str(op, " on a ", kind_name(stack_.back()->kind)));
    return *stack_.back();
  }

  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }

  ValuePtr make_tuple(std::vector<ValuePtr> items) {
    auto tuple = make(Kind::Tuple);
    tuple->items = std::move(items);
    return tuple;
  }

  void memo_put(uint64_t index) {
    if (stack_.empty()) fail("memo store from an empty stack");
    memo_[index] = stack_.back();
  }

  void memo_get(uint64_t index) {
    const auto found = memo_.find(index);
    if (found == memo_.end()) fail(c10::str("memo entry ", index, " was never stored"));
    stack_.push_back(found->second);
  }

  void set_items(Value& dict, const std::vector<ValuePtr>& pairs) {
    if (pairs.size() % 2 != 0) fail("SETITEMS with an odd number of values");
    for (size_t i = 0; i < pairs.size(); i += 2) {
      const Value& key = *pairs[i];
      if (key.kind != Kind::String) fail(c10::str("dict key is a ", kind_name(key.kind), ", not a str"));
      size_t j = 0;
      while (j < dict.items.size() && dict.items[j]->text != key.text) j += 2;
      if (j < dict.items.size()) {
        dict.items[j + 1] = pairs[i + 1];  // Python semantics: a repeated key replaces the value
      } else {
        dict.items.insert(dict.items.end(), {pairs[i], pairs[i + 1]});
      }
    }
  }

  // Opcodes that push literals or build containers; false when `op` is not one of them.
  bool data_op(uint8_t op) {
    switch (op) {
      case 'N': stack_.push_back(make(Kind::None)); return true;
      case 0x88: stack_.push_back(make_int(Kind::Bool, 1)); return true;  // NEWTRUE
      case 0x89: stack_.push_back(make_int(Kind::Bool, 0)); return true;  // NEWFALSE
      case 'K': stack_.push_back(make_int(Kind::Int, static_cast<int64_t>(read_le(1)))); return true;
      case 'M': stack_.push_back(make_int(Kind::Int, static_cast<int64_t>(read_le(2)))); return true;
      case 'J':
        stack_.push_back(make_int(Kind::Int, static_cast<int32_t>(static_cast<uint32_t>(read_le(4)))));
        return true;
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        const size_t n = read_le(1);
        if (n > 8) fail("LONG1 integer wider than 64 bits");
        uint64_t bits = read_le(n);
        if (n > 0 && n < 8 && (bits >> (8 * n - 1)) != 0) bits |= ~uint64_t{0} << (8 * n);
        stack_.push_back(make_int(Kind::Int, static_cast<int64_t>(bits)));
        return true;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        uint64_t bits = 0;
        for (const char* byte = take(8), *end = byte + 8; byte != end; ++byte)
          bits = (bits << 8) | static_cast<uint8_t>(*byte);
        auto value = make(Kind::Float);
        std::memcpy(&value->real, &bits, sizeof bits);
        stack_.push_back(value);
        return true;
      }
      case 'X': stack_.push_back(make_string(read_le(4))); return true;     // BINUNICODE
      case 0x8c: stack_.push_back(make_string(read_le(1))); return true;  // SHORT_BINUNICODE
      case ')': stack_.push_back(make(Kind::Tuple)); return true;
      case 't': stack_.push_back(make_tuple(pop_to_mark())); return true;
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        std::vector<ValuePtr> items(op - 0x84);
        for (auto item = items.rbegin(); item != items.rend(); ++item) *item = pop();
        stack_.push_back(make_tuple(std::move(items)));
        return true;
      }
      case ']': stack_.push_back(make(Kind::List)); return true;
      case 'a': {
        ValuePtr item = pop();
        top(Kind::List, "APPEND").items.push_back(item);
        return true;
      }
      case 'e': {
        const auto items = pop_to_mark();
        auto& list = top(Kind::List, "APPENDS").items;
        list.insert(list.end(), items.begin(), items.end());
        return true;
      }
      case '}': stack_.push_back(make(Kind::Dict)); return true;
      case 's': {
        ValuePtr value = pop(), key = pop();
        set_items(top(Kind::Dict, "SETITEM"), {key, value});
        return true;
      }
      case 'u': {
        const auto pairs = pop_to_mark();
        set_items(top(Kind::Dict, "SETITEMS"), pairs);
        return true;
      }
      case 'q': memo_put(read_le(1)); return true;     // BINPUT
      case 'r': memo_put(read_le(4)); return true;     // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); return true;  // MEMOIZE
      case 'h': memo_get(read_le(1)); return true;     // BINGET
      case 'j': memo_get(read_le(4)); return true;     // LONG_BINGET
      default: return false;
    }
  }

  // Protocol framing, globals and object construction; false when `op` is not one of them.
  bool control_op(uint8_t op) {
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t protocol = read_le(1);
        if (protocol < 2 || protocol > 5) fail(c10::str("pickle protocol ", protocol, " is not supported"));
        return true;
      }
      case 0x95: read_le(8); return true;  // FRAME: a length hint only
      case '(': marks_.push_back(stack_.size()); return true;
      case 'c': {
        std::string module = read_line();
        stack_.push_back(resolve_global(module, read_line()));
        return true;
      }
      case 0x93: {  // STACK_GLOBAL
        ValuePtr name = pop(), module = pop();
        if (module->kind != Kind::String || name->kind != Kind::String)
          fail("STACK_GLOBAL needs two strings");
        stack_.push_back(resolve_global(module->text, name->text));
        return true;
      }
      case 'R': {
        ValuePtr args = pop(), callable = pop();
        stack_.push_back(reduce(*callable, *args));
        return true;
      }
      case 'b': {  // BUILD: only the OrderedDict's attributes (transformers' _metadata), ignored
        ValuePtr state = pop();
        top(Kind::Dict, "BUILD");
        if (state->kind != Kind::Dict && state->kind != Kind::None) fail("BUILD with a non-dict state");
        return true;
      }
      case 'Q': {  // BINPERSID
        ValuePtr pid = pop();
        stack_.push_back(persistent_load(*pid));
        return true;
      }
      default: return false;
    }
  }

  ValuePtr resolve_global(const std::string& module, const std::string& name) {
    auto value = make(Kind::Global);
    if (module == "collections" && name == "OrderedDict") {
      value->global = Global::OrderedDict;
    } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      value->global = Global::RebuildTensorV2;
    } else if (module == "torch._utils" && name == "_rebuild_parameter") {
      value->global = Global::RebuildParameter;
    } else if (module == "torch" && storage_types().count(name) != 0) {
      value->global = Global::StorageType;
      value->dtype = storage_types().at(name);
    } else {
      fail(c10::str("GLOBAL ", module, ".", name,
                    " is not allowed (a state dict needs only collections.OrderedDict, "
                    "torch._utils._rebuild_tensor_v2 and torch.*Storage)"));
    }
    return value;
  }

  ValuePtr reduce(const Value& callable, const Value& args) {
    if (callable.kind != Kind::Global || args.kind != Kind::Tuple) fail("REDUCE needs a global and a tuple");
    switch (callable.global) {
      case Global::OrderedDict:
        if (!args.items.empty()) fail("OrderedDict built from arguments");
        return make(Kind::Dict);
      case Global::RebuildTensorV2:
        return rebuild_tensor(args.items);
      case Global::RebuildParameter:  // (data, requires_grad, backward_hooks)
        if (args.items.size() != 3 || args.items[0]->kind != Kind::Tensor)
          fail("malformed _rebuild_parameter");
        return args.items[0];
      case Global::StorageType:
        break;
    }
    fail("a storage type called as a function");
  }

  std::vector<int64_t> int_tuple(const Value& value, const char* what) {
    if (value.kind != Kind::Tuple) fail(c10::str("tensor ", what, " is a ", kind_name(value.kind)));
    std::vector<int64_t> ints;
    for (const auto& item : value.items) {
      if (item->kind != Kind::Int || item->integer < 0)
        fail(c10::str("tensor ", what, " has an entry that is not a non-negative int"));
      ints.push_back(item->integer);
    }
    return ints;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args) {
    if (args.size() != 6 && args.size() != 7) fail("_rebuild_tensor_v2 with a wrong argument count");
    if (args[0]->kind != Kind::Storage || args[1]->kind != Kind::Int || args[1]->integer < 0 ||
        args[4]->kind != Kind::Bool || args[5]->kind != Kind::Dict)
      fail("malformed _rebuild_tensor_v2 arguments");
    auto tensor = make(Kind::Tensor);
    tensor->tensor.storage = args[0]->storage;
    tensor->tensor.offset = args[1]->integer;
    tensor->tensor.sizes = int_tuple(*args[2], "size");
    tensor->tensor.strides = int_tuple(*args[3], "stride");
    if (tensor->tensor.sizes.size() != tensor->tensor.strides.size())
      fail("tensor size and stride ranks differ");
    return tensor;
  }

  // ('storage', torch.<T>Storage, key, location, numel) -> a storage yet to be read.
  ValuePtr persistent_load(const Value& pid) {
    const auto& f = pid.items;
    if (pid.kind != Kind::Tuple || f.size() != 5 || f[0]->kind != Kind::String || f[0]->text != "storage" ||
        f[1]->kind != Kind::Global || f[1]->global != Global::StorageType || f[2]->kind != Kind::String ||
        f[2]->text.empty() || f[3]->kind != Kind::String || f[4]->kind != Kind::Int || f[4]->integer < 0)
      fail("persistent id is not ('storage', torch.<T>Storage, key, location, numel)");
    auto storage = make(Kind::Storage);
    storage->storage = StorageRef{f[2]->text, f[1]->dtype, f[4]->integer};
    return storage;
  }

  std::string where_;
  const std::string& data_;
  size_t pos_ = 0, op_pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;  // stack sizes at each MARK
  std::unordered_map<uint64_t, ValuePtr> memo_;
};

// Runs `read` on the archive, turning LibTorch's zip errors into ours.
template <typename Read>
auto archive_call(const std::string& where, const char* what, Read&& read) {
  try {
    return read();
  } catch (const c10::Error& error) {
    throw Error(c10::str(where, ": ", what, ": ", error.what_without_backtrace()));
  }
}

void check_signature(const std::string& path, const std::string& where) {
  if (!std::filesystem::exists(path)) throw Error(c10::str(where, ": no such file"));
  if (!std::filesystem::is_regular_file(path)) throw Error(c10::str(where, ": not a regular file"));
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  if (in.gcount() >= 1 && static_cast<uint8_t>(magic[0]) == 0x80)
    throw Error(c10::str(where, ": legacy (pre-zip) torch.save format; re-save it with torch >= 1.6 "
                                "or convert it to safetensors"));
  if (in.gcount() != sizeof magic || std::memcmp(magic, "PK\x03\x04", sizeof magic) != 0)
    throw Error(c10::str(where, ": not a torch.save zip archive"));
}

// The state dict's (name, tensor) entries in file order; anything else in it is an error.
std::vector<std::pair<std::string, TensorRef>> state_dict_entries(const std::string& where,
                                                                  const Value& root) {
  if (root.kind != Kind::Dict)
    throw Error(c10::str(where, ": holds a ", kind_name(root.kind), ", not a state dict"));
  std::vector<std::pair<std::string, TensorRef>> entries;
  for (size_t i = 0; i < root.items.size(); i += 2) {
    const Value& value = *root.items[i + 1];
    if (value.kind != Kind::Tensor)
      throw Error(c10::str(where, ": entry ", root.items[i]->text, " is a ", kind_name(value.kind),
                           ", not a tensor"));
    entries.emplace_back(root.items[i]->text, value.tensor);
  }
  return entries;
}

at::Storage load_storage(caffe2::serialize::PyTorchStreamReader& reader, const std::string& where,
                         const std::string& name, const StorageRef& ref) {
  const std::string record = "data/" + ref.key;
  const std::string what = c10::str("tensor ", name, ": storage record ", record);
  if (!archive_call(where, what.c_str(), [&] { return reader.hasRecord(record); }))
    throw Error(c10::str(where, ": ", what, " is missing"));
  auto [data, nbytes] = archive_call(where, what.c_str(), [&] { return reader.getRecord(record); });
  const auto declared = static_cast<uint64_t>(ref.numel) * c10::elementSize(ref.dtype);
  if (nbytes < declared)
    throw Error(c10::str(where, ": ", what, " holds ", nbytes, " bytes, the pickle declares ", ref.numel, " ",
                         ref.dtype, " elements (", declared, " bytes)"));
  return at::Storage(at::Storage::use_byte_size_t(), nbytes, std::move(data), nullptr, false);
}

at::Tensor make_tensor(const std::string& where, const std::string& name, const TensorRef& ref,
                       const at::Storage& storage) {
  // Elements the view reaches: offset + sum((size - 1) * stride) + 1, or offset when it is empty.
  const bool empty = std::count(ref.sizes.begin(), ref.sizes.end(), 0) > 0;
  int64_t extent = ref.offset;
  bool overflow = false;
  for (size_t d = 0; d < ref.sizes.size() && !empty; ++d) {
    int64_t reach = 0;
    overflow |= c10::mul_overflows(ref.sizes[d] - 1, ref.strides[d], &reach);
    overflow |= c10::add_overflows(extent, reach, &extent);
  }
  if (!empty) overflow |= c10::add_overflows(extent, int64_t{1}, &extent);
  // Checked against the bytes read, not the pickle's numel: views of one record may disagree.
  const auto available = static_cast<int64_t>(storage.nbytes() / c10::elementSize(ref.storage.dtype));
  if (overflow || extent > available)
    throw Error(c10::str(where, ": tensor ", name, ": view ", c10::IntArrayRef(ref.sizes), " stride ",
                         c10::IntArrayRef(ref.strides), " offset ", ref.offset, " overruns its storage of ",
                         available, " elements"));
  return at::empty({0}, at::TensorOptions().dtype(ref.storage.dtype))
      .set_(storage, ref.offset, ref.sizes, ref.strides);
}

// The archive at `path` and its state dict's entries, after checking its signature and byte order.
std::pair<std::unique_ptr<caffe2::serialize::PyTorchStreamReader>, std::vector<std::pair<std::string, TensorRef>>>
open_state_dict(const std::string& path, const std::string& where) {
  check_signature(path, where);
  auto reader = archive_call(where, "unreadable zip archive",
                             [&] { return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path); });
  const auto read_record = [&](const std::string& record) {
    auto [data, size] = archive_call(where, record.c_str(), [&] { return reader->getRecord(record); });
    return std::string(static_cast<const char*>(data.get()), size);
  };
  if (archive_call(where, "byteorder", [&] { return reader->hasRecord("byteorder"); }) &&
      read_record("byteorder") != "little")
    throw Error(c10::str(where, ": big-endian archives are not supported"));
  if (!archive_call(where, "data.pkl", [&] { return reader->hasRecord("data.pkl"); }))
    throw Error(c10::str(where, ": no data.pkl record (not a torch.save archive)"));
  const std::string pickle = read_record("data.pkl");
  auto entries = state_dict_entries(where, *Unpickler(where, pickle).run());
  return {std::move(reader), std::move(entries)};
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> read_torch_bin_shapes(const std::string& path) {
  const auto state_dict = open_state_dict(path, "checkpoint " + path);
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& [name, ref] : state_dict.second) shapes.emplace_back(name, ref.sizes);
  return shapes;
}

void read_torch_bin(const std::string& path,
                    const std::function<void(const std::string& name, const at::Tensor& tensor)>& visit) {
  const std::string where = "checkpoint " + path;
  const auto [reader, entries] = open_state_dict(path, where);
  std::unordered_map<std::string, int> uses;  // entries still to visit, per storage record
  for (const auto& entry : entries) ++uses[entry.second.storage.key];
  std::unordered_map<std::string, at::Storage> live;
  for (const auto& [name, ref] : entries) {
    auto found = live.find(ref.storage.key);
    if (found == live.end())
      found = live.emplace(ref.storage.key, load_storage(*reader, where, name, ref.storage)).first;
    const at::Tensor tensor = make_tensor(where, name, ref, found->second);
    // Dropped before the visit so that once it returns the tensor holds the last reference.
    if (--uses[ref.storage.key] == 0) live.erase(found);
    visit(name, tensor);
  }
}

}  // namespace fedkseed
