// GPT-2's byte-level alphabet, used by tokenizer.json's ByteLevel pre-tokenizer and decoder:
// each of the 256 byte values is written as one printable Unicode character, so a byte
// string of any content becomes a string BPE can merge. Plus the UTF-8 and text helpers the tokenizer.json steps share.
#pragma once

#include <cstdint>
#include <string>

namespace fedkseed::bpe {

// The UTF-8 text of the printable characters that stand for the bytes of `bytes`.
std::string bytes_to_byte_level(const std::string& bytes);
// The bytes behind a byte-level string; false when a character is not in the alphabet.
bool byte_level_to_bytes(const std::string& text, std::string& bytes);

// Length of the UTF-8 sequence that starts with `lead` (1 for a stray continuation byte).
size_t utf8_length(unsigned char lead);
// The code point at text[pos] (a malformed sequence reads as its first byte).
char32_t utf8_code_point(const std::string& text, size_t pos);
void utf8_append(char32_t code_point, std::string& out);
// `bytes` as valid UTF-8: each maximal invalid subsequence becomes one U+FFFD, as Rust's
// String::from_utf8_lossy (what tokenizers' decoders use) does.
std::string utf8_lossy(const std::string& bytes);
// `text` with every `from` replaced by `to`, left to right (no-op for an empty `from`).
std::string replace_all(std::string text, const std::string& from, const std::string& to);
// Unicode White_Space (Rust's char::is_whitespace, which tokenizers' lstrip/rstrip use).
bool is_unicode_space(char32_t code_point);

}  // namespace fedkseed::bpe
