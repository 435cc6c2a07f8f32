/*
 * enhanced_write.h: one Enhanced MR / Enhanced CT multi-frame instance from
 * the classic data sets the DICOM writer makes per frame (not installed;
 * enhanced_write.c says what goes where, docs/dicom-writing.md).
 */
#ifndef IMAGEDATA_DICOM_ENHANCED_WRITE_H
#define IMAGEDATA_DICOM_ENHANCED_WRITE_H

#include "dicom/dicom_internal.h"

#define IMD_ENHANCED_MR_IMAGE "1.2.840.10008.5.1.4.1.1.4.1"
#define IMD_ENHANCED_CT_IMAGE "1.2.840.10008.5.1.4.1.1.2.1"
/** Tag dimensions plus stack and in-stack position. */
#define IMD_ENHANCED_MAX_DIMENSIONS 8

/** One item of the Dimension Index Sequence (PS3.3 C.7.6.17). */
typedef struct ImdEnhancedDimension {
    uint32_t index_pointer; /* the attribute that indexes the dimension */
    uint32_t group_pointer; /* the functional group sequence holding it */
    const char *label;      /* DimensionDescriptionLabel */
} ImdEnhancedDimension;

typedef struct ImdEnhancedPlan {
    const char *sop_class; /* IMD_ENHANCED_MR_IMAGE or IMD_ENHANCED_CT_IMAGE */
    bool mr;
    size_t frames;
    size_t dimension_count;
    ImdEnhancedDimension dimensions[IMD_ENHANCED_MAX_DIMENSIONS];
} ImdEnhancedPlan;

typedef struct ImdEnhancedWriter ImdEnhancedWriter;

/* The dimension that indexes a tag axis of input order component `order_name` (time, te,
 * b, bvector, dti); false for a component no enhanced attribute indexes. */
bool imd__dicom_enhanced_dimension_for(const char *order_name, ImdEnhancedDimension *out);

ImdEnhancedWriter *imd__dicom_enhanced_begin(ImdError **error, const ImdEnhancedPlan *plan);

/*
 * Add the next frame: `frame` is the classic single-frame data set of it (the
 * writer's, with ImagePositionPatient, EchoTime, DiffusionBValue, ..., and
 * Pixel Data); `index_values` its 1-based Dimension Index Values (plan's
 * dimension_count of them); `slice` its 0-based in-stack position. The first
 * frame gives the top level and the shared groups. Every frame must have as
 * many pixel bytes as the first.
 */
bool imd__dicom_enhanced_add(ImdError **error, ImdEnhancedWriter *w, const ImdDicomDataSet *frame,
                             const uint32_t *index_values, size_t slice);

/* The instance, after plan.frames frames (the caller sets SOPInstanceUID, InstanceNumber
 * and destroys it). The writer is left empty; free it still. */
ImdDicomDataSet *imd__dicom_enhanced_finish(ImdError **error, ImdEnhancedWriter *w);
void imd__dicom_enhanced_free(ImdEnhancedWriter *w);

#endif
