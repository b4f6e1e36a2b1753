# Per-target compiler settings: warnings (errors with TT_WERROR) and sanitizers (TT_SANITIZE).
# Nothing here touches global flags, so the project can be embedded with add_subdirectory().
function(tt_target_options target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
      -Wformat=2 -Wundef -Wvla -Wcast-align -Wno-unused-parameter>)
  if(TT_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C>:-Werror>)
  endif()
  if(TT_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${TT_SANITIZE} -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${TT_SANITIZE})
  endif()
  if(TT_FUZZ)
    # coverage instrumentation everywhere, so libFuzzer sees inside the library, not only the target
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
    target_compile_definitions(${target} PRIVATE TT_FUZZING_UNSAFE)
  endif()
endfunction()

