#include "imock/base/yaml_read.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <memory>
#include <sstream>
#include <system_error>

#include <yaml-cpp/eventhandler.h>

#include "imock/base/parse.hpp"

namespace imock::yaml_read {
namespace {

constexpr std::string_view k_duration_examples = "e.g. 250ms, 1.5s, 2m, 1h, 7d";
constexpr std::int64_t k_ms_per_s = 1000;
constexpr std::int64_t k_max_keep_alive_s = 65'535;  // MQTT's keep alive is 16 bits


}  // namespace

const entry* find(const std::vector<entry>& entries, std::string_view name) noexcept {
  for (const auto& e : entries) {
    if (e.name == name) {
      return &e;
    }
  }
  return nullptr;
}

// A null value (`secret:` and nothing after it) carries the mark of whatever token
// follows it, often on another line; its key is where the reader should look.
YAML::Mark mark_of(const entry& e) { return e.value.IsNull() ? e.key.Mark() : e.value.Mark(); }

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string join(key_list items) {
  std::string out;
  for (const auto item : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += item;
  }
  return out;
}

std::vector<entry> read_map(const YAML::Node& map, std::string_view context, key_list known,
                            std::vector<problem>& problems, std::vector<std::string>* unknown) {
  const std::string where(context);
  std::vector<entry> entries;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      problems.push_back(
          {kv.first.Mark(), "expected a key name " + where + ", got " + describe(kv.first)});
      continue;
    }
    const std::string& name = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      if (unknown != nullptr) {
        unknown->push_back(name);
      }
      problems.push_back(
          {kv.first.Mark(), "unknown key '" + name + "' " + where +
                                (known.empty() ? " (it takes no parameters)"
                                               : " (expected one of: " + join(known) + ")")});
      continue;
    }
    if (const auto* first = find(entries, name)) {
      problems.push_back({kv.first.Mark(), "duplicate key '" + name + "' " + where +
                                               " (first at line " +
                                               std::to_string(first->key.Mark().line + 1) + ")"});
      continue;
    }
    entries.push_back(entry{name, kv.first, kv.second});
  }
  return entries;
}

std::string wrong_kind(const entry& e, std::string_view expected) {
  return "expected " + std::string(expected) + " for " + e.name + ", got " + describe(e.value);
}

result<std::string> read_string(const entry& e) {
  if (!e.value.IsScalar()) {
    return {std::nullopt, wrong_kind(e, "a string")};
  }
  return {e.value.Scalar(), {}};
}

result<std::string> read_non_empty(const entry& e) {
  if (!e.value.IsScalar()) {
    return {std::nullopt, wrong_kind(e, "a non-empty string")};
  }
  if (e.value.Scalar().empty()) {
    return {std::nullopt, "empty " + e.name + " (expected a non-empty string)"};
  }
  return {e.value.Scalar(), {}};
}

result<bool> read_bool(const entry& e) {
  // Only YAML 1.2's spellings: yes/no/on/off are YAML 1.1 and read differently elsewhere.
  if (!e.value.IsScalar()) {
    return {std::nullopt, wrong_kind(e, "true or false")};
  }
  const auto& text = e.value.Scalar();
  if (text == "true" || text == "false") {
    return {text == "true", {}};
  }
  return {std::nullopt, "bad boolean '" + text + "' for " + e.name + " (expected true or false)"};
}

result<std::uint64_t> read_unsigned(const entry& e, std::uint64_t min, std::uint64_t max) {
  const auto range = std::to_string(min) + ".." + std::to_string(max);
  if (!e.value.IsScalar()) {
    return {std::nullopt, wrong_kind(e, "an integer " + range)};
  }
  const auto& text = e.value.Scalar();
  const auto v = parse_unsigned(text);
  if (!v || *v < min || *v > max) {
    return {std::nullopt, "bad integer '" + text + "' for " + e.name + " (expected " + range + ")"};
  }
  return {v, {}};
}

result<std::int64_t> read_duration(const entry& e) {
  if (!e.value.IsScalar()) {
    return {std::nullopt, wrong_kind(e, "a duration (" + std::string(k_duration_examples) + ")")};
  }
  const auto& text = e.value.Scalar();
  const auto ms = parse_duration_ms(text);
  if (!ms) {
    return {std::nullopt, "bad duration '" + text + "' for " + e.name + " (expected " +
                              std::string(k_duration_examples) + ")"};
  }
  return {ms, {}};
}

result<std::int64_t> read_positive_duration(const entry& e) {
  auto ms = read_duration(e);
  if (ms.value && *ms.value <= 0) {
    return {std::nullopt, "bad duration '" + e.value.Scalar() + "' for " + e.name +
                              " (expected more than 0, " + std::string(k_duration_examples) + ")"};
  }
  return ms;
}

result<std::int64_t> read_keep_alive(const entry& e, std::string_view examples) {
  auto ms = read_duration(e);
  if (ms.value && (*ms.value % k_ms_per_s != 0 || *ms.value / k_ms_per_s > k_max_keep_alive_s)) {
    return {std::nullopt, "bad duration '" + e.value.Scalar() + "' for " + e.name +
                              " (expected whole seconds, at most 65535s, " + std::string(examples) +
                              ")"};
  }
  return ms;
}

result<std::string> read_file(const std::filesystem::path& file, std::string_view what,
                              std::size_t max_bytes) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"),
                                                          &std::fclose);
  if (!f) {
    const int err = errno;
    return {std::nullopt,
            "cannot open the " + std::string(what) + ": " + std::generic_category().message(err)};
  }
  std::string text;
  std::array<char, std::size_t{16} * 1024> buf{};
  std::size_t n = 0;
  errno = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    text.append(buf.data(), n);
    if (text.size() > max_bytes) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(file, ec);
      const auto mib = [](double bytes) {
        char out[32];
        std::snprintf(out, sizeof out, "%.1f MiB", bytes / (1024.0 * 1024.0));
        return std::string(out);
      };
      return {std::nullopt, "the " + std::string(what) + " is " +
                                (ec ? "larger than " + mib(static_cast<double>(max_bytes))
                                    : mib(static_cast<double>(size))) +
                                "; at most " + mib(static_cast<double>(max_bytes)) +
                                " is read (split it, or check that it is the file you meant)"};
    }
  }
  if (std::ferror(f.get()) != 0) {
    // A folder opens fine on Linux and fails here with EISDIR.
    const int err = errno != 0 ? errno : EIO;
    return {std::nullopt,
            "cannot read the " + std::string(what) + ": " + std::generic_category().message(err)};
  }
  return {std::move(text), {}};
}

namespace {

// Where a document starts and whether it holds anything: all load_document needs of
// yaml-cpp's events.
struct document_marks final : YAML::EventHandler {
  YAML::Mark start;
  std::optional<YAML::Mark> content;  // where its first node is, when it has one
  void OnDocumentStart(const YAML::Mark& mark) override {
    start = mark;
    content.reset();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { saw(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    saw(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    saw(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    saw(mark);
  }
  void OnMapEnd() override {}
  void saw(const YAML::Mark& mark) {
    if (!content) content = mark;
  }
};

}  // namespace

YAML::Node load_document(std::string_view text, std::optional<YAML::Mark>& second_document) {
  second_document.reset();
  const std::string owned(text);
  YAML::Node first = YAML::Load(owned);
  // The documents after the first, by their events alone. A document that starts where
  // the previous one did means the parser is stuck (it would loop for ever).
  std::istringstream in(owned);
  YAML::Parser parser(in);
  document_marks marks;
  if (!parser.HandleNextDocument(marks)) return first;
  std::optional<int> previous_start = marks.start.pos;
  while (parser.HandleNextDocument(marks)) {
    if (previous_start == marks.start.pos) {
      throw YAML::ParserException(marks.start, "unexpected ',' (a ',' belongs inside [...] or {...})");
    }
    if (marks.content) {
      second_document = marks.content;
      break;
    }
    previous_start = marks.start.pos;
  }
  return first;
}

std::string exception_message(const YAML::Exception& e) {
  const bool syntax = dynamic_cast<const YAML::ParserException*>(&e) != nullptr;
  return (syntax ? "YAML syntax error: " : "YAML error: ") + e.msg;
}

}  // namespace imock::yaml_read
