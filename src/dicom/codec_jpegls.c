/*
 * codec_jpegls.c: JPEG-LS lossless (.80) and near-lossless (.81), ISO 14495-1
 * (DICOM PS3.5 §8.2.3, A.4.3), with CharLS through its C API.
 *
 * CharLS writes samples of up to 8 bits as bytes and wider ones as 16-bit
 * host-order words; colour by pixel for line and sample interleave, by plane
 * for interleave mode none (which we interleave). Signed data (Pixel
 * Representation 1) comes out as the stored bit pattern: pixel.c masks to
 * BitsStored and sign-extends, as for native data.
 */
#include "dicom/codec.h"

#include <charls/charls.h>

static bool charls_failed(ImdError **error, charls_jpegls_errc code, const char *step)
{
    if (code == CHARLS_JPEGLS_ERRC_SUCCESS) {
        return false;
    }
    imd_error_set(error, code == CHARLS_JPEGLS_ERRC_NOT_ENOUGH_MEMORY ? IMD_ERR_NOMEM
                                                                        : IMD_ERR_CORRUPT,
                  "JPEG-LS (CharLS) %s: %s", step, charls_get_error_message(code));
    return true;
}

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static bool jpegls_decode(ImdError **error, const uint8_t *bytes, size_t size,
                          ImdCodecFrame *frame, uint8_t *out, size_t out_size)
{
    size_t expected;
    if (!imd__codec_frame_bytes(error, frame, &expected)) {
        return false;
    }
    if (expected != out_size) {
        imd_error_set(error, IMD_ERR_INTERNAL, "JPEG-LS frame of %zu bytes into %zu", expected,
                      out_size);
        return false;
    }
    charls_jpegls_decoder *decoder = charls_jpegls_decoder_create();
    if (decoder == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "JPEG-LS (CharLS): no decoder");
        return false;
    }
    bool ok = false;
    uint8_t *temporary = NULL;
    charls_frame_info info;
    charls_interleave_mode mode = CHARLS_INTERLEAVE_MODE_NONE;
    size_t needed = 0;
    if (charls_failed(error, charls_jpegls_decoder_set_source_buffer(decoder, bytes, size),
                      "source") ||
        charls_failed(error, charls_jpegls_decoder_read_header(decoder), "header") ||
        charls_failed(error, charls_jpegls_decoder_get_frame_info(decoder, &info), "frame") ||
        charls_failed(error, charls_jpegls_decoder_get_interleave_mode(decoder, &mode),
                      "interleave mode")) {
        goto done;
    }
    const size_t width = frame->bits_allocated / 8u;
    const size_t samples = frame->samples_per_pixel;
    if (info.width != frame->columns || info.height != frame->rows ||
        (size_t)info.component_count != samples || info.bits_per_sample < 2 ||
        info.bits_per_sample > 16 || (size_t)info.bits_per_sample > 8 * width) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "JPEG-LS frame of %lu x %lu pixels, %d components of %d bits; the data "
                      "set says %lu x %lu, %zu samples of BitsAllocated %u",
                      (unsigned long)info.width, (unsigned long)info.height,
                      info.component_count, info.bits_per_sample, (unsigned long)frame->columns,
                      (unsigned long)frame->rows, samples, (unsigned)frame->bits_allocated);
        goto done;
    }
    if (charls_failed(error, charls_jpegls_decoder_get_destination_size(decoder, 0, &needed),
                      "size")) {
        goto done;
    }
    const size_t produced_width = info.bits_per_sample <= 8 ? 1 : 2;
    const size_t pixels = (size_t)frame->rows * frame->columns;
    if (needed != pixels * samples * produced_width) {
        imd_error_set(error, IMD_ERR_CORRUPT, "JPEG-LS (CharLS) destination of %zu bytes", needed);
        goto done;
    }
    const bool planar = samples > 1 && mode == CHARLS_INTERLEAVE_MODE_NONE;
    const bool direct = produced_width == width && !planar &&
                        (produced_width == 1 || host_is_little_endian());
    uint8_t *target = out;
    if (!direct) {
        temporary = imd__malloc(error, needed);
        if (temporary == NULL) {
            goto done;
        }
        target = temporary;
    }
    if (charls_failed(error,
                      charls_jpegls_decoder_decode_to_buffer(decoder, target, needed, 0),
                      "decode")) {
        goto done;
    }
    if (!direct) {
        for (size_t p = 0; p < pixels; p++) {
            for (size_t s = 0; s < samples; s++) {
                size_t from = planar ? s * pixels + p : p * samples + s;
                uint32_t value;
                if (produced_width == 1) {
                    value = temporary[from];
                } else {
                    uint16_t word;
                    memcpy(&word, temporary + 2 * from, 2); /* host order */
                    value = word;
                }
                imd__codec_store(out + (p * samples + s) * width, width, value);
            }
        }
    }
    frame->planar_configuration = 0;
    ok = true;
done:
    free(temporary);
    charls_jpegls_decoder_destroy(decoder);
    return ok;
}

const ImdCodec imd__codec_jpegls = {
    .name = "CharLS",
    .decode = jpegls_decode,
    .encode = NULL,
    .is_frame_start = imd__codec_jpeg_is_start, /* SOI, as every JPEG family stream */
};
