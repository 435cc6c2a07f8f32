/*
 * codec.h: compressed DICOM pixel data, below the formats (not installed).
 *
 * One table (codec.c) maps a transfer syntax UID to a codec. A codec decodes
 * one frame of encapsulated pixel data (PS3.5 §8.2, Annex A.4) into the bytes
 * an uncompressed Explicit VR Little Endian file would hold for that frame:
 * samples of BitsAllocated bits, little-endian, interleaved (colour-by-pixel),
 * and says which photometric interpretation the decoded samples have (a JPEG
 * baseline YBR_FULL_422 frame comes out as RGB when the library converts it).
 * The DICOM pixel code (formats/dicom/pixel.c) then masks, sign-extends,
 * converts colour and stores exactly as for native data; it has no branch per
 * syntax. Codecs keep no global state: frames are decoded on worker threads.
 *
 * frames_encap.c finds a frame's bytes among the fragments (PS3.5 A.4).
 */
#ifndef IMAGEDATA_DICOM_CODEC_H
#define IMAGEDATA_DICOM_CODEC_H

#include "dicom/dicom_internal.h"

#include <stdint.h>

/* The frame a codec decodes: what the data set says, and what came out. */
typedef struct ImdCodecFrame {
    uint32_t rows, columns;
    uint16_t samples_per_pixel;    /* 1 or 3 */
    uint16_t bits_allocated;       /* 8, 16 or 32 */
    uint16_t bits_stored;
    uint16_t pixel_representation; /* 0 unsigned, 1 signed */
    uint16_t planar_configuration; /* in: the data set's; out: 0 (decoded data is interleaved) */
    char photometric[17];          /* in: the data set's; out: of the decoded samples */
} ImdCodecFrame;

/*
 * Decode `size` bytes (one frame's codestream) into `out`, which holds
 * exactly rows x columns x samples x bits_allocated/8 bytes (out_size).
 * Every byte of out is written on success. On entry frame->photometric and
 * planar_configuration are the data set's; on success they describe `out`.
 * CORRUPT for a damaged codestream or one whose size, components or precision
 * disagree with the frame; UNSUPPORTED for a valid one we cannot decode.
 */
typedef bool (*ImdCodecDecodeFn)(ImdError **error, const uint8_t *bytes, size_t size,
                                 ImdCodecFrame *frame, uint8_t *out, size_t out_size);

/*
 * Encode one frame losslessly: `native` holds what decode would produce
 * (rows x columns x samples of BitsAllocated bits, little-endian, colour by
 * pixel: planar_configuration 0). The low BitsStored bits of every sample
 * are kept (the bits above HighBit carry nothing, PS3.5 §8.1.1); RLE keeps
 * all bits. On success *bytes (malloc'd, the caller frees it) holds one
 * codestream of *size bytes. UNSUPPORTED for a frame the codec cannot hold.
 * A codec's encoder is always lossless: lossy syntaxes sharing the codec
 * (.81, .91, .50) are refused by imd__codec_output_syntax, not here.
 */
typedef bool (*ImdCodecEncodeFn)(ImdError **error, const ImdCodecFrame *frame,
                                 const uint8_t *native, size_t native_size, uint8_t **bytes,
                                 size_t *size);

/* Does a fragment start a new frame (its codestream's start marker)? */
typedef bool (*ImdCodecStartFn)(const uint8_t *bytes, size_t size);

typedef struct ImdCodec {
    const char *name;    /* "RLE Lossless", "libjpeg-turbo", "CharLS", ... */
    ImdCodecDecodeFn decode;
    ImdCodecEncodeFn encode; /* NULL: cannot encode */
    ImdCodecStartFn is_frame_start; /* NULL: frames cannot be found by markers */
} ImdCodec;

/* ---- codec.c: the table ---- */

/*
 * The codec for transfer syntax `uid`. NULL for a syntax whose pixel data is
 * native (not encapsulated). For an encapsulated syntax we cannot decode (an
 * unknown UID, MPEG, HEVC, JPEG XL, JPIP, or a library left out of the build)
 * NULL with an UNSUPPORTED error "cannot decode <name> (<uid>)" (and why).
 */
const ImdCodec *imd__codec_find(ImdError **error, const char *uid);

/* Is `uid` a transfer syntax whose pixel data is encapsulated (PS3.5 A.4)? */
bool imd__codec_is_encapsulated(const char *uid);

/* The syntax's name ("JPEG Lossless, ..."), from the table or the UID
 * dictionary; NULL when unknown. */
const char *imd__codec_syntax_name(const char *uid);

/* One row of the table, for documentation and tests: index 0.. until NULL. */
typedef struct ImdCodecSyntax {
    const char *uid;
    const char *name;
    const ImdCodec *codec; /* NULL: refused */
    const char *why;       /* why not, when refused */
} ImdCodecSyntax;
const ImdCodecSyntax *imd__codec_syntax(size_t index);

/* ---- frames_encap.c: where a frame is (PS3.5 A.4) ---- */

/* A fragment: the parser's own (data, size = the item's length as stored; odd
 * lengths tolerated), so that pixel data is located without copying a list. */
typedef ImdDicomFragment ImdEncapFragment;

typedef struct ImdEncapInput {
    const ImdEncapFragment *fragments; /* the fragments after the Basic Offset Table */
    size_t fragment_count;
    const uint8_t *basic_offsets; /* Basic Offset Table value (may be NULL) */
    size_t basic_size;
    const uint8_t *extended_offsets; /* Extended Offset Table (7FE0,0001), 8 bytes each */
    size_t extended_size;
    const uint8_t *extended_lengths; /* Extended Offset Table Lengths (7FE0,0002) */
    size_t extended_lengths_size;
    size_t frames;                   /* NumberOfFrames */
    ImdCodecStartFn is_frame_start;  /* the codec's marker test (may be NULL) */
    bool locate_only;                /* only fragments and size: never copies (data NULL
                                        when the frame spans fragments) */
} ImdEncapInput;

typedef struct ImdEncapFrame {
    const uint8_t *data; /* the frame's bytes: into a fragment, or `owned` */
    size_t size;
    uint8_t *owned;      /* set when the frame spans fragments (concatenated); free() it */
    size_t first_fragment, fragment_count; /* which fragments (0-based, after the BOT) */
} ImdEncapFrame;

/*
 * Locate frame `frame`: the Extended Offset Table when present and
 * consistent, else a non-empty consistent Basic Offset Table, else one
 * fragment per frame when the counts agree, else every fragment for a single
 * frame, else the codestream start markers. CORRUPT naming the reason when
 * no method finds it. Only a frame spread over several fragments is copied.
 */
bool imd__encap_locate(ImdError **error, const ImdEncapInput *input, size_t frame,
                       ImdEncapFrame *out);

/* ---- the codecs (codec_*.c) ---- */

extern const ImdCodec imd__codec_rle;
extern const ImdCodec imd__codec_encapsulated_uncompressed;
#if defined(IMD_WITH_TURBOJPEG) || defined(IMD_WITH_IJG)
extern const ImdCodec imd__codec_jpeg; /* dispatches by the frame's SOF to turbo or IJG */
#endif
#ifdef IMD_WITH_CHARLS
extern const ImdCodec imd__codec_jpegls;
#endif
#ifdef IMD_WITH_OPENJPEG
extern const ImdCodec imd__codec_j2k;
#endif

/* Shared by the codecs: bytes of a frame, and the check that out is that big. */
bool imd__codec_frame_bytes(ImdError **error, const ImdCodecFrame *frame, size_t *bytes);
/* A decoder's output buffer holds exactly the frame: INTERNAL naming `codec` otherwise. */
bool imd__codec_fits(ImdError **error, const ImdCodecFrame *frame, size_t out_size,
                     const char *codec);

/* JPEG family start markers (also used by the JPEG-LS codec: both begin with SOI). */
bool imd__codec_jpeg_is_start(const uint8_t *bytes, size_t size);

/* ---- encode.c: lossless output (docs/compressed.md, "Encoding") ---- */

/*
 * The transfer syntax UID for an output name: "explicit", "deflate", "rle",
 * "jpegls", "j2k", "jpeg-lossless", or a UID of one of those syntaxes
 * (implicit VR LE too). INVALID_ARG for a lossy syntax (refused even when
 * asked: output is lossless only), an unknown name, or one this build
 * cannot encode (its library left out).
 */
bool imd__codec_output_syntax(ImdError **error, const char *name, const char **uid);

/*
 * Replace the native Pixel Data of `dataset` (an image: Rows, Columns,
 * SamplesPerPixel, BitsAllocated 8 or 16 ...) by encapsulated pixel data in
 * transfer syntax `uid` (an encapsulated one accepted by
 * imd__codec_output_syntax): a Basic Offset Table, one fragment per frame,
 * each of even length (PS3.5 A.4). Every frame is decoded back with our
 * decoder and compared with the original sample by sample on its BitsStored
 * bits before anything is replaced: a difference is INTERNAL naming `name`.
 * On failure the data set is unchanged.
 */
bool imd__codec_encode_pixel_data(ImdError **error, ImdDicomDataSet *dataset, const char *uid,
                                  const char *name);

/* libjpeg-turbo (codec_jpeg.c): 8-bit sequential DCT. */
#ifdef IMD_WITH_TURBOJPEG
bool imd__turbo_decode(ImdError **error, const uint8_t *bytes, size_t size, ImdCodecFrame *frame,
                       uint8_t *out, size_t out_size);
#endif
/* The IJG 6b flavours of GDCM (codec_ijg8/12/16.c), one translation unit each:
 * decode a JPEG stream whose precision fits the flavour. */
#ifdef IMD_WITH_IJG
bool imd__ijg8_decode(ImdError **error, const uint8_t *bytes, size_t size, ImdCodecFrame *frame,
                      uint8_t *out, size_t out_size);
bool imd__ijg12_decode(ImdError **error, const uint8_t *bytes, size_t size,
                       ImdCodecFrame *frame, uint8_t *out, size_t out_size);
bool imd__ijg16_decode(ImdError **error, const uint8_t *bytes, size_t size,
                       ImdCodecFrame *frame, uint8_t *out, size_t out_size);
/* JPEG Lossless, first-order prediction (Process 14, SV1), each flavour its precisions. */
bool imd__ijg8_encode_lossless(ImdError **error, const ImdCodecFrame *frame,
                               const uint8_t *native, size_t native_size, uint8_t **bytes,
                               size_t *size);
bool imd__ijg12_encode_lossless(ImdError **error, const ImdCodecFrame *frame,
                                const uint8_t *native, size_t native_size, uint8_t **bytes,
                                size_t *size);
bool imd__ijg16_encode_lossless(ImdError **error, const ImdCodecFrame *frame,
                                const uint8_t *native, size_t native_size, uint8_t **bytes,
                                size_t *size);
#endif

/* Load one native sample of `width` bytes (little-endian). */
static inline uint32_t imd__codec_load(const uint8_t *p, size_t width)
{
    uint32_t value = p[0];
    if (width > 1) {
        value |= (uint32_t)p[1] << 8;
        if (width > 2) {
            value |= (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        }
    }
    return value;
}

/* The low `bits` bits of a sample (BitsStored, 1-32). */
static inline uint32_t imd__codec_mask(uint32_t value, unsigned bits)
{
    return bits >= 32 ? value : value & ((UINT32_C(1) << bits) - 1u);
}

/* Store one decoded sample (already an integer) as little-endian of `width` bytes. */
static inline void imd__codec_store(uint8_t *out, size_t width, uint32_t value)
{
    out[0] = (uint8_t)value;
    if (width > 1) {
        out[1] = (uint8_t)(value >> 8);
        if (width > 2) {
            out[2] = (uint8_t)(value >> 16);
            out[3] = (uint8_t)(value >> 24);
        }
    }
}

#endif
