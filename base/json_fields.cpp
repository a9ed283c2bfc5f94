#include "imock/base/json_fields.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace imock::json_fields {
namespace {

const boost::json::value* present(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::optional<std::int64_t> exact_int(const boost::json::value& v) {
  boost::system::error_code ec;
  const auto n = v.to_number<std::int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

template <class T>
std::optional<T> spelled_as(const boost::json::value& v) {
  if (!v.is_string()) return std::nullopt;
  const auto& s = v.as_string();
  T out{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return out;
}

}  // namespace

std::string string_or(const boost::json::object& o, std::string_view key,
                      std::string_view fallback) {
  const auto* v = present(o, key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string(fallback);
}

std::int64_t int_or(const boost::json::object& o, std::string_view key, std::int64_t fallback) {
  const auto* v = present(o, key);
  if (v == nullptr || !v->is_number()) return fallback;
  return exact_int(*v).value_or(fallback);
}

double number_or(const boost::json::object& o, std::string_view key, double fallback) {
  const auto* v = present(o, key);
  return v != nullptr && v->is_number() ? v->to_number<double>() : fallback;
}

bool bool_or(const boost::json::object& o, std::string_view key, bool fallback) {
  const auto* v = present(o, key);
  return v != nullptr && v->is_bool() ? v->as_bool() : fallback;
}

std::vector<std::string> strings(const boost::json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (const auto* v = present(o, key); v != nullptr && v->is_array()) {
    for (const auto& x : v->as_array()) {
      if (x.is_string()) out.emplace_back(x.as_string());
    }
  }
  return out;
}

const boost::json::value* field_reader::find(std::string_view key, bool required) {
  const auto* v = present(o_, key);
  if (v == nullptr && required) problem(key, "'" + std::string(key) + "' is required");
  return v;
}

void field_reader::problem(std::string_view field, std::string message) {
  problems_.push_back({std::string(field), std::move(message)});
}

std::optional<std::string> field_reader::string(std::string_view key, bool required) {
  const auto* v = find(key, required);
  if (v == nullptr) return std::nullopt;
  if (spelled_ && v->is_int64()) return std::to_string(v->as_int64());
  if (spelled_ && v->is_uint64()) return std::to_string(v->as_uint64());
  if (!v->is_string()) {
    problem(key, "'" + std::string(key) + "' must be a string");
    return std::nullopt;
  }
  return std::string(v->as_string());
}

std::optional<std::int64_t> field_reader::integer(std::string_view key, bool required) {
  const auto* v = find(key, required);
  if (v == nullptr) return std::nullopt;
  const auto n = v->is_number() ? exact_int(*v)
                 : spelled_     ? spelled_as<std::int64_t>(*v)
                                : std::nullopt;
  if (!n) problem(key, "'" + std::string(key) + "' must be an integer");
  return n;
}

std::optional<double> field_reader::number(std::string_view key, bool required) {
  const auto* v = find(key, required);
  if (v == nullptr) return std::nullopt;
  if (v->is_number()) return v->to_number<double>();
  if (spelled_) {
    if (const auto d = spelled_as<double>(*v)) return d;
  }
  problem(key, "'" + std::string(key) + "' must be a number");
  return std::nullopt;
}

std::optional<bool> field_reader::boolean(std::string_view key, bool required) {
  const auto* v = find(key, required);
  if (v == nullptr) return std::nullopt;
  if (v->is_bool()) return v->as_bool();
  if (spelled_ && v->is_string()) {
    const auto& s = v->as_string();
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
  }
  problem(key, "'" + std::string(key) + "' must be true or false");
  return std::nullopt;
}

}  // namespace imock::json_fields
