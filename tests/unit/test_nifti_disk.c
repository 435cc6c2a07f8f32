/*
 * test_nifti_disk.c: NIfTI headers (disk.c), gzip (gzip.c) and the plugin
 * (format.c) end to end.
 *
 * - Headers: NIfTI-1 and -2 encode/decode round trips, big-endian files,
 *   every datatype mapping, corrupt headers with their error codes.
 * - gzip: the streaming writer's output (one member, chunks compressed on
 *   all cores) read back by our gunzip and, independently, by zlib's
 *   gzread on a file, at sizes around the chunk size, for random and for
 *   compressible data, in one write or many; its size against zlib's
 *   single-threaded deflate; multi-member input, limits and damaged input.
 * - The plugin: series written with imd_write(..., "nifti") and read back by
 *   our reader (.nii, .nii.gz, NIfTI-2, .hdr/.img, bval/bvec, naming; series
 *   larger than the writer's pieces, rows split across them) and by
 *   nibabel ($IMD_PYTHON; skipped loudly when it is missing); hand-made
 *   files (scaled, big endian) read by our reader.
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"
#include "imd_test_files.h"

#include "formats/nifti/nifti.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ---- */

static size_t count_files(const char *folder)
{
    size_t count = 0;
    DIR *dir = opendir(folder);
    struct dirent *entry;
    while (dir != NULL && (entry = readdir(dir)) != NULL) {
        count += entry->d_name[0] != '.';
    }
    if (dir != NULL) {
        closedir(dir);
    }
    return count;
}

static bool file_exists(const char *folder, const char *name)
{
    char path[4096];
    struct stat info;
    snprintf(path, sizeof path, "%s/%s", folder, name);
    return stat(path, &info) == 0;
}

static uint8_t *read_file(const char *folder, const char *name, size_t *size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long length = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc(length > 0 ? (size_t)length + 1 : 1);
    *size = bytes != NULL ? fread(bytes, 1, (size_t)length, f) : 0;
    if (bytes != NULL) {
        bytes[*size] = 0;
    }
    fclose(f);
    return bytes;
}

static bool write_file(const char *folder, const char *name, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *f = fopen(path, "wb");
    bool ok = f != NULL && fwrite(data, 1, size, f) == size;
    if (f != NULL) {
        ok = fclose(f) == 0 && ok;
    }
    return ok;
}

/* A header with every field we keep set to something recognisable. */
static ImdNiftiHeader sample_header(int version)
{
    ImdNiftiHeader h;
    memset(&h, 0, sizeof h);
    h.version = version;
    h.dim[0] = 4;
    h.dim[1] = 5;
    h.dim[2] = 4;
    h.dim[3] = 3;
    h.dim[4] = 2;
    for (int i = 5; i < 8; i++) {
        h.dim[i] = 1;
    }
    h.pixdim[0] = -1;
    h.pixdim[1] = 0.75;
    h.pixdim[2] = 1.25;
    h.pixdim[3] = 3.5;
    h.pixdim[4] = 2.5;
    h.datatype = IMD_NIFTI_INT16;
    h.bitpix = 16;
    h.vox_offset = version == 2 ? 544 : 352;
    h.scl_slope = 2;
    h.scl_inter = -1;
    h.dim_info = 1 | 2 << 2 | 3 << 4;
    h.xyzt_units = 10;
    h.qform_code = 1;
    h.sform_code = 2;
    h.quatern_b = 0.5;
    h.quatern_c = -0.25;
    h.quatern_d = 0.125;
    h.qoffset_x = 10.5;
    h.qoffset_y = -20.25;
    h.qoffset_z = 30.125;
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 4; c++) {
            h.srow[r][c] = (r + 1) * 10 + c + 0.5;
        }
    }
    snprintf(h.descrip, sizeof h.descrip, "flip_slice=0 test");
    snprintf(h.intent_name, sizeof h.intent_name, "intent");
    h.intent_code = 1007;
    h.cal_min = -5;
    h.cal_max = 500;
    h.toffset = 1.5;
    h.slice_code = 3;
    return h;
}

static void check_same_header(const ImdNiftiHeader *a, const ImdNiftiHeader *b)
{
    CHECK_INT(a->version, b->version);
    CHECK_INT(a->pair, b->pair);
    for (int i = 0; i < 8; i++) {
        CHECK_INT(a->dim[i], b->dim[i]);
        CHECK_NEAR(a->pixdim[i], b->pixdim[i], 1e-6);
    }
    CHECK_INT(a->datatype, b->datatype);
    CHECK_INT(a->bitpix, b->bitpix);
    CHECK_INT(a->vox_offset, b->vox_offset);
    CHECK_NEAR(a->scl_slope, b->scl_slope, 1e-6);
    CHECK_NEAR(a->scl_inter, b->scl_inter, 1e-6);
    CHECK_INT(a->dim_info, b->dim_info);
    CHECK_INT(a->xyzt_units, b->xyzt_units);
    CHECK_INT(a->qform_code, b->qform_code);
    CHECK_INT(a->sform_code, b->sform_code);
    CHECK_NEAR(a->quatern_b, b->quatern_b, 1e-6);
    CHECK_NEAR(a->quatern_c, b->quatern_c, 1e-6);
    CHECK_NEAR(a->quatern_d, b->quatern_d, 1e-6);
    CHECK_NEAR(a->qoffset_x, b->qoffset_x, 1e-5);
    CHECK_NEAR(a->qoffset_y, b->qoffset_y, 1e-5);
    CHECK_NEAR(a->qoffset_z, b->qoffset_z, 1e-5);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 4; c++) {
            CHECK_NEAR(a->srow[r][c], b->srow[r][c], 1e-5);
        }
    }
    CHECK_STR(a->descrip, b->descrip);
    CHECK_STR(a->intent_name, b->intent_name);
    CHECK_INT(a->intent_code, b->intent_code);
    CHECK_NEAR(a->cal_min, b->cal_min, 1e-6);
    CHECK_NEAR(a->cal_max, b->cal_max, 1e-6);
    CHECK_NEAR(a->toffset, b->toffset, 1e-6);
    CHECK_INT(a->slice_code, b->slice_code);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_le32(p, u);
}

static void reverse(uint8_t *p, size_t n)
{
    for (size_t a = 0, b = n - 1; a < b; a++, b--) {
        uint8_t t = p[a];
        p[a] = p[b];
        p[b] = t;
    }
}

/* (offset, width) of every number of the NIfTI-1 layout. */
static const struct {
    uint16_t offset, width, count;
} v1_fields[] = {
    {0, 4, 1},    {32, 4, 1},   {36, 2, 1},   {40, 2, 8},   {56, 4, 3},  {68, 2, 4},
    {76, 4, 8},   {108, 4, 3},  {120, 2, 1},  {124, 4, 4},  {140, 4, 2}, {252, 2, 2},
    {256, 4, 6},  {280, 4, 12},
};

/* (offset, width, count) of every number of the NIfTI-2 layout. */
static const struct {
    uint16_t offset, width, count;
} v2_fields[] = {
    {0, 4, 1},   {12, 2, 2},  {16, 8, 8},  {80, 8, 3},  {104, 8, 8}, {168, 8, 1},
    {176, 8, 6}, {224, 8, 2}, {344, 4, 2}, {352, 8, 6}, {400, 8, 12}, {496, 4, 3},
};

static void to_big_endian(uint8_t *bytes, int version)
{
    if (version == 1) {
        for (size_t i = 0; i < sizeof v1_fields / sizeof v1_fields[0]; i++) {
            for (size_t k = 0; k < v1_fields[i].count; k++) {
                reverse(bytes + v1_fields[i].offset + k * v1_fields[i].width, v1_fields[i].width);
            }
        }
    } else {
        for (size_t i = 0; i < sizeof v2_fields / sizeof v2_fields[0]; i++) {
            for (size_t k = 0; k < v2_fields[i].count; k++) {
                reverse(bytes + v2_fields[i].offset + k * v2_fields[i].width, v2_fields[i].width);
            }
        }
    }
}

/* ---- headers ---- */

IMD_TEST(nifti1_round_trip)
{
    ImdError *error = NULL;
    ImdNiftiHeader h = sample_header(1), back;
    uint8_t bytes[544];
    size_t size = imd__nifti_encode(&h, bytes);
    CHECK_INT(size, 352);
    CHECK_INT(imd__load_le32(bytes), 348);
    CHECK(memcmp(bytes + 344, "n+1\0", 4) == 0);
    CHECK(memcmp(bytes + 348, "\0\0\0\0", 4) == 0); /* no extensions */
    CHECK_INT(bytes[38], 'r');
    CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "h1", &back));
    check_same_header(&h, &back);
    CHECK(!back.swapped);
    /* A pair header: "ni1", vox_offset 0 kept. */
    h.pair = true;
    h.vox_offset = 0;
    size = imd__nifti_encode(&h, bytes);
    CHECK(memcmp(bytes + 344, "ni1\0", 4) == 0);
    CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "h1 pair", &back));
    check_same_header(&h, &back);
    /* A single file asking for vox_offset 0 is written with 352. */
    h.pair = false;
    size = imd__nifti_encode(&h, bytes);
    CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "h1 offset", &back));
    CHECK_INT(back.vox_offset, 352);
}

IMD_TEST(nifti2_round_trip)
{
    ImdError *error = NULL;
    ImdNiftiHeader h = sample_header(2), back;
    h.dim[1] = 40000; /* beyond NIfTI-1 */
    h.pixdim[1] = 0.1234567890123; /* float64 keeps it */
    uint8_t bytes[544];
    size_t size = imd__nifti_encode(&h, bytes);
    CHECK_INT(size, 544);
    CHECK_INT(imd__load_le32(bytes), 540);
    CHECK(memcmp(bytes + 4, "n+2\0\r\n\032\n", 8) == 0);
    CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "h2", &back));
    check_same_header(&h, &back);
    CHECK(back.pixdim[1] == h.pixdim[1]);
    CHECK_INT(back.vox_offset, 544);
    h.pair = true;
    h.vox_offset = 0;
    size = imd__nifti_encode(&h, bytes);
    CHECK(memcmp(bytes + 4, "ni2\0\r\n\032\n", 8) == 0);
    CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "h2 pair", &back));
    check_same_header(&h, &back);
    /* nifticlib 3.0.1 leaves the signature zero: tolerated. */
    h.pair = false;
    h.vox_offset = 544;
    size = imd__nifti_encode(&h, bytes);
    memset(bytes + 8, 0, 4);
    CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "h2 no signature", &back));
    /* A damaged signature (text-mode transfer) is corrupt. */
    bytes[8] = '\n';
    bytes[9] = 0;
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "h2 damaged", &back),
                IMD_ERR_CORRUPT);
}

IMD_TEST(big_endian_headers)
{
    ImdError *error = NULL;
    for (int version = 1; version <= 2; version++) {
        ImdNiftiHeader h = sample_header(version), back;
        uint8_t bytes[544];
        size_t size = imd__nifti_encode(&h, bytes);
        to_big_endian(bytes, version);
        CHECK(imd__load_le32(bytes) != 348 && imd__load_le32(bytes) != 540);
        CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "big", &back));
        check_same_header(&h, &back);
        CHECK(back.swapped); /* the tests run on little-endian hosts */
    }
}

IMD_TEST(datatype_mapping)
{
    static const struct {
        ImdDType dtype;
        int16_t code, bitpix;
    } table[] = {
        {IMD_DTYPE_UINT8, 2, 8},        {IMD_DTYPE_INT16, 4, 16},
        {IMD_DTYPE_INT32, 8, 32},       {IMD_DTYPE_FLOAT32, 16, 32},
        {IMD_DTYPE_COMPLEX64, 32, 64},  {IMD_DTYPE_FLOAT64, 64, 64},
        {IMD_DTYPE_RGB8, 128, 24},      {IMD_DTYPE_INT8, 256, 8},
        {IMD_DTYPE_UINT16, 512, 16},    {IMD_DTYPE_UINT32, 768, 32},
        {IMD_DTYPE_INT64, 1024, 64},    {IMD_DTYPE_UINT64, 1280, 64},
        {IMD_DTYPE_COMPLEX128, 1792, 128},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int16_t bitpix = 0;
        ImdDType dtype = 0;
        CHECK_INT(imd__nifti_datatype(table[i].dtype, &bitpix), table[i].code);
        CHECK_INT(bitpix, table[i].bitpix);
        CHECK(imd__nifti_dtype(table[i].code, &dtype));
        CHECK_INT(dtype, table[i].dtype);
        CHECK_INT(bitpix, (int)imd_dtype_size(dtype) * 8);
    }
    int16_t bitpix = 0;
    CHECK_INT(imd__nifti_datatype(IMD_DTYPE_BOOL, &bitpix), IMD_NIFTI_UINT8);
    CHECK_INT(bitpix, 8);
    CHECK_INT(imd__nifti_datatype((ImdDType)99, &bitpix), 0);
    ImdDType dtype;
    static const int16_t unsupported[] = {0, 1, 3, 1536, 2048, 2304, -2};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        CHECK(!imd__nifti_dtype(unsupported[i], &dtype));
    }
    /* A header with an unsupported type is UNSUPPORTED; a wrong bitpix CORRUPT. */
    ImdError *error = NULL;
    ImdNiftiHeader h = sample_header(1), back;
    uint8_t bytes[544];
    h.datatype = 2304; /* RGBA32 */
    h.bitpix = 32;
    size_t size = imd__nifti_encode(&h, bytes);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "rgba", &back),
                IMD_ERR_UNSUPPORTED);
    h = sample_header(1);
    h.bitpix = 8;
    size = imd__nifti_encode(&h, bytes);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "bitpix", &back), IMD_ERR_CORRUPT);
}

IMD_TEST(corrupt_headers)
{
    ImdError *error = NULL;
    ImdNiftiHeader h, back;
    uint8_t bytes[544];
    size_t size;
    /* Not NIfTI: sizeof_hdr, magic (Analyze 7.5), too short. */
    h = sample_header(1);
    size = imd__nifti_encode(&h, bytes);
    put_le32(bytes, 349);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "sizeof", &back),
                IMD_ERR_NOT_RECOGNIZED);
    size = imd__nifti_encode(&h, bytes);
    memcpy(bytes + 344, "n+3\0", 4);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "magic", &back),
                IMD_ERR_NOT_RECOGNIZED);
    memset(bytes + 344, 0, 4);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "analyze", &back),
                IMD_ERR_NOT_RECOGNIZED);
    size = imd__nifti_encode(&h, bytes);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, 200, "short", &back),
                IMD_ERR_NOT_RECOGNIZED);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, 0, "empty", &back),
                IMD_ERR_NOT_RECOGNIZED);
    h = sample_header(2);
    size = imd__nifti_encode(&h, bytes);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, 400, "short v2", &back), IMD_ERR_CORRUPT);
    memcpy(bytes + 4, "n+1\0", 4);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "v2 magic", &back),
                IMD_ERR_NOT_RECOGNIZED);
    /* Dimensions: dim[0], zero and negative sizes. */
    h = sample_header(1);
    size = imd__nifti_encode(&h, bytes);
    put_le16(bytes + 40, 0);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "dim0", &back), IMD_ERR_CORRUPT);
    put_le16(bytes + 40, 8);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "dim0 8", &back), IMD_ERR_CORRUPT);
    put_le16(bytes + 40, 4);
    put_le16(bytes + 44, (uint16_t)-3);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "negative", &back),
                IMD_ERR_CORRUPT);
    put_le16(bytes + 44, 0);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "zero", &back), IMD_ERR_CORRUPT);
    /* Dimensions beyond dim[0] do not count (writers leave 0 there). */
    size = imd__nifti_encode(&h, bytes);
    put_le16(bytes + 40 + 2 * 6, 0);
    CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "beyond", &back));
    CHECK_INT(back.dim[6], 1);
    /* vox_offset inside the header, negative, not an integer. */
    put_f32(bytes + 108, 0);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "offset 0", &back),
                IMD_ERR_CORRUPT);
    put_f32(bytes + 108, 200);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "offset 200", &back),
                IMD_ERR_CORRUPT);
    put_f32(bytes + 108, -352);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "offset -352", &back),
                IMD_ERR_CORRUPT);
    put_f32(bytes + 108, 352.5f);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "offset 352.5", &back),
                IMD_ERR_CORRUPT);
    put_f32(bytes + 108, 348); /* old writers without the extension flag: tolerated */
    CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "offset 348", &back));
    /* A pair's data offset may be 0 (it is in the .img). */
    h.pair = true;
    h.vox_offset = 0;
    size = imd__nifti_encode(&h, bytes);
    CHECK_OK(error, imd__nifti_decode(&error, bytes, size, "pair offset 0", &back));
    /* NIfTI-2: overflowing sizes and offsets. */
    h = sample_header(2);
    size = imd__nifti_encode(&h, bytes);
    put_le64(bytes + 16 + 8, UINT64_C(1) << 40);
    put_le64(bytes + 16 + 16, UINT64_C(1) << 40);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "overflow", &back), IMD_ERR_LIMIT);
    put_le64(bytes + 16 + 8, UINT64_MAX);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "dim -1", &back), IMD_ERR_CORRUPT);
    size = imd__nifti_encode(&h, bytes);
    put_le64(bytes + 168, 100);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "v2 offset", &back),
                IMD_ERR_CORRUPT);
    put_le64(bytes + 168, UINT64_MAX);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "v2 offset -1", &back),
                IMD_ERR_CORRUPT);
    put_le64(bytes + 168, INT64_MAX);
    CHECK_FAILS(error, imd__nifti_decode(&error, bytes, size, "v2 offset max", &back),
                IMD_ERR_LIMIT);
}

/* ---- gzip ---- */

static uint8_t *pattern_bytes(size_t size, uint32_t seed)
{
    uint8_t *bytes = malloc(size > 0 ? size : 1);
    uint32_t x = seed;
    for (size_t i = 0; bytes != NULL && i < size; i++) {
        x = x * 1664525u + 1013904223u;
        /* compressible but not trivial: runs of small values with noise */
        bytes[i] = (uint8_t)((i / 64) % 7 + ((x >> 28) == 0 ? (x >> 20) & 0xff : 0));
    }
    return bytes;
}

static uint8_t *gzip_parts(const void *const *parts, const size_t *sizes, size_t count, int level,
                           size_t *size)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_buffer(&error, "gz");
    if (stream == NULL || !imd__gzip_write(&error, stream, parts, sizes, count, level)) {
        fprintf(stderr, "gzip: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        imd_stream_abort(stream);
        return NULL;
    }
    uint8_t *bytes = imd_stream_buffer_take(stream, size);
    imd_stream_abort(stream);
    return bytes;
}

/* Members of a gzip file, counted by inflating each with zlib. */
static size_t count_members(const uint8_t *data, size_t size)
{
    size_t members = 0, at = 0;
    uint8_t sink[65536];
    while (at < size) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 15 + 16) != Z_OK) {
            return 0;
        }
        z.next_in = (Bytef *)(uintptr_t)(data + at);
        z.avail_in = (uInt)(size - at);
        int status;
        do {
            z.next_out = sink;
            z.avail_out = sizeof sink;
            status = inflate(&z, Z_NO_FLUSH);
        } while (status == Z_OK);
        at += (size_t)(z.next_in - (data + at));
        inflateEnd(&z);
        if (status != Z_STREAM_END) {
            return 0;
        }
        members++;
    }
    return members;
}

IMD_TEST(gzip_round_trip_large)
{
    ImdError *error = NULL;
    size_t big = (size_t)9 << 20; /* several chunks on several threads */
    uint8_t head[352], tail[1000];
    memset(head, 0x5a, sizeof head);
    memset(tail, 0xa5, sizeof tail);
    uint8_t *middle = pattern_bytes(big, 7);
    REQUIRE(middle != NULL);
    const void *parts[3] = {head, middle, tail};
    size_t sizes[3] = {sizeof head, big, sizeof tail}, total = sizeof head + big + sizeof tail;
    size_t gz_size = 0;
    uint8_t *gz = gzip_parts(parts, sizes, 3, 6, &gz_size);
    REQUIRE(gz != NULL);
    CHECK(gz_size < total / 2);
    CHECK_INT(count_members(gz, gz_size), 1);
    /* Our gunzip. */
    size_t out_size = 0;
    uint8_t *out = imd__gunzip(&error, gz, gz_size, 0, &out_size, "big");
    CHECK_OK(error, out != NULL);
    CHECK_INT(out_size, total);
    CHECK(out != NULL && memcmp(out, head, sizeof head) == 0 &&
          memcmp(out + sizeof head, middle, big) == 0 &&
          memcmp(out + sizeof head + big, tail, sizeof tail) == 0);
    free(out);
    /* The exact limit passes; one byte less is LIMIT. */
    out = imd__gunzip(&error, gz, gz_size, total, &out_size, "limit");
    CHECK_OK(error, out != NULL);
    free(out);
    CHECK_FAILS(error, imd__gunzip(&error, gz, gz_size, total - 1, &out_size, "limit") != NULL,
                IMD_ERR_LIMIT);
    /* zlib's gzread on a file, an independent reader of the same bytes. */
    char *folder = make_folder("nifti-gzip");
    REQUIRE(folder != NULL);
    CHECK(write_file(folder, "big.gz", gz, gz_size));
    char path[4096];
    snprintf(path, sizeof path, "%s/big.gz", folder);
    gzFile file = gzopen(path, "rb");
    REQUIRE(file != NULL);
    uint8_t *again = malloc(total + 1);
    size_t got = 0;
    int n;
    while (again != NULL && (n = gzread(file, again + got, (unsigned)(total + 1 - got))) > 0) {
        got += (size_t)n;
    }
    gzclose(file);
    CHECK_INT(got, total);
    CHECK(again != NULL && memcmp(again, head, sizeof head) == 0 &&
          memcmp(again + sizeof head, middle, big) == 0 &&
          memcmp(again + sizeof head + big, tail, sizeof tail) == 0);
    free(again);
    remove_folder(folder);
    free(gz);
    free(middle);
}

IMD_TEST(gzip_small_and_damaged)
{
    ImdError *error = NULL;
    const char text[] = "hello, gzip";
    const void *parts[2] = {text, text};
    size_t sizes[2] = {5, sizeof text};
    size_t gz_size = 0, out_size = 0;
    uint8_t *gz = gzip_parts(parts, sizes, 2, 9, &gz_size);
    REQUIRE(gz != NULL);
    CHECK_INT(count_members(gz, gz_size), 1);
    uint8_t *out = imd__gunzip(&error, gz, gz_size, 100, &out_size, "small");
    CHECK_OK(error, out != NULL);
    CHECK_INT(out_size, 5 + sizeof text);
    CHECK(out != NULL && memcmp(out, "hello", 5) == 0 && memcmp(out + 5, text, sizeof text) == 0);
    free(out);
    /* Two files concatenated (members), then zero padding: both read. */
    uint8_t *two = malloc(2 * gz_size + 16);
    REQUIRE(two != NULL);
    memcpy(two, gz, gz_size);
    memcpy(two + gz_size, gz, gz_size);
    memset(two + 2 * gz_size, 0, 16);
    out = imd__gunzip(&error, two, 2 * gz_size + 16, 0, &out_size, "two");
    CHECK_OK(error, out != NULL);
    CHECK_INT(out_size, 2 * (5 + sizeof text));
    free(out);
    /* Garbage after a member, truncation, damage, not gzip. */
    two[2 * gz_size + 3] = 'x';
    CHECK_FAILS(error, imd__gunzip(&error, two, 2 * gz_size + 16, 0, &out_size, "garbage") != NULL,
                IMD_ERR_CORRUPT);
    CHECK_FAILS(error, imd__gunzip(&error, gz, gz_size - 5, 0, &out_size, "cut") != NULL,
                IMD_ERR_CORRUPT);
    memcpy(two, gz, gz_size);
    two[gz_size / 2] ^= 0xff;
    two[gz_size - 6] ^= 0xff; /* the CRC */
    CHECK_FAILS(error, imd__gunzip(&error, two, gz_size, 0, &out_size, "damaged") != NULL,
                IMD_ERR_CORRUPT);
    CHECK_FAILS(error, imd__gunzip(&error, (const uint8_t *)text, sizeof text, 0, &out_size,
                                   "plain") != NULL,
                IMD_ERR_CORRUPT);
    free(two);
    free(gz);
    /* Empty input is one empty member. */
    gz = gzip_parts(NULL, NULL, 0, 6, &gz_size);
    REQUIRE(gz != NULL);
    out = imd__gunzip(&error, gz, gz_size, 0, &out_size, "empty");
    CHECK_OK(error, out != NULL);
    CHECK_INT(out_size, 0);
    free(out);
    free(gz);
    /* Levels outside 1..9. */
    ImdStream *stream = imd_stream_open_buffer(&error, "x");
    REQUIRE(stream != NULL);
    CHECK_FAILS(error, imd__gzip_write(&error, stream, parts, sizes, 2, 0), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd__gzip_write(&error, stream, parts, sizes, 2, 10), IMD_ERR_INVALID_ARG);
    imd_stream_abort(stream);
}

/* Random bytes (incompressible). */
static uint8_t *random_bytes(size_t size, uint64_t seed)
{
    uint8_t *bytes = malloc(size > 0 ? size : 1);
    uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
    for (size_t i = 0; bytes != NULL && i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes[i] = (uint8_t)(x >> 24);
    }
    return bytes;
}

/* Like an image: a smooth background with repeats far apart, a little noise. */
static uint8_t *image_like_bytes(size_t size)
{
    uint8_t *bytes = malloc(size > 0 ? size : 1);
    uint32_t x = 12345;
    for (size_t i = 0; bytes != NULL && i < size; i++) {
        x = x * 1664525u + 1013904223u;
        long column = (long)((i / 2) % 192), row = (long)((i / 384) % 192);
        bool inside = (column - 96) * (column - 96) + (row - 96) * (row - 96) < 60 * 60;
        uint8_t value = inside ? (uint8_t)(column / 8 + row / 16) : 0;
        bytes[i] = i % 2 == 1 ? 0 : (uint8_t)(value + ((x >> 29) == 0 && inside));
    }
    return bytes;
}

/* gzip `size` bytes with a writer, in writes of `step` bytes (0: one write). */
static uint8_t *gzip_stream(const uint8_t *data, size_t size, size_t step, int level,
                            size_t *gz_size)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_buffer(&error, "gz");
    ImdGzipWriter *writer = stream != NULL ? imd__gzip_writer_open(&error, stream, level) : NULL;
    bool ok = writer != NULL;
    step = step == 0 ? (size > 0 ? size : 1) : step;
    for (size_t at = 0; ok && at < size; at += step) {
        ok = imd__gzip_writer_write(&error, writer, data + at, size - at < step ? size - at : step);
    }
    if (ok) {
        ok = imd__gzip_writer_close(&error, writer);
    } else {
        imd__gzip_writer_abort(writer);
    }
    uint8_t *bytes = NULL;
    *gz_size = 0;
    if (ok) {
        bytes = imd_stream_buffer_take(stream, gz_size);
    } else {
        fprintf(stderr, "gzip stream: %s\n", imd_error_message(error));
        imd_error_clear(&error);
    }
    imd_stream_abort(stream);
    return bytes;
}

/* zlib's gzread on `gz` written as a file: the bytes read (malloc), or NULL. */
static uint8_t *gzread_bytes(const char *folder, const uint8_t *gz, size_t gz_size, size_t want,
                             size_t *got)
{
    *got = 0;
    if (!write_file(folder, "data.gz", gz, gz_size)) {
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/data.gz", folder);
    gzFile file = gzopen(path, "rb");
    uint8_t *bytes = malloc(want + 1);
    int n = 0;
    while (file != NULL && bytes != NULL &&
           (n = gzread(file, bytes + *got, (unsigned)(want + 1 - *got))) > 0) {
        *got += (size_t)n;
    }
    bool ok = file != NULL && n == 0 && gzclose(file) == Z_OK; /* CRC and length checked */
    if (!ok) {
        free(bytes);
        return NULL;
    }
    return bytes;
}

/* One gzip member holding `data`, read back by gunzip and by gzread. */
static void check_gzip_stream(const char *folder, const uint8_t *data, size_t size, size_t step,
                              int level, const char *label)
{
    ImdError *error = NULL;
    size_t gz_size = 0, out_size = 0;
    uint8_t *gz = gzip_stream(data, size, step, level, &gz_size);
    REQUIRE(gz != NULL);
    if (count_members(gz, gz_size) != 1) {
        fprintf(stderr, "%s: %zu bytes\n", label, size);
    }
    CHECK_INT(count_members(gz, gz_size), 1);
    uint8_t *out = imd__gunzip(&error, gz, gz_size, size, &out_size, label);
    CHECK_OK(error, out != NULL);
    CHECK_INT(out_size, size);
    CHECK(out != NULL && (size == 0 || memcmp(out, data, size) == 0));
    free(out);
    out = gzread_bytes(folder, gz, gz_size, size, &out_size);
    CHECK(out != NULL);
    CHECK_INT(out_size, size);
    CHECK(out != NULL && (size == 0 || memcmp(out, data, size) == 0));
    free(out);
    /* The bytes depend only on the input, not on how it was handed over. */
    size_t again_size = 0;
    uint8_t *again = gzip_stream(data, size, step == 0 ? 4099 : 0, level, &again_size);
    CHECK(again != NULL && again_size == gz_size && memcmp(again, gz, gz_size) == 0);
    free(again);
    free(gz);
}

IMD_TEST(gzip_stream_sizes)
{
    char *folder = make_folder("nifti-gzstream");
    REQUIRE(folder != NULL);
    const size_t chunk = IMD__GZIP_CHUNK;
    const size_t sizes[] = {0, 1, 1000, chunk - 1, chunk, chunk + 1, 2 * chunk,
                            3 * chunk + 12345};
    size_t most = 3 * chunk + 12345;
    uint8_t *noise = random_bytes(most, 1), *smooth = image_like_bytes(most);
    REQUIRE(noise != NULL && smooth != NULL);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        check_gzip_stream(folder, noise, sizes[i], 0, 6, "random");
        check_gzip_stream(folder, smooth, sizes[i], 0, 6, "smooth");
    }
    /* Many small writes across chunk boundaries, other levels. */
    check_gzip_stream(folder, smooth, 2 * chunk + 7, 65521, 1, "smooth level 1");
    check_gzip_stream(folder, noise, 2 * chunk + 7, 1, 9, "random byte by byte");
    check_gzip_stream(folder, smooth, 2 * chunk + 7, 333333, 9, "smooth level 9");
    free(noise);
    free(smooth);
    remove_folder(folder);
}

/* zlib's single-threaded deflate of the whole buffer (zlib format: 6 bytes of framing). */
static size_t zlib_size(const uint8_t *data, size_t size, int level)
{
    uLongf length = compressBound((uLong)size);
    uint8_t *out = malloc(length);
    bool ok = out != NULL && compress2(out, &length, data, (uLong)size, level) == Z_OK;
    free(out);
    return ok ? (size_t)length : 0;
}

IMD_TEST(gzip_size_near_serial_deflate)
{
    size_t size = 6 * IMD__GZIP_CHUNK + 999;
    uint8_t *patterned = pattern_bytes(size, 3), *smooth = image_like_bytes(size);
    uint8_t *noise = random_bytes(size, 2);
    REQUIRE(patterned != NULL && smooth != NULL && noise != NULL);
    const uint8_t *inputs[3] = {patterned, smooth, noise};
    static const char *const labels[3] = {"patterned", "smooth", "random"};
    static const int levels[] = {1, 6, 9};
    for (size_t i = 0; i < 3; i++) {
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
            if (i == 0 && levels[l] == 9) {
                continue; /* zlib takes seconds on this pattern at level 9 */
            }
            size_t gz_size = 0, serial = zlib_size(inputs[i], size, levels[l]);
            uint8_t *gz = gzip_stream(inputs[i], size, 0, levels[l], &gz_size);
            REQUIRE(gz != NULL && serial > 0);
            /* gzip framing is 12 bytes more than zlib's. */
            double ratio = (double)(gz_size - 12) / (double)serial;
            if (ratio > 1.05) {
                fprintf(stderr, "%s level %d: %zu bytes, zlib %zu (%.3fx)\n", labels[i],
                        levels[l], gz_size, serial, ratio);
            }
            CHECK(ratio <= 1.05);
            CHECK(i != 2 || gz_size <= size + size / 100); /* stored, barely larger */
            free(gz);
        }
    }
    free(patterned);
    free(smooth);
    free(noise);
}

IMD_TEST(gzip_writer_errors)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_buffer(&error, "x");
    REQUIRE(stream != NULL);
    CHECK_FAILS(error, imd__gzip_writer_open(&error, stream, 0) != NULL, IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd__gzip_writer_open(&error, stream, 10) != NULL, IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd__gzip_writer_open(&error, NULL, 6) != NULL, IMD_ERR_INVALID_ARG);
    /* Abort with chunks queued and compressing: nothing leaks, the threads end. */
    uint8_t *data = pattern_bytes(5 * IMD__GZIP_CHUNK, 9);
    REQUIRE(data != NULL);
    ImdGzipWriter *writer = imd__gzip_writer_open(&error, stream, 6);
    CHECK_OK(error, writer != NULL);
    CHECK_OK(error, imd__gzip_writer_write(&error, writer, data, 5 * IMD__GZIP_CHUNK));
    imd__gzip_writer_abort(writer);
    imd__gzip_writer_abort(NULL);
    imd_stream_abort(stream);
    /* A stream that cannot be written: open fails (the header is written at once). */
    stream = imd_stream_open_memory(&error, data, 10, "read-only", NULL, NULL);
    REQUIRE(stream != NULL);
    CHECK(imd__gzip_writer_open(&error, stream, 6) == NULL);
    CHECK(error != NULL);
    imd_error_clear(&error);
    imd_stream_abort(stream);
    free(data);
}

/* ---- the plugin: series written and read back ---- */

/* A 4D int16 series [t, s, r, c] with geometry, voxel (t,s,r,c) = t*1000 + s*100 + r*10 + c. */
static ImdSeries *make_series(size_t nt, size_t ns, size_t nr, size_t nc)
{
    ImdError *error = NULL;
    size_t shape[4] = {nt, ns, nr, nc};
    size_t ndim = nt > 0 ? 4 : 3;
    ImdSeries *series =
        imd_series_create(&error, IMD_DTYPE_INT16, ndim, nt > 0 ? shape : shape + 1);
    if (series == NULL) {
        imd_error_clear(&error);
        return NULL;
    }
    int16_t *data = imd_series_data(series);
    size_t i = 0;
    for (size_t t = 0; t < (nt > 0 ? nt : 1); t++) {
        for (size_t s = 0; s < ns; s++) {
            for (size_t r = 0; r < nr; r++) {
                for (size_t c = 0; c < nc; c++) {
                    data[i++] = (int16_t)(t * 1000 + s * 100 + r * 10 + c);
                }
            }
        }
    }
    ImdHeader *header = imd_series_header(series);
    double spacing[3] = {3, 2, 1.5};
    ImdVec3 positions[16];
    for (size_t s = 0; s < ns && s < 16; s++) {
        positions[s] = (ImdVec3){-10, 20, 5 + 3 * (double)s};
    }
    bool ok = imd_series_set_spacing(&error, series, spacing) &&
              imd_header_set_orientation(&error, header, (ImdVec3){1, 0, 0}, (ImdVec3){0, 1, 0}) &&
              imd_header_set_image_positions(&error, header, positions, ns);
    if (ok && nt > 0) {
        ok = imd_series_set_input_order(&error, series, "time");
        ImdAxis *time = ok ? imd_axis_create_uniform(&error, "time", 0, 2.5, nt) : NULL;
        ok = time != NULL && imd_series_set_axis(&error, series, 0, time);
    }
    if (!ok) {
        fprintf(stderr, "make_series: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        imd_series_destroy(series);
        return NULL;
    }
    imd_header_set_geometry_defined(header, true);
    return series;
}

static ImdSeries *read_one(const char *folder, const char *name, const ImdOptions *options)
{
    ImdError *error = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    ImdSeries *series = imd_read_one(&error, NULL, path, options);
    if (series == NULL) {
        fprintf(stderr, "read %s: %s\n", path, imd_error_message(error));
        imd_error_clear(&error);
    }
    return series;
}

static bool write_series(const ImdSeries *series, const char *folder, const char *name,
                         const ImdOptions *options)
{
    ImdError *error = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", folder, name[0] != '\0' ? "/" : "", name);
    bool ok = imd_write(&error, NULL, series, path, "nifti", options);
    if (!ok) {
        fprintf(stderr, "write %s: %s\n", path, imd_error_message(error));
        imd_error_clear(&error);
    }
    return ok;
}

static void check_same_series(const ImdSeries *a, const ImdSeries *b)
{
    REQUIRE(a != NULL && b != NULL);
    CHECK_INT(imd_series_ndim(a), imd_series_ndim(b));
    for (size_t d = 0; d < imd_series_ndim(a); d++) {
        CHECK_INT(imd_series_dim(a, d), imd_series_dim(b, d));
    }
    CHECK_INT(imd_series_dtype(a), imd_series_dtype(b));
    CHECK(imd_series_nbytes(a) == imd_series_nbytes(b) &&
          memcmp(imd_series_const_data(a), imd_series_const_data(b), imd_series_nbytes(a)) == 0);
    double sa[3], sb[3];
    imd_series_spacing(a, sa);
    imd_series_spacing(b, sb);
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(sa[i], sb[i], 1e-5);
    }
    const ImdHeader *ha = imd_series_const_header(a), *hb = imd_series_const_header(b);
    for (size_t s = 0; s < imd_series_slices(a); s++) {
        ImdVec3 pa, pb;
        CHECK(imd_header_image_position(ha, s, &pa) && imd_header_image_position(hb, s, &pb));
        CHECK_NEAR(pa.x, pb.x, 1e-4);
        CHECK_NEAR(pa.y, pb.y, 1e-4);
        CHECK_NEAR(pa.z, pb.z, 1e-4);
    }
    ImdVec3 ra, ca, rb, cb;
    imd_header_orientation(ha, &ra, &ca);
    imd_header_orientation(hb, &rb, &cb);
    CHECK_NEAR(ra.x, rb.x, 1e-6);
    CHECK_NEAR(ra.y, rb.y, 1e-6);
    CHECK_NEAR(ra.z, rb.z, 1e-6);
    CHECK_NEAR(ca.x, cb.x, 1e-6);
    CHECK_NEAR(ca.y, cb.y, 1e-6);
    CHECK_NEAR(ca.z, cb.z, 1e-6);
}

IMD_TEST(write_read_back)
{
    ImdError *error = NULL;
    char *folder = make_folder("nifti-rw");
    ImdSeries *series = make_series(3, 4, 5, 6);
    REQUIRE(folder != NULL && series != NULL);
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    CHECK_OK(error, imd_options_set(&error, options, "input_order", "time"));
    static const char *const names[] = {"a.nii.gz", "b.nii", "c.hdr"};
    for (size_t i = 0; i < 3; i++) {
        CHECK(write_series(series, folder, names[i], NULL));
        ImdSeries *back = read_one(folder, names[i], options);
        check_same_series(series, back);
        if (back != NULL) {
            const ImdAxis *time = imd_series_axis(back, 0);
            CHECK_STR(imd_axis_name(time), "time");
            CHECK_STR(imd_header_input_order(imd_series_const_header(back)), "time");
            double step = 0;
            CHECK(imd_axis_step(time, &step));
            CHECK_NEAR(step, 2.5, 1e-6);
            CHECK_NEAR(imd_axis_start(imd_series_axis(back, 1)), 0, 0); /* NIfTI axes start at 0 */
            const ImdValue *tag = imd_header_tag(imd_series_const_header(back), 1,
                                                 (const size_t[]){2});
            CHECK(tag != NULL && fabs(tag->v[0] - 5.0) < 1e-6);
        }
        imd_series_destroy(back);
    }
    CHECK(file_exists(folder, "c.img"));
    /* Without input_order the tag axis is "none" (behaviour.md §5.2). */
    ImdSeries *back = read_one(folder, "a.nii.gz", NULL);
    CHECK(back != NULL && strcmp(imd_axis_name(imd_series_axis(back, 0)), "none") == 0);
    imd_series_destroy(back);
    /* The .img alone names its pair. */
    back = read_one(folder, "c.img", NULL);
    CHECK(back != NULL);
    imd_series_destroy(back);
    /* The folder holds three images: three series, not one stack. */
    const char *urls[1] = {folder};
    ImdSeriesList *list = imd_read(&error, NULL, urls, 1, NULL);
    CHECK_OK(error, list != NULL);
    CHECK_INT(imd_series_list_count(list), 3);
    imd_series_list_destroy(list);
    /* headers_only: shape and geometry without voxels. */
    CHECK_OK(error, imd_options_set(&error, options, "headers_only", "true"));
    back = read_one(folder, "a.nii.gz", options);
    CHECK(back != NULL && imd_series_dim(back, 0) == 3);
    imd_series_destroy(back);
    imd_options_destroy(options);
    imd_series_destroy(series);
    remove_folder(folder);
}

IMD_TEST(nifti2_and_2d)
{
    ImdError *error = NULL;
    char *folder = make_folder("nifti-v2");
    REQUIRE(folder != NULL);
    /* Asked for: a 3D series as NIfTI-2. */
    ImdSeries *series = make_series(0, 2, 3, 4);
    REQUIRE(series != NULL);
    ImdOptions *options = imd_options_create(&error);
    CHECK_OK(error, imd_options_set(&error, options, "nifti2", "true"));
    CHECK(write_series(series, folder, "v2.nii", options));
    size_t size = 0;
    uint8_t *bytes = read_file(folder, "v2.nii", &size);
    CHECK(bytes != NULL && size == 544 + 2 * 3 * 4 * 2 && imd__load_le32(bytes) == 540 &&
          memcmp(bytes + 4, "n+2\0\r\n\032\n", 8) == 0);
    free(bytes);
    ImdSeries *back = read_one(folder, "v2.nii", NULL);
    check_same_series(series, back);
    imd_series_destroy(back);
    imd_series_destroy(series);
    /* Automatic: a dimension beyond 32767 (a 2D series, 1 x 40000). */
    size_t shape[2] = {2, 40000};
    series = imd_series_create(&error, IMD_DTYPE_UINT8, 2, shape);
    REQUIRE(series != NULL);
    uint8_t *data = imd_series_data(series);
    for (size_t i = 0; i < 80000; i++) {
        data[i] = (uint8_t)(i * 7 + i / 40000);
    }
    CHECK(write_series(series, folder, "wide.nii", NULL));
    bytes = read_file(folder, "wide.nii", &size);
    CHECK(bytes != NULL && imd__load_le32(bytes) == 540);
    ImdNiftiHeader h;
    CHECK_OK(error, bytes != NULL && imd__nifti_decode(&error, bytes, size, "wide", &h));
    CHECK_INT(h.dim[0], 2);
    CHECK_INT(h.dim[1], 40000);
    CHECK_INT(h.dim[2], 2);
    free(bytes);
    back = read_one(folder, "wide.nii", NULL);
    REQUIRE(back != NULL);
    CHECK_INT(imd_series_ndim(back), 2);
    CHECK(memcmp(imd_series_const_data(back), data, 80000) == 0);
    imd_series_destroy(back);
    imd_series_destroy(series);
    imd_options_destroy(options);
    remove_folder(folder);
}

IMD_TEST(dtypes_written)
{
    ImdError *error = NULL;
    char *folder = make_folder("nifti-dtypes");
    REQUIRE(folder != NULL);
    static const ImdDType dtypes[] = {IMD_DTYPE_BOOL,    IMD_DTYPE_UINT8,     IMD_DTYPE_INT8,
                                      IMD_DTYPE_UINT16,  IMD_DTYPE_INT16,     IMD_DTYPE_UINT32,
                                      IMD_DTYPE_INT32,   IMD_DTYPE_UINT64,    IMD_DTYPE_INT64,
                                      IMD_DTYPE_FLOAT32, IMD_DTYPE_FLOAT64,   IMD_DTYPE_COMPLEX64,
                                      IMD_DTYPE_COMPLEX128, IMD_DTYPE_RGB8};
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        size_t shape[3] = {2, 3, 5};
        ImdSeries *series = imd_series_create(&error, dtypes[i], 3, shape);
        REQUIRE(series != NULL);
        uint8_t *data = imd_series_data(series);
        for (size_t b = 0; b < imd_series_nbytes(series); b++) {
            data[b] = dtypes[i] == IMD_DTYPE_BOOL ? (uint8_t)(b % 2) : (uint8_t)(b * 13 + 1);
        }
        if (dtypes[i] == IMD_DTYPE_FLOAT32 || dtypes[i] == IMD_DTYPE_FLOAT64 ||
            imd_dtype_is_complex(dtypes[i])) {
            memset(data, 0, imd_series_nbytes(series)); /* no NaN bit patterns to compare */
            data[1] = 0x3f;
        }
        CHECK(write_series(series, folder, "t.nii.gz", NULL));
        ImdSeries *back = read_one(folder, "t.nii.gz", NULL);
        REQUIRE(back != NULL);
        ImdDType expected = dtypes[i] == IMD_DTYPE_BOOL ? IMD_DTYPE_UINT8 : dtypes[i];
        CHECK_INT(imd_series_dtype(back), expected);
        CHECK(imd_series_nbytes(back) == imd_series_nbytes(series) &&
              memcmp(imd_series_const_data(back), data, imd_series_nbytes(series)) == 0);
        imd_series_destroy(back);
        imd_series_destroy(series);
    }
    remove_folder(folder);
}

/* Hand-made files: big endian, scaled, and a pair with its .img. */
IMD_TEST(hand_made_files)
{
    ImdError *error = NULL;
    char *folder = make_folder("nifti-hand");
    REQUIRE(folder != NULL);
    ImdNiftiHeader h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.dim[0] = 3;
    h.dim[1] = 4; /* i: columns */
    h.dim[2] = 3; /* j: rows, flipped */
    h.dim[3] = 2;
    for (int i = 4; i < 8; i++) {
        h.dim[i] = 1;
    }
    h.pixdim[0] = 1;
    h.pixdim[1] = h.pixdim[2] = h.pixdim[3] = 1;
    h.datatype = IMD_NIFTI_INT16;
    h.bitpix = 16;
    h.vox_offset = 352;
    h.scl_slope = 2;
    h.scl_inter = 1;
    h.xyzt_units = 2;
    uint8_t file[544 + 48]; /* room for imd__nifti_encode; 352 + 48 used */
    size_t size = imd__nifti_encode(&h, file);
    REQUIRE(size == 352);
    for (int v = 0; v < 24; v++) { /* NIfTI order: i fastest */
        put_le16(file + 352 + 2 * v, (uint16_t)(v - 5));
    }
    CHECK(write_file(folder, "scaled.nii", file, 352 + 48));
    ImdSeries *series = read_one(folder, "scaled.nii", NULL);
    REQUIRE(series != NULL);
    CHECK_INT(imd_series_dtype(series), IMD_DTYPE_FLOAT64);
    CHECK_INT(imd_series_dim(series, 0), 2);
    CHECK_INT(imd_series_dim(series, 1), 3);
    CHECK_INT(imd_series_dim(series, 2), 4);
    const double *values = imd_series_const_data(series);
    /* series (s, r, c) = NIfTI (i = c, j = 2 - r, k = s) */
    for (int s = 0; s < 2; s++) {
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 4; c++) {
                int v = c + 4 * ((2 - r) + 3 * s);
                CHECK_NEAR(values[(s * 3 + r) * 4 + c], (v - 5) * 2.0 + 1.0, 0);
            }
        }
    }
    imd_series_destroy(series);
    /* Slope 1, inter 0: unscaled, the file's type kept. Big endian too. */
    h.scl_slope = 1;
    h.scl_inter = 0;
    size = imd__nifti_encode(&h, file);
    to_big_endian(file, 1);
    for (int v = 0; v < 24; v++) {
        file[352 + 2 * v] = (uint8_t)((v - 5) >> 8);
        file[352 + 2 * v + 1] = (uint8_t)(v - 5);
    }
    CHECK(write_file(folder, "big.nii", file, 352 + 48));
    series = read_one(folder, "big.nii", NULL);
    REQUIRE(series != NULL);
    CHECK_INT(imd_series_dtype(series), IMD_DTYPE_INT16);
    const int16_t *raw = imd_series_const_data(series);
    CHECK_INT(raw[0], (0 + 4 * 2) - 5);   /* s 0, r 0, c 0 = NIfTI (0, 2, 0) */
    CHECK_INT(raw[23], (3 + 4 * 3) - 5);  /* s 1, r 2, c 3 = NIfTI (3, 0, 1) */
    imd_series_destroy(series);
    /* A truncated file: CORRUPT, naming the file. */
    CHECK(write_file(folder, "big.nii", file, 352 + 48 - 2));
    char path[4096];
    snprintf(path, sizeof path, "%s/big.nii", folder);
    CHECK_FAILS(error, imd_read_one(&error, NULL, path, NULL) != NULL, IMD_ERR_CORRUPT);
    remove(path);
    /* A pair whose .img is missing. */
    h.pair = true;
    h.vox_offset = 0;
    size = imd__nifti_encode(&h, file);
    CHECK(write_file(folder, "lone.hdr", file, size));
    snprintf(path, sizeof path, "%s/lone.hdr", folder);
    CHECK_FAILS(error, imd_read_one(&error, NULL, path, NULL) != NULL, IMD_ERR_NOT_FOUND);
    remove_folder(folder);
}

/* A dti series: bval and bvec beside the image, read back as the dti axis. */
IMD_TEST(bval_bvec)
{
    ImdError *error = NULL;
    char *folder = make_folder("nifti-dwi");
    ImdSeries *series = make_series(4, 2, 3, 3);
    REQUIRE(folder != NULL && series != NULL);
    double d1[3] = {0, -0.70640218, -0.7078107}, d2[3] = {1, 0, 0}, d3[3] = {0, 0.6, 0.8};
    ImdValue values[4] = {imd_value_b_vector(0, NULL, 0), imd_value_b_vector(500, d1, 3),
                          imd_value_b_vector(500, d2, 3), imd_value_b_vector(1500, d3, 3)};
    CHECK_OK(error, imd_series_set_input_order(&error, series, "dti"));
    ImdAxis *axis = imd_axis_create_variable(&error, "dti", values, 4);
    CHECK_OK(error, axis != NULL && imd_series_set_axis(&error, series, 0, axis));
    CHECK(write_series(series, folder, "dwi.nii.gz", NULL));
    size_t size;
    char *bval = (char *)read_file(folder, "dwi.bval", &size);
    char *bvec = (char *)read_file(folder, "dwi.bvec", &size);
    CHECK(bval != NULL && strcmp(bval, "0 500 500 1500\n") == 0);
    CHECK(bvec != NULL && strcmp(bvec, "0 0 1 0\n0 0.70640218 0 -0.6\n0 -0.7078107 0 0.8\n") == 0);
    if (bvec != NULL) {
        fprintf(stderr, "bvec:\n%s", bvec);
    }
    free(bval);
    free(bvec);
    /* The image itself is still the image (the original overwrote it with the bval text). */
    uint8_t *image = read_file(folder, "dwi.nii.gz", &size);
    CHECK(image != NULL && size > 2 && image[0] == 0x1f && image[1] == 0x8b);
    free(image);
    ImdSeries *back = read_one(folder, "dwi.nii.gz", NULL);
    ImdValue v3;
    check_same_series(series, back);
    if (back != NULL) {
        CHECK_STR(imd_header_input_order(imd_series_const_header(back)), "dti");
        for (size_t t = 0; t < 4; t++) {
            ImdValue v;
            CHECK(imd_axis_value(imd_series_axis(back, 0), t, &v));
            CHECK(imd_value_equal(&v, &values[t], 1e-9, 1e-9));
        }
    }
    imd_series_destroy(back);
    /* The transposed layout (one line per volume, as some tools write) reads the same;
     * a file with the wrong count is ignored (order b, from the .bval alone). */
    const char transposed[] = "0 0 0\n1 0 0\n0 -0.6 0.8\n0 0.70640218 -0.7078107\n";
    CHECK(write_file(folder, "dwi.bvec", transposed, strlen(transposed)));
    back = read_one(folder, "dwi.nii.gz", NULL);
    ImdValue expected3 = imd_value_b_vector(1500, d1, 3); /* line 4, with volume 3's b */
    CHECK(back != NULL && imd_axis_value(imd_series_axis(back, 0), 3, &v3) &&
          imd_value_equal(&v3, &expected3, 1e-9, 1e-9));
    imd_series_destroy(back);
    CHECK(write_file(folder, "dwi.bvec", "0 1 2\n", 6));
    back = read_one(folder, "dwi.nii.gz", NULL);
    CHECK(back != NULL && strcmp(imd_axis_name(imd_series_axis(back, 0)), "b") == 0);
    imd_series_destroy(back);
    /* Without the .bvec: order b. */
    char path[4096];
    snprintf(path, sizeof path, "%s/dwi.bvec", folder);
    remove(path);
    back = read_one(folder, "dwi.nii.gz", NULL);
    CHECK(back != NULL && strcmp(imd_axis_name(imd_series_axis(back, 0)), "b") == 0 &&
          imd_axis_number(imd_series_axis(back, 0), 3) == 1500);
    imd_series_destroy(back);
    /* Reading the folder: the .bval is a companion, not an unknown file. */
    const char *urls[1] = {folder};
    ImdSeriesList *list = imd_read(&error, NULL, urls, 1, NULL);
    CHECK_OK(error, list != NULL);
    CHECK_INT(imd_series_list_count(list), 1);
    imd_series_list_destroy(list);
    imd_series_destroy(series);
    remove_folder(folder);
}

IMD_TEST(output_naming)
{
    char *folder = make_folder("nifti-names");
    ImdSeries *series = make_series(0, 2, 2, 2);
    REQUIRE(folder != NULL && series != NULL);
    CHECK(write_series(series, folder, "", NULL)); /* an existing folder */
    CHECK(file_exists(folder, "Image.nii.gz"));
    CHECK(write_series(series, folder, "x", NULL));
    CHECK(file_exists(folder, "x.nii.gz"));
    CHECK(write_series(series, folder, "y.NII", NULL));
    CHECK(file_exists(folder, "y.NII"));
    CHECK(write_series(series, folder, "z.v1", NULL));
    CHECK(file_exists(folder, "z.v1.nii.gz"));
    CHECK_INT(count_files(folder), 4); /* no bval/bvec for order none, no temporaries */
    /* A bad option writes nothing. */
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    CHECK_OK(error, imd_options_set(&error, options, "gzip_level", "12"));
    CHECK(!write_series(series, folder, "bad.nii.gz", options));
    CHECK(!file_exists(folder, "bad.nii.gz"));
    CHECK_INT(count_files(folder), 4);
    imd_options_destroy(options);
    imd_series_destroy(series);
    remove_folder(folder);
}

/* Series larger than the writer's pieces: .nii, .nii.gz and .img hold the same voxels. */
IMD_TEST(large_series_streamed)
{
    char *folder = make_folder("nifti-large");
    REQUIRE(folder != NULL);
    /* Rows of 422 bytes (pieces end inside rows); rows of 600000 bytes (longer than a piece). */
    ImdSeries *all[2] = {make_series(3, 7, 150, 211), make_series(0, 2, 3, 300000)};
    for (size_t i = 0; i < 2; i++) {
        ImdSeries *series = all[i];
        REQUIRE(series != NULL);
        static const char *const names[] = {"a.nii", "a.nii.gz", "b.hdr"};
        for (size_t n = 0; n < 3; n++) {
            CHECK(write_series(series, folder, names[n], NULL));
            ImdSeries *back = read_one(folder, names[n], NULL);
            check_same_series(series, back);
            imd_series_destroy(back);
        }
        ImdError *error = NULL;
        size_t nii_size = 0, gz_size = 0, img_size = 0, out_size = 0;
        uint8_t *nii = read_file(folder, "a.nii", &nii_size);
        uint8_t *gz = read_file(folder, "a.nii.gz", &gz_size);
        uint8_t *img = read_file(folder, "b.img", &img_size);
        REQUIRE(nii != NULL && gz != NULL && img != NULL);
        CHECK_INT(count_members(gz, gz_size), 1);
        uint8_t *out = imd__gunzip(&error, gz, gz_size, 0, &out_size, "a.nii.gz");
        CHECK_OK(error, out != NULL);
        CHECK(out != NULL && out_size == nii_size && memcmp(out, nii, nii_size) == 0);
        size_t head = i == 0 ? 352 : 544; /* 300000 columns need NIfTI-2 */
        CHECK_INT(nii_size, head + imd_series_nbytes(series));
        CHECK(img_size == nii_size - head && memcmp(img, nii + head, img_size) == 0);
        free(out);
        free(nii);
        free(gz);
        free(img);
        imd_series_destroy(series);
    }
    remove_folder(folder);
}

/* ---- nibabel ---- */

static const char nibabel_script[] =
    "import sys\n"
    "try:\n"
    "    import nibabel as nib, numpy as np\n"
    "except ImportError:\n"
    "    sys.exit(3)\n"
    "folder = sys.argv[1]\n"
    "nt, ns, nr, nc = 3, 4, 5, 6\n"
    "want = np.array([[-1.5, 0, 0, 10], [0, 2, 0, -20 - 2 * (nr - 1)], [0, 0, 3, 5]])\n"
    "for name, cls in (('a.nii.gz', nib.Nifti1Image), ('b.nii', nib.Nifti1Image),\n"
    "                  ('c.hdr', nib.Nifti1Pair), ('d.nii.gz', nib.Nifti2Image)):\n"
    "    img = nib.load(folder + '/' + name)\n"
    "    assert isinstance(img, cls), (name, type(img))\n"
    "    assert img.shape == (nc, nr, ns, nt), (name, img.shape)\n"
    "    assert img.get_data_dtype() == np.int16, name\n"
    "    h = img.header\n"
    "    dt = 1 if name.startswith('d') else 2.5  # a dti axis has no step (behaviour.md 5.2)\n"
    "    assert np.allclose(h.get_zooms(), (1.5, 2, 3, dt)), (name, h.get_zooms())\n"
    "    assert h.get_xyzt_units() == ('mm', 'sec'), name\n"
    "    assert int(h['qform_code']) == 1 and int(h['sform_code']) == 1, name\n"
    "    assert np.allclose(h.get_sform()[:3], want, atol=1e-5), (name, h.get_sform())\n"
    "    assert np.allclose(h.get_qform()[:3], want, atol=1e-4), (name, h.get_qform())\n"
    "    assert np.allclose(img.affine[:3], want, atol=1e-4), name\n"
    "    data = np.asanyarray(img.dataobj)\n"
    "    i, j, k, t = np.meshgrid(range(nc), range(nr), range(ns), range(nt), indexing='ij')\n"
    "    expected = t * 1000 + k * 100 + (nr - 1 - j) * 10 + i\n"
    "    assert np.array_equal(data, expected), name\n"
    "bval = np.loadtxt(folder + '/d.bval')\n"
    "bvec = np.loadtxt(folder + '/d.bvec')\n"
    "assert bval.tolist() == [0, 500, 500, 1500][:nt], bval\n"
    "assert bvec.shape == (3, nt), bvec.shape\n"
    "assert np.allclose(bvec[:, 1], [0, 0.6, 0.8]), bvec\n"
    "print('nibabel', nib.__version__, 'agrees')\n";

IMD_TEST(nibabel_reads_ours)
{
    const char *python = getenv("IMD_PYTHON");
    if (python == NULL || python[0] == '\0') {
        IMD_SKIP("IMD_PYTHON is not set: nibabel, the oracle of this case, cannot run");
    }
    ImdError *error = NULL;
    char *folder = make_folder("nifti-nibabel");
    ImdSeries *series = make_series(3, 4, 5, 6);
    REQUIRE(folder != NULL && series != NULL);
    CHECK(write_series(series, folder, "a.nii.gz", NULL));
    CHECK(write_series(series, folder, "b.nii", NULL));
    CHECK(write_series(series, folder, "c.hdr", NULL));
    /* d: NIfTI-2 with a dti axis (b vectors written x, -y, z). */
    double d1[3] = {0, -0.6, 0.8}, d2[3] = {1, 0, 0};
    ImdValue values[3] = {imd_value_b_vector(0, NULL, 0), imd_value_b_vector(500, d1, 3),
                          imd_value_b_vector(500, d2, 3)};
    ImdSeries *dwi = imd_series_clone(&error, series);
    REQUIRE(dwi != NULL);
    CHECK_OK(error, imd_series_set_input_order(&error, dwi, "dti"));
    ImdAxis *axis = imd_axis_create_variable(&error, "dti", values, 3);
    CHECK_OK(error, axis != NULL && imd_series_set_axis(&error, dwi, 0, axis));
    ImdOptions *options = imd_options_create(&error);
    CHECK_OK(error, imd_options_set(&error, options, "nifti2", "yes"));
    CHECK(write_series(dwi, folder, "d.nii.gz", options));
    imd_options_destroy(options);
    imd_series_destroy(dwi);
    imd_series_destroy(series);
    char script[4096], command[8192];
    snprintf(script, sizeof script, "%s/check.py", folder);
    CHECK(write_file(folder, "check.py", nibabel_script, strlen(nibabel_script)));
    snprintf(command, sizeof command, "'%s' '%s' '%s'", python, script, folder);
    int status = system(command);
    remove_folder(folder);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
        IMD_SKIP("nibabel is not installed for %s: our files were not checked by it", python);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

IMD_TEST(reference_files)
{
    const char *data = getenv("IMD_TEST_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/nifti/ep2d_RSI_b0_500_1500_6dir_20241202111754_3.nii.gz",
             data != NULL ? data : "");
    if (data == NULL || access(path, R_OK) != 0) {
        IMD_SKIP("the original's test data is missing (IMD_TEST_DATA=%s)", data ? data : "(unset)");
    }
    ImdError *error = NULL;
    ImdSeries *series = imd_read_one(&error, NULL, path, NULL);
    CHECK_OK(error, series != NULL);
    REQUIRE(series != NULL);
    CHECK_INT(imd_series_ndim(series), 4);
    CHECK_INT(imd_series_dim(series, 0), 13);
    CHECK_INT(imd_series_dim(series, 1), 3);
    CHECK_INT(imd_series_dim(series, 2), 78);
    CHECK_INT(imd_series_dim(series, 3), 96);
    CHECK_INT(imd_series_dtype(series), IMD_DTYPE_INT16);
    const ImdAxis *dti = imd_series_axis(series, 0);
    CHECK_STR(imd_axis_name(dti), "dti"); /* from the .bval and .bvec beside it */
    ImdValue v;
    CHECK(imd_axis_value(dti, 7, &v) && v.kind == IMD_VALUE_B_VECTOR && v.v[0] == 1500);
    imd_series_destroy(series);
}

IMD_TEST_MAIN(IMD_CASE(nifti1_round_trip), IMD_CASE(nifti2_round_trip),
              IMD_CASE(big_endian_headers), IMD_CASE(datatype_mapping),
              IMD_CASE(corrupt_headers), IMD_CASE(gzip_round_trip_large),
              IMD_CASE(gzip_small_and_damaged), IMD_CASE(gzip_stream_sizes),
              IMD_CASE(gzip_size_near_serial_deflate), IMD_CASE(gzip_writer_errors),
              IMD_CASE(write_read_back), IMD_CASE(large_series_streamed),
              IMD_CASE(nifti2_and_2d), IMD_CASE(dtypes_written), IMD_CASE(hand_made_files),
              IMD_CASE(bval_bvec), IMD_CASE(output_naming), IMD_CASE(nibabel_reads_ours),
              IMD_CASE(reference_files))
