/*
 * fuzz_mat_read: bytes -> the MAT plugin's reader (through matio: the bytes
 * go to a private temporary file). Checks beyond "no crash": the result/
 * error invariant; a read gives one series whose byte size matches its
 * shape and is no larger than the input can back (deflate's 1032:1 bound).
 */
#include "internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ImdFormatPlugin *plugin = &imd__mat_format;
    ImdError *error = NULL;
    (void)plugin->probe(data, size, "fuzz.mat");
    void *reader = plugin->reader_create(&error, NULL, NULL);
    ImdStream *stream = reader != NULL
                            ? imd_stream_open_memory(&error, data, size, "fuzz.mat", NULL, NULL)
                            : NULL;
    ImdSeriesList *list = NULL;
    bool added = stream != NULL && plugin->reader_add(&error, reader, NULL, "fuzz.mat", stream);
    if (stream != NULL && !added && error == NULL) {
        abort();
    }
    if (added) {
        list = plugin->reader_finish(&error, reader);
        if ((list == NULL) != (error != NULL)) {
            abort(); /* result xor error */
        }
        for (size_t i = 0; list != NULL && i < imd_series_list_count(list); i++) {
            const ImdSeries *series = imd_series_list_get(list, i);
            size_t count = 1;
            for (size_t d = 0; d < imd_series_ndim(series); d++) {
                count *= imd_series_dim(series, d);
            }
            size_t bytes = count * imd_dtype_size(imd_series_dtype(series));
            if (bytes != imd_series_nbytes(series) || bytes > size * IMD__DEFLATE_MAX_RATIO) {
                abort();
            }
        }
    }
    imd_series_list_destroy(list);
    imd_stream_close(NULL, stream);
    plugin->reader_destroy(reader);
    imd_error_clear(&error);
    return 0;
}
