// imock-mutate: reads the mutant catalogue and writes mutated copies of the files the
// mutants edit (the build does this for every mutant; see mutants/README.md).
//   imock-mutate list CATALOGUE                  the mutants' names, one per line
//   imock-mutate file CATALOGUE NAME             the file NAME edits (from the root)
//   imock-mutate check CATALOGUE ROOT            every mutant applies to its file
//   imock-mutate apply CATALOGUE NAME SOURCE OUT write SOURCE with NAME's edits to OUT
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "imock/mutants/catalogue.hpp"

namespace {

using namespace imock::mutants;

int usage() {
  std::fprintf(stderr,
               "usage: imock-mutate list CATALOGUE\n"
               "       imock-mutate file CATALOGUE NAME\n"
               "       imock-mutate check CATALOGUE ROOT\n"
               "       imock-mutate apply CATALOGUE NAME SOURCE OUT\n");
  return 2;
}

bool read(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 2) return usage();
  std::vector<std::string> errors;
  const auto all = load_catalogue(args[1], errors);
  if (!all) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  if (args[0] == "list" && args.size() == 2) {
    for (const auto& m : *all) std::printf("%s\n", m.name.c_str());
    return 0;
  }
  if (args[0] == "file" && args.size() == 3) {
    const auto* m = find(*all, args[2]);
    if (m == nullptr) {
      std::fprintf(stderr, "imock-mutate: no mutant '%s' in %s\n", args[2].c_str(),
                   args[1].c_str());
      return 1;
    }
    std::printf("%s\n", m->file.c_str());
    return 0;
  }
  if (args[0] == "check" && args.size() == 3) {
    int bad = 0;
    for (const auto& m : *all) {
      std::string source;
      if (!read(args[2] + "/" + m.file, source)) {
        std::fprintf(stderr, "imock-mutate: cannot read %s/%s\n", args[2].c_str(), m.file.c_str());
        ++bad;
        continue;
      }
      std::string error;
      if (!apply(m, source, error)) {
        std::fprintf(stderr, "%s: %s\n", args[1].c_str(), error.c_str());
        ++bad;
      }
    }
    std::printf("%zu mutants, %d do not apply\n", all->size(), bad);
    return bad == 0 ? 0 : 1;
  }
  if (args[0] == "apply" && args.size() == 5) {
    const auto* m = find(*all, args[2]);
    if (m == nullptr) {
      std::fprintf(stderr, "imock-mutate: no mutant '%s' in %s\n", args[2].c_str(),
                   args[1].c_str());
      return 1;
    }
    std::string source;
    if (!read(args[3], source)) {
      std::fprintf(stderr, "imock-mutate: cannot read %s\n", args[3].c_str());
      return 1;
    }
    std::string error;
    const auto mutated = apply(*m, source, error);
    if (!mutated) {
      std::fprintf(stderr, "%s: %s\n", args[1].c_str(), error.c_str());
      return 1;
    }
    std::ofstream out(args[4], std::ios::binary | std::ios::trunc);
    out << "// MUTANT " << m->name << " (mutants/catalogue.yaml): " << m->bug
        << "\n// Generated from " << args[3] << "; never part of the SDK.\n"
        << *mutated
        << "\nnamespace imock::mutants {\nextern const char* const k_mutant_name;\n"
           "const char* const k_mutant_name = \""
        << m->name << "\";\n}  // namespace imock::mutants\n";
    if (!out) {
      std::fprintf(stderr, "imock-mutate: cannot write %s\n", args[4].c_str());
      return 1;
    }
    return 0;
  }
  return usage();
}
