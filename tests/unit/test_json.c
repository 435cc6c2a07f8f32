/*
 * test_json.c: imd_series_to_json with the original's property names and
 * zyx conventions. The text is parsed by Python's json module (an
 * independent parser) which also checks the values.
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"

#include <stdlib.h>
#include <unistd.h>

/* Write `json` to a file and run `check` (Python reading `d`) on it. */
static int python_check(const char *json, const char *check)
{
    const char *python = getenv("IMD_PYTHON");
    const char *tmp = getenv("IMD_TEST_TMP");
    if (python == NULL || python[0] == '\0') {
        return 77;
    }
    char json_path[1024], script_path[1024], command[4096];
    snprintf(json_path, sizeof json_path, "%s/json_%d.json", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(script_path, sizeof script_path, "%s/json_%d.py", tmp ? tmp : "/tmp", (int)getpid());
    FILE *file = fopen(json_path, "w");
    FILE *script = fopen(script_path, "w");
    if (file == NULL || script == NULL) {
        if (file) {
            fclose(file);
        }
        if (script) {
            fclose(script);
        }
        return 1;
    }
    fputs(json, file);
    fclose(file);
    fprintf(script, "import json, math, sys\nd = json.load(open(sys.argv[1]))\n"
                    "def near(a, b, t=1e-9):\n"
                    "    assert abs(a - b) <= t, (a, b)\n%s\n", check);
    fclose(script);
    snprintf(command, sizeof command, "'%s' '%s' '%s'", python, script_path, json_path);
    int status = system(command);
    remove(json_path);
    remove(script_path);
    return status == 0 ? 0 : 1;
}

/* 4D: 3 times x 2 slices x 4 rows x 5 columns, oblique geometry. */
static ImdSeries *make_4d(void)
{
    ImdError *error = NULL;
    size_t shape[4] = {3, 2, 4, 5};
    ImdSeries *s = imd_series_create(&error, IMD_DTYPE_INT16, 4, shape);
    if (s == NULL) {
        return NULL;
    }
    int16_t *data = imd_series_data(s);
    for (size_t i = 0; i < imd_series_count(s); i++) {
        data[i] = (int16_t)((int)i - 20);
    }
    ImdHeader *h = imd_series_header(s);
    double times[3] = {52531.6625, 52534.65, 52537.6375};
    double spacing[3] = {3, 2.0833, 1.5};
    ImdVec3 row = {1, 0, 0}, column = {0, 0.6, -0.8};
    ImdVec3 positions[2] = {{-10, 20, 30}, {-10, 20 + 3 * 0.8, 30 + 3 * 0.6}};
    ImdAxis *time = imd_axis_create_numbers(&error, "time", times, 3);
    bool ok = time != NULL && imd_series_set_input_order(&error, s, "time") &&
              imd_series_set_axis(&error, s, 0, time) &&
              imd_series_set_spacing(&error, s, spacing) &&
              imd_header_set_orientation(&error, h, row, column) &&
              imd_header_set_image_positions(&error, h, positions, 2) &&
              imd_header_set_string(&error, h, "PatientName", "PHANTOM^T1") &&
              imd_header_set_string(&error, h, "SeriesNumber", "14") &&
              imd_header_set_string(&error, h, "TransferSyntaxUID", "1.2.840.10008.1.2.4.70") &&
              imd_header_set_string(&error, h, "ImageType", "ORIGINAL\\PRIMARY\\M") &&
              imd_header_set_tag_shape(&error, h, 2, 1, (size_t[]){3}, 1);
    for (size_t sl = 0; ok && sl < 2; sl++) {
        for (size_t t = 0; ok && t < 3; t++) {
            if (sl == 1 && t == 2) {
                continue; /* an empty cell */
            }
            ImdValue value = imd_value_number(times[t] + 0.01 * (double)sl);
            ok = imd_header_set_tag(&error, h, sl, &t, &value);
        }
    }
    if (!ok) {
        fprintf(stderr, "make_4d: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        imd_series_destroy(s);
        return NULL;
    }
    return s;
}

IMD_TEST(properties_4d)
{
    ImdError *error = NULL;
    ImdSeries *s = make_4d();
    REQUIRE(s != NULL);
    char *json = imd_series_to_json(&error, s, "in/series", IMD_JSON_STATS);
    REQUIRE(json != NULL);
    int rc = python_check(
        json,
        "assert d['url'] == 'in/series'\n"
        "assert d['shape'] == [3, 2, 4, 5] and d['dtype'] == 'int16'\n"
        "assert d['input_order'] == 'time'\n"
        "assert [a['name'] for a in d['axes']] == ['time', 'slice', 'row', 'column']\n"
        "assert d['axes'][0]['values'] == [52531.6625, 52534.65, 52537.6375]\n"
        "assert d['axes'][0]['unit'] == 's' and d['axes'][2]['unit'] == 'mm'\n"
        "assert d['spacing'] == [3, 2.0833, 1.5]\n"
        "M = d['transformationMatrix']\n"
        "# column 0: slice step (z,y,x) = (1.8, 2.4, 0); column 1: colcos*dr; column 2: "
        "rowcos*dc\n"
        "for got, want in zip([M[i][0] for i in range(3)], [1.8, 2.4, 0]): near(got, want)\n"
        "for got, want in zip([M[i][1] for i in range(3)], [-0.8*2.0833, 0.6*2.0833, 0]): "
        "near(got, want)\n"
        "for got, want in zip([M[i][2] for i in range(3)], [0, 0, 1.5]): near(got, want)\n"
        "assert [M[i][3] for i in range(3)] == [30, 20, -10] and M[3] == [0, 0, 0, 1]\n"
        "assert d['imagePositions']['0'] == [30, 20, -10]\n"
        "near(d['imagePositions']['1'][0], 31.8); near(d['imagePositions']['1'][1], 22.4)\n"
        "assert d['orientation'] == [0, 0, 1, -0.8, 0.6, 0]\n"
        "assert d['sliceLocations'] is None\n"
        "near(d['timeline'][1], 2.9875, 1e-9); near(d['timeline'][2], 5.975, 1e-9)\n"
        "assert d['tags']['0'] == [[52531.6625], [52534.65], [52537.6375]]\n"
        "assert d['tags']['1'][2] is None and d['tags']['1'][0] == [52531.6725]\n"
        "assert d['patientName'] == 'PHANTOM^T1' and d['seriesNumber'] == 14\n"
        "assert d['imageType'] == ['ORIGINAL', 'PRIMARY', 'M']\n"
        "assert d['patientID'] is None and d['modality'] is None\n"
        "assert d['SOPClassUID'] == '1.2.840.10008.5.1.4.1.1.7'\n"
        "assert d['seriesInstanceUID'].startswith('2.25.')\n"
        "assert d['photometricInterpretation'] == 'MONOCHROME2'\n"
        "assert d['transferSyntaxUID'] == '1.2.840.10008.1.2.4.70'\n"
        "assert d['transferSyntax'].startswith('JPEG Lossless, Non-Hierarchical, First-Order')\n"
        "n = 3*2*4*5\n"
        "assert d['stats'] == {'min': -20, 'max': n - 21, 'sum': sum(range(-20, n - 20))}\n"
        "# integer window (§1.7): w = max-min, c = (max+min)/2, rounded when |x| > 2\n"
        "assert d['windowWidth'] == n - 1 and d['windowCenter'] == round((n - 41) / 2)\n");
    imd_free(json);
    imd_series_destroy(s);
    if (rc == 77) {
        IMD_SKIP("IMD_PYTHON is not set: no independent JSON parser");
    }
    CHECK_INT(rc, 0);
}

IMD_TEST(windows_and_special_values)
{
    ImdError *error = NULL;
    size_t shape[2] = {4, 4};
    ImdSeries *eye = imd_series_create(&error, IMD_DTYPE_FLOAT64, 2, shape);
    ImdSeries *rgb = imd_series_create(&error, IMD_DTYPE_RGB8, 2, shape);
    REQUIRE(eye != NULL && rgb != NULL);
    double *e = imd_series_data(eye);
    for (size_t i = 0; i < 4; i++) {
        e[i * 5] = 1;
    }
    e[1] = NAN; /* NaN is skipped by min/max and written as null */
    CHECK_OK(error, imd_header_set_string(&error, imd_series_header(eye), "SeriesDescription",
                                          "quote \" backslash \\ tab \t \xc3\xa9"));
    char *a = imd_series_to_json(&error, eye, NULL, IMD_JSON_STATS);
    char *b = imd_series_to_json(&error, rgb, NULL, 0);
    REQUIRE(a != NULL && b != NULL);
    int rc = python_check(a, "assert d['url'] is None and d['shape'] == [4, 4]\n"
                             "assert [x['name'] for x in d['axes']] == ['row', 'column']\n"
                             "assert d['windowCenter'] == 0.5 and d['windowWidth'] == 1\n"
                             "assert d['stats']['min'] == 0 and d['stats']['max'] == 1\n"
                             "assert d['stats']['sum'] is None  # NaN\n"
                             "assert d['seriesDescription'] == 'quote \" backslash \\\\ tab "
                             "\\t \\u00e9'\n"
                             "assert d['timeline'] is None and d['tags'] == {}\n");
    if (rc != 77) {
        CHECK_INT(rc, 0);
        CHECK_INT(python_check(b, "assert d['dtype'] == 'rgb8'\n"
                                  "assert d['windowCenter'] == 127 and d['windowWidth'] == 256\n"
                                  "assert d['photometricInterpretation'] == 'RGB'\n"
                                  "assert d['transferSyntaxUID'] is None\n"
                                  "assert d['transferSyntax'] is None\n"),
                  0);
    }
    imd_free(a);
    imd_free(b);
    imd_series_destroy(eye);
    imd_series_destroy(rgb);
    if (rc == 77) {
        IMD_SKIP("IMD_PYTHON is not set: no independent JSON parser");
    }
}

IMD_TEST(subset_keeps_json_consistent)
{
    ImdError *error = NULL;
    ImdSeries *s = make_4d();
    REQUIRE(s != NULL);
    ImdIndex index[4];
    size_t count;
    REQUIRE(imd_index_parse(&error, ":, 1, 1:, 2:", index, 4, &count));
    ImdSeries *sub = imd_series_subset(&error, s, index, count);
    REQUIRE(sub != NULL);
    char *json = imd_series_to_json(&error, sub, NULL, 0);
    REQUIRE(json != NULL);
    /* slice 1, first row 1 and first column 2: the origin moves to that voxel. */
    int rc = python_check(json,
                          "assert d['shape'] == [3, 3, 3]\n"
                          "assert [a['name'] for a in d['axes']] == ['time', 'row', 'column']\n"
                          "M = d['transformationMatrix']\n"
                          "near(M[0][3], 31.8 - 0.8*2.0833); near(M[1][3], 22.4 + 0.6*2.0833)\n"
                          "near(M[2][3], -10 + 2*1.5)\n"
                          "assert d['input_order'] == 'time'\n"
                          "assert d['tags']['0'] == [[52531.6725], [52534.66], None]\n");
    imd_free(json);
    imd_series_destroy(sub);
    imd_series_destroy(s);
    if (rc == 77) {
        IMD_SKIP("IMD_PYTHON is not set: no independent JSON parser");
    }
    CHECK_INT(rc, 0);
}

/* Without stored tags, the tags come from the tag axes (behaviour.md §1.2-1.3). */
IMD_TEST(default_tags_from_axes)
{
    ImdError *error = NULL;
    size_t shape5[5] = {2, 3, 1, 2, 2};
    ImdSeries *s = imd_series_create(&error, IMD_DTYPE_UINT8, 5, shape5);
    REQUIRE(s != NULL);
    CHECK_OK(error, imd_series_set_input_order(&error, s, "time,te"));
    char *json = imd_series_to_json(&error, s, NULL, 0);
    REQUIRE(json != NULL);
    int rc = python_check(json, "assert d['tags'] == {'0': [[[0, 0], [0, 1], [0, 2]], "
                                "[[1, 0], [1, 1], [1, 2]]]}, d['tags']\n");
    imd_free(json);
    imd_series_destroy(s);
    if (rc == 77) {
        IMD_SKIP("IMD_PYTHON is not set: no independent JSON parser");
    }
    CHECK_INT(rc, 0);
}

IMD_TEST_MAIN(IMD_CASE(properties_4d), IMD_CASE(windows_and_special_values),
              IMD_CASE(subset_keeps_json_consistent), IMD_CASE(default_tags_from_axes))
