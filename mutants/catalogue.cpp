#include "imock/mutants/catalogue.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace imock::mutants {
namespace {

std::string where(const std::filesystem::path& file, const YAML::Mark& m) {
  return file.string() + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// The text as a pattern in which every run of whitespace matches any run of
// whitespace, and leading and trailing whitespace does not matter.
std::regex pattern_of(std::string_view text) {
  static const std::string special = R"(\^$.|?*+()[]{}/)";
  std::string out;
  bool in_space = true;  // drop leading whitespace
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out += R"(\s+)";
    in_space = false;
    if (special.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return std::regex(out);
}

}  // namespace

bool valid_file(std::string_view path) {
  if (!(path.starts_with("client/") || path.starts_with("server/"))) return false;
  if (!path.ends_with(".cpp") || path.find("..") != std::string_view::npos) return false;
  const auto name = path.substr(7, path.size() - 7 - 4);
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::optional<std::vector<mutant>> load_catalogue(const std::filesystem::path& file,
                                                  std::vector<std::string>& errors) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    errors.push_back(file.string() + ": cannot open the mutant catalogue");
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    errors.push_back(where(file, e.mark) + ": " + e.msg);
    return std::nullopt;
  }
  const auto list = root["mutants"];
  if (!root.IsMap() || !list || !list.IsSequence()) {
    errors.push_back(file.string() + ":1:1: expected a map with a list 'mutants'");
    return std::nullopt;
  }
  std::vector<mutant> out;
  std::set<std::string> names;
  const auto text = [&](const YAML::Node& n, const char* key, const YAML::Mark& at) {
    const auto v = n[key];
    if (!v || !v.IsScalar() || v.Scalar().empty()) {
      errors.push_back(where(file, at) + ": '" + key + "' (non-empty text) is required");
      return std::string();
    }
    return v.Scalar();
  };
  for (const auto& node : list) {
    if (!node.IsMap()) {
      errors.push_back(where(file, node.Mark()) + ": expected a map for a mutant");
      continue;
    }
    for (const auto& kv : node) {
      const auto key = kv.first.as<std::string>("");
      if (key != "name" && key != "area" && key != "bug" && key != "file" && key != "edits") {
        errors.push_back(where(file, kv.first.Mark()) + ": unknown key '" + key +
                         "' (expected name, area, bug, file, edits)");
      }
    }
    mutant m;
    m.line = node.Mark().line + 1;
    m.name = text(node, "name", node.Mark());
    m.area = text(node, "area", node.Mark());
    m.bug = text(node, "bug", node.Mark());
    if (!m.name.empty() && !valid_name(m.name)) {
      errors.push_back(where(file, node["name"].Mark()) + ": bad name '" + m.name +
                       "' (letters a-z, digits, '-')");
    }
    if (!m.name.empty() && !names.insert(m.name).second) {
      errors.push_back(where(file, node["name"].Mark()) + ": mutant '" + m.name +
                       "' is defined twice");
    }
    if (const auto f = node["file"]) {
      if (!f.IsScalar() || !valid_file(f.Scalar())) {
        errors.push_back(where(file, f.Mark()) + ": bad file '" + f.as<std::string>("") +
                         "' for mutant '" + m.name +
                         "' (expected client/NAME.cpp or server/NAME.cpp, from the project root)");
      } else {
        m.file = f.Scalar();
      }
    }
    const auto edits = node["edits"];
    if (!edits || !edits.IsSequence() || edits.size() == 0) {
      errors.push_back(where(file, node.Mark()) + ": 'edits' (a non-empty list) is required");
      continue;
    }
    for (const auto& e : edits) {
      if (!e.IsMap() || !e["find"] || !e["find"].IsScalar() || !e["replace"] ||
          !e["replace"].IsScalar() ||
          e["find"].Scalar().find_first_not_of(" \t\r\n") == std::string::npos) {
        errors.push_back(where(file, e.Mark()) +
                         ": an edit is a map with 'find' (non-empty) and 'replace'");
        continue;
      }
      m.edits.push_back({e["find"].Scalar(), e["replace"].Scalar(), e.Mark().line + 1});
    }
    out.push_back(std::move(m));
  }
  if (!errors.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> apply(const mutant& m, std::string source, std::string& error) {
  for (const auto& e : m.edits) {
    const auto re = pattern_of(e.find);
    auto it = std::sregex_iterator(source.begin(), source.end(), re);
    const auto end = std::sregex_iterator();
    if (it == end) {
      error = "mutant " + m.name + " (catalogue line " + std::to_string(e.line) +
              "): the text to find is not in the source any more";
      return std::nullopt;
    }
    const auto pos = static_cast<std::size_t>(it->position());
    const auto len = static_cast<std::size_t>(it->length());
    if (++it != end) {
      error = "mutant " + m.name + " (catalogue line " + std::to_string(e.line) +
              "): the text to find is in the source more than once; make it longer";
      return std::nullopt;
    }
    source.replace(pos, len, e.replace);
  }
  return source;
}

const mutant* find(const std::vector<mutant>& all, std::string_view name) {
  for (const auto& m : all) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace imock::mutants
