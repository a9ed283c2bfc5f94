// The console's static files (server/console/: index.html, console.js, console.css),
// built into the binary by cmake/embed_files.cmake and served at /console.
#pragma once

#include <span>
#include <string_view>

namespace imock::server {

struct embedded_file {
  std::string_view name;  // "console.js"
  std::string_view content;
};

std::span<const embedded_file> console_assets() noexcept;

/// The Content-Type for a file name, by its extension (text types in UTF-8).
std::string_view content_type_of(std::string_view name) noexcept;

}  // namespace imock::server
