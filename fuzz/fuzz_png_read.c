/* fuzz_png_read: bytes -> the PNG reader (fuzz_picture.h); decode(encode(x)) == x. */
#include "internal.h"

#include "formats/picture/picture.h"

static bool encode_png(ImdError **error, const ImdPicturePage *page, uint8_t **out, size_t *size)
{
    return imd__picture_png_encode(error, page, "again.png", out, size);
}

#define FUZZ_PLUGIN imd__png_format
#define FUZZ_NAME "fuzz.png"
#define FUZZ_ENCODE 1
#define FUZZ_ENCODE_FN encode_png
#define FUZZ_DECODE_FN imd__picture_png_decode
#include "fuzz_picture.h"
