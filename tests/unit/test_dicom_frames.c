/*
 * test_dicom_frames: the functional-group walker (src/formats/dicom/frames.c)
 * on data sets built by hand with the data-set API: per-frame values over
 * shared ones, classic tags and VRs, date/time parts, nested and copied
 * sequences, Philips' private per-frame item, missing groups, inconsistent
 * groups (errors), a huge NumberOfFrames, the Dimension Index Sequence, and a
 * frame data set that outlives its (parsed) source. Real files are compared
 * with pydicom in tests/integration/dicom_frames.sh.
 */
#include "imd_test.h"

#include "formats/dicom/frames.h"

static uint32_t T(const char *keyword)
{
    uint32_t tag = 0;
    if (!imd_dicom_tag(keyword, &tag)) {
        IMD_FAIL_AT("unknown keyword %s", keyword);
    }
    return tag;
}

/* Text of `keyword` in `d` ("" when absent; "<sq>" for a sequence). Static buffer. */
static const char *text(const ImdDicomDataSet *d, uint32_t tag)
{
    static char buffer[256];
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    if (e == NULL) {
        return "";
    }
    char *value = imd_dicom_element_string(NULL, d, e);
    snprintf(buffer, sizeof buffer, "%s", value != NULL ? value : "<not text>");
    imd_free(value);
    return buffer;
}

static ImdVR vr_of(const ImdDicomDataSet *d, uint32_t tag)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    return e != NULL ? imd_dicom_element_vr(e) : (ImdVR)0;
}

static double number(const ImdDicomDataSet *d, uint32_t tag, size_t index)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    double value = NAN;
    if (e == NULL || !imd_dicom_element_number(NULL, e, index, &value)) {
        return NAN;
    }
    return value;
}

/* An item of macro `macro` in functional-groups item `groups`. */
static ImdDicomDataSet *macro(ImdDicomDataSet *groups, const char *keyword)
{
    return imd_dicom_dataset_append_item(NULL, groups, T(keyword));
}

static void set(ImdDicomDataSet *d, const char *keyword, const char *value)
{
    ImdError *error = NULL;
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, T(keyword), 0, value));
}

static void set_numbers(ImdDicomDataSet *d, const char *keyword, ImdVR vr, const double *values,
                        size_t count)
{
    ImdError *error = NULL;
    CHECK_OK(error, imd_dicom_dataset_set_numbers(&error, d, T(keyword), vr, values, count));
}

static void set_at(ImdDicomDataSet *d, const char *keyword, uint32_t tag)
{
    uint8_t bytes[4] = {(uint8_t)(tag >> 16), (uint8_t)(tag >> 24), (uint8_t)tag,
                        (uint8_t)(tag >> 8)};
    ImdError *error = NULL;
    CHECK_OK(error, imd_dicom_dataset_set_bytes(&error, d, T(keyword), IMD_VR_AT, bytes, 4));
}

/*
 * Two frames. Shared: pixel measures, orientation, echo time 10, a b matrix,
 * real world value mapping. Frame 1: position, echo time 20 (overrides), an
 * empty SliceThickness (falls back to shared), frame content, diffusion.
 * Frame 2: position only.
 */
static ImdDicomDataSet *two_frames(void)
{
    ImdDicomDataSet *d = imd_dicom_dataset_create(NULL);
    set(d, "NumberOfFrames", "2");
    set(d, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.4.1");
    ImdDicomDataSet *shared = imd_dicom_dataset_append_item(NULL, d, T("SharedFunctionalGroupsSequence"));
    ImdDicomDataSet *m = macro(shared, "PixelMeasuresSequence");
    set(m, "PixelSpacing", "0.5\\0.75");
    set(m, "SliceThickness", "3");
    set(macro(shared, "PlaneOrientationSequence"), "ImageOrientationPatient", "1\\0\\0\\0\\1\\0");
    double ten = 10, b = 1000;
    set_numbers(macro(shared, "MREchoSequence"), "EffectiveEchoTime", IMD_VR_FD, &ten, 1);
    m = macro(shared, "MRDiffusionSequence");
    set_numbers(m, "DiffusionBValue", IMD_VR_FD, &b, 1);
    set(m, "DiffusionDirectionality", "BMATRIX");
    ImdDicomDataSet *matrix = imd_dicom_dataset_append_item(NULL, m, T("DiffusionBMatrixSequence"));
    set_numbers(matrix, "DiffusionBValueXX", IMD_VR_FD, &b, 1);
    m = macro(shared, "RealWorldValueMappingSequence");
    double slope = 2.5;
    set_numbers(m, "RealWorldValueSlope", IMD_VR_FD, &slope, 1);
    set(m, "LUTLabel", "units");
    set(macro(shared, "MRImageFrameTypeSequence"), "FrameType", "ORIGINAL\\PRIMARY\\M\\NONE");

    ImdDicomDataSet *own = imd_dicom_dataset_append_item(NULL, d, T("PerFrameFunctionalGroupsSequence"));
    set(macro(own, "PlanePositionSequence"), "ImagePositionPatient", "-10\\-20.5\\3");
    double twenty = 20;
    set_numbers(macro(own, "MREchoSequence"), "EffectiveEchoTime", IMD_VR_FD, &twenty, 1);
    set(macro(own, "PixelMeasuresSequence"), "SliceThickness", "");
    m = macro(own, "FrameContentSequence");
    set(m, "FrameAcquisitionDateTime", "20240102123456.789+0100");
    double temporal = 3, number_7 = 7, indices[3] = {1, 2, 3};
    set_numbers(m, "TemporalPositionIndex", IMD_VR_UL, &temporal, 1);
    set_numbers(m, "FrameAcquisitionNumber", IMD_VR_US, &number_7, 1);
    set_numbers(m, "DimensionIndexValues", IMD_VR_UL, indices, 3);
    m = macro(own, "MRDiffusionSequence");
    double b500 = 500, direction[3] = {0.6, 0, -0.8};
    set_numbers(m, "DiffusionBValue", IMD_VR_FD, &b500, 1);
    ImdDicomDataSet *gradient = imd_dicom_dataset_append_item(NULL, m, T("DiffusionGradientDirectionSequence"));
    set_numbers(gradient, "DiffusionGradientOrientation", IMD_VR_FD, direction, 3);
    double delay = 123.456;
    set_numbers(macro(own, "CardiacSynchronizationSequence"), "NominalCardiacTriggerDelayTime",
                IMD_VR_FD, &delay, 1);

    own = imd_dicom_dataset_append_item(NULL, d, T("PerFrameFunctionalGroupsSequence"));
    set(macro(own, "PlanePositionSequence"), "ImagePositionPatient", "-10\\-20.5\\6");
    return d;
}

IMD_TEST(table_resolves)
{
    size_t rows = 0;
    CHECK_INT(imd__dicom_frame_table_unresolved(&rows), 0);
    CHECK(rows > 100);
}

IMD_TEST(frame_count)
{
    ImdDicomDataSet *d = imd_dicom_dataset_create(NULL);
    CHECK_INT(imd__dicom_frame_count(d), 1);
    const char *values[] = {"0", "-3", "abc", "", "1.5"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        set(d, "NumberOfFrames", values[i]);
        CHECK_INT(imd__dicom_frame_count(d), 1);
    }
    set(d, "NumberOfFrames", " 520 ");
    CHECK_INT(imd__dicom_frame_count(d), 520);
    CHECK(!imd__dicom_has_functional_groups(d));
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(per_frame_over_shared)
{
    ImdDicomDataSet *d = two_frames();
    CHECK(imd__dicom_has_functional_groups(d));
    ImdError *error = NULL;
    ImdDicomDataSet *f = imd__dicom_frame_attributes(&error, d, 0);
    REQUIRE(f != NULL);
    CHECK_STR(text(f, T("ImagePositionPatient")), "-10\\-20.5\\3");
    CHECK_STR(text(f, T("ImageOrientationPatient")), "1\\0\\0\\0\\1\\0");
    CHECK_STR(text(f, T("PixelSpacing")), "0.5\\0.75");
    CHECK_STR(text(f, T("SliceThickness")), "3"); /* empty per-frame value: shared */
    /* EffectiveEchoTime (FD) -> EchoTime (DS), the per-frame one */
    CHECK_INT(vr_of(f, T("EchoTime")), IMD_VR_DS);
    CHECK_STR(text(f, T("EchoTime")), "20");
    CHECK_INT(vr_of(f, T("EffectiveEchoTime")), IMD_VR_FD);
    /* FrameAcquisitionDateTime -> AcquisitionDateTime, AcquisitionDate, AcquisitionTime */
    CHECK_STR(text(f, T("AcquisitionDateTime")), "20240102123456.789+0100");
    CHECK_INT(vr_of(f, T("AcquisitionDate")), IMD_VR_DA);
    CHECK_STR(text(f, T("AcquisitionDate")), "20240102");
    CHECK_INT(vr_of(f, T("AcquisitionTime")), IMD_VR_TM);
    CHECK_STR(text(f, T("AcquisitionTime")), "123456.789");
    CHECK_INT(vr_of(f, T("TemporalPositionIdentifier")), IMD_VR_IS);
    CHECK_STR(text(f, T("TemporalPositionIdentifier")), "3");
    CHECK_INT(vr_of(f, T("TemporalPositionIndex")), IMD_VR_UL);
    CHECK_INT(vr_of(f, T("AcquisitionNumber")), IMD_VR_IS);
    CHECK_STR(text(f, T("AcquisitionNumber")), "7");
    CHECK_NEAR(number(f, T("DimensionIndexValues"), 2), 3, 0);
    CHECK_INT(vr_of(f, T("TriggerTime")), IMD_VR_DS);
    CHECK_NEAR(number(f, T("TriggerTime"), 0), 123.456, 1e-12);
    CHECK_STR(text(f, T("ImageType")), "ORIGINAL\\PRIMARY\\M\\NONE");
    /* diffusion: the per-frame b value and direction; the shared directionality and matrix */
    CHECK_NEAR(number(f, T("DiffusionBValue"), 0), 500, 0);
    CHECK_NEAR(number(f, T("DiffusionGradientOrientation"), 2), -0.8, 0);
    CHECK_STR(text(f, T("DiffusionDirectionality")), "BMATRIX");
    const ImdDicomElement *matrix = imd_dicom_dataset_find(f, T("DiffusionBMatrixSequence"));
    REQUIRE(matrix != NULL && imd_dicom_element_item_count(matrix) == 1);
    CHECK_NEAR(number(imd_dicom_element_item(matrix, 0), T("DiffusionBValueXX"), 0), 1000, 0);
    const ImdDicomElement *mapping = imd_dicom_dataset_find(f, T("RealWorldValueMappingSequence"));
    REQUIRE(mapping != NULL && imd_dicom_element_item_count(mapping) == 1);
    CHECK_NEAR(number(imd_dicom_element_item(mapping, 0), T("RealWorldValueSlope"), 0), 2.5, 0);
    CHECK_STR(text(imd_dicom_element_item(mapping, 0), T("LUTLabel")), "units");
    /* nothing else comes along: no macro sequences, no pixel description */
    CHECK(imd_dicom_dataset_find(f, T("MREchoSequence")) == NULL);
    CHECK(imd_dicom_dataset_find(f, T("NumberOfFrames")) == NULL);
    imd_dicom_dataset_destroy(f);

    f = imd__dicom_frame_attributes(&error, d, 1);
    REQUIRE(f != NULL);
    CHECK_STR(text(f, T("ImagePositionPatient")), "-10\\-20.5\\6");
    CHECK_STR(text(f, T("EchoTime")), "10"); /* shared */
    CHECK_NEAR(number(f, T("DiffusionBValue"), 0), 1000, 0);
    CHECK(imd_dicom_dataset_find(f, T("DiffusionGradientOrientation")) == NULL);
    CHECK(imd_dicom_dataset_find(f, T("AcquisitionTime")) == NULL);
    CHECK(imd_dicom_dataset_find(f, T("TriggerTime")) == NULL);
    imd_dicom_dataset_destroy(f);

    CHECK_FAILS(error, imd__dicom_frame_attributes(&error, d, 2), IMD_ERR_INVALID_ARG);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(no_functional_groups)
{
    ImdDicomDataSet *d = imd_dicom_dataset_create(NULL);
    set(d, "NumberOfFrames", "3");
    set(d, "ImagePositionPatient", "1\\2\\3");
    ImdError *error = NULL;
    for (size_t i = 0; i < 3; i++) {
        ImdDicomDataSet *f = imd__dicom_frame_attributes(&error, d, i);
        REQUIRE(f != NULL);
        CHECK_INT(imd_dicom_dataset_count(f), 0);
        imd_dicom_dataset_destroy(f);
    }
    CHECK_FAILS(error, imd__dicom_frame_attributes(&error, d, 3), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd__dicom_frame_attributes(&error, NULL, 0), IMD_ERR_INVALID_ARG);
    /* only a shared item: every frame has its values */
    set(macro(imd_dicom_dataset_append_item(NULL, d, T("SharedFunctionalGroupsSequence")),
              "PixelMeasuresSequence"), "PixelSpacing", "2\\2");
    ImdDicomDataSet *f = imd__dicom_frame_attributes(&error, d, 2);
    REQUIRE(f != NULL);
    CHECK_STR(text(f, T("PixelSpacing")), "2\\2");
    CHECK(imd_dicom_dataset_find(f, T("ImagePositionPatient")) == NULL); /* the top level's */
    imd_dicom_dataset_destroy(f);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(inconsistent_groups)
{
    ImdDicomDataSet *d = two_frames();
    set(d, "NumberOfFrames", "3"); /* two per-frame items */
    ImdError *error = NULL;
    CHECK(imd__dicom_frame_attributes(&error, d, 0) == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_CORRUPT);
    CHECK(strstr(imd_error_message(error), "frame 1") != NULL);
    CHECK(strstr(imd_error_message(error), "(5200,9230)") != NULL);
    CHECK(strstr(imd_error_message(error), "2 items for 3 frames") != NULL);
    imd_error_clear(&error);
    set(d, "NumberOfFrames", "1"); /* more items than frames */
    CHECK_FAILS(error, imd__dicom_frame_attributes(&error, d, 0), IMD_ERR_CORRUPT);
    /* a per-frame "sequence" that is not one */
    imd_dicom_dataset_remove(d, T("PerFrameFunctionalGroupsSequence"));
    ImdError *e2 = NULL;
    CHECK_OK(e2, imd_dicom_dataset_set_bytes(&e2, d, T("PerFrameFunctionalGroupsSequence"),
                                             IMD_VR_OB, "ab", 2));
    CHECK_FAILS(error, imd__dicom_frame_attributes(&error, d, 0), IMD_ERR_CORRUPT);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(huge_frame_count)
{
    /* NumberOfFrames 2^31-1 with one per-frame item: refused at once; with shared
     * groups only, any frame is answered without allocating per frame. */
    ImdDicomDataSet *d = two_frames();
    set(d, "NumberOfFrames", "2147483647");
    ImdError *error = NULL;
    CHECK_FAILS(error, imd__dicom_frame_attributes(&error, d, 2147483646), IMD_ERR_CORRUPT);
    imd_dicom_dataset_remove(d, T("PerFrameFunctionalGroupsSequence"));
    ImdDicomDataSet *f = imd__dicom_frame_attributes(&error, d, 2147483646);
    REQUIRE(f != NULL);
    CHECK_STR(text(f, T("EchoTime")), "10");
    imd_dicom_dataset_destroy(f);
    CHECK_FAILS(error, imd__dicom_frame_attributes(&error, d, 2147483647), IMD_ERR_INVALID_ARG);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(philips_private_item)
{
    ImdDicomDataSet *d = two_frames();
    ImdError *error = NULL;
    const ImdDicomElement *groups = imd_dicom_dataset_find(d, T("PerFrameFunctionalGroupsSequence"));
    ImdDicomDataSet *own = (ImdDicomDataSet *)(uintptr_t)imd_dicom_element_item(groups, 0);
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, own, IMD_TAG(0x2005, 0x0014), IMD_VR_LO,
                                                 "Philips MR Imaging DD 005"));
    ImdDicomDataSet *philips = imd_dicom_dataset_append_item(&error, own, IMD_TAG(0x2005, 0x140f));
    REQUIRE(philips != NULL);
    set(philips, "ImagePositionPatient", "99\\99\\99"); /* the standard macro wins */
    set(philips, "EchoTime", "99");
    set(philips, "InversionTime", "450");                /* only here: taken */
    set(philips, "SOPInstanceUID", "1.2.3.4");           /* SOP identity: never */
    double rows = 64;
    set_numbers(philips, "Rows", IMD_VR_US, &rows, 1);  /* Image Pixel module: never */
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, philips, IMD_TAG(0x2005, 0x0010),
                                                 IMD_VR_LO, "Philips MR Imaging DD 001"));
    double scale = 0.25;
    CHECK_OK(error, imd_dicom_dataset_set_numbers(&error, philips, IMD_TAG(0x2005, 0x100e),
                                                  IMD_VR_FL, &scale, 1));
    /* a private element whose block (2005,0012) has no creator: left out */
    CHECK_OK(error, imd_dicom_dataset_set_numbers(&error, philips, IMD_TAG(0x2005, 0x1201),
                                                  IMD_VR_FL, &scale, 1));
    ImdDicomDataSet *f = imd__dicom_frame_attributes(&error, d, 0);
    REQUIRE(f != NULL);
    CHECK_STR(text(f, T("ImagePositionPatient")), "-10\\-20.5\\3");
    CHECK_STR(text(f, T("EchoTime")), "20");
    CHECK_STR(text(f, T("InversionTime")), "450");
    CHECK(imd_dicom_dataset_find(f, T("SOPInstanceUID")) == NULL);
    CHECK(imd_dicom_dataset_find(f, T("Rows")) == NULL);
    CHECK_STR(text(f, IMD_TAG(0x2005, 0x0010)), "Philips MR Imaging DD 001");
    CHECK_NEAR(number(f, IMD_TAG(0x2005, 0x100e), 0), 0.25, 0);
    CHECK(imd_dicom_dataset_find(f, IMD_TAG(0x2005, 0x1201)) == NULL);
    imd_dicom_dataset_destroy(f);
    /* frame 2 has no Philips item */
    f = imd__dicom_frame_attributes(&error, d, 1);
    REQUIRE(f != NULL);
    CHECK(imd_dicom_dataset_find(f, T("InversionTime")) == NULL);
    imd_dicom_dataset_destroy(f);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(unassigned_converted_attributes)
{
    /* Legacy converted: Unassigned Per-frame over Unassigned Shared, both under the macros. */
    ImdDicomDataSet *d = imd_dicom_dataset_create(NULL);
    set(d, "NumberOfFrames", "1");
    ImdDicomDataSet *shared = imd_dicom_dataset_append_item(NULL, d, T("SharedFunctionalGroupsSequence"));
    ImdDicomDataSet *u = macro(shared, "UnassignedSharedConvertedAttributesSequence");
    set(u, "ScanningSequence", "SE");
    set(u, "SliceLocation", "7");
    set(u, "ImagePositionPatient", "5\\5\\5");
    ImdDicomDataSet *own = imd_dicom_dataset_append_item(NULL, d, T("PerFrameFunctionalGroupsSequence"));
    set(macro(own, "PlanePositionSequence"), "ImagePositionPatient", "1\\2\\3");
    set(macro(own, "UnassignedPerFrameConvertedAttributesSequence"), "SliceLocation", "3");
    ImdError *error = NULL;
    ImdDicomDataSet *f = imd__dicom_frame_attributes(&error, d, 0);
    REQUIRE(f != NULL);
    CHECK_STR(text(f, T("ImagePositionPatient")), "1\\2\\3");
    CHECK_STR(text(f, T("SliceLocation")), "3");
    CHECK_STR(text(f, T("ScanningSequence")), "SE");
    imd_dicom_dataset_destroy(f);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(dimensions)
{
    ImdDicomDataSet *d = imd_dicom_dataset_create(NULL);
    ImdDimension dims[4];
    CHECK_INT(imd__dicom_dimensions(d, dims, 4), 0);
    ImdDicomDataSet *item = imd_dicom_dataset_append_item(NULL, d, T("DimensionIndexSequence"));
    set_at(item, "DimensionIndexPointer", T("InStackPositionNumber"));
    set_at(item, "FunctionalGroupPointer", T("FrameContentSequence"));
    set(item, "DimensionDescriptionLabel", "In-Stack Position Number");
    item = imd_dicom_dataset_append_item(NULL, d, T("DimensionIndexSequence"));
    set_at(item, "DimensionIndexPointer", T("TemporalPositionIndex"));
    item = imd_dicom_dataset_append_item(NULL, d, T("DimensionIndexSequence"));
    CHECK_INT(imd__dicom_dimensions(d, dims, 4), 3);
    CHECK_INT(dims[0].index_pointer, T("InStackPositionNumber"));
    CHECK_INT(dims[0].group_pointer, T("FrameContentSequence"));
    CHECK_STR(dims[0].label, "In-Stack Position Number");
    CHECK_INT(dims[1].index_pointer, T("TemporalPositionIndex"));
    CHECK_INT(dims[1].group_pointer, 0);
    CHECK_STR(dims[1].label, "");
    CHECK_INT(dims[2].index_pointer, 0);
    memset(dims, 0x55, sizeof dims);
    CHECK_INT(imd__dicom_dimensions(d, dims, 1), 3); /* the count, with one filled */
    CHECK_INT(dims[0].index_pointer, T("InStackPositionNumber"));
    CHECK_INT(dims[1].index_pointer, 0x55555555u);
    imd_dicom_dataset_destroy(d);
}

IMD_TEST(outlives_parsed_source)
{
    /* Write, parse (values then point into the parsed buffer), walk, destroy the source,
     * then read the frame's values: they must still be there (ASan checks). The text is
     * Latin-1 under ISO_IR 100, which the frame keeps. */
    ImdDicomDataSet *d = two_frames();
    ImdError *error = NULL;
    set(d, "SOPInstanceUID", "1.2.3");
    set(d, "SpecificCharacterSet", "ISO_IR 100");
    const ImdDicomElement *groups = imd_dicom_dataset_find(d, T("PerFrameFunctionalGroupsSequence"));
    ImdDicomDataSet *own = (ImdDicomDataSet *)(uintptr_t)imd_dicom_element_item(groups, 0);
    const ImdDicomElement *content = imd_dicom_dataset_find(own, T("FrameContentSequence"));
    ImdDicomDataSet *item = (ImdDicomDataSet *)(uintptr_t)imd_dicom_element_item(content, 0);
    CHECK_OK(error, imd_dicom_dataset_set_bytes(&error, item, T("FrameLabel"), IMD_VR_LO,
                                                "caf\xe9", 4));
    ImdStream *stream = imd_stream_open_buffer(&error, "memory");
    REQUIRE(stream != NULL);
    CHECK_OK(error, imd_dicom_write(&error, d, stream, NULL));
    size_t size = 0;
    uint8_t *bytes = imd_stream_buffer_take(stream, &size);
    imd_stream_abort(stream);
    imd_dicom_dataset_destroy(d);
    ImdDicomDataSet *parsed = imd_dicom_read_memory(&error, bytes, size, "memory", NULL);
    imd_free(bytes);
    REQUIRE(parsed != NULL);
    ImdDicomDataSet *f = imd__dicom_frame_attributes(&error, parsed, 0);
    imd_dicom_dataset_destroy(parsed);
    REQUIRE(f != NULL);
    CHECK(f->buffer != NULL); /* values borrowed from the parsed bytes, not copied */
    CHECK_STR(text(f, T("ImagePositionPatient")), "-10\\-20.5\\3");
    CHECK_STR(text(f, T("FrameLabel")), "caf\xc3\xa9");
    CHECK_STR(text(f, T("SpecificCharacterSet")), "ISO_IR 100");
    const ImdDicomElement *mapping = imd_dicom_dataset_find(f, T("RealWorldValueMappingSequence"));
    REQUIRE(mapping != NULL && imd_dicom_element_item_count(mapping) == 1);
    CHECK_STR(text(imd_dicom_element_item(mapping, 0), T("LUTLabel")), "units");
    imd_dicom_dataset_destroy(f);
}

IMD_TEST_MAIN(IMD_CASE(table_resolves), IMD_CASE(frame_count), IMD_CASE(per_frame_over_shared),
              IMD_CASE(no_functional_groups), IMD_CASE(inconsistent_groups),
              IMD_CASE(huge_frame_count), IMD_CASE(philips_private_item),
              IMD_CASE(unassigned_converted_attributes), IMD_CASE(dimensions),
              IMD_CASE(outlives_parsed_source))
