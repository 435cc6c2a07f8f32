/*
 * codec_ijg12.c: JPEG frames through GDCM's IJG 6b build for 12-bit samples
 * (libgdcm-dev: gdcmjpeg/12/jpeglib.h, libgdcmjpeg12, its symbols prefixed
 * gdcmjpeg12_ so that the three flavours link into one program). One
 * translation unit per flavour: each sees its own jpeglib.h (CMake puts
 * /usr/include/gdcm-3.0/gdcmjpeg/12 on this file's include path only).
 */
#include "dicom/codec.h"

#include <stdio.h>

#include <jpeglib.h>

#define IJG_FN imd__ijg12_decode
#define IJG_LIBRARY "GDCM's IJG 12-bit"
#define IJG_LOSSLESS 1
#include "dicom/codec_ijg_body.inc"
#define IJG_ENCODE_FN imd__ijg12_encode_lossless
#include "dicom/codec_ijg_encode.inc"
