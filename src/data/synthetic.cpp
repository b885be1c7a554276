// Synthetic Dolly-format data: eight tiny deterministic tasks, one per Dolly category, so
// that a small model can learn something in a few federated rounds.
#include "fedkseed/data/synthetic.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"

namespace fedkseed {
namespace {

struct Record {
  std::string instruction, context, response;
};

const std::vector<std::string> kNames = {"Anna", "Ben", "Cara", "Dan", "Eva", "Finn", "Gina", "Hugo"};
const std::vector<std::string> kThings = {"apples", "books", "cats", "pens", "cups", "shoes", "keys", "coins"};
const std::vector<std::string> kCities = {"Paris", "Rome", "Oslo", "Lima", "Cairo", "Tokyo", "Quito", "Seoul"};
const std::vector<std::string> kJobs = {"baker", "doctor", "pilot", "farmer", "teacher", "writer"};
const std::vector<std::string> kWords = {"red", "blue", "green", "sun", "moon", "river", "stone", "tree", "bird", "wind"};
const std::vector<std::string> kAnimals = {"dog", "cat", "fox", "owl", "bear", "frog", "duck", "lion"};
const std::vector<std::string> kDays = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

const std::string& pick(const std::vector<std::string>& list, Rng& rng) {
  return list[rng.uniform_int(0, static_cast<int64_t>(list.size()))];
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// Dolly's categories (alphabetical, as the category codes), their share of Dolly-15K,
// and the task standing in for each.
struct Category {
  const char* name;
  double weight;
  std::function<Record(Rng&)> make;
};

const std::vector<Category>& categories() {
  static const std::vector<Category> list = {
      {"brainstorming", 1766, [](Rng& rng) {
         const int64_t a = rng.uniform_int(0, 20);
         return Record{"List the three numbers after " + std::to_string(a) + ".", "",
                       std::to_string(a + 1) + ", " + std::to_string(a + 2) + ", " + std::to_string(a + 3)};
       }},
      {"classification", 2136, [](Rng& rng) {
         const int64_t a = rng.uniform_int(0, 100);
         return Record{"Is " + std::to_string(a) + " even or odd?", "", a % 2 == 0 ? "even" : "odd"};
       }},
      {"closed_qa", 1773, [](Rng& rng) {
         const std::string name = pick(kNames, rng), thing = pick(kThings, rng);
         const std::string count = std::to_string(rng.uniform_int(1, 10));
         return Record{"How many " + thing + " does " + name + " have?",
                       name + " has " + count + " " + thing + ".", count};
       }},
      {"creative_writing", 709, [](Rng& rng) {
         const std::string word = pick(kWords, rng);
         return Record{"Write the word " + word + " in capital letters.", "", upper(word)};
       }},
      {"general_qa", 2191, [](Rng& rng) {
         const int64_t a = rng.uniform_int(0, 10), b = rng.uniform_int(0, 10);
         return Record{"What is " + std::to_string(a) + " plus " + std::to_string(b) + "?", "", std::to_string(a + b)};
       }},
      {"information_extraction", 1506, [](Rng& rng) {
         const std::string name = pick(kNames, rng), city = pick(kCities, rng);
         return Record{"Where does " + name + " live?",
                       name + " lives in " + city + " and works as a " + pick(kJobs, rng) + ".", city};
       }},
      {"open_qa", 3742, [](Rng& rng) {
         const int64_t day = rng.uniform_int(0, 7);
         return Record{"What day comes after " + kDays[day] + "?", "", kDays[(day + 1) % 7]};
       }},
      {"summarization", 1188, [](Rng& rng) {
         const std::string first = "The " + pick(kAnimals, rng) + " likes the " + pick(kWords, rng) + ".";
         return Record{"Copy the first sentence of the text.", first + " It sleeps near the " + pick(kWords, rng) + ".",
                       first};
       }},
  };
  return list;
}

}  // namespace

void write_synthetic_dolly(const std::string& path, int64_t records, uint64_t seed) {
  const auto parent = std::filesystem::path(path).parent_path();
  std::error_code ignored;
  if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error("synthetic dolly " + path + ": cannot be written");
  Rng rng(seed, "synthetic/dolly");
  std::vector<double> weights;
  for (const auto& category : categories()) weights.push_back(category.weight);
  for (int64_t i = 0; i < records; ++i) {
    const Category& category = categories()[rng.weighted_index(weights)];
    const Record record = category.make(rng);
    nlohmann::ordered_json line = {{"instruction", record.instruction},
                                   {"context", record.context},
                                   {"response", record.response},
                                   {"category", category.name}};
    out << line.dump() << "\n";
  }
  if (!out) throw Error("synthetic dolly " + path + ": write failed");
}

}  // namespace fedkseed
