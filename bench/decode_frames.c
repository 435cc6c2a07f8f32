/*
 * decode_frames: a benchmark tool (bench/decode.py). Decodes every frame of
 * the DICOM files named on the command line (or, with @LIST, in a file, one
 * path a line) with the codec of each file's transfer syntax, on ONE thread,
 * and prints {"files", "frames", "decode_seconds", "total_seconds"}:
 * decode_seconds is the time spent inside the codecs' decode calls only
 * (CLOCK_MONOTONIC), the single-thread codec time of the target.
 */
#define _POSIX_C_SOURCE 200809L
#include "dicom/codec.h"

#include <imagedata/dicom.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long attribute(const ImdDicomDataSet *d, uint16_t g, uint16_t e, long fallback)
{
    const ImdDicomElement *element = imd_dicom_dataset_find(d, IMD_TAG(g, e));
    int64_t value;
    ImdError *error = NULL;
    if (element == NULL || imd_dicom_element_vm(element) == 0 ||
        !imd_dicom_element_int(&error, element, 0, &value)) {
        imd_error_clear(&error);
        return fallback;
    }
    return (long)value;
}

static bool decode_file(ImdError **error, const char *path, size_t *frames, double *seconds)
{
    ImdDicomDataSet *d = imd_dicom_read_file(error, path, NULL);
    if (d == NULL) {
        return false;
    }
    const ImdCodec *codec = imd__codec_find(error, imd_dicom_dataset_transfer_syntax(d));
    const ImdDicomElement *pd = imd_dicom_dataset_find(d, IMD_TAG_PixelData);
    if (codec == NULL || pd == NULL || !imd_dicom_element_is_encapsulated(pd)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: no encapsulated pixel data", path);
        imd_dicom_dataset_destroy(d);
        return false;
    }
    ImdCodecFrame frame = {.rows = (uint32_t)attribute(d, 0x0028, 0x0010, 0),
                           .columns = (uint32_t)attribute(d, 0x0028, 0x0011, 0),
                           .samples_per_pixel = (uint16_t)attribute(d, 0x0028, 0x0002, 1),
                           .bits_allocated = (uint16_t)attribute(d, 0x0028, 0x0100, 16),
                           .bits_stored = (uint16_t)attribute(d, 0x0028, 0x0101, 16),
                           .pixel_representation = (uint16_t)attribute(d, 0x0028, 0x0103, 0)};
    snprintf(frame.photometric, sizeof frame.photometric, "%s",
             frame.samples_per_pixel == 3 ? "RGB" : "MONOCHROME2");
    size_t bytes;
    long count = attribute(d, 0x0028, 0x0008, 1);
    bool ok = imd__codec_frame_bytes(error, &frame, &bytes);
    uint8_t *out = ok ? imd__malloc(error, bytes) : NULL;
    ok = out != NULL;
    for (long f = 0; ok && f < count; f++) {
        size_t first, n, size;
        ok = imd_dicom_dataset_frame_fragments(error, d, (size_t)f, &first, &n, &size);
        uint8_t *joined = NULL;
        const uint8_t *data = NULL;
        if (ok && n == 1) {
            data = imd_dicom_element_fragment(pd, first, &size);
        } else if (ok) { /* a frame over several fragments: joined, outside the timing */
            joined = imd__malloc(error, size > 0 ? size : 1);
            ok = joined != NULL;
            size_t at = 0;
            for (size_t i = 0; ok && i < n; i++) {
                size_t part;
                const uint8_t *p = imd_dicom_element_fragment(pd, first + i, &part);
                memcpy(joined + at, p, part);
                at += part;
            }
            data = joined;
            size = at;
        }
        if (ok) {
            ImdCodecFrame copy = frame;
            double started = now();
            ok = codec->decode(error, data, size, &copy, out, bytes);
            *seconds += now() - started;
            *frames += ok;
        }
        free(joined);
    }
    free(out);
    imd_dicom_dataset_destroy(d);
    return ok;
}

int main(int argc, char **argv)
{
    double started = now(), decode = 0;
    size_t files = 0, frames = 0;
    ImdError *error = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '@') {
            if (!decode_file(&error, argv[i], &frames, &decode)) {
                fprintf(stderr, "decode_frames: %s\n", imd_error_message(error));
                return 2;
            }
            files++;
            continue;
        }
        FILE *list = fopen(argv[i] + 1, "r");
        if (list == NULL) {
            fprintf(stderr, "decode_frames: cannot open %s\n", argv[i] + 1);
            return 2;
        }
        char line[4096];
        while (fgets(line, sizeof line, list) != NULL) {
            line[strcspn(line, "\n")] = '\0';
            if (line[0] == '\0') {
                continue;
            }
            if (!decode_file(&error, line, &frames, &decode)) {
                fprintf(stderr, "decode_frames: %s: %s\n", line, imd_error_message(error));
                fclose(list);
                return 2;
            }
            files++;
        }
        fclose(list);
    }
    printf("{\"files\": %zu, \"frames\": %zu, \"decode_seconds\": %.6f, \"total_seconds\": %.6f}\n",
           files, frames, decode, now() - started);
    return 0;
}
