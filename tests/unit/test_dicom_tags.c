/*
 * test_dicom_tags.c: the keyword constants of src/dicom/tags.h (generated
 * with the dictionary) and the private elements of src/dicom/private_tags.h.
 *
 * Oracles: PS3.6 (the tags typed in below from the standard's registry, not
 * from the generated files), the dictionary's own imd_dicom_tag() /
 * imd_dicom_keyword() for every constant the library uses, and PS3.5 §7.8.1
 * for where a private element lands. tests/integration/dicom_tag_names.sh
 * compares all 4,986 constants with DCMTK and pydicom.
 */
#include "imd_test.h"

#include "dicom/dicom_internal.h"

#include <unistd.h>

/* Constants are unsigned integer constant expressions: usable in a switch and
 * in static initialisers (why tags.h uses #define, not an enum: FFFEE000 is
 * not an int). */
_Static_assert(IMD_TAG_Item == 0xFFFEE000u, "Item is (FFFE,E000), PS3.5 §7.5");
_Static_assert(IMD_TAG_PixelData == 0x7FE00010u, "PixelData is (7FE0,0010)");
static const uint32_t in_initialiser[] = {IMD_TAG_PatientName, IMD_TAG_SOPInstanceUID};

static const char *kind_of(uint32_t tag)
{
    switch (tag) {
    case IMD_TAG_PatientName: return "patient";
    case IMD_TAG_ImagePositionPatient: return "geometry";
    case IMD_TAG_Item:
    case IMD_TAG_ItemDelimitationItem:
    case IMD_TAG_SequenceDelimitationItem: return "item";
    default: return "other";
    }
}

/* A few tags as PS3.6 Table 6-1 / PS3.5 §7.5 and PS3.10 Table 7.1-1 give them. */
IMD_TEST(constants_equal_the_standard)
{
    CHECK_INT(IMD_TAG_PatientName, 0x00100010u);
    CHECK_INT(IMD_TAG_PatientID, 0x00100020u);
    CHECK_INT(IMD_TAG_SOPClassUID, 0x00080016u);
    CHECK_INT(IMD_TAG_SOPInstanceUID, 0x00080018u);
    CHECK_INT(IMD_TAG_SpecificCharacterSet, 0x00080005u);
    CHECK_INT(IMD_TAG_ImageType, 0x00080008u);
    CHECK_INT(IMD_TAG_SeriesInstanceUID, 0x0020000Eu);
    CHECK_INT(IMD_TAG_ImagePositionPatient, 0x00200032u);
    CHECK_INT(IMD_TAG_ImageOrientationPatient, 0x00200037u);
    CHECK_INT(IMD_TAG_SliceThickness, 0x00180050u);
    CHECK_INT(IMD_TAG_SpacingBetweenSlices, 0x00180088u);
    CHECK_INT(IMD_TAG_PixelSpacing, 0x00280030u);
    CHECK_INT(IMD_TAG_Rows, 0x00280010u);
    CHECK_INT(IMD_TAG_Columns, 0x00280011u);
    CHECK_INT(IMD_TAG_BitsAllocated, 0x00280100u);
    CHECK_INT(IMD_TAG_RescaleSlope, 0x00281053u);
    CHECK_INT(IMD_TAG_DiffusionBValue, 0x00189087u);
    CHECK_INT(IMD_TAG_DiffusionGradientOrientation, 0x00189089u);
    CHECK_INT(IMD_TAG_SharedFunctionalGroupsSequence, 0x52009229u);
    CHECK_INT(IMD_TAG_PerFrameFunctionalGroupsSequence, 0x52009230u);
    CHECK_INT(IMD_TAG_PixelData, 0x7FE00010u);
    CHECK_INT(IMD_TAG_FloatPixelData, 0x7FE00008u);
    CHECK_INT(IMD_TAG_Item, 0xFFFEE000u);
    CHECK_INT(IMD_TAG_ItemDelimitationItem, 0xFFFEE00Du);
    CHECK_INT(IMD_TAG_SequenceDelimitationItem, 0xFFFEE0DDu);
    CHECK_INT(IMD_TAG_FileMetaInformationGroupLength, 0x00020000u);
    CHECK_INT(IMD_TAG_TransferSyntaxUID, 0x00020010u);
    /* A repeating group (60xx,3000): its first group, 6000. */
    CHECK_INT(IMD_TAG_OverlayData, 0x60003000u);
    /* A command field (PS3.7 Annex E). */
    CHECK_INT(IMD_TAG_CommandField, 0x00000100u);
    CHECK_INT(in_initialiser[0], 0x00100010u);
    CHECK_INT(in_initialiser[1], 0x00080018u);
    CHECK_STR(kind_of(0x00100010u), "patient");
    CHECK_STR(kind_of(0x00200032u), "geometry");
    CHECK_STR(kind_of(0xFFFEE0DDu), "item");
    CHECK_STR(kind_of(0x00100020u), "other");
}

/* Every constant the library's sources use (97 when this test was written; the list is
 * `grep -oh 'IMD_TAG_[A-Z][A-Za-z0-9]*' src` less tags.h and the two macros) equals the
 * dictionary's tag of its keyword, and the dictionary names it back. */
#define USED(X) {#X, IMD_TAG_##X}
static const struct {
    const char *keyword;
    uint32_t tag;
} used[] = {
    USED(AccessionNumber), USED(AcquisitionNumber), USED(AcquisitionTime), USED(BitsAllocated),
    USED(BitsStored), USED(Columns), USED(ComplexImageComponent), USED(ContentDate),
    USED(ContentTime), USED(ConversionType), USED(DiffusionBValue),
    USED(DiffusionDirectionality), USED(DiffusionGradientOrientation),
    USED(DimensionDescriptionLabel), USED(DimensionIndexPointer), USED(DimensionIndexSequence),
    USED(DimensionOrganizationSequence), USED(DoubleFloatPixelData), USED(EchoNumbers),
    USED(EchoTime), USED(ExtendedOffsetTable), USED(ExtendedOffsetTableLengths),
    USED(FileMetaInformationGroupLength), USED(FileMetaInformationVersion), USED(FlipAngle),
    USED(FloatPixelData), USED(FrameIncrementPointer), USED(FrameOfReferenceUID),
    USED(FrameTime), USED(FunctionalGroupPointer), USED(GantryDetectorTilt),
    USED(GridFrameOffsetVector), USED(HighBit), USED(ImageOrientationPatient),
    USED(ImagePositionPatient), USED(ImageType), USED(ImplementationClassUID),
    USED(ImplementationVersionName), USED(InstanceNumber), USED(Item),
    USED(ItemDelimitationItem), USED(LargestImagePixelValue), USED(LargestPixelValueInSeries),
    USED(Laterality), USED(LossyImageCompression), USED(LossyImageCompressionMethod),
    USED(LossyImageCompressionRatio), USED(MediaStorageSOPClassUID),
    USED(MediaStorageSOPInstanceUID), USED(Modality), USED(ModalityLUTSequence),
    USED(NumberOfFrames), USED(PatientBirthDate), USED(PatientID), USED(PatientName),
    USED(PatientOrientation), USED(PatientSex), USED(PerFrameFunctionalGroupsSequence),
    USED(PhotometricInterpretation), USED(PixelData), USED(PixelRepresentation),
    USED(PixelSpacing), USED(PixelValueTransformationSequence), USED(PlanarConfiguration),
    USED(ReferringPhysicianName), USED(RepetitionTime), USED(RescaleIntercept),
    USED(RescaleSlope), USED(RescaleType), USED(Rows), USED(SOPClassUID), USED(SOPInstanceUID),
    USED(SamplesPerPixel), USED(SequenceDelimitationItem), USED(SeriesDate),
    USED(SeriesDescription), USED(SeriesInstanceUID), USED(SeriesNumber), USED(SeriesTime),
    USED(SharedFunctionalGroupsSequence), USED(SliceLocation), USED(SliceThickness),
    USED(SmallestImagePixelValue), USED(SmallestPixelValueInSeries),
    USED(SpacingBetweenSlices), USED(SpecificCharacterSet), USED(StudyDate), USED(StudyID),
    USED(StudyInstanceUID), USED(StudyTime), USED(TemporalPositionIdentifier),
    USED(TransferSyntaxUID), USED(TriggerTime), USED(VOILUTSequence), USED(WindowCenter),
    USED(WindowCenterWidthExplanation), USED(WindowWidth),
};

IMD_TEST(used_constants_equal_the_dictionary)
{
    CHECK_INT(sizeof used / sizeof used[0], 97);
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++) {
        uint32_t tag = 0;
        if (!imd_dicom_tag(used[i].keyword, &tag) || tag != used[i].tag) {
            IMD_FAIL_AT("IMD_TAG_%s = %08X, imd_dicom_tag gives %08X", used[i].keyword,
                        (unsigned)used[i].tag, (unsigned)tag);
        }
        const char *keyword = imd_dicom_keyword(used[i].tag);
        if (keyword == NULL || strcmp(keyword, used[i].keyword) != 0) {
            IMD_FAIL_AT("imd_dicom_keyword(%08X) = %s, expected %s", (unsigned)used[i].tag,
                        keyword != NULL ? keyword : "NULL", used[i].keyword);
        }
    }
}

/* PS3.5 §7.8.1: creator (gggg,00xx) reserves (gggg,xx00-xxFF); the element is the low byte. */
IMD_TEST(private_tags_land_in_their_creators_block)
{
    ImdError *error = NULL;
    ImdDicomDataSet *d = imd_dicom_dataset_create(&error);
    REQUIRE(d != NULL);
    /* No creator: not found. */
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_SiemensMrBValue), 0);
    CHECK_INT(imd__dicom_private_block_of(d, IMD_PRIVATE_SiemensMrBValue), 0);
    /* Another creator in the group first, then Siemens' at (0019,0011): block 11. */
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, 0x00190010u, IMD_VR_LO,
                                                 "GEMS_ACQU_01"));
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, 0x00190011u, IMD_VR_LO,
                                                 "SIEMENS MR HEADER"));
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_SiemensMrBValue), 0x0019110Cu);
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_SiemensMrDiffusionGradientDirection),
              0x0019110Eu);
    CHECK_INT(imd__dicom_private_block_of(d, IMD_PRIVATE_SiemensMrDiffusionDirectionality),
              0x1100);
    CHECK_INT(imd__private_tag_at(IMD_PRIVATE_SiemensMrDiffusionDirectionality, 0x1100),
              0x0019110Du);
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_GeUserData20), 0x001910BBu);
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_GePulseSequenceName), 0x0019109Cu);
    /* The same creator text in another group is another block. */
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_GeImageType), 0);
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, 0x00430010u, IMD_VR_LO,
                                                 "GEMS_PARM_01"));
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_GeImageType), 0x0043102Fu);
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_GeSlopInt6To9), 0x00431039u);
    /* Creator text compares exactly (trailing padding aside). */
    CHECK_OK(error, imd_dicom_dataset_set_string(&error, d, 0x20050010u, IMD_VR_LO,
                                                 "Philips MR Imaging DD 005"));
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_PhilipsScaleSlope), 0);
    CHECK_INT(imd__dicom_private_tag(d, IMD_PRIVATE_PhilipsPerFrameSequence), 0x2005100Fu);
    imd_dicom_dataset_destroy(d);
}

/* Every named private element sits in an odd group, within its block, under a creator. */
IMD_TEST(private_tags_are_well_formed)
{
    const ImdPrivateTag all[] = {
        IMD_PRIVATE_SiemensCsaImageHeaderInfo, IMD_PRIVATE_SiemensCsaSeriesHeaderInfo,
        IMD_PRIVATE_SiemensMrBValue, IMD_PRIVATE_SiemensMrDiffusionDirectionality,
        IMD_PRIVATE_SiemensMrDiffusionGradientDirection, IMD_PRIVATE_GeImageType,
        IMD_PRIVATE_GeSlopInt6To9, IMD_PRIVATE_GePulseSequenceName, IMD_PRIVATE_GeUserData20,
        IMD_PRIVATE_GeUserData21, IMD_PRIVATE_GeUserData22, IMD_PRIVATE_PhilipsDiffusionBFactor,
        IMD_PRIVATE_PhilipsScaleSlope, IMD_PRIVATE_PhilipsMrImageType,
        IMD_PRIVATE_PhilipsDiffusionDirectionRL, IMD_PRIVATE_PhilipsDiffusionDirectionAP,
        IMD_PRIVATE_PhilipsDiffusionDirectionFH, IMD_PRIVATE_PhilipsPerFrameSequence, IMD_PRIVATE_UihMosaicTileSize,
        IMD_PRIVATE_UihBValue, IMD_PRIVATE_UihDiffusionDirection, IMD_PRIVATE_UihMosaicTileCount,
        IMD_PRIVATE_UihMosaicTilePositions,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        CHECK(all[i].group % 2 == 1);
        CHECK(all[i].group > 0x0008);
        CHECK(all[i].element <= 0xFF);
        CHECK(all[i].creator != NULL && all[i].creator[0] != '\0');
    }
}

/*
 * What the NIfTI writer relies on: a DICOM read leaves a template that other formats
 * query by keyword through the header (imd_header_template_string), not as a data set.
 * Oracle: pydicom reads pydicom's MR_small.dcm as MRAcquisitionType "3D", Modality "MR",
 * ImageType DERIVED\SECONDARY\OTHER, PatientName "CompressedSamples^MR1", Rows 64 (US),
 * and no InPlanePhaseEncodingDirection.
 */
IMD_TEST(template_by_keyword_after_a_dicom_read)
{
    const char *path = "/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm";
    if (access(path, R_OK) != 0) {
        IMD_SKIP("%s not found (Debian: python3-pydicom)", path);
    }
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    REQUIRE(context != NULL);
    ImdSeriesList *list = imd_read(&error, context, (const char *const[]){path}, 1, NULL);
    if (list == NULL) {
        IMD_FAIL_AT("read %s: %s", path, imd_error_message(error));
        imd_error_clear(&error);
        imd_context_destroy(context);
        return;
    }
    REQUIRE(imd_series_list_count(list) == 1);
    const ImdHeader *header = imd_series_const_header(imd_series_list_get(list, 0));
    char *text = NULL;
    CHECK_OK(error, imd_header_template_string(&error, header, "MRAcquisitionType", &text));
    CHECK_STR(text, "3D");
    imd_free(text);
    CHECK_OK(error, imd_header_template_string(&error, header, "Modality", &text));
    CHECK_STR(text, "MR");
    imd_free(text);
    CHECK_OK(error, imd_header_template_string(&error, header, "ImageType", &text));
    CHECK_STR(text, "DERIVED\\SECONDARY\\OTHER");
    imd_free(text);
    CHECK_OK(error, imd_header_template_string(&error, header, "PatientName", &text));
    CHECK_STR(text, "CompressedSamples^MR1");
    imd_free(text);
    text = (char *)"unchanged";
    CHECK_OK(error,
             imd_header_template_string(&error, header, "InPlanePhaseEncodingDirection", &text));
    CHECK(text == NULL); /* absent */
    text = (char *)"unchanged";
    CHECK_OK(error, imd_header_template_string(&error, header, "Rows", &text));
    CHECK(text == NULL); /* US: no text */
    CHECK_FAILS(error, imd_header_template_string(&error, header, "NoSuchKeyword", &text),
                IMD_ERR_INVALID_ARG);
    CHECK(text == NULL);
    imd_series_list_destroy(list);
    imd_context_destroy(context);
}

IMD_TEST_MAIN(IMD_CASE(constants_equal_the_standard), IMD_CASE(used_constants_equal_the_dictionary),
              IMD_CASE(private_tags_land_in_their_creators_block),
              IMD_CASE(private_tags_are_well_formed),
              IMD_CASE(template_by_keyword_after_a_dicom_read))
