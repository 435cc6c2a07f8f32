/*
 * codec_ijg16.c: JPEG frames through GDCM's IJG 6b build for 16-bit samples
 * (libgdcm-dev: gdcmjpeg/16/jpeglib.h, libgdcmjpeg16, its symbols prefixed
 * gdcmjpeg16_ so that the three flavours link into one program). One
 * translation unit per flavour: each sees its own jpeglib.h (CMake puts
 * /usr/include/gdcm-3.0/gdcmjpeg/16 on this file's include path only).
 */
#include "dicom/codec.h"

#include <stdio.h>

#include <jpeglib.h>

#define IJG_FN imd__ijg16_decode
#define IJG_LIBRARY "GDCM's IJG 16-bit"
#define IJG_LOSSLESS 1
#include "dicom/codec_ijg_body.inc"
#define IJG_ENCODE_FN imd__ijg16_encode_lossless
#include "dicom/codec_ijg_encode.inc"
