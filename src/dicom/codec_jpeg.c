/*
 * codec_jpeg.c: the JPEG family (ISO 10918-1; DICOM PS3.5 §8.2.1, A.4.1):
 * Baseline (.50), Extended (.51), Lossless (.57, .70).
 *
 * A frame goes to the library that can decode it, chosen by the frame's own
 * start-of-frame marker rather than by the transfer syntax (writers mislabel:
 * 8-bit data under .51, lossless under .57 or .70 with any predictor):
 *   - sequential DCT, 8-bit precision: libjpeg-turbo (GDCM's IJG 8-bit when
 *     built without turbo);
 *   - sequential DCT, 12-bit precision: GDCM's IJG 12-bit build;
 *   - lossless (SOF3, any predictor and point transform, 2-16 bits): GDCM's
 *     IJG 16-bit build (libjpeg-turbo 2.1 has no lossless process).
 * This file also holds the libjpeg-turbo decoder itself.
 */
#include "dicom/codec.h"

#include <stdio.h>

/* Start of frame, ITU T.81 Table B.1: C0-C3, C5-C7, C9-CB, CD-CF. */
static bool is_sof(uint8_t marker)
{
    return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
           marker != 0xCC;
}

/* The first SOF marker and its sample precision; false when there is none. */
static bool find_sof(const uint8_t *bytes, size_t size, uint8_t *marker, unsigned *precision)
{
    if (size < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) {
        return false;
    }
    size_t at = 2;
    while (at + 4 <= size) {
        if (bytes[at] != 0xFF) {
            return false;
        }
        uint8_t m = bytes[at + 1];
        if (m == 0xFF) { /* fill bytes before a marker (B.1.1.2) */
            at++;
            continue;
        }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            at += 2; /* markers without a length */
            continue;
        }
        size_t length = (size_t)bytes[at + 2] << 8 | bytes[at + 3];
        if (length < 2) {
            return false;
        }
        if (is_sof(m)) {
            if (at + 5 > size) {
                return false;
            }
            *marker = m;
            *precision = bytes[at + 4];
            return true;
        }
        if (m == 0xDA || m == 0xD9) {
            return false; /* a scan or the end before any frame header */
        }
        at += 2 + length;
    }
    return false;
}

static bool jpeg_decode(ImdError **error, const uint8_t *bytes, size_t size, ImdCodecFrame *frame,
                        uint8_t *out, size_t out_size)
{
    uint8_t marker = 0;
    unsigned precision = 0;
    if (!find_sof(bytes, size, &marker, &precision)) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "JPEG frame of %zu bytes has no start of image and frame header", size);
        return false;
    }
    /* T.81 Table B.1: differential (hierarchical) frames are C5-C7 and CD-CF;
     * lossless ones C3 and CB (C7 and CF are both). */
    const bool lossless = marker == 0xC3 || marker == 0xCB;
    const bool hierarchical = (marker >= 0xC5 && marker <= 0xC7) || marker >= 0xCD;
    if (hierarchical) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "cannot decode a hierarchical JPEG frame (SOF marker FF%02X)", marker);
        return false;
    }
    if (lossless) {
#ifdef IMD_WITH_IJG
        if (precision >= 2 && precision <= 16) {
            return imd__ijg16_decode(error, bytes, size, frame, out, out_size);
        }
#else
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "cannot decode lossless JPEG (SOF marker FF%02X): built without GDCM's IJG "
                      "(libgdcm-dev)",
                      marker);
        return false;
#endif
    } else if (precision == 8) {
#ifdef IMD_WITH_TURBOJPEG
        return imd__turbo_decode(error, bytes, size, frame, out, out_size);
#elif defined(IMD_WITH_IJG)
        return imd__ijg8_decode(error, bytes, size, frame, out, out_size);
#endif
    } else if (precision == 12) {
#ifdef IMD_WITH_IJG
        return imd__ijg12_decode(error, bytes, size, frame, out, out_size);
#else
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "cannot decode 12-bit JPEG: built without GDCM's IJG (libgdcm-dev)");
        return false;
#endif
    }
    imd_error_set(error, IMD_ERR_CORRUPT,
                  "JPEG frame with SOF marker FF%02X and sample precision %u (ITU T.81 B.2.2)",
                  marker, precision);
    return false;
}

bool imd__codec_jpeg_is_start(const uint8_t *bytes, size_t size)
{
    return size >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8;
}

#ifdef IMD_WITH_IJG
/* GDCM's IJG flavours each compress the precisions near their sample size. */
static bool jpeg_encode_lossless(ImdError **error, const ImdCodecFrame *frame,
                                 const uint8_t *native, size_t native_size, uint8_t **bytes,
                                 size_t *size)
{
    if (frame->bits_stored <= 8) {
        return imd__ijg8_encode_lossless(error, frame, native, native_size, bytes, size);
    }
    if (frame->bits_stored <= 12) {
        return imd__ijg12_encode_lossless(error, frame, native, native_size, bytes, size);
    }
    return imd__ijg16_encode_lossless(error, frame, native, native_size, bytes, size);
}
#endif

/* The JPEG codec encodes JPEG Lossless SV1 only (.70, with GDCM's IJG 16-bit):
 * output is lossless, and Baseline/Extended are refused before any codec is
 * asked (imd__codec_output_syntax). */
const ImdCodec imd__codec_jpeg = {
    .name = "JPEG (libjpeg-turbo; GDCM's IJG 8/12/16-bit)",
    .decode = jpeg_decode,
#ifdef IMD_WITH_IJG
    .encode = jpeg_encode_lossless,
#else
    .encode = NULL,
#endif
    .is_frame_start = imd__codec_jpeg_is_start,
};

#ifdef IMD_WITH_TURBOJPEG
#include <jpeglib.h>
#define IJG_FN imd__turbo_decode
#define IJG_LIBRARY "libjpeg-turbo"
#define IJG_LOSSLESS 0
#include "dicom/codec_ijg_body.inc"
#endif
