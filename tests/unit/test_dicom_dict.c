/*
 * test_dicom_dict.c: the generated dictionary tables (order, uniqueness,
 * round trips through the public API), known entries, the rules for tags the
 * tables do not hold, UIDs, and VR names and properties.
 */
#include "imd_test.h"

#include "dicom/dicom_internal.h"
#include "dicom/dict_tables.h"

/* The same generated rows as src/dicom/dict.c, walked here row by row. */
static const ImdDictEntry entries[] = {
#include "dicom/dict_data.inc"
};
static const ImdDictMaskedEntry masked[] = {
#include "dicom/dict_masked.inc"
};
static const uint16_t keyword_index[] = {
#include "dicom/dict_keyword_index.inc"
};
static const ImdUidEntry uids[] = {
#include "dicom/uid_data.inc"
};
#define IMD_UID_KEYWORD_INDEX
static const uint16_t uid_keyword_index[] = {
#include "dicom/uid_data.inc"
};
#undef IMD_UID_KEYWORD_INDEX

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static int popcount32(uint32_t value)
{
    int bits = 0;
    for (; value != 0; value &= value - 1) {
        bits++;
    }
    return bits;
}

static const ImdDictEntry *exact_entry(uint32_t tag)
{
    for (size_t i = 0; i < COUNT(entries); i++) {
        if (entries[i].tag == tag) {
            return &entries[i];
        }
    }
    return NULL;
}

static const char *index_keyword(uint16_t index)
{
    if (index & IMD_DICT_MASKED) {
        return masked[index & ~IMD_DICT_MASKED].keyword;
    }
    return entries[index].keyword;
}

static bool valid_vr(ImdVR vr)
{
    return imd_dicom_vr_name(vr) != NULL;
}

IMD_TEST(tables_sorted_and_unique)
{
    /* The standard has thousands of tags; a truncated table would show here. */
    CHECK(COUNT(entries) > 4000);
    CHECK(COUNT(masked) > 50);
    CHECK(COUNT(uids) > 400);

    size_t named = 0;
    for (size_t i = 0; i < COUNT(entries); i++) {
        if (i > 0 && entries[i - 1].tag >= entries[i].tag) {
            IMD_FAIL_AT("row %zu: tag %08X not above %08X", i, (unsigned)entries[i].tag,
                        (unsigned)entries[i - 1].tag);
        }
        CHECK(valid_vr(entries[i].vr));
        CHECK(entries[i].vm != NULL && entries[i].vm[0] != '\0');
        CHECK(entries[i].keyword != NULL);
        /* Odd groups are private: never in the standard's dictionary. */
        CHECK((IMD_TAG_GROUP(entries[i].tag) & 1u) == 0);
        if (entries[i].keyword[0] != '\0') {
            named++;
        } else {
            CHECK(entries[i].retired); /* only retired tags lack a keyword */
        }
    }
    for (size_t i = 0; i < COUNT(masked); i++) {
        CHECK((masked[i].value & masked[i].mask) == masked[i].value);
        CHECK(masked[i].mask != 0xffffffffu);
        CHECK((IMD_TAG_GROUP(masked[i].value) & 1u) == 0); /* matched in even groups only */
        CHECK(valid_vr(masked[i].vr));
        CHECK(masked[i].keyword != NULL && masked[i].keyword[0] != '\0');
        if (i > 0) {
            CHECK(popcount32(masked[i - 1].mask) >= popcount32(masked[i].mask));
        }
        named++;
        /* No two masked rows claim the same tags in the same way. */
        for (size_t j = 0; j < i; j++) {
            CHECK(masked[j].value != masked[i].value || masked[j].mask != masked[i].mask);
        }
    }

    /* The keyword index: every keyword once, in strcmp order. */
    CHECK_INT(COUNT(keyword_index), named);
    for (size_t i = 0; i < COUNT(keyword_index); i++) {
        uint16_t index = keyword_index[i];
        if (index & IMD_DICT_MASKED) {
            REQUIRE((index & ~IMD_DICT_MASKED) < COUNT(masked));
        } else {
            REQUIRE(index < COUNT(entries));
        }
        if (i > 0 && strcmp(index_keyword(keyword_index[i - 1]), index_keyword(index)) >= 0) {
            IMD_FAIL_AT("keyword index %zu: \"%s\" not after \"%s\"", i, index_keyword(index),
                        index_keyword(keyword_index[i - 1]));
        }
    }

    size_t uid_named = 0;
    for (size_t i = 0; i < COUNT(uids); i++) {
        if (i > 0 && strcmp(uids[i - 1].uid, uids[i].uid) >= 0) {
            IMD_FAIL_AT("UID row %zu: \"%s\" not after \"%s\"", i, uids[i].uid,
                        uids[i - 1].uid);
        }
        CHECK(strlen(uids[i].uid) <= 64);
        CHECK(uids[i].name[0] != '\0');
        uid_named += uids[i].keyword[0] != '\0';
    }
    CHECK_INT(COUNT(uid_keyword_index), uid_named);
    for (size_t i = 0; i < COUNT(uid_keyword_index); i++) {
        REQUIRE(uid_keyword_index[i] < COUNT(uids));
        if (i > 0) {
            CHECK(strcmp(uids[uid_keyword_index[i - 1]].keyword,
                         uids[uid_keyword_index[i]].keyword) < 0);
        }
    }
}

IMD_TEST(every_row_round_trips)
{
    int failures = 0;
    for (size_t i = 0; i < COUNT(entries) && failures < 10; i++) {
        const ImdDictEntry *e = &entries[i];
        const char *keyword = imd_dicom_keyword(e->tag);
        uint32_t tag = 0;
        bool ok = imd_dicom_dictionary_vr(e->tag) == e->vr &&
                  imd_dicom_dictionary_vm(e->tag) != NULL &&
                  strcmp(imd_dicom_dictionary_vm(e->tag), e->vm) == 0 &&
                  imd_dicom_is_retired(e->tag) == e->retired;
        if (e->keyword[0] == '\0') {
            ok = ok && keyword == NULL;
        } else {
            ok = ok && keyword != NULL && strcmp(keyword, e->keyword) == 0 &&
                 imd_dicom_tag(keyword, &tag) && tag == e->tag;
        }
        if (!ok) {
            IMD_FAIL_AT("row (%04X,%04X) %s does not round-trip", IMD_TAG_GROUP(e->tag),
                        IMD_TAG_ELEMENT(e->tag), e->keyword);
            failures++;
        }
    }
    for (size_t i = 0; i < COUNT(masked) && failures < 10; i++) {
        const ImdDictMaskedEntry *m = &masked[i];
        uint32_t tag = 0;
        CHECK(imd_dicom_tag(m->keyword, &tag) && tag == m->value);
        /* The lowest and highest even tags the mask covers. */
        uint32_t high = m->value | (~m->mask & 0xfffeffffu);
        uint32_t probes[2] = {m->value, high};
        for (int p = 0; p < 2; p++) {
            if (exact_entry(probes[p]) != NULL) {
                continue; /* the exact table comes first */
            }
            const char *keyword = imd_dicom_keyword(probes[p]);
            if (keyword == NULL || strcmp(keyword, m->keyword) != 0 ||
                imd_dicom_dictionary_vr(probes[p]) != m->vr ||
                imd_dicom_is_retired(probes[p]) != m->retired) {
                IMD_FAIL_AT("%08X: masked row %s not found", (unsigned)probes[p], m->keyword);
                failures++;
            }
        }
        /* The same tag in an odd (private) group is not the standard's. */
        if ((m->mask & 0x00ff0000u) != 0x00ff0000u) {
            CHECK(imd_dicom_keyword(m->value | 0x00010000u) == NULL);
        }
    }
    for (size_t i = 0; i < COUNT(uids); i++) {
        CHECK_STR(imd_dicom_uid_name(uids[i].uid), uids[i].name);
        if (uids[i].keyword[0] != '\0') {
            CHECK_STR(imd_dicom_uid_keyword(uids[i].uid), uids[i].keyword);
            CHECK_STR(imd_dicom_uid_for_keyword(uids[i].keyword), uids[i].uid);
        } else {
            CHECK(imd_dicom_uid_keyword(uids[i].uid) == NULL);
        }
    }
}

IMD_TEST(known_tags)
{
    uint32_t tag = 0;

    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0010, 0x0010)), "PatientName");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0010, 0x0010)), IMD_VR_PN);
    CHECK_STR(imd_dicom_dictionary_vm(IMD_TAG(0x0010, 0x0010)), "1");
    CHECK(!imd_dicom_is_retired(IMD_TAG(0x0010, 0x0010)));
    CHECK(imd_dicom_tag("PatientName", &tag));
    CHECK_INT(tag, IMD_TAG(0x0010, 0x0010));

    CHECK_STR(imd_dicom_keyword(IMD_TAG_PixelData), "PixelData");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG_PixelData), IMD_VR_OB_OW);

    CHECK_STR(imd_dicom_keyword(IMD_TAG_SpecificCharacterSet), "SpecificCharacterSet");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG_SpecificCharacterSet), IMD_VR_CS);
    CHECK_STR(imd_dicom_dictionary_vm(IMD_TAG_SpecificCharacterSet), "1-n");

    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0028, 0x0010)), "Rows");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0028, 0x0010)), IMD_VR_US);
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0018, 0x9087)), "DiffusionBValue");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0018, 0x9087)), IMD_VR_FD);
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0020, 0x0037)), "ImageOrientationPatient");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0020, 0x0037)), IMD_VR_DS);
    CHECK_STR(imd_dicom_dictionary_vm(IMD_TAG(0x0020, 0x0037)), "6");
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0002, 0x0010)), "TransferSyntaxUID");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0002, 0x0010)), IMD_VR_UI);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0008, 0x1140)), IMD_VR_SQ);
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0008, 0x1140)), "ReferencedImageSequence");

    /* Dictionary choices. */
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0028, 0x0106)), IMD_VR_US_SS);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0028, 0x1200)), IMD_VR_US_SS_OW);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0028, 0x3006)), IMD_VR_US_SS_OW); /* "US or OW" */

    /* Retired. */
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0008, 0x0010)), "RecognitionCode");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0008, 0x0010)), IMD_VR_SH);
    CHECK(imd_dicom_is_retired(IMD_TAG(0x0008, 0x0010)));
    /* A retired tag without a keyword keeps its VR. */
    CHECK(imd_dicom_keyword(IMD_TAG(0x0018, 0x0061)) == NULL);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0018, 0x0061)), IMD_VR_DS);
    CHECK(imd_dicom_is_retired(IMD_TAG(0x0018, 0x0061)));

    /* Repeating groups through the masked table. */
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x6002, 0x3000)), "OverlayData");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x6002, 0x3000)), IMD_VR_OB_OW);
    CHECK_STR(imd_dicom_dictionary_vm(IMD_TAG(0x6002, 0x3000)), "1");
    CHECK(!imd_dicom_is_retired(IMD_TAG(0x6002, 0x3000)));
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x6000, 0x0010)), "OverlayRows");
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x601e, 0x0050)), IMD_VR_SS);
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x5010, 0x3000)), "CurveData");
    CHECK(imd_dicom_is_retired(IMD_TAG(0x5010, 0x3000)));
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0020, 0x3105)), "SourceImageIDs");
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x1000, 0x0023)), "HuffmanTableTriplet");
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0028, 0x0411)), "ColumnsForNthOrderCoefficients");
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x7f00, 0x0010)), "VariablePixelData");
    /* The exact table wins over a mask. */
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0028, 0x0400)), "TransformLabel");
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x7fe0, 0x0010)), "PixelData");
    CHECK(imd_dicom_tag("OverlayData", &tag));
    CHECK_INT(tag, IMD_TAG(0x6000, 0x3000));
    /* Odd groups are private, even when a mask would match. */
    CHECK(imd_dicom_keyword(IMD_TAG(0x6001, 0x3000)) == NULL);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x6001, 0x3000)), IMD_VR_UN);
    CHECK(imd_dicom_keyword(IMD_TAG(0x7fe1, 0x0010)) == NULL);

    /* Items and delimiters. */
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0xfffe, 0xe000)), IMD_VR_NONE);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0xfffe, 0xe00d)), IMD_VR_NONE);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0xfffe, 0xe0dd)), IMD_VR_NONE);
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0xfffe, 0xe000)), "Item");
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0xfffe, 0xe0dd)), "SequenceDelimitationItem");

    /* Keyword lookups that fail. */
    tag = 12345;
    CHECK(!imd_dicom_tag("NoSuchKeyword", &tag));
    CHECK(!imd_dicom_tag("patientname", &tag));
    CHECK(!imd_dicom_tag("", &tag));
    CHECK(!imd_dicom_tag(NULL, &tag));
    CHECK_INT(tag, 12345);
    CHECK(imd_dicom_tag("Rows", NULL));
}

IMD_TEST(tags_outside_the_tables)
{
    /* Group lengths: UL, no keyword (as pydicom). */
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0008, 0x0000)), IMD_VR_UL);
    CHECK(imd_dicom_keyword(IMD_TAG(0x0008, 0x0000)) == NULL);
    CHECK(imd_dicom_dictionary_vm(IMD_TAG(0x0008, 0x0000)) == NULL);
    CHECK(!imd_dicom_is_retired(IMD_TAG(0x0008, 0x0000)));
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0028, 0x0000)), IMD_VR_UL);
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0002, 0x0000)), "FileMetaInformationGroupLength");
    CHECK_STR(imd_dicom_keyword(IMD_TAG(0x0000, 0x0000)), "CommandGroupLength");

    /* Private creators are LO; other private elements UN (PS3.5 §7.8.1). */
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0009, 0x0010)), IMD_VR_LO);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0029, 0x00ff)), IMD_VR_LO);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0009, 0x000f)), IMD_VR_UN);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0009, 0x0100)), IMD_VR_UN);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0019, 0x100c)), IMD_VR_UN);
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0009, 0x0000)), IMD_VR_UN); /* as pydicom */
    CHECK(imd_dicom_keyword(IMD_TAG(0x0009, 0x0010)) == NULL);
    CHECK(imd_dicom_keyword(IMD_TAG(0x0019, 0x100c)) == NULL);
    CHECK(imd_dicom_dictionary_vm(IMD_TAG(0x0019, 0x100c)) == NULL);

    /* Unknown standard tags. */
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0x0010, 0x9999)), IMD_VR_UN);
    CHECK(imd_dicom_keyword(IMD_TAG(0x0010, 0x9999)) == NULL);
    CHECK(imd_dicom_dictionary_vm(IMD_TAG(0x0010, 0x9999)) == NULL);
    CHECK(!imd_dicom_is_retired(IMD_TAG(0x0010, 0x9999)));
    CHECK_INT(imd_dicom_dictionary_vr(IMD_TAG(0xfffe, 0xe001)), IMD_VR_UN);
    CHECK_INT(imd_dicom_dictionary_vr(0xffffffffu), IMD_VR_UN);
    CHECK(imd_dicom_keyword(0xffffffffu) == NULL);
}

IMD_TEST(known_uids)
{
    CHECK_STR(imd_dicom_uid_name(IMD_UID_EXPLICIT_VR_LE), "Explicit VR Little Endian");
    CHECK_STR(imd_dicom_uid_keyword(IMD_UID_EXPLICIT_VR_LE), "ExplicitVRLittleEndian");
    CHECK_STR(imd_dicom_uid_for_keyword("ExplicitVRLittleEndian"), IMD_UID_EXPLICIT_VR_LE);
    CHECK_STR(imd_dicom_uid_name(IMD_UID_IMPLICIT_VR_LE), "Implicit VR Little Endian");
    CHECK_STR(imd_dicom_uid_for_keyword("ImplicitVRLittleEndian"), IMD_UID_IMPLICIT_VR_LE);
    CHECK_STR(imd_dicom_uid_for_keyword("DeflatedExplicitVRLittleEndian"),
              IMD_UID_DEFLATED_EXPLICIT_VR_LE);
    CHECK_STR(imd_dicom_uid_for_keyword("ExplicitVRBigEndian"), IMD_UID_EXPLICIT_VR_BE);
    CHECK_STR(imd_dicom_uid_name("1.2.840.10008.5.1.4.1.1.4"), "MR Image Storage");
    CHECK_STR(imd_dicom_uid_keyword("1.2.840.10008.5.1.4.1.1.4"), "MRImageStorage");
    CHECK_STR(imd_dicom_uid_for_keyword("MRImageStorage"), "1.2.840.10008.5.1.4.1.1.4");
    CHECK_STR(imd_dicom_uid_name("1.2.840.10008.5.1.4.1.1.2"), "CT Image Storage");
    CHECK_STR(imd_dicom_uid_name("1.2.840.10008.1.2.4.50"), "JPEG Baseline (Process 1)");

    CHECK(imd_dicom_uid_name("1.2.3.4") == NULL);
    CHECK(imd_dicom_uid_name("") == NULL);
    CHECK(imd_dicom_uid_name(NULL) == NULL);
    CHECK(imd_dicom_uid_keyword(NULL) == NULL);
    CHECK(imd_dicom_uid_name("1.2.840.10008.1.2.1 ") == NULL); /* exact text only */
    CHECK(imd_dicom_uid_for_keyword("NoSuchUID") == NULL);
    CHECK(imd_dicom_uid_for_keyword("") == NULL);
    CHECK(imd_dicom_uid_for_keyword(NULL) == NULL);
}

static const char *const standard_vrs[34] = {
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
    "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
    "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};

IMD_TEST(vr_names)
{
    for (int i = 0; i < 34; i++) {
        ImdVR vr = (ImdVR)0;
        CHECK(imd_dicom_vr_from_name(standard_vrs[i], &vr));
        CHECK_INT(vr, IMD_VR_AE + i); /* the ABI order is alphabetical */
        CHECK_STR(imd_dicom_vr_name(vr), standard_vrs[i]);
    }
    CHECK_STR(imd_dicom_vr_name(IMD_VR_OB_OW), "OB or OW");
    CHECK_STR(imd_dicom_vr_name(IMD_VR_US_SS), "US or SS");
    CHECK_STR(imd_dicom_vr_name(IMD_VR_US_SS_OW), "US or SS or OW");
    CHECK_STR(imd_dicom_vr_name(IMD_VR_NONE), "NONE");
    CHECK(imd_dicom_vr_name((ImdVR)0) == NULL);
    CHECK(imd_dicom_vr_name((ImdVR)35) == NULL);
    CHECK(imd_dicom_vr_name((ImdVR)63) == NULL);
    CHECK(imd_dicom_vr_name((ImdVR)68) == NULL);
    CHECK(imd_dicom_vr_name((ImdVR)1000) == NULL);

    ImdVR vr = IMD_VR_AE;
    const char *bad[] = {"", "O", "ob", "Ob", "OBX", "XX", "OB or OW", "NONE", "  ", "O\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (imd_dicom_vr_from_name(bad[i], &vr)) {
            IMD_FAIL_AT("\"%s\" taken as a VR", bad[i]);
        }
    }
    CHECK(!imd_dicom_vr_from_name(NULL, &vr));
    CHECK_INT(vr, IMD_VR_AE); /* untouched on failure */
    CHECK(imd_dicom_vr_from_name("SQ", NULL));
}

IMD_TEST(vr_properties)
{
    const char *text = "AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT";
    const char *long_length = "OB OD OF OL OV OW SQ SV UC UN UR UT UV";
    for (int i = 0; i < 34; i++) {
        ImdVR vr = (ImdVR)(IMD_VR_AE + i);
        bool is_text = strstr(text, standard_vrs[i]) != NULL;
        bool is_long = strstr(long_length, standard_vrs[i]) != NULL;
        if (imd_dicom_vr_is_text(vr) != is_text) {
            IMD_FAIL_AT("%s: is_text %d", standard_vrs[i], !is_text);
        }
        if (imd__dicom_vr_has_long_length(vr) != is_long) {
            IMD_FAIL_AT("%s: has_long_length %d", standard_vrs[i], !is_long);
        }
        uint8_t pad = is_text && vr != IMD_VR_UI ? ' ' : '\0';
        if (imd__dicom_vr_pad(vr) != pad) {
            IMD_FAIL_AT("%s: pad 0x%02x", standard_vrs[i], imd__dicom_vr_pad(vr));
        }
        if (is_text) {
            CHECK_INT(imd__dicom_vr_unit(vr), 1);
        }
    }
    CHECK_INT(imd__dicom_vr_pad(IMD_VR_UI), 0);
    CHECK_INT(imd__dicom_vr_pad(IMD_VR_OB), 0);
    CHECK_INT(imd__dicom_vr_pad(IMD_VR_PN), ' ');
    CHECK_INT(imd__dicom_vr_pad(IMD_VR_UR), ' ');
    CHECK_INT(imd__dicom_vr_pad(IMD_VR_US), 0);
    CHECK(!imd_dicom_vr_is_text(IMD_VR_NONE));
    CHECK(imd__dicom_vr_has_long_length(IMD_VR_OB_OW));
    CHECK(!imd__dicom_vr_has_long_length(IMD_VR_US_SS));
    CHECK(!imd__dicom_vr_has_long_length(IMD_VR_NONE));

    static const struct {
        ImdVR vr;
        size_t unit;
    } units[] = {
        {IMD_VR_AT, 4}, {IMD_VR_FD, 8}, {IMD_VR_FL, 4}, {IMD_VR_OD, 8}, {IMD_VR_OF, 4},
        {IMD_VR_OL, 4}, {IMD_VR_OV, 8}, {IMD_VR_OW, 2}, {IMD_VR_SL, 4}, {IMD_VR_SS, 2},
        {IMD_VR_SV, 8}, {IMD_VR_UL, 4}, {IMD_VR_US, 2}, {IMD_VR_UV, 8}, {IMD_VR_OB, 1},
        {IMD_VR_UN, 1}, {IMD_VR_US_SS, 2}, {IMD_VR_US_SS_OW, 2}, {IMD_VR_OB_OW, 1},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (imd__dicom_vr_unit(units[i].vr) != units[i].unit) {
            IMD_FAIL_AT("%s: unit %zu, expected %zu", imd_dicom_vr_name(units[i].vr),
                        imd__dicom_vr_unit(units[i].vr), units[i].unit);
        }
    }
}

IMD_TEST_MAIN(IMD_CASE(tables_sorted_and_unique), IMD_CASE(every_row_round_trips),
              IMD_CASE(known_tags), IMD_CASE(tags_outside_the_tables), IMD_CASE(known_uids),
              IMD_CASE(vr_names), IMD_CASE(vr_properties))
