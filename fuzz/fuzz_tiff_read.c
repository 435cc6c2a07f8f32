/* fuzz_tiff_read: bytes -> the TIFF reader (fuzz_picture.h); decode(encode(x)) == x. */
#include "internal.h"

#include "formats/picture/picture.h"

static bool encode_tiff(ImdError **error, const ImdPicturePage *page, uint8_t **out,
                        size_t *size)
{
    return imd__picture_tiff_encode(error, page, 1, "deflate", "again.tif", out, size);
}

#define FUZZ_PLUGIN imd__tiff_format
#define FUZZ_NAME "fuzz.tif"
#define FUZZ_ENCODE 1
#define FUZZ_ENCODE_FN encode_tiff
#define FUZZ_DECODE_FN imd__picture_tiff_decode
#include "fuzz_picture.h"
