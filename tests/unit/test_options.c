/* test_options.c: ImdOptions, the `opts` dictionary (options.h). */
#include "imd_test.h"

#include <imagedata/imagedata.h>
#include <imagedata/options.h>
#include <imagedata/plugin.h>

IMD_TEST(set_get_and_order)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    CHECK_INT(imd_options_count(options), 0);
    CHECK_OK(error, imd_options_set(&error, options, "input_order", "time"));
    CHECK_OK(error, imd_options_set(&error, options, "output_sort", "slice"));
    CHECK_OK(error, imd_options_set(&error, options, "calling_aet", "ME"));
    CHECK_INT(imd_options_count(options), 3);
    CHECK_STR(imd_options_get(options, "input_order", NULL), "time");
    CHECK_STR(imd_options_get(options, "missing", "dflt"), "dflt");
    CHECK(imd_options_get(options, "missing", NULL) == NULL);
    CHECK(imd_options_has(options, "output_sort"));
    CHECK(!imd_options_has(options, "output"));

    /* Overriding keeps the key's first position. */
    CHECK_OK(error, imd_options_set(&error, options, "input_order", "b"));
    CHECK_INT(imd_options_count(options), 3);
    CHECK_STR(imd_options_key(options, 0), "input_order");
    CHECK_STR(imd_options_value(options, 0), "b");
    CHECK_STR(imd_options_key(options, 1), "output_sort");
    CHECK_STR(imd_options_key(options, 2), "calling_aet");
    CHECK(imd_options_key(options, 3) == NULL);
    CHECK(imd_options_value(options, 3) == NULL);

    /* A NULL value removes the key; the rest keep their order. */
    CHECK_OK(error, imd_options_set(&error, options, "output_sort", NULL));
    CHECK_INT(imd_options_count(options), 2);
    CHECK(!imd_options_has(options, "output_sort"));
    CHECK_STR(imd_options_key(options, 0), "input_order");
    CHECK_STR(imd_options_key(options, 1), "calling_aet");
    /* Removing an absent key is fine; setting again appends at the end. */
    CHECK_OK(error, imd_options_set(&error, options, "output_sort", NULL));
    CHECK_OK(error, imd_options_set(&error, options, "output_sort", "tag"));
    CHECK_STR(imd_options_key(options, 2), "output_sort");

    /* The value is copied. */
    char value[] = "abc";
    CHECK_OK(error, imd_options_set(&error, options, "copied", value));
    value[0] = 'x';
    CHECK_STR(imd_options_get(options, "copied", NULL), "abc");
    /* An empty value is a value. */
    CHECK_OK(error, imd_options_set(&error, options, "empty", ""));
    CHECK_STR(imd_options_get(options, "empty", NULL), "");
    imd_options_destroy(options);
}

IMD_TEST(set_errors)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    CHECK_FAILS(error, imd_options_set(&error, options, "", "x"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_options_set(&error, options, NULL, "x"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_options_set(&error, NULL, "k", "x"), IMD_ERR_INVALID_ARG);
    CHECK_INT(imd_options_count(options), 0);
    /* error may be NULL. */
    CHECK(!imd_options_set(NULL, options, "", "x"));
    imd_options_destroy(options);
}

IMD_TEST(null_safety)
{
    imd_options_destroy(NULL);
    CHECK_STR(imd_options_get(NULL, "k", "fallback"), "fallback");
    CHECK(!imd_options_has(NULL, "k"));
    CHECK_INT(imd_options_count(NULL), 0);
    CHECK(imd_options_key(NULL, 0) == NULL);
    CHECK(imd_options_value(NULL, 0) == NULL);

    ImdError *error = NULL;
    bool flag = false;
    int64_t number = 0;
    double real = 0.0;
    CHECK_OK(error, imd_options_get_bool(&error, NULL, "k", true, &flag));
    CHECK(flag);
    CHECK_OK(error, imd_options_get_int(&error, NULL, "k", -7, &number));
    CHECK_INT(number, -7);
    CHECK_OK(error, imd_options_get_double(&error, NULL, "k", 2.5, &real));
    CHECK_NEAR(real, 2.5, 0.0);
    CHECK_FAILS(error, imd_options_get_bool(&error, NULL, "k", true, NULL), IMD_ERR_INVALID_ARG);

    /* Cloning NULL gives an empty set. */
    ImdOptions *clone = imd_options_clone(&error, NULL);
    CHECK(clone != NULL);
    CHECK_INT(imd_options_count(clone), 0);
    imd_options_destroy(clone);
}

IMD_TEST(set_pair)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    CHECK_OK(error, imd_options_set_pair(&error, options, "time=TriggerTime"));
    CHECK_STR(imd_options_get(options, "time", NULL), "TriggerTime");
    CHECK_OK(error, imd_options_set_pair(&error, options, "  ti \t=  'InversionTime'  "));
    CHECK_STR(imd_options_get(options, "ti", NULL), "InversionTime");
    CHECK_OK(error, imd_options_set_pair(&error, options, "a=\"quoted value\""));
    CHECK_STR(imd_options_get(options, "a", NULL), "quoted value");
    /* Only one pair, only matching quotes. */
    CHECK_OK(error, imd_options_set_pair(&error, options, "b=''x''"));
    CHECK_STR(imd_options_get(options, "b", NULL), "'x'");
    CHECK_OK(error, imd_options_set_pair(&error, options, "c='x\""));
    CHECK_STR(imd_options_get(options, "c", NULL), "'x\"");
    CHECK_OK(error, imd_options_set_pair(&error, options, "d='"));
    CHECK_STR(imd_options_get(options, "d", NULL), "'");
    CHECK_OK(error, imd_options_set_pair(&error, options, "e=''"));
    CHECK_STR(imd_options_get(options, "e", NULL), "");
    /* Blanks inside the quotes stay; the value may hold '='. */
    CHECK_OK(error, imd_options_set_pair(&error, options, "f=' x '"));
    CHECK_STR(imd_options_get(options, "f", NULL), " x ");
    CHECK_OK(error, imd_options_set_pair(&error, options, "g=a=b"));
    CHECK_STR(imd_options_get(options, "g", NULL), "a=b");
    CHECK_OK(error, imd_options_set_pair(&error, options, "h="));
    CHECK_STR(imd_options_get(options, "h", NULL), "");
    /* set_pair overrides in place too. */
    CHECK_OK(error, imd_options_set_pair(&error, options, "time = AcquisitionTime"));
    CHECK_STR(imd_options_key(options, 0), "time");
    CHECK_STR(imd_options_value(options, 0), "AcquisitionTime");
    CHECK_INT(imd_options_count(options), 10);

    CHECK_FAILS(error, imd_options_set_pair(&error, options, "novalue"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_options_set_pair(&error, options, "=x"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_options_set_pair(&error, options, "  =x"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_options_set_pair(&error, options, ""), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_options_set_pair(&error, options, NULL), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_options_set_pair(&error, NULL, "a=b"), IMD_ERR_INVALID_ARG);
    /* The message names the input. */
    CHECK(!imd_options_set_pair(&error, options, "novalue"));
    CHECK(strstr(imd_error_message(error), "novalue") != NULL);
    imd_error_clear(&error);
    CHECK_INT(imd_options_count(options), 10);
    imd_options_destroy(options);
}

IMD_TEST(get_bool)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    static const char *const truths[] = {"true", "True", "TRUE", "yes", "Yes", "on", "ON", "1"};
    static const char *const falsehoods[] = {"false", "False", "no", "NO", "off", "Off", "0"};
    for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
        bool value = false;
        CHECK_OK(error, imd_options_set(&error, options, "flag", truths[i]));
        CHECK_OK(error, imd_options_get_bool(&error, options, "flag", false, &value));
        CHECK(value);
    }
    for (size_t i = 0; i < sizeof falsehoods / sizeof falsehoods[0]; i++) {
        bool value = true;
        CHECK_OK(error, imd_options_set(&error, options, "flag", falsehoods[i]));
        CHECK_OK(error, imd_options_get_bool(&error, options, "flag", true, &value));
        CHECK(!value);
    }
    bool value = false;
    CHECK_OK(error, imd_options_get_bool(&error, options, "absent", true, &value));
    CHECK(value);

    static const char *const bad[] = {"maybe", "", "2", "tru", "truex", " true", "yes "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_OK(error, imd_options_set(&error, options, "flag", bad[i]));
        value = true;
        CHECK_FAILS(error, imd_options_get_bool(&error, options, "flag", false, &value),
                    IMD_ERR_INVALID_ARG);
    }
    CHECK_OK(error, imd_options_set(&error, options, "accept_duplicate_tag", "maybe"));
    CHECK(!imd_options_get_bool(&error, options, "accept_duplicate_tag", false, &value));
    CHECK_STR(imd_error_message(error),
              "option \"accept_duplicate_tag\": \"maybe\" is not a boolean");
    imd_error_clear(&error);
    imd_options_destroy(options);
}

IMD_TEST(get_int)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    int64_t value = 0;
    CHECK_OK(error, imd_options_get_int(&error, options, "n", 42, &value));
    CHECK_INT(value, 42);
    static const struct {
        const char *text;
        int64_t value;
    } good[] = {{"0", 0},
                {"17", 17},
                {"-5", -5},
                {"+8", 8},
                {"007", 7},
                {"9223372036854775807", INT64_MAX},
                {"-9223372036854775808", INT64_MIN}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK_OK(error, imd_options_set(&error, options, "n", good[i].text));
        CHECK_OK(error, imd_options_get_int(&error, options, "n", 0, &value));
        CHECK_INT(value, good[i].value);
    }
    static const char *const bad[] = {"",     "x",   "12a",  "1.5", " 3", "3 ",
                                      "0x10", "1e3", "--1",  "-",   "+",
                                      "9223372036854775808", "-9223372036854775809"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_OK(error, imd_options_set(&error, options, "n", bad[i]));
        value = 99;
        CHECK_FAILS(error, imd_options_get_int(&error, options, "n", 0, &value),
                    IMD_ERR_INVALID_ARG);
        CHECK_INT(value, 99); /* untouched on failure */
    }
    CHECK_OK(error, imd_options_set(&error, options, "sernum", "12a"));
    CHECK(!imd_options_get_int(&error, options, "sernum", 0, &value));
    CHECK(strstr(imd_error_message(error), "sernum") != NULL);
    CHECK(strstr(imd_error_message(error), "12a") != NULL);
    imd_error_clear(&error);
    imd_options_destroy(options);
}

IMD_TEST(get_double)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    double value = 0.0;
    CHECK_OK(error, imd_options_get_double(&error, options, "x", 1.25, &value));
    CHECK_NEAR(value, 1.25, 0.0);
    static const struct {
        const char *text;
        double value;
    } good[] = {{"0", 0.0}, {"2.5", 2.5}, {"-1e3", -1000.0}, {".5", 0.5}, {"7", 7.0}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK_OK(error, imd_options_set(&error, options, "x", good[i].text));
        CHECK_OK(error, imd_options_get_double(&error, options, "x", 0.0, &value));
        CHECK_NEAR(value, good[i].value, 1e-12);
    }
    static const char *const bad[] = {"", "abc", "1.5x", " 1", "1 ", "nan", "inf", "-inf",
                                      "1e999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_OK(error, imd_options_set(&error, options, "x", bad[i]));
        value = 3.0;
        CHECK_FAILS(error, imd_options_get_double(&error, options, "x", 0.0, &value),
                    IMD_ERR_INVALID_ARG);
        CHECK_NEAR(value, 3.0, 0.0);
    }
    imd_options_destroy(options);
}

IMD_TEST(clone_and_merge)
{
    ImdError *error = NULL;
    ImdOptions *a = imd_options_create(&error);
    ImdOptions *b = imd_options_create(&error);
    REQUIRE(a != NULL && b != NULL);
    CHECK_OK(error, imd_options_set(&error, a, "one", "1"));
    CHECK_OK(error, imd_options_set(&error, a, "two", "2"));
    CHECK_OK(error, imd_options_set(&error, b, "three", "3"));
    CHECK_OK(error, imd_options_set(&error, b, "one", "uno"));

    ImdOptions *clone = imd_options_clone(&error, a);
    REQUIRE(clone != NULL);
    CHECK_INT(imd_options_count(clone), 2);
    CHECK_STR(imd_options_key(clone, 1), "two");
    /* The clone is independent. */
    CHECK_OK(error, imd_options_set(&error, clone, "two", "zwei"));
    CHECK_STR(imd_options_get(a, "two", NULL), "2");

    CHECK_OK(error, imd_options_merge(&error, a, b));
    CHECK_INT(imd_options_count(a), 3);
    CHECK_STR(imd_options_key(a, 0), "one");
    CHECK_STR(imd_options_value(a, 0), "uno");
    CHECK_STR(imd_options_key(a, 1), "two");
    CHECK_STR(imd_options_key(a, 2), "three");
    CHECK_INT(imd_options_count(b), 2); /* the source is unchanged */

    /* Merging NULL or itself changes nothing. */
    CHECK_OK(error, imd_options_merge(&error, a, NULL));
    CHECK_OK(error, imd_options_merge(&error, a, a));
    CHECK_INT(imd_options_count(a), 3);
    CHECK_FAILS(error, imd_options_merge(&error, NULL, b), IMD_ERR_INVALID_ARG);

    /* Many keys: the array grows and lookups stay right. */
    char key[32], value[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "v%d", i);
        CHECK_OK(error, imd_options_set(&error, clone, key, value));
    }
    CHECK_INT(imd_options_count(clone), 202);
    CHECK_STR(imd_options_get(clone, "k150", NULL), "v150");
    CHECK_STR(imd_options_key(clone, 201), "k199");
    imd_options_destroy(clone);
    imd_options_destroy(a);
    imd_options_destroy(b);
}

IMD_TEST(get_choice)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    static const char *const sorts[] = {"slice", "tag", NULL};
    size_t index = 99;
    CHECK_OK(error, imd_options_get_choice(&error, options, "output_sort", sorts, 7, &index));
    CHECK_INT(index, 7); /* absent: the fallback */
    CHECK_OK(error, imd_options_set(&error, options, "output_sort", "tag"));
    CHECK_OK(error, imd_options_get_choice(&error, options, "output_sort", sorts, 0, &index));
    CHECK_INT(index, 1);
    static const char *const bad[] = {"Tag", "", "tags", " tag", "slice,tag"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_OK(error, imd_options_set(&error, options, "output_sort", bad[i]));
        index = 99;
        CHECK_FAILS(error, imd_options_get_choice(&error, options, "output_sort", sorts, 0,
                                                  &index),
                    IMD_ERR_INVALID_ARG);
        CHECK_INT(index, 99);
    }
    CHECK_OK(error, imd_options_set(&error, options, "output_sort", "x"));
    CHECK(!imd_options_get_choice(&error, options, "output_sort", sorts, 0, &index));
    CHECK_STR(imd_error_message(error), "option \"output_sort\": \"x\" is not slice or tag");
    imd_error_clear(&error);
    CHECK_FAILS(error, imd_options_get_choice(&error, options, "output_sort", NULL, 0, &index),
                IMD_ERR_INVALID_ARG);
    imd_options_destroy(options);
}

static const char *const test_choices[] = {"a", "b", "c", NULL};
static const ImdOptionSpec test_specs[] = {
    {"s", IMD_OPTION_STRING, "text", NULL},    {"f", IMD_OPTION_BOOL, "flag", NULL},
    {"n", IMD_OPTION_INT, "count", NULL},      {"x", IMD_OPTION_DOUBLE, "number", NULL},
    {"o", IMD_OPTION_ORDER, "order", NULL},    {"c", IMD_OPTION_CHOICE, "one of", test_choices},
    {NULL, 0, NULL, NULL},
};

IMD_TEST(spec_check)
{
    ImdError *error = NULL;
    CHECK(imd_option_spec_find(test_specs, "x") == &test_specs[3]);
    CHECK(imd_option_spec_find(test_specs, "nope") == NULL);
    CHECK(imd_option_spec_find(NULL, "x") == NULL);
    CHECK(imd_option_spec_find(test_specs, NULL) == NULL);
    static const struct {
        const char *key, *value;
        bool ok;
        const char *message;
    } cases[] = {
        {"s", "", true, NULL},
        {"s", "anything at all", true, NULL},
        {"f", "True", true, NULL},
        {"f", "ture", false, "option \"f\": \"ture\" is not a boolean"},
        {"n", "-3", true, NULL},
        {"n", "3.5", false, "option \"n\": \"3.5\" is not an integer"},
        {"x", "1e-4", true, NULL},
        {"x", "abc", false, "option \"x\": \"abc\" is not a number"},
        {"o", "time, te", true, NULL},
        {"o", "auto", true, NULL},
        {"o", "time,,b", false, "option \"o\": \"time,,b\": component 2 is empty"},
        {"c", "b", true, NULL},
        {"c", "d", false, "option \"c\": \"d\" is not a, b or c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ImdOptionSpec *spec = imd_option_spec_find(test_specs, cases[i].key);
        REQUIRE(spec != NULL);
        bool ok = imd_option_spec_check(&error, spec, cases[i].value);
        if (ok != cases[i].ok) {
            IMD_FAIL_AT("%s=%s: %s", cases[i].key, cases[i].value,
                        ok ? "accepted" : imd_error_message(error));
        } else if (!ok) {
            CHECK_INT(imd_error_code(error), IMD_ERR_INVALID_ARG);
            CHECK_STR(imd_error_message(error), cases[i].message);
        }
        imd_error_clear(&error);
    }
    ImdOptionSpec unknown_type = {"u", 99, "?", NULL};
    CHECK_FAILS(error, imd_option_spec_check(&error, &unknown_type, "1"), IMD_ERR_INVALID_ARG);
    ImdOptionSpec no_choices = {"c", IMD_OPTION_CHOICE, "?", NULL};
    CHECK_FAILS(error, imd_option_spec_check(&error, &no_choices, "a"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_option_spec_check(&error, NULL, "a"), IMD_ERR_INVALID_ARG);

    /* A store: declared entries are checked, the others left to the pipeline. */
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    CHECK_OK(error, imd_options_check(&error, NULL, test_specs));
    CHECK_OK(error, imd_options_set(&error, options, "undeclared", "whatever"));
    CHECK_OK(error, imd_options_set(&error, options, "f", "no"));
    CHECK_OK(error, imd_options_set(&error, options, "c", "a"));
    CHECK_OK(error, imd_options_check(&error, options, test_specs));
    CHECK_OK(error, imd_options_check(&error, options, NULL));
    CHECK_OK(error, imd_options_set(&error, options, "x", "1.5x"));
    CHECK(!imd_options_check(&error, options, test_specs));
    CHECK_STR(imd_error_message(error), "option \"x\": \"1.5x\" is not a number");
    imd_error_clear(&error);
    imd_options_destroy(options);
}

/* Every option table of the built-in formats is well-formed: names once, known types. */
IMD_TEST(builtin_tables)
{
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    REQUIRE(context != NULL);
    size_t formats = imd_context_format_count(context), declared = 0;
    CHECK(formats >= 4);
    for (size_t f = 0; f < formats; f++) {
        const ImdFormatPlugin *format = imd_context_format(context, f);
        REQUIRE(format->struct_size >= sizeof(ImdFormatPlugin));
        if (format->options == NULL) {
            IMD_FAIL_AT("%s declares no options", format->name);
            continue;
        }
        for (const ImdOptionSpec *spec = format->options; spec->name != NULL; spec++) {
            declared++;
            CHECK(spec->type >= IMD_OPTION_STRING && spec->type <= IMD_OPTION_CHOICE);
            CHECK(spec->description != NULL && spec->description[0] != '\0');
            CHECK((spec->type == IMD_OPTION_CHOICE) == (spec->choices != NULL));
            if (imd_option_spec_find(format->options, spec->name) != spec) {
                IMD_FAIL_AT("%s declares %s twice", format->name, spec->name);
            }
        }
        /* Every format reading an order declares it as one; pictures and PostScript
         * pages have no tag axis and read none (docs/formats.md). */
        const ImdOptionSpec *order = imd_option_spec_find(format->options, "input_order");
        bool pictures = strcmp(format->name, "png") == 0 || strcmp(format->name, "jpeg") == 0 ||
                        strcmp(format->name, "tiff") == 0 || strcmp(format->name, "ps") == 0;
        CHECK(pictures ? order == NULL : order != NULL && order->type == IMD_OPTION_ORDER);
    }
    CHECK(declared >= 30);
    imd_context_destroy(context);
}

/* The pipeline refuses before reading or writing anything (a path that does not exist
 * would otherwise be the error). */
IMD_TEST(pipeline_refuses)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    const char *url = "/nonexistent/imagedata/input";
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        {"accept_duplicate_tag", "ture",
         "option \"accept_duplicate_tag\": \"ture\" is not a boolean"},
        {"slice_tolerance", "abc", "option \"slice_tolerance\": \"abc\" is not a number"},
        {"gzip_level", "six", "option \"gzip_level\": \"six\" is not an integer"},
        {"output_sort", "tags", "option \"output_sort\": \"tags\" is not slice or tag"},
        {"mat_version", "6", "option \"mat_version\": \"6\" is not 5, v5, 7, 7.3, v7.3 or 73"},
        {"input_order", "time,,b", "option \"input_order\": \"time,,b\": component 2 is empty"},
        {"no_such_option", "1",
         "option \"no_such_option\" (value \"1\") is unknown: neither the pipeline nor a format "
         "(dicom, nifti, itk, mat, png, jpeg, tiff, ps) reads it, and the input order has no such "
         "component"},
    };
    const size_t shape[3] = {2, 3, 4};
    ImdSeries *series = imd_series_create(&error, IMD_DTYPE_UINT8, 3, shape);
    REQUIRE(series != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ImdOptions *one = imd_options_create(&error);
        REQUIRE(one != NULL);
        CHECK_OK(error, imd_options_set(&error, one, cases[i].key, cases[i].value));
        CHECK(imd_read(&error, NULL, &url, 1, one) == NULL);
        CHECK_INT(imd_error_code(error), IMD_ERR_INVALID_ARG);
        const char *message = imd_error_message(error);
        if (strstr(message != NULL ? message : "", cases[i].message) == NULL) {
            IMD_FAIL_AT("read with %s=%s: \"%s\", expected \"%s\"", cases[i].key,
                        cases[i].value, message, cases[i].message);
        }
        imd_error_clear(&error);
        CHECK_FAILS(error, imd_write(&error, NULL, series, "/nonexistent/imagedata/out.nii",
                                     "nifti", one),
                    IMD_ERR_INVALID_ARG);
        imd_options_destroy(one);
    }
    /* Valid options pass the check (the read then fails on the missing path). */
    static const char *const valid[] = {"accept_duplicate_tag=True", "slice_tolerance=0.5",
                                        "input_order=ti", "ti=InversionTime", "gzip=false",
                                        "output_sort=tag", "calling_aet=ME", "mat_version=7.3",
                                        "time=TriggerTime", "input_sort=tag"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        CHECK_OK(error, imd_options_set_pair(&error, options, valid[i]));
    }
    CHECK(imd_read(&error, NULL, &url, 1, options) == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_NOT_FOUND);
    imd_error_clear(&error);
    /* A user's order name is known only as a component of the order. */
    CHECK_OK(error, imd_options_set(&error, options, "input_order", "time"));
    CHECK(imd_read(&error, NULL, &url, 1, options) == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_INVALID_ARG);
    CHECK(strstr(imd_error_message(error), "option \"ti\"") != NULL);
    imd_error_clear(&error);
    imd_series_destroy(series);
    imd_options_destroy(options);
}

IMD_TEST_MAIN(IMD_CASE(set_get_and_order), IMD_CASE(set_errors), IMD_CASE(null_safety),
              IMD_CASE(set_pair), IMD_CASE(get_bool), IMD_CASE(get_int), IMD_CASE(get_double),
              IMD_CASE(clone_and_merge), IMD_CASE(get_choice), IMD_CASE(spec_check),
              IMD_CASE(builtin_tables), IMD_CASE(pipeline_refuses))
