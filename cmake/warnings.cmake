# Warnings for the project's own targets (design.md §3.4).
set(IMD_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wvla -Wformat=2 -Wimplicit-fallthrough -Wcast-qual -Wpointer-arith)
if(IMD_WARNINGS_AS_ERRORS)
  list(APPEND IMD_WARNING_FLAGS -Werror)
endif()

function(imd_target_warnings target)
  target_compile_options(${target} PRIVATE ${IMD_WARNING_FLAGS})
endfunction()
