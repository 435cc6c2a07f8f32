/*
 * format.c: the ITK MetaIO format plugin (behaviour.md §5.3).
 *
 * Reading: .mha (header and data in one member) and .mhd (header; the data
 * in ElementDataFile: one file, "LIST" of files, or a "name%03d.raw first
 * last step" pattern), 2D to 4D, every MetaIO element type, either byte
 * order, zlib-compressed data (CompressedData = True). The header is parsed
 * key by key; every count and length is checked before it is used.
 * Geometry: Offset is the position of voxel 0 (LPS, x y z), the
 * TransformMatrix triples are the direction cosines of the x, y and z index
 * axes; they are normalised (the original wrote a slice direction of length
 * ds) and the third one gives the slice positions (the original ignored
 * it). Leading size-1 dimensions are squeezed (to no less than 2D). Several
 * files of one read with equal shapes are stacked on a new axis 0 (the
 * original's generic reader), at [:, i] with input_sort=tag.
 *
 * Writing: one .mha per 3D volume ("Image.mha"; 4D: "Image_%05d.mha" per
 * tag, or per slice with output_sort=tag). .mhd names write the data into a
 * .raw (or .zraw) member beside the header. Types: uint8, int8, uint16,
 * int16, uint32, (u)int64 are kept; bool is written as uint8; int32, float32
 * and float64 as float32 (NaN -> 0); complex as its float32 magnitude; RGB
 * as 3-channel MET_UCHAR. Every member is committed only when all were
 * written.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <zlib.h>

/* Most bytes of the header text before ElementDataFile. */
#define HEADER_LIMIT ((size_t)1 << 20)
/* Most bytes a data file of a .mhd may have when read into memory. */
#define MEMBER_LIMIT ((size_t)1 << 34)
/* Most files a LIST or pattern may name. */
#define FILE_LIMIT ((size_t)1 << 16)
/* Most dimensions a MetaIO image has (MetaIO's own limit, NDims 1 to 10). */
#define META_MAX_DIMS 10
/* Our own header keys (docs/metaio-mat.md): the names and values of two or
 * more tag axes, which MetaIO has no field for. Readers of MetaIO skip keys
 * they do not know (ITK keeps them as metadata). */
#define KEY_ORDER "ImagedataInputOrder"
#define KEY_TAG_AXIS "ImagedataTagAxis"
/* Longest header line read (a tag axis' values longer than this are not written). */
#define LINE_LIMIT 4096

/* ---- names ---- */

static bool is_data_name(const char *name)
{
    return imd__has_suffix(name, ".raw") || imd__has_suffix(name, ".zraw");
}

/* ---- the header ---- */

typedef enum DataKind {
    DATA_LOCAL = 1,
    DATA_FILE,
    DATA_LIST,
    DATA_PATTERN
} DataKind;

typedef struct Meta {
    size_t ndims;
    size_t dim[META_MAX_DIMS]; /* x, y, z, then the tag axes, fastest first */
    bool has_dims;
    int etype;         /* index into element_types, -1 unset */
    size_t channels;
    double spacing[META_MAX_DIMS];
    double offset[META_MAX_DIMS];
    double matrix[META_MAX_DIMS * META_MAX_DIMS];
    size_t matrix_count;
    bool msb, compressed;
    int64_t header_size; /* -1: data at the end of the file */
    DataKind data;
    size_t data_start;   /* LOCAL: offset of the data in the member */
    char **files;        /* DATA_FILE (1), LIST, PATTERN: names */
    size_t file_count;
    size_t file_dims;    /* dimensions held by one file */
    /* Our keys: KEY_ORDER, and KEY_TAG_AXIS<k> = name [values] for series tag axis k
     * (slowest first; MetaIO dimension ndims - 1 - k). */
    char *order;
    size_t tag_keys;                          /* KEY_TAG_AXIS keys read */
    char *tag_name[IMD_MAX_TAG_DIMS];         /* NULL: no key for that axis */
    double *tag_values[IMD_MAX_TAG_DIMS];     /* NULL: the key gives no values */
    size_t tag_count[IMD_MAX_TAG_DIMS];
} Meta;

static const struct {
    const char *name;
    ImdDType dtype;
} element_types[] = {
    {"MET_UCHAR", IMD_DTYPE_UINT8},          {"MET_CHAR", IMD_DTYPE_INT8},
    {"MET_USHORT", IMD_DTYPE_UINT16},        {"MET_SHORT", IMD_DTYPE_INT16},
    {"MET_UINT", IMD_DTYPE_UINT32},          {"MET_INT", IMD_DTYPE_INT32},
    {"MET_ULONG", IMD_DTYPE_UINT32},         {"MET_LONG", IMD_DTYPE_INT32},
    {"MET_ULONG_LONG", IMD_DTYPE_UINT64},    {"MET_LONG_LONG", IMD_DTYPE_INT64},
    {"MET_FLOAT", IMD_DTYPE_FLOAT32},        {"MET_DOUBLE", IMD_DTYPE_FLOAT64},
};

static void meta_free(Meta *m)
{
    for (size_t i = 0; i < m->file_count; i++) {
        free(m->files[i]);
    }
    free(m->files);
    m->files = NULL;
    m->file_count = 0;
    free(m->order);
    m->order = NULL;
    for (size_t k = 0; k < IMD_MAX_TAG_DIMS; k++) {
        free(m->tag_name[k]);
        free(m->tag_values[k]);
        m->tag_name[k] = NULL;
        m->tag_values[k] = NULL;
    }
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One line: [start, end) without the newline; *next after it. */
static bool next_line(const uint8_t *data, size_t size, size_t *at, size_t *start, size_t *end)
{
    if (*at >= size) {
        return false;
    }
    *start = *at;
    const uint8_t *nl = memchr(data + *at, '\n', size - *at);
    size_t stop = nl != NULL ? (size_t)(nl - data) : size;
    *end = stop;
    *at = nl != NULL ? stop + 1 : size;
    return true;
}

static bool key_is(const char *key, const char *name)
{
    return strcasecmp(key, name) == 0;
}

/* Parse up to `capacity` numbers; CORRUPT for text that is not numbers. */
static bool parse_numbers(ImdError **error, const char *key, const char *text, double *values,
                          size_t capacity, size_t *count)
{
    size_t n = 0;
    const char *p = text;
    for (;;) {
        while (is_blank(*p)) {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        char *end = NULL;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || (*end != '\0' && !is_blank(*end))) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: not a number list: \"%.40s\"", key, text);
            return false;
        }
        if (n >= capacity) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: more than %zu values", key, capacity);
            return false;
        }
        values[n++] = v;
        p = end;
    }
    *count = n;
    return true;
}

static bool parse_bool(ImdError **error, const char *key, const char *text, bool *value)
{
    if (strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0) {
        *value = true;
    } else if (strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0) {
        *value = false;
    } else {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: not True or False: \"%.40s\"", key, text);
        return false;
    }
    return true;
}

static bool add_file(ImdError **error, Meta *m, size_t *capacity, const char *name, size_t length)
{
    if (m->file_count >= FILE_LIMIT) {
        imd_error_set(error, IMD_ERR_LIMIT, "more than %zu data files", FILE_LIMIT);
        return false;
    }
    char *copy = imd__strndup(error, name, length);
    if (copy == NULL ||
        !imd__grow(error, (void **)&m->files, capacity, m->file_count + 1, sizeof(char *))) {
        free(copy);
        return false;
    }
    m->files[m->file_count++] = copy;
    return true;
}

/*
 * Format `pattern` (one %[0][width]d conversion, "%%" for a percent sign)
 * with `index`. NULL + CORRUPT for anything else.
 */
static char *format_pattern(ImdError **error, const char *pattern, long long index)
{
    ImdText text = {0};
    int conversions = 0;
    for (const char *p = pattern; *p != '\0'; p++) {
        if (*p != '%') {
            imd__text_append(&text, p, 1);
            continue;
        }
        p++;
        if (*p == '%') {
            imd__text_append(&text, "%", 1);
            continue;
        }
        bool zero = *p == '0';
        unsigned width = 0;
        while (isdigit((unsigned char)*p) && width < 100) {
            width = width * 10 + (unsigned)(*p - '0');
            p++;
        }
        if (*p != 'd' || width > 32 || conversions++ > 0) {
            imd__text_free(&text);
            imd_error_set(error, IMD_ERR_CORRUPT, "file pattern \"%.60s\": only one %%d allowed",
                          pattern);
            return NULL;
        }
        char number[64];
        snprintf(number, sizeof number, zero ? "%0*lld" : "%*lld", (int)width, index);
        imd__text_puts(&text, number);
    }
    if (conversions != 1) {
        imd__text_free(&text);
        imd_error_set(error, IMD_ERR_CORRUPT, "file pattern \"%.60s\" has no %%d", pattern);
        return NULL;
    }
    return imd__text_finish(error, &text);
}

/* "name%03d.raw first last step [dims]" */
static bool parse_pattern(ImdError **error, Meta *m, const char *value)
{
    char pattern[512];
    long long first = 0, last = 0, step = 1;
    const char *p = value;
    size_t n = 0;
    while (*p != '\0' && !is_blank(*p)) {
        if (n + 1 >= sizeof pattern) {
            imd_error_set(error, IMD_ERR_LIMIT, "ElementDataFile pattern too long");
            return false;
        }
        pattern[n++] = *p++;
    }
    pattern[n] = '\0';
    long long numbers[4] = {0, 0, 1, 0};
    size_t count = 0;
    while (*p != '\0') {
        while (is_blank(*p)) {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        char *end = NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno != 0 || count >= 4 || (*end != '\0' && !is_blank(*end))) {
            imd_error_set(error, IMD_ERR_CORRUPT, "ElementDataFile: bad pattern \"%.60s\"", value);
            return false;
        }
        numbers[count++] = v;
        p = end;
    }
    if (count < 2) {
        imd_error_set(error, IMD_ERR_CORRUPT, "ElementDataFile: pattern without a range");
        return false;
    }
    first = numbers[0];
    last = numbers[1];
    step = count >= 3 ? numbers[2] : 1;
    if (count == 4) {
        if (numbers[3] < 1 || numbers[3] > META_MAX_DIMS) {
            imd_error_set(error, IMD_ERR_CORRUPT, "ElementDataFile: bad file dimension");
            return false;
        }
        m->file_dims = (size_t)numbers[3];
    }
    if (step == 0 || (step > 0 && last < first) || (step < 0 && last > first) ||
        step < -2000000000LL || step > 2000000000LL || first < -1000000000LL ||
        first > 1000000000LL || last < -1000000000LL ||
        last > 1000000000LL) {
        imd_error_set(error, IMD_ERR_CORRUPT, "ElementDataFile: bad range %lld %lld %lld", first,
                      last, step);
        return false;
    }
    long long files = (last - first) / step + 1;
    if (files > (long long)FILE_LIMIT) {
        imd_error_set(error, IMD_ERR_LIMIT, "ElementDataFile: %lld files (at most %zu)", files,
                      FILE_LIMIT);
        return false;
    }
    size_t capacity = 0;
    for (long long i = first; step > 0 ? i <= last : i >= last; i += step) {
        char *name = format_pattern(error, pattern, i);
        bool ok = name != NULL && add_file(error, m, &capacity, name, strlen(name));
        free(name);
        if (!ok) {
            return false;
        }
    }
    m->data = DATA_PATTERN;
    return true;
}

static bool set_dims(ImdError **error, Meta *m, const double *v, size_t n)
{
    if (n < 2 || n > META_MAX_DIMS) {
        imd_error_set(error, n > 4 ? IMD_ERR_LIMIT : IMD_ERR_CORRUPT, "DimSize: %zu values", n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] >= 1 && v[i] <= 2147483647.0) || v[i] != floor(v[i])) {
            imd_error_set(error, IMD_ERR_CORRUPT, "DimSize: bad size %g", v[i]);
            return false;
        }
        m->dim[i] = (size_t)v[i];
    }
    m->has_dims = true;
    return true;
}

/* KEY_TAG_AXIS<k> = name [value...]: `index` is the text after KEY_TAG_AXIS. */
static bool parse_tag_axis(ImdError **error, Meta *m, const char *index, const char *value)
{
    if (index[0] < '0' || index[0] >= '0' + IMD_MAX_TAG_DIMS || index[1] != '\0') {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s%s: not a tag axis key (%s0 to %s%d)",
                      KEY_TAG_AXIS, index, KEY_TAG_AXIS, KEY_TAG_AXIS, IMD_MAX_TAG_DIMS - 1);
        return false;
    }
    size_t k = (size_t)(index[0] - '0');
    if (m->tag_name[k] != NULL) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s%zu given twice", KEY_TAG_AXIS, k);
        return false;
    }
    size_t length = 0;
    while (value[length] != '\0' && !is_blank(value[length])) {
        length++;
    }
    if (length == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s%zu: no axis name", KEY_TAG_AXIS, k);
        return false;
    }
    /* At most one number per two characters of the (LINE_LIMIT-bounded) line. */
    size_t capacity = strlen(value + length) / 2 + 1, count = 0;
    double *values = imd__calloc(error, capacity, sizeof *values);
    char *name = values != NULL ? imd__strndup(error, value, length) : NULL;
    if (name == NULL ||
        !parse_numbers(error, KEY_TAG_AXIS, value + length, values, capacity, &count)) {
        free(values);
        free(name);
        return false;
    }
    m->tag_name[k] = name;
    if (count > 0) {
        m->tag_values[k] = values;
        m->tag_count[k] = count;
    } else {
        free(values);
    }
    m->tag_keys++;
    return true;
}

/*
 * Our keys against the dimensions: KEY_TAG_AXIS0 to <k-1>, each with no
 * values or one per index of its dimension, on an image of 3 + k dimensions.
 */
static bool check_tag_keys(ImdError **error, const Meta *m)
{
    size_t k = m->tag_keys;
    if (k == 0) {
        return true;
    }
    for (size_t i = 0; i < k; i++) {
        if (m->tag_name[i] == NULL) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s%zu missing (%zu tag axis keys)",
                          KEY_TAG_AXIS, i, k);
            return false;
        }
    }
    if (m->ndims != 3 + k) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%zu %s keys for NDims %zu (want NDims %zu)", k,
                      KEY_TAG_AXIS, m->ndims, 3 + k);
        return false;
    }
    for (size_t i = 0; i < k; i++) {
        size_t length = m->dim[m->ndims - 1 - i];
        if (m->tag_values[i] != NULL && m->tag_count[i] != length) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s%zu: %zu values for a dimension of %zu",
                          KEY_TAG_AXIS, i, m->tag_count[i], length);
            return false;
        }
    }
    return true;
}

static bool parse_fields(ImdError **error, const uint8_t *data, size_t size, Meta *m)
{
    memset(m, 0, sizeof *m);
    m->etype = -1;
    m->channels = 1;
    for (int i = 0; i < 4; i++) {
        m->spacing[i] = 1;
    }
    size_t at = 0, start, end;
    double dims[16];
    size_t dim_count = 0;
    bool have_data = false, has_spacing = false;
    while (!have_data && next_line(data, size, &at, &start, &end)) {
        if (start >= HEADER_LIMIT) {
            imd_error_set(error, IMD_ERR_LIMIT, "header longer than %zu bytes", HEADER_LIMIT);
            return false;
        }
        char line[LINE_LIMIT];
        size_t length = end - start;
        while (length > 0 && is_blank((char)data[start + length - 1])) {
            length--;
        }
        while (length > 0 && is_blank((char)data[start])) {
            start++;
            length--;
        }
        if (length == 0) {
            continue;
        }
        if (length >= sizeof line) {
            imd_error_set(error, IMD_ERR_LIMIT, "header line longer than %zu bytes", sizeof line);
            return false;
        }
        memcpy(line, data + start, length);
        line[length] = '\0';
        if (memchr(line, '\0', length) != NULL) {
            imd_error_set(error, IMD_ERR_CORRUPT, "NUL byte in the header");
            return false;
        }
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            imd_error_set(error, IMD_ERR_CORRUPT, "header line without '=': \"%.40s\"", line);
            return false;
        }
        char *key_end = eq;
        while (key_end > line && is_blank(key_end[-1])) {
            key_end--;
        }
        *key_end = '\0';
        char *value = eq + 1;
        while (is_blank(*value)) {
            value++;
        }
        const char *key = line;
        double v[16];
        size_t n = 0;
        if (key_is(key, "NDims")) {
            if (!parse_numbers(error, key, value, v, 1, &n)) {
                return false;
            }
            if (n != 1 || v[0] != floor(v[0]) || v[0] < 1 || v[0] > META_MAX_DIMS) {
                imd_error_set(error, n == 1 && v[0] > META_MAX_DIMS ? IMD_ERR_LIMIT
                                                                    : IMD_ERR_CORRUPT,
                              "NDims %s: 2 to %d supported", value, META_MAX_DIMS);
                return false;
            }
            m->ndims = (size_t)v[0];
        } else if (key_is(key, "DimSize")) {
            if (!parse_numbers(error, key, value, dims, 16, &dim_count)) {
                return false;
            }
        } else if (key_is(key, "ElementType")) {
            for (size_t i = 0; i < sizeof element_types / sizeof element_types[0]; i++) {
                if (strcasecmp(value, element_types[i].name) == 0 ||
                    (strncasecmp(value, element_types[i].name, strlen(element_types[i].name)) ==
                         0 &&
                     strcasecmp(value + strlen(element_types[i].name), "_ARRAY") == 0)) {
                    m->etype = (int)i;
                }
            }
            if (m->etype < 0) {
                imd_error_set(error, IMD_ERR_UNSUPPORTED, "ElementType %.40s", value);
                return false;
            }
        } else if (key_is(key, "ElementNumberOfChannels")) {
            if (!parse_numbers(error, key, value, v, 1, &n)) {
                return false;
            }
            if (n != 1 || !(v[0] >= 1 && v[0] <= 64) || v[0] != floor(v[0])) {
                imd_error_set(error, IMD_ERR_CORRUPT, "ElementNumberOfChannels %.40s", value);
                return false;
            }
            m->channels = (size_t)v[0];
        } else if (key_is(key, "ElementSpacing") || key_is(key, "ElementSize")) {
            if (!parse_numbers(error, key, value, v, META_MAX_DIMS, &n)) {
                return false;
            }
            /* ElementSize only when no ElementSpacing was given. */
            if (key_is(key, "ElementSpacing") || !has_spacing) {
                for (size_t i = 0; i < n; i++) {
                    m->spacing[i] = v[i];
                }
            }
            has_spacing = has_spacing || key_is(key, "ElementSpacing");
        } else if (key_is(key, "Offset") || key_is(key, "Origin") || key_is(key, "Position")) {
            if (!parse_numbers(error, key, value, v, META_MAX_DIMS, &n)) {
                return false;
            }
            for (size_t i = 0; i < n; i++) {
                m->offset[i] = v[i];
            }
        } else if (key_is(key, "TransformMatrix") || key_is(key, "Rotation") ||
                   key_is(key, "Orientation")) {
            if (!parse_numbers(error, key, value, m->matrix, META_MAX_DIMS * META_MAX_DIMS,
                               &m->matrix_count)) {
                return false;
            }
        } else if (key_is(key, KEY_ORDER)) {
            free(m->order);
            m->order = imd__strdup(error, value);
            if (m->order == NULL) {
                return false;
            }
        } else if (strncasecmp(key, KEY_TAG_AXIS, strlen(KEY_TAG_AXIS)) == 0) {
            if (!parse_tag_axis(error, m, key + strlen(KEY_TAG_AXIS), value)) {
                return false;
            }
        } else if (key_is(key, "ElementByteOrderMSB") || key_is(key, "BinaryDataByteOrderMSB")) {
            if (!parse_bool(error, key, value, &m->msb)) {
                return false;
            }
        } else if (key_is(key, "CompressedData")) {
            if (!parse_bool(error, key, value, &m->compressed)) {
                return false;
            }
        } else if (key_is(key, "BinaryData")) {
            bool binary = true;
            if (!parse_bool(error, key, value, &binary)) {
                return false;
            }
            if (!binary) {
                imd_error_set(error, IMD_ERR_UNSUPPORTED, "BinaryData = False (text data)");
                return false;
            }
        } else if (key_is(key, "HeaderSize")) {
            if (!parse_numbers(error, key, value, v, 1, &n)) {
                return false;
            }
            if (n != 1 || v[0] != floor(v[0]) || v[0] < -1 || v[0] > 1e15) {
                imd_error_set(error, IMD_ERR_CORRUPT, "HeaderSize %.40s", value);
                return false;
            }
            m->header_size = (int64_t)v[0];
        } else if (key_is(key, "ElementDataFile")) {
            have_data = true;
            if (strcasecmp(value, "LOCAL") == 0) {
                m->data = DATA_LOCAL;
                m->data_start = at;
            } else if (strncasecmp(value, "LIST", 4) == 0 &&
                       (value[4] == '\0' || is_blank(value[4]))) {
                const char *d = value + 4;
                while (is_blank(*d)) {
                    d++;
                }
                if (*d >= '1' && *d <= '9' && (d[1] == 'D' || d[1] == 'd')) {
                    m->file_dims = (size_t)(*d - '0');
                }
                m->data = DATA_LIST;
                size_t capacity = 0;
                while (next_line(data, size, &at, &start, &end)) {
                    while (start < end && is_blank((char)data[start])) {
                        start++;
                    }
                    while (end > start && is_blank((char)data[end - 1])) {
                        end--;
                    }
                    if (end > start && !add_file(error, m, &capacity, (const char *)data + start,
                                                 end - start)) {
                        return false;
                    }
                }
            } else if (strchr(value, '%') != NULL) {
                if (!parse_pattern(error, m, value)) {
                    return false;
                }
            } else if (value[0] != '\0') {
                size_t capacity = 0;
                if (!add_file(error, m, &capacity, value, strlen(value))) {
                    return false;
                }
                m->data = DATA_FILE;
            } else {
                imd_error_set(error, IMD_ERR_CORRUPT, "ElementDataFile is empty");
                return false;
            }
        }
        /* Other keys (ObjectType, CenterOfRotation, ...) carry nothing we keep. */
    }
    if (!have_data) {
        imd_error_set(error, IMD_ERR_CORRUPT, "no ElementDataFile in the header");
        return false;
    }
    if (m->ndims == 0) {
        m->ndims = dim_count;
    }
    if (m->ndims < 2 || m->ndims > META_MAX_DIMS) {
        imd_error_set(error, m->ndims > META_MAX_DIMS ? IMD_ERR_LIMIT : IMD_ERR_UNSUPPORTED,
                      "NDims %zu: 2 to %d supported", m->ndims, META_MAX_DIMS);
        return false;
    }
    if (dim_count == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "no DimSize in the header");
        return false;
    }
    if (dim_count != m->ndims) {
        imd_error_set(error, IMD_ERR_CORRUPT, "DimSize has %zu values for NDims %zu", dim_count,
                      m->ndims);
        return false;
    }
    if (!set_dims(error, m, dims, dim_count) || !check_tag_keys(error, m)) {
        return false;
    }
    if (m->etype < 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "no ElementType in the header");
        return false;
    }
    if (m->channels != 1 &&
        !(m->channels == 3 && element_types[m->etype].dtype == IMD_DTYPE_UINT8)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%zu channels of %s", m->channels,
                      element_types[m->etype].name);
        return false;
    }
    if (m->file_dims == 0 || m->file_dims > m->ndims) {
        m->file_dims = m->data == DATA_FILE ? m->ndims : m->ndims - 1;
    }
    return true;
}

/* Parse the header of `data`; on success m->data says where the voxels are. */
static bool parse_header(ImdError **error, const uint8_t *data, size_t size, Meta *m)
{
    if (!parse_fields(error, data, size, m)) {
        meta_free(m);
        return false;
    }
    return true;
}

/* ---- the reader ---- */

typedef struct Member {
    ImdMember file; /* the header's bytes; the data file is opened beside it */
} Member;

typedef struct Reader {
    const ImdOptions *options;
    const ImdContext *context;
    /* Options read and checked once, in metaio_reader_create (a bad value is a usage error). */
    ImdInputOrder order;
    const char *order_text; /* the option's text, as the series' order */
    bool by_tag;            /* input_sort=tag */
    bool headers_only;      /* shapes and geometry; the voxels are checked, not read */
    Member *members;
    size_t count, capacity;
} Reader;

/* input_sort and output_sort: slice (the default) or tag. */
static const char *const sort_choices[] = {"slice", "tag", NULL};

static bool looks_like_header(const uint8_t *head, size_t length)
{
    static const char *const keys[] = {"ObjectType", "NDims", "DimSize", "ObjectSubType",
                                       "Comment"};
    size_t at = 0;
    while (at < length && (head[at] == ' ' || head[at] == '\t' || head[at] == '\r' ||
                           head[at] == '\n')) {
        at++;
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t n = strlen(keys[i]);
        if (length - at >= n && strncasecmp((const char *)head + at, keys[i], n) == 0) {
            size_t j = at + n;
            while (j < length && (head[j] == ' ' || head[j] == '\t')) {
                j++;
            }
            if (j < length && head[j] == '=') {
                return true;
            }
        }
    }
    return false;
}

static int metaio_probe(const uint8_t *head, size_t length, const char *name)
{
    if (name != NULL && is_data_name(name)) {
        return 0;
    }
    return head != NULL && looks_like_header(head, length) ? 90 : 0;
}

static void *metaio_reader_create(ImdError **error, const ImdOptions *options,
                                  const ImdContext *context)
{
    Reader *reader = imd__calloc(error, 1, sizeof *reader);
    if (reader != NULL) {
        reader->options = options;
        reader->context = context;
        reader->order_text = imd_options_get(options, "input_order", "auto");
        size_t sort = 0;
        if (!imd__input_order_from_options(error, options, &reader->order) ||
            !imd_options_get_choice(error, options, "input_sort", sort_choices, 0, &sort) ||
            !imd_options_get_bool(error, options, "headers_only", false,
                                  &reader->headers_only)) {
            imd_error_prefix(error, "MetaIO reader: ");
            free(reader);
            return NULL;
        }
        reader->by_tag = sort == 1;
    }
    return reader;
}

static void metaio_reader_destroy(void *state)
{
    Reader *reader = state;
    if (reader == NULL) {
        return;
    }
    for (size_t i = 0; i < reader->count; i++) {
        imd__member_free(&reader->members[i].file);
    }
    free(reader->members);
    imd__input_order_clear(&reader->order);
    free(reader);
}

static bool metaio_reader_add(ImdError **error, void *state, ImdArchive *archive,
                              const char *name, ImdStream *stream)
{
    Reader *reader = state;
    if (is_data_name(name)) {
        imd_context_log(reader->context, IMD_LOG_DEBUG, "%s: MetaIO data file, skipped", name);
        return true; /* read through its header */
    }
    /* A failed read is a failure (an empty member gives an empty block): running
     * out of memory must not read as "no MetaIO header" (found by fault injection). */
    /* A local file is kept by its path and mapped when decoded: the voxels of
     * a .mha are not copied into memory first (nor at all with headers_only). */
    Member m = {0};
    if (!imd__member_keep(error, &m.file, archive, name, stream, IMD__KEEP_LOCAL_OR_BYTES,
                          MEMBER_LIMIT)) {
        return false;
    }
    uint8_t head[256];
    const uint8_t *start = m.file.bytes;
    size_t length = m.file.size;
    if (m.file.path != NULL) {
        int64_t got = imd_stream_read(error, stream, head, sizeof head);
        if (got < 0) {
            imd__member_free(&m.file);
            return false;
        }
        start = head;
        length = (size_t)got;
    }
    if (!looks_like_header(start, length)) {
        imd__member_free(&m.file);
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "%s: no MetaIO header", name);
        return false;
    }
    if (!imd__member_push(error, (void **)&reader->members, &reader->count, &reader->capacity,
                          &m, sizeof m)) {
        imd__member_free(&m.file);
        return false;
    }
    return true;
}

/* ---- decoding one file ---- */

typedef struct Image {
    ImdDType dtype;
    size_t ndim;
    size_t shape[META_MAX_DIMS]; /* series order [tags..., z, y, x] after squeezing */
    uint8_t *data;
    size_t nbytes;
    ImdVec3 origin, axis[3]; /* unit directions of x, y, z */
    double spacing[META_MAX_DIMS]; /* x, y, z, then the tag dimensions fastest first */
    bool oriented;
    /* Our keys (owned; tag_keys 0 when the file has none): the tag axes. */
    char *order;
    size_t tag_keys;
    double *tag_values[IMD_MAX_TAG_DIMS]; /* series tag axis k; NULL: 0, 1, ... */
} Image;

static void image_free(Image *image)
{
    free(image->data);
    free(image->order);
    for (size_t k = 0; k < IMD_MAX_TAG_DIMS; k++) {
        free(image->tag_values[k]);
    }
    memset(image, 0, sizeof *image);
}

static bool inflate_exact(ImdError **error, const uint8_t *in, size_t in_size, uint8_t *out,
                          size_t out_size, const char *name)
{
    /* zlib expands at most about 1032:1: refuse before inflating absurd claims. */
    if (out_size / 1100 > in_size + 64) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: %zu compressed bytes cannot hold %zu bytes",
                      name, in_size, out_size);
        return false;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) {
        imd_error_set(error, IMD_ERR_NOMEM, "%s: zlib could not start", name);
        return false;
    }
    size_t in_at = 0, out_at = 0;
    int status = Z_OK;
    while (status == Z_OK) {
        size_t in_chunk = in_size - in_at, out_chunk = out_size - out_at;
        z.next_in = (Bytef *)(uintptr_t)(in + in_at);
        z.avail_in = (uInt)(in_chunk > UINT_MAX ? UINT_MAX : in_chunk);
        z.next_out = out + out_at;
        z.avail_out = (uInt)(out_chunk > UINT_MAX ? UINT_MAX : out_chunk);
        uInt before_in = z.avail_in, before_out = z.avail_out;
        status = inflate(&z, Z_NO_FLUSH);
        in_at += before_in - z.avail_in;
        out_at += before_out - z.avail_out;
        if (status == Z_OK && before_in == z.avail_in && before_out == z.avail_out) {
            status = Z_BUF_ERROR;
        }
    }
    inflateEnd(&z);
    if (status != Z_STREAM_END || out_at != out_size) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: compressed data %s (%zu of %zu bytes)", name,
                      status == Z_STREAM_END ? "too short"
                      : status == Z_BUF_ERROR && out_at == out_size ? "too long"
                                                                     : "damaged",
                      out_at, out_size);
        return false;
    }
    return true;
}

/* Copy `need` bytes of voxels out of a data file's bytes into `out`. */
static bool take_voxels(ImdError **error, const Meta *m, const uint8_t *bytes, size_t size,
                        size_t skip, uint8_t *out, size_t need, const char *name)
{
    if (skip > size) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: data offset %zu beyond its %zu bytes", name,
                      skip, size);
        return false;
    }
    bytes += skip;
    size -= skip;
    if (m->compressed) {
        return inflate_exact(error, bytes, size, out, need, name);
    }
    if (size < need) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: %zu bytes of voxels, %zu expected", name, size,
                      need);
        return false;
    }
    memcpy(out, m->header_size < 0 ? bytes + (size - need) : bytes, need);
    return true;
}

static char *sibling_name(ImdError **error, const char *header, const char *file)
{
    if (file[0] == '/' || strstr(file, "..") != NULL || strchr(file, '\\') != NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "data file \"%.80s\" outside the header's folder",
                      file);
        return NULL;
    }
    const char *slash = strrchr(header, '/');
    int dir = slash != NULL ? (int)(slash - header + 1) : 0;
    return imd__sprintf(error, "%.*s%s", dir, header, file);
}

/*
 * A data file named inside a header must stay inside the header's folder
 * after every symlink is followed (issue 22: "data.raw" -> /etc/passwd
 * passed the name check). Only for archives in the file system; a zip's
 * members are names, not paths.
 */
static bool check_inside(ImdError **error, const Member *member, const char *name)
{
    /* NULL means "not in the file system", or out of memory: the check must
     * not be skipped for the second (found by fault injection). */
    size_t failures = imd__alloc_failures();
    char *header = imd_archive_local_path(member->file.archive, member->file.name);
    char *data = imd_archive_local_path(member->file.archive, name);
    bool ok = true;
    if (imd__alloc_failures() != failures) {
        imd_error_set(error, IMD_ERR_NOMEM, "data file %s: out of memory", name);
        ok = false;
    } else if (header != NULL && data != NULL) {
        char *slash = strrchr(header, '/');
        if (slash != NULL) {
            slash[slash == header ? 1 : 0] = '\0';
        }
        /* realpath(..., NULL) allocates: a test build's fault counts it (ENOMEM). */
        char *folder = imd__fault_alloc() ? (errno = ENOMEM, NULL)
                                          : realpath(slash != NULL ? header : ".", NULL);
        char *target = folder == NULL  ? NULL
                       : imd__fault_alloc() ? (errno = ENOMEM, NULL)
                                            : realpath(data, NULL);
        size_t length = folder != NULL ? strlen(folder) : 0;
        if (folder == NULL || target == NULL) {
            imd_error_set(error, errno == ENOENT ? IMD_ERR_NOT_FOUND : IMD_ERR_IO,
                          "data file %s: %s", name, strerror(errno));
            ok = false;
        } else if (strncmp(target, folder, length) != 0 ||
                   (target[length] != '/' && !(length == 1 && folder[0] == '/'))) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED,
                          "data file %s resolves to %s, outside the header's folder %s", name,
                          target, folder);
            ok = false;
        }
        free(folder);
        free(target);
    }
    imd_free(header);
    imd_free(data);
    return ok;
}

/*
 * Before the voxels are allocated: every data file must be inside the
 * header's folder and hold the bytes its share of the image needs (or, when
 * compressed, as many as deflate can expand to, IMD__DEFLATE_MAX_RATIO:1).
 */
static bool check_files(ImdError **error, const Member *member, const Meta *m, size_t total)
{
    size_t per_file = total / m->file_count;
    size_t skip = m->header_size > 0 ? (size_t)m->header_size : 0;
    for (size_t i = 0; i < m->file_count; i++) {
        char *name = sibling_name(error, member->file.name, m->files[i]);
        if (name == NULL) {
            return false;
        }
        bool ok = member->file.archive != NULL && check_inside(error, member, name);
        if (member->file.archive == NULL) {
            imd_error_set(error, IMD_ERR_NOT_FOUND, "data file %.80s: no archive", name);
        }
        ImdStream *stream =
            ok ? imd_archive_open_member(error, member->file.archive, name, IMD_MODE_READ) : NULL;
        int64_t size = stream != NULL && stream->methods->seek != NULL
                           ? imd_stream_seek(NULL, stream, 0, SEEK_END)
                           : -1;
        ok = stream != NULL;
        if (ok && size >= 0) {
            uint64_t held = (uint64_t)size > skip ? (uint64_t)size - skip : 0;
            uint64_t can = m->compressed ? held * IMD__DEFLATE_MAX_RATIO : held;
            if (can < per_file) {
                imd_error_set(error, IMD_ERR_CORRUPT,
                              "%s: %lld bytes%s cannot hold the %zu bytes of voxels the header "
                              "claims", name, (long long)size,
                              m->compressed ? " (compressed)" : "", per_file);
                ok = false;
            }
        }
        imd_stream_abort(stream);
        free(name);
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool read_files(ImdError **error, const Member *member, const Meta *m, uint8_t *out,
                       size_t total)
{
    size_t per_file = total / m->file_count;
    for (size_t i = 0; i < m->file_count; i++) {
        char *name = sibling_name(error, member->file.name, m->files[i]);
        if (name != NULL && member->file.archive == NULL) {
            imd_error_set(error, IMD_ERR_NOT_FOUND, "data file %.80s: no archive", name);
            free(name);
            return false;
        }
        ImdStream *stream =
            name != NULL ? imd_archive_open_member(error, member->file.archive, name, IMD_MODE_READ)
                         : NULL;
        size_t size = 0;
        uint8_t *bytes = stream != NULL ? imd_stream_read_all(error, stream, MEMBER_LIMIT, &size)
                                        : NULL;
        bool ok = bytes != NULL; /* NULL is a failure, never an empty file (see reader_add) */
        imd_stream_close(NULL, stream);
        size_t skip = m->header_size > 0 ? (size_t)m->header_size : 0;
        ok = ok && take_voxels(error, m, bytes, size, skip,
                               out + i * per_file, per_file, name);
        free(bytes);
        free(name);
        if (!ok) {
            return false;
        }
    }
    return true;
}

static void swap_bytes(uint8_t *data, size_t bytes, size_t unit)
{
    for (size_t i = 0; unit > 1 && i + unit <= bytes; i += unit) {
        for (size_t a = 0, b = unit - 1; a < b; a++, b--) {
            uint8_t t = data[i + a];
            data[i + a] = data[i + b];
            data[i + b] = t;
        }
    }
}

static bool host_is_little_endian(void)
{
    uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static ImdVec3 unit_or(ImdVec3 v, ImdVec3 fallback, bool *ok)
{
    double n = sqrt(v.x * v.x + v.y * v.y + v.z * v.z);
    if (!(n > 1e-12) || !isfinite(n)) {
        *ok = false;
        return fallback;
    }
    return (ImdVec3){v.x / n, v.y / n, v.z / n};
}

static ImdVec3 cross(ImdVec3 a, ImdVec3 b)
{
    return (ImdVec3){a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}

static double dot(ImdVec3 a, ImdVec3 b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}

/* Direction cosines from the TransformMatrix (normalised), else the identity. */
static void set_directions(const Meta *m, Image *image)
{
    ImdVec3 e[3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    size_t n = m->ndims, used = n < 3 ? n : 3;
    bool ok = m->matrix_count == n * n;
    ImdVec3 v[3] = {e[0], e[1], e[2]};
    for (size_t k = 0; ok && k < used; k++) {
        double c[3] = {0, 0, 0};
        for (size_t i = 0; i < used; i++) {
            c[i] = m->matrix[k * n + i];
        }
        v[k] = unit_or((ImdVec3){c[0], c[1], c[2]}, e[k], &ok);
    }
    if (ok && used == 2) {
        v[2] = unit_or(cross(v[0], v[1]), e[2], &ok);
    }
    if (ok && fabs(dot(v[0], v[1])) > 1e-3) {
        ok = false; /* not orthogonal: no usable orientation */
    }
    for (int k = 0; k < 3; k++) {
        image->axis[k] = ok ? v[k] : e[k];
    }
    image->oriented = ok;
}

static bool decode_image(ImdError **error, const Member *member, bool headers_only,
                         Image *image)
{
    Meta m;
    memset(image, 0, sizeof *image);
    ImdBlob file;
    if (!imd__blob_of_member(error, &member->file, &file)) {
        return false;
    }
    if (!parse_header(error, file.data, file.size, &m)) {
        imd__blob_close(&file);
        return false;
    }
    /* Size-1 dimensions at the slow end are squeezed, to no less than 2D (not when our
     * keys give the tag axes: their shape is kept). */
    size_t squeezed = m.ndims;
    while (m.tag_keys == 0 && squeezed > 2 && m.dim[squeezed - 1] == 1) {
        squeezed--;
    }
    if (squeezed > IMD_MAX_DIMS) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "NDims %zu: a series has at most %d "
                      "dimensions", squeezed, IMD_MAX_DIMS);
        meta_free(&m);
        imd__blob_close(&file);
        return false;
    }
    ImdDType dtype = element_types[m.etype].dtype;
    size_t unit = imd_dtype_size(dtype);
    if (m.channels == 3) {
        dtype = IMD_DTYPE_RGB8;
    }
    size_t count = 1, bytes = 0;
    for (size_t i = 0; i < m.ndims; i++) {
        if (!imd__mul_size(count, m.dim[i], &count)) {
            count = SIZE_MAX;
        }
    }
    bool ok = true;
    if (count == SIZE_MAX || !imd__mul_size(count, imd_dtype_size(dtype), &bytes) ||
        bytes > MEMBER_LIMIT) {
        imd_error_set(error, IMD_ERR_LIMIT, "%zu-D image of %zu x %zu x %zu x %zu too large",
                      m.ndims, m.dim[0], m.dim[1], m.ndims > 2 ? m.dim[2] : 1,
                      m.ndims > 3 ? m.dim[3] : 1);
        ok = false;
    }
    size_t files = 1;
    if (ok && m.data != DATA_LOCAL) {
        for (size_t i = m.file_dims; i < m.ndims; i++) {
            files *= m.dim[i];
        }
        if (files != m.file_count) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%zu data files named, %zu expected",
                          m.file_count, files);
            ok = false;
        }
    }
    if (ok && m.data == DATA_LOCAL && !m.compressed && bytes > file.size - m.data_start) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%zu bytes of voxels, %zu expected",
                      file.size - m.data_start, bytes);
        ok = false;
    }
    if (ok && m.data == DATA_LOCAL && m.compressed &&
        bytes / IMD__DEFLATE_MAX_RATIO > file.size - m.data_start) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%zu compressed bytes cannot hold the %zu bytes "
                      "of voxels the header claims", file.size - m.data_start, bytes);
        ok = false;
    }
    /* Validate before allocating: the data files, then the memory limit. */
    ok = ok && (m.data == DATA_LOCAL || check_files(error, member, &m, bytes)) &&
         imd__check_alloc(error, NULL, bytes, "the image");
    if (ok && !headers_only) {
        image->data = imd__malloc(error, bytes > 0 ? bytes : 1);
        ok = image->data != NULL;
    }
    if (!ok || headers_only) {
        /* checked above: nothing to read */
    } else if (m.data == DATA_LOCAL) {
        size_t skip = m.data_start;
        if (m.header_size > 0 && !imd__add_size(skip, (size_t)m.header_size, &skip)) {
            skip = SIZE_MAX;
        }
        ok = take_voxels(error, &m, file.data, file.size, skip, image->data, bytes,
                         "voxels");
    } else {
        ok = read_files(error, member, &m, image->data, bytes);
    }
    if (ok && !headers_only && m.msb == host_is_little_endian()) {
        swap_bytes(image->data, bytes, unit);
    }
    if (ok) {
        image->dtype = dtype;
        image->nbytes = bytes;
        size_t n = squeezed;
        image->ndim = n;
        for (size_t i = 0; i < n; i++) {
            image->shape[i] = m.dim[n - 1 - i];
        }
        for (size_t i = 0; i < META_MAX_DIMS; i++) {
            double s = m.spacing[i];
            image->spacing[i] = isfinite(s) && s > 0 ? s : 1;
        }
        /* Our keys move over to the image. */
        image->order = m.order;
        m.order = NULL;
        image->tag_keys = m.tag_keys;
        for (size_t k = 0; k < m.tag_keys; k++) {
            image->tag_values[k] = m.tag_values[k];
            m.tag_values[k] = NULL;
        }
        image->origin = (ImdVec3){m.offset[0], m.offset[1], m.ndims > 2 ? m.offset[2] : 0};
        set_directions(&m, image);
    } else {
        free(image->data);
        image->data = NULL;
    }
    meta_free(&m);
    imd__blob_close(&file);
    return ok;
}

/* ---- series ---- */

static const char *tag_order(const Reader *reader)
{
    return reader->order.automatic ? "none" : reader->order_text;
}

/*
 * Geometry, axes and tags of a series of `slices` slices at `positions`.
 * `tags` > 0 gives dimension 0 a tag axis (0, step tag_step).
 */
static bool finish_series(ImdError **error, ImdSeries *series, const Image *first,
                          const ImdVec3 *positions, size_t slices, double ds, size_t tags,
                          double tag_step, const char *order)
{
    ImdHeader *header = imd_series_header(series);
    size_t ndim = imd_series_ndim(series);
    double spacing[3] = {ds, first->spacing[1], first->spacing[0]};
    double *locations = imd__calloc(error, slices, sizeof *locations);
    bool ok = locations != NULL && imd_header_set_spacing(error, header, spacing) &&
              imd_header_set_orientation(error, header, first->axis[0], first->axis[1]);
    if (ok) {
        ImdVec3 normal = imd_header_normal(header);
        for (size_t s = 0; s < slices; s++) {
            locations[s] = dot(positions[s], normal);
        }
        ok = imd_header_set_image_positions(error, header, positions, slices) &&
             imd_header_set_slice_locations(error, header, locations, slices);
    }
    free(locations);
    ImdVec3 p0 = positions[0];
    ImdAxis *axis = NULL;
    if (ok && ndim >= 3) {
        axis = imd_axis_create_uniform(error, "slice", p0.z, ds, slices);
        ok = axis != NULL && imd_series_set_axis(error, series, ndim - 3, axis);
    }
    axis = ok ? imd_axis_create_uniform(error, "row", p0.y, spacing[1],
                                        imd_series_dim(series, ndim - 2))
              : NULL;
    ok = axis != NULL && imd_series_set_axis(error, series, ndim - 2, axis);
    axis = ok ? imd_axis_create_uniform(error, "column", p0.x, spacing[2],
                                        imd_series_dim(series, ndim - 1))
              : NULL;
    ok = axis != NULL && imd_series_set_axis(error, series, ndim - 1, axis);
    if (ok && tags > 0) {
        axis = imd_axis_create_uniform(error, "none", 0, tag_step, tags);
        ok = axis != NULL && imd_series_set_axis(error, series, 0, axis) &&
             imd_series_set_input_order(error, series, order) &&
             imd_header_set_tag_shape(error, header, slices, 1, &tags, 1);
        for (size_t t = 0; ok && t < tags; t++) {
            ImdValue value = imd_value_number((double)t * tag_step);
            for (size_t s = 0; ok && s < slices; s++) {
                ok = imd_header_set_tag(error, header, s, &t, &value);
            }
        }
    } else if (ok) {
        ImdValue zero = imd_value_number(0);
        ok = imd_header_set_tag_shape(error, header, slices, 0, NULL, 1);
        for (size_t s = 0; ok && s < slices; s++) {
            ok = imd_header_set_tag(error, header, s, NULL, &zero);
        }
    }
    imd_header_set_geometry_defined(header, first->oriented);
    return ok;
}

static ImdVec3 along(ImdVec3 origin, ImdVec3 direction, double distance)
{
    return (ImdVec3){origin.x + distance * direction.x, origin.y + distance * direction.y,
                     origin.z + distance * direction.z};
}

/*
 * The tag axes of a series read from one file of 3 + k dimensions, k >= 2
 * or given by our keys: named by the input order (the reader's when it has
 * k components, else our KEY_ORDER, else "none"), valued by our
 * KEY_TAG_AXIS values, else 0, step (the dimension's ElementSpacing), ...
 * Every slice's tag cells hold the k axes' values.
 */
static bool finish_tags(ImdError **error, ImdSeries *series, const Image *image, size_t slices,
                        const ImdInputOrder *wanted, const char *wanted_text)
{
    size_t k = image->ndim - 3;
    const char *order = "none";
    if (!wanted->automatic && wanted->count == k) {
        order = wanted_text;
    } else if (image->order != NULL) {
        order = image->order;
    }
    if (!imd_series_set_input_order(error, series, order)) {
        if (order == wanted_text) {
            return false;
        }
        /* Our key does not fit (edited by hand): the tag axes stay unnamed. */
        imd_error_clear(error);
        if (!imd_series_set_input_order(error, series, "none")) {
            return false;
        }
    }
    for (size_t d = 0; d < k; d++) {
        const char *name = imd_axis_name(imd_series_axis(series, d));
        size_t n = image->shape[d];
        ImdAxis *axis = image->tag_values[d] != NULL
                            ? imd_axis_create_numbers(error, name, image->tag_values[d], n)
                            : imd_axis_create_uniform(error, name, 0,
                                                      image->spacing[image->ndim - 1 - d], n);
        if (axis == NULL || !imd_series_set_axis(error, series, d, axis)) {
            imd_axis_destroy(axis);
            return false;
        }
    }
    ImdHeader *header = imd_series_header(series);
    if (!imd_header_set_tag_shape(error, header, slices, k, image->shape, k)) {
        return false;
    }
    size_t cells = 1;
    for (size_t d = 0; d < k; d++) {
        cells *= image->shape[d];
    }
    for (size_t cell = 0; cell < cells; cell++) {
        size_t index[IMD_MAX_TAG_DIMS] = {0}, rest = cell;
        ImdValue values[IMD_MAX_TAG_DIMS];
        for (size_t d = k; d-- > 0;) {
            index[d] = rest % image->shape[d];
            rest /= image->shape[d];
            values[d] = imd_value_number(imd_axis_number(imd_series_axis(series, d), index[d]));
        }
        for (size_t s = 0; s < slices; s++) {
            if (!imd_header_set_tag(error, header, s, index, values)) {
                return false;
            }
        }
    }
    return true;
}

/* One file as a series. */
static ImdSeries *single_series(ImdError **error, Image *image, const ImdInputOrder *wanted,
                                const char *wanted_text, const char *order)
{
    ImdSeries *series = imd_series_create(error, image->dtype, image->ndim, image->shape);
    if (series == NULL) {
        return NULL;
    }
    if (image->data != NULL) {
        memcpy(imd_series_data(series), image->data, image->nbytes);
    }
    size_t slices = image->ndim >= 3 ? image->shape[image->ndim - 3] : 1;
    bool several = image->ndim > 4 || image->tag_keys > 0;
    size_t tags = image->ndim == 4 && !several ? image->shape[0] : 0;
    ImdVec3 *positions = imd__calloc(error, slices, sizeof *positions);
    bool ok = positions != NULL;
    for (size_t s = 0; ok && s < slices; s++) {
        positions[s] = along(image->origin, image->axis[2], (double)s * image->spacing[2]);
    }
    ok = ok && finish_series(error, series, image, positions, slices, image->spacing[2], tags,
                             image->spacing[3], order);
    ok = ok && (!several || finish_tags(error, series, image, slices, wanted, wanted_text));
    free(positions);
    if (!ok) {
        imd_series_destroy(series);
        return NULL;
    }
    return series;
}

static bool stackable(const Image *images, size_t count)
{
    if (count < 2 || images[0].ndim > 3) {
        return false;
    }
    for (size_t i = 1; i < count; i++) {
        if (images[i].ndim != images[0].ndim || images[i].dtype != images[0].dtype ||
            memcmp(images[i].shape, images[0].shape, sizeof images[0].shape) != 0) {
            return false;
        }
    }
    return true;
}

/*
 * Files stacked on a new axis 0 (behaviour.md §2): 2D files become the
 * slices of a volume, 3D files the tags of a 4D series; with input_sort=tag,
 * 3D files go to [:, i] (file i is slice i, its first axis the tags).
 */
static ImdSeries *stacked_series(ImdError **error, const Image *images, size_t count,
                                 bool by_tag, const char *order)
{
    const Image *first = &images[0];
    size_t shape[4], ndim = first->ndim + 1;
    by_tag = by_tag && first->ndim == 3;
    if (by_tag) {
        shape[0] = first->shape[0];
        shape[1] = count;
        shape[2] = first->shape[1];
        shape[3] = first->shape[2];
    } else {
        shape[0] = count;
        memcpy(shape + 1, first->shape, first->ndim * sizeof shape[0]);
    }
    ImdSeries *series = imd_series_create(error, first->dtype, ndim, shape);
    if (series == NULL) {
        return NULL;
    }
    uint8_t *out = imd_series_data(series);
    size_t block = first->nbytes;
    if (first->data == NULL) {
        /* headers only: the array stays zero */
    } else if (by_tag) {
        size_t plane = block / first->shape[0];
        for (size_t i = 0; i < count; i++) {
            for (size_t t = 0; t < first->shape[0]; t++) {
                memcpy(out + (t * count + i) * plane, images[i].data + t * plane, plane);
            }
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            memcpy(out + i * block, images[i].data, block);
        }
    }
    size_t slices = first->ndim == 2 || by_tag ? count : first->shape[0];
    ImdVec3 *positions = imd__calloc(error, slices, sizeof *positions);
    bool ok = positions != NULL;
    double ds = first->spacing[2];
    for (size_t s = 0; ok && s < slices; s++) {
        positions[s] = first->ndim == 2 || by_tag
                           ? images[s].origin
                           : along(first->origin, first->axis[2], (double)s * ds);
    }
    if (ok && first->ndim == 2 && count > 1) {
        ImdVec3 d = {positions[1].x - positions[0].x, positions[1].y - positions[0].y,
                     positions[1].z - positions[0].z};
        double distance = sqrt(dot(d, d));
        ds = distance > 1e-6 ? distance : ds;
    }
    size_t tags = first->ndim == 3 ? shape[0] : 0;
    ok = ok && finish_series(error, series, first, positions, slices, ds, tags, 1, order);
    free(positions);
    if (!ok) {
        imd_series_destroy(series);
        return NULL;
    }
    return series;
}

static ImdSeriesList *metaio_reader_finish(ImdError **error, void *state)
{
    Reader *reader = state;
    Image *images = imd__calloc(error, reader->count > 0 ? reader->count : 1, sizeof *images);
    ImdSeriesList *list = images != NULL ? imd_series_list_create(error) : NULL;
    bool ok = list != NULL;
    size_t count = 0;
    for (size_t i = 0; ok && i < reader->count; i++) {
        ok = decode_image(error, &reader->members[i], reader->headers_only, &images[count]);
        if (!ok) {
            imd_error_prefix(error, "%s: ", reader->members[i].file.name);
            break;
        }
        imd_context_log(reader->context, IMD_LOG_INFO, "MetaIO: %s: %zu dimensions, %s",
                        reader->members[i].file.name, images[count].ndim,
                        imd_dtype_name(images[count].dtype));
        count++;
    }
    if (ok && count == 0) {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "no MetaIO image read");
        ok = false;
    }
    const char *order = tag_order(reader);
    if (ok && stackable(images, count)) {
        ImdSeries *series = stacked_series(error, images, count, reader->by_tag, order);
        ok = series != NULL && imd_series_list_add(error, list, series);
        if (!ok) {
            imd_series_destroy(series);
        }
    } else {
        if (ok && count > 1) {
            imd_context_log(reader->context, IMD_LOG_INFO,
                            "MetaIO: %zu files of different shapes: one series each", count);
        }
        for (size_t i = 0; ok && i < count; i++) {
            ImdSeries *series = single_series(error, &images[i], &reader->order,
                                              reader->order_text, order);
            ok = series != NULL && imd_series_list_add(error, list, series);
            if (!ok) {
                imd_series_destroy(series);
            }
        }
    }
    for (size_t i = 0; images != NULL && i < count; i++) {
        image_free(&images[i]);
    }
    free(images);
    if (!ok) {
        imd_series_list_destroy(list);
        return NULL;
    }
    return list;
}

/* ---- writing ---- */

typedef struct Volume {
    const char *element;   /* MET_ type */
    size_t channels;
    size_t ndims;          /* 3, or 3 + the tag axes (one file for two or more) */
    size_t dims[META_MAX_DIMS];    /* x, y, z, then the tag axes fastest first */
    double spacing[META_MAX_DIMS]; /* likewise */
    double tag_start[META_MAX_DIMS]; /* Offset of the tag dimensions (from index 3) */
    ImdVec3 origin, row, column, slice;
    const char *keys;      /* our own header lines (KEY_ORDER, KEY_TAG_AXIS), or NULL */
    uint8_t *data;         /* converted voxels */
    size_t nbytes;
} Volume;

/* The written element type of a series type; NULL when it cannot be written. */
static const char *written_type(ImdDType dtype, ImdDType *as)
{
    switch (dtype) {
    case IMD_DTYPE_BOOL:
    case IMD_DTYPE_UINT8:
        *as = IMD_DTYPE_UINT8;
        return "MET_UCHAR";
    case IMD_DTYPE_RGB8:
        *as = IMD_DTYPE_RGB8;
        return "MET_UCHAR";
    case IMD_DTYPE_INT8:
        *as = dtype;
        return "MET_CHAR";
    case IMD_DTYPE_UINT16:
        *as = dtype;
        return "MET_USHORT";
    case IMD_DTYPE_INT16:
        *as = dtype;
        return "MET_SHORT";
    case IMD_DTYPE_UINT32:
        *as = dtype;
        return "MET_UINT";
    case IMD_DTYPE_UINT64:
        *as = dtype;
        return "MET_ULONG_LONG";
    case IMD_DTYPE_INT64:
        *as = dtype;
        return "MET_LONG_LONG";
    case IMD_DTYPE_INT32:
    case IMD_DTYPE_FLOAT32:
    case IMD_DTYPE_FLOAT64:
    case IMD_DTYPE_COMPLEX64:
    case IMD_DTYPE_COMPLEX128:
        *as = IMD_DTYPE_FLOAT32;
        return "MET_FLOAT";
    }
    return NULL;
}

/* Convert `count` elements at `in` (type `dtype`) into the written type at `out`. */
static void convert_elements(ImdDType dtype, const uint8_t *in, size_t count, uint8_t *out)
{
    size_t size = imd_dtype_size(dtype);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = in + i * size;
        float f;
        switch (dtype) {
        case IMD_DTYPE_BOOL:
            out[i] = p[0] != 0;
            continue;
        case IMD_DTYPE_INT32: {
            int32_t v;
            memcpy(&v, p, 4);
            f = (float)v;
            break;
        }
        case IMD_DTYPE_FLOAT32:
            memcpy(&f, p, 4);
            break;
        case IMD_DTYPE_FLOAT64: {
            double v;
            memcpy(&v, p, 8);
            f = (float)v;
            break;
        }
        case IMD_DTYPE_COMPLEX64: {
            float re, im;
            memcpy(&re, p, 4);
            memcpy(&im, p + 4, 4);
            f = (float)hypot(re, im);
            break;
        }
        case IMD_DTYPE_COMPLEX128: {
            double re, im;
            memcpy(&re, p, 8);
            memcpy(&im, p + 8, 8);
            f = (float)hypot(re, im);
            break;
        }
        default:
            memcpy(out + i * size, p, size);
            continue;
        }
        if (isnan(f)) {
            f = 0;
        }
        memcpy(out + i * 4, &f, 4);
    }
}

static void put_numbers(ImdText *text, const char *key, const double *values, size_t count)
{
    imd__text_printf(text, "%s =", key);
    for (size_t i = 0; i < count; i++) {
        double v = values[i] == 0 ? 0 : values[i]; /* no "-0" */
        imd__text_printf(text, " %.17g", v);
    }
    imd__text_puts(text, "\n");
}

static char *header_text(ImdError **error, const Volume *v, bool compressed, size_t compressed_size,
                         const char *data_file)
{
    ImdText text = {0};
    size_t n = v->ndims;
    imd__text_printf(&text, "ObjectType = Image\nNDims = %zu\nBinaryData = True\n"
                            "BinaryDataByteOrderMSB = False\n", n);
    imd__text_printf(&text, "CompressedData = %s\n", compressed ? "True" : "False");
    if (compressed) {
        imd__text_printf(&text, "CompressedDataSize = %zu\n", compressed_size);
    }
    /* Row k of the matrix is the direction of index axis k (n x n): the
     * spatial ones in patient space, the tag axes their own unit vectors. */
    double matrix[META_MAX_DIMS * META_MAX_DIMS] = {0};
    const ImdVec3 spatial[3] = {v->row, v->column, v->slice};
    for (size_t k = 0; k < n; k++) {
        if (k < 3) {
            matrix[k * n + 0] = spatial[k].x;
            matrix[k * n + 1] = spatial[k].y;
            matrix[k * n + 2] = spatial[k].z;
        } else {
            matrix[k * n + k] = 1;
        }
    }
    double offset[META_MAX_DIMS] = {v->origin.x, v->origin.y, v->origin.z};
    double zero[META_MAX_DIMS] = {0};
    for (size_t k = 3; k < n; k++) {
        offset[k] = v->tag_start[k];
    }
    put_numbers(&text, "TransformMatrix", matrix, n * n);
    put_numbers(&text, "Offset", offset, n);
    put_numbers(&text, "CenterOfRotation", zero, n);
    put_numbers(&text, "ElementSpacing", v->spacing, n);
    imd__text_puts(&text, "DimSize =");
    for (size_t k = 0; k < n; k++) {
        imd__text_printf(&text, " %zu", v->dims[k]);
    }
    imd__text_puts(&text, "\n");
    if (v->channels > 1) {
        imd__text_printf(&text, "ElementNumberOfChannels = %zu\n", v->channels);
    }
    if (v->keys != NULL) {
        imd__text_puts(&text, v->keys);
    }
    imd__text_printf(&text, "ElementType = %s\nElementDataFile = %s\n", v->element, data_file);
    return imd__text_finish(error, &text);
}

typedef struct Pending {
    ImdStream **streams;
    size_t count, capacity;
} Pending;

static ImdStream *open_output(ImdError **error, ImdArchive *archive, const char *name,
                              Pending *pending)
{
    if (!imd__grow(error, (void **)&pending->streams, &pending->capacity, pending->count + 1,
                   sizeof(ImdStream *))) {
        return NULL;
    }
    ImdStream *stream = imd_archive_open_member(error, archive, name, IMD_MODE_WRITE);
    if (stream != NULL) {
        pending->streams[pending->count++] = stream;
    }
    return stream;
}

/* Write one volume as `name` (.mha, or .mhd with a .raw/.zraw beside it). */
static bool write_volume(ImdError **error, ImdArchive *archive, const char *name,
                         const Volume *v, bool compress, Pending *pending)
{
    const uint8_t *payload = v->data;
    size_t payload_size = v->nbytes;
    uint8_t *packed = NULL;
    bool ok = true;
    if (compress) {
        uLong bound = compressBound((uLong)v->nbytes);
        if ((size_t)(uLong)v->nbytes != v->nbytes || bound < v->nbytes) {
            imd_error_set(error, IMD_ERR_LIMIT, "%s: %zu bytes too large to compress", name,
                          v->nbytes);
            return false;
        }
        packed = imd__malloc(error, bound);
        uLongf length = bound;
        ok = packed != NULL;
        if (ok && compress2(packed, &length, v->data, (uLong)v->nbytes, 6) != Z_OK) {
            imd_error_set(error, IMD_ERR_INTERNAL, "%s: zlib compression failed", name);
            ok = false;
        }
        payload = packed;
        payload_size = length;
    }
    char *data_name = NULL, *header = NULL;
    bool separate = imd__has_suffix(name, ".mhd");
    if (ok && separate) {
        size_t stem = strlen(name) - 4;
        data_name = imd__sprintf(error, "%.*s%s", (int)stem, name, compress ? ".zraw" : ".raw");
        ok = data_name != NULL;
    }
    if (ok) {
        const char *base = "LOCAL";
        if (data_name != NULL) {
            base = strrchr(data_name, '/') != NULL ? strrchr(data_name, '/') + 1 : data_name;
        }
        header = header_text(error, v, compress, payload_size, base);
        ok = header != NULL;
    }
    ImdStream *stream = ok ? open_output(error, archive, name, pending) : NULL;
    ok = stream != NULL && imd_stream_write(error, stream, header, strlen(header));
    if (ok && data_name != NULL) {
        stream = open_output(error, archive, data_name, pending);
        ok = stream != NULL;
    }
    ok = ok && imd_stream_write(error, stream, payload, payload_size);
    free(packed);
    free(header);
    free(data_name);
    return ok;
}

/* Member name of file `index` of `count` (behaviour.md §7.3). */
static char *output_name(ImdError **error, const char *name, size_t index, size_t count)
{
    size_t length = name != NULL ? strlen(name) : 0;
    bool suffixed = length > 0 && (imd__has_suffix(name, ".mha") || imd__has_suffix(name, ".mhd"));
    if (length == 0 || name[length - 1] == '/') {
        const char *prefix = length > 0 ? name : "";
        return count > 1 ? imd__sprintf(error, "%sImage_%05zu.mha", prefix, index)
                         : imd__sprintf(error, "%sImage.mha", prefix);
    }
    if (imd__name_has_number(name)) {
        char *formatted = imd__format_numbered_name(error, name, index);
        if (formatted == NULL || suffixed) {
            return formatted;
        }
        char *full = imd__sprintf(error, "%s.mha", formatted);
        free(formatted);
        return full;
    }
    if (count == 1) {
        return suffixed ? imd__strdup(error, name) : imd__sprintf(error, "%s.mha", name);
    }
    if (suffixed) {
        /* The original overwrote one file per volume: number them instead. */
        return imd__sprintf(error, "%.*s_%05zu%s", (int)(length - 4), name, index,
                            name + length - 4);
    }
    return imd__sprintf(error, "%s/Image_%05zu.mha", name, index);
}

/* A name that stays one token of a header line. */
static bool plain_token(const char *text)
{
    if (text == NULL || text[0] == '\0') {
        return false;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '=' || (unsigned char)*p <= ' ' || (unsigned char)*p >= 127) {
            return false;
        }
    }
    return true;
}

/*
 * Our keys for the tag axes of a series written as one file: KEY_ORDER = the
 * input order, and KEY_TAG_AXIS<k> = name value... per tag axis k (slowest
 * first), the values in the shortest text that reads back exactly; an axis
 * whose values are not numbers, or too many for a header line, gets its name
 * only (read back as 0, 1, ...). "" when a name cannot be written.
 */
static char *tag_keys(ImdError **error, const ImdSeries *series, size_t tag_ndim)
{
    ImdText text = {0};
    const char *order = imd_header_input_order(imd_series_const_header(series));
    if (!plain_token(order)) {
        return imd__strdup(error, "");
    }
    imd__text_printf(&text, "%s = %s\n", KEY_ORDER, order);
    for (size_t d = 0; d < tag_ndim; d++) {
        const ImdAxis *axis = imd_series_axis(series, d);
        const char *name = imd_axis_name(axis);
        if (!plain_token(name)) {
            imd__text_free(&text);
            return imd__strdup(error, "");
        }
        ImdText line = {0};
        imd__text_printf(&line, "%s%zu = %s", KEY_TAG_AXIS, d, name);
        size_t named = line.length;
        bool numbers = imd_axis_value_kind(axis) == IMD_VALUE_NUMBER;
        for (size_t i = 0; numbers && i < imd_series_dim(series, d); i++) {
            double x = imd_axis_number(axis, i);
            numbers = isfinite(x);
            imd__text_puts(&line, " ");
            imd__json_number(&line, x == 0 ? 0 : x); /* no "-0" */
        }
        if (!numbers || line.length + 1 >= LINE_LIMIT) {
            line.length = named; /* the name only */
        }
        imd__text_append(&text, line.data != NULL ? line.data : "", line.length);
        imd__text_puts(&text, "\n");
        imd__text_free(&line);
    }
    return imd__text_finish(error, &text);
}

static bool metaio_write(ImdError **error, const ImdSeries *series, ImdArchive *destination,
                         const char *name, const ImdOptions *options)
{
    if (series == NULL || destination == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "MetaIO write: no series or destination");
        return false;
    }
    bool compress = false;
    if (!imd_options_get_bool(error, options, "compress", false, &compress)) {
        return false;
    }
    size_t sort = 0;
    if (!imd_options_get_choice(error, options, "output_sort", sort_choices, 0, &sort)) {
        return false;
    }
    bool by_slice = sort == 1; /* output_sort=tag: one file per slice, the tags inside */
    ImdDType dtype = imd_series_dtype(series), as = dtype;
    const char *element = written_type(dtype, &as);
    size_t ndim = imd_series_ndim(series), tag_ndim = imd_series_tag_ndim(series);
    if (element == NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "MetaIO cannot write %s",
                      imd_dtype_name(dtype) != NULL ? imd_dtype_name(dtype) : "this type");
        return false;
    }
    /* Two or more tag axes: one file of 3 + tag_ndim dimensions (MetaIO holds
     * up to 10), the tags' names and values in our keys. Otherwise 3D files,
     * one per tag of a 4D series (as the original). */
    bool several = tag_ndim >= 2;
    if (ndim < 2 || (!several && ndim > 4) || 3 + tag_ndim > META_MAX_DIMS) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "MetaIO cannot write a series of %zu "
                      "dimensions with %zu tag dimensions", ndim, tag_ndim);
        return false;
    }
    size_t rows = imd_series_dim(series, ndim - 2), columns = imd_series_dim(series, ndim - 1);
    size_t slices = ndim >= 3 && ndim - tag_ndim >= 3 ? imd_series_dim(series, ndim - 3) : 1;
    size_t tags = ndim == 4 && !several ? imd_series_dim(series, 0) : 1;
    const ImdHeader *header = imd_series_const_header(series);
    double spacing[3];
    imd_series_spacing(series, spacing);
    ImdVec3 row, column;
    imd_header_orientation(header, &row, &column);
    bool unit_ok = true;
    row = unit_or(row, (ImdVec3){1, 0, 0}, &unit_ok);
    column = unit_or(column, (ImdVec3){0, 1, 0}, &unit_ok);
    ImdVec3 normal = imd_header_normal(header), first = {0, 0, 0}, last = {0, 0, 0};
    bool have_first = imd_header_image_position(header, 0, &first);
    ImdVec3 slice_dir = normal;
    if (have_first && slices > 1 && imd_header_image_position(header, slices - 1, &last)) {
        ImdVec3 d = {last.x - first.x, last.y - first.y, last.z - first.z};
        bool ok_dir = true;
        slice_dir = unit_or(d, normal, &ok_dir);
    }
    slice_dir = unit_or(slice_dir, (ImdVec3){0, 0, 1}, &unit_ok);
    size_t plane = rows * columns, in_size = imd_dtype_size(dtype), out_size = imd_dtype_size(as);
    by_slice = by_slice && !several; /* output_sort is for 4D only */
    size_t files = by_slice && ndim == 4 ? slices : tags;
    size_t depth = by_slice && ndim == 4 ? tags : slices;
    Volume v;
    memset(&v, 0, sizeof v);
    v.element = element;
    v.channels = as == IMD_DTYPE_RGB8 ? 3 : 1;
    v.dims[0] = columns;
    v.dims[1] = rows;
    v.dims[2] = depth;
    v.spacing[0] = spacing[2];
    v.spacing[1] = spacing[1];
    v.spacing[2] = spacing[0];
    v.row = row;
    v.column = column;
    v.slice = slice_dir;
    v.ndims = 3;
    char *keys = NULL;
    size_t cells = 1;
    if (several) {
        /* MetaIO dimension 3 + j is series tag axis tag_ndim - 1 - j (fastest first). */
        v.ndims = 3 + tag_ndim;
        for (size_t d = 0; d < tag_ndim; d++) {
            const ImdAxis *axis = imd_series_axis(series, d);
            size_t at = 3 + (tag_ndim - 1 - d);
            double step = 1, start = imd_axis_start(axis);
            v.dims[at] = imd_series_dim(series, d);
            v.spacing[at] = imd_axis_step(axis, &step) && step > 0 && isfinite(step) ? step : 1;
            v.tag_start[at] = isfinite(start) ? start : 0;
            cells *= v.dims[at];
        }
        keys = tag_keys(error, series, tag_ndim);
        if (keys == NULL) {
            return false;
        }
        v.keys = keys;
    }
    bool ok = imd__mul_size(plane, depth, &v.nbytes) &&
              imd__mul_size(v.nbytes, cells, &v.nbytes) &&
              imd__mul_size(v.nbytes, out_size, &v.nbytes);
    if (!ok) {
        imd_error_set(error, IMD_ERR_LIMIT, "MetaIO: volume too large");
        free(keys);
        return false;
    }
    v.data = imd__malloc(error, v.nbytes > 0 ? v.nbytes : 1);
    ok = v.data != NULL;
    Pending pending = {NULL, 0, 0};
    const uint8_t *data = imd_series_const_data(series);
    for (size_t f = 0; ok && f < files; f++) {
        if (several) {
            convert_elements(dtype, data, plane * depth * cells, v.data);
        }
        for (size_t k = 0; !several && k < depth; k++) {
            size_t t = by_slice && ndim == 4 ? k : f, s = by_slice && ndim == 4 ? f : k;
            size_t at = (t * slices + s) * plane;
            convert_elements(dtype, data + at * in_size, plane, v.data + k * plane * out_size);
        }
        size_t s0 = by_slice && ndim == 4 ? f : 0;
        v.origin = first;
        if (have_first) {
            (void)imd_header_image_position(header, s0, &v.origin);
        }
        if (by_slice && ndim == 4) {
            v.spacing[2] = spacing[0];
        }
        char *member = output_name(error, name, f, files);
        ok = member != NULL && write_volume(error, destination, member, &v, compress, &pending);
        if (!ok && member != NULL) {
            imd_error_prefix(error, "%s: ", member);
        }
        free(member);
    }
    size_t i = 0;
    for (; ok && i < pending.count; i++) {
        ok = imd_stream_close(error, pending.streams[i]);
    }
    for (; i < pending.count; i++) {
        imd_stream_abort(pending.streams[i]);
    }
    free(pending.streams);
    free(v.data);
    free(keys);
    return ok;
}

static const char *const metaio_suffixes[] = {".mha", ".mhd", NULL};

/* docs/metaio-mat.md. */
static const ImdOptionSpec metaio_options[] = {
    {"input_order", IMD_OPTION_ORDER, "the name of the tag axis (auto: none)", NULL},
    {"input_sort", IMD_OPTION_CHOICE, "2D files are the slices (slice) or the tags (tag)",
     sort_choices},
    {"output_sort", IMD_OPTION_CHOICE, "4D output as one file per tag (slice) or per slice (tag)",
     sort_choices},
    {"compress", IMD_OPTION_BOOL, "zlib-compressed data (CompressedData = True)", NULL},
    {"headers_only", IMD_OPTION_BOOL, "read the header, leave the voxels zero", NULL},
    {NULL, 0, NULL, NULL},
};

const ImdFormatPlugin imd__metaio_format = {
    .abi_version = IMD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ImdFormatPlugin),
    .name = "itk",
    .description = "ITK MetaIO (.mha, .mhd with .raw/.zraw)",
    .suffixes = metaio_suffixes,
    .flags = IMD_FORMAT_READ | IMD_FORMAT_WRITE,
    .probe = metaio_probe,
    .reader_create = metaio_reader_create,
    .reader_add = metaio_reader_add,
    .reader_finish = metaio_reader_finish,
    .reader_destroy = metaio_reader_destroy,
    .write = metaio_write,
    .options = metaio_options,
};
