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
    if (!imd__codec_fits(error, frame, out_size, "JPEG-LS")) {
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

/*
 * Lossless JPEG-LS (NEAR 0) of the BitsStored low bits of each sample,
 * colour interleaved by sample, no colour transform (HP extensions are not
 * DICOM, PS3.5 §8.2.3), no SPIFF header. CharLS reads bytes for up to 8 bits
 * and host-order words above, values below 2^bits.
 */
static bool jpegls_encode(ImdError **error, const ImdCodecFrame *frame, const uint8_t *native,
                          size_t native_size, uint8_t **bytes, size_t *size)
{
    size_t expected;
    if (!imd__codec_frame_bytes(error, frame, &expected)) {
        return false;
    }
    const size_t width = frame->bits_allocated / 8u;
    const size_t samples = frame->samples_per_pixel;
    const unsigned bits = frame->bits_stored;
    if (expected != native_size || width > 2 || bits < 2 || bits > 8 * width ||
        (samples != 1 && samples != 3) || frame->planar_configuration != 0) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "cannot JPEG-LS-encode %zu samples of %u bits stored in %u (2-16 bits, "
                      "1 or 3 samples)",
                      samples, bits, (unsigned)frame->bits_allocated);
        return false;
    }
    const size_t count = (size_t)frame->rows * frame->columns * samples;
    const size_t produced_width = bits <= 8 ? 1 : 2;
    uint8_t *source = imd__malloc(error, count * produced_width > 0 ? count * produced_width : 1);
    if (source == NULL) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t value = imd__codec_mask(imd__codec_load(native + i * width, width), bits);
        if (produced_width == 1) {
            source[i] = (uint8_t)value;
        } else {
            uint16_t word = (uint16_t)value;
            memcpy(source + 2 * i, &word, 2); /* host order */
        }
    }
    charls_jpegls_encoder *encoder = charls_jpegls_encoder_create();
    if (encoder == NULL) {
        free(source);
        imd_error_set(error, IMD_ERR_NOMEM, "JPEG-LS (CharLS): no encoder");
        return false;
    }
    charls_frame_info info = {.width = frame->columns, .height = frame->rows,
                              .bits_per_sample = (int32_t)bits,
                              .component_count = (int32_t)samples};
    uint8_t *destination = NULL;
    size_t capacity = 0, written = 0;
    bool ok = false;
    if (charls_failed(error, charls_jpegls_encoder_set_frame_info(encoder, &info), "frame") ||
        charls_failed(error, charls_jpegls_encoder_set_near_lossless(encoder, 0), "near") ||
        charls_failed(error,
                      charls_jpegls_encoder_set_interleave_mode(
                          encoder, samples > 1 ? CHARLS_INTERLEAVE_MODE_SAMPLE
                                               : CHARLS_INTERLEAVE_MODE_NONE),
                      "interleave mode") ||
        charls_failed(error,
                      charls_jpegls_encoder_get_estimated_destination_size(encoder, &capacity),
                      "size")) {
        goto done;
    }
    destination = imd__malloc(error, capacity);
    if (destination == NULL ||
        charls_failed(error,
                      charls_jpegls_encoder_set_destination_buffer(encoder, destination, capacity),
                      "destination") ||
        charls_failed(error,
                      charls_jpegls_encoder_encode_from_buffer(encoder, source,
                                                               count * produced_width, 0),
                      "encode") ||
        charls_failed(error, charls_jpegls_encoder_get_bytes_written(encoder, &written),
                      "size")) {
        goto done;
    }
    *bytes = destination;
    *size = written;
    destination = NULL;
    ok = true;
done:
    free(destination);
    free(source);
    charls_jpegls_encoder_destroy(encoder);
    return ok;
}

const ImdCodec imd__codec_jpegls = {
    .name = "CharLS",
    .decode = jpegls_decode,
    .encode = jpegls_encode,
    .is_frame_start = imd__codec_jpeg_is_start, /* SOI, as every JPEG family stream */
};
