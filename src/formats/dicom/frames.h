/*
 * frames.h: the frames of a multi-frame DICOM object as classic images
 * (not installed).
 *
 * Enhanced multi-frame objects (Enhanced MR/CT/PET/XA/US, Enhanced MR Color,
 * the Legacy Converted Enhanced classes, Segmentation) keep per-frame values
 * in the Per-frame Functional Groups Sequence (5200,9230), item i for frame
 * i, and values common to all frames in the Shared Functional Groups Sequence
 * (5200,9229) (PS3.3 C.7.6.16). imd__dicom_frame_attributes() turns one
 * frame's groups into a small data set of the classic single-frame attributes
 * (ImagePositionPatient, EchoTime, AcquisitionTime, ImageType, ...), with
 * their classic tags and VRs, so that the reader can look there first and in
 * the file's top level second, as for a classic image.
 */
#ifndef IMAGEDATA_DICOM_FRAMES_H
#define IMAGEDATA_DICOM_FRAMES_H

#include "dicom/dicom_internal.h"

/* NumberOfFrames (0028,0008); 1 when absent or not a positive integer. */
size_t imd__dicom_frame_count(const ImdDicomDataSet *d);

/* True when the data set has a Shared or a Per-frame Functional Groups Sequence. */
bool imd__dicom_has_functional_groups(const ImdDicomDataSet *d);

/*
 * A new data set (the caller destroys it) of classic attributes for frame
 * `frame` (0-based): each attribute of the mapping table in frames.c taken
 * from per-frame item `frame`, else from the shared item; then, for
 * attributes still missing, what the Unassigned Per-frame / Shared Converted
 * Attributes items (legacy converted objects) and Philips' private per-frame
 * item (2005,140F) hold. Empty values are left out. The result shares the
 * source's byte buffer (values are not copied) and stays valid after `d` is
 * destroyed. A data set without functional groups gives an empty data set.
 * Errors: INVALID_ARG for frame >= imd__dicom_frame_count(d); CORRUPT
 * (naming the frame and the sequence) when the groups disagree with
 * NumberOfFrames, e.g. fewer per-frame items than frames; NOMEM. The message
 * does not name the file: the caller prefixes it.
 */
ImdDicomDataSet *imd__dicom_frame_attributes(ImdError **error, const ImdDicomDataSet *d,
                                             size_t frame);

/*
 * The Dimension Index Sequence (0020,9222), PS3.3 C.7.6.17: per dimension the
 * attribute that indexes it (DimensionIndexPointer), the functional group
 * that holds that attribute (FunctionalGroupPointer; 0 when absent), and
 * DimensionDescriptionLabel (UTF-8, cut to 64 bytes; "" when absent). For the
 * reader to label axes and to check the order it finds.
 */
typedef struct ImdDimension {
    uint32_t index_pointer, group_pointer;
    char label[65];
} ImdDimension;

/* Fill out[0..max) and return the number of dimensions (items), which may exceed max. */
size_t imd__dicom_dimensions(const ImdDicomDataSet *d, ImdDimension *out, size_t max);

/* For the unit test: the mapping table's rows whose keywords the dictionary does not
 * know (0 when the table is sound), and the number of rows. */
size_t imd__dicom_frame_table_unresolved(size_t *rows);

#endif
