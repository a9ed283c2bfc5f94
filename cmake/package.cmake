# imock as a package: imock:: targets, installed headers under include/imock/, a CMake
# package (imockConfig.cmake and a version file) and a Debian package through CPack.
#   cmake --install build/release --prefix /opt/imock     then find_package(imock)
#   cpack --config build/release/CPackConfig.cmake -G DEB
# A project may also add_subdirectory(imock) or FetchContent it: the same imock::
# targets, without imock's tests (IMOCK_TESTS defaults to off there).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The libraries a user links, by the name they link them with (imock::server, ...).
set(imock_libraries
  imock_base:base imock_protocol:protocol imock_net:net imock_server_core:server_core
  imock_server:server imock_client_core:client_core imock_client:client imock_sim:sim
  imock_harness_core:harness_core imock_harness:harness imock_testing:testing)
set(imock_exported "")
foreach(pair ${imock_libraries})
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 target)
  list(GET pair 1 name)
  if(TARGET ${target})
    add_library(imock::${name} ALIAS ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
    list(APPEND imock_exported ${target})
  endif()
endforeach()

if(NOT IMOCK_INSTALL OR IMOCK_FUZZ)
  return()
endif()

set(imock_programs "")
foreach(program imock-server imock-client imock-harness imock-storm)
  if(TARGET ${program})
    list(APPEND imock_programs ${program})
  endif()
endforeach()
install(TARGETS ${imock_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Headers include each other as "imock/server/hub.hpp", so only include/ is on the path.
install(TARGETS ${imock_exported} EXPORT imockTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(dir base protocol net server client sim harness)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/imock/${dir}
          FILES_MATCHING PATTERN "*.hpp" PATTERN "testing" EXCLUDE)
endforeach()
# server/testing is imock's own test plumbing; testing/ is imock::testing, for users.
if(TARGET imock_testing)
  install(FILES ${PROJECT_SOURCE_DIR}/testing/fixture.hpp
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/imock/testing)
endif()
# --strip (and cpack, CPACK_STRIP_FILES) strips the programs; the archives keep their
# symbols and lose only their debug information (most of their size).
set(imock_strip_archives [[
  if(CMAKE_INSTALL_DO_STRIP)
    file(GLOB archives "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/@CMAKE_INSTALL_LIBDIR@/libimock_*.a")
    foreach(a ${archives})
      execute_process(COMMAND "@CMAKE_STRIP@" --strip-debug "${a}" COMMAND_ERROR_IS_FATAL ANY)
    endforeach()
  endif()
]])
string(CONFIGURE "${imock_strip_archives}" imock_strip_archives @ONLY)
install(CODE "${imock_strip_archives}")
install(EXPORT imockTargets NAMESPACE imock:: FILE imockTargets.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/imock)
# imock::testing brings GoogleTest along.
set(IMOCK_FIND_GTEST "")
if(TARGET imock_testing)
  set(IMOCK_FIND_GTEST "find_dependency(GTest)")
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/imockConfig.cmake.in
  ${PROJECT_BINARY_DIR}/imockConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/imock)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/imockConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/imockConfig.cmake ${PROJECT_BINARY_DIR}/imockConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/imock)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/scenarios/ DESTINATION ${CMAKE_INSTALL_DATADIR}/imock/scenarios)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# cpack -G DEB: the programs, the libraries, the headers, the CMake package, the docs.
set(CPACK_PACKAGE_NAME imock)
set(CPACK_PACKAGE_VENDOR "imock")
set(CPACK_PACKAGE_CONTACT "imock maintainers <imock@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "scriptable mock IM server, reference client SDK, scenario harness and storm tool")
set(CPACK_PACKAGE_INSTALL_DIRECTORY imock)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
# What the programs load and what a consumer's find_package(imock) looks for.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libboost1.81-dev, libboost-json1.81-dev, libboost-url1.81-dev, libssl-dev, libsqlite3-dev, libyaml-cpp-dev, libspdlog-dev, libfmt-dev, libgtest-dev")
include(CPack)
