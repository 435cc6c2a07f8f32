# AddressSanitizer + UndefinedBehaviorSanitizer for every target; UB is fatal.
set(IMD_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)
add_compile_options(${IMD_SANITIZER_FLAGS} -g)
add_link_options(${IMD_SANITIZER_FLAGS})
