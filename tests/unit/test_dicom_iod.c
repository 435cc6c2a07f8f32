/*
 * test_dicom_iod.c: imd__dicom_complete_iod on a template's data set (issue
 * 23 item 5): the 2C conditions of PS3.3 C.7.3.1 (Laterality) and C.8.3.1
 * (Trigger Time, In-plane Phase Encoding Direction), the type 2 Patient and
 * Study attributes an anonymised template lacks, Patient Orientation on SC,
 * and the value repairs (dates, times, ages, Patient's Sex, Velocity Encoding
 * Direction) at every depth of sequence items.
 * dciodvfy checks the same on real templates in integration.round_trip.
 */
#include "imd_test.h"

#include "formats/dicom/dicom_format.h"

#define MR "1.2.840.10008.5.1.4.1.1.4"
#define SC "1.2.840.10008.5.1.4.1.1.7"

static ImdDicomDataSet *with(uint32_t tag, const char *value)
{
    ImdDicomDataSet *d = imd_dicom_dataset_create(NULL);
    if (d != NULL && tag != 0 && !imd_dicom_dataset_set_string(NULL, d, tag, (ImdVR)0, value)) {
        imd_dicom_dataset_destroy(d);
        return NULL;
    }
    return d;
}

/* The element's text, "(absent)" when there is none. */
static char *text(const ImdDicomDataSet *d, uint32_t tag)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    if (e == NULL) {
        char *absent = malloc(sizeof "(absent)");
        return absent != NULL ? memcpy(absent, "(absent)", sizeof "(absent)") : NULL;
    }
    return imd_dicom_element_string(NULL, d, e);
}

#define CHECK_TEXT(d, tag, want)                                                           \
    do {                                                                                   \
        char *got_ = text(d, tag);                                                         \
        CHECK_STR(got_, want);                                                             \
        free(got_);                                                                        \
    } while (0)

IMD_TEST(laterality_follows_the_body_part)
{
    /* Unpaired: an empty (unknown) Laterality from the template goes. */
    ImdDicomDataSet *d = with(IMD_TAG_BodyPartExamined, "ABDOMEN");
    REQUIRE(d != NULL);
    REQUIRE(imd_dicom_dataset_set_string(NULL, d, IMD_TAG_Laterality, (ImdVR)0, ""));
    CHECK(imd__dicom_complete_iod(NULL, d, MR));
    CHECK_TEXT(d, IMD_TAG_Laterality, "(absent)");
    imd_dicom_dataset_destroy(d);
    /* Unpaired, with an actual value: the template's value is kept. */
    d = with(IMD_TAG_BodyPartExamined, "BRAIN");
    REQUIRE(d != NULL);
    REQUIRE(imd_dicom_dataset_set_string(NULL, d, IMD_TAG_Laterality, (ImdVR)0, "R"));
    CHECK(imd__dicom_complete_iod(NULL, d, MR));
    CHECK_TEXT(d, IMD_TAG_Laterality, "R");
    imd_dicom_dataset_destroy(d);
    /* Paired, and not said by Image Laterality: present, empty. */
    d = with(IMD_TAG_BodyPartExamined, "KIDNEY");
    REQUIRE(d != NULL);
    CHECK(imd__dicom_complete_iod(NULL, d, MR));
    CHECK_TEXT(d, IMD_TAG_Laterality, "");
    imd_dicom_dataset_destroy(d);
    /* Paired, said by Image Laterality: not added. */
    d = with(IMD_TAG_BodyPartExamined, "KNEE");
    REQUIRE(d != NULL);
    REQUIRE(imd_dicom_dataset_set_string(NULL, d, IMD_TAG_ImageLaterality, (ImdVR)0, "L"));
    CHECK(imd__dicom_complete_iod(NULL, d, MR));
    CHECK_TEXT(d, IMD_TAG_Laterality, "(absent)");
    imd_dicom_dataset_destroy(d);
    /* No body part: unknown, so present and empty (as before). */
    d = with(0, NULL);
    REQUIRE(d != NULL);
    CHECK(imd__dicom_complete_iod(NULL, d, MR));
    CHECK_TEXT(d, IMD_TAG_Laterality, "");
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(type_2_patient_and_study)
{
    ImdDicomDataSet *d = with(IMD_TAG_PatientName, "Doe^Jane");
    REQUIRE(d != NULL);
    CHECK(imd__dicom_complete_iod(NULL, d, MR));
    CHECK_TEXT(d, IMD_TAG_PatientName, "Doe^Jane"); /* never overwritten */
    CHECK_TEXT(d, IMD_TAG_PatientID, "");
    CHECK_TEXT(d, IMD_TAG_PatientBirthDate, "");
    CHECK_TEXT(d, IMD_TAG_PatientSex, "");
    CHECK_TEXT(d, IMD_TAG_StudyDate, "");
    CHECK_TEXT(d, IMD_TAG_ReferringPhysicianName, "");
    CHECK_TEXT(d, IMD_TAG_StudyID, "");
    CHECK_TEXT(d, IMD_TAG_AccessionNumber, "");
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(trigger_time_on_gating)
{
    static const struct {
        const char *options, *want;
    } cases[] = {{"CG\\RG\\PER", ""}, {"PPG", ""}, {"RG\\PER", "(absent)"},
                 {"PFP", "(absent)"}, {"", "(absent)"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ImdDicomDataSet *d = with(IMD_TAG_ScanOptions, cases[i].options);
        REQUIRE(d != NULL);
        CHECK(imd__dicom_complete_iod(NULL, d, MR));
        CHECK_TEXT(d, IMD_TAG_TriggerTime, cases[i].want);
        imd_dicom_dataset_destroy(d);
    }
    /* A template's trigger time stays. */
    ImdDicomDataSet *d = with(IMD_TAG_ScanOptions, "CG");
    REQUIRE(d != NULL);
    REQUIRE(imd_dicom_dataset_set_string(NULL, d, IMD_TAG_TriggerTime, (ImdVR)0, "412.5"));
    CHECK(imd__dicom_complete_iod(NULL, d, MR));
    CHECK_TEXT(d, IMD_TAG_TriggerTime, "412.5");
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(phase_encoding_direction_terms)
{
    static const struct {
        const char *from, *to;
    } cases[] = {{"COLUMN", "COL"}, {"ROW", "ROW"}, {"COL", "COL"}, {"MIXED", "OTHER"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ImdDicomDataSet *d = with(IMD_TAG_InPlanePhaseEncodingDirection, cases[i].from);
        REQUIRE(d != NULL);
        CHECK(imd__dicom_complete_iod(NULL, d, MR));
        CHECK_TEXT(d, IMD_TAG_InPlanePhaseEncodingDirection, cases[i].to);
        imd_dicom_dataset_destroy(d);
    }
    /* Only the MR Image IOD's terms: an SC instance keeps what it has. */
    ImdDicomDataSet *d = with(IMD_TAG_InPlanePhaseEncodingDirection, "COLUMN");
    REQUIRE(d != NULL);
    CHECK(imd__dicom_complete_iod(NULL, d, SC));
    CHECK_TEXT(d, IMD_TAG_InPlanePhaseEncodingDirection, "COLUMN");
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(secondary_capture_patient_orientation)
{
    ImdDicomDataSet *d = with(0, NULL);
    REQUIRE(d != NULL);
    CHECK(imd__dicom_complete_iod(NULL, d, SC));
    CHECK_TEXT(d, IMD_TAG_PatientOrientation, "");
    CHECK_TEXT(d, IMD_TAG_ConversionType, "WSD");
    imd_dicom_dataset_destroy(d);
    d = with(IMD_TAG_PatientOrientation, "L\\F");
    REQUIRE(d != NULL);
    CHECK(imd__dicom_complete_iod(NULL, d, SC));
    CHECK_TEXT(d, IMD_TAG_PatientOrientation, "L\\F");
    imd_dicom_dataset_destroy(d);
}

/* The value repairs reach into items, a vendor's private sequence included
 * (PS3.5 7.5: an item's attributes are those attributes): what dciodvfy
 * reported in dcm_qa_cs_dl's Philips (2005,140F). */
static bool set_direction(ImdDicomDataSet *d, double x, double y, double z)
{
    double v[3] = {x, y, z};
    return imd_dicom_dataset_set_numbers(NULL, d, IMD_TAG_VelocityEncodingDirection,
                                         IMD_VR_FD, v, 3);
}

IMD_TEST(value_repairs_in_items)
{
    static const char *const classes[] = {MR, SC};
    for (size_t c = 0; c < 2; c++) {
        ImdDicomDataSet *d = with(IMD_TAG_ScanningSequence, "GR");
        REQUIRE(d != NULL);
        REQUIRE(set_direction(d, 0, 0, 0));
        REQUIRE(imd_dicom_dataset_set_string(NULL, d, 0x20050014u, IMD_VR_LO,
                                             "Philips MR Imaging DD 005"));
        ImdDicomDataSet *philips = imd_dicom_dataset_append_item(NULL, d, 0x2005140Fu);
        REQUIRE(philips != NULL);
        REQUIRE(set_direction(philips, 0, 0, 0));
        REQUIRE(imd_dicom_dataset_set_string(NULL, philips, IMD_TAG_StudyDate, (ImdVR)0,
                                             "***"));
        REQUIRE(imd_dicom_dataset_set_string(NULL, philips, IMD_TAG_StudyTime, (ImdVR)0,
                                             "101500.25"));
        ImdDicomDataSet *second = imd_dicom_dataset_append_item(NULL, d, 0x2005140Fu);
        REQUIRE(second != NULL);
        REQUIRE(set_direction(second, 0, 0.6, 0.8)); /* a unit vector: kept */
        /* Two levels down, in a standard sequence. */
        ImdDicomDataSet *nested =
            imd_dicom_dataset_append_item(NULL, second, IMD_TAG_MRVelocityEncodingSequence);
        REQUIRE(nested != NULL);
        REQUIRE(set_direction(nested, 1, 1, 1));
        REQUIRE(imd_dicom_dataset_set_string(NULL, nested, IMD_TAG_PatientSex, (ImdVR)0, "0"));
        REQUIRE(imd_dicom_dataset_set_string(NULL, nested, IMD_TAG_PatientAge, (ImdVR)0,
                                             "42 Y"));
        REQUIRE(imd_dicom_dataset_set_string(NULL, nested, IMD_TAG_SeriesDescription,
                                             (ImdVR)0, "***")); /* not a date: kept */

        CHECK(imd__dicom_complete_iod(NULL, d, classes[c]));
        CHECK_TEXT(d, IMD_TAG_VelocityEncodingDirection, "(absent)");
        CHECK_TEXT(philips, IMD_TAG_VelocityEncodingDirection, "(absent)");
        CHECK_TEXT(philips, IMD_TAG_StudyDate, "");
        CHECK_TEXT(philips, IMD_TAG_StudyTime, "101500.25");
        const ImdDicomElement *kept = imd_dicom_dataset_find(second,
                                                             IMD_TAG_VelocityEncodingDirection);
        double y = 0;
        CHECK(kept != NULL && imd_dicom_element_vm(kept) == 3 &&
              imd_dicom_element_number(NULL, kept, 1, &y) && y == 0.6);
        CHECK_TEXT(nested, IMD_TAG_VelocityEncodingDirection, "(absent)");
        CHECK_TEXT(nested, IMD_TAG_PatientSex, "");
        CHECK_TEXT(nested, IMD_TAG_PatientAge, "");
        CHECK_TEXT(nested, IMD_TAG_SeriesDescription, "***");
        /* The items are still there, with their other elements. */
        const ImdDicomElement *seq = imd_dicom_dataset_find(d, 0x2005140Fu);
        CHECK(seq != NULL && imd_dicom_element_item_count(seq) == 2);
        imd_dicom_dataset_destroy(d);
    }
}

IMD_TEST_MAIN(IMD_CASE(laterality_follows_the_body_part), IMD_CASE(type_2_patient_and_study),
              IMD_CASE(trigger_time_on_gating), IMD_CASE(phase_encoding_direction_terms),
              IMD_CASE(secondary_capture_patient_orientation),
              IMD_CASE(value_repairs_in_items))
