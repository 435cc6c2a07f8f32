/*
 * test_dicom_encode.c: lossless output (src/dicom/encode.c, the codecs'
 * encoders, the Part 10 writer's deflate and encapsulated output). Frames
 * built here are encoded and decoded back with our decoders; the layout of
 * what we write (PS3.5 A.4: offset table, one even fragment per frame,
 * delimiter) is checked through our parser. Independent decoders (dcmtk,
 * gdcmconv, pydicom) read the files in tests/integration/dicom_encode.sh.
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"

#include "dicom/codec.h"

#include <imagedata/dicom.h>

#define UID_RLE "1.2.840.10008.1.2.5"
#define UID_JPEG_SV1 "1.2.840.10008.1.2.4.70"
#define UID_JPEGLS "1.2.840.10008.1.2.4.80"
#define UID_J2K "1.2.840.10008.1.2.4.90"

static const char *const encoded_syntaxes[] = {UID_RLE, UID_JPEG_SV1, UID_JPEGLS, UID_J2K};

/* A deterministic pseudo-random sequence (xorshift), with runs mixed in so
 * that every kind of RLE packet and predictor residual occurs. */
static uint32_t next(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* A frame's native bytes: samples of `bits` (stored in BitsAllocated), sign-extended
 * above BitsStored for signed data, as our writer stores them. */
static uint8_t *make_frame(const ImdCodecFrame *f, uint32_t seed, size_t *size)
{
    size_t width = f->bits_allocated / 8u;
    size_t count = (size_t)f->rows * f->columns * f->samples_per_pixel;
    uint8_t *out = malloc(count * width);
    uint32_t state = seed | 1u;
    uint32_t value = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t r = next(&state);
        if (r % 7 != 0) { /* mostly new values; sometimes a run of the last */
            value = next(&state);
        }
        uint32_t v = imd__codec_mask(value, f->bits_stored);
        if (f->pixel_representation == 1 && f->bits_stored < 32 &&
            (v & (UINT32_C(1) << (f->bits_stored - 1))) != 0) {
            v |= ~((UINT32_C(1) << f->bits_stored) - 1u); /* sign-extend */
        }
        imd__codec_store(out + i * width, width, v);
    }
    *size = count * width;
    return out;
}

static bool same_bits(const uint8_t *a, const uint8_t *b, size_t count, size_t width,
                      unsigned bits)
{
    for (size_t i = 0; i < count; i++) {
        if (imd__codec_mask(imd__codec_load(a + i * width, width), bits) !=
            imd__codec_mask(imd__codec_load(b + i * width, width), bits)) {
            return false;
        }
    }
    return true;
}

/* Encode and decode one frame with the codec of `uid`; false (and a message) on any
 * difference. */
static bool round_trip(const char *uid, ImdCodecFrame frame, uint32_t seed)
{
    ImdError *error = NULL;
    const ImdCodec *codec = imd__codec_find(&error, uid);
    if (codec == NULL || codec->encode == NULL) {
        IMD_FAIL_AT("%s: no encoder (%s)", uid, imd_error_message(error));
        imd_error_clear(&error);
        return false;
    }
    size_t size;
    uint8_t *native = make_frame(&frame, seed, &size);
    uint8_t *bytes = NULL, *decoded = malloc(size);
    size_t encoded = 0;
    bool ok = codec->encode(&error, &frame, native, size, &bytes, &encoded);
    ImdCodecFrame out = frame;
    ok = ok && codec->decode(&error, bytes, encoded, &out, decoded, size);
    if (!ok) {
        IMD_FAIL_AT("%s %ux%u x%u %u/%u bits %s: %s", uid, (unsigned)frame.columns,
                    (unsigned)frame.rows, (unsigned)frame.samples_per_pixel,
                    (unsigned)frame.bits_stored, (unsigned)frame.bits_allocated,
                    frame.pixel_representation ? "signed" : "unsigned",
                    imd_error_message(error));
    } else if (!same_bits(native, decoded, size / (frame.bits_allocated / 8u),
                          frame.bits_allocated / 8u, frame.bits_stored) ||
               strcmp(out.photometric, frame.photometric) != 0) {
        IMD_FAIL_AT("%s %ux%u x%u %u/%u bits: decodes to other values", uid,
                    (unsigned)frame.columns, (unsigned)frame.rows,
                    (unsigned)frame.samples_per_pixel, (unsigned)frame.bits_stored,
                    (unsigned)frame.bits_allocated);
        ok = false;
    }
    imd_error_clear(&error);
    free(native);
    free(bytes);
    free(decoded);
    return ok;
}

static ImdCodecFrame frame_of(uint32_t rows, uint32_t columns, uint16_t samples,
                              uint16_t allocated, uint16_t stored, uint16_t representation)
{
    ImdCodecFrame f = {.rows = rows, .columns = columns, .samples_per_pixel = samples,
                       .bits_allocated = allocated, .bits_stored = stored,
                       .pixel_representation = representation};
    snprintf(f.photometric, sizeof f.photometric, "%s", samples == 3 ? "RGB" : "MONOCHROME2");
    return f;
}

IMD_TEST(names_and_refusals)
{
    static const struct {
        const char *name, *uid;
    } names[] = {
        {"explicit", "1.2.840.10008.1.2.1"},   {"deflate", "1.2.840.10008.1.2.1.99"},
        {"rle", UID_RLE},                      {"jpegls", UID_JPEGLS},
        {"j2k", UID_J2K},                      {"jpeg-lossless", UID_JPEG_SV1},
        {"RLE", UID_RLE},                      {UID_J2K, UID_J2K},
        {"1.2.840.10008.1.2", "1.2.840.10008.1.2"},
    };
    ImdError *error = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *uid = NULL;
        CHECK_OK(error, imd__codec_output_syntax(&error, names[i].name, &uid));
        CHECK_STR(uid, names[i].uid);
    }
    /* Lossy syntaxes are refused even when asked by UID; so are unknown names. */
    static const char *const refused[] = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
                                          "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91",
                                          "1.2.840.10008.1.2.4.203", "jpeg", "lossy", "",
                                          "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.2"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *uid = "x";
        CHECK_FAILS(error, imd__codec_output_syntax(&error, refused[i], &uid),
                    IMD_ERR_INVALID_ARG);
        CHECK(uid == NULL);
    }
    const char *uid = NULL;
    CHECK(!imd__codec_output_syntax(&error, "1.2.840.10008.1.2.4.91", &uid));
    CHECK(error != NULL && strstr(imd_error_message(error), "lossy") != NULL);
    imd_error_clear(&error);
}

IMD_TEST(every_codec_round_trips)
{
    static const struct {
        uint32_t rows, columns;
        uint16_t samples, allocated, stored, representation;
    } shapes[] = {
        {5, 7, 1, 8, 8, 0},      {5, 7, 1, 8, 8, 1},      {5, 7, 1, 16, 16, 0},
        {5, 7, 1, 16, 16, 1},    {5, 7, 1, 16, 12, 0},    {5, 7, 1, 16, 12, 1},
        {5, 7, 3, 8, 8, 0},      {1, 1, 1, 16, 16, 1},    {1, 1, 3, 8, 8, 0},
        {33, 64, 1, 16, 16, 0},  {64, 33, 3, 8, 8, 0},    {300, 3, 1, 8, 8, 0},
        {2, 300, 1, 16, 10, 1},
    };
    for (size_t s = 0; s < sizeof encoded_syntaxes / sizeof encoded_syntaxes[0]; s++) {
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            ImdCodecFrame f = frame_of(shapes[i].rows, shapes[i].columns, shapes[i].samples,
                                       shapes[i].allocated, shapes[i].stored,
                                       shapes[i].representation);
            (void)round_trip(encoded_syntaxes[s], f, (uint32_t)(i * 7919 + s));
        }
    }
}

/* Every precision JPEG Lossless and JPEG-LS hold (2-16 bits), through each IJG flavour. */
IMD_TEST(every_precision)
{
    for (uint16_t bits = 2; bits <= 16; bits++) {
        uint16_t allocated = bits <= 8 ? 8 : 16;
        for (uint16_t sign = 0; sign <= 1; sign++) {
            ImdCodecFrame f = frame_of(9, 11, 1, allocated, bits, sign);
            (void)round_trip(UID_JPEG_SV1, f, bits * 31u + sign);
            (void)round_trip(UID_JPEGLS, f, bits * 37u + sign);
            (void)round_trip(UID_J2K, f, bits * 41u + sign);
            (void)round_trip(UID_RLE, f, bits * 43u + sign);
        }
    }
}

/* PackBits packets: long runs (over 128), long literals, runs of two, rows apart (G.3.1). */
IMD_TEST(rle_packets)
{
    ImdCodecFrame f = frame_of(3, 300, 1, 8, 8, 0);
    uint8_t native[900];
    for (size_t i = 0; i < 300; i++) {
        native[i] = 7;                      /* a row of one value: 128 + 128 + 44 */
        native[300 + i] = (uint8_t)(i * 13); /* literals */
        native[600 + i] = (uint8_t)(i / 2);  /* pairs */
    }
    ImdError *error = NULL;
    uint8_t *bytes = NULL;
    size_t size = 0;
    REQUIRE(imd__codec_rle.encode(&error, &f, native, sizeof native, &bytes, &size));
    CHECK_INT(imd__load_le32(bytes), 1);  /* one segment */
    CHECK_INT(imd__load_le32(bytes + 4), 64);
    CHECK_INT(size % 2, 0);
    /* The first row: -127 7, -127 7, -43 7 (replicate runs of 128, 128, 44). */
    CHECK_INT((int8_t)bytes[64], -127);
    CHECK_INT(bytes[65], 7);
    CHECK_INT((int8_t)bytes[66], -127);
    CHECK_INT((int8_t)bytes[68], -43);
    /* The second row starts a literal packet of 128 bytes (header 127). */
    CHECK_INT(bytes[70], 127);
    CHECK_INT(bytes[71], 0);
    uint8_t decoded[900];
    ImdCodecFrame out = f;
    CHECK_OK(error, imd__codec_rle.decode(&error, bytes, size, &out, decoded, sizeof decoded));
    CHECK(memcmp(decoded, native, sizeof native) == 0);
    free(bytes);
    /* 16-bit RGB: six segments, most significant byte first (G.2). */
    ImdCodecFrame rgb = frame_of(2, 2, 3, 16, 16, 0);
    uint8_t pixels[24];
    for (size_t i = 0; i < 12; i++) {
        imd__codec_store(pixels + 2 * i, 2, (uint32_t)(0x1000 * (i % 3) + i));
    }
    REQUIRE(imd__codec_rle.encode(&error, &rgb, pixels, sizeof pixels, &bytes, &size));
    CHECK_INT(imd__load_le32(bytes), 6);
    /* Segment 1 (red, high bytes): per row a literal of two zeros (1 00 00). */
    size_t first = imd__load_le32(bytes + 4);
    CHECK_INT(bytes[first], 1);
    CHECK_INT(bytes[first + 1], 0);
    CHECK_INT(bytes[first + 3], 1);
    /* Segment 2 (red, low bytes): rows (0, 3) and (6, 9): 1 0 3 1 6 9. */
    size_t second = imd__load_le32(bytes + 8);
    CHECK_INT(bytes[second + 2], 3);
    CHECK_INT(bytes[second + 3], 1);
    CHECK_INT(bytes[second + 5], 9);
    free(bytes);
}

static void set_number(ImdDicomDataSet *d, uint32_t tag, double value)
{
    ImdError *error = NULL;
    if (!imd_dicom_dataset_set_numbers(&error, d, tag, (ImdVR)0, &value, 1)) {
        IMD_FAIL_AT("set: %s", imd_error_message(error));
    }
    imd_error_clear(&error);
}

/* A multi-frame 16-bit image of `frames` frames, native pixel data. */
static ImdDicomDataSet *image(size_t frames, uint8_t **pixels, size_t *size)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_dataset_create(&error);
    ImdCodecFrame f = frame_of(5, 7, 1, 16, 12, 1);
    size_t one;
    uint8_t *frame = make_frame(&f, 99, &one);
    *size = one * frames;
    *pixels = malloc(*size);
    for (size_t i = 0; i < frames; i++) {
        memcpy(*pixels + i * one, frame, one);
        (*pixels)[i * one] = (uint8_t)i; /* frames differ */
    }
    free(frame);
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0008, 0x0016), IMD_VR_UI,
                                                 "1.2.840.10008.5.1.4.1.1.7"));
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0008, 0x0018), IMD_VR_UI,
                                                 "1.2.3.4"));
    set_number(d, IMD_TAG(0x0028, 0x0002), 1);
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0028, 0x0004), IMD_VR_CS,
                                                 "MONOCHROME2"));
    set_number(d, IMD_TAG(0x0028, 0x0008), (double)frames);
    set_number(d, IMD_TAG(0x0028, 0x0010), 5);
    set_number(d, IMD_TAG(0x0028, 0x0011), 7);
    set_number(d, IMD_TAG(0x0028, 0x0100), 16);
    set_number(d, IMD_TAG(0x0028, 0x0101), 12);
    set_number(d, IMD_TAG(0x0028, 0x0102), 11);
    set_number(d, IMD_TAG(0x0028, 0x0103), 1);
    CHECK_OK(error, imd_dicom_dataset_set_bytes(&error, d, IMD_TAG_PixelData, IMD_VR_OW,
                                                *pixels, *size));
    return d;
}

static uint8_t *write_buffer(const ImdDicomDataSet *d, const char *syntax, size_t *size)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_buffer(&error, "out.dcm");
    ImdDicomWriteOptions options = {.transfer_syntax = syntax, .no_meta = false};
    if (stream == NULL || !imd_dicom_write(&error, d, stream, &options)) {
        IMD_FAIL_AT("write %s: %s", syntax, imd_error_message(error));
        imd_error_clear(&error);
        imd_stream_abort(stream);
        return NULL;
    }
    uint8_t *bytes = imd_stream_buffer_take(stream, size);
    imd_stream_abort(stream);
    return bytes;
}

/* PS3.5 A.4: a filled Basic Offset Table, one even fragment per frame; written,
 * read back, each frame located and decoded to the original. */
IMD_TEST(encapsulated_layout)
{
    for (size_t s = 0; s < sizeof encoded_syntaxes / sizeof encoded_syntaxes[0]; s++) {
        const char *uid = encoded_syntaxes[s];
        uint8_t *pixels;
        size_t size;
        ImdDicomDataSet *d = image(3, &pixels, &size);
        ImdError *error = NULL;
        CHECK_OK(error, imd__codec_encode_pixel_data(&error, d, uid, "x.dcm"));
        /* The clone's fragments point into its own copy (ASan watches). */
        ImdDicomDataSet *copy = imd_dicom_dataset_clone(&error, d);
        imd_dicom_dataset_destroy(d);
        REQUIRE(copy != NULL);
        size_t written;
        uint8_t *bytes = write_buffer(copy, uid, &written);
        imd_dicom_dataset_destroy(copy);
        REQUIRE(bytes != NULL);
        ImdDicomDataSet *back = imd_dicom_read_memory(&error, bytes, written, "back.dcm", NULL);
        REQUIRE(back != NULL);
        CHECK_STR(imd_dicom_dataset_transfer_syntax(back), uid);
        const ImdDicomElement *pd = imd_dicom_dataset_find(back, IMD_TAG_PixelData);
        REQUIRE(pd != NULL && imd_dicom_element_is_encapsulated(pd));
        CHECK_INT(imd_dicom_element_fragment_count(pd), 3);
        size_t bot_size;
        const uint8_t *bot = imd_dicom_element_offset_table(pd, &bot_size);
        REQUIRE(bot != NULL && bot_size == 12);
        uint32_t expected = 0;
        for (size_t f = 0; f < 3; f++) {
            size_t n;
            (void)imd_dicom_element_fragment(pd, f, &n);
            CHECK_INT(n % 2, 0);
            CHECK_INT(imd__load_le32(bot + 4 * f), expected);
            expected += (uint32_t)(8 + n);
            size_t first, count, frame_size;
            CHECK_OK(error, imd_dicom_dataset_frame_fragments(&error, back, f, &first, &count,
                                                              &frame_size));
            CHECK_INT(first, f);
            CHECK_INT(count, 1);
            ImdCodecFrame cf = frame_of(5, 7, 1, 16, 12, 1);
            uint8_t out[70];
            const uint8_t *fragment = imd_dicom_element_fragment(pd, f, &n);
            const ImdCodec *codec = imd__codec_find(&error, uid);
            REQUIRE(codec != NULL);
            CHECK_OK(error, codec->decode(&error, fragment, n, &cf, out, sizeof out));
            CHECK(same_bits(out, pixels + f * 70, 35, 2, 12));
        }
        imd_dicom_dataset_destroy(back);
        free(bytes);
        free(pixels);
    }
}

IMD_TEST(refusals)
{
    uint8_t *pixels;
    size_t size;
    ImdDicomDataSet *d = image(1, &pixels, &size);
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_buffer(&error, "out.dcm");
    ImdDicomWriteOptions options = {.transfer_syntax = UID_RLE, .no_meta = false};
    /* Native pixel data cannot be written as an encapsulated syntax. */
    CHECK_FAILS(error, imd_dicom_write(&error, d, stream, &options), IMD_ERR_INVALID_ARG);
    imd_stream_abort(stream);
    /* A lossy or native syntax is no encoding; the data set stays as it was. */
    CHECK_FAILS(error, imd__codec_encode_pixel_data(&error, d, "1.2.840.10008.1.2.1", "x.dcm"),
                IMD_ERR_INVALID_ARG);
    const ImdDicomElement *pd = imd_dicom_dataset_find(d, IMD_TAG_PixelData);
    CHECK(pd != NULL && !imd_dicom_element_is_encapsulated(pd));
    /* 32-bit samples: JPEG-LS refuses (UNSUPPORTED), naming the file; nothing changes. */
    set_number(d, IMD_TAG(0x0028, 0x0100), 32);
    CHECK_FAILS(error, imd__codec_encode_pixel_data(&error, d, UID_JPEGLS, "x.dcm"),
                IMD_ERR_UNSUPPORTED);
    imd_dicom_dataset_destroy(d);
    free(pixels);
}

/* Deflated Explicit VR LE (PS3.5 A.5): raw deflate after the meta group, read back. */
IMD_TEST(deflate_round_trip)
{
    uint8_t *pixels;
    size_t size;
    ImdDicomDataSet *d = image(2, &pixels, &size);
    size_t written;
    uint8_t *bytes = write_buffer(d, "1.2.840.10008.1.2.1.99", &written);
    REQUIRE(bytes != NULL);
    CHECK_INT(written % 2, 0);
    ImdError *error = NULL;
    ImdDicomDataSet *back = imd_dicom_read_memory(&error, bytes, written, "back.dcm", NULL);
    REQUIRE(back != NULL);
    CHECK_STR(imd_dicom_dataset_transfer_syntax(back), "1.2.840.10008.1.2.1.99");
    const ImdDicomElement *pd = imd_dicom_dataset_find(back, IMD_TAG_PixelData);
    size_t n = 0;
    const uint8_t *value = pd != NULL ? imd_dicom_element_bytes(pd, &n) : NULL;
    CHECK(value != NULL && n == size && memcmp(value, pixels, size) == 0);
    imd_dicom_dataset_destroy(back);
    imd_dicom_dataset_destroy(d);
    free(bytes);
    free(pixels);
}

IMD_TEST_MAIN(IMD_CASE(names_and_refusals), IMD_CASE(every_codec_round_trips),
              IMD_CASE(every_precision), IMD_CASE(rle_packets), IMD_CASE(encapsulated_layout),
              IMD_CASE(refusals), IMD_CASE(deflate_round_trip))
