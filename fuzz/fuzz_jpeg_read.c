/* fuzz_jpeg_read: bytes -> the JPEG reader (fuzz_picture.h); JPEG is lossy: no round trip. */
#include "internal.h"

#define FUZZ_PLUGIN imd__jpeg_format
#define FUZZ_NAME "fuzz.jpg"
#define FUZZ_ENCODE 0
#include "fuzz_picture.h"
