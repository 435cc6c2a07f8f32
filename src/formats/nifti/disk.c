/*
 * disk.c: NIfTI-1 (348-byte) and NIfTI-2 (540-byte) headers, decoded and
 * encoded field by field at their offsets in the standard layouts (never by
 * reading a struct), in either byte order.
 *
 * NIfTI-1: sizeof_hdr 348, magic "n+1\0" (single .nii) or "ni1\0" (.hdr/.img
 * pair) at offset 344, int16 dimensions and float32 values.
 * NIfTI-2: sizeof_hdr 540, an 8-byte magic "n+2\0\r\n\032\n" / "ni2\0\r\n\032\n"
 * at offset 4, int64 dimensions and float64 values; the 4-byte extension
 * flag follows, so single files have their data at 544 or later.
 * The byte order is found from sizeof_hdr (348 or 540 in one order or the other).
 */
#include "formats/nifti/nifti.h"

#include <math.h>

/* Most voxels a header may describe (2^48): beyond that no memory holds it. */
#define MAX_VOXELS (UINT64_C(1) << 48)
/* Largest data offset accepted (2^53, what a NIfTI-1 float holds exactly). */
#define MAX_OFFSET (INT64_C(1) << 53)

/* ---- byte order ---- */

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

typedef struct Bytes {
    const uint8_t *p;
    bool big; /* the file is big endian */
} Bytes;

static uint64_t load(const Bytes *b, size_t offset, size_t width)
{
    uint64_t value = 0;
    for (size_t i = 0; i < width; i++) {
        size_t at = b->big ? offset + i : offset + width - 1 - i;
        value = (value << 8) | b->p[at];
    }
    return value;
}

static int16_t get_i16(const Bytes *b, size_t offset)
{
    uint16_t u = (uint16_t)load(b, offset, 2);
    int16_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static int32_t get_i32(const Bytes *b, size_t offset)
{
    uint32_t u = (uint32_t)load(b, offset, 4);
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static int64_t get_i64(const Bytes *b, size_t offset)
{
    uint64_t u = load(b, offset, 8);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static double get_f32(const Bytes *b, size_t offset)
{
    uint32_t u = (uint32_t)load(b, offset, 4);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static double get_f64(const Bytes *b, size_t offset)
{
    uint64_t u = load(b, offset, 8);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Encoding is always little endian. */
static void put(uint8_t *out, size_t offset, uint64_t value, size_t width)
{
    for (size_t i = 0; i < width; i++) {
        out[offset + i] = (uint8_t)(value >> (8 * i));
    }
}

static void put_i16(uint8_t *out, size_t offset, int64_t value)
{
    int16_t v = (int16_t)(value > INT16_MAX ? INT16_MAX : value < INT16_MIN ? INT16_MIN : value);
    uint16_t u;
    memcpy(&u, &v, sizeof u);
    put(out, offset, u, 2);
}

static void put_i32(uint8_t *out, size_t offset, int64_t value)
{
    int32_t v = (int32_t)(value > INT32_MAX ? INT32_MAX : value < INT32_MIN ? INT32_MIN : value);
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    put(out, offset, u, 4);
}

static void put_i64(uint8_t *out, size_t offset, int64_t value)
{
    uint64_t u;
    memcpy(&u, &value, sizeof u);
    put(out, offset, u, 8);
}

static void put_f32(uint8_t *out, size_t offset, double value)
{
    float v = (float)value;
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    put(out, offset, u, 4);
}

static void put_f64(uint8_t *out, size_t offset, double value)
{
    uint64_t u;
    memcpy(&u, &value, sizeof u);
    put(out, offset, u, 8);
}

static void get_text(const uint8_t *p, size_t length, char *out)
{
    size_t n = 0;
    while (n < length && p[n] != '\0') {
        out[n] = (char)p[n];
        n++;
    }
    out[n] = '\0';
}

static void put_text(uint8_t *out, size_t offset, const char *text, size_t length)
{
    size_t n = 0;
    while (n < length && text[n] != '\0') {
        n++;
    }
    memcpy(out + offset, text, n);
}

/* ---- datatypes ---- */

static const struct {
    int16_t code;
    ImdDType dtype;
    int16_t bitpix;
} datatypes[] = {
    {IMD_NIFTI_UINT8, IMD_DTYPE_UINT8, 8},          {IMD_NIFTI_INT16, IMD_DTYPE_INT16, 16},
    {IMD_NIFTI_INT32, IMD_DTYPE_INT32, 32},         {IMD_NIFTI_FLOAT32, IMD_DTYPE_FLOAT32, 32},
    {IMD_NIFTI_COMPLEX64, IMD_DTYPE_COMPLEX64, 64}, {IMD_NIFTI_FLOAT64, IMD_DTYPE_FLOAT64, 64},
    {IMD_NIFTI_RGB24, IMD_DTYPE_RGB8, 24},          {IMD_NIFTI_INT8, IMD_DTYPE_INT8, 8},
    {IMD_NIFTI_UINT16, IMD_DTYPE_UINT16, 16},       {IMD_NIFTI_UINT32, IMD_DTYPE_UINT32, 32},
    {IMD_NIFTI_INT64, IMD_DTYPE_INT64, 64},         {IMD_NIFTI_UINT64, IMD_DTYPE_UINT64, 64},
    {IMD_NIFTI_COMPLEX128, IMD_DTYPE_COMPLEX128, 128},
};

bool imd__nifti_dtype(int16_t datatype, ImdDType *dtype)
{
    for (size_t i = 0; i < sizeof datatypes / sizeof datatypes[0]; i++) {
        if (datatypes[i].code == datatype) {
            *dtype = datatypes[i].dtype;
            return true;
        }
    }
    return false;
}

int16_t imd__nifti_datatype(ImdDType dtype, int16_t *bitpix)
{
    if (dtype == IMD_DTYPE_BOOL) {
        dtype = IMD_DTYPE_UINT8;
    }
    for (size_t i = 0; i < sizeof datatypes / sizeof datatypes[0]; i++) {
        if (datatypes[i].dtype == dtype) {
            if (bitpix != NULL) {
                *bitpix = datatypes[i].bitpix;
            }
            return datatypes[i].code;
        }
    }
    if (bitpix != NULL) {
        *bitpix = 0;
    }
    return 0;
}

/* Names of the codes we cannot hold, for messages (nifti1.h). */
static const char *unsupported_name(int16_t datatype)
{
    switch (datatype) {
    case 1:
        return "binary (1 bit)";
    case 1536:
        return "float128";
    case 2048:
        return "complex256";
    case 2304:
        return "RGBA32";
    default:
        return "unknown";
    }
}

/* ---- decoding ---- */

static const uint8_t n2_signature[4] = {'\r', '\n', 0x1a, '\n'};

/* The version and byte order from sizeof_hdr; 0 when it is neither 348 nor 540. */
static int detect(const uint8_t *bytes, size_t size, bool *big)
{
    if (size < 4) {
        return 0;
    }
    uint32_t le = imd__load_le32(bytes), be = imd__load_be32(bytes);
    *big = false;
    if (le == 348 || le == 540) {
        return le == 348 ? 1 : 2;
    }
    *big = true;
    if (be == 348 || be == 540) {
        return be == 348 ? 1 : 2;
    }
    return 0;
}

static bool decode_v1(ImdError **error, const Bytes *b, const char *name, ImdNiftiHeader *h)
{
    const uint8_t *magic = b->p + 344;
    if (memcmp(magic, "n+1\0", 4) == 0) {
        h->pair = false;
    } else if (memcmp(magic, "ni1\0", 4) == 0) {
        h->pair = true;
    } else {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED,
                      "%s: a 348-byte header without the NIfTI-1 magic (Analyze 7.5?)", name);
        return false;
    }
    h->version = 1;
    h->dim_info = b->p[39];
    for (int i = 0; i < 8; i++) {
        h->dim[i] = get_i16(b, 40 + 2 * (size_t)i);
        h->pixdim[i] = get_f32(b, 76 + 4 * (size_t)i);
    }
    h->intent_code = get_i16(b, 68);
    h->datatype = get_i16(b, 70);
    h->bitpix = get_i16(b, 72);
    double offset = get_f32(b, 108);
    if (!(offset >= 0 && offset <= 9007199254740992.0) || offset != floor(offset)) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: vox_offset %g is not a byte offset", name,
                      offset);
        return false;
    }
    h->vox_offset = (int64_t)offset;
    h->scl_slope = get_f32(b, 112);
    h->scl_inter = get_f32(b, 116);
    h->slice_code = b->p[122];
    h->xyzt_units = b->p[123];
    h->cal_max = get_f32(b, 124);
    h->cal_min = get_f32(b, 128);
    h->toffset = get_f32(b, 136);
    get_text(b->p + 148, 80, h->descrip);
    h->qform_code = get_i16(b, 252);
    h->sform_code = get_i16(b, 254);
    h->quatern_b = get_f32(b, 256);
    h->quatern_c = get_f32(b, 260);
    h->quatern_d = get_f32(b, 264);
    h->qoffset_x = get_f32(b, 268);
    h->qoffset_y = get_f32(b, 272);
    h->qoffset_z = get_f32(b, 276);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 4; c++) {
            h->srow[r][c] = get_f32(b, 280 + 16 * (size_t)r + 4 * (size_t)c);
        }
    }
    get_text(b->p + 328, 16, h->intent_name);
    return true;
}

static int16_t clamp16(int64_t value)
{
    return (int16_t)(value > INT16_MAX ? INT16_MAX : value < INT16_MIN ? INT16_MIN : value);
}

static bool decode_v2(ImdError **error, const Bytes *b, const char *name, ImdNiftiHeader *h)
{
    const uint8_t *magic = b->p + 4;
    if (memcmp(magic, "n+2\0", 4) == 0) {
        h->pair = false;
    } else if (memcmp(magic, "ni2\0", 4) == 0) {
        h->pair = true;
    } else {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED,
                      "%s: a 540-byte header without the NIfTI-2 magic", name);
        return false;
    }
    /* The signature after the magic catches text-mode transfers; nifticlib
     * 3.0.1 leaves it zero (dependencies.md §1), which is tolerated. */
    static const uint8_t zeros[4] = {0, 0, 0, 0};
    if (memcmp(magic + 4, n2_signature, 4) != 0 && memcmp(magic + 4, zeros, 4) != 0) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "%s: NIfTI-2 signature damaged (a text-mode transfer changed line ends?)",
                      name);
        return false;
    }
    h->version = 2;
    h->datatype = get_i16(b, 12);
    h->bitpix = get_i16(b, 14);
    for (int i = 0; i < 8; i++) {
        h->dim[i] = get_i64(b, 16 + 8 * (size_t)i);
        h->pixdim[i] = get_f64(b, 104 + 8 * (size_t)i);
    }
    h->vox_offset = get_i64(b, 168);
    if (h->vox_offset < 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: negative vox_offset %lld", name,
                      (long long)h->vox_offset);
        return false;
    }
    if (h->vox_offset > MAX_OFFSET) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: vox_offset %lld lies beyond any file", name,
                      (long long)h->vox_offset);
        return false;
    }
    h->scl_slope = get_f64(b, 176);
    h->scl_inter = get_f64(b, 184);
    h->cal_max = get_f64(b, 192);
    h->cal_min = get_f64(b, 200);
    h->toffset = get_f64(b, 216);
    get_text(b->p + 240, 80, h->descrip);
    h->qform_code = clamp16(get_i32(b, 344));
    h->sform_code = clamp16(get_i32(b, 348));
    h->quatern_b = get_f64(b, 352);
    h->quatern_c = get_f64(b, 360);
    h->quatern_d = get_f64(b, 368);
    h->qoffset_x = get_f64(b, 376);
    h->qoffset_y = get_f64(b, 384);
    h->qoffset_z = get_f64(b, 392);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 4; c++) {
            h->srow[r][c] = get_f64(b, 400 + 32 * (size_t)r + 8 * (size_t)c);
        }
    }
    h->slice_code = clamp16(get_i32(b, 496));
    h->xyzt_units = get_i32(b, 500);
    h->intent_code = get_i32(b, 504);
    get_text(b->p + 508, 16, h->intent_name);
    h->dim_info = b->p[524];
    return true;
}

/* dim[0] 1..7, dim[1..dim[0]] >= 1, the voxel count and byte count bounded. */
static bool check_dims(ImdError **error, const char *name, ImdNiftiHeader *h)
{
    if (h->dim[0] < 1 || h->dim[0] > 7) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: dim[0] = %lld (1 to 7 dimensions allowed)",
                      name, (long long)h->dim[0]);
        return false;
    }
    uint64_t count = 1;
    for (int i = 1; i <= h->dim[0]; i++) {
        if (h->dim[i] < 1) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: dim[%d] = %lld (must be at least 1)",
                          name, i, (long long)h->dim[i]);
            return false;
        }
        if ((uint64_t)h->dim[i] > MAX_VOXELS || count > MAX_VOXELS / (uint64_t)h->dim[i]) {
            imd_error_set(error, IMD_ERR_LIMIT, "%s: more than 2^48 voxels", name);
            return false;
        }
        count *= (uint64_t)h->dim[i];
    }
    /* Dimensions beyond dim[0] carry no meaning; writers leave 0 or 1 there. */
    for (int i = (int)h->dim[0] + 1; i < 8; i++) {
        h->dim[i] = 1;
    }
    ImdDType dtype;
    if (!imd__nifti_dtype(h->datatype, &dtype)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: NIfTI datatype %d (%s) is not supported",
                      name, h->datatype, unsupported_name(h->datatype));
        return false;
    }
    int16_t bitpix = 0;
    (void)imd__nifti_datatype(dtype, &bitpix);
    if (h->bitpix != bitpix) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: bitpix %d does not match datatype %d (%d bits)",
                      name, h->bitpix, h->datatype, bitpix);
        return false;
    }
    size_t bytes, end;
    if (count > SIZE_MAX || !imd__mul_size((size_t)count, imd_dtype_size(dtype), &bytes) ||
        (uint64_t)h->vox_offset > SIZE_MAX ||
        !imd__add_size(bytes, (size_t)h->vox_offset, &end)) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: image too large for this machine", name);
        return false;
    }
    return true;
}

bool imd__nifti_decode(ImdError **error, const uint8_t *bytes, size_t size, const char *name,
                       ImdNiftiHeader *header)
{
    name = name != NULL ? name : "NIfTI";
    memset(header, 0, sizeof *header);
    bool big = false;
    int version = bytes != NULL ? detect(bytes, size, &big) : 0;
    if (version == 0) {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED,
                      "%s: not NIfTI (sizeof_hdr is neither 348 nor 540)", name);
        return false;
    }
    size_t needed = version == 1 ? 348 : 540;
    if (size < needed) {
        /* Too short for its header: a NIfTI-2 magic that is present says "damaged". */
        bool n2_magic = version == 2 && size >= 8 &&
                        (memcmp(bytes + 4, "n+2\0", 4) == 0 || memcmp(bytes + 4, "ni2\0", 4) == 0);
        imd_error_set(error, n2_magic ? IMD_ERR_CORRUPT : IMD_ERR_NOT_RECOGNIZED,
                      "%s: %zu bytes, too short for a NIfTI-%d header (%zu)", name, size, version,
                      needed);
        return false;
    }
    Bytes b = {bytes, big};
    bool ok = version == 1 ? decode_v1(error, &b, name, header)
                           : decode_v2(error, &b, name, header);
    if (!ok || !check_dims(error, name, header)) {
        return false;
    }
    if (!header->pair && header->vox_offset < (int64_t)needed) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "%s: vox_offset %lld lies inside the %zu-byte header", name,
                      (long long)header->vox_offset, needed);
        return false;
    }
    header->swapped = big == host_is_little_endian();
    return true;
}

/* ---- encoding (little endian) ---- */

static size_t encode_v1(const ImdNiftiHeader *h, uint8_t *out)
{
    memset(out, 0, 352);
    put_i32(out, 0, 348);
    out[38] = 'r'; /* "regular", as every writer sets it */
    out[39] = h->dim_info;
    for (int i = 0; i < 8; i++) {
        put_i16(out, 40 + 2 * (size_t)i, h->dim[i]);
        put_f32(out, 76 + 4 * (size_t)i, h->pixdim[i]);
    }
    put_i16(out, 68, h->intent_code);
    put_i16(out, 70, h->datatype);
    put_i16(out, 72, h->bitpix);
    put_f32(out, 108, h->pair ? (double)h->vox_offset
                              : (double)(h->vox_offset >= 352 ? h->vox_offset : 352));
    put_f32(out, 112, h->scl_slope);
    put_f32(out, 116, h->scl_inter);
    out[122] = (uint8_t)h->slice_code;
    out[123] = (uint8_t)h->xyzt_units;
    put_f32(out, 124, h->cal_max);
    put_f32(out, 128, h->cal_min);
    put_f32(out, 136, h->toffset);
    put_text(out, 148, h->descrip, 80);
    put_i16(out, 252, h->qform_code);
    put_i16(out, 254, h->sform_code);
    put_f32(out, 256, h->quatern_b);
    put_f32(out, 260, h->quatern_c);
    put_f32(out, 264, h->quatern_d);
    put_f32(out, 268, h->qoffset_x);
    put_f32(out, 272, h->qoffset_y);
    put_f32(out, 276, h->qoffset_z);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 4; c++) {
            put_f32(out, 280 + 16 * (size_t)r + 4 * (size_t)c, h->srow[r][c]);
        }
    }
    put_text(out, 328, h->intent_name, 16);
    memcpy(out + 344, h->pair ? "ni1\0" : "n+1\0", 4);
    return 352; /* 348 + the 4-byte extension flag (zeros: no extensions) */
}

static size_t encode_v2(const ImdNiftiHeader *h, uint8_t *out)
{
    memset(out, 0, 544);
    put_i32(out, 0, 540);
    memcpy(out + 4, h->pair ? "ni2\0" : "n+2\0", 4);
    memcpy(out + 8, n2_signature, 4);
    put_i16(out, 12, h->datatype);
    put_i16(out, 14, h->bitpix);
    for (int i = 0; i < 8; i++) {
        put_i64(out, 16 + 8 * (size_t)i, h->dim[i]);
        put_f64(out, 104 + 8 * (size_t)i, h->pixdim[i]);
    }
    put_i64(out, 168, h->pair ? h->vox_offset : (h->vox_offset >= 544 ? h->vox_offset : 544));
    put_f64(out, 176, h->scl_slope);
    put_f64(out, 184, h->scl_inter);
    put_f64(out, 192, h->cal_max);
    put_f64(out, 200, h->cal_min);
    put_f64(out, 216, h->toffset);
    put_text(out, 240, h->descrip, 80);
    put_i32(out, 344, h->qform_code);
    put_i32(out, 348, h->sform_code);
    put_f64(out, 352, h->quatern_b);
    put_f64(out, 360, h->quatern_c);
    put_f64(out, 368, h->quatern_d);
    put_f64(out, 376, h->qoffset_x);
    put_f64(out, 384, h->qoffset_y);
    put_f64(out, 392, h->qoffset_z);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 4; c++) {
            put_f64(out, 400 + 32 * (size_t)r + 8 * (size_t)c, h->srow[r][c]);
        }
    }
    put_i32(out, 496, h->slice_code);
    put_i32(out, 500, h->xyzt_units);
    put_i32(out, 504, h->intent_code);
    put_text(out, 508, h->intent_name, 16);
    out[524] = h->dim_info;
    return 544; /* 540 + the 4-byte extension flag */
}

size_t imd__nifti_encode(const ImdNiftiHeader *header, uint8_t out[544])
{
    return header->version == 2 ? encode_v2(header, out) : encode_v1(header, out);
}
