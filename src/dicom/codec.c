/*
 * codec.c: the one table from transfer syntax UID to codec (PS3.5 §10 and
 * Annex A.4: every syntax below encapsulates its pixel data). A syntax with
 * no codec is refused by name; one whose library was left out of the build
 * says which library.
 */
#include "dicom/codec.h"

#include <imagedata/dicom.h>

#if defined(IMD_WITH_TURBOJPEG) || defined(IMD_WITH_IJG)
#define JPEG_CODEC &imd__codec_jpeg
#define JPEG_WHY NULL
#else
#define JPEG_CODEC NULL
#define JPEG_WHY "built without libjpeg-turbo and GDCM's IJG (IMD_WITH_JPEG)"
#endif
#ifdef IMD_WITH_CHARLS
#define JPEGLS_CODEC &imd__codec_jpegls
#define JPEGLS_WHY NULL
#else
#define JPEGLS_CODEC NULL
#define JPEGLS_WHY "built without CharLS (IMD_WITH_CHARLS)"
#endif
#ifdef IMD_WITH_OPENJPEG
#define J2K_CODEC &imd__codec_j2k
#define J2K_WHY NULL
#else
#define J2K_CODEC NULL
#define J2K_WHY "built without OpenJPEG (IMD_WITH_OPENJPEG)"
#endif

#define NO_LIBRARY "no decoder in this build's libraries"

/* Names are the standard's (PS3.6 Table A-1), also for UIDs newer than our dictionary. */
static const ImdCodecSyntax syntaxes[] = {
    {"1.2.840.10008.1.2.1.98", "Encapsulated Uncompressed Explicit VR Little Endian",
     &imd__codec_encapsulated_uncompressed, NULL},
    {"1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", JPEG_CODEC, JPEG_WHY},
    {"1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 and 4)", JPEG_CODEC, JPEG_WHY},
    {"1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)", JPEG_CODEC,
     JPEG_WHY},
    {"1.2.840.10008.1.2.4.70",
     "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
     JPEG_CODEC, JPEG_WHY},
    {"1.2.840.10008.1.2.4.80", "JPEG-LS Lossless Image Compression", JPEGLS_CODEC, JPEGLS_WHY},
    {"1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless) Image Compression", JPEGLS_CODEC,
     JPEGLS_WHY},
    {"1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)", J2K_CODEC, J2K_WHY},
    {"1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression", J2K_CODEC, J2K_WHY},
    {"1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
     J2K_CODEC, J2K_WHY},
    {"1.2.840.10008.1.2.4.202",
     "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)", J2K_CODEC,
     J2K_WHY},
    {"1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000 Image Compression", J2K_CODEC,
     J2K_WHY},
    {"1.2.840.10008.1.2.5", "RLE Lossless", &imd__codec_rle, NULL},
    /* Refused: no Debian 12 library we link decodes them (or they are not images). */
    {"1.2.840.10008.1.2.4.52", "JPEG Extended (Process 3 and 5) (Retired)", NULL, NO_LIBRARY},
    {"1.2.840.10008.1.2.4.53",
     "JPEG Spectral Selection, Non-Hierarchical (Process 6 and 8) (Retired)", NULL, NO_LIBRARY},
    {"1.2.840.10008.1.2.4.54",
     "JPEG Spectral Selection, Non-Hierarchical (Process 7 and 9) (Retired)", NULL, NO_LIBRARY},
    {"1.2.840.10008.1.2.4.55",
     "JPEG Full Progression, Non-Hierarchical (Process 10 and 12) (Retired)", NULL, NO_LIBRARY},
    {"1.2.840.10008.1.2.4.56",
     "JPEG Full Progression, Non-Hierarchical (Process 11 and 13) (Retired)", NULL, NO_LIBRARY},
    {"1.2.840.10008.1.2.4.58", "JPEG Lossless, Non-Hierarchical (Process 15) (Retired)", NULL,
     NO_LIBRARY},
    {"1.2.840.10008.1.2.4.59", "JPEG Extended, Hierarchical (Process 16 and 18) (Retired)", NULL,
     NO_LIBRARY},
    {"1.2.840.10008.1.2.4.60", "JPEG Extended, Hierarchical (Process 17 and 19) (Retired)", NULL,
     NO_LIBRARY},
    {"1.2.840.10008.1.2.4.61",
     "JPEG Spectral Selection, Hierarchical (Process 20 and 22) (Retired)", NULL, NO_LIBRARY},
    {"1.2.840.10008.1.2.4.62",
     "JPEG Spectral Selection, Hierarchical (Process 21 and 23) (Retired)", NULL, NO_LIBRARY},
    {"1.2.840.10008.1.2.4.63",
     "JPEG Full Progression, Hierarchical (Process 24 and 26) (Retired)", NULL, NO_LIBRARY},
    {"1.2.840.10008.1.2.4.64",
     "JPEG Full Progression, Hierarchical (Process 25 and 27) (Retired)", NULL, NO_LIBRARY},
    {"1.2.840.10008.1.2.4.65", "JPEG Lossless, Hierarchical (Process 28) (Retired)", NULL,
     NO_LIBRARY},
    {"1.2.840.10008.1.2.4.66", "JPEG Lossless, Hierarchical (Process 29) (Retired)", NULL,
     NO_LIBRARY},
    {"1.2.840.10008.1.2.4.92",
     "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)", NULL,
     "OpenJPEG does not decode Part 2 multi-component transforms"},
    {"1.2.840.10008.1.2.4.93", "JPEG 2000 Part 2 Multi-component Image Compression", NULL,
     "OpenJPEG does not decode Part 2 multi-component transforms"},
    {"1.2.840.10008.1.2.4.94", "JPIP Referenced", NULL, "the pixel data is on a JPIP server"},
    {"1.2.840.10008.1.2.4.95", "JPIP Referenced Deflate", NULL,
     "the pixel data is on a JPIP server"},
    {"1.2.840.10008.1.2.4.100", "MPEG2 Main Profile / Main Level", NULL, "video"},
    {"1.2.840.10008.1.2.4.100.1", "Fragmentable MPEG2 Main Profile / Main Level", NULL, "video"},
    {"1.2.840.10008.1.2.4.101", "MPEG2 Main Profile / High Level", NULL, "video"},
    {"1.2.840.10008.1.2.4.101.1", "Fragmentable MPEG2 Main Profile / High Level", NULL, "video"},
    {"1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264 High Profile / Level 4.1", NULL, "video"},
    {"1.2.840.10008.1.2.4.102.1", "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1",
     NULL, "video"},
    {"1.2.840.10008.1.2.4.103", "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", NULL,
     "video"},
    {"1.2.840.10008.1.2.4.103.1",
     "Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", NULL, "video"},
    {"1.2.840.10008.1.2.4.104", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", NULL,
     "video"},
    {"1.2.840.10008.1.2.4.104.1",
     "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", NULL, "video"},
    {"1.2.840.10008.1.2.4.105", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", NULL,
     "video"},
    {"1.2.840.10008.1.2.4.105.1",
     "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", NULL, "video"},
    {"1.2.840.10008.1.2.4.106", "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", NULL,
     "video"},
    {"1.2.840.10008.1.2.4.106.1",
     "Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", NULL, "video"},
    {"1.2.840.10008.1.2.4.107", "HEVC/H.265 Main Profile / Level 5.1", NULL, "video"},
    {"1.2.840.10008.1.2.4.108", "HEVC/H.265 Main 10 Profile / Level 5.1", NULL, "video"},
    {"1.2.840.10008.1.2.4.110", "JPEG XL Lossless", NULL, "no JPEG XL library in Debian 12"},
    {"1.2.840.10008.1.2.4.111", "JPEG XL JPEG Recompression", NULL,
     "no JPEG XL library in Debian 12"},
    {"1.2.840.10008.1.2.4.112", "JPEG XL", NULL, "no JPEG XL library in Debian 12"},
    {"1.2.840.10008.1.2.6.1", "RFC 2557 MIME encapsulation (Retired)", NULL, "not pixel data"},
    {"1.2.840.10008.1.2.6.2", "XML Encoding (Retired)", NULL, "not pixel data"},
    {"1.2.840.10008.1.2.7.1", "SMPTE ST 2110-20 Uncompressed Progressive Active Video", NULL,
     "video"},
    {"1.2.840.10008.1.2.7.2", "SMPTE ST 2110-20 Uncompressed Interlaced Active Video", NULL,
     "video"},
    {"1.2.840.10008.1.2.7.3", "SMPTE ST 2110-30 PCM Digital Audio", NULL, "audio"},
    {"1.2.840.10008.1.2.8.1", "Deflated Image Frame Compression", NULL, "not implemented yet"},
};

#define SYNTAX_COUNT (sizeof syntaxes / sizeof syntaxes[0])

static const ImdCodecSyntax *lookup(const char *uid)
{
    for (size_t i = 0; i < SYNTAX_COUNT; i++) {
        if (strcmp(syntaxes[i].uid, uid) == 0) {
            return &syntaxes[i];
        }
    }
    return NULL;
}

/* The native syntaxes (PS3.5 §A.1-A.3, A.5): pixel data is a plain value. */
static bool is_native(const char *uid)
{
    return uid[0] == '\0' || strcmp(uid, IMD_UID_IMPLICIT_VR_LE) == 0 ||
           strcmp(uid, IMD_UID_EXPLICIT_VR_LE) == 0 ||
           strcmp(uid, IMD_UID_DEFLATED_EXPLICIT_VR_LE) == 0 ||
           strcmp(uid, IMD_UID_EXPLICIT_VR_BE) == 0;
}

bool imd__codec_is_encapsulated(const char *uid)
{
    return uid != NULL && !is_native(uid);
}

const char *imd__codec_syntax_name(const char *uid)
{
    if (uid == NULL) {
        return NULL;
    }
    const ImdCodecSyntax *row = lookup(uid);
    return row != NULL ? row->name : imd_dicom_uid_name(uid);
}

const ImdCodecSyntax *imd__codec_syntax(size_t index)
{
    return index < SYNTAX_COUNT ? &syntaxes[index] : NULL;
}

const ImdCodec *imd__codec_find(ImdError **error, const char *uid)
{
    if (uid == NULL || is_native(uid)) {
        return NULL;
    }
    const ImdCodecSyntax *row = lookup(uid);
    if (row != NULL && row->codec != NULL) {
        return row->codec;
    }
    const char *name = row != NULL ? row->name : imd_dicom_uid_name(uid);
    imd_error_set(error, IMD_ERR_UNSUPPORTED, "cannot decode %s (%s)%s%s%s",
                  name != NULL ? name : "an unknown transfer syntax", uid,
                  row != NULL ? " (" : "", row != NULL ? row->why : "", row != NULL ? ")" : "");
    return NULL;
}

bool imd__codec_frame_bytes(ImdError **error, const ImdCodecFrame *frame, size_t *bytes)
{
    size_t pixels, samples;
    if (frame->bits_allocated % 8 != 0 || frame->bits_allocated == 0 ||
        !imd__mul_size(frame->rows, frame->columns, &pixels) ||
        !imd__mul_size(pixels, frame->samples_per_pixel, &samples) ||
        !imd__mul_size(samples, frame->bits_allocated / 8u, bytes)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "cannot decode a frame of %lu x %lu pixels with BitsAllocated %u",
                      (unsigned long)frame->rows, (unsigned long)frame->columns,
                      (unsigned)frame->bits_allocated);
        return false;
    }
    return true;
}

bool imd__codec_fits(ImdError **error, const ImdCodecFrame *frame, size_t out_size,
                     const char *codec)
{
    size_t expected;
    if (!imd__codec_frame_bytes(error, frame, &expected)) {
        return false;
    }
    if (expected != out_size) {
        imd_error_set(error, IMD_ERR_INTERNAL, "%s frame of %zu bytes into %zu", codec, expected,
                      out_size);
        return false;
    }
    return true;
}

/* ---- Encapsulated Uncompressed Explicit VR Little Endian (PS3.5 §A.4.11) ---- */

static bool uncompressed_decode(ImdError **error, const uint8_t *bytes, size_t size,
                                ImdCodecFrame *frame, uint8_t *out, size_t out_size)
{
    /* Each frame is its native bytes; a trailing pad byte makes an odd frame even. */
    if (size < out_size || size > out_size + 1) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "encapsulated uncompressed frame has %zu bytes, expected %zu", size,
                      out_size);
        return false;
    }
    memcpy(out, bytes, out_size);
    if (frame->samples_per_pixel == 3 && frame->planar_configuration == 1) {
        /* Colour-by-plane: interleave (the caller's contract). */
        size_t pixels = (size_t)frame->rows * frame->columns;
        size_t width = frame->bits_allocated / 8u;
        uint8_t *copy = imd__malloc(error, out_size);
        if (copy == NULL) {
            return false;
        }
        memcpy(copy, out, out_size);
        for (size_t p = 0; p < pixels; p++) {
            for (size_t s = 0; s < 3; s++) {
                memcpy(out + (3 * p + s) * width, copy + (s * pixels + p) * width, width);
            }
        }
        free(copy);
    }
    frame->planar_configuration = 0;
    return true;
}

const ImdCodec imd__codec_encapsulated_uncompressed = {
    .name = "encapsulated uncompressed",
    .decode = uncompressed_decode,
    .encode = NULL,
    .is_frame_start = NULL,
};

/* ---- the public frame map (dicom_dump) ---- */

bool imd_dicom_dataset_frame_fragments(ImdError **error, const ImdDicomDataSet *dataset,
                                       size_t frame, size_t *first, size_t *count,
                                       size_t *size)
{
    *first = *count = *size = 0;
    const ImdDicomElement *pixel_data =
        dataset != NULL ? imd_dicom_dataset_find(dataset, IMD_TAG_PixelData) : NULL;
    if (pixel_data == NULL || !pixel_data->encapsulated) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "no encapsulated pixel data");
        return false;
    }
    int64_t frames = 1;
    const ImdDicomElement *number = imd_dicom_dataset_find(dataset, IMD_TAG_NumberOfFrames);
    ImdError *ignored = NULL;
    if (number != NULL && imd_dicom_element_vm(number) > 0 &&
        (!imd_dicom_element_int(&ignored, number, 0, &frames) || frames < 1)) {
        frames = 1;
    }
    imd_error_clear(&ignored);
    ImdEncapInput input = {0};
    input.fragments = pixel_data->fragment_count > 0 ? pixel_data->fragments + 1 : NULL;
    input.fragment_count = pixel_data->fragment_count > 0 ? pixel_data->fragment_count - 1 : 0;
    input.basic_offsets = imd_dicom_element_offset_table(pixel_data, &input.basic_size);
    const ImdDicomElement *eot = imd_dicom_dataset_find(dataset, IMD_TAG_ExtendedOffsetTable);
    const ImdDicomElement *lengths =
        imd_dicom_dataset_find(dataset, IMD_TAG_ExtendedOffsetTableLengths);
    if (eot != NULL && lengths != NULL) {
        input.extended_offsets = imd_dicom_element_bytes(eot, &input.extended_size);
        input.extended_lengths = imd_dicom_element_bytes(lengths, &input.extended_lengths_size);
    }
    input.frames = (size_t)frames;
    const ImdCodecSyntax *row = lookup(dataset->transfer_syntax);
    input.is_frame_start = row != NULL && row->codec != NULL ? row->codec->is_frame_start : NULL;
    input.locate_only = true;
    ImdEncapFrame located;
    if (!imd__encap_locate(error, &input, frame, &located)) {
        return false;
    }
    *first = located.first_fragment;
    *count = located.fragment_count;
    *size = located.size;
    return true;
}
