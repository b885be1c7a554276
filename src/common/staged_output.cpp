// StagedOutput: the staging folder lives inside the output folder, so commit() is a rename on
// one filesystem; the old contents (--force) are removed only once the new ones are complete.
#include "fedkseed/common/staged_output.h"

#include "fedkseed/common/error.h"

namespace fedkseed {

namespace fs = std::filesystem;

namespace {

// True when `inner` is `outer` or lies below it (both absolute and normalized).
bool is_within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // the empty element after a trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

fs::path resolved(const std::string& path) {
  std::error_code ignored;
  const fs::path canonical = fs::weakly_canonical(fs::absolute(path), ignored);
  return (canonical.empty() ? fs::absolute(path) : canonical).lexically_normal();
}

}  // namespace

StagedOutput::StagedOutput(const std::string& out, const std::string& flag, const std::string& command,
                           bool force, const std::vector<std::string>& protected_dirs)
    : out_(resolved(out)), staging_(out_ / ("." + command + ".partial")), force_(force) {
  const std::string where = flag + " " + out;
  for (const auto& kept : protected_dirs) {
    if (is_within(resolved(kept), out_)) {
      throw Error(where + ": " + (resolved(kept) == out_ ? "is " : "contains ") + kept +
                  ", which this command reads; choose another folder");
    }
  }
  std::error_code error;
  if (fs::exists(out_, error) && !fs::is_directory(out_, error)) throw Error(where + ": exists and is not a folder");
  for (const auto& entry : fs::directory_iterator(out_, error)) {
    if (entry.path() != staging_ && !force) {
      throw Error(where + ": is not empty (it holds " + entry.path().filename().string() +
                  "); choose an empty folder, or pass --force to replace its contents");
    }
  }
  for (fs::path missing = out_; !missing.empty() && !fs::exists(missing); missing = missing.parent_path()) {
    made_from_ = missing;
  }
  error.clear();
  fs::create_directories(out_, error);
  if (!error) fs::remove_all(staging_, error);  // left by a killed run
  if (!error) fs::create_directories(staging_, error);
  if (error) throw Error(where + ": cannot create (" + error.message() + ")");
}

StagedOutput::~StagedOutput() {
  std::error_code ignored;
  fs::remove_all(staging_, ignored);
  if (committed_ || made_from_.empty()) return;
  for (fs::path made = out_;; made = made.parent_path()) {
    fs::remove(made, ignored);  // only when empty
    if (made == made_from_) break;
  }
}

void StagedOutput::commit() {
  std::error_code error;
  if (force_) {
    for (const auto& entry : fs::directory_iterator(out_)) {
      if (entry.path() != staging_) fs::remove_all(entry.path(), error);
      if (error) throw Error(out_.string() + ": cannot remove " + entry.path().string() + " (" + error.message() + ")");
    }
  }
  for (const auto& entry : fs::directory_iterator(staging_)) {
    fs::rename(entry.path(), out_ / entry.path().filename(), error);
    if (error) throw Error(out_.string() + ": cannot move " + entry.path().filename().string() + " in (" + error.message() + ")");
  }
  committed_ = true;
}

}  // namespace fedkseed
