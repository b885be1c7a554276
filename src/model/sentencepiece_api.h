// The part of sentencepiece the tokenizer uses, behind a plugin (libfedkseed_sentencepiece.so)
// that sentencepiece_loader.cpp opens with RTLD_LOCAL | RTLD_DEEPBIND. Linked directly,
// libsentencepiece.so.0 binds its global FLAGS_minloglevel (a 32-byte flag object) to
// libc10's 4-byte one and its start-up code overwrites libc10's neighbouring
// FLAGS_caffe2_use_fatal_for_enforce, so every TORCH_CHECK and allocation failure aborts.
// Opened this way, sentencepiece binds to its own flags. Only plain C++ types cross over.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace fedkseed::spm {

// One sentencepiece::SentencePieceProcessor. Methods returning std::string errors give ""
// on success, else sentencepiece's status message.
class Processor {
 public:
  virtual ~Processor() = default;
  virtual std::string load(const std::string& path) = 0;
  virtual std::string load_from_serialized_proto(const std::string& bytes) = 0;
  virtual std::string serialized_model_proto() const = 0;
  virtual int piece_size() const = 0;
  virtual int unk_id() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  virtual int pad_id() const = 0;
  virtual int piece_to_id(const std::string& piece) const = 0;
  virtual std::string id_to_piece(int id) const = 0;
  virtual bool is_control(int id) const = 0;
  virtual bool is_unknown(int id) const = 0;
  virtual bool is_byte(int id) const = 0;
  virtual std::string encode(const std::string& text, std::vector<int>* ids) const = 0;
  virtual std::string decode_ids(const std::vector<int>& ids) const = 0;
};

// What the plugin's one exported function, fedkseed_sentencepiece_api(), returns.
struct Api {
  int version;  // kApiVersion of the plugin's build: a stale plugin is refused
  Processor* (*new_processor)();
  // SentencePieceTrainer::Train over `sentences` (empty ones skipped); "" or the error.
  std::string (*train)(const std::unordered_map<std::string, std::string>& args,
                       const std::vector<std::string>& sentences, std::string* model);
};
constexpr int kApiVersion = 1;

// The plugin's Api, opened on first use from beside the running executable, else from the
// build folder; throws fedkseed::Error naming the library and dlerror() when it cannot.
const Api& api();

}  // namespace fedkseed::spm

extern "C" const fedkseed::spm::Api* fedkseed_sentencepiece_api();
