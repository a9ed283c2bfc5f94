// Reading fields of JSON objects that come from outside (admin bodies, driver lines,
// result files): one set of getters for every layer. Two manners:
//  - lenient (`*_or`): the field when it is there with the right type, else the
//    fallback. For protocols whose readers must shrug off what they do not know (a
//    client program's JSON lines, where other lines are ignored).
//  - strict (`field_reader`): a missing required field or a wrong type is a problem,
//    remembered with the field's name, and reading goes on so that one pass can say
//    what is wrong. For inputs that must be right (results files, request bodies).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imock::json_fields {

std::string string_or(const boost::json::object& o, std::string_view key,
                      std::string_view fallback = {});
/// A number that fits int64 exactly (a double with a fraction does not).
std::int64_t int_or(const boost::json::object& o, std::string_view key, std::int64_t fallback = 0);
double number_or(const boost::json::object& o, std::string_view key, double fallback);
bool bool_or(const boost::json::object& o, std::string_view key, bool fallback);
/// The strings of an array field, in order; other elements and other types: left out.
std::vector<std::string> strings(const boost::json::object& o, std::string_view key);

/// What is wrong with one field.
struct field_problem {
  std::string field;
  std::string message;  // "'count' must be an integer"
};

class field_reader {
 public:
  /// With `spelled`, a string that spells the value ("3", "0.5", "true", "1") is read as
  /// it, and an integer where a string is asked for as its digits: for values that came
  /// through a query string.
  explicit field_reader(const boost::json::object& o, bool spelled = false)
      : o_(o), spelled_(spelled) {}

  /// Absent (or null): nullopt, or a problem when `required`.
  std::optional<std::string> string(std::string_view key, bool required = false);
  std::optional<std::int64_t> integer(std::string_view key, bool required = false);
  std::optional<double> number(std::string_view key, bool required = false);
  std::optional<bool> boolean(std::string_view key, bool required = false);

  /// Records a problem of the caller's own (a range, a rule between fields).
  void problem(std::string_view field, std::string message);

  [[nodiscard]] bool ok() const noexcept { return problems_.empty(); }
  [[nodiscard]] const std::vector<field_problem>& problems() const noexcept { return problems_; }

 private:
  const boost::json::value* find(std::string_view key, bool required);

  const boost::json::object& o_;
  bool spelled_ = false;
  std::vector<field_problem> problems_;
};

}  // namespace imock::json_fields
