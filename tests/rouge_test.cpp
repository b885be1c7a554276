// Rouge-L against the `rouge` 1.0.1 package on edge cases and random pairs (a committed fixture).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/evaluation/rouge.h"
#include "test_util.h"

namespace fedkseed::test {
namespace {

TEST(Rouge, HandComputedCases) {
  EXPECT_NEAR(*rouge_l_f("the cat sat", "the cat sat"), 1.0, 1e-7);
  // ref words {the, cat, sat}, hyp {the, dog, sat}: LCS "the sat" -> P = R = 2/3.
  EXPECT_NEAR(*rouge_l_f("the dog sat", "the cat sat"), 2.0 / 3.0, 1e-7);
  EXPECT_FALSE(rouge_l_f("", "the cat").has_value());
  EXPECT_FALSE(rouge_l_f("the cat", "...").has_value());
  EXPECT_NEAR(*rouge_l_f("The Cat", "the cat"), 0.0, 1e-12);  // no lowercasing
}

// tests/data/rouge: pairs and the package's scores, written by scripts/parity/rouge_pairs.py.
TEST(Rouge, MatchesThePythonPackageLineByLine) {
  const std::string dir = test_data("rouge");
  const auto fixture = read_json(dir + "/scores.json");
  ASSERT_EQ(fixture.at("rouge"), "1.0.1");
  const auto& expected = fixture.at("scores");
  ASSERT_EQ(expected.size(), 407u);
  const auto result = run_fedkseed("rouge --hyp " + dir + "/hyp.txt --ref " + dir + "/ref.txt");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("{\"rouge_l_f\":", 0), 0u) << result.out;
  const auto summary = nlohmann::json::parse(result.out);
  ASSERT_EQ(summary["n"].get<std::size_t>(), expected.size());
  double mean = 0;
  for (const auto& score : expected) mean += score.get<double>() / expected.size();
  EXPECT_NEAR(summary["rouge_l_f"].get<double>(), mean, 1e-12);

  // Per pair, through the library, so a mismatch points at the pair.
  std::istringstream hyps(read_text(dir + "/hyp.txt")), refs(read_text(dir + "/ref.txt"));
  std::string hyp, ref;
  std::size_t pairs = 0;
  for (; std::getline(hyps, hyp) && std::getline(refs, ref); ++pairs) {
    EXPECT_NEAR(rouge_l_f(hyp, ref).value_or(0.0), expected[pairs].get<double>(), 1e-12)
        << "pair " << pairs << ": hyp '" << hyp << "' ref '" << ref << "'";
  }
  EXPECT_EQ(pairs, expected.size());
}

TEST(Rouge, MismatchedLineCountsAndMissingFilesAreBadInput) {
  const std::string dir = make_temp_dir("rouge_bad");
  write_text(dir + "/a.txt", "one\ntwo\n");
  write_text(dir + "/b.txt", "one\n");
  auto result = run_fedkseed("rouge --hyp " + dir + "/a.txt --ref " + dir + "/b.txt");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("has 2 lines but --ref"), std::string::npos) << result.err;
  result = run_fedkseed("rouge --hyp " + dir + "/missing.txt --ref " + dir + "/b.txt");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--hyp " + dir + "/missing.txt: cannot open"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace fedkseed::test
