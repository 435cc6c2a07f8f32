/*
 * fuzz_metaio_read: bytes -> the MetaIO plugin's reader (header parser, and
 * the voxels from the same bytes when ElementDataFile is LOCAL; data files
 * cannot be opened: there is no archive). Checks beyond "no crash": the
 * result/error invariant; a read gives exactly one series of 2 to
 * IMD_MAX_DIMS dimensions (MetaIO's NDims up to 10; 5 and up when the
 * header has two or more tag dimensions) of at least 1, with at most
 * IMD_MAX_TAG_DIMS tag dimensions, of a valid type, whose voxel count and byte
 * size agree with its shape; its orientation is unit and its image
 * positions finite.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_series(const ImdSeries *series)
{
    size_t ndim = imd_series_ndim(series), count = 1;
    if (ndim < 2 || ndim > IMD_MAX_DIMS || imd_series_tag_ndim(series) > IMD_MAX_TAG_DIMS ||
        !imd_dtype_is_valid(imd_series_dtype(series))) {
        abort();
    }
    for (size_t d = 0; d < ndim; d++) {
        size_t n = imd_series_dim(series, d);
        if (n < 1 || !imd__mul_size(count, n, &count) || imd_series_axis(series, d) == NULL) {
            abort();
        }
    }
    size_t bytes = 0;
    if (count != imd_series_count(series) ||
        !imd__mul_size(count, imd_dtype_size(imd_series_dtype(series)), &bytes) ||
        bytes != imd_series_nbytes(series)) {
        abort();
    }
    const ImdHeader *header = imd_series_const_header(series);
    ImdVec3 row, column, position;
    imd_header_orientation(header, &row, &column);
    double r = row.x * row.x + row.y * row.y + row.z * row.z;
    double c = column.x * column.x + column.y * column.y + column.z * column.z;
    if (!(fabs(r - 1) < 1e-6 && fabs(c - 1) < 1e-6)) {
        abort();
    }
    for (size_t s = 0; s < imd_series_slices(series); s++) {
        if (!imd_header_image_position(header, s, &position) || !isfinite(position.x) ||
            !isfinite(position.y) || !isfinite(position.z)) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ImdFormatPlugin *plugin = &imd__metaio_format;
    ImdError *error = NULL;
    (void)plugin->probe(data, size, "fuzz.mha");
    void *reader = plugin->reader_create(&error, NULL, NULL);
    ImdStream *stream = reader != NULL
                            ? imd_stream_open_memory(&error, data, size, "fuzz.mha", NULL, NULL)
                            : NULL;
    ImdSeriesList *list = NULL;
    bool added = stream != NULL && plugin->reader_add(&error, reader, NULL, "fuzz.mha", stream);
    if (stream != NULL && !added && error == NULL) {
        abort(); /* failed without saying why */
    }
    if (added) {
        list = plugin->reader_finish(&error, reader);
        if ((list == NULL) != (error != NULL)) {
            abort(); /* result xor error */
        }
        if (list != NULL) {
            if (imd_series_list_count(list) != 1) {
                abort(); /* one member, one series */
            }
            check_series(imd_series_list_get(list, 0));
        }
    }
    imd_series_list_destroy(list);
    imd_stream_close(NULL, stream);
    plugin->reader_destroy(reader);
    imd_error_clear(&error);
    return 0;
}
