/* test_error.c: the error model (design.md §3.5). */
#include "imd_test.h"

IMD_TEST(set_and_clear)
{
    ImdError *error = NULL;
    imd_error_set(&error, IMD_ERR_CORRUPT, "%s: odd length %d", "a.dcm", 7);
    REQUIRE(error != NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_CORRUPT);
    CHECK_STR(imd_error_message(error), "a.dcm: odd length 7");
    imd_error_clear(&error);
    CHECK(error == NULL);
    imd_error_clear(&error); /* twice is fine */
    imd_error_clear(NULL);
    CHECK_INT(imd_error_code(NULL), 0);
    CHECK_STR(imd_error_message(NULL), "");
}

IMD_TEST(first_error_wins)
{
    ImdError *error = NULL;
    imd_error_set(&error, IMD_ERR_IO, "first");
    imd_error_set(&error, IMD_ERR_CORRUPT, "second");
    CHECK_INT(imd_error_code(error), IMD_ERR_IO);
    CHECK_STR(imd_error_message(error), "first");
    imd_error_clear(&error);
}

IMD_TEST(null_error_pointer)
{
    imd_error_set(NULL, IMD_ERR_IO, "nobody listens");
    imd_error_prefix(NULL, "x");
    ImdError *none = NULL;
    imd_error_prefix(&none, "x: "); /* nothing to prefix */
    CHECK(none == NULL);
}

IMD_TEST(prefix_adds_context)
{
    ImdError *error = NULL;
    imd_error_set(&error, IMD_ERR_CORRUPT, "(0028,0010): odd length 7");
    imd_error_prefix(&error, "%s: ", "IM0003");
    CHECK_STR(imd_error_message(error), "IM0003: (0028,0010): odd length 7");
    CHECK_INT(imd_error_code(error), IMD_ERR_CORRUPT);
    imd_error_clear(&error);
}

IMD_TEST(propagate)
{
    ImdError *inner = NULL, *outer = NULL;
    imd_error_set(&inner, IMD_ERR_NETWORK, "refused");
    imd_error_propagate(&outer, inner);
    CHECK_INT(imd_error_code(outer), IMD_ERR_NETWORK);
    ImdError *late = NULL;
    imd_error_set(&late, IMD_ERR_IO, "late");
    imd_error_propagate(&outer, late); /* outer is set: late is freed, not leaked */
    CHECK_STR(imd_error_message(outer), "refused");
    imd_error_propagate(NULL, NULL);
    imd_error_clear(&outer);
}

IMD_TEST(code_names_are_stable)
{
    /* The values are ABI: append only (error.h). */
    static const struct {
        ImdErrorCode code;
        int value;
        const char *name;
    } expected[] = {
        {IMD_ERR_NOMEM, 1, "IMD_ERR_NOMEM"},
        {IMD_ERR_INVALID_ARG, 2, "IMD_ERR_INVALID_ARG"},
        {IMD_ERR_IO, 3, "IMD_ERR_IO"},
        {IMD_ERR_CORRUPT, 4, "IMD_ERR_CORRUPT"},
        {IMD_ERR_UNSUPPORTED, 5, "IMD_ERR_UNSUPPORTED"},
        {IMD_ERR_NOT_RECOGNIZED, 6, "IMD_ERR_NOT_RECOGNIZED"},
        {IMD_ERR_CANNOT_SORT, 7, "IMD_ERR_CANNOT_SORT"},
        {IMD_ERR_LIMIT, 8, "IMD_ERR_LIMIT"},
        {IMD_ERR_NOT_FOUND, 9, "IMD_ERR_NOT_FOUND"},
        {IMD_ERR_NETWORK, 10, "IMD_ERR_NETWORK"},
        {IMD_ERR_PROTOCOL, 11, "IMD_ERR_PROTOCOL"},
        {IMD_ERR_PLUGIN_ABI, 12, "IMD_ERR_PLUGIN_ABI"},
        {IMD_ERR_INTERNAL, 13, "IMD_ERR_INTERNAL"},
        {IMD_ERR_BAD_STATE, 14, "IMD_ERR_BAD_STATE"},
        {IMD_ERR_CANCELLED, 15, "IMD_ERR_CANCELLED"},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        CHECK_INT(expected[i].code, expected[i].value);
        CHECK_STR(imd_error_code_name(expected[i].code), expected[i].name);
        CHECK(strlen(imd_error_code_description(expected[i].code)) > 0);
    }
    CHECK_STR(imd_error_code_name((ImdErrorCode)99), "IMD_ERR_UNKNOWN");
}

IMD_TEST(long_messages)
{
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ImdError *error = NULL;
    imd_error_set(&error, IMD_ERR_IO, "%s", big);
    CHECK_INT(strlen(imd_error_message(error)), sizeof big - 1);
    imd_error_clear(&error);
}

IMD_TEST_MAIN(IMD_CASE(set_and_clear), IMD_CASE(first_error_wins), IMD_CASE(null_error_pointer),
              IMD_CASE(prefix_adds_context), IMD_CASE(propagate),
              IMD_CASE(code_names_are_stable), IMD_CASE(long_messages))
