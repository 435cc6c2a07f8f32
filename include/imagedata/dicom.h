/**
 * @file dicom.h
 * The DICOM data-set layer, usable without the Series model: the data
 * dictionary, a Part 10 / bare data-set parser, data-set access and
 * building, and a Part 10 writer.
 *
 * Values are kept as the file holds them, converted to little-endian byte
 * order; text is decoded to UTF-8 on request with the Specific Character Set
 * in force (items inherit it from their parents, PS3.5 §6.1.2.5.5). Large
 * values (pixel data) are not copied: they point into the source buffer,
 * which the data set keeps alive.
 */
#ifndef IMAGEDATA_DICOM_H
#define IMAGEDATA_DICOM_H

#include <imagedata/common.h>
#include <imagedata/stream.h>

IMD_BEGIN_DECLS

typedef struct ImdDicomDataSet ImdDicomDataSet;
typedef struct ImdDicomElement ImdDicomElement;

/** A tag: group << 16 | element. */
#define IMD_TAG(group, element) ((uint32_t)(((uint32_t)(group) << 16) | (uint32_t)(element)))
#define IMD_TAG_GROUP(tag) ((uint16_t)((tag) >> 16))
#define IMD_TAG_ELEMENT(tag) ((uint16_t)((tag)&0xffffu))

/** Value representations (PS3.5 §6.2). The values are ABI. */
typedef enum ImdVR {
    IMD_VR_AE = 1, IMD_VR_AS, IMD_VR_AT, IMD_VR_CS, IMD_VR_DA, IMD_VR_DS, IMD_VR_DT,
    IMD_VR_FD, IMD_VR_FL, IMD_VR_IS, IMD_VR_LO, IMD_VR_LT, IMD_VR_OB, IMD_VR_OD,
    IMD_VR_OF, IMD_VR_OL, IMD_VR_OV, IMD_VR_OW, IMD_VR_PN, IMD_VR_SH, IMD_VR_SL,
    IMD_VR_SQ, IMD_VR_SS, IMD_VR_ST, IMD_VR_SV, IMD_VR_TM, IMD_VR_UC, IMD_VR_UI,
    IMD_VR_UL, IMD_VR_UN, IMD_VR_UR, IMD_VR_US, IMD_VR_UT, IMD_VR_UV,
    /* Dictionary-only choices, resolved when a file is read or written: */
    IMD_VR_OB_OW = 64,  /**< "OB or OW" (pixel data, overlay data) */
    IMD_VR_US_SS = 65,  /**< "US or SS" */
    IMD_VR_US_SS_OW = 66, /**< "US or SS or OW" (LUT data) */
    IMD_VR_NONE = 67    /**< items and delimiters have no VR */
} ImdVR;

/** The two-letter name ("OB"); "OB or OW" style text for dictionary choices; NULL if invalid. */
IMD_API const char *imd_dicom_vr_name(ImdVR vr);
/** Parse a two-letter VR; false when it is not one of the 34 VRs. */
IMD_API bool imd_dicom_vr_from_name(const char *name, ImdVR *vr);
/** Whether values of `vr` are character strings (AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT). */
IMD_API bool imd_dicom_vr_is_text(ImdVR vr);

/* ---- the data dictionary (PS3.6, PS3.7), generated from the standard ---- */

/** The keyword of a tag ("PatientName"); repeating groups (60xx) match too. NULL if unknown. */
IMD_API const char *imd_dicom_keyword(uint32_t tag);
/** The tag of a keyword; false if unknown. */
IMD_API bool imd_dicom_tag(const char *keyword, uint32_t *tag);
/** The dictionary VR of a tag; IMD_VR_UN when unknown (private tags, ...). */
IMD_API ImdVR imd_dicom_dictionary_vr(uint32_t tag);
/** The dictionary value multiplicity text ("1", "1-n", "3"); NULL if unknown. */
IMD_API const char *imd_dicom_dictionary_vm(uint32_t tag);
/** Is the tag retired in the standard? */
IMD_API bool imd_dicom_is_retired(uint32_t tag);
/** The name of a UID ("Explicit VR Little Endian", "MR Image Storage"); NULL if unknown. */
IMD_API const char *imd_dicom_uid_name(const char *uid);
/** The keyword of a UID ("ExplicitVRLittleEndian", "MRImageStorage"); NULL if unknown. */
IMD_API const char *imd_dicom_uid_keyword(const char *uid);
/** The UID of a keyword; NULL if unknown. */
IMD_API const char *imd_dicom_uid_for_keyword(const char *keyword);

/* ---- transfer syntaxes ---- */

#define IMD_UID_IMPLICIT_VR_LE "1.2.840.10008.1.2"
#define IMD_UID_EXPLICIT_VR_LE "1.2.840.10008.1.2.1"
#define IMD_UID_DEFLATED_EXPLICIT_VR_LE "1.2.840.10008.1.2.1.99"
#define IMD_UID_EXPLICIT_VR_BE "1.2.840.10008.1.2.2"

/* ---- reading ---- */

typedef struct ImdDicomReadOptions {
    /** Stop before the first top-level element with a tag >= stop_tag (0: read all),
     * e.g. IMD_TAG(0x7fe0, 0x0010) to skip pixel data. */
    uint32_t stop_tag;
    /** Deepest sequence nesting accepted (0: 64). */
    uint32_t max_depth;
    /** Most elements in the whole data set, items included (0: 16 million). */
    uint64_t max_elements;
} ImdDicomReadOptions;

/**
 * Parse a Part 10 file (preamble, "DICM", file meta group) or a bare data
 * set without them, from a stream (`options` may be NULL); the stream's
 * bytes are read once into memory the data set owns. The transfer
 * syntax comes from the meta group, or is detected for bare data sets.
 * Tolerates what real files do, as pydicom does, and records a warning for
 * each thing tolerated (imd_dicom_dataset_warning()).
 * Errors: NOT_RECOGNIZED (not DICOM), CORRUPT (names the tag and offset:
 * "IM0003: (0028,0010) at offset 812: length 7 exceeds the 4 bytes left"),
 * LIMIT, UNSUPPORTED (an unknown transfer syntax's encoding), NOMEM, IO.
 */
IMD_API IMD_NODISCARD ImdDicomDataSet *imd_dicom_read(ImdError **error, ImdStream *stream,
                                                      const ImdDicomReadOptions *options);

/**
 * Parse a file by path. The file is mapped, not read: a header scan
 * (stop_tag) touches only the pages it parses, and large values such as pixel
 * data point into the mapping until the data set is destroyed.
 */
IMD_API IMD_NODISCARD ImdDicomDataSet *imd_dicom_read_file(ImdError **error, const char *path,
                                                           const ImdDicomReadOptions *options);

/** Parse from memory. The bytes are copied: `data` may be freed afterwards. */
IMD_API IMD_NODISCARD ImdDicomDataSet *imd_dicom_read_memory(ImdError **error, const void *data,
                                                             size_t size, const char *name,
                                                             const ImdDicomReadOptions *options);

/** The file meta group (0002,xxxx) as its own data set; NULL for a bare data set. Borrowed. */
IMD_API const ImdDicomDataSet *imd_dicom_dataset_file_meta(const ImdDicomDataSet *dataset);
/** The transfer syntax UID the data set was read with ("" for built data sets). */
IMD_API const char *imd_dicom_dataset_transfer_syntax(const ImdDicomDataSet *dataset);
/** Warnings recorded while reading (tolerated quirks), in order. Borrowed. */
IMD_API size_t imd_dicom_dataset_warning_count(const ImdDicomDataSet *dataset);
IMD_API const char *imd_dicom_dataset_warning(const ImdDicomDataSet *dataset, size_t index);

/* ---- data sets and elements ---- */

IMD_API IMD_NODISCARD ImdDicomDataSet *imd_dicom_dataset_create(ImdError **error);
IMD_API IMD_NODISCARD ImdDicomDataSet *imd_dicom_dataset_clone(ImdError **error,
                                                               const ImdDicomDataSet *dataset);
IMD_API void imd_dicom_dataset_destroy(ImdDicomDataSet *dataset);

/** Elements in ascending tag order. Borrowed until the data set changes. */
IMD_API size_t imd_dicom_dataset_count(const ImdDicomDataSet *dataset);
IMD_API const ImdDicomElement *imd_dicom_dataset_element(const ImdDicomDataSet *dataset,
                                                         size_t index);
IMD_API const ImdDicomElement *imd_dicom_dataset_find(const ImdDicomDataSet *dataset,
                                                      uint32_t tag);

IMD_API uint32_t imd_dicom_element_tag(const ImdDicomElement *element);
IMD_API ImdVR imd_dicom_element_vr(const ImdDicomElement *element);
/** The value's raw bytes, little-endian; NULL with *size 0 for an empty value or a sequence. */
IMD_API const uint8_t *imd_dicom_element_bytes(const ImdDicomElement *element, size_t *size);
/** True for encapsulated (compressed) pixel data: see the fragment functions. */
IMD_API bool imd_dicom_element_is_encapsulated(const ImdDicomElement *element);

/**
 * The value as UTF-8 text, decoded with the character set in force, values
 * separated by '\', trailing padding removed (leading spaces too where the
 * VR says they are insignificant). For text VRs only (AE AS CS DA DS DT IS LO
 * LT PN SH ST TM UC UI UR UT); INVALID_ARG otherwise. Release with imd_free().
 */
IMD_API IMD_NODISCARD char *imd_dicom_element_string(ImdError **error,
                                                     const ImdDicomDataSet *dataset,
                                                     const ImdDicomElement *element);

/** The value multiplicity: number of values (0 for an empty value). */
IMD_API size_t imd_dicom_element_vm(const ImdDicomElement *element);

/**
 * Value `index` as a number: binary numbers (US SS UL SL FL FD SV UV, and
 * OB/OW/OF/OD... as their unit), DS and IS parsed from text, AT as the tag.
 * CORRUPT for text that is not a number; INVALID_ARG for an index out of range.
 */
IMD_API bool imd_dicom_element_number(ImdError **error, const ImdDicomElement *element,
                                      size_t index, double *value);
/** Like imd_dicom_element_number, exact for 64-bit integers (SV, UV, IS). */
IMD_API bool imd_dicom_element_int(ImdError **error, const ImdDicomElement *element,
                                   size_t index, int64_t *value);

/** Items of a sequence (SQ, or UN holding a sequence of undefined length). Borrowed. */
IMD_API size_t imd_dicom_element_item_count(const ImdDicomElement *element);
IMD_API const ImdDicomDataSet *imd_dicom_element_item(const ImdDicomElement *element,
                                                      size_t index);

/** Encapsulated pixel data: the basic offset table (may be empty) and the fragments. */
IMD_API const uint8_t *imd_dicom_element_offset_table(const ImdDicomElement *element,
                                                      size_t *size);
IMD_API size_t imd_dicom_element_fragment_count(const ImdDicomElement *element);
IMD_API const uint8_t *imd_dicom_element_fragment(const ImdDicomElement *element, size_t index,
                                                  size_t *size);
/**
 * Where frame `frame` (0-based) of a data set's encapsulated Pixel Data is
 * (PS3.5 A.4): fragments [*first, *first + *count) (0-based, after the offset
 * table) holding *size compressed bytes. Found with the Extended or Basic
 * Offset Table when consistent, else by fragment and frame counts, else by the
 * codestreams' start markers. CORRUPT when no method finds it; INVALID_ARG
 * without encapsulated pixel data or for a frame beyond NumberOfFrames.
 */
IMD_API bool imd_dicom_dataset_frame_fragments(ImdError **error, const ImdDicomDataSet *dataset,
                                               size_t frame, size_t *first, size_t *count,
                                               size_t *size);

/* ---- building ---- */

/**
 * Set an element from UTF-8 text (values separated by '\'). `vr` 0 takes the
 * dictionary VR. Non-ASCII text is stored as UTF-8: a data set in another
 * Specific Character Set has every text value (SH LO UC ST LT UT PN, in its
 * items too) transcoded to UTF-8 and becomes "ISO_IR 192" first (PS3.5
 * §6.1.2.3); inside a sequence item of such a data set it is UNSUPPORTED.
 * Replaces an element with the same tag.
 */
IMD_API bool imd_dicom_dataset_set_string(ImdError **error, ImdDicomDataSet *dataset,
                                          uint32_t tag, ImdVR vr, const char *value);
/** Set binary numbers (US SS UL SL FL FD SV UV) or text numbers (DS, IS) from doubles. */
IMD_API bool imd_dicom_dataset_set_numbers(ImdError **error, ImdDicomDataSet *dataset,
                                           uint32_t tag, ImdVR vr, const double *values,
                                           size_t count);
/** Set raw little-endian bytes (copied), e.g. OB/OW pixel data. */
IMD_API bool imd_dicom_dataset_set_bytes(ImdError **error, ImdDicomDataSet *dataset,
                                         uint32_t tag, ImdVR vr, const void *data, size_t size);
/** Remove an element; false when there was none. */
IMD_API bool imd_dicom_dataset_remove(ImdDicomDataSet *dataset, uint32_t tag);
/**
 * Append an empty item to sequence `tag` (created if missing) and return it
 * for filling. Borrowed: owned by the data set.
 */
IMD_API ImdDicomDataSet *imd_dicom_dataset_append_item(ImdError **error,
                                                       ImdDicomDataSet *dataset, uint32_t tag);

/* ---- the DICOM JSON model ---- */

enum {
    IMD_DICOM_JSON_PIXEL_DATA = 1u, /**< include (7FE0,0010) as InlineBinary */
    IMD_DICOM_JSON_META = 2u        /**< include the file meta group (0002,xxxx) */
};

/**
 * The data set in the DICOM JSON model (PS3.18 Annex F): {"GGGGEEEE": {"vr":
 * ..., "Value": [...]}} in tag order; group 0002 and Pixel Data left out
 * unless asked for; binary values as "InlineBinary" (base64); IS DS FL FD SL
 * SS SV UL US UV as JSON numbers; PN as {"Alphabetic", "Ideographic",
 * "Phonetic"}; AT as "GGGGEEEE" strings; SQ items as nested objects. Text is
 * decoded to UTF-8. Release the result with imd_free().
 */
IMD_API IMD_NODISCARD char *imd_dicom_dataset_to_json(ImdError **error,
                                                      const ImdDicomDataSet *dataset,
                                                      unsigned flags);

/* ---- writing ---- */

/** Our implementation identity in the file meta group (PS3.7 §D.3.3.2). */
#define IMD_IMPLEMENTATION_VERSION_NAME "IMAGEDATA_0_1"

typedef struct ImdDicomWriteOptions {
    /** IMD_UID_EXPLICIT_VR_LE (NULL: the default), IMD_UID_IMPLICIT_VR_LE,
     * IMD_UID_DEFLATED_EXPLICIT_VR_LE, or an encapsulated syntax (RLE, JPEG ...)
     * when the data set's Pixel Data is already encapsulated in it. */
    const char *transfer_syntax;
    /** Write a bare data set: no preamble, "DICM" or meta group. */
    bool no_meta;
} ImdDicomWriteOptions;

/**
 * Write a Part 10 file: 128-byte preamble, "DICM", a meta group made from the
 * data set's SOPClassUID and SOPInstanceUID (group length, version, transfer
 * syntax, implementation class UID and version name), then the data set,
 * every value padded to even length with the VR's pad byte. Group 0002
 * elements of the data set itself are not written (the meta group replaces
 * them). Errors: INVALID_ARG (an unsupported transfer syntax, a value too
 * long for its VR's length field), IO.
 */
IMD_API bool imd_dicom_write(ImdError **error, const ImdDicomDataSet *dataset,
                             ImdStream *stream, const ImdDicomWriteOptions *options);

IMD_END_DECLS

#endif
