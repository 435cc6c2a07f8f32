/* test_dtype.c: element types, conversions between them, and statistics. */
#include "imd_test.h"
#include "model/model_internal.h"

#include <float.h>

static const ImdDType all_types[] = {
    IMD_DTYPE_BOOL,    IMD_DTYPE_UINT8,     IMD_DTYPE_INT8,       IMD_DTYPE_UINT16,
    IMD_DTYPE_INT16,   IMD_DTYPE_UINT32,    IMD_DTYPE_INT32,      IMD_DTYPE_UINT64,
    IMD_DTYPE_INT64,   IMD_DTYPE_FLOAT32,   IMD_DTYPE_FLOAT64,    IMD_DTYPE_COMPLEX64,
    IMD_DTYPE_COMPLEX128, IMD_DTYPE_RGB8,
};
#define TYPE_COUNT (sizeof all_types / sizeof all_types[0])

/* ---- names, sizes, predicates ------------------------------------------ */

IMD_TEST(names_and_sizes)
{
    static const char *const names[] = {"bool",   "uint8",   "int8",      "uint16",    "int16",
                                        "uint32", "int32",   "uint64",    "int64",     "float32",
                                        "float64", "complex64", "complex128", "rgb8"};
    static const size_t sizes[] = {1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 8, 16, 3};
    for (size_t i = 0; i < TYPE_COUNT; i++) {
        CHECK(imd_dtype_is_valid(all_types[i]));
        CHECK_STR(imd_dtype_name(all_types[i]), names[i]);
        CHECK_INT(imd_dtype_size(all_types[i]), sizes[i]);
        /* every name parses back to its type */
        ImdDType parsed = (ImdDType)0;
        CHECK(imd_dtype_from_name(names[i], &parsed));
        CHECK_INT(parsed, all_types[i]);
    }
    CHECK(!imd_dtype_is_valid((ImdDType)0));
    CHECK(!imd_dtype_is_valid((ImdDType)15));
    CHECK_INT(imd_dtype_size((ImdDType)0), 0);
    CHECK_INT(imd_dtype_size((ImdDType)15), 0);
    CHECK(imd_dtype_name((ImdDType)0) == NULL);
    CHECK(imd_dtype_name((ImdDType)99) == NULL);
}

IMD_TEST(aliases)
{
    ImdDType t = (ImdDType)0;
    CHECK(imd_dtype_from_name("int", &t));
    CHECK_INT(t, IMD_DTYPE_INT16);
    CHECK(imd_dtype_from_name("float", &t)); /* the original CLI crashes on it */
    CHECK_INT(t, IMD_DTYPE_FLOAT32);
    CHECK(imd_dtype_from_name("double", &t));
    CHECK_INT(t, IMD_DTYPE_FLOAT64);
    CHECK(imd_dtype_from_name("rgb", &t));
    CHECK_INT(t, IMD_DTYPE_RGB8);
    /* every --dtype choice of the original CLI */
    static const char *const cli[] = {"uint8", "uint16", "int16", "int",
                                      "float", "float32", "float64", "double"};
    for (size_t i = 0; i < sizeof cli / sizeof cli[0]; i++) {
        CHECK(imd_dtype_from_name(cli[i], NULL));
    }
    t = IMD_DTYPE_UINT8;
    CHECK(!imd_dtype_from_name("uint12", &t));
    CHECK(!imd_dtype_from_name("", &t));
    CHECK(!imd_dtype_from_name("float3", &t));
    CHECK(!imd_dtype_from_name(NULL, &t));
    CHECK_INT(t, IMD_DTYPE_UINT8); /* untouched on failure */
}

IMD_TEST(predicates)
{
    CHECK(imd_dtype_is_integer(IMD_DTYPE_BOOL));
    CHECK(imd_dtype_is_integer(IMD_DTYPE_UINT64));
    CHECK(imd_dtype_is_integer(IMD_DTYPE_INT8));
    CHECK(!imd_dtype_is_integer(IMD_DTYPE_FLOAT32));
    CHECK(!imd_dtype_is_integer(IMD_DTYPE_COMPLEX64));
    CHECK(!imd_dtype_is_integer(IMD_DTYPE_RGB8));

    CHECK(imd_dtype_is_signed(IMD_DTYPE_INT8));
    CHECK(imd_dtype_is_signed(IMD_DTYPE_INT64));
    CHECK(imd_dtype_is_signed(IMD_DTYPE_FLOAT32));
    CHECK(imd_dtype_is_signed(IMD_DTYPE_COMPLEX128));
    CHECK(!imd_dtype_is_signed(IMD_DTYPE_BOOL));
    CHECK(!imd_dtype_is_signed(IMD_DTYPE_UINT16));
    CHECK(!imd_dtype_is_signed(IMD_DTYPE_RGB8));

    CHECK(imd_dtype_is_float(IMD_DTYPE_FLOAT32));
    CHECK(imd_dtype_is_float(IMD_DTYPE_FLOAT64));
    CHECK(!imd_dtype_is_float(IMD_DTYPE_COMPLEX64));
    CHECK(!imd_dtype_is_float(IMD_DTYPE_INT32));

    CHECK(imd_dtype_is_complex(IMD_DTYPE_COMPLEX64));
    CHECK(imd_dtype_is_complex(IMD_DTYPE_COMPLEX128));
    CHECK(!imd_dtype_is_complex(IMD_DTYPE_FLOAT64));

    CHECK(!imd_dtype_is_integer((ImdDType)0));
    CHECK(!imd_dtype_is_signed((ImdDType)0));
    CHECK(!imd_dtype_is_float((ImdDType)0));
    CHECK(!imd_dtype_is_complex((ImdDType)0));
}

/* ---- shapes ------------------------------------------------------------- */

IMD_TEST(shape_count_and_strides)
{
    size_t shape[3] = {2, 3, 4}, count = 0, strides[3];
    CHECK(imd__shape_count(3, shape, &count));
    CHECK_INT(count, 24);
    imd__strides(3, shape, strides);
    CHECK_INT(strides[0], 12);
    CHECK_INT(strides[1], 4);
    CHECK_INT(strides[2], 1);
    CHECK(imd__shape_count(0, shape, &count));
    CHECK_INT(count, 1);
    size_t huge[3] = {SIZE_MAX / 2, 2, 2};
    count = 7;
    CHECK(!imd__shape_count(3, huge, &count));
    CHECK_INT(count, 7);
    size_t exact[2] = {SIZE_MAX / 3, 3};
    CHECK(imd__shape_count(2, exact, &count));
    CHECK(count == (SIZE_MAX / 3) * 3);
}

/* ---- conversions ------------------------------------------------------- */

IMD_TEST(float_to_integer_saturates)
{
    const double in[] = {300.7, -5.0, 1e30, NAN, -3.9, 3.9, INFINITY, -INFINITY, 254.99, -0.7};
    enum { N = sizeof in / sizeof in[0] };
    uint8_t u8[N];
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, in, IMD_DTYPE_UINT8, u8, N));
    const uint8_t want_u8[N] = {255, 0, 255, 0, 0, 3, 255, 0, 254, 0};
    for (size_t i = 0; i < N; i++) {
        CHECK_INT(u8[i], want_u8[i]);
    }
    int32_t i32[N];
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, in, IMD_DTYPE_INT32, i32, N));
    const int32_t want_i32[N] = {300, -5, INT32_MAX, 0, -3, 3, INT32_MAX, INT32_MIN, 254, 0};
    for (size_t i = 0; i < N; i++) {
        CHECK_INT(i32[i], want_i32[i]);
    }
    int16_t i16[N];
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, in, IMD_DTYPE_INT16, i16, N));
    const int16_t want_i16[N] = {300, -5, INT16_MAX, 0, -3, 3, INT16_MAX, INT16_MIN, 254, 0};
    for (size_t i = 0; i < N; i++) {
        CHECK_INT(i16[i], want_i16[i]);
    }
    /* float32 sources go the same way */
    const float f32[] = {300.7f, -5.0f, 1e30f, NAN, -3.9f, -40000.0f};
    int16_t from_f32[6];
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT32, f32, IMD_DTYPE_INT16, from_f32, 6));
    CHECK_INT(from_f32[0], 300);
    CHECK_INT(from_f32[1], -5);
    CHECK_INT(from_f32[2], INT16_MAX);
    CHECK_INT(from_f32[3], 0);
    CHECK_INT(from_f32[4], -3);
    CHECK_INT(from_f32[5], INT16_MIN);
    /* the limits of the 64-bit types: 2^63 and 2^64 are the first values out */
    const double big[] = {9223372036854775808.0, -9223372036854775808.0, -1e300,
                          18446744073709551616.0, 9223372036854774784.0};
    int64_t i64[5];
    uint64_t u64[5];
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, big, IMD_DTYPE_INT64, i64, 5));
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, big, IMD_DTYPE_UINT64, u64, 5));
    CHECK(i64[0] == INT64_MAX);
    CHECK(i64[1] == INT64_MIN);
    CHECK(i64[2] == INT64_MIN);
    CHECK(i64[3] == INT64_MAX);
    CHECK(i64[4] == INT64_C(9223372036854774784));
    CHECK(u64[0] == UINT64_C(9223372036854775808));
    CHECK(u64[1] == 0);
    CHECK(u64[3] == UINT64_MAX);
}

IMD_TEST(integer_to_integer_saturates)
{
    const int32_t in[] = {-5, 300, 70000, -70000, INT32_MIN, INT32_MAX, 0};
    uint8_t u8[7];
    int16_t i16[7];
    uint16_t u16[7];
    CHECK(imd__convert_elements(IMD_DTYPE_INT32, in, IMD_DTYPE_UINT8, u8, 7));
    CHECK(imd__convert_elements(IMD_DTYPE_INT32, in, IMD_DTYPE_INT16, i16, 7));
    CHECK(imd__convert_elements(IMD_DTYPE_INT32, in, IMD_DTYPE_UINT16, u16, 7));
    CHECK_INT(u8[0], 0);
    CHECK_INT(u8[1], 255);
    CHECK_INT(u8[6], 0);
    CHECK_INT(i16[1], 300);
    CHECK_INT(i16[2], INT16_MAX);
    CHECK_INT(i16[3], INT16_MIN);
    CHECK_INT(u16[2], 65535);
    CHECK_INT(u16[3], 0);
    CHECK_INT(u16[5], 65535);
    const uint32_t big[] = {UINT32_MAX, 2147483648u};
    int32_t i32[2];
    int8_t i8[2];
    CHECK(imd__convert_elements(IMD_DTYPE_UINT32, big, IMD_DTYPE_INT32, i32, 2));
    CHECK(imd__convert_elements(IMD_DTYPE_UINT32, big, IMD_DTYPE_INT8, i8, 2));
    CHECK_INT(i32[0], INT32_MAX);
    CHECK_INT(i32[1], INT32_MAX);
    CHECK_INT(i8[0], INT8_MAX);
}

IMD_TEST(int64_exact)
{
    /* 2^53 + 1 would round through a double: these must come through exact. */
    const int64_t in[] = {INT64_MAX, INT64_C(9007199254740993), -1, INT64_MIN};
    uint64_t u64[4];
    CHECK(imd__convert_elements(IMD_DTYPE_INT64, in, IMD_DTYPE_UINT64, u64, 4));
    CHECK(u64[0] == UINT64_C(9223372036854775807));
    CHECK(u64[1] == UINT64_C(9007199254740993));
    CHECK(u64[2] == 0);
    CHECK(u64[3] == 0);

    const uint64_t uin[] = {UINT64_C(9223372036854775807), UINT64_MAX,
                            UINT64_C(9007199254740993), UINT64_C(9223372036854775808)};
    int64_t i64[4];
    CHECK(imd__convert_elements(IMD_DTYPE_UINT64, uin, IMD_DTYPE_INT64, i64, 4));
    CHECK(i64[0] == INT64_MAX);
    CHECK(i64[1] == INT64_MAX); /* uint64 max saturates */
    CHECK(i64[2] == INT64_C(9007199254740993));
    CHECK(i64[3] == INT64_MAX);

    int32_t i32[4];
    CHECK(imd__convert_elements(IMD_DTYPE_INT64, in, IMD_DTYPE_INT32, i32, 4));
    CHECK_INT(i32[0], INT32_MAX);
    CHECK_INT(i32[2], -1);
    CHECK_INT(i32[3], INT32_MIN);

    double f64[2];
    CHECK(imd__convert_elements(IMD_DTYPE_UINT64, uin, IMD_DTYPE_FLOAT64, f64, 2));
    CHECK(f64[1] == 18446744073709551615.0);
    float f32[2];
    CHECK(imd__convert_elements(IMD_DTYPE_INT64, in, IMD_DTYPE_FLOAT32, f32, 2));
    CHECK(f32[0] == 9223372036854775808.0f);
}

IMD_TEST(float_targets)
{
    const double in[] = {1e300, -1e300, INFINITY, NAN, 0.1};
    float f32[5];
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, in, IMD_DTYPE_FLOAT32, f32, 5));
    CHECK(f32[0] == FLT_MAX);
    CHECK(f32[1] == -FLT_MAX);
    CHECK(isinf(f32[2]) && f32[2] > 0);
    CHECK(isnan(f32[3]));
    CHECK(f32[4] == 0.1f);
    double back[5];
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT32, f32, IMD_DTYPE_FLOAT64, back, 5));
    CHECK(back[4] == (double)0.1f);
    const int16_t small[] = {-32768, 7};
    double d[2];
    CHECK(imd__convert_elements(IMD_DTYPE_INT16, small, IMD_DTYPE_FLOAT64, d, 2));
    CHECK(d[0] == -32768.0 && d[1] == 7.0);
}

IMD_TEST(complex)
{
    const double c128[] = {1.5, -2.0, -3.9, 7.0, 300.0, 1.0};
    float f32[3];
    CHECK(imd__convert_elements(IMD_DTYPE_COMPLEX128, c128, IMD_DTYPE_FLOAT32, f32, 3));
    CHECK(f32[0] == 1.5f && f32[1] == -3.9f && f32[2] == 300.0f);
    int16_t i16[3];
    CHECK(imd__convert_elements(IMD_DTYPE_COMPLEX128, c128, IMD_DTYPE_INT16, i16, 3));
    CHECK_INT(i16[0], 1);
    CHECK_INT(i16[1], -3);
    uint8_t u8[3];
    CHECK(imd__convert_elements(IMD_DTYPE_COMPLEX128, c128, IMD_DTYPE_UINT8, u8, 3));
    CHECK_INT(u8[2], 255);
    /* complex to complex keeps both parts */
    float c64[6];
    CHECK(imd__convert_elements(IMD_DTYPE_COMPLEX128, c128, IMD_DTYPE_COMPLEX64, c64, 3));
    CHECK(c64[0] == 1.5f && c64[1] == -2.0f && c64[3] == 7.0f);
    double again[6];
    CHECK(imd__convert_elements(IMD_DTYPE_COMPLEX64, c64, IMD_DTYPE_COMPLEX128, again, 3));
    CHECK(again[2] == (double)-3.9f && again[5] == 1.0);
    /* real to complex: imaginary 0 */
    const int32_t re[] = {-4, 9};
    double c[4] = {9, 9, 9, 9};
    CHECK(imd__convert_elements(IMD_DTYPE_INT32, re, IMD_DTYPE_COMPLEX128, c, 2));
    CHECK(c[0] == -4.0 && c[1] == 0.0 && c[2] == 9.0 && c[3] == 0.0);
    float cf[4] = {9, 9, 9, 9};
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, c128, IMD_DTYPE_COMPLEX64, cf, 2));
    CHECK(cf[0] == 1.5f && cf[1] == 0.0f && cf[2] == -2.0f && cf[3] == 0.0f);
}

IMD_TEST(booleans)
{
    const double in[] = {0.0, -0.0, 0.5, -2.0, NAN};
    uint8_t b[5];
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, in, IMD_DTYPE_BOOL, b, 5));
    CHECK_INT(b[0], 0);
    CHECK_INT(b[1], 0);
    CHECK_INT(b[2], 1); /* value != 0: not truncated to 0 first */
    CHECK_INT(b[3], 1);
    CHECK_INT(b[4], 1); /* NaN != 0, as numpy's astype(bool) */
    const int64_t big[] = {INT64_MIN, 0};
    CHECK(imd__convert_elements(IMD_DTYPE_INT64, big, IMD_DTYPE_BOOL, b, 2));
    CHECK_INT(b[0], 1);
    CHECK_INT(b[1], 0);
    /* a bool byte that is not 0 or 1 still reads as true */
    const uint8_t raw[] = {0, 1, 2};
    int16_t i16[3];
    CHECK(imd__convert_elements(IMD_DTYPE_BOOL, raw, IMD_DTYPE_INT16, i16, 3));
    CHECK_INT(i16[0], 0);
    CHECK_INT(i16[1], 1);
    CHECK_INT(i16[2], 1);
    double d[3];
    CHECK(imd__convert_elements(IMD_DTYPE_BOOL, raw, IMD_DTYPE_FLOAT64, d, 3));
    CHECK(d[2] == 1.0);
}

IMD_TEST(rgb)
{
    const double in[] = {-1.0, 100.6, 300.0};
    uint8_t rgb[9];
    CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, in, IMD_DTYPE_RGB8, rgb, 3));
    const uint8_t want[9] = {0, 0, 0, 100, 100, 100, 255, 255, 255};
    CHECK(memcmp(rgb, want, 9) == 0);
    const uint16_t u16[] = {7, 4000};
    CHECK(imd__convert_elements(IMD_DTYPE_UINT16, u16, IMD_DTYPE_RGB8, rgb, 2));
    CHECK(rgb[0] == 7 && rgb[1] == 7 && rgb[2] == 7 && rgb[3] == 255 && rgb[5] == 255);
    /* RGB to RGB copies */
    const uint8_t src[6] = {1, 2, 3, 4, 5, 6};
    uint8_t dst[6] = {0};
    CHECK(imd__convert_elements(IMD_DTYPE_RGB8, src, IMD_DTYPE_RGB8, dst, 2));
    CHECK(memcmp(src, dst, 6) == 0);
    /* RGB to anything else is refused and writes nothing */
    float f[2] = {-1.0f, -1.0f};
    CHECK(!imd__convert_elements(IMD_DTYPE_RGB8, src, IMD_DTYPE_FLOAT32, f, 2));
    CHECK(f[0] == -1.0f && f[1] == -1.0f);
    uint8_t u8[2] = {9, 9};
    CHECK(!imd__convert_elements(IMD_DTYPE_RGB8, src, IMD_DTYPE_UINT8, u8, 2));
    CHECK(u8[0] == 9);
}

IMD_TEST(same_type_and_invalid)
{
    const int16_t in[] = {-1, 2, 32767};
    int16_t out[3] = {0};
    CHECK(imd__convert_elements(IMD_DTYPE_INT16, in, IMD_DTYPE_INT16, out, 3));
    CHECK(memcmp(in, out, sizeof in) == 0);
    CHECK(imd__convert_elements(IMD_DTYPE_INT16, in, IMD_DTYPE_FLOAT32, out, 0));
    CHECK(!imd__convert_elements((ImdDType)0, in, IMD_DTYPE_INT16, out, 3));
    CHECK(!imd__convert_elements(IMD_DTYPE_INT16, in, (ImdDType)77, out, 3));
    /* every pair of scalar types converts 0 to 0 and 1 to 1 */
    for (size_t a = 0; a < TYPE_COUNT; a++) {
        for (size_t b = 0; b < TYPE_COUNT; b++) {
            ImdDType from = all_types[a], to = all_types[b];
            if (from == IMD_DTYPE_RGB8) {
                continue;
            }
            unsigned char src[2 * 16] = {0}, dst[2 * 16];
            const double values[2] = {0.0, 1.0};
            CHECK(imd__convert_elements(IMD_DTYPE_FLOAT64, values, from, src, 2));
            CHECK(imd__convert_elements(from, src, to, dst, 2));
            if (to == IMD_DTYPE_RGB8) {
                CHECK(dst[0] == 0 && dst[3] == 1 && dst[5] == 1);
                continue;
            }
            double back[2] = {-1, -1};
            CHECK(imd__convert_elements(to, dst, IMD_DTYPE_FLOAT64, back, 2));
            if (back[0] != 0.0 || back[1] != 1.0) {
                IMD_FAIL_AT("%s -> %s: got %g, %g", imd_dtype_name(from), imd_dtype_name(to),
                            back[0], back[1]);
            }
        }
    }
}

/* ---- imd_series_convert (needs series.c and header.c) ------------------- */

IMD_TEST(series_convert)
{
    ImdError *error = NULL;
    const size_t shape[3] = {2, 2, 3};
    ImdSeries *s = imd_series_create(&error, IMD_DTYPE_FLOAT64, 3, shape);
    REQUIRE(s != NULL);
    double *data = imd_series_data(s);
    for (size_t i = 0; i < 12; i++) {
        data[i] = (double)i * 30.5 - 20.0; /* -20 .. 315.5 */
    }
    const double times[2] = {0.5, 2.5};
    ImdAxis *axis = imd_axis_create_numbers(&error, "time", times, 2);
    REQUIRE(axis != NULL);
    CHECK_OK(error, imd_series_set_axis(&error, s, 0, axis));
    CHECK_OK(error, imd_header_set_string(&error, imd_series_header(s), "PatientName", "A^B"));

    ImdSeries *u8 = imd_series_convert(&error, s, IMD_DTYPE_UINT8);
    REQUIRE(u8 != NULL);
    CHECK(error == NULL);
    CHECK_INT(imd_series_dtype(u8), IMD_DTYPE_UINT8);
    CHECK_INT(imd_series_ndim(u8), 3);
    CHECK_INT(imd_series_dim(u8, 2), 3);
    const uint8_t *bytes = imd_series_const_data(u8);
    CHECK_INT(bytes[0], 0);     /* -20 */
    CHECK_INT(bytes[1], 10);    /* 10.5 */
    CHECK_INT(bytes[8], 224);   /* 224 */
    CHECK_INT(bytes[11], 255);  /* 315.5 */
    CHECK_STR(imd_axis_name(imd_series_axis(u8, 0)), "time");
    CHECK(imd_axis_number(imd_series_axis(u8, 0), 1) == 2.5);
    CHECK(imd_series_axis(u8, 0) != imd_series_axis(s, 0));
    CHECK_STR(imd_axis_name(imd_series_axis(u8, 2)), "column");
    CHECK_STR(imd_header_get_string(imd_series_const_header(u8), "PatientName"), "A^B");
    CHECK(imd_series_const_header(u8) != imd_series_const_header(s));

    ImdSeries *rgb = imd_series_convert(&error, u8, IMD_DTYPE_RGB8);
    REQUIRE(rgb != NULL);
    CHECK_INT(imd_series_nbytes(rgb), 36);
    const uint8_t *px = imd_series_const_data(rgb);
    CHECK(px[3] == 10 && px[4] == 10 && px[5] == 10);

    ImdSeries *bad = imd_series_convert(&error, rgb, IMD_DTYPE_FLOAT32);
    CHECK(bad == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_UNSUPPORTED);
    CHECK(strstr(imd_error_message(error), "rgb8") != NULL);
    CHECK(strstr(imd_error_message(error), "float32") != NULL);
    imd_error_clear(&error);

    CHECK_FAILS(error, imd_series_convert(&error, s, (ImdDType)0), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_convert(&error, NULL, IMD_DTYPE_UINT8), IMD_ERR_INVALID_ARG);
    imd_series_destroy(bad);
    imd_series_destroy(rgb);
    imd_series_destroy(u8);
    imd_series_destroy(s);
}

/* ---- statistics ---------------------------------------------------------- */

/* A series over caller data, without series.c: only the fields stats read. */
static ImdSeries view(ImdDType dtype, size_t count, void *data)
{
    ImdSeries s;
    memset(&s, 0, sizeof s);
    s.dtype = dtype;
    s.ndim = 1;
    s.shape[0] = count;
    s.data = data;
    return s;
}

IMD_TEST(stats_integers)
{
    ImdError *error = NULL;
    ImdStats st;
    uint8_t u8[] = {3, 250, 0, 7};
    ImdSeries s = view(IMD_DTYPE_UINT8, 4, u8);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == 0 && st.max == 250 && st.sum == 260 && st.count == 4);

    int16_t i16[] = {-300, 20, 5};
    s = view(IMD_DTYPE_INT16, 3, i16);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == -300 && st.max == 20 && st.sum == -275 && st.count == 3);

    uint8_t b[] = {1, 0, 1, 1, 2};
    s = view(IMD_DTYPE_BOOL, 5, b);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == 0 && st.max == 1 && st.sum == 4 && st.count == 5);

    int64_t i64[] = {INT64_MIN, INT64_MAX, 0};
    s = view(IMD_DTYPE_INT64, 3, i64);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == -9223372036854775808.0 && st.max == 9223372036854775808.0);
    CHECK(st.count == 3);

    uint64_t u64[] = {UINT64_MAX, 1};
    s = view(IMD_DTYPE_UINT64, 2, u64);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.max == 18446744073709551616.0 && st.min == 1.0);

    uint32_t u32[] = {4000000000u, 4000000000u};
    s = view(IMD_DTYPE_UINT32, 2, u32);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.sum == 8e9); /* no integer overflow in the sum */
}

IMD_TEST(stats_floats_and_nan)
{
    ImdError *error = NULL;
    ImdStats st;
    float f32[] = {NAN, 1.5f, -2.0f, NAN};
    ImdSeries s = view(IMD_DTYPE_FLOAT32, 4, f32);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == -2.0 && st.max == 1.5);
    CHECK(isnan(st.sum)); /* NaN is excluded from min and max only */
    CHECK_INT(st.count, 4);

    double nan_only[] = {NAN, NAN};
    s = view(IMD_DTYPE_FLOAT64, 2, nan_only);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(isnan(st.min) && isnan(st.max) && isnan(st.sum));
    CHECK_INT(st.count, 2);

    double inf[] = {1.0, INFINITY, -3.0};
    s = view(IMD_DTYPE_FLOAT64, 3, inf);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == -3.0 && isinf(st.max) && isinf(st.sum) && st.sum > 0);

    /* the sum keeps float64 accuracy where a naive sum drifts */
    enum { M = 100001 };
    double *many = malloc(M * sizeof *many);
    REQUIRE(many != NULL);
    many[0] = 1e16;
    for (size_t i = 1; i < M; i++) {
        many[i] = 1.0;
    }
    s = view(IMD_DTYPE_FLOAT64, M, many);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.sum == 1e16 + 100000.0);
    free(many);
}

IMD_TEST(stats_complex_and_rgb)
{
    ImdError *error = NULL;
    ImdStats st;
    double c128[] = {1.0, 100.0, -4.0, -100.0, NAN, 5.0};
    ImdSeries s = view(IMD_DTYPE_COMPLEX128, 2, c128);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == -4.0 && st.max == 1.0 && st.sum == -3.0 && st.count == 2);
    s = view(IMD_DTYPE_COMPLEX128, 3, c128);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == -4.0 && st.max == 1.0 && isnan(st.sum) && st.count == 3);

    float c64[] = {2.5f, -1.0f, 0.5f, 9.0f};
    s = view(IMD_DTYPE_COMPLEX64, 2, c64);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == 0.5 && st.max == 2.5 && st.sum == 3.0);

    uint8_t rgb[] = {10, 20, 30, 0, 255, 5};
    s = view(IMD_DTYPE_RGB8, 2, rgb);
    CHECK_OK(error, imd_series_stats(&error, &s, &st));
    CHECK(st.min == 0 && st.max == 255 && st.sum == 320);
    CHECK_INT(st.count, 6); /* three channels per voxel */
}

IMD_TEST(stats_errors)
{
    ImdError *error = NULL;
    ImdStats st;
    uint8_t one = 1;
    ImdSeries s = view(IMD_DTYPE_UINT8, 1, &one);
    CHECK_FAILS(error, imd_series_stats(&error, NULL, &st), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_stats(&error, &s, NULL), IMD_ERR_INVALID_ARG);
    s.data = NULL;
    CHECK_FAILS(error, imd_series_stats(&error, &s, &st), IMD_ERR_INVALID_ARG);
    s = view((ImdDType)0, 1, &one);
    CHECK_FAILS(error, imd_series_stats(&error, &s, &st), IMD_ERR_INVALID_ARG);
    s = view(IMD_DTYPE_RGB8, SIZE_MAX / 2, &one);
    CHECK_FAILS(error, imd_series_stats(&error, &s, &st), IMD_ERR_LIMIT);
    /* error may be NULL */
    CHECK(!imd_series_stats(NULL, NULL, &st));
}

IMD_TEST_MAIN(IMD_CASE(names_and_sizes), IMD_CASE(aliases), IMD_CASE(predicates),
              IMD_CASE(shape_count_and_strides), IMD_CASE(float_to_integer_saturates),
              IMD_CASE(integer_to_integer_saturates), IMD_CASE(int64_exact),
              IMD_CASE(float_targets), IMD_CASE(complex), IMD_CASE(booleans), IMD_CASE(rgb),
              IMD_CASE(same_type_and_invalid), IMD_CASE(series_convert),
              IMD_CASE(stats_integers), IMD_CASE(stats_floats_and_nan),
              IMD_CASE(stats_complex_and_rgb), IMD_CASE(stats_errors))
