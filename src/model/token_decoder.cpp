// Decoder steps over a list of token strings, as tokenizers' decode_chain runs them: each
// step maps the list to a new list (ByteLevel and Fuse to a single string).
#include "token_decoder.h"

#include "byte_level.h"

namespace fedkseed::bpe {
namespace {

// The byte of a "<0xAB>" token, or -1.
int byte_token_value(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  try {
    size_t used = 0;
    const int value = std::stoi(token.substr(3, 2), &used, 16);
    return used == 2 ? value : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

// Byte-level tokens carry bytes; a token with a character outside the alphabet (an added
// token) is taken as its own UTF-8. The bytes of all tokens become one lossy UTF-8 string.
std::vector<std::string> byte_level(const std::vector<std::string>& tokens) {
  std::string bytes, token_bytes;
  for (const auto& token : tokens) bytes += byte_level_to_bytes(token, token_bytes) ? token_bytes : token;
  return {utf8_lossy(bytes)};
}

// Runs of <0xXX> tokens become their UTF-8 text, or one U+FFFD per byte when not valid.
std::vector<std::string> byte_fallback(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  std::string pending;
  size_t pending_count = 0;
  const auto flush = [&] {
    if (pending_count == 0) return;
    const std::string text = utf8_lossy(pending);
    if (text == pending) {
      out.push_back(text);
    } else {
      for (size_t i = 0; i < pending_count; ++i) out.emplace_back("\xEF\xBF\xBD");
    }
    pending.clear();
    pending_count = 0;
  };
  for (const auto& token : tokens) {
    const int byte = byte_token_value(token);
    if (byte < 0) {
      flush();
      out.push_back(token);
    } else {
      pending.push_back(static_cast<char>(byte));
      ++pending_count;
    }
  }
  flush();
  return out;
}

std::string strip(const std::string& token, const std::string& content, size_t start, size_t stop) {
  size_t begin = 0, end = token.size();
  for (size_t i = 0; i < start && token.compare(begin, content.size(), content) == 0 && !content.empty(); ++i) {
    begin += content.size();
  }
  for (size_t i = 0; i < stop && end >= begin + content.size() && !content.empty() &&
                     token.compare(end - content.size(), content.size(), content) == 0;
       ++i) {
    end -= content.size();
  }
  return token.substr(begin, end - begin);
}

}  // namespace

std::string decode_tokens(const std::vector<DecoderStep>& steps, std::vector<std::string> tokens) {
  for (const auto& step : steps) {
    switch (step.kind) {
      case DecoderStep::Kind::kByteLevel:
        tokens = byte_level(tokens);
        break;
      case DecoderStep::Kind::kMetaspace:
        for (size_t i = 0; i < tokens.size(); ++i) {
          tokens[i] = replace_all(tokens[i], step.pattern, " ");
          // The space the pre-tokenizer put in front of the text is not part of it.
          if (i == 0 && step.prepend_scheme != PrependScheme::kNever && tokens[i].rfind(' ', 0) == 0) {
            tokens[i].erase(0, 1);
          }
        }
        break;
      case DecoderStep::Kind::kReplace:
        for (auto& token : tokens) token = replace_all(token, step.pattern, step.content);
        break;
      case DecoderStep::Kind::kByteFallback:
        tokens = byte_fallback(tokens);
        break;
      case DecoderStep::Kind::kFuse: {
        std::string joined;
        for (const auto& token : tokens) joined += token;
        tokens = {joined};
        break;
      }
      case DecoderStep::Kind::kStrip:
        for (auto& token : tokens) token = strip(token, step.content, step.start, step.stop);
        break;
    }
  }
  std::string text;
  for (const auto& token : tokens) text += token;
  return text;
}

}  // namespace fedkseed::bpe
