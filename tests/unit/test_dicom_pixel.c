/*
 * test_dicom_pixel.c: uncompressed pixel data -> series element types
 * (src/formats/dicom/pixel.c), on small data sets built here, and on every
 * uncompressed file Debian's pydicom ships, compared with pydicom's
 * pixel_array (with the standard's answer where the two disagree).
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"

#include "formats/dicom/dicom_format.h"

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_SAMPLES IMD_TAG(0x0028, 0x0002)
#define T_PHOTOMETRIC IMD_TAG(0x0028, 0x0004)
#define T_PLANAR IMD_TAG(0x0028, 0x0006)
#define T_FRAMES IMD_TAG(0x0028, 0x0008)
#define T_ROWS IMD_TAG(0x0028, 0x0010)
#define T_COLUMNS IMD_TAG(0x0028, 0x0011)
#define T_ALLOCATED IMD_TAG(0x0028, 0x0100)
#define T_STORED IMD_TAG(0x0028, 0x0101)
#define T_HIGH_BIT IMD_TAG(0x0028, 0x0102)
#define T_REPRESENTATION IMD_TAG(0x0028, 0x0103)
#define T_INTERCEPT IMD_TAG(0x0028, 0x1052)
#define T_SLOPE IMD_TAG(0x0028, 0x1053)

/* ---- building data sets ---- */

static void set_number(ImdDicomDataSet *d, uint32_t tag, double value)
{
    ImdError *error = NULL;
    if (!imd_dicom_dataset_set_numbers(&error, d, tag, (ImdVR)0, &value, 1)) {
        IMD_FAIL_AT("set (%04X,%04X): %s", tag >> 16, tag & 0xffffu, imd_error_message(error));
    }
    imd_error_clear(&error);
}

static void set_text(ImdDicomDataSet *d, uint32_t tag, const char *value)
{
    ImdError *error = NULL;
    if (!imd_dicom_dataset_set_string(&error, d, tag, (ImdVR)0, value)) {
        IMD_FAIL_AT("set (%04X,%04X): %s", tag >> 16, tag & 0xffffu, imd_error_message(error));
    }
    imd_error_clear(&error);
}

static void set_pixels(ImdDicomDataSet *d, const void *data, size_t size, unsigned bits)
{
    ImdError *error = NULL;
    if (!imd_dicom_dataset_set_bytes(&error, d, IMD_TAG_PixelData,
                                     bits > 8 ? IMD_VR_OW : IMD_VR_OB, data, size)) {
        IMD_FAIL_AT("set pixel data: %s", imd_error_message(error));
    }
    imd_error_clear(&error);
}

/* A grey image: Rows, Columns, bits, PixelRepresentation; BitsStored/HighBit when nonzero. */
static ImdDicomDataSet *grey(unsigned rows, unsigned columns, unsigned allocated,
                             unsigned stored, unsigned high_bit, unsigned representation,
                             const void *pixels, size_t size)
{
    ImdDicomDataSet *d = imd_dicom_dataset_create(NULL);
    if (d == NULL) {
        return NULL;
    }
    set_number(d, T_SAMPLES, 1);
    set_text(d, T_PHOTOMETRIC, "MONOCHROME2");
    set_number(d, T_ROWS, rows);
    set_number(d, T_COLUMNS, columns);
    set_number(d, T_ALLOCATED, allocated);
    if (stored != 0) {
        set_number(d, T_STORED, stored);
        set_number(d, T_HIGH_BIT, high_bit);
    }
    set_number(d, T_REPRESENTATION, representation);
    if (pixels != NULL) {
        set_pixels(d, pixels, size, allocated);
    }
    return d;
}

static ImdDicomDataSet *colour(unsigned rows, unsigned columns, const char *photometric,
                               unsigned planar, const void *pixels, size_t size)
{
    ImdDicomDataSet *d = imd_dicom_dataset_create(NULL);
    if (d == NULL) {
        return NULL;
    }
    set_number(d, T_SAMPLES, 3);
    set_text(d, T_PHOTOMETRIC, photometric);
    set_number(d, T_PLANAR, planar);
    set_number(d, T_ROWS, rows);
    set_number(d, T_COLUMNS, columns);
    set_number(d, T_ALLOCATED, 8);
    set_number(d, T_STORED, 8);
    set_number(d, T_HIGH_BIT, 7);
    set_number(d, T_REPRESENTATION, 0);
    set_pixels(d, pixels, size, 8);
    return d;
}

/* pixel_format then decode_frame of the image's own size; false (printed) on error. */
static bool decode(ImdDicomDataSet *d, size_t frame, ImdDType dtype, void *out)
{
    ImdError *error = NULL;
    ImdPixelFormat f;
    bool ok = imd__dicom_pixel_format(&error, d, &f) &&
              imd__dicom_decode_frame(&error, d, &f, frame, dtype, out, f.rows, f.columns);
    if (!ok) {
        IMD_FAIL_AT("decode: %s", imd_error_message(error));
    }
    imd_error_clear(&error);
    return ok;
}

/* The error code and message of pixel_format (message copied into `message`). */
static ImdErrorCode format_error(const ImdDicomDataSet *d, char *message, size_t size)
{
    ImdError *error = NULL;
    ImdPixelFormat f;
    ImdErrorCode code = 0;
    if (!imd__dicom_pixel_format(&error, d, &f)) {
        code = imd_error_code(error);
    }
    if (message != NULL) {
        snprintf(message, size, "%s", imd_error_message(error));
    }
    imd_error_clear(&error);
    return code;
}

static void le16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* ---- bit depths and signedness ---- */

IMD_TEST(eight_bits)
{
    const uint8_t px[6] = {0, 1, 127, 128, 200, 255};
    ImdDicomDataSet *d = grey(2, 3, 8, 8, 7, 0, px, sizeof px);
    REQUIRE(d != NULL);
    uint8_t u8[6];
    uint16_t u16[6];
    double f64[6];
    if (decode(d, 0, IMD_DTYPE_UINT8, u8)) {
        CHECK(memcmp(u8, px, 6) == 0);
    }
    if (decode(d, 0, IMD_DTYPE_UINT16, u16)) {
        CHECK_INT(u16[4], 200);
        CHECK_INT(u16[5], 255);
    }
    if (decode(d, 0, IMD_DTYPE_FLOAT64, f64)) {
        CHECK_NEAR(f64[3], 128.0, 0);
    }
    imd_dicom_dataset_destroy(d);

    /* Signed 8 bits. */
    d = grey(1, 3, 8, 8, 7, 1, "\x80\xff\x7f", 3);
    REQUIRE(d != NULL);
    int8_t s8[3];
    int16_t s16[3];
    if (decode(d, 0, IMD_DTYPE_INT8, s8)) {
        CHECK_INT(s8[0], -128);
        CHECK_INT(s8[1], -1);
        CHECK_INT(s8[2], 127);
    }
    if (decode(d, 0, IMD_DTYPE_INT16, s16)) {
        CHECK_INT(s16[0], -128);
    }
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(sixteen_bits)
{
    const unsigned values[4] = {0, 1, 0x7fff, 0xffff};
    uint8_t px[8];
    for (int i = 0; i < 4; i++) {
        le16(px + 2 * i, values[i]);
    }
    ImdDicomDataSet *d = grey(2, 2, 16, 16, 15, 0, px, sizeof px);
    REQUIRE(d != NULL);
    uint16_t u16[4];
    int16_t s16[4];
    if (decode(d, 0, IMD_DTYPE_UINT16, u16)) {
        for (int i = 0; i < 4; i++) {
            CHECK_INT(u16[i], values[i]);
        }
    }
    /* An unsigned image in a series made int16 by a signed image: clamped. */
    if (decode(d, 0, IMD_DTYPE_INT16, s16)) {
        CHECK_INT(s16[2], 32767);
        CHECK_INT(s16[3], 32767);
    }
    imd_dicom_dataset_destroy(d);

    d = grey(2, 2, 16, 16, 15, 1, px, sizeof px);
    REQUIRE(d != NULL);
    int32_t s32[4];
    if (decode(d, 0, IMD_DTYPE_INT16, s16)) {
        CHECK_INT(s16[2], 32767);
        CHECK_INT(s16[3], -1);
    }
    /* A signed image in an unsigned series: negatives become 0. */
    if (decode(d, 0, IMD_DTYPE_UINT16, u16)) {
        CHECK_INT(u16[2], 32767);
        CHECK_INT(u16[3], 0);
    }
    if (decode(d, 0, IMD_DTYPE_INT32, s32)) {
        CHECK_INT(s32[3], -1);
    }
    imd_dicom_dataset_destroy(d);

    /* -32768 and a big frame: the memcpy path. */
    enum { N = 512 * 512 };
    uint8_t *big = malloc(2 * N);
    int16_t *out = malloc(sizeof(int16_t) * N);
    REQUIRE(big != NULL && out != NULL);
    for (size_t i = 0; i < N; i++) {
        le16(big + 2 * i, (unsigned)(i * 7919u) & 0xffffu);
    }
    d = grey(512, 512, 16, 0, 0, 1, big, 2 * N);
    if (d != NULL && decode(d, 0, IMD_DTYPE_INT16, out)) {
        size_t bad = 0;
        for (size_t i = 0; i < N; i++) {
            uint16_t u = (uint16_t)((i * 7919u) & 0xffffu);
            bad += out[i] != (int16_t)(u >= 0x8000u ? (int)u - 65536 : (int)u);
        }
        CHECK_INT(bad, 0);
    }
    imd_dicom_dataset_destroy(d);
    free(big);
    free(out);
}

IMD_TEST(thirty_two_bits)
{
    /* behaviour.md §12: the original read 32 bits into uint16. */
    const uint32_t values[3] = {0, 70000, 4000000000u};
    uint8_t px[12];
    for (int i = 0; i < 3; i++) {
        le32(px + 4 * i, values[i]);
    }
    ImdDicomDataSet *d = grey(1, 3, 32, 32, 31, 0, px, sizeof px);
    REQUIRE(d != NULL);
    uint32_t u32[3];
    double f64[3];
    int32_t s32[3];
    if (decode(d, 0, IMD_DTYPE_UINT32, u32)) {
        CHECK_INT(u32[1], 70000);
        CHECK_INT(u32[2], 4000000000u);
    }
    if (decode(d, 0, IMD_DTYPE_FLOAT64, f64)) {
        CHECK_NEAR(f64[2], 4e9, 0);
    }
    if (decode(d, 0, IMD_DTYPE_INT32, s32)) {
        CHECK_INT(s32[2], INT32_MAX); /* clamped */
    }
    ImdPixelFormat f;
    REQUIRE(imd__dicom_pixel_format(NULL, d, &f));
    CHECK_INT(imd__dicom_series_dtype(&f, 1), IMD_DTYPE_UINT32);
    imd_dicom_dataset_destroy(d);

    le32(px, (uint32_t)-100000);
    d = grey(1, 3, 32, 32, 31, 1, px, sizeof px);
    REQUIRE(d != NULL);
    if (decode(d, 0, IMD_DTYPE_INT32, s32)) {
        CHECK_INT(s32[0], -100000);
        CHECK_INT(s32[1], 70000);
    }
    REQUIRE(imd__dicom_pixel_format(NULL, d, &f));
    CHECK_INT(imd__dicom_series_dtype(&f, 1), IMD_DTYPE_INT32);
    imd_dicom_dataset_destroy(d);
}

/* ---- masking ---- */

IMD_TEST(bits_stored_12)
{
    /* HighBit 11: the top 4 bits are not part of the value (overlay bits, garbage). */
    uint8_t px[8];
    le16(px, 0xf123);
    le16(px + 2, 0x0fff);
    le16(px + 4, 0xa000);
    le16(px + 6, 0x0800);
    ImdDicomDataSet *d = grey(2, 2, 16, 12, 11, 0, px, sizeof px);
    REQUIRE(d != NULL);
    uint16_t u16[4];
    int16_t s16[4];
    uint32_t u32[4];
    if (decode(d, 0, IMD_DTYPE_UINT16, u16)) {
        CHECK_INT(u16[0], 0x123);
        CHECK_INT(u16[1], 0xfff);
        CHECK_INT(u16[2], 0);
        CHECK_INT(u16[3], 0x800);
    }
    if (decode(d, 0, IMD_DTYPE_UINT32, u32)) { /* the generic two-stage path */
        CHECK_INT(u32[0], 0x123);
        CHECK_INT(u32[3], 0x800);
    }
    imd_dicom_dataset_destroy(d);

    /* Signed: sign-extended from bit 11. */
    d = grey(2, 2, 16, 12, 11, 1, px, sizeof px);
    REQUIRE(d != NULL);
    if (decode(d, 0, IMD_DTYPE_INT16, s16)) {
        CHECK_INT(s16[0], 0x123);
        CHECK_INT(s16[1], -1);
        CHECK_INT(s16[2], 0);
        CHECK_INT(s16[3], -2048);
    }
    double f64[4];
    if (decode(d, 0, IMD_DTYPE_FLOAT64, f64)) {
        CHECK_NEAR(f64[3], -2048.0, 0);
    }
    imd_dicom_dataset_destroy(d);

    /* HighBit 15: the value sits in the top 12 bits; the low 4 are dropped. */
    le16(px, 0xabc5);
    le16(px + 2, 0x8000);
    le16(px + 4, 0xfff0);
    le16(px + 6, 0x001f);
    d = grey(2, 2, 16, 12, 15, 0, px, sizeof px);
    REQUIRE(d != NULL);
    if (decode(d, 0, IMD_DTYPE_UINT16, u16)) {
        CHECK_INT(u16[0], 0xabc);
        CHECK_INT(u16[1], 0x800);
        CHECK_INT(u16[2], 0xfff);
        CHECK_INT(u16[3], 0x001);
    }
    imd_dicom_dataset_destroy(d);
    d = grey(2, 2, 16, 12, 15, 1, px, sizeof px);
    REQUIRE(d != NULL);
    if (decode(d, 0, IMD_DTYPE_INT16, s16)) {
        CHECK_INT(s16[0], 0xabc - 4096);
        CHECK_INT(s16[1], -2048);
        CHECK_INT(s16[2], -1);
        CHECK_INT(s16[3], 1);
    }
    imd_dicom_dataset_destroy(d);

    /* 8 bits allocated, 6 stored at bits 6..1, signed. */
    d = grey(1, 2, 8, 6, 6, 1, "\x7e\x40", 2);
    REQUIRE(d != NULL);
    int8_t s8[2];
    if (decode(d, 0, IMD_DTYPE_INT8, s8)) {
        CHECK_INT(s8[0], -1);  /* 0x7e >> 1 = 0x3f: -1 in 6 bits */
        CHECK_INT(s8[1], -32); /* 0x40 >> 1 = 0x20 */
    }
    imd_dicom_dataset_destroy(d);

    /* 32 bits, 24 stored. */
    uint8_t px32[4];
    le32(px32, 0xff800000u);
    d = grey(1, 1, 32, 24, 23, 1, px32, 4);
    REQUIRE(d != NULL);
    int32_t s32;
    if (decode(d, 0, IMD_DTYPE_INT32, &s32)) {
        CHECK_INT(s32, -8388608);
    }
    imd_dicom_dataset_destroy(d);
}

/* ---- one bit ---- */

IMD_TEST(one_bit_packed)
{
    /* 3 x 5 = 15 pixels a frame, 2 frames = 30 bits in 4 bytes, LSB first;
     * frame 1 starts at bit 15, in the middle of byte 1. */
    uint8_t expect[30];
    uint8_t packed[4] = {0};
    for (int i = 0; i < 30; i++) {
        expect[i] = (uint8_t)((i * 37 + i / 3) % 5 < 2);
        packed[i / 8] |= (uint8_t)(expect[i] << (i % 8));
    }
    ImdDicomDataSet *d = grey(3, 5, 1, 1, 0, 0, packed, sizeof packed);
    REQUIRE(d != NULL);
    set_text(d, T_FRAMES, "2");
    ImdPixelFormat f;
    ImdError *error = NULL;
    REQUIRE(imd__dicom_pixel_format(&error, d, &f));
    CHECK_INT(f.frames, 2);
    CHECK_INT(imd__dicom_series_dtype(&f, 1), IMD_DTYPE_BOOL);
    uint8_t out[15];
    for (size_t frame = 0; frame < 2; frame++) {
        CHECK_OK(error, imd__dicom_decode_frame(&error, d, &f, frame, IMD_DTYPE_BOOL, out, 3, 5));
        CHECK(memcmp(out, expect + 15 * frame, 15) == 0);
    }
    /* Into wider types (a 1-bit image in an 8-bit series), and padded. */
    double f64[15];
    CHECK_OK(error, imd__dicom_decode_frame(&error, d, &f, 1, IMD_DTYPE_FLOAT64, f64, 3, 5));
    for (int i = 0; i < 15; i++) {
        CHECK_NEAR(f64[i], expect[15 + i], 0);
    }
    uint8_t wide[4 * 6];
    CHECK_OK(error, imd__dicom_decode_frame(&error, d, &f, 1, IMD_DTYPE_UINT8, wide, 4, 6));
    for (int r = 0; r < 4; r++) {
        for (int c = 0; c < 6; c++) {
            CHECK_INT(wide[r * 6 + c], r < 3 && c < 5 ? expect[15 + r * 5 + c] : 0);
        }
    }
    /* 30 bits need 4 bytes: 3 are too few for frame 1 but enough for frame 0. */
    set_pixels(d, packed, 3, 1);
    CHECK_OK(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_BOOL, out, 3, 5));
    CHECK_FAILS(error, imd__dicom_decode_frame(&error, d, &f, 1, IMD_DTYPE_BOOL, out, 3, 5),
                IMD_ERR_CORRUPT);
    imd_dicom_dataset_destroy(d);
}

/* ---- colour ---- */

IMD_TEST(rgb_planar)
{
    /* 2 x 2 pixels: (1,2,3) (4,5,6) (7,8,9) (10,11,12). */
    const uint8_t interleaved[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const uint8_t planes[12] = {1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12};
    uint8_t out[12];
    ImdDicomDataSet *d = colour(2, 2, "RGB", 0, interleaved, 12);
    REQUIRE(d != NULL);
    if (decode(d, 0, IMD_DTYPE_RGB8, out)) {
        CHECK(memcmp(out, interleaved, 12) == 0);
    }
    ImdPixelFormat f;
    REQUIRE(imd__dicom_pixel_format(NULL, d, &f));
    CHECK_INT(imd__dicom_series_dtype(&f, 1), IMD_DTYPE_RGB8);
    ImdError *error = NULL;
    uint16_t u16[4];
    CHECK_FAILS(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_UINT16, u16, 2, 2),
                IMD_ERR_INVALID_ARG);
    imd_dicom_dataset_destroy(d);

    d = colour(2, 2, "RGB", 1, planes, 12);
    REQUIRE(d != NULL);
    if (decode(d, 0, IMD_DTYPE_RGB8, out)) {
        CHECK(memcmp(out, interleaved, 12) == 0);
    }
    /* Padded: 2 x 2 into 3 x 3, planar 1. */
    uint8_t padded[27];
    REQUIRE(imd__dicom_pixel_format(NULL, d, &f));
    CHECK_OK(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_RGB8, padded, 3, 3));
    const uint8_t expect[27] = {1, 2, 3, 4, 5, 6, 0, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0, 0};
    CHECK(memcmp(padded, expect, 27) == 0);
    imd_dicom_dataset_destroy(d);
}

/* (Y, Cb, Cr) -> (R, G, B) by the inverse of PS3.3 C.7.6.3.1.2 (worked out by hand). */
static const uint8_t ybr_in[7][3] = {{128, 128, 128}, {76, 85, 255}, {255, 128, 128},
                                     {0, 128, 128},   {100, 150, 90}, {30, 200, 60},
                                     {200, 40, 220}};
static const uint8_t ybr_rgb[7][3] = {{128, 128, 128}, {254, 0, 0}, {255, 255, 255},
                                      {0, 0, 0},       {47, 120, 139}, {0, 54, 158},
                                      {255, 165, 44}};

IMD_TEST(ybr_full)
{
    uint8_t px[21], out[21];
    memcpy(px, ybr_in, 21);
    ImdDicomDataSet *d = colour(1, 7, "YBR_FULL", 0, px, 21);
    REQUIRE(d != NULL);
    if (decode(d, 0, IMD_DTYPE_RGB8, out)) {
        CHECK(memcmp(out, ybr_rgb, 21) == 0);
        for (int i = 0; i < 7; i++) {
            if (memcmp(out + 3 * i, ybr_rgb[i], 3) != 0) {
                fprintf(stderr, "  pixel %d: %u %u %u\n", i, out[3 * i], out[3 * i + 1],
                        out[3 * i + 2]);
            }
        }
    }
    imd_dicom_dataset_destroy(d);
    /* Planar 1. */
    uint8_t planes[21];
    for (int i = 0; i < 7; i++) {
        for (int c = 0; c < 3; c++) {
            planes[c * 7 + i] = ybr_in[i][c];
        }
    }
    d = colour(7, 1, "YBR_FULL", 1, planes, 21);
    REQUIRE(d != NULL);
    if (decode(d, 0, IMD_DTYPE_RGB8, out)) {
        CHECK(memcmp(out, ybr_rgb, 21) == 0);
    }
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(ybr_full_422)
{
    /* 2 x 4: per two pixels Y1 Y2 Cb Cr. */
    const uint8_t px[16] = {128, 255, 128, 128, 76, 76, 85, 255,
                            100, 100, 150, 90,  0,  255, 128, 128};
    uint8_t out[24];
    ImdDicomDataSet *d = colour(2, 4, "YBR_FULL_422", 0, px, sizeof px);
    REQUIRE(d != NULL);
    if (decode(d, 0, IMD_DTYPE_RGB8, out)) {
        const uint8_t expect[24] = {128, 128, 128, 255, 255, 255, 254, 0,   0,   254, 0,   0,
                                    47,  120, 139, 47,  120, 139, 0,   0,   0,   255, 255, 255};
        CHECK(memcmp(out, expect, 24) == 0);
    }
    /* The frame is 2 bytes a pixel: 15 bytes are one short. */
    set_pixels(d, px, 15, 8);
    ImdError *error = NULL;
    ImdPixelFormat f;
    REQUIRE(imd__dicom_pixel_format(NULL, d, &f));
    CHECK_FAILS(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_RGB8, out, 2, 4),
                IMD_ERR_CORRUPT);
    /* Odd columns cannot share Cb Cr. */
    set_number(d, T_COLUMNS, 3);
    CHECK_INT(format_error(d, NULL, 0), IMD_ERR_UNSUPPORTED);
    imd_dicom_dataset_destroy(d);
}

/* ---- rescale, padding ---- */

IMD_TEST(rescale_per_image)
{
    uint8_t px[4];
    le16(px, 10);
    le16(px + 2, 0xffff); /* -1 signed */
    ImdDicomDataSet *a = grey(1, 2, 16, 16, 15, 1, px, 4);
    ImdDicomDataSet *b = grey(1, 2, 16, 16, 15, 1, px, 4);
    REQUIRE(a != NULL && b != NULL);
    set_text(a, T_SLOPE, "2.5");
    set_text(a, T_INTERCEPT, "-1024");
    /* b has no rescale: slope 1, intercept 0. */
    ImdPixelFormat f[2];
    REQUIRE(imd__dicom_pixel_format(NULL, a, &f[0]));
    REQUIRE(imd__dicom_pixel_format(NULL, b, &f[1]));
    CHECK_NEAR(f[0].slope, 2.5, 0);
    CHECK_NEAR(f[0].intercept, -1024, 0);
    CHECK_NEAR(f[1].slope, 1, 0);
    CHECK_NEAR(f[1].intercept, 0, 0);
    /* One rescaled image makes the series float64 (§12: not the first file only). */
    CHECK_INT(imd__dicom_series_dtype(f, 2), IMD_DTYPE_FLOAT64);
    CHECK_INT(imd__dicom_series_dtype(&f[1], 1), IMD_DTYPE_INT16);
    ImdError *error = NULL;
    double out[2];
    CHECK_OK(error, imd__dicom_decode_frame(&error, a, &f[0], 0, IMD_DTYPE_FLOAT64, out, 1, 2));
    CHECK_NEAR(out[0], 10 * 2.5 - 1024, 0);
    CHECK_NEAR(out[1], -2.5 - 1024, 0);
    CHECK_OK(error, imd__dicom_decode_frame(&error, b, &f[1], 0, IMD_DTYPE_FLOAT64, out, 1, 2));
    CHECK_NEAR(out[0], 10, 0);
    CHECK_NEAR(out[1], -1, 0);
    /* Trivial rescale (within 1e-4) keeps the integer type. */
    set_text(b, T_SLOPE, "1.00001");
    set_text(b, T_INTERCEPT, "0.00005");
    REQUIRE(imd__dicom_pixel_format(NULL, b, &f[1]));
    CHECK_INT(imd__dicom_series_dtype(&f[1], 1), IMD_DTYPE_INT16);
    imd_dicom_dataset_destroy(a);
    imd_dicom_dataset_destroy(b);

    /* Enhanced multi-frame: the shared functional groups' Pixel Value Transformation. */
    ImdDicomDataSet *e = grey(1, 2, 16, 16, 15, 0, px, 4);
    REQUIRE(e != NULL);
    ImdDicomDataSet *shared = imd_dicom_dataset_append_item(NULL, e, IMD_TAG(0x5200, 0x9229));
    REQUIRE(shared != NULL);
    ImdDicomDataSet *pvt = imd_dicom_dataset_append_item(NULL, shared, IMD_TAG(0x0028, 0x9145));
    REQUIRE(pvt != NULL);
    set_text(pvt, T_SLOPE, "0.5");
    set_text(pvt, T_INTERCEPT, "3");
    ImdPixelFormat g;
    REQUIRE(imd__dicom_pixel_format(NULL, e, &g));
    CHECK_NEAR(g.slope, 0.5, 0);
    CHECK_NEAR(g.intercept, 3, 0);
    imd_dicom_dataset_destroy(e);
}

IMD_TEST(padding)
{
    uint8_t px[8];
    for (int i = 0; i < 4; i++) {
        le16(px + 2 * i, (unsigned)(100 + i));
    }
    ImdDicomDataSet *d = grey(2, 2, 16, 16, 15, 0, px, sizeof px);
    REQUIRE(d != NULL);
    ImdPixelFormat f;
    REQUIRE(imd__dicom_pixel_format(NULL, d, &f));
    ImdError *error = NULL;
    uint16_t out[3 * 4];
    memset(out, 0xee, sizeof out);
    CHECK_OK(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_UINT16, out, 3, 4));
    const uint16_t expect[12] = {100, 101, 0, 0, 102, 103, 0, 0, 0, 0, 0, 0};
    CHECK(memcmp(out, expect, sizeof expect) == 0);
    /* Same width, more rows. */
    memset(out, 0xee, sizeof out);
    CHECK_OK(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_UINT16, out, 3, 2));
    const uint16_t expect2[6] = {100, 101, 102, 103, 0, 0};
    CHECK(memcmp(out, expect2, sizeof expect2) == 0);
    /* float64, padded. */
    double f64[3 * 3];
    CHECK_OK(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_FLOAT64, f64, 3, 3));
    CHECK_NEAR(f64[4], 103, 0);
    CHECK_NEAR(f64[5], 0, 0);
    CHECK_NEAR(f64[8], 0, 0);
    /* Larger than the series: corrupt. */
    CHECK_FAILS(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_UINT16, out, 1, 4),
                IMD_ERR_CORRUPT);
    CHECK_FAILS(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_UINT16, out, 4, 1),
                IMD_ERR_CORRUPT);
    /* A frame that does not exist. */
    CHECK_FAILS(error, imd__dicom_decode_frame(&error, d, &f, 1, IMD_DTYPE_UINT16, out, 2, 2),
                IMD_ERR_INVALID_ARG);
    imd_dicom_dataset_destroy(d);
}

/* ---- errors ---- */

IMD_TEST(truncated_pixel_data)
{
    uint8_t px[8192] = {0};
    ImdDicomDataSet *d = grey(64, 64, 16, 16, 15, 1, px, 8130);
    REQUIRE(d != NULL);
    ImdPixelFormat f;
    ImdError *error = NULL;
    REQUIRE(imd__dicom_pixel_format(&error, d, &f));
    int16_t out[64 * 64];
    CHECK(!imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_INT16, out, 64, 64));
    CHECK_INT(imd_error_code(error), IMD_ERR_CORRUPT);
    CHECK(strstr(imd_error_message(error), "pixel data has 8130 bytes, frame 0 needs 8192") !=
          NULL);
    imd_error_clear(&error);
    /* Two frames, data for one: frame 0 decodes, frame 1 names its end. */
    set_pixels(d, px, 8192, 16);
    set_number(d, T_FRAMES, 2);
    REQUIRE(imd__dicom_pixel_format(&error, d, &f));
    CHECK_OK(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_INT16, out, 64, 64));
    CHECK(!imd__dicom_decode_frame(&error, d, &f, 1, IMD_DTYPE_INT16, out, 64, 64));
    CHECK(strstr(imd_error_message(error), "frame 1 needs 16384") != NULL);
    imd_error_clear(&error);
    /* No pixel data: the format reads (headers only), decoding fails. */
    imd_dicom_dataset_remove(d, IMD_TAG_PixelData);
    CHECK_OK(error, imd__dicom_pixel_format(&error, d, &f));
    CHECK_FAILS(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_INT16, out, 64, 64),
                IMD_ERR_CORRUPT);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(inconsistent_attributes)
{
    char message[512];
    ImdDicomDataSet *d = grey(2, 2, 16, 0, 0, 0, "\0\0\0\0\0\0\0\0", 8);
    REQUIRE(d != NULL);
    ImdPixelFormat f;
    /* Defaults: BitsStored = BitsAllocated, HighBit = BitsStored - 1, one frame, rescale 1/0. */
    REQUIRE(imd__dicom_pixel_format(NULL, d, &f));
    CHECK_INT(f.bits_stored, 16);
    CHECK_INT(f.high_bit, 15);
    CHECK_INT(f.frames, 1);
    CHECK_STR(f.photometric, "MONOCHROME2");
    CHECK_NEAR(f.slope, 1, 0);
    CHECK_NEAR(f.intercept, 0, 0);

    set_number(d, T_STORED, 17);
    CHECK_INT(format_error(d, message, sizeof message), IMD_ERR_CORRUPT);
    CHECK(strstr(message, "BitsStored 17") != NULL);
    set_number(d, T_STORED, 12);
    set_number(d, T_HIGH_BIT, 16);
    CHECK_INT(format_error(d, message, sizeof message), IMD_ERR_CORRUPT);
    CHECK(strstr(message, "HighBit 16") != NULL);
    set_number(d, T_HIGH_BIT, 10); /* below BitsStored - 1 */
    CHECK_INT(format_error(d, NULL, 0), IMD_ERR_CORRUPT);
    set_number(d, T_HIGH_BIT, 11);
    CHECK_INT(format_error(d, NULL, 0), 0);

    set_number(d, T_SAMPLES, 2);
    CHECK_INT(format_error(d, message, sizeof message), IMD_ERR_UNSUPPORTED);
    CHECK(strstr(message, "SamplesPerPixel 2") != NULL);
    set_number(d, T_SAMPLES, 3); /* 16-bit colour */
    set_text(d, T_PHOTOMETRIC, "RGB");
    set_number(d, T_STORED, 16);
    set_number(d, T_HIGH_BIT, 15);
    CHECK_INT(format_error(d, message, sizeof message), IMD_ERR_UNSUPPORTED);
    CHECK(strstr(message, "BitsAllocated 16") != NULL);
    set_number(d, T_SAMPLES, 1);
    set_text(d, T_PHOTOMETRIC, "MONOCHROME1");

    set_number(d, T_ALLOCATED, 64);
    set_number(d, T_STORED, 64);
    set_number(d, T_HIGH_BIT, 63);
    CHECK_INT(format_error(d, NULL, 0), IMD_ERR_UNSUPPORTED);
    set_number(d, T_ALLOCATED, 12);
    set_number(d, T_STORED, 12);
    set_number(d, T_HIGH_BIT, 11);
    CHECK_INT(format_error(d, NULL, 0), IMD_ERR_CORRUPT);
    set_number(d, T_ALLOCATED, 16);

    set_number(d, T_REPRESENTATION, 2);
    CHECK_INT(format_error(d, NULL, 0), IMD_ERR_CORRUPT);
    set_number(d, T_REPRESENTATION, 0);

    set_text(d, T_FRAMES, "1A");
    CHECK_INT(format_error(d, message, sizeof message), IMD_ERR_CORRUPT);
    CHECK(strstr(message, "NumberOfFrames") != NULL);
    set_text(d, T_FRAMES, "2000000");
    CHECK_INT(format_error(d, NULL, 0), IMD_ERR_LIMIT);
    set_text(d, T_FRAMES, "3");
    REQUIRE(imd__dicom_pixel_format(NULL, d, &f));
    CHECK_INT(f.frames, 3);
    CHECK_STR(f.photometric, "MONOCHROME1"); /* kept: the caller notes it */

    set_text(d, T_SLOPE, "abc");
    CHECK_INT(format_error(d, NULL, 0), IMD_ERR_CORRUPT);
    imd_dicom_dataset_remove(d, T_SLOPE);

    imd_dicom_dataset_remove(d, T_ROWS);
    CHECK_INT(format_error(d, message, sizeof message), IMD_ERR_CORRUPT);
    CHECK(strstr(message, "Rows") != NULL);
    set_number(d, T_ROWS, 0);
    CHECK_INT(format_error(d, NULL, 0), IMD_ERR_CORRUPT);
    set_number(d, T_ROWS, 2);

    /* Float Pixel Data instead of Pixel Data. */
    imd_dicom_dataset_remove(d, IMD_TAG_PixelData);
    float fl[4] = {0};
    REQUIRE(imd_dicom_dataset_set_bytes(NULL, d, IMD_TAG(0x7fe0, 0x0008), IMD_VR_OF, fl,
                                        sizeof fl));
    CHECK_INT(format_error(d, NULL, 0), IMD_ERR_UNSUPPORTED);
    imd_dicom_dataset_destroy(d);
}

/* ---- Part 10 bytes, for transfer syntaxes ---- */

typedef struct Bytes {
    uint8_t data[1024];
    size_t size;
    bool big;
} Bytes;

static void put16(Bytes *b, unsigned v)
{
    b->data[b->size++] = (uint8_t)(b->big ? v >> 8 : v);
    b->data[b->size++] = (uint8_t)(b->big ? v : v >> 8);
}

static void put32(Bytes *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        b->data[b->size++] = (uint8_t)(v >> (b->big ? 24 - 8 * i : 8 * i));
    }
}

static void put(Bytes *b, const void *data, size_t n)
{
    memcpy(b->data + b->size, data, n);
    b->size += n;
}

static void element(Bytes *b, unsigned g, unsigned e, const char *vr, const void *v, size_t n)
{
    put16(b, g);
    put16(b, e);
    put(b, vr, 2);
    put16(b, (unsigned)n);
    put(b, v, n);
}

static void us(Bytes *b, unsigned e, unsigned value)
{
    put16(b, 0x0028);
    put16(b, e);
    put(b, "US", 2);
    put16(b, 2);
    put16(b, value);
}

static void long_header(Bytes *b, unsigned g, unsigned e, const char *vr, uint32_t length)
{
    put16(b, g);
    put16(b, e);
    put(b, vr, 2);
    put16(b, 0);
    put32(b, length);
}

static void part10(Bytes *b, const char *syntax)
{
    memset(b->data, 0, 128);
    b->size = 128;
    put(b, "DICM", 4);
    char padded[66] = {0};
    size_t n = strlen(syntax);
    memcpy(padded, syntax, n);
    element(b, 0x0002, 0x0010, "UI", padded, n + (n & 1));
}

/* Image Pixel attributes, in the current byte order. */
static void image_pixel(Bytes *b, unsigned rows, unsigned columns, unsigned bits)
{
    us(b, 0x0002, 1);
    element(b, 0x0028, 0x0004, "CS", "MONOCHROME2 ", 12);
    us(b, 0x0010, rows);
    us(b, 0x0011, columns);
    us(b, 0x0100, bits);
    us(b, 0x0101, bits);
    us(b, 0x0102, bits - 1);
    us(b, 0x0103, 0);
}

static ImdDicomDataSet *parse(const Bytes *b)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_memory(&error, b->data, b->size, "test", NULL);
    if (d == NULL) {
        IMD_FAIL_AT("parse: %s", imd_error_message(error));
    }
    imd_error_clear(&error);
    return d;
}

/* Encapsulated pixel data with one fragment holding `bytes`. */
static ImdDicomDataSet *encapsulated(const char *syntax, const char *bytes, size_t size)
{
    Bytes b = {0};
    part10(&b, syntax);
    image_pixel(&b, 2, 2, 8);
    long_header(&b, 0x7fe0, 0x0010, "OB", 0xffffffffu);
    put16(&b, 0xfffe);
    put16(&b, 0xe000);
    put32(&b, 0); /* empty basic offset table */
    put16(&b, 0xfffe);
    put16(&b, 0xe000);
    put32(&b, (uint32_t)size);
    put(&b, bytes, size);
    put16(&b, 0xfffe);
    put16(&b, 0xe0dd);
    put32(&b, 0);
    return parse(&b);
}

IMD_TEST(encapsulated_unsupported)
{
    /* A syntax no codec decodes is refused by name (PS3.5 A.4, src/dicom/codec.c). */
    const char *mpeg = "1.2.840.10008.1.2.4.100";
    ImdDicomDataSet *d = encapsulated(mpeg, "\0\0\1\xb3", 4);
    REQUIRE(d != NULL);
    char message[512];
    CHECK_INT(format_error(d, message, sizeof message), IMD_ERR_UNSUPPORTED);
    CHECK_STR(message,
              "cannot decode MPEG2 Main Profile / Main Level (1.2.840.10008.1.2.4.100) (video)");
    /* decode_frame says the same, even with a format made by hand. */
    ImdPixelFormat f = {.rows = 2, .columns = 2, .frames = 1, .bits_allocated = 8,
                        .bits_stored = 8, .high_bit = 7, .samples_per_pixel = 1,
                        .photometric = "MONOCHROME2", .slope = 1};
    uint8_t out[4];
    ImdError *error = NULL;
    CHECK_FAILS(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_UINT8, out, 2, 2),
                IMD_ERR_UNSUPPORTED);
    imd_dicom_dataset_destroy(d);

    /* An unknown UID, and newer syntaxes our dictionary does not name. */
    d = encapsulated("1.2.3.4.5", "abcd", 4);
    REQUIRE(d != NULL);
    CHECK_INT(format_error(d, message, sizeof message), IMD_ERR_UNSUPPORTED);
    CHECK_STR(message, "cannot decode an unknown transfer syntax (1.2.3.4.5)");
    imd_dicom_dataset_destroy(d);
    d = encapsulated("1.2.840.10008.1.2.4.112", "\xff\x0a\0\0", 4);
    REQUIRE(d != NULL);
    CHECK_INT(format_error(d, message, sizeof message), IMD_ERR_UNSUPPORTED);
    CHECK(strstr(message, "cannot decode JPEG XL (1.2.840.10008.1.2.4.112)") == message);
    imd_dicom_dataset_destroy(d);

    /* A decodable syntax with a damaged frame: CORRUPT at decoding, not at the header. */
    d = encapsulated("1.2.840.10008.1.2.4.50", "\xff\xd8\xff\xd9", 4);
    REQUIRE(d != NULL);
    CHECK_INT(format_error(d, message, sizeof message), 0);
    CHECK_FAILS(error, imd__dicom_decode_frame(&error, d, &f, 0, IMD_DTYPE_UINT8, out, 2, 2),
                IMD_ERR_CORRUPT);
    imd_dicom_dataset_destroy(d);

    /* A compressed syntax whose pixel data is not encapsulated is corrupt. */
    Bytes h = {0};
    part10(&h, "1.2.840.10008.1.2.4.90");
    image_pixel(&h, 2, 2, 16);
    d = parse(&h);
    REQUIRE(d != NULL);
    CHECK_INT(format_error(d, message, sizeof message), 0); /* no pixel data: header only */
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(big_endian)
{
    /* Explicit VR Big Endian: 16-bit samples in OB (not swapped by the parser) and
     * 32-bit samples in OW (swapped as 16-bit words by the parser). */
    Bytes b = {0};
    part10(&b, IMD_UID_EXPLICIT_VR_BE);
    b.big = true;
    image_pixel(&b, 1, 3, 16);
    long_header(&b, 0x7fe0, 0x0010, "OB", 6);
    put16(&b, 0x1234);
    put16(&b, 0xfffe);
    put16(&b, 0x0001);
    ImdDicomDataSet *d = parse(&b);
    REQUIRE(d != NULL);
    uint16_t u16[3];
    if (decode(d, 0, IMD_DTYPE_UINT16, u16)) {
        CHECK_INT(u16[0], 0x1234);
        CHECK_INT(u16[1], 0xfffe);
        CHECK_INT(u16[2], 1);
    }
    imd_dicom_dataset_destroy(d);

    Bytes w = {0};
    part10(&w, IMD_UID_EXPLICIT_VR_BE);
    w.big = true;
    image_pixel(&w, 1, 2, 32);
    long_header(&w, 0x7fe0, 0x0010, "OW", 8);
    put32(&w, 0x12345678u);
    put32(&w, 70000);
    d = parse(&w);
    REQUIRE(d != NULL);
    uint32_t u32[2];
    if (decode(d, 0, IMD_DTYPE_UINT32, u32)) {
        CHECK_INT(u32[0], 0x12345678u);
        CHECK_INT(u32[1], 70000);
    }
    imd_dicom_dataset_destroy(d);
}

/* ---- the series' element type ---- */

static ImdPixelFormat fmt(unsigned bits, unsigned representation, unsigned samples)
{
    ImdPixelFormat f = {.rows = 4, .columns = 4, .frames = 1, .bits_allocated = (uint16_t)bits,
                        .bits_stored = (uint16_t)bits, .high_bit = (uint16_t)(bits - 1),
                        .pixel_representation = (uint16_t)representation,
                        .samples_per_pixel = (uint16_t)samples, .slope = 1};
    snprintf(f.photometric, sizeof f.photometric, "%s", samples == 3 ? "RGB" : "MONOCHROME2");
    return f;
}

IMD_TEST(series_dtype_rules)
{
    ImdPixelFormat f[4];
    CHECK_INT(imd__dicom_series_dtype(NULL, 0), IMD_DTYPE_UINT16);
    f[0] = fmt(16, 0, 1);
    CHECK_INT(imd__dicom_series_dtype(f, 1), IMD_DTYPE_UINT16);
    /* Mixed signedness, decided from every file (not the first only): unsigned
     * files using all 16 bits would be clipped by int16, so int32. */
    f[1] = fmt(16, 0, 1);
    f[2] = fmt(16, 1, 1);
    CHECK_INT(imd__dicom_series_dtype(f, 3), IMD_DTYPE_INT32);
    CHECK_INT(imd__dicom_series_dtype(f, 2), IMD_DTYPE_UINT16);
    /* ... but 12 stored bits fit int16. */
    f[0].bits_stored = f[1].bits_stored = 12;
    f[0].high_bit = f[1].high_bit = 11;
    CHECK_INT(imd__dicom_series_dtype(f, 3), IMD_DTYPE_INT16);
    /* One rescaled image anywhere: float64. */
    f[3] = fmt(16, 0, 1);
    f[3].intercept = -1024;
    CHECK_INT(imd__dicom_series_dtype(f, 4), IMD_DTYPE_FLOAT64);
    f[3].intercept = 0;
    f[3].slope = 1.5;
    CHECK_INT(imd__dicom_series_dtype(f + 3, 1), IMD_DTYPE_FLOAT64);
    f[3].slope = 1.00005;
    CHECK_INT(imd__dicom_series_dtype(f + 3, 1), IMD_DTYPE_UINT16);
    /* 8 bits. */
    f[0] = fmt(8, 0, 1);
    CHECK_INT(imd__dicom_series_dtype(f, 1), IMD_DTYPE_UINT8);
    f[1] = fmt(8, 1, 1);
    CHECK_INT(imd__dicom_series_dtype(f, 2), IMD_DTYPE_INT16); /* full-range uint8 + int8 */
    /* 8 and 16 bits: the wider. */
    f[1] = fmt(16, 0, 1);
    CHECK_INT(imd__dicom_series_dtype(f, 2), IMD_DTYPE_UINT16);
    /* 32 bits (the original read them into uint16). */
    f[0] = fmt(32, 0, 1);
    CHECK_INT(imd__dicom_series_dtype(f, 1), IMD_DTYPE_UINT32);
    f[1] = fmt(16, 1, 1);
    CHECK_INT(imd__dicom_series_dtype(f, 2), IMD_DTYPE_INT64); /* 32 unsigned bits + signed */
    /* RGB: colour wins, even over a rescale. */
    f[0] = fmt(8, 0, 3);
    CHECK_INT(imd__dicom_series_dtype(f, 1), IMD_DTYPE_RGB8);
    f[1] = fmt(8, 0, 1);
    f[1].slope = 2;
    CHECK_INT(imd__dicom_series_dtype(f, 2), IMD_DTYPE_RGB8);
    /* 1 bit: bool; mixed with 8 bits: uint8. */
    f[0] = fmt(1, 0, 1);
    f[1] = fmt(1, 0, 1);
    CHECK_INT(imd__dicom_series_dtype(f, 2), IMD_DTYPE_BOOL);
    f[1] = fmt(8, 0, 1);
    CHECK_INT(imd__dicom_series_dtype(f, 2), IMD_DTYPE_UINT8);
}

/* ---- the pydicom oracle ---- */

static const char oracle_script[] =
    "import os, sys, glob, warnings\n"
    "try:\n"
    "    import numpy as np\n"
    "    import pydicom\n"
    "    from pydicom.pixel_data_handlers.util import convert_color_space, apply_modality_lut\n"
    "except Exception:\n"
    "    sys.exit(3)\n"
    "warnings.simplefilter('ignore')\n"
    "out = sys.argv[1]\n"
    "base = os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files')\n"
    "NATIVE = {'1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99',\n"
    "          '1.2.840.10008.1.2.2'}\n"
    "K_CB_G = 0.114 * 1.772 / 0.587\n"
    "K_CR_G = 0.299 * 1.402 / 0.587\n"
    "def ybr_to_rgb(a):\n"
    "    f = a.astype(np.float64)\n"
    "    y, cb, cr = f[..., 0], f[..., 1] - 128.0, f[..., 2] - 128.0\n"
    "    rgb = np.stack([y + 1.402 * cr, y - K_CB_G * cb - K_CR_G * cr, y + 1.772 * cb], -1)\n"
    "    return np.clip(np.floor(rgb + 0.5), 0, 255).astype(np.uint8)\n"
    "lines = []\n"
    "def line(*fields):\n"
    "    lines.append('\\t'.join(str(x).replace('\\t', ' ').replace('\\n', ' ')\n"
    "                           for x in fields))\n"
    "for n, path in enumerate(sorted(glob.glob(os.path.join(base, '*.dcm')))):\n"
    "    name = os.path.basename(path)\n"
    "    try:\n"
    "        ds = pydicom.dcmread(path, force=True)\n"
    "    except Exception:\n"
    "        continue\n"
    "    if 'PixelData' not in ds:\n"
    "        continue\n"
    "    meta = ds.file_meta\n"
    "    ts = str(meta.get('TransferSyntaxUID', ''))\n"
    "    if not ts:\n"
    "        ts = ('1.2.840.10008.1.2' if ds.is_implicit_VR else\n"
    "              '1.2.840.10008.1.2.1' if ds.is_little_endian else '1.2.840.10008.1.2.2')\n"
    "        meta.TransferSyntaxUID = ts\n"
    "    if ts not in NATIVE:\n"
    "        line(name, path, 'compressed', ts)\n"
    "        continue\n"
    "    try:\n"
    "        arr = ds.pixel_array\n"
    "        frames = int(ds.get('NumberOfFrames', 1) or 1)\n"
    "        rows, cols, spp = int(ds.Rows), int(ds.Columns), int(ds.SamplesPerPixel)\n"
    "        alloc, stored = int(ds.BitsAllocated), int(ds.BitsStored)\n"
    "        high, pr = int(ds.get('HighBit', stored - 1)), int(ds.PixelRepresentation)\n"
    "    except Exception as e:\n"
    "        line(name, path, 'error', type(e).__name__ + ': ' + str(e))\n"
    "        continue\n"
    "    arr = arr.reshape((frames, rows, cols, 3) if spp == 3 else (frames, rows, cols))\n"
    "    arr = arr.astype(arr.dtype.newbyteorder('<'))\n"
    "    notes = []\n"
    "    expected = arr\n"
    "    if alloc == 1:\n"
    "        dtype = 'bool'\n"
    "    elif spp == 3:\n"
    "        dtype = 'rgb8'\n"
    "    else:\n"
    "        dtype = ('int' if pr else 'uint') + str(alloc)\n"
    "    if alloc > 1 and (stored != alloc or high != stored - 1):\n"
    "        v = (arr.astype(np.int64) & ((1 << alloc) - 1)) >> (high + 1 - stored)\n"
    "        v &= (1 << stored) - 1\n"
    "        if pr:\n"
    "            v = np.where(v >= (1 << (stored - 1)), v - (1 << stored), v)\n"
    "        expected = v.astype(arr.dtype)\n"
    "        differ = int(np.count_nonzero(expected != arr))\n"
    "        if differ:\n"
    "            notes.append('pydicom does not mask to BitsStored %d/HighBit %d: %d samples'\n"
    "                         % (stored, high, differ))\n"
    "    photometric = str(ds.PhotometricInterpretation).strip()\n"
    "    if spp == 3 and photometric in ('YBR_FULL', 'YBR_FULL_422'):\n"
    "        rgb = ybr_to_rgb(expected)\n"
    "        theirs = convert_color_space(expected, 'YBR_FULL', 'RGB')\n"
    "        notes.append('pydicom keeps %s (the standard: RGB); its convert_color_space '\n"
    "                     'differs from ours in %d samples (max %d)' % (photometric,\n"
    "                     int(np.count_nonzero(theirs != rgb)),\n"
    "                     int(np.abs(theirs.astype(int) - rgb.astype(int)).max())))\n"
    "        expected = rgb\n"
    "    raw = os.path.join(out, '%d.raw' % n)\n"
    "    np.ascontiguousarray(expected).tofile(raw)\n"
    "    rescaled = '-'\n"
    "    if 'RescaleSlope' in ds and 'RescaleIntercept' in ds and spp == 1:\n"
    "        rescaled = os.path.join(out, '%d.f64' % n)\n"
    "        m = apply_modality_lut(expected, ds).astype('<f8')\n"
    "        np.ascontiguousarray(m).tofile(rescaled)\n"
    "    line(name, path, 'ok', '; '.join(notes) or '-', frames, rows, cols, dtype, raw,\n"
    "         rescaled)\n"
    "with open(os.path.join(out, 'manifest.tsv'), 'w') as f:\n"
    "    f.write(''.join(l + '\\n' for l in lines))\n";

static void *read_all(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    size_t capacity = 1 << 16, used = 0;
    uint8_t *data = malloc(capacity);
    while (data != NULL) {
        if (used == capacity) {
            uint8_t *grown = realloc(data, capacity * 2);
            if (grown == NULL) {
                free(data);
                data = NULL;
                break;
            }
            data = grown;
            capacity *= 2;
        }
        size_t n = fread(data + used, 1, capacity - used, file);
        if (n == 0) {
            break;
        }
        used += n;
    }
    fclose(file);
    *size = used;
    return data;
}

/* Split `line` at tabs in place; returns the number of fields. */
static size_t split(char *line, char **fields, size_t most)
{
    size_t count = 0;
    line[strcspn(line, "\n")] = '\0';
    while (count < most) {
        fields[count++] = line;
        char *tab = strchr(line, '\t');
        if (tab == NULL) {
            break;
        }
        *tab = '\0';
        line = tab + 1;
    }
    return count;
}

typedef struct OracleCounts {
    int files, frames, compressed, compressed_refused, shared_errors, disagreements;
} OracleCounts;

/* One "ok" line: every frame decoded to the natural type equals pydicom's (or the standard's). */
static void oracle_image(char **field, OracleCounts *counts)
{
    const char *name = field[0], *path = field[1], *notes = field[3];
    size_t frames = strtoul(field[4], NULL, 10), rows = strtoul(field[5], NULL, 10);
    size_t columns = strtoul(field[6], NULL, 10);
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_file(&error, path, NULL);
    if (d == NULL) {
        IMD_FAIL_AT("%s: %s", name, imd_error_message(error));
        imd_error_clear(&error);
        return;
    }
    ImdPixelFormat f;
    if (!imd__dicom_pixel_format(&error, d, &f)) {
        IMD_FAIL_AT("%s: %s", name, imd_error_message(error));
        imd_error_clear(&error);
        imd_dicom_dataset_destroy(d);
        return;
    }
    CHECK_INT(f.frames, frames);
    CHECK_INT(f.rows, rows);
    CHECK_INT(f.columns, columns);
    ImdPixelFormat plain = f;
    plain.slope = 1;
    plain.intercept = 0;
    ImdDType natural = imd__dicom_series_dtype(&plain, 1);
    if (strcmp(imd_dtype_name(natural), field[7]) != 0) {
        IMD_FAIL_AT("%s: natural type %s, pydicom %s", name, imd_dtype_name(natural), field[7]);
    }
    size_t expected_size = 0, rescaled_size = 0;
    uint8_t *expected = read_all(field[8], &expected_size);
    double *rescaled = strcmp(field[9], "-") != 0 ? read_all(field[9], &rescaled_size) : NULL;
    size_t element = imd_dtype_size(natural), pixels = f.rows * (size_t)f.columns;
    size_t frame_bytes = pixels * element;
    uint8_t *out = malloc(frame_bytes);
    double *out64 = malloc(pixels * sizeof(double));
    bool all = expected != NULL && out != NULL && out64 != NULL &&
               expected_size == frame_bytes * f.frames;
    if (!all) {
        IMD_FAIL_AT("%s: expectation of %zu bytes, %zu frames of %zu expected", name,
                    expected_size, (size_t)f.frames, frame_bytes);
    }
    for (size_t frame = 0; all && frame < f.frames; frame++) {
        if (!imd__dicom_decode_frame(&error, d, &f, frame, natural, out, f.rows, f.columns)) {
            IMD_FAIL_AT("%s frame %zu: %s", name, frame, imd_error_message(error));
            imd_error_clear(&error);
            all = false;
            break;
        }
        const uint8_t *want = expected + frame * frame_bytes;
        if (memcmp(out, want, frame_bytes) != 0) {
            size_t at = 0;
            while (out[at] == want[at]) {
                at++;
            }
            IMD_FAIL_AT("%s frame %zu differs from pydicom at byte %zu (%u, expected %u)", name,
                        frame, at, out[at], want[at]);
            all = false;
            continue;
        }
        if (rescaled != NULL && rescaled_size == pixels * sizeof(double) * f.frames) {
            if (!imd__dicom_decode_frame(&error, d, &f, frame, IMD_DTYPE_FLOAT64, out64, f.rows,
                                         f.columns)) {
                IMD_FAIL_AT("%s frame %zu: %s", name, frame, imd_error_message(error));
                imd_error_clear(&error);
                all = false;
                continue;
            }
            size_t bad = 0;
            for (size_t i = 0; i < pixels; i++) {
                double w = rescaled[frame * pixels + i];
                bad += !(fabs(out64[i] - w) <= 1e-9 * (1 + fabs(w)));
            }
            if (bad != 0) {
                IMD_FAIL_AT("%s frame %zu: %zu rescaled values differ", name, frame, bad);
                all = false;
            }
        }
        counts->frames++;
    }
    if (all) {
        counts->files++;
        fprintf(stderr, "  %s: %zu frame%s of %zu x %zu %s match%s%s\n", name, (size_t)f.frames,
                f.frames == 1 ? "" : "s", rows, columns, imd_dtype_name(natural),
                f.frames == 1 ? "es" : "", rescaled != NULL ? " (and rescaled to float64)" : "");
    }
    if (strcmp(notes, "-") != 0) {
        counts->disagreements++;
        fprintf(stderr, "  pydicom and the standard disagree on %s: %s (the standard's answer "
                        "is asserted)\n",
                name, notes);
    }
    free(out);
    free(out64);
    free(expected);
    free(rescaled);
    imd_dicom_dataset_destroy(d);
}

/* pydicom could not decode: neither may we (a truncated or broken file). */
static void oracle_error(char **field, OracleCounts *counts)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_file(&error, field[1], NULL);
    ImdPixelFormat f;
    bool ok = d != NULL && imd__dicom_pixel_format(&error, d, &f);
    for (size_t frame = 0; ok && frame < f.frames; frame++) {
        size_t size = f.rows * (size_t)f.columns * 8 * 3;
        void *out = malloc(size);
        ImdDType dtype = imd__dicom_series_dtype(&f, 1);
        ok = out != NULL &&
             imd__dicom_decode_frame(&error, d, &f, frame, dtype, out, f.rows, f.columns);
        free(out);
    }
    if (ok) {
        IMD_FAIL_AT("%s: pydicom fails (%s), we decode it", field[0], field[3]);
    } else {
        fprintf(stderr, "  %s: both fail: pydicom: %s; we: %s\n", field[0], field[3],
                imd_error_message(error));
        counts->shared_errors++;
    }
    imd_error_clear(&error);
    imd_dicom_dataset_destroy(d);
}

/* A compressed file: its header is accepted and every frame decodes (the values are
 * compared with pydicom, dcmtk and gdcm by integration.dicom_codec_pydicom). Known
 * exceptions: 16/32-bit colour (the series reader's RGB is 8-bit) and pydicom's
 * parser test whose codestream is not an image. */
static void oracle_compressed(char **field, OracleCounts *counts)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_file(&error, field[1], NULL);
    if (d == NULL) {
        IMD_FAIL_AT("%s: %s", field[0], imd_error_message(error));
        imd_error_clear(&error);
        return;
    }
    ImdPixelFormat f;
    if (!imd__dicom_pixel_format(&error, d, &f)) {
        if (imd_error_code(error) == IMD_ERR_UNSUPPORTED &&
            strstr(imd_error_message(error), "colour (RGB) with BitsAllocated") != NULL) {
            counts->compressed_refused++;
        } else {
            IMD_FAIL_AT("%s (%s): %s", field[0], field[3], imd_error_message(error));
        }
        imd_error_clear(&error);
        imd_dicom_dataset_destroy(d);
        return;
    }
    ImdDType dtype = imd__dicom_series_dtype(&f, 1);
    size_t bytes = (size_t)f.rows * f.columns * imd_dtype_size(dtype);
    uint8_t *out = malloc(bytes);
    bool ok = out != NULL;
    for (size_t frame = 0; ok && frame < f.frames; frame++) {
        ok = imd__dicom_decode_frame(&error, d, &f, frame, dtype, out, f.rows, f.columns);
    }
    free(out);
    if (ok) {
        counts->compressed++;
    } else if (strcmp(field[0], "JPEG2000-embedded-sequence-delimiter.dcm") == 0 &&
               imd_error_code(error) == IMD_ERR_CORRUPT) {
        counts->compressed_refused++;
    } else {
        IMD_FAIL_AT("%s (%s): %s", field[0], field[3], imd_error_message(error));
    }
    imd_error_clear(&error);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(pydicom_oracle)
{
    const char *python = getenv("IMD_PYTHON");
    const char *tmp = getenv("IMD_TEST_TMP");
    if (python == NULL || python[0] == '\0') {
        IMD_SKIP("IMD_PYTHON is not set: pydicom, the oracle of this case, cannot run");
    }
    char dir[1024], script_path[1100], manifest[1100], command[4096];
    snprintf(dir, sizeof dir, "%s/dicom_pixel_%d", tmp ? tmp : "/tmp", (int)getpid());
    REQUIRE(mkdir(dir, 0700) == 0 || errno == EEXIST);
    snprintf(script_path, sizeof script_path, "%s/oracle.py", dir);
    snprintf(manifest, sizeof manifest, "%s/manifest.tsv", dir);
    FILE *script = fopen(script_path, "w");
    REQUIRE(script != NULL);
    fputs(oracle_script, script);
    fclose(script);
    snprintf(command, sizeof command, "'%s' '%s' '%s'", python, script_path, dir);
    int status = system(command);
    remove(script_path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
        rmdir(dir);
        IMD_SKIP("numpy or pydicom is not installed for %s", python);
    }
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        rmdir(dir);
        IMD_FAIL_AT("the oracle script failed (status %d)", status);
        return;
    }
    FILE *file = fopen(manifest, "r");
    REQUIRE(file != NULL);
    OracleCounts counts = {0};
    int lines = 0;
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, file) > 0) {
        char *field[10];
        size_t n = split(line, field, 10);
        lines++;
        if (n == 10 && strcmp(field[2], "ok") == 0) {
            oracle_image(field, &counts);
            remove(field[8]);
            if (strcmp(field[9], "-") != 0) {
                remove(field[9]);
            }
        } else if (n == 4 && strcmp(field[2], "error") == 0) {
            oracle_error(field, &counts);
        } else if (n == 4 && strcmp(field[2], "compressed") == 0) {
            oracle_compressed(field, &counts);
        } else {
            IMD_FAIL_AT("bad oracle line %d", lines);
        }
    }
    free(line);
    fclose(file);
    remove(manifest);
    rmdir(dir);
    fprintf(stderr,
            "pydicom oracle: %d files with pixel data; %d uncompressed files (%d frames) match, "
            "%d with the standard's answer where pydicom differs; %d compressed decoded, "
            "%d refused; %d that pydicom cannot decode fail here too\n",
            lines, counts.files, counts.frames, counts.disagreements, counts.compressed,
            counts.compressed_refused, counts.shared_errors);
    CHECK(counts.files >= 15); /* pydicom 2.3 ships 21 decodable uncompressed files */
    CHECK(counts.compressed >= 28);
    CHECK(counts.compressed_refused <= 5);
}

IMD_TEST_MAIN(IMD_CASE(eight_bits), IMD_CASE(sixteen_bits), IMD_CASE(thirty_two_bits),
              IMD_CASE(bits_stored_12), IMD_CASE(one_bit_packed), IMD_CASE(rgb_planar),
              IMD_CASE(ybr_full), IMD_CASE(ybr_full_422), IMD_CASE(rescale_per_image),
              IMD_CASE(padding), IMD_CASE(truncated_pixel_data),
              IMD_CASE(inconsistent_attributes), IMD_CASE(encapsulated_unsupported),
              IMD_CASE(big_endian), IMD_CASE(series_dtype_rules), IMD_CASE(pydicom_oracle))
