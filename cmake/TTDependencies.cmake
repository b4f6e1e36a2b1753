# Dependencies come from the system's packages through pkg-config; a missing one names its Debian package.
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install it with 'apt-get install pkg-config'")
endif()

function(tt_require_pkg alias module debpkg)
  pkg_check_modules(TT_PKG_${alias} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT TT_PKG_${alias}_FOUND)
    message(FATAL_ERROR "${module} not found by pkg-config: install it with 'apt-get install ${debpkg}'")
  endif()
  add_library(tt::${alias} ALIAS PkgConfig::TT_PKG_${alias})
  message(STATUS "Found ${module} ${TT_PKG_${alias}_VERSION}")
endfunction()

tt_require_pkg(zstd libzstd libzstd-dev)
tt_require_pkg(xxhash libxxhash libxxhash-dev)
tt_require_pkg(cjson libcjson libcjson-dev)
