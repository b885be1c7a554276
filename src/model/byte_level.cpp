// GPT-2's bytes_to_unicode table and the UTF-8 helpers of the byte-level BPE tokenizer.
#include "byte_level.h"

#include <array>
#include <unordered_map>

namespace fedkseed::bpe {
namespace {

// Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, 0x7F..
// 0xA0, 0xAD) are shifted to U+0100 upwards in byte order.
struct ByteAlphabet {
  std::array<char32_t, 256> to_char{};
  std::unordered_map<char32_t, unsigned char> to_byte;
  ByteAlphabet() {
    char32_t next = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
      to_char[byte] = printable ? static_cast<char32_t>(byte) : next++;
      to_byte.emplace(to_char[byte], static_cast<unsigned char>(byte));
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet table;
  return table;
}

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Length of the valid UTF-8 sequence at bytes[pos], or 0 with `maximal` set to the length
// of the maximal invalid prefix (Unicode's "maximal subpart" rule).
size_t valid_sequence(const std::string& bytes, size_t pos, size_t& maximal) {
  const auto at = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned char lead = at(pos);
  maximal = 1;
  if (lead < 0x80) return 1;
  size_t need = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  for (size_t i = 1; i <= need; ++i) {
    if (pos + i >= bytes.size()) return 0;
    const unsigned char byte = at(pos + i);
    const bool ok = i == 1 ? byte >= low && byte <= high : is_continuation(byte);
    if (!ok) return 0;
    maximal = i + 1;
  }
  return need + 1;
}

}  // namespace

std::string bytes_to_byte_level(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char byte : bytes) utf8_append(alphabet().to_char[static_cast<unsigned char>(byte)], out);
  return out;
}

bool byte_level_to_bytes(const std::string& text, std::string& bytes) {
  bytes.clear();
  for (size_t pos = 0; pos < text.size(); pos += utf8_length(static_cast<unsigned char>(text[pos]))) {
    const auto found = alphabet().to_byte.find(utf8_code_point(text, pos));
    if (found == alphabet().to_byte.end()) return false;
    bytes.push_back(static_cast<char>(found->second));
  }
  return true;
}

size_t utf8_length(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

char32_t utf8_code_point(const std::string& text, size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  const size_t length = utf8_length(lead);
  if (length == 1 || pos + length > text.size()) return lead;
  char32_t code_point = lead & (0xFF >> (length + 1));
  for (size_t i = 1; i < length; ++i) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  }
  return code_point;
}

void utf8_append(char32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

std::string utf8_lossy(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    size_t maximal = 0;
    const size_t length = valid_sequence(bytes, pos, maximal);
    if (length > 0) {
      out.append(bytes, pos, length);
      pos += length;
    } else {
      out += "\xEF\xBF\xBD";
      pos += maximal;
    }
  }
  return out;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

bool is_unicode_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace fedkseed::bpe
