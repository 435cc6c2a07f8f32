/*
 * csa.h: Siemens "CSA" headers, the private binary headers of Siemens MR
 * files: the image header (0029,xx10) and the series header (0029,xx20),
 * where xx is the block reserved by the creator "SIEMENS CSA HEADER"
 * (PS3.5 §7.8.1). Not installed. Part of the codec layer: it knows data sets,
 * not images, so that the DICOM reader and the diffusion code share it.
 *
 * The format is not published by Siemens; the layout used here is the one
 * described in nibabel's documentation ("Siemens format DICOM with CSA
 * header", after SPM's spm_dicom_headers.m):
 *   CSA2: "SV10", 4 unused bytes, uint32 n_tags (1..128), uint32 unused (77);
 *   CSA1: uint32 n_tags, uint32 unused (no "SV10").
 *   Each tag: char name[64] (NUL-terminated), int32 vm, char vr[4],
 *   int32 syngodt, int32 nitems, int32 xx (77, or 205 when empty); then
 *   nitems items: int32 x[4], the item's bytes, padding to 4 bytes. The item
 *   length is x[1] in CSA2 and x[0] minus the first tag's nitems in CSA1.
 *   All little endian; texts end at their first NUL.
 */
#ifndef IMAGEDATA_DICOM_CSA_H
#define IMAGEDATA_DICOM_CSA_H

#include "internal.h"

typedef struct ImdCsaHeader ImdCsaHeader;

/* The most tags a CSA header may declare (nibabel's documentation: 1 to 128). */
#define IMD_CSA_MAX_TAGS 128

/*
 * Parse a CSA1 or CSA2 header. CORRUPT, naming the reason and the byte
 * offset, on truncation or impossible counts (no tags, more than 128, more
 * items than bytes left, a CSA2 item running past the end). Everything it
 * allocates is bounded by `size`. The header keeps no pointer into `bytes`.
 */
ImdCsaHeader *imd__csa_parse(ImdError **error, const uint8_t *bytes, size_t size);
void imd__csa_destroy(ImdCsaHeader *header);

/* 1 for CSA1, 2 for CSA2 ("SV10"). */
int imd__csa_type(const ImdCsaHeader *header);

/* Tags, in file order (a name may repeat; lookups by name take the last, as nibabel does). */
size_t imd__csa_count(const ImdCsaHeader *header);
const char *imd__csa_name(const ImdCsaHeader *header, size_t index);

/* A tag's fields as stored, for dumps and checks. */
typedef struct ImdCsaTagInfo {
    const char *name;
    const char *vr; /* up to 3 characters, e.g. "FD", "IS", "LO" */
    int32_t vm, syngodt;
    int32_t declared_items; /* nitems */
    int32_t xx;             /* the tag's last field: 77, or 205 when empty */
    size_t read_items;      /* items read: nitems, fewer when a CSA1 item length was bad */
} ImdCsaTagInfo;
void imd__csa_tag_info(const ImdCsaHeader *header, size_t index, ImdCsaTagInfo *info);
/* Item `item` (< read_items) of tag `index` as stored: up to its first NUL, untrimmed. */
const char *imd__csa_tag_item(const ImdCsaHeader *header, size_t index, size_t item);

/*
 * The values of tag `name`: its first vm items (all nitems when vm is 0); for
 * the numeric VRs (FL FD DS SS US SL UL IS) only those before the first empty
 * item, since Siemens pads vectors with empty items. 0 when absent.
 */
size_t imd__csa_item_count(const ImdCsaHeader *header, const char *name);
/* Value `item` (< imd__csa_item_count) without surrounding spaces; NULL if absent or empty. */
const char *imd__csa_string(const ImdCsaHeader *header, const char *name, size_t item);
/* Value `item` as a number; false when absent, empty or not a whole finite number. */
bool imd__csa_number(const ImdCsaHeader *header, const char *name, size_t item, double *value);

/*
 * The protocol text of a series header: the "MrPhoenixProtocol" tag (or
 * "MrProtocol" of older software) holds, among XML-like text, an ASCCONV
 * block of "key = value" lines between "### ASCCONV BEGIN ... ###" and
 * "### ASCCONV END ###", e.g. "sSliceArray.lSize = 36",
 * "sKSpace.ucMultiSliceMode = 0x2", "tProtocolName = ""ep2d_bold""".
 * Keys are matched exactly ("sSliceArray.asSlice[0].sNormal.dTra"); '#'
 * starts a comment outside quotes. A key given twice takes the last line.
 */
/* Decimal and 0x hexadecimal values; false when absent or not a number. */
bool imd__csa_protocol_number(const ImdCsaHeader *series_header, const char *key, double *value);
/* The value with its quotes ("" or ") removed; malloc'd; NULL when absent or out of memory. */
char *imd__csa_protocol_string(const ImdCsaHeader *series_header, const char *key);

/* ---- what the DICOM reader and the diffusion code take from the image header ---- */

typedef struct ImdSiemensImage {
    uint32_t mosaic_images;                       /* NumberOfImagesInMosaic, 0 when absent */
    bool has_slice_normal;
    ImdVec3 slice_normal;                         /* SliceNormalVector */
    double *slice_times;                          /* MosaicRefAcqTimes (ms), owned */
    size_t slice_time_count;
    bool has_b_value;
    double b_value;                               /* B_value */
    bool has_direction;
    ImdVec3 direction;                            /* DiffusionGradientDirection */
    bool has_b_matrix;
    double b_matrix[6];                           /* B_matrix: xx xy xz yy yz zz */
    int phase_encoding_positive;                  /* PhaseEncodingDirectionPositive: 1, 0; -1 unknown */
} ImdSiemensImage;

/*
 * Fill `out` from the CSA image header of `dataset`. A data set without one
 * (no "SIEMENS CSA HEADER" block, or no (0029,xx10)) gives a zeroed summary
 * (phase_encoding_positive -1) and true; false and CORRUPT only when the
 * header is there but broken. Vectors are taken only when complete (3 or 6
 * numbers), as nibabel does.
 */
bool imd__siemens_image(ImdError **error, const ImdDicomDataSet *dataset, ImdSiemensImage *out);
void imd__siemens_image_free(ImdSiemensImage *info);

/*
 * The raw bytes of a CSA header of `dataset`: `element` 0x10 for the image
 * header, 0x20 for the series header. NULL (and *size 0) when absent.
 */
const uint8_t *imd__siemens_csa_bytes(const ImdDicomDataSet *dataset, uint8_t element,
                                      size_t *size);

#endif
