/*
 * codec_ijg8.c: JPEG frames through GDCM's IJG 6b build for 8-bit samples
 * (libgdcm-dev: gdcmjpeg/8/jpeglib.h, libgdcmjpeg8, its symbols prefixed
 * gdcmjpeg8_ so that the three flavours link into one program). One
 * translation unit per flavour: each sees its own jpeglib.h (CMake puts
 * /usr/include/gdcm-3.0/gdcmjpeg/8 on this file's include path only).
 */
#include "dicom/codec.h"

#include <stdio.h>

#include <jpeglib.h>

#define IJG_FN imd__ijg8_decode
#define IJG_LIBRARY "GDCM's IJG 8-bit"
#define IJG_LOSSLESS 1
#include "dicom/codec_ijg_body.inc"
#define IJG_ENCODE_FN imd__ijg8_encode_lossless
#include "dicom/codec_ijg_encode.inc"
