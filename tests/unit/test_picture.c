/*
 * test_picture.c: the picture formats png, jpeg and tiff
 * (src/formats/picture; docs/formats.md).
 *
 * - Round trips through imd_write and imd_read: PNG uint8, uint16 and RGB
 *   exact; TIFF uint8, uint16, int16, float32, RGB exact, with every
 *   compression; JPEG within tolerance; a 3D series as numbered files
 *   (Image_00000.png ...) read back as the same stack; a 4D series numbered
 *   slice-fastest, or tag-fastest with output_sort=tag.
 * - Windowing to 8 bits: int16 with negative values to PNG and uint16 to
 *   JPEG use the series' window (PS3.3 C.11.2.1.2.1) when set, else the
 *   1-99 % range; the expected bytes are computed here from the formula.
 * - A multi-page TIFF (made by the encoder) reads as a 3D stack.
 * - Hostile files: huge dimensions, decompression bombs, truncated files
 *   give CORRUPT or LIMIT before any pixel memory is allocated (the memory
 *   limit of the context is set low to prove it), never a crash.
 * The pictures are checked against PIL in tests/integration/pictures.sh.
 */
#define _XOPEN_SOURCE 700
#include "imd_test.h"
#include "imd_test_files.h"

#include "formats/picture/picture.h"

#include <zlib.h>

/* ---- helpers ---- */

static ImdSeries *make_series(ImdDType dtype, size_t ndim, const size_t *shape)
{
    ImdSeries *series = imd_series_create(NULL, dtype, ndim, shape);
    if (series == NULL) {
        return NULL;
    }
    uint8_t *data = imd_series_data(series);
    size_t n = imd_series_count(series);
    for (size_t i = 0; i < n; i++) {
        switch (dtype) {
        case IMD_DTYPE_UINT8: data[i] = (uint8_t)(i * 7 + i / 13); break;
        case IMD_DTYPE_RGB8:
            data[3 * i] = (uint8_t)i;
            data[3 * i + 1] = (uint8_t)(i * 3);
            data[3 * i + 2] = (uint8_t)(255 - i);
            break;
        case IMD_DTYPE_UINT16: ((uint16_t *)(void *)data)[i] = (uint16_t)(i * 263 + 5); break;
        case IMD_DTYPE_INT16: ((int16_t *)(void *)data)[i] = (int16_t)((int)(i * 97 % 4000) - 2000); break;
        case IMD_DTYPE_FLOAT32: ((float *)(void *)data)[i] = (float)i * 0.37f - 11.5f; break;
        default: break;
        }
    }
    return series;
}

static bool same_data(const ImdSeries *a, const ImdSeries *b)
{
    return imd_series_dtype(a) == imd_series_dtype(b) && imd_series_ndim(a) == imd_series_ndim(b) &&
           imd_series_nbytes(a) == imd_series_nbytes(b) &&
           memcmp(imd_series_const_data(a), imd_series_const_data(b), imd_series_nbytes(a)) == 0;
}

static ImdSeries *read_one(const char *path, ImdError **error)
{
    return imd_read_one(error, NULL, path, NULL);
}

/* Read `bytes` as a file named `name` with the format's reader; the error code, 0 on success. */
static int decode_error(const ImdFormatPlugin *format, const uint8_t *bytes, size_t size,
                        uint64_t memory_limit, ImdSeries **out)
{
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(NULL);
    if (memory_limit != 0) {
        imd_context_set_memory_limit(context, memory_limit);
    }
    /* The decoders check the budget of the current context, as imd_read sets it. */
    const ImdContext *saved = imd__context_enter(context);
    void *reader = format->reader_create(&error, NULL, context);
    ImdStream *stream = imd_stream_open_memory(&error, bytes, size, "hostile", NULL, NULL);
    ImdSeriesList *list = NULL;
    if (reader != NULL && stream != NULL &&
        format->reader_add(&error, reader, NULL, "hostile", stream)) {
        list = format->reader_finish(&error, reader);
    }
    int code = error != NULL ? (int)imd_error_code(error) : 0;
    if (code != 0) {
        fprintf(stderr, "  (expected) %s\n", imd_error_message(error));
    }
    if (out != NULL && list != NULL && imd_series_list_count(list) > 0) {
        *out = imd_series_list_take(list, 0);
    }
    imd_series_list_destroy(list);
    imd_stream_close(NULL, stream);
    if (reader != NULL) {
        format->reader_destroy(reader);
    }
    imd__context_leave(saved);
    imd_context_destroy(context);
    imd_error_clear(&error);
    return code;
}

/* ---- round trips ---- */

static void round_trip(const char *format, const char *file, ImdDType dtype, size_t ndim,
                       const size_t *shape)
{
    char *folder = make_folder("picture");
    char *path = join(folder, file);
    ImdSeries *series = make_series(dtype, ndim, shape);
    ImdError *error = NULL;
    bool ok = imd_write(&error, NULL, series, path, format, NULL);
    if (!ok) {
        fprintf(stderr, "%s\n", imd_error_message(error));
    }
    CHECK(ok);
    ImdSeries *back = ok ? read_one(ndim == 2 ? path : folder, &error) : NULL;
    if (ok && back == NULL) {
        fprintf(stderr, "%s\n", imd_error_message(error));
    }
    CHECK(back != NULL && same_data(series, back));
    imd_series_destroy(back);
    imd_series_destroy(series);
    imd_error_clear(&error);
    remove_tree_at(folder);
    free(path);
    free(folder);
}

IMD_TEST(png_round_trips)
{
    size_t shape2[2] = {37, 53}, shape3[3] = {3, 20, 17};
    round_trip("png", "g8.png", IMD_DTYPE_UINT8, 2, shape2);
    round_trip("png", "g16.png", IMD_DTYPE_UINT16, 2, shape2);
    round_trip("png", "rgb.png", IMD_DTYPE_RGB8, 2, shape2);
    round_trip("png", "stack", IMD_DTYPE_UINT16, 3, shape3);
}

IMD_TEST(tiff_round_trips)
{
    size_t shape2[2] = {41, 29}, shape3[3] = {4, 11, 9};
    round_trip("tiff", "g8.tif", IMD_DTYPE_UINT8, 2, shape2);
    round_trip("tiff", "g16.tiff", IMD_DTYPE_UINT16, 2, shape2);
    round_trip("tiff", "s16.tif", IMD_DTYPE_INT16, 2, shape2);
    round_trip("tiff", "f32.tif", IMD_DTYPE_FLOAT32, 2, shape2);
    round_trip("tiff", "rgb.tif", IMD_DTYPE_RGB8, 2, shape2);
    round_trip("tiff", "stack", IMD_DTYPE_RGB8, 3, shape3);
}

IMD_TEST(tiff_compressions)
{
    size_t shape[2] = {64, 48};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 2, shape);
    const char *names[] = {"none", "deflate", "lzw", "packbits"};
    char *folder = make_folder("picture");
    for (size_t i = 0; i < 4; i++) {
        ImdOptions *options = imd_options_create(NULL);
        imd_options_set(NULL, options, "tiff_compression", names[i]);
        char file[64];
        snprintf(file, sizeof file, "c_%s.tif", names[i]);
        char *path = join(folder, file);
        ImdError *error = NULL;
        CHECK(imd_write(&error, NULL, series, path, "tiff", options));
        ImdSeries *back = read_one(path, &error);
        CHECK(back != NULL && same_data(series, back));
        imd_series_destroy(back);
        imd_error_clear(&error);
        imd_options_destroy(options);
        free(path);
    }
    ImdOptions *options = imd_options_create(NULL);
    imd_options_set(NULL, options, "tiff_compression", "zstd-ish");
    char *path = join(folder, "bad.tif");
    ImdError *error = NULL;
    CHECK(!imd_write(&error, NULL, series, path, "tiff", options));
    CHECK_INT(imd_error_code(error), IMD_ERR_INVALID_ARG);
    CHECK(access(path, F_OK) != 0);
    imd_error_clear(&error);
    imd_options_destroy(options);
    free(path);
    imd_series_destroy(series);
    remove_tree_at(folder);
    free(folder);
}

IMD_TEST(jpeg_round_trip_within_tolerance)
{
    size_t shape[2] = {64, 80};
    ImdSeries *series = imd_series_create(NULL, IMD_DTYPE_RGB8, 2, shape);
    REQUIRE(series != NULL);
    uint8_t *p = imd_series_data(series);
    for (size_t y = 0; y < 64; y++) { /* smooth gradients: JPEG keeps them closely */
        for (size_t x = 0; x < 80; x++) {
            uint8_t *q = p + 3 * (y * 80 + x);
            q[0] = (uint8_t)(x * 3);
            q[1] = (uint8_t)(y * 4);
            q[2] = (uint8_t)(128 + (x + y) / 2);
        }
    }
    char *folder = make_folder("picture");
    char *path = join(folder, "rgb.jpg");
    ImdError *error = NULL;
    CHECK(imd_write(&error, NULL, series, path, "jpeg", NULL));
    ImdSeries *back = read_one(path, &error);
    REQUIRE(back != NULL);
    CHECK_INT(imd_series_dtype(back), IMD_DTYPE_RGB8);
    CHECK_INT(imd_series_dim(back, 0), 64);
    CHECK_INT(imd_series_dim(back, 1), 80);
    const uint8_t *b = imd_series_const_data(back);
    double sum = 0;
    int worst = 0;
    for (size_t i = 0; i < 64 * 80 * 3; i++) {
        int d = abs((int)b[i] - (int)p[i]);
        sum += d;
        worst = d > worst ? d : worst;
    }
    fprintf(stderr, "  JPEG q95 RGB: mean |diff| %.3f, max %d\n", sum / (64 * 80 * 3), worst);
    CHECK(sum / (64 * 80 * 3) < 1.5);
    CHECK(worst <= 12);
    imd_series_destroy(back);
    imd_series_destroy(series);
    imd_error_clear(&error);
    remove_tree_at(folder);
    free(path);
    free(folder);
}

/* ---- naming ---- */

IMD_TEST(numbered_files_4d)
{
    size_t shape[4] = {2, 3, 4, 5}; /* tags, slices, rows, columns */
    ImdSeries *series = make_series(IMD_DTYPE_UINT8, 4, shape);
    const uint8_t *data = imd_series_const_data(series);
    for (int by_tag = 0; by_tag < 2; by_tag++) {
        char *folder = make_folder("picture");
        ImdOptions *options = imd_options_create(NULL);
        if (by_tag) {
            imd_options_set(NULL, options, "output_sort", "tag");
        }
        ImdError *error = NULL;
        char *out = join(folder, "out");
        CHECK(imd_write(&error, NULL, series, out, "png", options));
        CHECK_INT(count_entries(out), 6);
        for (size_t f = 0; f < 6; f++) {
            char name[64];
            snprintf(name, sizeof name, "out/Image_%05zu.png", f);
            char *path = join(folder, name);
            ImdSeries *one = read_one(path, &error);
            REQUIRE(one != NULL);
            size_t t = by_tag ? f % 2 : f / 3, s = by_tag ? f / 2 : f % 3;
            CHECK(memcmp(imd_series_const_data(one), data + (t * 3 + s) * 20, 20) == 0);
            imd_series_destroy(one);
            free(path);
        }
        /* A stack written to a name with the suffix: numbered beside it. */
        char *named = join(folder, "x.png");
        size_t shape3[3] = {2, 4, 5};
        ImdSeries *stack = make_series(IMD_DTYPE_UINT8, 3, shape3);
        CHECK(imd_write(&error, NULL, stack, named, "png", NULL));
        char *first = join(folder, "x_00000.png"), *second = join(folder, "x_00001.png");
        CHECK(access(first, F_OK) == 0 && access(second, F_OK) == 0);
        imd_series_destroy(stack);
        free(first);
        free(second);
        free(named);
        free(out);
        imd_options_destroy(options);
        imd_error_clear(&error);
        remove_tree_at(folder);
        free(folder);
    }
    imd_series_destroy(series);
}

/* ---- windowing ---- */

static uint8_t window_byte(double v, double low, double high)
{
    double y = (v - low) / (high - low) * 255.0;
    y = y < 0 ? 0 : y > 255 ? 255 : y;
    return (uint8_t)lround(y);
}

IMD_TEST(windowed_to_8_bits)
{
    size_t shape[2] = {50, 40};
    ImdSeries *series = make_series(IMD_DTYPE_INT16, 2, shape); /* -2000 .. 1999 */
    const int16_t *v = imd_series_const_data(series);
    char *folder = make_folder("picture");
    ImdError *error = NULL;
    /* No window: the 1-99 % range of the values, computed here the same way. */
    size_t n = 2000;
    double *sorted = malloc(n * sizeof *sorted);
    for (size_t i = 0; i < n; i++) {
        sorted[i] = v[i];
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort: small */
        double x = sorted[i];
        size_t j = i;
        while (j > 0 && sorted[j - 1] > x) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = x;
    }
    double low = sorted[(size_t)floor(0.01 * (double)(n - 1))];
    double high = sorted[(size_t)ceil(0.99 * (double)(n - 1))];
    free(sorted);
    char *path = join(folder, "w.png");
    CHECK(imd_write(&error, NULL, series, path, "png", NULL));
    ImdSeries *back = read_one(path, &error);
    REQUIRE(back != NULL);
    CHECK_INT(imd_series_dtype(back), IMD_DTYPE_UINT8);
    const uint8_t *b = imd_series_const_data(back);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        wrong += b[i] != window_byte(v[i], low, high);
    }
    CHECK_INT(wrong, 0);
    imd_series_destroy(back);
    /* The series' window, to JPEG (8-bit only): center 0, width 1001. */
    imd_header_set_window(imd_series_header(series), 0, 1001);
    char *jpeg = join(folder, "w.jpg");
    CHECK(imd_write(&error, NULL, series, jpeg, "jpeg", NULL));
    back = read_one(jpeg, &error);
    REQUIRE(back != NULL);
    b = imd_series_const_data(back);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += fabs((double)b[i] - window_byte(v[i], 0 - 0.5 - 500, 0 - 0.5 + 500));
    }
    fprintf(stderr, "  windowed JPEG: mean |diff| %.3f\n", sum / (double)n);
    CHECK(sum / (double)n < 8); /* the pattern is noisy: JPEG's worst case */
    imd_series_destroy(back);
    free(jpeg);
    free(path);
    imd_series_destroy(series);
    imd_error_clear(&error);
    remove_tree_at(folder);
    free(folder);
}

/* ---- multi-page TIFF ---- */

IMD_TEST(multipage_tiff_is_a_stack)
{
    uint8_t planes[3][6 * 4];
    ImdPicturePage pages[3];
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 24; i++) {
            planes[k][i] = (uint8_t)(k * 50 + i);
        }
        pages[k] = (ImdPicturePage){6, 4, IMD_DTYPE_UINT8, planes[k]};
    }
    uint8_t *bytes = NULL;
    size_t size = 0;
    ImdError *error = NULL;
    REQUIRE(imd__picture_tiff_encode(&error, pages, 3, "lzw", "pages.tif", &bytes, &size));
    ImdSeries *series = NULL;
    CHECK_INT(decode_error(&imd__tiff_format, bytes, size, 0, &series), 0);
    REQUIRE(series != NULL);
    CHECK_INT(imd_series_ndim(series), 3);
    CHECK_INT(imd_series_dim(series, 0), 3);
    CHECK_INT(imd_series_dim(series, 1), 4);
    CHECK_INT(imd_series_dim(series, 2), 6);
    CHECK(memcmp(imd_series_const_data(series), planes, sizeof planes) == 0);
    imd_series_destroy(series);
    /* Cut short: an error, not a short stack. */
    CHECK(decode_error(&imd__tiff_format, bytes, size / 2, 0, NULL) == IMD_ERR_CORRUPT);
    free(bytes);
}

/* ---- hostile files ---- */

static size_t put_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t length)
{
    out[0] = (uint8_t)(length >> 24);
    out[1] = (uint8_t)(length >> 16);
    out[2] = (uint8_t)(length >> 8);
    out[3] = (uint8_t)length;
    memcpy(out + 4, type, 4);
    if (length > 0) {
        memcpy(out + 8, data, length);
    }
    uLong crc = crc32(0, out + 4, 4 + length);
    out[8 + length] = (uint8_t)(crc >> 24);
    out[9 + length] = (uint8_t)(crc >> 16);
    out[10 + length] = (uint8_t)(crc >> 8);
    out[11 + length] = (uint8_t)crc;
    return 12 + length;
}

/* A PNG of `width` x `height` grey pixels whose IDAT holds a few deflated bytes. */
static size_t hostile_png(uint8_t *out, uint32_t width, uint32_t height)
{
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, signature, 8);
    size_t at = 8;
    uint8_t ihdr[13] = {(uint8_t)(width >> 24), (uint8_t)(width >> 16), (uint8_t)(width >> 8),
                        (uint8_t)width, (uint8_t)(height >> 24), (uint8_t)(height >> 16),
                        (uint8_t)(height >> 8), (uint8_t)height, 8, 0, 0, 0, 0};
    at += put_chunk(out + at, "IHDR", ihdr, 13);
    /* Filtered rows (a 0 filter byte each) when they are few, else 64 bytes only. */
    uint8_t zeros[128] = {0}, packed[256];
    uint64_t rows = ((uint64_t)width + 1) * height;
    uLongf length = sizeof packed;
    compress(packed, &length, zeros, rows <= sizeof zeros ? (uLong)rows : 64);
    at += put_chunk(out + at, "IDAT", packed, (uint32_t)length);
    at += put_chunk(out + at, "IEND", NULL, 0);
    return at;
}

IMD_TEST(png_hostile)
{
    uint8_t file[512];
    /* A bomb: 20000 x 20000 claimed by 100 bytes (400 MB from one deflate stream). */
    size_t size = hostile_png(file, 20000, 20000);
    CHECK_INT(decode_error(&imd__png_format, file, size, 1 << 20, NULL), IMD_ERR_CORRUPT);
    /* Beyond libpng's user limits. */
    size = hostile_png(file, 0x7fffffff, 1);
    CHECK_INT(decode_error(&imd__png_format, file, size, 1 << 20, NULL), IMD_ERR_CORRUPT);
    /* Width 0 is not PNG (IHDR). */
    size = hostile_png(file, 0, 5);
    CHECK_INT(decode_error(&imd__png_format, file, size, 0, NULL), IMD_ERR_CORRUPT);
    /* A small honest one reads; over the memory limit it is LIMIT. */
    size = hostile_png(file, 8, 8);
    ImdSeries *series = NULL;
    CHECK_INT(decode_error(&imd__png_format, file, size, 0, &series), 0);
    CHECK(series != NULL && imd_series_dim(series, 0) == 8);
    imd_series_destroy(series);
    CHECK_INT(decode_error(&imd__png_format, file, size, 32, NULL), IMD_ERR_LIMIT);
    /* Truncated anywhere: CORRUPT (or not PNG at all), never a crash. */
    for (size_t cut = 0; cut < size; cut++) {
        int code = decode_error(&imd__png_format, file, cut, 0, NULL);
        CHECK(code == IMD_ERR_CORRUPT || code == IMD_ERR_NOT_RECOGNIZED);
    }
    /* A damaged CRC. */
    file[20] ^= 0x40;
    CHECK_INT(decode_error(&imd__png_format, file, size, 0, NULL), IMD_ERR_CORRUPT);
}

IMD_TEST(jpeg_hostile)
{
    size_t shape[2] = {16, 16};
    ImdSeries *series = make_series(IMD_DTYPE_UINT8, 2, shape);
    ImdPicturePage page = {16, 16, IMD_DTYPE_UINT8, imd_series_data(series)};
    uint8_t *bytes = NULL;
    size_t size = 0;
    REQUIRE(imd__picture_jpeg_encode(NULL, &page, 90, "x.jpg", &bytes, &size));
    ImdSeries *back = NULL;
    CHECK_INT(decode_error(&imd__jpeg_format, bytes, size, 0, &back), 0);
    imd_series_destroy(back);
    /* Truncated: libjpeg would fill with grey and warn; we refuse. */
    for (size_t cut = 0; cut + 2 < size; cut += 7) {
        int code = decode_error(&imd__jpeg_format, bytes, cut, 0, NULL);
        CHECK(code == IMD_ERR_CORRUPT || code == IMD_ERR_NOT_RECOGNIZED);
    }
    /* The frame header claims 60000 x 60000: refused before decoding. */
    for (size_t i = 2; i + 9 < size; i++) {
        if (bytes[i] == 0xFF && bytes[i + 1] == 0xC0) { /* SOF0: Lf P Y X (T.81 B.2.2) */
            bytes[i + 5] = 0xEA;
            bytes[i + 6] = 0x60;
            bytes[i + 7] = 0xEA;
            bytes[i + 8] = 0x60;
            break;
        }
    }
    CHECK_INT(decode_error(&imd__jpeg_format, bytes, size, 1 << 20, NULL), IMD_ERR_CORRUPT);
    free(bytes);
    imd_series_destroy(series);
}

/* A little-endian TIFF whose one strip of `strip` bytes claims width x height grey pixels. */
static size_t hostile_tiff(uint8_t *out, uint32_t width, uint32_t height, uint32_t strip)
{
    static const uint16_t tags[8] = {256, 257, 258, 259, 262, 273, 278, 279};
    uint32_t values[8] = {width, height, 8, 1, 1, 0, height, strip};
    size_t ifd = 8, count = 8, data = ifd + 2 + count * 12 + 4;
    values[5] = (uint32_t)data;
    memcpy(out, "II*\0", 4);
    out[4] = (uint8_t)ifd;
    out[5] = out[6] = out[7] = 0;
    out[ifd] = (uint8_t)count;
    out[ifd + 1] = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t *e = out + ifd + 2 + i * 12;
        bool shortv = tags[i] == 258 || tags[i] == 259 || tags[i] == 262;
        e[0] = (uint8_t)tags[i];
        e[1] = (uint8_t)(tags[i] >> 8);
        e[2] = shortv ? 3 : 4; /* SHORT or LONG */
        e[3] = 0;
        e[4] = 1;
        e[5] = e[6] = e[7] = 0;
        e[8] = (uint8_t)values[i];
        e[9] = (uint8_t)(values[i] >> 8);
        e[10] = (uint8_t)(values[i] >> 16);
        e[11] = (uint8_t)(values[i] >> 24);
    }
    memset(out + ifd + 2 + count * 12, 0, 4);
    memset(out + data, 0x80, strip);
    return data + strip;
}

IMD_TEST(tiff_hostile)
{
    uint8_t file[512];
    size_t size = hostile_tiff(file, 4, 3, 12);
    ImdSeries *series = NULL;
    CHECK_INT(decode_error(&imd__tiff_format, file, size, 0, &series), 0);
    CHECK(series != NULL && imd_series_dim(series, 1) == 4 &&
          ((const uint8_t *)imd_series_const_data(series))[5] == 0x80);
    imd_series_destroy(series);
    /* 200000 x 200000 in 150 bytes. */
    size = hostile_tiff(file, 200000, 200000, 12);
    int code = decode_error(&imd__tiff_format, file, size, 1 << 20, NULL);
    CHECK(code == IMD_ERR_CORRUPT || code == IMD_ERR_LIMIT);
    size = hostile_tiff(file, 100000, 100000, 12);
    CHECK_INT(decode_error(&imd__tiff_format, file, size, 1 << 20, NULL), IMD_ERR_CORRUPT);
    /* The strip is shorter than the rows it must hold. */
    size = hostile_tiff(file, 40, 30, 12);
    CHECK_INT(decode_error(&imd__tiff_format, file, size, 0, NULL), IMD_ERR_CORRUPT);
    /* Cut anywhere. */
    size = hostile_tiff(file, 4, 3, 12);
    for (size_t cut = 0; cut < size; cut++) {
        code = decode_error(&imd__tiff_format, file, cut, 0, NULL);
        CHECK(code == IMD_ERR_CORRUPT || code == IMD_ERR_NOT_RECOGNIZED);
    }
}

IMD_TEST(probes)
{
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t jpeg[4] = {0xFF, 0xD8, 0xFF, 0xE0};
    CHECK(imd__png_format.probe(png, 8, "a") > 50);
    CHECK(imd__png_format.probe(jpeg, 4, "a") == 0);
    CHECK(imd__jpeg_format.probe(jpeg, 4, "a") > 50);
    CHECK(imd__tiff_format.probe((const uint8_t *)"II*\0", 4, "a") > 50);
    CHECK(imd__tiff_format.probe((const uint8_t *)"MM\0*", 4, "a") > 50);
    CHECK(imd__tiff_format.probe((const uint8_t *)"II*", 3, "a") == 0);
    CHECK(imd__postscript_format.probe((const uint8_t *)"%!PS-Adobe-3.0", 14, "a") > 50);
    CHECK(imd__postscript_format.probe((const uint8_t *)"%PDF-1.7", 8, "a") > 50);
    CHECK(imd__postscript_format.probe((const uint8_t *)"PDF", 3, "a") == 0);
}

IMD_TEST_MAIN(IMD_CASE(png_round_trips),
              IMD_CASE(tiff_round_trips),
              IMD_CASE(tiff_compressions),
              IMD_CASE(jpeg_round_trip_within_tolerance),
              IMD_CASE(numbered_files_4d),
              IMD_CASE(windowed_to_8_bits),
              IMD_CASE(multipage_tiff_is_a_stack),
              IMD_CASE(png_hostile),
              IMD_CASE(jpeg_hostile),
              IMD_CASE(tiff_hostile),
              IMD_CASE(probes))
