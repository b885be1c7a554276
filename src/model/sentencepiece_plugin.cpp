// libfedkseed_sentencepiece.so: sentencepiece behind the plain interface of
// sentencepiece_api.h. Built as its own module (never linked into fedkseed_core) so that
// libsentencepiece.so.0 is only ever opened by sentencepiece_loader.cpp.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "sentencepiece_api.h"

namespace fedkseed::spm {
namespace {

std::string error_of(const sentencepiece::util::Status& status) { return status.ok() ? "" : status.ToString(); }

class SentencePieceProcessor final : public Processor {
 public:
  std::string load(const std::string& path) override { return error_of(sp_.Load(path)); }
  std::string load_from_serialized_proto(const std::string& bytes) override {
    return error_of(sp_.LoadFromSerializedProto(bytes));
  }
  std::string serialized_model_proto() const override { return sp_.serialized_model_proto(); }
  int piece_size() const override { return sp_.GetPieceSize(); }
  int unk_id() const override { return sp_.unk_id(); }
  int bos_id() const override { return sp_.bos_id(); }
  int eos_id() const override { return sp_.eos_id(); }
  int pad_id() const override { return sp_.pad_id(); }
  int piece_to_id(const std::string& piece) const override { return sp_.PieceToId(piece); }
  std::string id_to_piece(int id) const override { return sp_.IdToPiece(id); }
  bool is_control(int id) const override { return sp_.IsControl(id); }
  bool is_unknown(int id) const override { return sp_.IsUnknown(id); }
  bool is_byte(int id) const override { return sp_.IsByte(id); }
  std::string encode(const std::string& text, std::vector<int>* ids) const override {
    return error_of(sp_.Encode(text, ids));
  }
  std::string decode_ids(const std::vector<int>& ids) const override { return sp_.DecodeIds(ids); }

 private:
  sentencepiece::SentencePieceProcessor sp_;
};

class LinesIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LinesIterator(const std::vector<std::string>& lines) : lines_(lines) { skip_empty(); }
  bool done() const override { return index_ >= lines_.size(); }
  void Next() override {
    ++index_;
    skip_empty();
  }
  const std::string& value() const override { return lines_[index_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  void skip_empty() {
    while (index_ < lines_.size() && lines_[index_].empty()) ++index_;
  }
  const std::vector<std::string>& lines_;
  size_t index_ = 0;
};

Processor* new_processor() { return new SentencePieceProcessor(); }

std::string train(const std::unordered_map<std::string, std::string>& args, const std::vector<std::string>& sentences,
                  std::string* model) {
  LinesIterator lines(sentences);
  return error_of(sentencepiece::SentencePieceTrainer::Train(args, &lines, model));
}

}  // namespace
}  // namespace fedkseed::spm

extern "C" __attribute__((visibility("default"))) const fedkseed::spm::Api* fedkseed_sentencepiece_api() {
  static const fedkseed::spm::Api api{fedkseed::spm::kApiVersion, fedkseed::spm::new_processor,
                                      fedkseed::spm::train};
  return &api;
}
