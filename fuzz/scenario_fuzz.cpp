// libFuzzer target for the scenario loader (harness/loader.hpp, docs/scenarios.md):
// parse_scenario() on any text, as `imock-harness check|run FILE` reads a hand-written
// file. The loader is the whole handler: every step, expectation, client, server
// section (through the server config's parser) and message step is read here.
//
// Input layout: the whole input is the file's text.
// Checks, for any text:
//   - no crash and no exception;
//   - a file that does not load has at least one error; every error names the file,
//     a line inside the text (at most one past its last line) and a column >= 1, and
//     says what is wrong; errors come in file order;
//   - a file that loads has no errors;
//   - the same text gives the same errors twice.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imock/fuzz/fuzz_input.hpp"
#include "imock/harness/loader.hpp"

namespace {

using imock::fuzz::check;
namespace harness = imock::harness;

const std::string k_file = "fuzz.yaml";

std::vector<std::string> texts(const std::vector<harness::load_error>& errors) {
  std::vector<std::string> out;
  out.reserve(errors.size());
  for (const auto& e : errors) out.push_back(e.to_string());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<harness::load_error> errors;
  const auto s = harness::parse_scenario(text, k_file, errors);
  check(s.has_value() == errors.empty());
  const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
  int previous_line = 0;
  for (const auto& e : errors) {
    check(e.where.file == k_file);
    check(e.where.line >= 1 && e.where.line <= lines + 1 && e.where.column >= 1);
    check(e.where.line >= previous_line);
    previous_line = e.where.line;
    check(!e.message.empty());
  }
  std::vector<harness::load_error> again;
  const auto s2 = harness::parse_scenario(text, k_file, again);
  check(s2.has_value() == s.has_value() && texts(again) == texts(errors));
  return 0;
}
