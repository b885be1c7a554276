// safetensors reading (pread, every offset validated as strictly as the safetensors library) and writing.
// Layout: 8-byte little-endian header length, JSON header, raw little-endian data.
#include "fedkseed/model/safetensors.h"

#include <ATen/ops/empty.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

using nlohmann::json;

// The safetensors library refuses headers above 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

const std::pair<const char*, c10::ScalarType> kDtypeNames[] = {
    {"F64", c10::kDouble}, {"F32", c10::kFloat}, {"F16", c10::kHalf},  {"BF16", c10::kBFloat16},
    {"I64", c10::kLong},   {"I32", c10::kInt},   {"I16", c10::kShort}, {"I8", c10::kChar},
    {"U8", c10::kByte},    {"BOOL", c10::kBool}};

c10::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  for (const auto& [text, type] : kDtypeNames) {
    if (name == text) return type;
  }
  throw Error(where + " has dtype '" + name +
              "', which is not supported (F64|F32|F16|BF16|I64|I32|I16|I8|U8|BOOL)");
}

std::string dtype_to_name(c10::ScalarType type, const std::string& where) {
  for (const auto& [text, candidate] : kDtypeNames) {
    if (candidate == type) return text;
  }
  throw Error(where + ": dtype " + c10::toString(type) + " has no safetensors name");
}

SafetensorsEntry parse_entry(const std::string& name, const json& value, uint64_t data_bytes,
                             const std::string& path) {
  const std::string where = "safetensors " + path + ": tensor " + name;
  if (!value.is_object() || !value.contains("dtype") || !value["dtype"].is_string() ||
      !value.contains("shape") || !value["shape"].is_array() || !value.contains("data_offsets") ||
      !value["data_offsets"].is_array() || value["data_offsets"].size() != 2) {
    throw Error(where + ": header entry needs dtype, shape and data_offsets [begin, end]");
  }
  SafetensorsEntry entry;
  entry.name = name;
  entry.dtype = dtype_from_name(value["dtype"].get<std::string>(), where);
  uint64_t bytes = c10::elementSize(entry.dtype);
  // Torch's strides are products of the non-zero dimensions: they must fit in int64 even when
  // another dimension is 0 (an empty tensor, which the data size check lets through).
  int64_t stride_product = 1;
  for (const auto& dim : value["shape"]) {
    if (!dim.is_number_unsigned()) throw Error(where + ": shape " + value["shape"].dump() + " is invalid");
    const uint64_t size = dim.get<uint64_t>();
    if (size > static_cast<uint64_t>(INT64_MAX) ||
        (size != 0 && __builtin_mul_overflow(stride_product, static_cast<int64_t>(size), &stride_product))) {
      throw Error(where + ": shape " + value["shape"].dump() + " has more elements than int64 can count");
    }
    // Bounded by the data size, so the product cannot overflow.
    if (size != 0 && bytes > data_bytes / size + 1) {
      throw Error(where + ": shape " + value["shape"].dump() + " is larger than the file");
    }
    bytes *= size;
    entry.shape.push_back(static_cast<int64_t>(size));
  }
  for (const auto& offset : value["data_offsets"]) {
    if (!offset.is_number_unsigned()) throw Error(where + ": data_offsets must be non-negative integers");
  }
  entry.begin = value["data_offsets"][0].get<uint64_t>();
  entry.end = value["data_offsets"][1].get<uint64_t>();
  if (entry.begin > entry.end || entry.end > data_bytes || entry.end - entry.begin != bytes) {
    throw Error(where + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                "] do not match its shape (" + std::to_string(bytes) + " bytes) within the " +
                std::to_string(data_bytes) + " data bytes (truncated file?)");
  }
  return entry;
}

}  // namespace

struct SafetensorsFile::Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

namespace {

// Reads exactly `bytes` at `offset`. pread, not a memory map: a file truncated by someone else
// while we read it is then a short read we report, not a SIGBUS.
void read_exactly(int fd, uint64_t offset, void* out, uint64_t bytes, const std::string& where) {
  auto* cursor = static_cast<char*>(out);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd, cursor, std::min<uint64_t>(bytes, 1ull << 30), static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(where + ": read failed at byte " + std::to_string(offset) + " (" + std::strerror(errno) + ")");
    if (got == 0) {
      throw Error(where + ": ends at byte " + std::to_string(offset) + ", before the " + std::to_string(bytes) +
                  " more bytes its header announces (truncated while being read?)");
    }
    cursor += got, offset += static_cast<uint64_t>(got), bytes -= static_cast<uint64_t>(got);
  }
}

// The header's JSON; like the safetensors library it must be an object (starting with '{')
// and a key may not repeat in any object (nlohmann would keep the last one silently).
json parse_header(const std::string& header, const std::string& where) {
  if (header.empty() || header[0] != '{') throw Error(where + ": header does not start with '{' (not a safetensors file)");
  std::vector<std::set<std::string>> open_objects;
  const json::parser_callback_t refuse_duplicates = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end) open_objects.pop_back();
    if (event == json::parse_event_t::key && !open_objects.back().insert(parsed.get<std::string>()).second) {
      throw Error(where + ": header holds the key " + parsed.dump() + " twice in one object");
    }
    return true;
  };
  try {
    return json::parse(header, refuse_duplicates);
  } catch (const json::exception& error) {
    throw Error(where + ": header is not valid JSON: " + error.what());
  }
}

// The safetensors library's rule: sorted by offset, each tensor starts where the previous one
// ends and the last ends at the end of the file, so no byte is shared, skipped or trailing.
void check_contiguous(const std::vector<SafetensorsEntry>& entries, uint64_t data_bytes, const std::string& where) {
  uint64_t expected = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const auto& entry : entries) {
    if (entry.begin != expected) {
      throw Error(where + ": tensor " + entry.name + "'s data_offsets [" + std::to_string(entry.begin) + ", " +
                  std::to_string(entry.end) + "] " + (entry.begin < expected ? "overlap" : "leave a gap after") +
                  (previous ? " tensor " + previous->name + "'s, which end at " : " the data section's start, ") +
                  std::to_string(expected) + "; tensors must tile the data section");
    }
    expected = entry.end;
    previous = &entry;
  }
  if (expected != data_bytes) {
    throw Error(where + ": the tensors cover " + std::to_string(expected) + " of the " + std::to_string(data_bytes) +
                " data bytes; the rest belongs to no tensor");
  }
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  const std::string where = "safetensors " + path;
  SafetensorsFile file;
  file.path_ = path;
  file.descriptor_ = std::make_shared<Descriptor>();
  file.descriptor_->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const int fd = file.descriptor_->fd;
  if (fd < 0) throw Error(where + ": cannot be opened (" + std::strerror(errno) + ")");
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) throw Error(where + ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  if (size < 8) throw Error(where + ": " + std::to_string(size) + " bytes, too short for a header");
  uint8_t length[8];
  read_exactly(fd, 0, length, 8, where);
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | length[i];
  if (header_bytes > size - 8 || header_bytes > kMaxHeaderBytes) {
    throw Error(where + ": header length " + std::to_string(header_bytes) + " exceeds the file size " +
                std::to_string(size) + " or the 100 MB limit (truncated or not a safetensors file)");
  }
  std::string header(header_bytes, '\0');
  read_exactly(fd, 8, header.data(), header_bytes, where);
  const json parsed = parse_header(header, where);
  const uint64_t data_bytes = size - 8 - header_bytes;
  file.data_offset_ = 8 + header_bytes;
  for (const auto& [name, value] : parsed.items()) {
    if (name == "__metadata__") {
      const bool strings = value.is_object() && std::all_of(value.begin(), value.end(),
                                                             [](const json& item) { return item.is_string(); });
      if (!strings) throw Error(where + ": __metadata__ must map strings to strings");
      continue;
    }
    file.entries_.push_back(parse_entry(name, value, data_bytes, path));
  }
  std::sort(file.entries_.begin(), file.entries_.end(),
            [](const auto& a, const auto& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  check_contiguous(file.entries_, data_bytes, where);
  return file;
}

at::Tensor SafetensorsFile::tensor(const SafetensorsEntry& entry) const {
  at::Tensor tensor = at::empty(entry.shape, at::TensorOptions().dtype(entry.dtype));
  read_exactly(descriptor_->fd, data_offset_ + entry.begin, tensor.data_ptr(), entry.end - entry.begin,
               "safetensors " + path_ + ": tensor " + entry.name);
  return tensor;
}

void safetensors_write(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  const std::string where = "safetensors " + path;
  json header = {{"__metadata__", {{"format", "pt"}}}};
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const uint64_t bytes = tensor.numel() * tensor.element_size();
    header[name] = {{"dtype", dtype_to_name(tensor.scalar_type(), where + ": tensor " + name)},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::string temporary = path + ".partial";
  std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(where + ": cannot be written");
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  out.write(reinterpret_cast<const char*>(length), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& [name, tensor] : tensors) {
    const at::Tensor host = tensor.to(c10::kCPU).contiguous();
    out.write(static_cast<const char*>(host.data_ptr()), static_cast<std::streamsize>(host.nbytes()));
  }
  out.close();
  if (!out || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw Error(where + ": writing failed (disk full?)");
  }
}

}  // namespace fedkseed
