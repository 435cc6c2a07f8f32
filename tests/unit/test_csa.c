/*
 * test_csa.c: the Siemens CSA header parser (src/dicom/csa.h) on headers
 * built here byte by byte after the layout nibabel documents ("Siemens
 * format DICOM with CSA header"): CSA2 and CSA1, value rules, truncations,
 * impossible counts, the ASCCONV protocol lookups and the Siemens summary
 * from a data set. Real files are compared with nibabel by
 * integration.csa_nibabel.
 */
#include "imd_test.h"

#include "dicom/csa.h"

/* ---- a tiny CSA builder ---- */

typedef struct Csa {
    uint8_t data[16384];
    size_t size;
    int type;
    int32_t first_tag_items; /* CSA1 item lengths are offset by the first tag's nitems */
} Csa;

static void u32(Csa *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        b->data[b->size++] = (uint8_t)(v >> (8 * i));
    }
}

static void raw(Csa *b, const void *bytes, size_t size)
{
    memcpy(b->data + b->size, bytes, size);
    b->size += size;
}

static void start(Csa *b, int type, uint32_t n_tags)
{
    memset(b, 0, sizeof *b);
    b->type = type;
    b->first_tag_items = -1;
    if (type == 2) {
        raw(b, "SV10\4\3\2\1", 8);
    }
    u32(b, n_tags);
    u32(b, 77);
}

static void tag(Csa *b, const char *name, int32_t vm, const char *vr, int32_t syngodt,
                int32_t nitems)
{
    char field[64] = {0};
    memcpy(field, name, strlen(name));
    raw(b, field, 64);
    u32(b, (uint32_t)vm);
    char vr_field[4] = {0};
    memcpy(vr_field, vr, strlen(vr));
    raw(b, vr_field, 4);
    u32(b, (uint32_t)syngodt);
    u32(b, (uint32_t)nitems);
    u32(b, nitems > 0 ? 77 : 205);
    if (b->first_tag_items < 0) {
        b->first_tag_items = nitems;
    }
}

/* An item of `length` bytes: `text` then NULs, padded to 4 bytes. */
static void item_length(Csa *b, const char *text, int32_t length)
{
    int32_t field = b->type == 2 ? length : length + b->first_tag_items;
    u32(b, (uint32_t)field);
    u32(b, (uint32_t)length);
    u32(b, 77);
    u32(b, 0);
    if (length <= 0) {
        return;
    }
    size_t n = text != NULL ? strlen(text) : 0;
    memset(b->data + b->size, 0, (size_t)length + 3);
    memcpy(b->data + b->size, text, n < (size_t)length ? n : (size_t)length);
    b->size += ((size_t)length + 3) / 4 * 4;
}

/* An item holding `text` and its NUL (length 0 for NULL: an empty padding item). */
static void item(Csa *b, const char *text)
{
    item_length(b, text, text != NULL ? (int32_t)strlen(text) + 1 : 0);
}

/* Four tags as Siemens writes them: padded items, an empty text value, an empty tag. */
static void build_image_header(Csa *b, int type)
{
    start(b, type, 5);
    tag(b, "NumberOfImagesInMosaic", 1, "US", 10, 6);
    item(b, "36      ");
    for (int i = 0; i < 5; i++) {
        item(b, NULL);
    }
    tag(b, "SliceNormalVector", 3, "FD", 4, 6);
    item(b, "0.00174537");
    item(b, "-0.0923705");
    item(b, "0.99572318");
    for (int i = 0; i < 3; i++) {
        item(b, NULL);
    }
    tag(b, "ImageHistory", 0, "ST", 3, 3);
    item(b, " first ");
    item(b, "   ");
    item(b, "third");
    tag(b, "MosaicRefAcqTimes", 0, "FD", 4, 4);
    item(b, "0");
    item(b, "70.00000001");
    item(b, "142.5");
    item(b, NULL);
    tag(b, "B_value", 1, "IS", 6, 0);
}

static ImdCsaHeader *parse(Csa *b)
{
    ImdError *error = NULL;
    ImdCsaHeader *h = imd__csa_parse(&error, b->data, b->size);
    if (h == NULL) {
        fprintf(stderr, "parse failed: %s\n", imd_error_message(error));
        imd_error_clear(&error);
    }
    return h;
}

static void check_image_header(int type)
{
    Csa b;
    build_image_header(&b, type);
    ImdCsaHeader *h = parse(&b);
    REQUIRE(h != NULL);
    CHECK_INT(imd__csa_type(h), type);
    CHECK_INT(imd__csa_count(h), 5);
    CHECK_STR(imd__csa_name(h, 0), "NumberOfImagesInMosaic");
    CHECK_STR(imd__csa_name(h, 4), "B_value");
    CHECK(imd__csa_name(h, 5) == NULL);

    ImdCsaTagInfo info;
    imd__csa_tag_info(h, 1, &info);
    CHECK_STR(info.name, "SliceNormalVector");
    CHECK_STR(info.vr, "FD");
    CHECK_INT(info.vm, 3);
    CHECK_INT(info.syngodt, 4);
    CHECK_INT(info.declared_items, 6);
    CHECK_INT(info.xx, 77);
    CHECK_INT(info.read_items, 6);
    CHECK_STR(imd__csa_tag_item(h, 1, 2), "0.99572318");
    CHECK_STR(imd__csa_tag_item(h, 1, 5), "");
    CHECK(imd__csa_tag_item(h, 1, 6) == NULL);
    imd__csa_tag_info(h, 4, &info);
    CHECK_INT(info.xx, 205);
    CHECK_INT(info.read_items, 0);

    /* vm 1 of 6 items; its text is padded with spaces. */
    CHECK_INT(imd__csa_item_count(h, "NumberOfImagesInMosaic"), 1);
    CHECK_STR(imd__csa_string(h, "NumberOfImagesInMosaic", 0), "36");
    CHECK_STR(imd__csa_tag_item(h, 0, 0), "36      ");
    double value = -1;
    CHECK(imd__csa_number(h, "NumberOfImagesInMosaic", 0, &value));
    CHECK_NEAR(value, 36, 0);
    /* vm 3 of 6 items. */
    CHECK_INT(imd__csa_item_count(h, "SliceNormalVector"), 3);
    CHECK(imd__csa_number(h, "SliceNormalVector", 1, &value));
    CHECK(value == -0.0923705);
    CHECK(!imd__csa_number(h, "SliceNormalVector", 3, &value));
    /* vm 0: every item; a text value may be empty (NULL), and is trimmed. */
    CHECK_INT(imd__csa_item_count(h, "ImageHistory"), 3);
    CHECK_STR(imd__csa_string(h, "ImageHistory", 0), "first");
    CHECK(imd__csa_string(h, "ImageHistory", 1) == NULL);
    CHECK_STR(imd__csa_string(h, "ImageHistory", 2), "third");
    CHECK(!imd__csa_number(h, "ImageHistory", 2, &value));
    /* vm 0 and numeric: the values end at the first empty item. */
    CHECK_INT(imd__csa_item_count(h, "MosaicRefAcqTimes"), 3);
    CHECK(imd__csa_number(h, "MosaicRefAcqTimes", 2, &value));
    CHECK(value == 142.5);
    /* Empty and absent tags. */
    CHECK_INT(imd__csa_item_count(h, "B_value"), 0);
    CHECK(imd__csa_string(h, "B_value", 0) == NULL);
    CHECK(!imd__csa_number(h, "B_value", 0, &value));
    CHECK_INT(imd__csa_item_count(h, "NoSuchTag"), 0);
    CHECK(imd__csa_string(h, "NoSuchTag", 0) == NULL);
    CHECK(!imd__csa_number(h, "NoSuchTag", 0, &value));
    CHECK(!imd__csa_protocol_number(h, "sSliceArray.lSize", &value));
    CHECK(imd__csa_protocol_string(h, "sSliceArray.lSize") == NULL);
    imd__csa_destroy(h);
}

IMD_TEST(csa2_values)
{
    check_image_header(2);
}

IMD_TEST(csa1_values)
{
    check_image_header(1);
}

/* CSA1 as SPM reads it: an item length (x0 - first tag's nitems) below 0 or
 * past the end ends that tag's items; the next tag follows the item's 16 bytes. */
IMD_TEST(csa1_bad_length_ends_the_tag)
{
    Csa b;
    start(&b, 1, 2);
    tag(&b, "First", 1, "LO", 19, 2);
    item(&b, "kept");
    /* x0 = 0 < nitems of the first tag (2): a negative length. */
    u32(&b, 0);
    u32(&b, 0);
    u32(&b, 77);
    u32(&b, 0);
    tag(&b, "Second", 1, "IS", 6, 1);
    item(&b, "7");
    ImdCsaHeader *h = parse(&b);
    REQUIRE(h != NULL);
    ImdCsaTagInfo info;
    imd__csa_tag_info(h, 0, &info);
    CHECK_INT(info.declared_items, 2);
    CHECK_INT(info.read_items, 1);
    CHECK_STR(imd__csa_string(h, "First", 0), "kept");
    double value = 0;
    CHECK(imd__csa_number(h, "Second", 0, &value));
    CHECK_NEAR(value, 7, 0);
    imd__csa_destroy(h);

    /* The same in CSA2 (a length field beyond the end) is corrupt. */
    start(&b, 2, 1);
    tag(&b, "First", 1, "LO", 19, 1);
    item_length(&b, "x", 4);
    b.size -= 4;                       /* the item's bytes are missing */
    ImdError *error = NULL;
    CHECK_FAILS(error, imd__csa_parse(&error, b.data, b.size), IMD_ERR_CORRUPT);
}

IMD_TEST(repeated_names_take_the_last)
{
    Csa b;
    start(&b, 2, 2);
    tag(&b, "Twice", 1, "IS", 6, 1);
    item(&b, "1");
    tag(&b, "Twice", 1, "IS", 6, 1);
    item(&b, "2");
    ImdCsaHeader *h = parse(&b);
    REQUIRE(h != NULL);
    CHECK_INT(imd__csa_count(h), 2);
    CHECK_STR(imd__csa_string(h, "Twice", 0), "2");
    imd__csa_destroy(h);
}

/* An error that is CORRUPT and whose message holds `needle`. */
static void check_corrupt(const uint8_t *bytes, size_t size, const char *needle)
{
    ImdError *error = NULL;
    ImdCsaHeader *h = imd__csa_parse(&error, bytes, size);
    CHECK(h == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_CORRUPT);
    if (strstr(imd_error_message(error), needle) == NULL) {
        IMD_FAIL_AT("message \"%s\" lacks \"%s\"", imd_error_message(error), needle);
    }
    imd_error_clear(&error);
    imd__csa_destroy(h);
}

IMD_TEST(impossible_counts)
{
    check_corrupt((const uint8_t *)"", 0, "truncated");
    check_corrupt((const uint8_t *)"\1\0\0\0M\0\0", 7, "truncated");
    check_corrupt((const uint8_t *)"SV10\4\3\2\1\1\0\0\0", 12, "truncated at byte 12");

    Csa b;
    start(&b, 2, 0);
    check_corrupt(b.data, b.size, "0 tags declared at byte 8");
    start(&b, 2, 129);
    tag(&b, "A", 1, "IS", 6, 0);
    check_corrupt(b.data, b.size, "129 tags declared at byte 8 (1 to 128 expected)");
    start(&b, 1, 0xffffffffu);
    check_corrupt(b.data, b.size, "4294967295 tags declared at byte 0");

    /* 128 tags are fine. */
    start(&b, 2, 128);
    for (int i = 0; i < 128; i++) {
        tag(&b, "T", 1, "IS", 6, 0);
    }
    ImdCsaHeader *h = parse(&b);
    CHECK(h != NULL && imd__csa_count(h) == 128);
    imd__csa_destroy(h);

    /* More tags declared than present. */
    start(&b, 2, 2);
    tag(&b, "Only", 1, "IS", 6, 0);
    check_corrupt(b.data, b.size, "tag 2 of 2 truncated at byte 100");

    /* More items than the bytes left can hold: refused before any allocation. */
    start(&b, 2, 1);
    tag(&b, "Huge", 1, "IS", 6, 0x7fffffff);
    item(&b, "1");
    check_corrupt(b.data, b.size, "tag \"Huge\" at byte 16 declares 2147483647 items");
    start(&b, 2, 1);
    tag(&b, "Negative", 1, "IS", 6, -1);
    check_corrupt(b.data, b.size, "declares -1 items");

    /* A CSA2 item length beyond the end, and a negative one. */
    start(&b, 2, 1);
    tag(&b, "Long", 1, "LO", 19, 1);
    item_length(&b, "abc", 4);
    b.data[100 + 4] = 200; /* the length field (x1) of the item at byte 100 */
    check_corrupt(b.data, b.size, "item 1 of tag \"Long\" at byte 100 has length 200");
    b.data[100 + 4] = 0xff;
    b.data[100 + 5] = 0xff;
    b.data[100 + 6] = 0xff;
    b.data[100 + 7] = 0xff;
    check_corrupt(b.data, b.size, "has length -1");
}

/* Every prefix of a valid header either parses or is CORRUPT (ASan checks the reads). */
IMD_TEST(every_truncation)
{
    for (int type = 1; type <= 2; type++) {
        Csa b;
        build_image_header(&b, type);
        int parsed = 0;
        for (size_t size = 0; size < b.size; size++) {
            uint8_t *copy = malloc(size + 1); /* exactly `size` readable bytes for ASan */
            REQUIRE(copy != NULL);
            memcpy(copy, b.data, size);
            ImdError *error = NULL;
            ImdCsaHeader *h = imd__csa_parse(&error, copy, size);
            if (h != NULL) {
                parsed++;
                CHECK(error == NULL);
            } else {
                CHECK_INT(imd_error_code(error), IMD_ERR_CORRUPT);
            }
            imd_error_clear(&error);
            imd__csa_destroy(h);
            free(copy);
        }
        /* The last tag has no items: only the whole header parses (no padding at its end). */
        CHECK_INT(parsed, 0);
    }
}

/* ---- the ASCCONV protocol ---- */

static const char protocol[] =
    "<XProtocol> { <Name> \"PhoenixMetaProtocol\" sSliceArray.lSize = 99 }\n"
    "### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData version=51130001 ###\n"
    "ulVersion\t = \t0x14b44b6\n"
    "tProtocolName                            = \"\"ep2d_bold#1\"\"\n"
    "tSequenceFileName = \"\"%SiemensSeq%\\ep2d_bold\"\"\n"
    "sSliceArray.lSize                        = 36\n"
    "sSliceArray.lSizeExtra                   = 7\n"
    "sSliceArray.asSlice[0].sNormal.dTra      = 0.99572318   # a comment\n"
    "sSliceArray.asSlice[0].sPosition.dSag    = -2.65859e-005\n"
    "sKSpace.ucMultiSliceMode                 = 0x4\n"
    "sWipMemBlock.tFree                       = \"plain\"\n"
    "sDiffusion.sFreeDiffusionData.sComment.0 = 0x46    # 'F'\n"
    "lNegativeHex = -0x10\n"
    "lBad = 12abc\n"
    "  lIndented = 5\n"
    "sSliceArray.lSize                        = 38\n"
    "### ASCCONV END ###\n"
    "lAfterTheEnd = 3\n";

static ImdCsaHeader *protocol_header(const char *name)
{
    Csa b;
    start(&b, 2, 2);
    tag(&b, "UsedPatientWeight", 1, "IS", 6, 1);
    item(&b, "70");
    tag(&b, name, 1, "UN", 0, 1);
    item(&b, protocol);
    return parse(&b);
}

IMD_TEST(protocol_lookups)
{
    const char *names[] = {"MrPhoenixProtocol", "MrProtocol"};
    for (size_t n = 0; n < 2; n++) {
        ImdCsaHeader *h = protocol_header(names[n]);
        REQUIRE(h != NULL);
        double value = 0;
        CHECK(imd__csa_protocol_number(h, "ulVersion", &value));
        CHECK_NEAR(value, 0x14b44b6, 0);
        /* The last of a repeated key; not the text before the block (99). */
        CHECK(imd__csa_protocol_number(h, "sSliceArray.lSize", &value));
        CHECK_NEAR(value, 38, 0);
        CHECK(imd__csa_protocol_number(h, "sSliceArray.lSizeExtra", &value));
        CHECK_NEAR(value, 7, 0);
        CHECK(imd__csa_protocol_number(h, "sSliceArray.asSlice[0].sNormal.dTra", &value));
        CHECK(value == 0.99572318);
        CHECK(imd__csa_protocol_number(h, "sSliceArray.asSlice[0].sPosition.dSag", &value));
        CHECK(value == -2.65859e-005);
        CHECK(imd__csa_protocol_number(h, "sKSpace.ucMultiSliceMode", &value));
        CHECK_NEAR(value, 4, 0);
        CHECK(imd__csa_protocol_number(h, "sDiffusion.sFreeDiffusionData.sComment.0", &value));
        CHECK_NEAR(value, 0x46, 0);
        CHECK(imd__csa_protocol_number(h, "lNegativeHex", &value));
        CHECK_NEAR(value, -16, 0);
        CHECK(imd__csa_protocol_number(h, "lIndented", &value));
        CHECK_NEAR(value, 5, 0);
        CHECK(!imd__csa_protocol_number(h, "lBad", &value));
        CHECK(!imd__csa_protocol_number(h, "tProtocolName", &value));
        CHECK(!imd__csa_protocol_number(h, "sSliceArray", &value));
        CHECK(!imd__csa_protocol_number(h, "sSliceArray.lSiz", &value));
        CHECK(!imd__csa_protocol_number(h, "lAfterTheEnd", &value));
        CHECK(!imd__csa_protocol_number(h, "", &value));

        char *text = imd__csa_protocol_string(h, "tProtocolName");
        CHECK_STR(text, "ep2d_bold#1");
        free(text);
        text = imd__csa_protocol_string(h, "tSequenceFileName");
        CHECK_STR(text, "%SiemensSeq%\\ep2d_bold");
        free(text);
        text = imd__csa_protocol_string(h, "sWipMemBlock.tFree");
        CHECK_STR(text, "plain");
        free(text);
        text = imd__csa_protocol_string(h, "sSliceArray.asSlice[0].sNormal.dTra");
        CHECK_STR(text, "0.99572318");
        free(text);
        CHECK(imd__csa_protocol_string(h, "lAfterTheEnd") == NULL);
        imd__csa_destroy(h);
    }
    /* No block: nothing found. */
    Csa b;
    start(&b, 2, 1);
    tag(&b, "MrPhoenixProtocol", 1, "UN", 0, 1);
    item(&b, "sSliceArray.lSize = 3\n");
    ImdCsaHeader *h = parse(&b);
    REQUIRE(h != NULL);
    double value;
    CHECK(!imd__csa_protocol_number(h, "sSliceArray.lSize", &value));
    imd__csa_destroy(h);
}

/* ---- the summary from a data set ---- */

static ImdDicomDataSet *siemens_dataset(uint16_t block, const Csa *image)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_dataset_create(&error);
    if (d == NULL) {
        return NULL;
    }
    bool ok = imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0029, 0x0010), IMD_VR_LO,
                                           "SIEMENS CSA NON-IMAGE") &&
              imd_dicom_dataset_set_string(&error, d, IMD_TAG(0x0029, block >> 8), IMD_VR_LO,
                                           "SIEMENS CSA HEADER");
    if (ok && image != NULL) {
        ok = imd_dicom_dataset_set_bytes(&error, d, IMD_TAG(0x0029, block | 0x10), IMD_VR_OB,
                                         image->data, image->size);
    }
    if (!ok) {
        fprintf(stderr, "%s\n", imd_error_message(error));
        imd_error_clear(&error);
        imd_dicom_dataset_destroy(d);
        return NULL;
    }
    return d;
}

IMD_TEST(siemens_summary)
{
    Csa b;
    start(&b, 2, 8);
    tag(&b, "NumberOfImagesInMosaic", 1, "US", 10, 6);
    item(&b, "48");
    for (int i = 0; i < 5; i++) {
        item(&b, NULL);
    }
    tag(&b, "SliceNormalVector", 3, "FD", 4, 3);
    item(&b, "0");
    item(&b, "0.6");
    item(&b, "0.8");
    tag(&b, "B_value", 1, "IS", 6, 1);
    item(&b, "1000");
    tag(&b, "DiffusionGradientDirection", 3, "FD", 4, 3);
    item(&b, "1");
    item(&b, "0");
    item(&b, "0");
    tag(&b, "B_matrix", 6, "FD", 4, 6);
    const char *matrix[] = {"1000", "1", "2", "3", "4", "5"};
    for (int i = 0; i < 6; i++) {
        item(&b, matrix[i]);
    }
    tag(&b, "MosaicRefAcqTimes", 0, "FD", 4, 4);
    item(&b, "0");
    item(&b, "1000");
    item(&b, "500");
    item(&b, NULL);
    tag(&b, "PhaseEncodingDirectionPositive", 1, "IS", 6, 1);
    item(&b, "0");
    tag(&b, "ICE_Dims", 1, "LO", 19, 1);
    item(&b, "X_1_1");

    /* The block found by its creator: (0029,0011) here, so the header is (0029,1110). */
    ImdDicomDataSet *d = siemens_dataset(0x1100, &b);
    REQUIRE(d != NULL);
    ImdError *error = NULL;
    ImdSiemensImage s;
    CHECK_OK(error, imd__siemens_image(&error, d, &s));
    CHECK_INT(s.mosaic_images, 48);
    CHECK(s.has_slice_normal && s.slice_normal.x == 0 && s.slice_normal.y == 0.6 &&
          s.slice_normal.z == 0.8);
    CHECK(s.has_b_value && s.b_value == 1000);
    CHECK(s.has_direction && s.direction.x == 1 && s.direction.y == 0 && s.direction.z == 0);
    CHECK(s.has_b_matrix && s.b_matrix[0] == 1000 && s.b_matrix[5] == 5);
    REQUIRE(s.slice_time_count == 3);
    CHECK(s.slice_times[0] == 0 && s.slice_times[1] == 1000 && s.slice_times[2] == 500);
    CHECK_INT(s.phase_encoding_positive, 0);
    imd__siemens_image_free(&s);
    CHECK(s.slice_times == NULL && s.slice_time_count == 0);
    imd_dicom_dataset_destroy(d);

    /* Incomplete vectors are not taken (nibabel's get_vector wants exactly 3 or 6). */
    start(&b, 2, 2);
    tag(&b, "SliceNormalVector", 3, "FD", 4, 2);
    item(&b, "0");
    item(&b, "1");
    tag(&b, "PhaseEncodingDirectionPositive", 1, "IS", 6, 1);
    item(&b, "2");
    d = siemens_dataset(0x1000, &b);
    REQUIRE(d != NULL);
    CHECK_OK(error, imd__siemens_image(&error, d, &s));
    CHECK(!s.has_slice_normal && !s.has_b_value && !s.has_direction && !s.has_b_matrix);
    CHECK_INT(s.mosaic_images, 0);
    CHECK(s.slice_times == NULL && s.slice_time_count == 0);
    CHECK_INT(s.phase_encoding_positive, -1);
    imd__siemens_image_free(&s);
    imd_dicom_dataset_destroy(d);

    /* No CSA image header: a zeroed summary, and true. */
    d = siemens_dataset(0x1000, NULL);
    REQUIRE(d != NULL);
    CHECK_OK(error, imd__siemens_image(&error, d, &s));
    CHECK(s.mosaic_images == 0 && !s.has_slice_normal && s.slice_times == NULL &&
          s.phase_encoding_positive == -1);
    imd__siemens_image_free(&s);
    imd_dicom_dataset_destroy(d);
    d = imd_dicom_dataset_create(&error);
    REQUIRE(d != NULL);
    CHECK_OK(error, imd__siemens_image(&error, d, &s));
    CHECK(s.mosaic_images == 0 && s.phase_encoding_positive == -1);
    imd_dicom_dataset_destroy(d);

    /* A broken header: CORRUPT, naming the element. */
    start(&b, 2, 200);
    d = siemens_dataset(0x1000, &b);
    REQUIRE(d != NULL);
    CHECK(!imd__siemens_image(&error, d, &s));
    CHECK_INT(imd_error_code(error), IMD_ERR_CORRUPT);
    CHECK(strstr(imd_error_message(error), "CSA image header (0029,xx10)") != NULL);
    CHECK(s.slice_times == NULL);
    imd_error_clear(&error);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST_MAIN(IMD_CASE(csa2_values), IMD_CASE(csa1_values),
              IMD_CASE(csa1_bad_length_ends_the_tag), IMD_CASE(repeated_names_take_the_last),
              IMD_CASE(impossible_counts), IMD_CASE(every_truncation),
              IMD_CASE(protocol_lookups), IMD_CASE(siemens_summary))
