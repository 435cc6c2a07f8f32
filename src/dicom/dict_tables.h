/*
 * dict_tables.h: the row types of the generated dictionary tables
 * (dict_data.inc, dict_masked.inc, dict_keyword_index.inc, uid_data.inc,
 * made by tools/dicom_dict/gen_dict.py). Private to src/dicom/dict.c and its
 * unit test, which include the .inc files inside array definitions:
 *
 *     static const ImdDictEntry entries[] = {
 *     #include "dict_data.inc"
 *     };
 */
#ifndef IMAGEDATA_DICT_TABLES_H
#define IMAGEDATA_DICT_TABLES_H

#include <imagedata/dicom.h>

#include <stdbool.h>
#include <stdint.h>

/* dict_data.inc: one tag, rows in ascending tag order. */
typedef struct ImdDictEntry {
    uint32_t tag;
    ImdVR vr;
    const char *vm;      /* "1", "1-n", "2-2n" ... */
    bool retired;
    const char *keyword; /* "" for the few retired tags without one */
} ImdDictEntry;

/* dict_masked.inc: repeating groups; a tag matches when (tag & mask) == value.
 * Rows run from the most specific mask to the least; the first match wins. */
typedef struct ImdDictMaskedEntry {
    uint32_t value;
    uint32_t mask;
    ImdVR vr;
    const char *vm;
    bool retired;
    const char *keyword;
} ImdDictMaskedEntry;

/* dict_keyword_index.inc: uint16_t rows sorted by keyword (strcmp order); a
 * row is an index into dict_data.inc, or IMD_DICT_MASKED | an index into
 * dict_masked.inc. Tags without a keyword are not indexed. */
#define IMD_DICT_MASKED 0x8000u

/* uid_data.inc: UIDs sorted by UID (strcmp order); with IMD_UID_KEYWORD_INDEX
 * defined before including it, the file gives instead uint16_t row indices
 * sorted by keyword. */
typedef struct ImdUidEntry {
    const char *uid;
    const char *name;    /* "Explicit VR Little Endian" */
    const char *keyword; /* "ExplicitVRLittleEndian" */
    bool retired;
} ImdUidEntry;

#endif
