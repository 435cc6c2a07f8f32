/*
 * test_input_order.c: the one input order parser (src/base/input_order.c)
 * and its users in the model (imd_series_set_input_order,
 * imd_header_set_input_order). The expected components are written out by
 * hand from the grammar in docs/c-api.md ("Input orders").
 */
#include "imd_test.h"
#include "internal.h"

static void expect_order(const char *text, size_t count, const char *const *names,
                         bool automatic, bool none)
{
    ImdError *error = NULL;
    ImdInputOrder order;
    bool ok = imd__input_order_parse(&error, text, &order);
    if (!ok) {
        IMD_FAIL_AT("\"%s\": %s", text, imd_error_message(error));
        imd_error_clear(&error);
        return;
    }
    CHECK_INT(order.count, count);
    CHECK(order.automatic == automatic);
    CHECK(order.none == none);
    for (size_t i = 0; i < count && i < order.count; i++) {
        CHECK_STR(order.names[i], names[i]);
        CHECK_INT(imd__input_order_find(&order, names[i]), i);
    }
    imd__input_order_clear(&order);
    CHECK_INT(order.count, 0);
}

IMD_TEST(valid_orders)
{
    expect_order("auto", 0, NULL, true, false);
    expect_order("  auto ", 0, NULL, true, false);
    static const char *const none[] = {"none"};
    expect_order("none", 1, none, false, true);
    static const char *const time[] = {"time"};
    expect_order("time", 1, time, false, false);
    static const char *const time_te[] = {"time", "te"};
    expect_order("time,te", 2, time_te, false, false);
    expect_order(" time , te ", 2, time_te, false, false);
    expect_order("time,\tte", 2, time_te, false, false);
    static const char *const five[] = {"a", "b", "c", "d", "e"};
    expect_order("a,b,c,d,e", 5, five, false, false);
    static const char *const odd[] = {"echo_2", "x-y", "v1.5"};
    expect_order("echo_2,x-y,v1.5", 3, odd, false, false);
    /* none may name one axis of several (a 6D series' default names). */
    static const char *const none_more[] = {"none", "unknown1"};
    expect_order("none,unknown1", 2, none_more, false, false);
    /* IMD_INPUT_ORDER_NAME_MAX (128) characters is the longest name. */
    char longest[IMD_INPUT_ORDER_NAME_MAX + 1];
    memset(longest, 'n', IMD_INPUT_ORDER_NAME_MAX);
    longest[IMD_INPUT_ORDER_NAME_MAX] = '\0';
    const char *const one[] = {longest};
    expect_order(longest, 1, one, false, false);
}

static void expect_bad(const char *text)
{
    ImdError *error = NULL;
    ImdInputOrder order;
    CHECK_FAILS(error, imd__input_order_parse(&error, text, &order), IMD_ERR_INVALID_ARG);
    CHECK_INT(order.count, 0); /* initialised, nothing left to free */
    CHECK(!order.automatic);
}

static void expect_message(const char *text, const char *message)
{
    ImdError *error = NULL;
    ImdInputOrder order;
    CHECK(!imd__input_order_parse(&error, text, &order));
    if (error == NULL) {
        IMD_FAIL_AT("\"%s\" parsed", text);
        return;
    }
    CHECK_STR(imd_error_message(error), message);
    CHECK_INT(imd_error_code(error), IMD_ERR_INVALID_ARG);
    imd_error_clear(&error);
}

IMD_TEST(malformed_orders)
{
    static const char *const bad[] = {"",          ",",           "time,",      ",time",
                                      "time,,b",   " , ",         "a b",        "ti=x",
                                      "time;te",   "a,b,c,d,e,f", "time,time",  "auto,time",
                                      "time,auto", "t\xc3\xa9",   "a\nb",       "\"time\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_bad(bad[i]);
    }
    char too_long[IMD_INPUT_ORDER_NAME_MAX + 2];
    memset(too_long, 'n', IMD_INPUT_ORDER_NAME_MAX + 1);
    too_long[IMD_INPUT_ORDER_NAME_MAX + 1] = '\0';
    expect_bad(too_long);
    /* The messages name the order, the component and the reason. */
    expect_message("time,,b", "input order \"time,,b\": component 2 is empty");
    expect_message("", "input order \"\": component 1 is empty");
    expect_message("a,b,c,d,e,f",
                   "input order \"a,b,c,d,e,f\": component 6 is one too many (at most 5)");
    expect_message("time,time", "input order \"time,time\": component 2 repeats an earlier one");
    expect_message("time,auto", "input order \"time,auto\": component 2 is auto, which stands "
                                "alone");
    expect_message("a b", "input order \"a b\": component 1 is not a name (letters, digits, "
                          "'_', '-', '.')");
    ImdError *message_error = NULL;
    ImdInputOrder unused;
    CHECK(!imd__input_order_parse(&message_error, too_long, &unused));
    REQUIRE(message_error != NULL);
    /* The first 80 characters of the order, "...", then the reason. */
    CHECK(strstr(imd_error_message(message_error),
                 "...\": component 1 is longer than 128 characters") != NULL);
    imd_error_clear(&message_error);
    ImdError *error = NULL;
    ImdInputOrder order;
    CHECK_FAILS(error, imd__input_order_parse(&error, NULL, &order), IMD_ERR_INVALID_ARG);
}

IMD_TEST(long_order_is_cut_visibly_in_messages)
{
    /* A very long order is an error (never cut to fit); the message shows its
     * first 80 characters and "...". */
    char text[400];
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "%sname%02d", i > 0 ? "," : "", i);
    }
    ImdError *error = NULL;
    ImdInputOrder order;
    CHECK(!imd__input_order_parse(&error, text, &order));
    REQUIRE(error != NULL);
    CHECK(strstr(imd_error_message(error), "...\": component 6 is one too many") != NULL);
    CHECK(strncmp(imd_error_message(error) + strlen("input order \""), text, 80) == 0);
    imd_error_clear(&error);
}

IMD_TEST(options_name_the_option)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    ImdInputOrder order;
    CHECK_OK(error, imd__input_order_from_options(&error, options, &order));
    CHECK(order.automatic); /* absent: auto */
    imd__input_order_clear(&order);
    CHECK_OK(error, imd_options_set(&error, options, "input_order", "time,,b"));
    CHECK(!imd__input_order_from_options(&error, options, &order));
    REQUIRE(error != NULL);
    CHECK_STR(imd_error_message(error), "option \"input_order\": \"time,,b\": component 2 is "
                                        "empty");
    imd_error_clear(&error);
    imd_options_destroy(options);
}

IMD_TEST(series_and_header_use_the_parser)
{
    ImdError *error = NULL;
    const size_t shape[4] = {3, 2, 4, 5};
    ImdSeries *series = imd_series_create(&error, IMD_DTYPE_UINT8, 4, shape);
    REQUIRE(series != NULL);
    CHECK_OK(error, imd_series_set_input_order(&error, series, " te "));
    CHECK_STR(imd_axis_name(imd_series_axis(series, 0)), "te");
    CHECK_STR(imd_header_input_order(imd_series_header(series)), " te ");
    static const char *const bad[] = {"", "te,,", "auto", "a,a", "a b", "time,te,fa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_FAILS(error, imd_series_set_input_order(&error, series, bad[i]),
                    IMD_ERR_INVALID_ARG);
        /* Nothing changed by a refused order. */
        CHECK_STR(imd_axis_name(imd_series_axis(series, 0)), "te");
        CHECK_STR(imd_header_input_order(imd_series_header(series)), " te ");
    }
    ImdHeader *header = imd_series_header(series);
    CHECK_FAILS(error, imd_header_set_input_order(&error, header, "auto"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_input_order(&error, header, "b,,c"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_input_order(&error, header, NULL), IMD_ERR_INVALID_ARG);
    CHECK_OK(error, imd_header_set_input_order(&error, header, "b"));
    CHECK_STR(imd_header_input_order(header), "b");
    imd_series_destroy(series);
}

IMD_TEST(suffixes)
{
    CHECK(imd__has_suffix("x.nii.gz", ".nii.gz"));
    CHECK(imd__has_suffix("X.NII.GZ", ".nii.gz"));
    CHECK(imd__has_suffix("dir/IM.Dcm", ".dcm"));
    CHECK(!imd__has_suffix(".dcm", ".dcm")); /* no stem */
    CHECK(!imd__has_suffix("x.nii", ".nii.gz"));
    CHECK(!imd__has_suffix("x.dcmx", ".dcm"));
    CHECK(!imd__has_suffix("", ".raw"));
    CHECK(imd__has_suffix("a.raw", ".RAW"));
}

IMD_TEST_MAIN(IMD_CASE(valid_orders), IMD_CASE(malformed_orders),
              IMD_CASE(long_order_is_cut_visibly_in_messages), IMD_CASE(options_name_the_option),
              IMD_CASE(series_and_header_use_the_parser), IMD_CASE(suffixes))
