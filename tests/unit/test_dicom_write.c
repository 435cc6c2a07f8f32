/*
 * test_dicom_write.c: the Part 10 writer. Built data sets and every file
 * pydicom ships are written (explicit and implicit VR), read back by our
 * parser and compared element for element; the meta group, padding and the
 * atomic file write are checked byte by byte. dcmtk's dcmdump reading our
 * files is the independent check (tests/integration/dicom_write_dcmdump.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"

#include "dicom/dicom_internal.h"

#include <dirent.h>
#include <unistd.h>

static uint8_t *write_buffer(const ImdDicomDataSet *d, const char *syntax, bool no_meta,
                             size_t *size)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_buffer(&error, "out.dcm");
    ImdDicomWriteOptions options = {.transfer_syntax = syntax, .no_meta = no_meta};
    if (stream == NULL || !imd_dicom_write(&error, d, stream, &options)) {
        fprintf(stderr, "write: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        imd_stream_abort(stream);
        return NULL;
    }
    uint8_t *bytes = imd_stream_buffer_take(stream, size);
    imd_stream_abort(stream);
    return bytes;
}

/* Values equal up to the pad byte that makes them even. */
static bool same_value(const ImdDicomElement *a, const ImdDicomElement *b)
{
    size_t na, nb;
    const uint8_t *va = imd_dicom_element_bytes(a, &na), *vb = imd_dicom_element_bytes(b, &nb);
    if (nb == na + 1 && (na & 1u)) {
        nb = na;
    }
    return na == nb && (na == 0 || memcmp(va, vb, na) == 0);
}

static bool same_fragments(const ImdDicomElement *a, const ImdDicomElement *b)
{
    if (imd_dicom_element_fragment_count(a) != imd_dicom_element_fragment_count(b)) {
        return false;
    }
    for (size_t i = 0; i < imd_dicom_element_fragment_count(a); i++) {
        size_t na, nb;
        const uint8_t *fa = imd_dicom_element_fragment(a, i, &na);
        const uint8_t *fb = imd_dicom_element_fragment(b, i, &nb);
        if (nb == na + 1 && (na & 1u)) {
            nb = na;
        }
        if (na != nb || (na > 0 && memcmp(fa, fb, na) != 0)) {
            return false;
        }
    }
    return true;
}

/* Compare two data sets; group lengths (gggg,0000) are not written, so skipped. */
static bool same_dataset(const ImdDicomDataSet *a, const ImdDicomDataSet *b, const char *what)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < imd_dicom_dataset_count(a) &&
               (imd_dicom_element_tag(imd_dicom_dataset_element(a, i)) & 0xffffu) == 0) {
            i++;
        }
        if (i == imd_dicom_dataset_count(a) || j == imd_dicom_dataset_count(b)) {
            break;
        }
        const ImdDicomElement *x = imd_dicom_dataset_element(a, i++);
        const ImdDicomElement *y = imd_dicom_dataset_element(b, j++);
        uint32_t t = imd_dicom_element_tag(x);
        bool ok = t == imd_dicom_element_tag(y) &&
                  imd_dicom_element_item_count(x) == imd_dicom_element_item_count(y) &&
                  imd_dicom_element_is_encapsulated(x) == imd_dicom_element_is_encapsulated(y) &&
                  (imd_dicom_element_is_encapsulated(x) ? same_fragments(x, y) : same_value(x, y));
        for (size_t k = 0; ok && k < imd_dicom_element_item_count(x); k++) {
            ok = same_dataset(imd_dicom_element_item(x, k), imd_dicom_element_item(y, k), what);
        }
        if (!ok) {
            fprintf(stderr, "  %s: (%04X,%04X) differs\n", what, t >> 16, t & 0xffff);
            return false;
        }
    }
    if (i != imd_dicom_dataset_count(a) || j != imd_dicom_dataset_count(b)) {
        fprintf(stderr, "  %s: element counts differ\n", what);
        return false;
    }
    return true;
}

static ImdDicomDataSet *sample(void)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_dataset_create(&error);
    double rows = 2, spacing[2] = {0.5, 0.75}, position[3] = {-10.25, 20, 1e-7};
    uint16_t pixels[4] = {1, 2, 3, 65535};
    bool ok = d != NULL &&
              imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0008, 0x0016), 0,
                                           "1.2.840.10008.5.1.4.1.1.4") &&
              imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0008, 0x0018), 0, "2.25.1234") &&
              imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0008, 0x0060), 0, "MR") &&
              imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0010, 0x0010), 0,
                                           "M\xc3\xbcller^J\xc3\xb6rg") &&
              imd_dicom_dataset_set_numbers(&error, d, IMD_TAG(0x0028, 0x0010), 0, &rows, 1) &&
              imd_dicom_dataset_set_numbers(&error, d, IMD_TAG(0x0028, 0x0011), 0, &rows, 1) &&
              imd_dicom_dataset_set_numbers(&error, d, IMD_TAG(0x0028, 0x0030), 0, spacing, 2) &&
              imd_dicom_dataset_set_numbers(&error, d, IMD_TAG(0x0020, 0x0032), 0, position, 3) &&
              imd_dicom_dataset_set_bytes(&error, d, IMD_TAG_PixelData, IMD_VR_OW, pixels, 8);
    ImdDicomDataSet *item = ok ? imd_dicom_dataset_append_item(&error, d, IMD_TAG(0x0008, 0x1140))
                               : NULL;
    ok = item != NULL &&
         imd_dicom_dataset_set_string(&error, item, IMD_TAG(0x0008, 0x1155), 0, "1.2.3");
    if (!ok) {
        fprintf(stderr, "sample: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        imd_dicom_dataset_destroy(d);
        return NULL;
    }
    return d;
}

IMD_TEST(built_dataset_round_trip)
{
    ImdDicomDataSet *d = sample();
    REQUIRE(d != NULL);
    static const char *const syntaxes[] = {IMD_UID_EXPLICIT_VR_LE, IMD_UID_IMPLICIT_VR_LE};
    for (size_t s = 0; s < 2; s++) {
        size_t size;
        uint8_t *bytes = write_buffer(d, syntaxes[s], false, &size);
        REQUIRE(bytes != NULL);
        CHECK(size > 132 && memcmp(bytes + 128, "DICM", 4) == 0);
        CHECK(size % 2 == 0);
        ImdError *error = NULL;
        ImdDicomDataSet *back = imd_dicom_read_memory(&error, bytes, size, "back", NULL);
        imd_free(bytes);
        REQUIRE(back != NULL);
        CHECK_STR(imd_dicom_dataset_transfer_syntax(back), syntaxes[s]);
        CHECK(same_dataset(d, back, syntaxes[s]));
        CHECK_INT(imd_dicom_dataset_warning_count(back), 0);
        /* Values read back as they were set. */
        char *name = imd_dicom_element_string(&error, back,
                                              imd_dicom_dataset_find(back, IMD_TAG(0x0010, 0x0010)));
        CHECK_STR(name, "M\xc3\xbcller^J\xc3\xb6rg");
        free(name);
        char *cs = imd_dicom_element_string(&error, back, imd_dicom_dataset_find(back,
                                            IMD_TAG_SpecificCharacterSet));
        CHECK_STR(cs, "ISO_IR 192");
        free(cs);
        double v;
        CHECK(imd_dicom_element_number(&error, imd_dicom_dataset_find(back, IMD_TAG(0x0020, 0x0032)),
                                       2, &v) && v == 1e-7);
        const ImdDicomDataSet *meta = imd_dicom_dataset_file_meta(back);
        REQUIRE(meta != NULL);
        const ImdDicomElement *length = imd_dicom_dataset_find(meta, IMD_TAG(0x0002, 0x0000));
        int64_t group_length = 0;
        CHECK(length != NULL && imd_dicom_element_int(&error, length, 0, &group_length));
        /* The group length counts exactly the meta elements after it. */
        size_t after = 0;
        for (size_t i = 1; i < imd_dicom_dataset_count(meta); i++) {
            const ImdDicomElement *e = imd_dicom_dataset_element(meta, i);
            size_t n;
            imd_dicom_element_bytes(e, &n);
            after += (imd_dicom_element_vr(e) == IMD_VR_OB ? 12 : 8) + n;
        }
        CHECK_INT(group_length, after);
        imd_dicom_dataset_destroy(back);
    }
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(padding_and_refusals)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = sample();
    REQUIRE(d != NULL);
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0008, 0x0018), 0, "1.234"));
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0008, 0x103e), 0, "odd"));
    size_t size;
    uint8_t *bytes = write_buffer(d, NULL, true, &size);
    REQUIRE(bytes != NULL);
    CHECK(memcmp(bytes, "\x08\x00", 2) == 0); /* no preamble with no_meta */
    /* UI pads with NUL, text with a space (PS3.5 §6.2). */
    bool ui = false, lo = false;
    for (size_t i = 0; i + 6 <= size; i++) {
        ui = ui || memcmp(bytes + i, "1.234\0", 6) == 0;
        lo = lo || memcmp(bytes + i, "odd ", 4) == 0;
    }
    CHECK(ui);
    CHECK(lo);
    imd_free(bytes);
    ImdStream *stream = imd_stream_open_buffer(&error, "x");
    ImdDicomWriteOptions big = {.transfer_syntax = IMD_UID_EXPLICIT_VR_BE};
    CHECK_FAILS(error, imd_dicom_write(&error, d, stream, &big), IMD_ERR_INVALID_ARG);
    imd_stream_abort(stream);
    /* A value too long for a 16-bit length. */
    static char long_text[70000];
    memset(long_text, 'a', sizeof long_text - 1);
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0008, 0x103e), IMD_VR_LO,
                                                 long_text));
    stream = imd_stream_open_buffer(&error, "x");
    CHECK_FAILS(error, imd_dicom_write(&error, d, stream, NULL), IMD_ERR_INVALID_ARG);
    imd_stream_abort(stream);
    /* No SOP instance UID: no Part 10 file. */
    imd_dicom_dataset_remove(d, IMD_TAG(0x0008, 0x0018));
    stream = imd_stream_open_buffer(&error, "x");
    CHECK_FAILS(error, imd_dicom_write(&error, d, stream, NULL), IMD_ERR_INVALID_ARG);
    imd_stream_abort(stream);
    /* Non-ASCII into a Latin-1 data set: the data set becomes UTF-8, its
     * Latin-1 values transcoded (0xE8 is è in ISO 8859-1), never mis-encoded. */
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, IMD_TAG_SpecificCharacterSet, 0,
                                                 "ISO_IR 100"));
    static const uint8_t latin1[] = {'L', 0xe8, 'v', 'e'};
    CHECK_OK(error, imd_dicom_dataset_set_bytes(&error, d, IMD_TAG_InstitutionName, IMD_VR_LO,
                                                latin1, sizeof latin1));
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0010, 0x0010), 0,
                                                 "\xc3\xa9"));
    const ImdDicomElement *e = imd_dicom_dataset_find(d, IMD_TAG_SpecificCharacterSet);
    char *text = e != NULL ? imd_dicom_element_string(&error, d, e) : NULL;
    CHECK_STR(text, "ISO_IR 192");
    free(text);
    e = imd_dicom_dataset_find(d, IMD_TAG_InstitutionName);
    text = e != NULL ? imd_dicom_element_string(&error, d, e) : NULL;
    CHECK_STR(text, "L\xc3\xa8ve");
    free(text);
    e = imd_dicom_dataset_find(d, IMD_TAG(0x0010, 0x0010));
    text = e != NULL ? imd_dicom_element_string(&error, d, e) : NULL;
    CHECK_STR(text, "\xc3\xa9");
    free(text);
    imd_dicom_dataset_destroy(d);
}

/* Every pydicom file: read, write (explicit and implicit), read again, compare. */
IMD_TEST(pydicom_files_round_trip)
{
    static const char *const folders[] = {"/usr/lib/python3/dist-packages/pydicom/data/test_files",
                                          "/usr/lib/python3/dist-packages/pydicom/data/charset_files"};
    size_t done = 0;
    for (size_t f = 0; f < 2; f++) {
        DIR *dir = opendir(folders[f]);
        struct dirent *entry;
        while (dir != NULL && (entry = readdir(dir)) != NULL) {
            size_t length = strlen(entry->d_name);
            if (length < 4 || strcmp(entry->d_name + length - 4, ".dcm") != 0) {
                continue;
            }
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", folders[f], entry->d_name);
            ImdError *error = NULL;
            ImdDicomDataSet *d = imd_dicom_read_file(&error, path, NULL);
            imd_error_clear(&error);
            if (d == NULL || imd_dicom_dataset_find(d, IMD_TAG(0x0008, 0x0018)) == NULL) {
                imd_dicom_dataset_destroy(d); /* unreadable, or no SOP instance to write */
                continue;
            }
            /* Encapsulated pixel data cannot go into the uncompressed syntaxes we
             * write: keep the source's encoding out of this test by no_meta. */
            const ImdDicomElement *px = imd_dicom_dataset_find(d, IMD_TAG_PixelData);
            bool encapsulated = px != NULL && imd_dicom_element_is_encapsulated(px);
            const char *syntax = encapsulated ? NULL : IMD_UID_IMPLICIT_VR_LE;
            size_t size;
            uint8_t *bytes = write_buffer(d, syntax, false, &size);
            ImdDicomDataSet *back = bytes ? imd_dicom_read_memory(&error, bytes, size, path, NULL)
                                          : NULL;
            if (back == NULL) {
                IMD_FAIL_AT("%s: %s", entry->d_name, imd_error_message(error));
            } else {
                CHECK(same_dataset(d, back, entry->d_name));
                done++;
            }
            imd_error_clear(&error);
            imd_free(bytes);
            imd_dicom_dataset_destroy(back);
            imd_dicom_dataset_destroy(d);
        }
        if (dir != NULL) {
            closedir(dir);
        }
    }
    if (done == 0) {
        IMD_SKIP("pydicom's test files are not installed (python3-pydicom)");
    }
    CHECK(done >= 60);
}

IMD_TEST(atomic_file_write)
{
    const char *tmp = getenv("IMD_TEST_TMP");
    char path[1024];
    snprintf(path, sizeof path, "%s/written_%d.dcm", tmp ? tmp : "/tmp", (int)getpid());
    ImdDicomDataSet *d = sample();
    REQUIRE(d != NULL);
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_file(&error, path, IMD_MODE_WRITE);
    REQUIRE(stream != NULL);
    CHECK_OK(error, imd_dicom_write(&error, d, stream, NULL));
    CHECK_OK(error, imd_stream_close(&error, stream));
    ImdDicomDataSet *back = imd_dicom_read_file(&error, path, NULL);
    CHECK(back != NULL && same_dataset(d, back, "file"));
    imd_error_clear(&error);
    imd_dicom_dataset_destroy(back);
    imd_dicom_dataset_destroy(d);
    remove(path);
}

IMD_TEST_MAIN(IMD_CASE(built_dataset_round_trip), IMD_CASE(padding_and_refusals),
              IMD_CASE(pydicom_files_round_trip), IMD_CASE(atomic_file_write))
