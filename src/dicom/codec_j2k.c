/*
 * codec_j2k.c: JPEG 2000 (.90, .91; ISO 15444-1, DICOM PS3.5 §8.2.4, A.4.4)
 * and High-Throughput JPEG 2000 (.201, .202, .203; ISO 15444-15, PS3.5
 * §8.2.7) with OpenJPEG 2.5 from memory.
 *
 * - A frame should be a raw codestream (SOC FF4F); some writers store a JP2
 *   file (a signature box 0000000C 6A502020) instead: detected and decoded
 *   with the JP2 reader.
 * - The multiple component transform (RCT for YBR_RCT, ICT for YBR_ICT) is
 *   undone by OpenJPEG: such frames come out as RGB.
 * - Signedness is the data set's (PixelRepresentation): codestreams that
 *   disagree exist (pydicom's J2K_pixelrep_mismatch: unsigned 13 bits in the
 *   codestream, signed in the data set). The decoded values are stored as
 *   their two's complement bit pattern and pixel.c masks to BitsStored and
 *   sign-extends when the data set says signed (what pydicom and GDCM do).
 * - Components are checked against Rows, Columns and SamplesPerPixel before
 *   anything is copied; subsampled components are refused.
 * - Strict mode: a truncated codestream is an error, not a partial image.
 * Messages from the library go to a per-call buffer (no globals).
 */
#include "dicom/codec.h"

#include <openjpeg.h>
#include <stdio.h>

typedef struct Source {
    const uint8_t *data;
    size_t size, at;
} Source;

static OPJ_SIZE_T source_read(void *buffer, OPJ_SIZE_T count, void *user)
{
    Source *s = user;
    if (s->at >= s->size) {
        return (OPJ_SIZE_T)-1;
    }
    size_t n = s->size - s->at < count ? s->size - s->at : count;
    memcpy(buffer, s->data + s->at, n);
    s->at += n;
    return n;
}

static OPJ_OFF_T source_skip(OPJ_OFF_T count, void *user)
{
    Source *s = user;
    if (count < 0) {
        size_t back = (size_t)-count;
        s->at = back > s->at ? 0 : s->at - back;
        return count;
    }
    size_t left = s->size - s->at;
    size_t n = (uint64_t)count > left ? left : (size_t)count;
    s->at += n;
    return (OPJ_OFF_T)n;
}

static OPJ_BOOL source_seek(OPJ_OFF_T position, void *user)
{
    Source *s = user;
    if (position < 0 || (uint64_t)position > s->size) {
        return OPJ_FALSE;
    }
    s->at = (size_t)position;
    return OPJ_TRUE;
}

typedef struct Messages {
    char error[256];
} Messages;

static void on_error(const char *message, void *user)
{
    Messages *m = user;
    if (m->error[0] == '\0') { /* the first one says most */
        snprintf(m->error, sizeof m->error, "%s", message);
        size_t n = strlen(m->error);
        while (n > 0 && (m->error[n - 1] == '\n' || m->error[n - 1] == ' ')) {
            m->error[--n] = '\0';
        }
    }
}

static void on_quiet(const char *message, void *user)
{
    (void)message;
    (void)user;
}

static bool is_jp2(const uint8_t *bytes, size_t size)
{
    static const uint8_t signature[8] = {0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20};
    return size >= 12 && memcmp(bytes, signature, 8) == 0;
}

static bool is_codestream(const uint8_t *bytes, size_t size)
{
    return size >= 4 && bytes[0] == 0xFF && bytes[1] == 0x4F && bytes[2] == 0xFF &&
           bytes[3] == 0x51; /* SOC then SIZ (ISO 15444-1 A.4.1, A.5.1) */
}

static bool j2k_is_start(const uint8_t *bytes, size_t size)
{
    return is_codestream(bytes, size) || is_jp2(bytes, size);
}

static bool j2k_decode(ImdError **error, const uint8_t *bytes, size_t size, ImdCodecFrame *frame,
                       uint8_t *out, size_t out_size)
{
    if (!imd__codec_fits(error, frame, out_size, "JPEG 2000")) {
        return false;
    }
    OPJ_CODEC_FORMAT format;
    if (is_codestream(bytes, size)) {
        format = OPJ_CODEC_J2K;
    } else if (is_jp2(bytes, size)) {
        format = OPJ_CODEC_JP2;
    } else {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "JPEG 2000 frame of %zu bytes starts with neither a codestream (FF4F) nor "
                      "a JP2 signature box",
                      size);
        return false;
    }
    Source source = {bytes, size, 0};
    Messages messages = {{0}};
    opj_stream_t *stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    opj_codec_t *codec = opj_create_decompress(format);
    opj_image_t *image = NULL;
    bool ok = false;
    if (stream == NULL || codec == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "JPEG 2000 (OpenJPEG): cannot create a decoder");
        goto done;
    }
    opj_stream_set_user_data(stream, &source, NULL);
    opj_stream_set_user_data_length(stream, size);
    opj_stream_set_read_function(stream, source_read);
    opj_stream_set_skip_function(stream, source_skip);
    opj_stream_set_seek_function(stream, source_seek);
    opj_set_error_handler(codec, on_error, &messages);
    opj_set_warning_handler(codec, on_quiet, NULL);
    opj_set_info_handler(codec, on_quiet, NULL);
    opj_dparameters_t parameters;
    opj_set_default_decoder_parameters(&parameters);
    if (!opj_setup_decoder(codec, &parameters) || !opj_decoder_set_strict_mode(codec, OPJ_TRUE) ||
        !opj_read_header(stream, codec, &image) || image == NULL) {
        imd_error_set(error, IMD_ERR_CORRUPT, "JPEG 2000 (OpenJPEG) header: %s",
                      messages.error[0] != '\0' ? messages.error : "cannot be read");
        goto done;
    }
    const size_t samples = frame->samples_per_pixel;
    const size_t width = frame->bits_allocated / 8u;
    /* The header's image size before decoding anything (no allocation for lies). */
    if (image->numcomps != samples || image->x1 < image->x0 || image->y1 < image->y0 ||
        image->x1 - image->x0 != frame->columns || image->y1 - image->y0 != frame->rows) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "JPEG 2000 image of %lu x %lu pixels and %u components; the data set "
                      "says %lu x %lu and %zu samples",
                      (unsigned long)(image->x1 - image->x0),
                      (unsigned long)(image->y1 - image->y0), image->numcomps,
                      (unsigned long)frame->columns, (unsigned long)frame->rows, samples);
        goto done;
    }
    if (!opj_decode(codec, stream, image) || !opj_end_decompress(codec, stream)) {
        imd_error_set(error, IMD_ERR_CORRUPT, "JPEG 2000 (OpenJPEG): %s",
                      messages.error[0] != '\0' ? messages.error : "cannot decode");
        goto done;
    }
    for (size_t k = 0; k < samples; k++) {
        const opj_image_comp_t *c = &image->comps[k];
        if (c->w != frame->columns || c->h != frame->rows || c->dx != 1 || c->dy != 1 ||
            c->data == NULL) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED,
                          "JPEG 2000 component %zu is %lu x %lu (subsampled %lu x %lu); the data "
                          "set says %lu x %lu",
                          k, (unsigned long)c->w, (unsigned long)c->h, (unsigned long)c->dx,
                          (unsigned long)c->dy, (unsigned long)frame->columns,
                          (unsigned long)frame->rows);
            goto done;
        }
        if (c->prec < 1 || c->prec > 8 * width || c->prec > 31) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "JPEG 2000 component %zu has %lu bits; BitsAllocated is %u", k,
                          (unsigned long)c->prec, (unsigned)frame->bits_allocated);
            goto done;
        }
    }
    const size_t pixels = (size_t)frame->rows * frame->columns;
    for (size_t k = 0; k < samples; k++) {
        const OPJ_INT32 *src = image->comps[k].data;
        uint8_t *dst = out + k * width;
        const size_t step = samples * width;
        if (width == 1) {
            for (size_t p = 0; p < pixels; p++) {
                dst[p * step] = (uint8_t)src[p];
            }
        } else {
            for (size_t p = 0; p < pixels; p++) {
                imd__codec_store(dst + p * step, width, (uint32_t)src[p]);
            }
        }
    }
    if (samples == 3 && (strcmp(frame->photometric, "YBR_RCT") == 0 ||
                         strcmp(frame->photometric, "YBR_ICT") == 0)) {
        strcpy(frame->photometric, "RGB"); /* OpenJPEG undid the component transform */
    }
    frame->planar_configuration = 0;
    ok = true;
done:
    opj_image_destroy(image);
    opj_destroy_codec(codec);
    opj_stream_destroy(stream);
    return ok;
}

/* ---- encoding: reversible 5/3 wavelet, one quality layer, a raw codestream ---- */

typedef struct Sink {
    uint8_t *data;
    size_t size, capacity, at;
    bool failed;
} Sink;

static OPJ_SIZE_T sink_write(void *buffer, OPJ_SIZE_T count, void *user)
{
    Sink *s = user;
    if (s->at + count > s->capacity) {
        size_t capacity = s->capacity > 0 ? s->capacity : 65536;
        while (capacity < s->at + count) {
            capacity *= 2;
        }
        uint8_t *grown = imd__realloc(NULL, s->data, capacity);
        if (grown == NULL) {
            s->failed = true;
            return (OPJ_SIZE_T)-1;
        }
        s->data = grown;
        s->capacity = capacity;
    }
    memcpy(s->data + s->at, buffer, count);
    s->at += count;
    s->size = s->at > s->size ? s->at : s->size;
    return count;
}

static OPJ_OFF_T sink_skip(OPJ_OFF_T count, void *user)
{
    Sink *s = user;
    if (count < 0 && (size_t)-count > s->at) {
        return -1;
    }
    s->at = (size_t)((OPJ_OFF_T)s->at + count);
    return count;
}

static OPJ_BOOL sink_seek(OPJ_OFF_T position, void *user)
{
    Sink *s = user;
    if (position < 0) {
        return OPJ_FALSE;
    }
    s->at = (size_t)position;
    return OPJ_TRUE;
}

/*
 * Lossless JPEG 2000 (.90): a raw codestream (PS3.5 A.4.4: not a JP2 file),
 * the reversible 5/3 wavelet, no quantisation, one layer at rate 0 (all
 * bits), and no multiple component transform, so that RGB stays RGB (the
 * RCT would make the photometric YBR_RCT, C.7.6.3.1.2). Components carry
 * BitsStored bits and the data set's signedness (the Ssiz sign bit, PS3.5
 * §8.2.4). The wavelet levels are limited so that the smallest resolution
 * still holds a pixel (an image of 7 x 5 pixels gets 3 levels).
 */
static bool j2k_encode(ImdError **error, const ImdCodecFrame *frame, const uint8_t *native,
                       size_t native_size, uint8_t **bytes, size_t *size)
{
    size_t expected;
    if (!imd__codec_frame_bytes(error, frame, &expected)) {
        return false;
    }
    const size_t width = frame->bits_allocated / 8u;
    const size_t samples = frame->samples_per_pixel;
    const unsigned bits = frame->bits_stored;
    const bool is_signed = frame->pixel_representation == 1;
    if (expected != native_size || width > 2 || bits < 1 || bits > 8 * width ||
        (samples != 1 && samples != 3) || frame->planar_configuration != 0 ||
        frame->rows == 0 || frame->columns == 0) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "cannot JPEG 2000-encode %zu samples of %u bits stored in %u", samples,
                      bits, (unsigned)frame->bits_allocated);
        return false;
    }
    opj_image_cmptparm_t parameters[3];
    memset(parameters, 0, sizeof parameters);
    for (size_t k = 0; k < samples; k++) {
        parameters[k].dx = parameters[k].dy = 1;
        parameters[k].w = frame->columns;
        parameters[k].h = frame->rows;
        parameters[k].prec = bits;
        parameters[k].sgnd = is_signed ? 1 : 0;
    }
    opj_image_t *image = opj_image_create((OPJ_UINT32)samples, parameters,
                                          samples == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
    if (image == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "JPEG 2000 (OpenJPEG): cannot create an image");
        return false;
    }
    image->x0 = image->y0 = 0;
    image->x1 = frame->columns;
    image->y1 = frame->rows;
    const size_t pixels = (size_t)frame->rows * frame->columns;
    const uint32_t sign = UINT32_C(1) << (bits - 1);
    for (size_t k = 0; k < samples; k++) {
        OPJ_INT32 *dst = image->comps[k].data;
        for (size_t p = 0; p < pixels; p++) {
            uint32_t v = imd__codec_mask(imd__codec_load(native + (p * samples + k) * width, width),
                                         bits);
            dst[p] = is_signed && (v & sign) != 0 ? (OPJ_INT32)v - (OPJ_INT32)(2 * sign)
                                                  : (OPJ_INT32)v;
        }
    }
    opj_cparameters_t cp;
    opj_set_default_encoder_parameters(&cp);
    cp.irreversible = 0;
    cp.tcp_numlayers = 1;
    cp.tcp_rates[0] = 0; /* 0: lossless */
    cp.cp_disto_alloc = 1;
    cp.tcp_mct = 0;
    int levels = 1;
    uint32_t smaller = frame->rows < frame->columns ? frame->rows : frame->columns;
    while (levels < 6 && (smaller >> levels) > 0) {
        levels++;
    }
    cp.numresolution = levels;
    Sink sink = {0};
    Messages messages = {{0}};
    opj_codec_t *codec = opj_create_compress(OPJ_CODEC_J2K);
    opj_stream_t *stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_FALSE);
    bool ok = false;
    if (codec == NULL || stream == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "JPEG 2000 (OpenJPEG): cannot create an encoder");
        goto done;
    }
    opj_set_error_handler(codec, on_error, &messages);
    opj_set_warning_handler(codec, on_quiet, NULL);
    opj_set_info_handler(codec, on_quiet, NULL);
    opj_stream_set_user_data(stream, &sink, NULL);
    opj_stream_set_write_function(stream, sink_write);
    opj_stream_set_skip_function(stream, sink_skip);
    opj_stream_set_seek_function(stream, sink_seek);
    if (!opj_setup_encoder(codec, &cp, image) || !opj_start_compress(codec, image, stream) ||
        !opj_encode(codec, stream) || !opj_end_compress(codec, stream) || sink.failed) {
        imd_error_set(error, sink.failed ? IMD_ERR_NOMEM : IMD_ERR_INTERNAL,
                      "JPEG 2000 (OpenJPEG) encoding: %s",
                      messages.error[0] != '\0' ? messages.error : "failed");
        goto done;
    }
    *bytes = sink.data;
    *size = sink.size;
    sink.data = NULL;
    ok = true;
done:
    free(sink.data);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    opj_image_destroy(image);
    return ok;
}

const ImdCodec imd__codec_j2k = {
    .name = "OpenJPEG",
    .decode = j2k_decode,
    .encode = j2k_encode,
    .is_frame_start = j2k_is_start,
};
