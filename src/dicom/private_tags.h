/*
 * private_tags.h: the vendors' private elements the reader and writer use,
 * by name (hand-written; the standard's keywords are generated in tags.h).
 *
 * A private element has no fixed tag: its creator element (gggg,00xx) names
 * the creator and reserves the block (gggg,xx00-xxFF), and the element is
 * the low byte within that block (PS3.5 §7.8.1). So a name here carries the
 * odd group, the low byte and the creator text; imd__dicom_private_tag()
 * gives the tag it has in a data set.
 *
 * Sources: "pydicom" means pydicom 2.3.1's private dictionary
 * (pydicom/_private_dict.py, the creator and "ggggxxEE" key as written there;
 * tests/integration/private_tags.py compares every such entry with it);
 * other entries cite where the element is described.
 */
#ifndef IMAGEDATA_DICOM_PRIVATE_TAGS_H
#define IMAGEDATA_DICOM_PRIVATE_TAGS_H

#include "internal.h"

typedef struct ImdPrivateTag {
    uint16_t group;      /* odd */
    uint16_t element;    /* the low byte, 0x10-0xFF: (gggg,xxEE) */
    const char *creator; /* the Private Creator value that reserves the block */
} ImdPrivateTag;

#define IMD_PRIVATE_TAG(group, element, creator) ((ImdPrivateTag){(group), (element), (creator)})

/* The tag of `tag` in the block `block` (xx00) a data set's creator element reserves. */
static inline uint32_t imd__private_tag_at(ImdPrivateTag tag, uint16_t block)
{
    return IMD_TAG(tag.group, (uint16_t)(block | tag.element));
}

/* ---- Siemens ---- */

/* "SIEMENS CSA HEADER" (0029,xx10) CSA Image Header Info, OB; (0029,xx20) CSA Series
 * Header Info, OB (pydicom). Their layout: src/dicom/csa.c. */
#define IMD_PRIVATE_SiemensCsaImageHeaderInfo IMD_PRIVATE_TAG(0x0029u, 0x10u, "SIEMENS CSA HEADER")
#define IMD_PRIVATE_SiemensCsaSeriesHeaderInfo IMD_PRIVATE_TAG(0x0029u, 0x20u, "SIEMENS CSA HEADER")

/* "SIEMENS MR HEADER" (0019,xx0A) NumberOfImagesInMosaic, US; (0019,xx29) MosaicRefAcqTimes,
 * FD (pydicom): a mosaic's tile count and per-tile acquisition times. */
#define IMD_PRIVATE_SiemensMrNumberOfImagesInMosaic                                          \
    IMD_PRIVATE_TAG(0x0019u, 0x0Au, "SIEMENS MR HEADER")
#define IMD_PRIVATE_SiemensMrMosaicRefAcqTimes IMD_PRIVATE_TAG(0x0019u, 0x29u, "SIEMENS MR HEADER")

/* "SIEMENS MR HEADER" (0019,xx0C) B_value, IS; (0019,xx0D) DiffusionDirectionality, CS;
 * (0019,xx0E) DiffusionGradientDirection, FD 3 (pydicom). */
#define IMD_PRIVATE_SiemensMrBValue IMD_PRIVATE_TAG(0x0019u, 0x0Cu, "SIEMENS MR HEADER")
#define IMD_PRIVATE_SiemensMrDiffusionDirectionality                                          \
    IMD_PRIVATE_TAG(0x0019u, 0x0Du, "SIEMENS MR HEADER")
#define IMD_PRIVATE_SiemensMrDiffusionGradientDirection                                       \
    IMD_PRIVATE_TAG(0x0019u, 0x0Eu, "SIEMENS MR HEADER")

/* ---- GE ---- */

/* "GEMS_PARM_01" (0043,xx2F) Image Type (real, imaginary, phase, magnitude), SS;
 * (0043,xx39) Slop_int_6... slop_int_9, IS 4, the first being the b value (pydicom;
 * dcm2niix's kDiffusionBFactorGE, 0043,1039). */
#define IMD_PRIVATE_GeImageType IMD_PRIVATE_TAG(0x0043u, 0x2Fu, "GEMS_PARM_01")
#define IMD_PRIVATE_GeSlopInt6To9 IMD_PRIVATE_TAG(0x0043u, 0x39u, "GEMS_PARM_01")

/* "GEMS_ACQU_01" (0019,xx9C) Pulse Sequence Name, LO; (0019,xxBB-BD) User data 20-22,
 * DS, the diffusion direction (pydicom; dcm2niix's kDiffusionDirectionGEX/Y/Z,
 * 0019,10BB-10BD). */
#define IMD_PRIVATE_GePulseSequenceName IMD_PRIVATE_TAG(0x0019u, 0x9Cu, "GEMS_ACQU_01")
#define IMD_PRIVATE_GeUserData20 IMD_PRIVATE_TAG(0x0019u, 0xBBu, "GEMS_ACQU_01")
#define IMD_PRIVATE_GeUserData21 IMD_PRIVATE_TAG(0x0019u, 0xBCu, "GEMS_ACQU_01")
#define IMD_PRIVATE_GeUserData22 IMD_PRIVATE_TAG(0x0019u, 0xBDu, "GEMS_ACQU_01")

/* ---- Philips ---- */

/* "Philips Imaging DD 001" (2001,xx03) Diffusion B-Factor, FL (pydicom). */
#define IMD_PRIVATE_PhilipsDiffusionBFactor                                                   \
    IMD_PRIVATE_TAG(0x2001u, 0x03u, "Philips Imaging DD 001")

/* "Philips MR Imaging DD 001" (2005,xx0E) ScaleSlope, FL, and (2005,xx11) the image type
 * (M, R, I, P), CS: both in pydicom with the name "Unknown" and these VRs; the meaning is
 * Philips' DICOM conformance statement's (the scale slope is dcm2niix's kPhilipsSlope,
 * 2005,100E). */
#define IMD_PRIVATE_PhilipsScaleSlope IMD_PRIVATE_TAG(0x2005u, 0x0Eu, "Philips MR Imaging DD 001")
#define IMD_PRIVATE_PhilipsMrImageType                                                        \
    IMD_PRIVATE_TAG(0x2005u, 0x11u, "Philips MR Imaging DD 001")

/* "Philips MR Imaging DD 005" (2005,xx0F): a sequence with one item per frame of the
 * classic per-image attributes in Philips' enhanced MR files (not in pydicom;
 * dcm2niix's kPrivatePerFrameSq, 2005,140F). */
#define IMD_PRIVATE_PhilipsPerFrameSequence                                                   \
    IMD_PRIVATE_TAG(0x2005u, 0x0Fu, "Philips MR Imaging DD 005")

/* ---- United Imaging (UIH) ---- */

/* "Image Private Header" (0065,xx04) the mosaic tile size ("64*64"), (0065,xx09) the b value,
 * (0065,xx37) the diffusion direction in the image's frame (row, column, normal),
 * (0065,xx50) the number of mosaic tiles, (0065,xx51) a sequence with one item per tile
 * holding its ImagePositionPatient. Not in pydicom; seen in dcm_qa_stc/In/UIH; dcm2niix
 * reads (0065,1009) as kDiffusion_bValueUIH, (0065,1037) as kDiffusionGradientDirectionUIH
 * and (0065,1050) as kNumberOfImagesInGridUIH. */
#define IMD_PRIVATE_UihMosaicTileSize IMD_PRIVATE_TAG(0x0065u, 0x04u, "Image Private Header")
#define IMD_PRIVATE_UihBValue IMD_PRIVATE_TAG(0x0065u, 0x09u, "Image Private Header")
#define IMD_PRIVATE_UihDiffusionDirection IMD_PRIVATE_TAG(0x0065u, 0x37u, "Image Private Header")
#define IMD_PRIVATE_UihMosaicTileCount IMD_PRIVATE_TAG(0x0065u, 0x50u, "Image Private Header")
#define IMD_PRIVATE_UihMosaicTilePositions IMD_PRIVATE_TAG(0x0065u, 0x51u, "Image Private Header")

#endif
