/*
 * encode.c: lossless output transfer syntaxes (docs/compressed.md,
 * "Encoding"). The names a user gives, the refusal of lossy syntaxes, and
 * the replacement of native Pixel Data by encapsulated pixel data (PS3.5
 * A.4), every frame decoded back with our own decoder and compared before
 * anything is replaced.
 */
#include "dicom/codec.h"

#include <imagedata/dicom.h>
#include <stdio.h>
#include <strings.h>

#define UID_RLE "1.2.840.10008.1.2.5"
#define UID_JPEG_LOSSLESS_SV1 "1.2.840.10008.1.2.4.70"
#define UID_JPEGLS_LOSSLESS "1.2.840.10008.1.2.4.80"
#define UID_J2K_LOSSLESS "1.2.840.10008.1.2.4.90"

static const struct {
    const char *name, *uid;
} outputs[] = {
    {"explicit", IMD_UID_EXPLICIT_VR_LE},
    {"implicit", IMD_UID_IMPLICIT_VR_LE},
    {"deflate", IMD_UID_DEFLATED_EXPLICIT_VR_LE},
    {"rle", UID_RLE},
    {"jpegls", UID_JPEGLS_LOSSLESS},
    {"j2k", UID_J2K_LOSSLESS},
    {"jpeg-lossless", UID_JPEG_LOSSLESS_SV1},
};

/* Syntaxes that may lose information (PS3.5 §8.2, §10): never written. */
static const char *const lossy[] = {
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.4.93",
    "1.2.840.10008.1.2.4.112",
};

bool imd__codec_output_syntax(ImdError **error, const char *name, const char **uid)
{
    *uid = NULL;
    for (size_t i = 0; name != NULL && i < sizeof outputs / sizeof outputs[0]; i++) {
        if (strcasecmp(name, outputs[i].name) == 0 || strcmp(name, outputs[i].uid) == 0) {
            *uid = outputs[i].uid;
        }
    }
    if (*uid == NULL) {
        for (size_t i = 0; name != NULL && i < sizeof lossy / sizeof lossy[0]; i++) {
            if (strcmp(name, lossy[i]) == 0) {
                const char *syntax = imd__codec_syntax_name(name);
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "transfer syntax %s (%s) is lossy: DICOM output is lossless only "
                              "(explicit, deflate, rle, jpegls, j2k, jpeg-lossless)",
                              syntax != NULL ? syntax : "?", name);
                return false;
            }
        }
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "output transfer syntax \"%s\": expected explicit, implicit, deflate, rle, "
                      "jpegls, j2k, jpeg-lossless or one of their UIDs",
                      name != NULL ? name : "");
        return false;
    }
    if (!imd__codec_is_encapsulated(*uid)) {
        return true;
    }
    ImdError *why = NULL;
    const ImdCodec *codec = imd__codec_find(&why, *uid);
    if (codec == NULL || codec->encode == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "cannot write %s (%s): %s",
                      imd__codec_syntax_name(*uid), *uid,
                      why != NULL ? imd_error_message(why) : "no encoder in this build");
        imd_error_clear(&why);
        *uid = NULL;
        return false;
    }
    return true;
}

/* An unsigned integer attribute; `fallback` when absent or empty. */
static bool attribute(ImdError **error, const ImdDicomDataSet *dataset, uint32_t tag,
                      int64_t fallback, int64_t low, int64_t high, int64_t *value)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(dataset, tag);
    *value = fallback;
    if (e != NULL && imd_dicom_element_vm(e) > 0 && !imd_dicom_element_int(error, e, 0, value)) {
        return false;
    }
    if (*value < low || *value > high) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "cannot encode pixel data with %s %lld",
                      imd_dicom_keyword(tag), (long long)*value);
        return false;
    }
    return true;
}

/* Does the decoded frame hold the same BitsStored bits in every sample? */
static bool same_samples(const uint8_t *a, const uint8_t *b, size_t samples, size_t width,
                         unsigned bits, size_t *where)
{
    for (size_t i = 0; i < samples; i++) {
        if (imd__codec_mask(imd__codec_load(a + i * width, width), bits) !=
            imd__codec_mask(imd__codec_load(b + i * width, width), bits)) {
            *where = i;
            return false;
        }
    }
    return true;
}

typedef struct Encapsulated {
    uint8_t *data; /* the Basic Offset Table, then each frame's fragment */
    size_t size, capacity;
    ImdDicomFragment *fragments;
} Encapsulated;

static bool append(ImdError **error, Encapsulated *out, const uint8_t *bytes, size_t size)
{
    size_t padded = size + (size & 1u);
    if (out->size + padded > out->capacity) {
        size_t capacity = out->capacity > 0 ? out->capacity : 65536;
        while (capacity < out->size + padded) {
            capacity *= 2;
        }
        uint8_t *grown = imd__realloc(NULL, out->data, capacity);
        if (grown == NULL) {
            imd_error_set(error, IMD_ERR_NOMEM, "out of memory encoding pixel data");
            return false;
        }
        out->data = grown;
        out->capacity = capacity;
    }
    memcpy(out->data + out->size, bytes, size);
    if (padded != size) {
        out->data[out->size + size] = 0; /* even length (PS3.5 A.4, §8.2) */
    }
    out->size += padded;
    return true;
}

bool imd__codec_encode_pixel_data(ImdError **error, ImdDicomDataSet *dataset, const char *uid,
                                  const char *name)
{
    /* `name` (the file) starts every message; the DICOM writer passes NULL and
     * prefixes the member's name itself. */
    const char *sep = name != NULL ? ": " : "";
    name = name != NULL ? name : "";
    const ImdCodec *codec = imd__codec_find(error, uid);
    if (codec == NULL || codec->encode == NULL) {
        if (codec != NULL || !imd__codec_is_encapsulated(uid)) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "%s%sno encoder for transfer syntax %s",
                          name, sep, uid);
        }
        return false;
    }
    int64_t rows, columns, samples, allocated, stored, representation, planar, frames;
    if (!attribute(error, dataset, IMD_TAG_Rows, 0, 1, 65535, &rows) ||
        !attribute(error, dataset, IMD_TAG_Columns, 0, 1, 65535, &columns) ||
        !attribute(error, dataset, IMD_TAG_SamplesPerPixel, 1, 1, 3, &samples) ||
        !attribute(error, dataset, IMD_TAG_BitsAllocated, 0, 8, 16, &allocated) ||
        !attribute(error, dataset, IMD_TAG_BitsStored, allocated, 1, allocated, &stored) ||
        !attribute(error, dataset, IMD_TAG_PixelRepresentation, 0, 0, 1, &representation) ||
        !attribute(error, dataset, IMD_TAG_PlanarConfiguration, 0, 0, 0, &planar) ||
        !attribute(error, dataset, IMD_TAG_NumberOfFrames, 1, 1, 1 << 20, &frames)) {
        imd_error_prefix(error, "%s%s", name, sep);
        return false;
    }
    const ImdDicomElement *pixel_data = imd_dicom_dataset_find(dataset, IMD_TAG_PixelData);
    ImdCodecFrame frame = {.rows = (uint32_t)rows, .columns = (uint32_t)columns,
                           .samples_per_pixel = (uint16_t)samples,
                           .bits_allocated = (uint16_t)allocated,
                           .bits_stored = (uint16_t)stored,
                           .pixel_representation = (uint16_t)representation,
                           .planar_configuration = 0};
    const ImdDicomElement *photometric =
        imd_dicom_dataset_find(dataset, IMD_TAG_PhotometricInterpretation);
    char *text = photometric != NULL ? imd_dicom_element_string(NULL, dataset, photometric)
                                     : NULL;
    snprintf(frame.photometric, sizeof frame.photometric, "%s",
             text != NULL ? text : (samples == 3 ? "RGB" : "MONOCHROME2"));
    free(text);
    size_t frame_bytes, total;
    if ((samples != 1 && samples != 3) || allocated % 8 != 0 ||
        !imd__codec_frame_bytes(error, &frame, &frame_bytes) ||
        !imd__mul_size(frame_bytes, (size_t)frames, &total)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s%scannot encode %lld samples per pixel",
                      name, sep, (long long)samples);
        return false;
    }
    if (pixel_data == NULL || pixel_data->encapsulated || pixel_data->value == NULL ||
        pixel_data->size < total || pixel_data->size > total + 1) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "%s%sencoding needs native Pixel Data of %zu bytes (%lld frames)", name, sep,
                      total, (long long)frames);
        return false;
    }
    Encapsulated out = {0};
    uint8_t *check = imd__malloc(error, frame_bytes);
    out.fragments = imd__calloc(error, (size_t)frames + 1, sizeof(ImdDicomFragment));
    size_t *sizes = imd__calloc(error, (size_t)frames + 1, sizeof(size_t));
    bool ok = check != NULL && out.fragments != NULL && sizes != NULL;
    /* The Basic Offset Table (PS3.5 A.4, Table A.4-1): one 32-bit offset per
     * frame from the first fragment's item tag; filled below. */
    uint8_t zero[4] = {0};
    for (int64_t f = 0; ok && f < frames; f++) {
        ok = append(error, &out, zero, 4);
    }
    if (ok) {
        sizes[0] = out.size;
    }
    uint64_t offset = 0;
    for (size_t f = 0; ok && f < (size_t)frames; f++) {
        const uint8_t *native = pixel_data->value + f * frame_bytes;
        uint8_t *bytes = NULL;
        size_t size = 0;
        ImdError *failure = NULL;
        if (!codec->encode(&failure, &frame, native, frame_bytes, &bytes, &size)) {
            imd_error_set(error, imd_error_code(failure), "%s%sframe %zu: %s", name, sep, f + 1,
                          imd_error_message(failure));
            imd_error_clear(&failure);
            ok = false;
            break;
        }
        ImdCodecFrame decoded = frame;
        size_t where = 0;
        if (!codec->decode(&failure, bytes, size, &decoded, check, frame_bytes)) {
            /* Running out of memory in the check is not a codec bug. */
            imd_error_set(error,
                          imd_error_code(failure) == IMD_ERR_NOMEM ? IMD_ERR_NOMEM
                                                                   : IMD_ERR_INTERNAL,
                          "%s%sframe %zu encoded as %s does not decode: %s", name, sep, f + 1, uid,
                          imd_error_message(failure));
            imd_error_clear(&failure);
            ok = false;
        } else if (strcmp(decoded.photometric, frame.photometric) != 0 ||
                   !same_samples(native, check, frame_bytes / (allocated / 8), allocated / 8,
                                 (unsigned)stored, &where)) {
            imd_error_set(error, IMD_ERR_INTERNAL,
                          "%s%sframe %zu encoded as %s decodes to other values (sample %zu, "
                          "photometric %s): not written",
                          name, sep, f + 1, uid, where, decoded.photometric);
            ok = false;
        }
        if (ok && (size > UINT32_MAX - 1 || offset > UINT32_MAX)) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s%sencapsulated pixel data over 4 GiB",
                          name, sep);
            ok = false;
        }
        if (ok) {
            imd__codec_store(out.data + 4 * f, 4, (uint32_t)offset);
            offset += 8 + size + (size & 1u);
            ok = append(error, &out, bytes, size);
            sizes[f + 1] = size + (size & 1u);
        }
        free(bytes);
    }
    if (ok) {
        /* Fragments point into the one owned value (dataset.c rebases them on clone). */
        size_t at = 0;
        for (size_t i = 0; i <= (size_t)frames; i++) {
            out.fragments[i].data = out.data + at;
            out.fragments[i].size = sizes[i];
            at += sizes[i];
        }
        ImdDicomElement element = {.tag = IMD_TAG_PixelData, .vr = IMD_VR_OB,
                                   .value = out.data, .size = out.size, .owned = true,
                                   .fragments = out.fragments,
                                   .fragment_count = (size_t)frames + 1, .encapsulated = true};
        ok = imd__dicom_dataset_put(error, dataset, &element);
        if (ok) {
            out.data = NULL;
            out.fragments = NULL;
        }
    }
    free(sizes);
    free(check);
    free(out.data);
    free(out.fragments);
    return ok;
}
