/*
 * fuzz_dicom_codec: bytes -> the encapsulated frame locator -> a codec.
 *
 * Header (12 bytes): [0] which decodable syntax of the codec table; [1] frames
 * (1-4) and whether the first fragment is a Basic Offset Table; [2] rows and
 * [3] columns (1-64); [4] samples (1 or 3); [5] BitsAllocated (8, 16, 32);
 * [6] BitsStored; [7] PixelRepresentation; [8] photometric; [9..11] unused.
 * The rest is split into fragments at each "FRAG" (so seeds are real
 * codestreams cut where a writer might cut them). Every frame is located and
 * decoded into a buffer of exactly the native frame size. Checks: the
 * result/error invariant, the located frame inside the fragments or owned.
 */
#include "dicom/codec.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER 12
#define MAX_FRAGMENTS 64

static const char *const photometrics[] = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT",
                                           "YBR_ICT"};

static const ImdCodec *pick(uint8_t selector)
{
    const ImdCodec *codecs[64];
    size_t count = 0;
    for (size_t i = 0; imd__codec_syntax(i) != NULL && count < 64; i++) {
        if (imd__codec_syntax(i)->codec != NULL) {
            codecs[count++] = imd__codec_syntax(i)->codec;
        }
    }
    return count > 0 ? codecs[selector % count] : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) {
        return 0;
    }
    const ImdCodec *codec = pick(data[0]);
    if (codec == NULL) {
        return 0;
    }
    static const uint16_t allocated[3] = {8, 16, 32};
    ImdCodecFrame frame = {0};
    frame.rows = 1u + data[2] % 64u;
    frame.columns = 1u + data[3] % 64u;
    frame.samples_per_pixel = (data[4] & 1) ? 3 : 1;
    frame.bits_allocated = allocated[data[5] % 3];
    frame.bits_stored = (uint16_t)(1u + data[6] % frame.bits_allocated);
    frame.pixel_representation = data[7] & 1;
    snprintf(frame.photometric, sizeof frame.photometric, "%s",
             frame.samples_per_pixel == 1 ? "MONOCHROME2"
                                          : photometrics[data[8] % 5]);

    /* Fragments: the payload cut at each "FRAG". */
    ImdEncapFragment fragments[MAX_FRAGMENTS];
    size_t count = 0, start = HEADER;
    for (size_t i = HEADER; i + 4 <= size && count + 1 < MAX_FRAGMENTS; i++) {
        if (memcmp(data + i, "FRAG", 4) == 0) {
            fragments[count].data = data + start;
            fragments[count].size = i - start;
            count++;
            start = i + 4;
            i += 3;
        }
    }
    fragments[count].data = data + start;
    fragments[count].size = size - start;
    count++;

    ImdEncapInput input = {0};
    input.frames = 1u + (data[1] & 3u);
    input.is_frame_start = codec->is_frame_start;
    input.fragments = fragments;
    input.fragment_count = count;
    if ((data[1] & 4) && count > 1) { /* the first piece is a Basic Offset Table */
        input.basic_offsets = fragments[0].data;
        input.basic_size = fragments[0].size;
        input.fragments = fragments + 1;
        input.fragment_count = count - 1;
    }
    if ((data[1] & 8) && input.fragment_count > 1) { /* ... or an Extended Offset Table */
        input.extended_offsets = input.basic_offsets;
        input.extended_size = input.basic_size;
        input.extended_lengths = input.basic_offsets;
        input.extended_lengths_size = input.basic_size;
    }
    size_t native;
    if (!imd__codec_frame_bytes(NULL, &frame, &native)) {
        return 0;
    }
    uint8_t *out = malloc(native);
    if (out == NULL) {
        return 0;
    }
    for (size_t f = 0; f < input.frames; f++) {
        ImdError *error = NULL;
        ImdEncapFrame located;
        if (!imd__encap_locate(&error, &input, f, &located)) {
            if (error == NULL) {
                abort(); /* a failure must say why */
            }
            imd_error_clear(&error);
            continue;
        }
        if (located.owned == NULL && located.size > 0 &&
            (located.data < data || located.data + located.size > data + size)) {
            abort(); /* a borrowed frame lies inside the input */
        }
        ImdCodecFrame copy = frame;
        bool ok = codec->decode(&error, located.data, located.size, &copy, out, native);
        if (ok == (error != NULL)) {
            abort();
        }
        if (ok && copy.planar_configuration != 0) {
            abort(); /* decoded data is interleaved */
        }
        imd_error_clear(&error);
        free(located.owned);
    }
    free(out);
    return 0;
}
