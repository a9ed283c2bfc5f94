#include "imock/server/console_assets.hpp"

#include <array>
#include <utility>

namespace imock::server {

std::string_view content_type_of(std::string_view name) noexcept {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> k_types = {{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".md", "text/markdown; charset=utf-8"},
      {".yaml", "application/yaml; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  for (const auto& [ext, type] : k_types) {
    if (name.size() > ext.size() && name.ends_with(ext)) return type;
  }
  return "application/octet-stream";
}

}  // namespace imock::server
