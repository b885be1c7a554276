// The one byte codec of the messages that cross a network or the process group: fixed-width
// little-endian fields appended to / read from a std::string (x86-64 and aarch64 are
// little-endian, so a field is its in-memory bytes). Torch-free.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fedkseed/common/error.h"

namespace fedkseed {

class ByteWriter {
 public:
  template <class T>
  void put(T value) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    bytes_.append(raw, sizeof(T));
  }
  template <class T>
  void put_all(const std::vector<T>& values) {
    bytes_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  }
  void put_bytes(const std::string& bytes) { bytes_ += bytes; }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

// Reads `bytes` (which must outlive the reader) front to back; throws fedkseed::Error
// "<what>: truncated" when a field runs past the end.
class ByteReader {
 public:
  ByteReader(const std::string& bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}

  template <class T>
  T get() {
    need(sizeof(T));
    T value;
    std::memcpy(&value, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }
  template <class T>
  std::vector<T> get_all(std::size_t count) {
    if (count > remaining() / sizeof(T)) need(remaining() + 1);
    std::vector<T> values(count);
    std::memcpy(values.data(), bytes_.data() + offset_, count * sizeof(T));
    offset_ += count * sizeof(T);
    return values;
  }
  std::string get_bytes(std::size_t count) {
    need(count);
    std::string out = bytes_.substr(offset_, count);
    offset_ += count;
    return out;
  }
  std::size_t remaining() const { return bytes_.size() - offset_; }
  // Throws unless every byte was read.
  void finish() const {
    if (remaining() != 0) throw Error(what_ + ": " + std::to_string(remaining()) + " trailing bytes");
  }

 private:
  void need(std::size_t count) const {
    if (count > remaining()) throw Error(what_ + ": truncated");
  }
  const std::string& bytes_;
  std::string what_;
  std::size_t offset_ = 0;
};

}  // namespace fedkseed
