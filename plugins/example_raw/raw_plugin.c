/*
 * raw_plugin.c: an external format plugin, loaded at run time
 * (image_info --plugin imd_example_raw.so). It is the example for plugin
 * authors and the test of the plugin ABI, so it uses only the public API.
 *
 * The format, "IMDRAW", is a text header followed by the voxels in C order
 * and little-endian byte order:
 *
 *     IMDRAW 1
 *     dtype uint16            any imagedata type name
 *     shape 3 4 5             [tag..., slice, row, column]
 *     order time              optional input order (names the tag axes)
 *     spacing 3 2 2           optional (ds, dr, dc) in mm
 *     origin -10 20 30        optional position of the first voxel (x, y, z)
 *     values 0 2.5 5          optional values of the first axis
 *     data
 *     <bytes>
 */
#include <imagedata/imagedata.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RAW_PLUGIN_FAKE_ABI
#define RAW_ABI RAW_PLUGIN_FAKE_ABI /* a build that must be refused */
#else
#define RAW_ABI IMD_PLUGIN_ABI_VERSION
#endif

#define MAGIC "IMDRAW 1\n"
#define MAX_FILE ((size_t)1 << 32)

typedef struct RawHeader {
    ImdDType dtype;
    size_t ndim, shape[IMD_MAX_DIMS];
    char order[64];
    double spacing[3], origin[3];
    bool has_spacing, has_origin;
    double values[256];
    size_t value_count;
    size_t data_offset;
} RawHeader;

typedef struct RawReader {
    ImdSeriesList *list;
} RawReader;

static int raw_probe(const uint8_t *head, size_t length, const char *name)
{
    (void)name;
    return length >= strlen(MAGIC) && memcmp(head, MAGIC, strlen(MAGIC)) == 0 ? 100 : 0;
}

static void *raw_reader_create(ImdError **error, const ImdOptions *options,
                               const ImdContext *context)
{
    (void)options;
    (void)context;
    RawReader *reader = calloc(1, sizeof *reader);
    if (reader == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "imdraw: out of memory");
        return NULL;
    }
    reader->list = imd_series_list_create(error);
    if (reader->list == NULL) {
        free(reader);
        return NULL;
    }
    return reader;
}

/* Parse up to `max` numbers from text; returns how many. */
static size_t parse_numbers(const char *text, double *out, size_t max)
{
    size_t count = 0;
    char *end;
    while (count < max) {
        errno = 0;
        double value = strtod(text, &end);
        if (end == text || errno != 0) {
            break;
        }
        out[count++] = value;
        text = end;
    }
    return count;
}

static bool parse_line(ImdError **error, RawHeader *h, const char *name, char *line)
{
    char *value = strchr(line, ' ');
    double numbers[IMD_MAX_DIMS];
    if (value == NULL) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: header line \"%s\" has no value", name, line);
        return false;
    }
    *value++ = '\0';
    if (strcmp(line, "dtype") == 0) {
        if (!imd_dtype_from_name(value, &h->dtype)) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: unknown dtype \"%s\"", name, value);
            return false;
        }
    } else if (strcmp(line, "shape") == 0) {
        h->ndim = parse_numbers(value, numbers, IMD_MAX_DIMS);
        for (size_t i = 0; i < h->ndim; i++) {
            if (!(numbers[i] >= 1 && numbers[i] <= 1e9)) {
                imd_error_set(error, IMD_ERR_CORRUPT, "%s: bad shape \"%s\"", name, value);
                return false;
            }
            h->shape[i] = (size_t)numbers[i];
        }
    } else if (strcmp(line, "order") == 0) {
        snprintf(h->order, sizeof h->order, "%s", value);
    } else if (strcmp(line, "spacing") == 0) {
        h->has_spacing = parse_numbers(value, h->spacing, 3) == 3;
    } else if (strcmp(line, "origin") == 0) {
        h->has_origin = parse_numbers(value, h->origin, 3) == 3;
    } else if (strcmp(line, "values") == 0) {
        h->value_count = parse_numbers(value, h->values, 256);
    }
    return true; /* unknown keys are for later versions */
}

static bool parse_header(ImdError **error, RawHeader *h, const char *name, const uint8_t *data,
                         size_t size)
{
    memset(h, 0, sizeof *h);
    size_t at = strlen(MAGIC);
    while (at < size) {
        const uint8_t *newline = memchr(data + at, '\n', size - at);
        size_t length = newline != NULL ? (size_t)(newline - (data + at)) : 0;
        if (newline == NULL || length > 4000) {
            break;
        }
        char line[4001];
        memcpy(line, data + at, length);
        line[length] = '\0';
        at += length + 1;
        if (strcmp(line, "data") == 0) {
            h->data_offset = at;
            break;
        }
        if (!parse_line(error, h, name, line)) {
            return false;
        }
    }
    if (h->data_offset == 0 || h->dtype == 0 || h->ndim == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: header lacks dtype, shape or data", name);
        return false;
    }
    return true;
}

static bool set_geometry(ImdError **error, ImdSeries *series, const RawHeader *h)
{
    ImdHeader *header = imd_series_header(series);
    if (h->order[0] != '\0' && !imd_series_set_input_order(error, series, h->order)) {
        return false;
    }
    if (h->has_spacing && !imd_series_set_spacing(error, series, h->spacing)) {
        return false;
    }
    if (h->value_count == h->shape[0] && h->ndim > 3) {
        ImdAxis *axis = imd_axis_create_numbers(
            error, imd_axis_name(imd_series_axis(series, 0)), h->values, h->value_count);
        if (axis == NULL || !imd_series_set_axis(error, series, 0, axis)) {
            imd_axis_destroy(axis);
            return false;
        }
    }
    if (!h->has_origin) {
        return true;
    }
    size_t slices = imd_series_slices(series);
    double ds = h->has_spacing ? h->spacing[0] : 1;
    ImdVec3 *positions = calloc(slices, sizeof *positions);
    if (positions == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "imdraw: out of memory");
        return false;
    }
    for (size_t s = 0; s < slices; s++) {
        positions[s] = (ImdVec3){h->origin[0], h->origin[1], h->origin[2] + (double)s * ds};
    }
    bool ok = imd_header_set_image_positions(error, header, positions, slices);
    free(positions);
    imd_header_set_geometry_defined(header, true);
    return ok;
}

static bool raw_reader_add(ImdError **error, void *state, ImdArchive *archive,
                           const char *name, ImdStream *member)
{
    (void)archive;
    RawReader *reader = state;
    size_t size;
    uint8_t *data = imd_stream_read_all(error, member, MAX_FILE, &size);
    RawHeader h;
    if (data == NULL) {
        return false;
    }
    if (!raw_probe(data, size, name)) {
        imd_free(data);
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "%s: not an IMDRAW file", name);
        return false;
    }
    ImdSeries *series = NULL;
    if (parse_header(error, &h, name, data, size)) {
        series = imd_series_create(error, h.dtype, h.ndim, h.shape);
    }
    if (series != NULL && imd_series_nbytes(series) != size - h.data_offset) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: %zu bytes of data, %zu expected", name,
                      size - h.data_offset, imd_series_nbytes(series));
    } else if (series != NULL) {
        memcpy(imd_series_data(series), data + h.data_offset, imd_series_nbytes(series));
        if (set_geometry(error, series, &h) && imd_series_list_add(error, reader->list, series)) {
            imd_free(data);
            return true;
        }
    }
    imd_series_destroy(series);
    imd_free(data);
    return false;
}

static ImdSeriesList *raw_reader_finish(ImdError **error, void *state)
{
    (void)error;
    RawReader *reader = state;
    ImdSeriesList *list = reader->list;
    reader->list = NULL;
    return list;
}

static void raw_reader_destroy(void *state)
{
    RawReader *reader = state;
    if (reader != NULL) {
        imd_series_list_destroy(reader->list);
        free(reader);
    }
}

static bool raw_write(ImdError **error, const ImdSeries *series, ImdArchive *destination,
                      const char *name, const ImdOptions *options)
{
    (void)options;
    char member[1024], header[4096];
    size_t length = strlen(name);
    snprintf(member, sizeof member, "%s%s", length > 0 ? name : "Image",
             length > 7 && strcmp(name + length - 7, ".imdraw") == 0 ? "" : ".imdraw");
    int used = snprintf(header, sizeof header, MAGIC "dtype %s\nshape",
                        imd_dtype_name(imd_series_dtype(series)));
    for (size_t d = 0; d < imd_series_ndim(series); d++) {
        used += snprintf(header + used, sizeof header - (size_t)used, " %zu",
                         imd_series_dim(series, d));
    }
    double sp[3];
    imd_series_spacing(series, sp);
    used += snprintf(header + used, sizeof header - (size_t)used,
                     "\norder %s\nspacing %.17g %.17g %.17g\ndata\n",
                     imd_header_input_order(imd_series_const_header(series)), sp[0], sp[1],
                     sp[2]);
    ImdStream *stream = imd_archive_open_member(error, destination, member, IMD_MODE_WRITE);
    if (stream == NULL) {
        return false;
    }
    if (!imd_stream_write(error, stream, header, (size_t)used) ||
        !imd_stream_write(error, stream, imd_series_const_data(series),
                          imd_series_nbytes(series))) {
        imd_stream_abort(stream);
        return false;
    }
    return imd_stream_close(error, stream);
}

static const char *const raw_suffixes[] = {".imdraw", NULL};

static const ImdFormatPlugin raw_format = {
    .abi_version = RAW_ABI,
    .struct_size = sizeof(ImdFormatPlugin),
    .name = "imdraw",
    .description = "example raw format with a text header (plugins/example_raw)",
    .suffixes = raw_suffixes,
    .flags = IMD_FORMAT_READ | IMD_FORMAT_WRITE,
    .probe = raw_probe,
    .reader_create = raw_reader_create,
    .reader_add = raw_reader_add,
    .reader_finish = raw_reader_finish,
    .reader_destroy = raw_reader_destroy,
    .write = raw_write,
};

static const ImdPluginRecord raw_records[] = {{IMD_PLUGIN_FORMAT, &raw_format}};

static const ImdPluginManifest raw_manifest = {
    RAW_ABI, sizeof(ImdPluginManifest), "imd_example_raw", 1, raw_records,
};

IMD_API const ImdPluginManifest *imd_plugin_manifest_v2(void);

IMD_API const ImdPluginManifest *imd_plugin_manifest_v2(void)
{
    return &raw_manifest;
}
