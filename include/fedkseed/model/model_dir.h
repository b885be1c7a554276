// Where a --model value's checkpoint lives: a local folder, or a Hugging Face id such as
// datajuicer/LLaMA-1B-dj-refine-150B already in the local Hugging Face cache.
#pragma once

#include <string>

namespace fedkseed {

// The checkpoint folder a --model value names: the value itself when it is an existing
// folder or not of the form "org/name"; else that Hugging Face id's snapshot in the local
// cache, ${HF_HUB_CACHE:-${HF_HOME:-~/.cache/huggingface}/hub}/models--org--name/snapshots/
// <the revision in refs/main>. Nothing is downloaded: throws fedkseed::Error naming --model,
// the id and the cache folder when the id is not cached.
std::string resolve_model_dir(const std::string& model);

}  // namespace fedkseed
