/*
 * test_dicom_parse.c: the DICOM parser on byte streams built here (each
 * encoding, nesting, fragments, deflate, hostile lengths) and on the DICOM
 * files Debian's pydicom ships.
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"

#include "dicom/dicom_internal.h"

#include <dirent.h>
#include <zlib.h>

/* ---- a tiny byte builder ---- */

typedef struct Bytes {
    uint8_t data[8192];
    size_t size;
    bool big;
} Bytes;

static void u16(Bytes *b, unsigned v)
{
    b->data[b->size++] = (uint8_t)(b->big ? v >> 8 : v);
    b->data[b->size++] = (uint8_t)(b->big ? v : v >> 8);
}

static void u32(Bytes *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        int shift = b->big ? 24 - 8 * i : 8 * i;
        b->data[b->size++] = (uint8_t)(v >> shift);
    }
}

static void raw(Bytes *b, const void *data, size_t n)
{
    memcpy(b->data + b->size, data, n);
    b->size += n;
}

static void tag(Bytes *b, unsigned group, unsigned element)
{
    u16(b, group);
    u16(b, element);
}

/* Explicit VR element with a short (2-byte) length. */
static void ex(Bytes *b, unsigned g, unsigned e, const char *vr, const void *value, size_t n)
{
    tag(b, g, e);
    raw(b, vr, 2);
    u16(b, (unsigned)n);
    raw(b, value, n);
}

/* Explicit VR element with a long length (OB, SQ, UN, UT...). */
static void ex_long(Bytes *b, unsigned g, unsigned e, const char *vr, uint32_t length)
{
    tag(b, g, e);
    raw(b, vr, 2);
    u16(b, 0);
    u32(b, length);
}

static void im(Bytes *b, unsigned g, unsigned e, const void *value, uint32_t n)
{
    tag(b, g, e);
    u32(b, n);
    raw(b, value, n);
}

static void part10(Bytes *b, const char *syntax)
{
    memset(b->data, 0, 128);
    b->size = 128;
    raw(b, "DICM", 4);
    size_t n = strlen(syntax) + (strlen(syntax) & 1);
    char padded[66] = {0};
    memcpy(padded, syntax, strlen(syntax));
    ex(b, 0x0002, 0x0010, "UI", padded, n);
}

static ImdDicomDataSet *parse(const Bytes *b, const ImdDicomReadOptions *options)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_memory(&error, b->data, b->size, "test", options);
    if (d == NULL) {
        fprintf(stderr, "parse: %s\n", imd_error_message(error));
        imd_error_clear(&error);
    }
    return d;
}

static int64_t number(const ImdDicomDataSet *d, uint32_t t, size_t index)
{
    int64_t value = -999999;
    const ImdDicomElement *e = imd_dicom_dataset_find(d, t);
    if (e == NULL || !imd_dicom_element_int(NULL, e, index, &value)) {
        return -999999;
    }
    return value;
}

static bool text_is(const ImdDicomDataSet *d, uint32_t t, const char *expected)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, t);
    char *text = e != NULL ? imd_dicom_element_string(NULL, d, e) : NULL;
    bool same = text != NULL && strcmp(text, expected) == 0;
    if (!same) {
        fprintf(stderr, "  (%04X,%04X): \"%s\", expected \"%s\"\n", t >> 16, t & 0xffff,
                text ? text : "(none)", expected);
    }
    free(text);
    return same;
}

IMD_TEST(explicit_little_endian_part10)
{
    Bytes b = {0};
    part10(&b, IMD_UID_EXPLICIT_VR_LE);
    ex(&b, 0x0008, 0x0060, "CS", "MR", 2);
    ex(&b, 0x0010, 0x0010, "PN", "Doe^John", 8);
    ex(&b, 0x0020, 0x0037, "DS", "1\\0\\0\\0\\1\\0 ", 12);
    ex(&b, 0x0028, 0x0010, "US", "\x00\x01", 2);
    ex(&b, 0x0028, 0x0011, "US", "\x02\x00", 2);
    ex_long(&b, 0x7fe0, 0x0010, "OW", 4);
    raw(&b, "\x01\x02\x03\x04", 4);
    ImdDicomDataSet *d = parse(&b, NULL);
    REQUIRE(d != NULL);
    CHECK_STR(imd_dicom_dataset_transfer_syntax(d), IMD_UID_EXPLICIT_VR_LE);
    CHECK(imd_dicom_dataset_file_meta(d) != NULL);
    CHECK_INT(imd_dicom_dataset_count(d), 6);
    CHECK(text_is(d, IMD_TAG(0x0010, 0x0010), "Doe^John"));
    CHECK(text_is(d, IMD_TAG(0x0020, 0x0037), "1\\0\\0\\0\\1\\0"));
    CHECK_INT(number(d, IMD_TAG(0x0028, 0x0010), 0), 256);
    CHECK_INT(number(d, IMD_TAG(0x0028, 0x0011), 0), 2);
    CHECK_INT(imd_dicom_element_vm(imd_dicom_dataset_find(d, IMD_TAG(0x0020, 0x0037))), 6);
    double v;
    CHECK(imd_dicom_element_number(NULL, imd_dicom_dataset_find(d, IMD_TAG(0x0020, 0x0037)), 4,
                                   &v) && v == 1.0);
    size_t n;
    const uint8_t *pixels = imd_dicom_element_bytes(imd_dicom_dataset_find(d, IMD_TAG_PixelData), &n);
    CHECK(n == 4 && pixels != NULL && pixels[3] == 4);
    CHECK_INT(imd_dicom_dataset_warning_count(d), 0);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(implicit_bare_and_big_endian)
{
    Bytes b = {0};
    im(&b, 0x0008, 0x0060, "CT", 2);
    im(&b, 0x0028, 0x0010, "\x00\x02", 2);
    im(&b, 0x0009, 0x0010, "ACME 1.0", 8); /* a private creator: LO */
    ImdDicomDataSet *d = parse(&b, NULL);
    REQUIRE(d != NULL);
    CHECK_STR(imd_dicom_dataset_transfer_syntax(d), IMD_UID_IMPLICIT_VR_LE);
    CHECK(imd_dicom_dataset_file_meta(d) == NULL);
    CHECK_INT(imd_dicom_element_vr(imd_dicom_dataset_find(d, IMD_TAG(0x0028, 0x0010))), IMD_VR_US);
    CHECK_INT(number(d, IMD_TAG(0x0028, 0x0010), 0), 512);
    CHECK_INT(imd_dicom_element_vr(imd_dicom_dataset_find(d, IMD_TAG(0x0009, 0x0010))), IMD_VR_LO);
    CHECK(imd_dicom_dataset_warning_count(d) >= 1); /* no meta: said so */
    imd_dicom_dataset_destroy(d);

    Bytes be = {.big = true};
    part10(&be, IMD_UID_EXPLICIT_VR_BE); /* the meta group stays little endian */
    be.big = true;
    ex(&be, 0x0028, 0x0010, "US", "\x01\x00", 2);
    ex(&be, 0x0028, 0x1052, "DS", "-1024 ", 6);
    ex(&be, 0x0018, 0x9087, "FD", "\x40\x59\x00\x00\x00\x00\x00\x00", 8); /* 100.0 */
    ex(&be, 0x0020, 0x5000, "AT", "\x00\x28\x00\x10", 4);
    d = parse(&be, NULL);
    REQUIRE(d != NULL);
    CHECK_INT(number(d, IMD_TAG(0x0028, 0x0010), 0), 256);
    CHECK_INT(number(d, IMD_TAG(0x0028, 0x1052), 0), -1024);
    double fd;
    CHECK(imd_dicom_element_number(NULL, imd_dicom_dataset_find(d, IMD_TAG(0x0018, 0x9087)), 0,
                                   &fd) && fd == 100.0);
    CHECK_INT(number(d, IMD_TAG(0x0020, 0x5000), 0), (int64_t)IMD_TAG(0x0028, 0x0010));
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(sequences_defined_and_undefined)
{
    Bytes b = {0};
    part10(&b, IMD_UID_EXPLICIT_VR_LE);
    /* (0008,1140) undefined length: item 1 undefined, item 2 defined holding a nested SQ. */
    ex_long(&b, 0x0008, 0x1140, "SQ", 0xffffffffu);
    tag(&b, 0xfffe, 0xe000);
    u32(&b, 0xffffffffu);
    ex(&b, 0x0008, 0x1150, "UI", "1.2.3\0", 6);
    tag(&b, 0xfffe, 0xe00d);
    u32(&b, 0);
    /* Item 2, defined length: a UI (8 + 4) and a nested SQ (12 + item 8 + CS 8 + 6). */
    tag(&b, 0xfffe, 0xe000);
    u32(&b, (8 + 4) + 12 + (8 + 8 + 6));
    ex(&b, 0x0008, 0x1155, "UI", "4.56", 4);
    ex_long(&b, 0x0040, 0xa730, "SQ", 8 + 8 + 6);
    tag(&b, 0xfffe, 0xe000);
    u32(&b, 8 + 6);
    ex(&b, 0x0040, 0xa010, "CS", "ABCDEF", 6);
    tag(&b, 0xfffe, 0xe0dd);
    u32(&b, 0);
    ex(&b, 0x0010, 0x0020, "LO", "ID42", 4);
    ImdDicomDataSet *d = parse(&b, NULL);
    if (d == NULL) {
        IMD_FAIL_AT("sequence data set did not parse");
        return;
    }
    const ImdDicomElement *sq = imd_dicom_dataset_find(d, IMD_TAG(0x0008, 0x1140));
    REQUIRE(sq != NULL);
    CHECK_INT(imd_dicom_element_vr(sq), IMD_VR_SQ);
    CHECK_INT(imd_dicom_element_item_count(sq), 2);
    const ImdDicomDataSet *first = imd_dicom_element_item(sq, 0);
    CHECK(text_is(first, IMD_TAG(0x0008, 0x1150), "1.2.3"));
    const ImdDicomDataSet *second = imd_dicom_element_item(sq, 1);
    const ImdDicomElement *nested = imd_dicom_dataset_find(second, IMD_TAG(0x0040, 0xa730));
    CHECK(nested != NULL && imd_dicom_element_item_count(nested) == 1);
    CHECK(text_is(d, IMD_TAG(0x0010, 0x0020), "ID42"));
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(encapsulated_fragments)
{
    Bytes b = {0};
    part10(&b, "1.2.840.10008.1.2.4.50");
    ex_long(&b, 0x7fe0, 0x0010, "OB", 0xffffffffu);
    tag(&b, 0xfffe, 0xe000);
    u32(&b, 4);
    u32(&b, 0); /* basic offset table: one frame at 0 */
    tag(&b, 0xfffe, 0xe000);
    u32(&b, 4);
    raw(&b, "\xff\xd8\xff\xe0", 4);
    tag(&b, 0xfffe, 0xe000);
    u32(&b, 6);
    raw(&b, "\xfe\xff\xdd\xe0\xff\xd9", 6); /* a delimiter pattern inside data is data */
    tag(&b, 0xfffe, 0xe0dd);
    u32(&b, 0);
    ImdDicomDataSet *d = parse(&b, NULL);
    REQUIRE(d != NULL);
    const ImdDicomElement *px = imd_dicom_dataset_find(d, IMD_TAG_PixelData);
    REQUIRE(px != NULL);
    CHECK(imd_dicom_element_is_encapsulated(px));
    size_t n;
    CHECK(imd_dicom_element_offset_table(px, &n) != NULL && n == 4);
    CHECK_INT(imd_dicom_element_fragment_count(px), 2);
    const uint8_t *f = imd_dicom_element_fragment(px, 1, &n);
    CHECK(n == 6 && f[5] == 0xd9);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(deflated)
{
    Bytes body = {0};
    ex(&body, 0x0008, 0x0060, "CS", "MR", 2);
    ex(&body, 0x0010, 0x0010, "PN", "Deflated^Data", 14);
    Bytes b = {0};
    part10(&b, IMD_UID_DEFLATED_EXPLICIT_VR_LE);
    z_stream z;
    memset(&z, 0, sizeof z);
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = body.data;
    z.avail_in = (uInt)body.size;
    z.next_out = b.data + b.size;
    z.avail_out = (uInt)(sizeof b.data - b.size);
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    b.size += z.total_out;
    deflateEnd(&z);
    ImdDicomDataSet *d = parse(&b, NULL);
    REQUIRE(d != NULL);
    CHECK(text_is(d, IMD_TAG(0x0010, 0x0010), "Deflated^Data"));
    CHECK_INT(imd_dicom_dataset_count(d), 2);
    /* The meta group still reads after the inflated buffer replaced the source. */
    CHECK(imd_dicom_dataset_find(imd_dicom_dataset_file_meta(d), IMD_TAG(0x0002, 0x0010)) != NULL);
    ImdError *error = NULL;
    ImdDicomDataSet *copy = imd_dicom_dataset_clone(&error, d);
    imd_dicom_dataset_destroy(d);
    REQUIRE(copy != NULL);
    CHECK(text_is(copy, IMD_TAG(0x0010, 0x0010), "Deflated^Data"));
    imd_dicom_dataset_destroy(copy);
}

IMD_TEST(stop_before_pixel_data)
{
    Bytes b = {0};
    part10(&b, IMD_UID_EXPLICIT_VR_LE);
    ex(&b, 0x0028, 0x0010, "US", "\x02\x00", 2);
    ex_long(&b, 0x7fe0, 0x0010, "OW", 4);
    raw(&b, "\x01\x02\x03\x04", 4);
    ImdDicomReadOptions options = {.stop_tag = IMD_TAG_PixelData};
    ImdDicomDataSet *d = parse(&b, &options);
    REQUIRE(d != NULL);
    CHECK_INT(imd_dicom_dataset_count(d), 1);
    CHECK(imd_dicom_dataset_find(d, IMD_TAG_PixelData) == NULL);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(hostile_input)
{
    ImdError *error = NULL;
    Bytes b = {0};
    /* Not DICOM at all. */
    CHECK_FAILS(error, imd_dicom_read_memory(&error, "hello, world\n", 13, "t", NULL) != NULL,
                IMD_ERR_NOT_RECOGNIZED);
    CHECK_FAILS(error, imd_dicom_read_memory(&error, "", 0, "t", NULL) != NULL,
                IMD_ERR_NOT_RECOGNIZED);
    /* An item whose element claims more bytes than the item holds. */
    part10(&b, IMD_UID_EXPLICIT_VR_LE);
    ex_long(&b, 0x0008, 0x1140, "SQ", 0xffffffffu);
    tag(&b, 0xfffe, 0xe000);
    u32(&b, 10);
    ex(&b, 0x0008, 0x1150, "UI", "1.2", 2); /* header 8 + value 2 = 10 */
    b.data[b.size - 4] = 0xff;              /* length becomes 0x00ff... > 2 */
    tag(&b, 0xfffe, 0xe0dd);
    u32(&b, 0);
    ex(&b, 0x0010, 0x0020, "LO", "X ", 2);
    ImdDicomDataSet *d = imd_dicom_read_memory(&error, b.data, b.size, "bad-item", NULL);
    CHECK(d == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_CORRUPT);
    CHECK(strstr(imd_error_message(error), "bad-item") != NULL);
    CHECK(strstr(imd_error_message(error), "(0008,1150)") != NULL);
    imd_error_clear(&error);
    /* Nesting deeper than the limit. */
    Bytes deep = {0};
    part10(&deep, IMD_UID_EXPLICIT_VR_LE);
    for (int i = 0; i < 10; i++) {
        ex_long(&deep, 0x0008, 0x1140, "SQ", 0xffffffffu);
        tag(&deep, 0xfffe, 0xe000);
        u32(&deep, 0xffffffffu);
    }
    ImdDicomReadOptions options = {.max_depth = 5};
    CHECK_FAILS(error, imd_dicom_read_memory(&error, deep.data, deep.size, "deep", &options) != NULL,
                IMD_ERR_LIMIT);
    ImdDicomReadOptions few = {.max_elements = 3};
    CHECK_FAILS(error, imd_dicom_read_memory(&error, deep.data, deep.size, "many", &few) != NULL,
                IMD_ERR_LIMIT);
    /* A value cut off by the end of the file: kept, with a warning (as pydicom). */
    Bytes cut = {0};
    part10(&cut, IMD_UID_EXPLICIT_VR_LE);
    ex_long(&cut, 0x7fe0, 0x0010, "OW", 1000);
    raw(&cut, "\x01\x02", 2);
    d = parse(&cut, NULL);
    REQUIRE(d != NULL);
    size_t n;
    CHECK(imd_dicom_element_bytes(imd_dicom_dataset_find(d, IMD_TAG_PixelData), &n) && n == 2);
    CHECK(imd_dicom_dataset_warning_count(d) == 1 &&
          strstr(imd_dicom_dataset_warning(d, 0), "cut off") != NULL);
    imd_dicom_dataset_destroy(d);
}

/* Every DICOM file pydicom ships parses, except the one pydicom cannot read either. */
IMD_TEST(pydicom_files)
{
    static const char *const folders[] = {"/usr/lib/python3/dist-packages/pydicom/data/test_files",
                                          "/usr/lib/python3/dist-packages/pydicom/data/charset_files"};
    size_t parsed = 0;
    for (size_t f = 0; f < 2; f++) {
        DIR *dir = opendir(folders[f]);
        if (dir == NULL) {
            continue;
        }
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            size_t length = strlen(entry->d_name);
            if (length < 4 || strcmp(entry->d_name + length - 4, ".dcm") != 0) {
                continue;
            }
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", folders[f], entry->d_name);
            ImdError *error = NULL;
            ImdDicomDataSet *d = imd_dicom_read_file(&error, path, NULL);
            /* no_meta.dcm starts one byte into an element: pydicom's own tests expect
             * it to be unreadable. */
            if (strcmp(entry->d_name, "no_meta.dcm") == 0) {
                CHECK(d == NULL && imd_error_code(error) == IMD_ERR_NOT_RECOGNIZED);
            } else if (d == NULL) {
                IMD_FAIL_AT("%s: %s", entry->d_name, imd_error_message(error));
            } else {
                parsed++;
            }
            imd_error_clear(&error);
            imd_dicom_dataset_destroy(d);
        }
        closedir(dir);
    }
    if (parsed == 0) {
        IMD_SKIP("pydicom's test files are not installed (python3-pydicom)");
    }
    CHECK(parsed >= 80);
}

IMD_TEST(ct_small_values)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_read_file(
        &error, "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm", NULL);
    if (d == NULL) {
        imd_error_clear(&error);
        IMD_SKIP("CT_small.dcm is not installed (python3-pydicom)");
    }
    /* Values as pydicom reads them. */
    CHECK_INT(number(d, IMD_TAG(0x0028, 0x0010), 0), 128);
    CHECK_INT(number(d, IMD_TAG(0x0028, 0x0011), 0), 128);
    CHECK(text_is(d, IMD_TAG(0x0010, 0x0010), "CompressedSamples^CT1"));
    CHECK(text_is(d, IMD_TAG(0x0008, 0x0060), "CT"));
    size_t n;
    CHECK(imd_dicom_element_bytes(imd_dicom_dataset_find(d, IMD_TAG_PixelData), &n) &&
          n == 128 * 128 * 2);
    imd_dicom_dataset_destroy(d);
}

/* fuzz_dicom_series (2026-12-08): a number asked of an empty text value (no
 * bytes: NULL) did pointer arithmetic on NULL (UBSan: "applying zero offset
 * to null pointer"); it is an error naming the element, as a value too long. */
IMD_TEST(number_of_an_empty_value)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_dataset_create(&error);
    REQUIRE(d != NULL);
    CHECK_OK(error, imd_dicom_dataset_set_bytes(&error, d, IMD_TAG(0x0020, 0x0013), IMD_VR_IS,
                                                NULL, 0));
    CHECK_OK(error, imd_dicom_dataset_set_bytes(&error, d, IMD_TAG(0x0018, 0x0050), IMD_VR_DS,
                                                NULL, 0));
    double v = -1;
    CHECK(!imd_dicom_element_number(&error, imd_dicom_dataset_find(d, IMD_TAG(0x0020, 0x0013)), 0,
                                    &v));
    CHECK(error != NULL && strstr(imd_error_message(error), "(0020,0013)") != NULL);
    imd_error_clear(&error);
    CHECK(!imd_dicom_element_number(&error, imd_dicom_dataset_find(d, IMD_TAG(0x0018, 0x0050)), 1,
                                    &v));
    imd_error_clear(&error);
    CHECK(v == -1);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST_MAIN(IMD_CASE(explicit_little_endian_part10), IMD_CASE(implicit_bare_and_big_endian),
              IMD_CASE(sequences_defined_and_undefined), IMD_CASE(encapsulated_fragments),
              IMD_CASE(deflated), IMD_CASE(stop_before_pixel_data), IMD_CASE(hostile_input),
              IMD_CASE(pydicom_files), IMD_CASE(ct_small_values),
              IMD_CASE(number_of_an_empty_value))
