/* test_axis.c: uniform and variable axes (behaviour.md §1.4). */
#include "imd_test.h"
#include "model/model_internal.h"

/* The numbers of `axis` equal `want` (length and values, to 1e-12). */
static void check_numbers(const ImdAxis *axis, const double *want, size_t count, int line)
{
    if (axis == NULL) {
        fprintf(stderr, "%s:%d: FAIL: no axis\n", __FILE__, line);
        imd_test_failures++;
        return;
    }
    if (imd_axis_length(axis) != count) {
        fprintf(stderr, "%s:%d: FAIL: length %zu, expected %zu\n", __FILE__, line,
                imd_axis_length(axis), count);
        imd_test_failures++;
        return;
    }
    for (size_t i = 0; i < count; i++) {
        double got = imd_axis_number(axis, i);
        if (!(fabs(got - want[i]) <= 1e-12)) {
            fprintf(stderr, "%s:%d: FAIL: value %zu is %.17g, expected %.17g\n", __FILE__, line,
                    i, got, want[i]);
            imd_test_failures++;
        }
    }
}
#define CHECK_NUMBERS(axis, ...)                                                           \
    do {                                                                                   \
        const double want_[] = {__VA_ARGS__};                                              \
        check_numbers((axis), want_, sizeof want_ / sizeof want_[0], __LINE__);            \
    } while (0)

/* ---- uniform axes --------------------------------------------------------- */

IMD_TEST(uniform_basics)
{
    ImdError *error = NULL;
    ImdAxis *axis = imd_axis_create_uniform(&error, "row", -10.5, 0.5, 4);
    REQUIRE(axis != NULL);
    CHECK(error == NULL);
    CHECK_INT(imd_axis_kind(axis), IMD_AXIS_UNIFORM);
    CHECK_STR(imd_axis_name(axis), "row");
    CHECK_STR(imd_axis_unit(axis), "mm");
    CHECK_INT(imd_axis_length(axis), 4);
    CHECK_INT(imd_axis_value_kind(axis), IMD_VALUE_NUMBER);
    CHECK(imd_axis_start(axis) == -10.5);
    double step = 0;
    CHECK(imd_axis_step(axis, &step));
    CHECK(step == 0.5);
    CHECK_NUMBERS(axis, -10.5, -10.0, -9.5, -9.0);
    ImdValue value;
    CHECK(imd_axis_value(axis, 3, &value));
    CHECK(value.kind == IMD_VALUE_NUMBER && value.count == 1 && value.v[0] == -9.0);
    CHECK(!imd_axis_value(axis, 4, &value));
    CHECK(isnan(imd_axis_number(axis, 4)));
    CHECK(imd_axis_string(axis, 0) == NULL);
    imd_axis_destroy(axis);
}

IMD_TEST(uniform_slicing)
{
    ImdError *error = NULL;
    /* UniformLengthAxis('x', 0.1, 10)[:] -> (0.1, 10.1, 1) */
    ImdAxis *x = imd_axis_create_uniform(&error, "x", 0.1, 1.0, 10);
    REQUIRE(x != NULL);
    ImdAxis *all = imd_axis_slice(&error, x, 0, 1, 10);
    REQUIRE(all != NULL);
    CHECK_INT(imd_axis_kind(all), IMD_AXIS_UNIFORM);
    CHECK_INT(imd_axis_length(all), 10);
    CHECK_NEAR(imd_axis_start(all), 0.1, 1e-12);
    double step = 0;
    CHECK(imd_axis_step(all, &step) && step == 1.0);
    /* the original's stop, start + n*step */
    CHECK_NEAR(imd_axis_start(all) + (double)imd_axis_length(all) * step, 10.1, 1e-12);
    /* [2:5] -> (2.1, 5.1, 1) */
    ImdAxis *part = imd_axis_slice(&error, x, 2, 1, 3);
    REQUIRE(part != NULL);
    CHECK_NEAR(imd_axis_start(part), 2.1, 1e-12);
    CHECK_INT(imd_axis_length(part), 3);
    CHECK_NEAR(imd_axis_start(part) + 3 * 1.0, 5.1, 1e-12);
    CHECK_STR(imd_axis_name(part), "x");

    /* UniformLengthAxis('x', 1, 10, 2)[2:6:2] -> (5, 13, 4), length 2 */
    ImdAxis *y = imd_axis_create_uniform(&error, "x", 1, 2, 10);
    REQUIRE(y != NULL);
    ImdAxis *every = imd_axis_slice(&error, y, 2, 2, 2);
    REQUIRE(every != NULL);
    CHECK_INT(imd_axis_kind(every), IMD_AXIS_UNIFORM);
    CHECK_INT(imd_axis_length(every), 2);
    CHECK(imd_axis_start(every) == 5.0);
    CHECK(imd_axis_step(every, &step) && step == 4.0);
    CHECK(imd_axis_start(every) + 2 * step == 13.0);
    CHECK_NUMBERS(every, 5, 9);

    /* UniformAxis('space', 1, 21, 2): length 10; [2:] -> (5, 21, 2), length 8 */
    ImdAxis *space = imd_axis_create_uniform(&error, "space", 1, 2, 10);
    REQUIRE(space != NULL);
    CHECK_INT(imd_axis_length(space), 10);
    CHECK(imd_axis_number(space, 9) == 19.0);
    ImdAxis *tail = imd_axis_slice(&error, space, 2, 1, 8);
    REQUIRE(tail != NULL);
    CHECK(imd_axis_start(tail) == 5.0);
    CHECK(imd_axis_step(tail, &step) && step == 2.0);
    CHECK_INT(imd_axis_length(tail), 8);
    CHECK(imd_axis_start(tail) + 8 * step == 21.0);

    /* [::-1] keeps the axis uniform with a negative step */
    ImdAxis *reversed = imd_axis_slice(&error, space, 9, -1, 10);
    REQUIRE(reversed != NULL);
    CHECK(imd_axis_step(reversed, &step) && step == -2.0);
    CHECK_NUMBERS(reversed, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);

    /* an empty slice is an empty axis */
    ImdAxis *empty = imd_axis_slice(&error, space, 10, 1, 0);
    REQUIRE(empty != NULL);
    CHECK_INT(imd_axis_length(empty), 0);

    imd_axis_destroy(empty);
    imd_axis_destroy(reversed);
    imd_axis_destroy(tail);
    imd_axis_destroy(space);
    imd_axis_destroy(every);
    imd_axis_destroy(y);
    imd_axis_destroy(part);
    imd_axis_destroy(all);
    imd_axis_destroy(x);
}

IMD_TEST(slice_out_of_range)
{
    ImdError *error = NULL;
    ImdAxis *axis = imd_axis_create_uniform(&error, "x", 0, 1, 5);
    REQUIRE(axis != NULL);
    const double v[] = {1, 2, 3};
    ImdAxis *var = imd_axis_create_numbers(&error, "b", v, 3);
    REQUIRE(var != NULL);
    CHECK_FAILS(error, imd_axis_slice(&error, axis, 0, 0, 2), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_slice(&error, axis, 5, 1, 1), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_slice(&error, axis, 0, 1, 6), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_slice(&error, axis, 2, 2, 3), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_slice(&error, axis, 1, -1, 3), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_slice(&error, axis, 4, INT64_MIN, 2), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_slice(&error, axis, 0, INT64_MAX, 2), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_slice(&error, axis, 6, 1, 0), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_slice(&error, var, 0, 2, 3), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_slice(&error, NULL, 0, 1, 1), IMD_ERR_INVALID_ARG);
    /* the boundaries themselves are fine */
    ImdAxis *ok = imd_axis_slice(&error, axis, 0, 4, 2);
    CHECK(ok != NULL);
    CHECK_NUMBERS(ok, 0, 4);
    imd_axis_destroy(ok);
    ok = imd_axis_slice(&error, var, 2, -2, 2);
    CHECK_NUMBERS(ok, 3, 1);
    imd_axis_destroy(ok);
    imd_axis_destroy(var);
    imd_axis_destroy(axis);
}

/* ---- variable axes -------------------------------------------------------- */

IMD_TEST(variable_slicing)
{
    ImdError *error = NULL;
    /* VariableAxis [50, 400, 800][1:] -> [400, 800] */
    const double b[] = {50, 400, 800};
    ImdAxis *axis = imd_axis_create_numbers(&error, "b", b, 3);
    REQUIRE(axis != NULL);
    CHECK_INT(imd_axis_kind(axis), IMD_AXIS_VARIABLE);
    CHECK_STR(imd_axis_unit(axis), "s/mm2");
    ImdAxis *tail = imd_axis_slice(&error, axis, 1, 1, 2);
    REQUIRE(tail != NULL);
    CHECK_INT(imd_axis_kind(tail), IMD_AXIS_VARIABLE);
    CHECK_NUMBERS(tail, 400, 800);
    CHECK_STR(imd_axis_name(tail), "b");
    CHECK_STR(imd_axis_unit(tail), "s/mm2");

    /* [0,10,20,30,50,100,200,400,700,1000][1:8:2] -> [10,30,100,400] */
    const double t[] = {0, 10, 20, 30, 50, 100, 200, 400, 700, 1000};
    ImdAxis *time = imd_axis_create_numbers(&error, "time", t, 10);
    REQUIRE(time != NULL);
    ImdAxis *odd = imd_axis_slice(&error, time, 1, 2, 4);
    CHECK_NUMBERS(odd, 10, 30, 100, 400);
    /* [7:0:-3] -> [400, 50, 10] (numpy) */
    ImdAxis *back = imd_axis_slice(&error, time, 7, -3, 3);
    CHECK_NUMBERS(back, 400, 50, 10);
    imd_axis_destroy(back);
    imd_axis_destroy(odd);
    imd_axis_destroy(time);
    imd_axis_destroy(tail);
    imd_axis_destroy(axis);
}

IMD_TEST(step_rules)
{
    ImdError *error = NULL;
    double step = 0;
    /* uniform-looking values give their step (within 1e-4 relative) */
    const double even[] = {0.0, 2.5, 5.0, 7.50001, 10.0};
    ImdAxis *a = imd_axis_create_numbers(&error, "time", even, 5);
    CHECK(imd_axis_step(a, &step));
    CHECK(step == 2.5);
    imd_axis_destroy(a);
    /* decreasing values: a negative step */
    const double down[] = {9, 6, 3};
    a = imd_axis_create_numbers(&error, "time", down, 3);
    CHECK(imd_axis_step(a, &step) && step == -3.0);
    imd_axis_destroy(a);
    /* irregular: none */
    const double uneven[] = {0, 10, 20, 30, 50};
    a = imd_axis_create_numbers(&error, "time", uneven, 5);
    step = 42;
    CHECK(!imd_axis_step(a, &step));
    CHECK(step == 42); /* untouched */
    imd_axis_destroy(a);
    /* a difference beyond 1e-4 relative: none */
    const double near[] = {0.0, 1.0, 2.0002};
    a = imd_axis_create_numbers(&error, "x", near, 3);
    CHECK(!imd_axis_step(a, &step));
    imd_axis_destroy(a);
    /* a first difference below 1e-8: none */
    const double flat[] = {5.0, 5.0 + 1e-9, 5.0 + 2e-9};
    a = imd_axis_create_numbers(&error, "x", flat, 3);
    CHECK(!imd_axis_step(a, &step));
    imd_axis_destroy(a);
    /* a single value, or none: 1 */
    const double one[] = {52531.66};
    a = imd_axis_create_numbers(&error, "time", one, 1);
    CHECK(imd_axis_step(a, &step) && step == 1.0);
    CHECK(imd_axis_start(a) == 52531.66);
    imd_axis_destroy(a);
    a = imd_axis_create_numbers(&error, "time", NULL, 0);
    REQUIRE(a != NULL);
    CHECK(imd_axis_step(a, &step) && step == 1.0);
    CHECK(imd_axis_start(a) == 0.0);
    imd_axis_destroy(a);
    /* NaN among the values: none */
    const double nan[] = {0, NAN, 2};
    a = imd_axis_create_numbers(&error, "x", nan, 3);
    CHECK(!imd_axis_step(a, &step));
    imd_axis_destroy(a);
    /* vectors and strings: none */
    const double d1[] = {1, 0, 0}, d2[] = {0, 1, 0};
    ImdValue vectors[2] = {imd_value_vector(d1, 3), imd_value_vector(d2, 3)};
    a = imd_axis_create_variable(&error, "bvector", vectors, 2);
    REQUIRE(a != NULL);
    CHECK(!imd_axis_step(a, &step));
    CHECK(imd_axis_start(a) == 0.0);
    imd_axis_destroy(a);
    const char *const labels[] = {"liver", "spleen"};
    a = imd_axis_create_strings(&error, "label", labels, 2);
    CHECK(!imd_axis_step(a, &step));
    imd_axis_destroy(a);
    /* a single string still has step 1, as the original's rule is ordered */
    a = imd_axis_create_strings(&error, "label", labels, 1);
    CHECK(imd_axis_step(a, &step) && step == 1.0);
    imd_axis_destroy(a);
    CHECK(!imd_axis_step(NULL, &step));
}

IMD_TEST(take)
{
    ImdError *error = NULL;
    const double t[] = {0, 10, 20, 30};
    ImdAxis *time = imd_axis_create_numbers(&error, "time", t, 4);
    REQUIRE(time != NULL);
    const size_t pick[] = {3, 0, 0};
    ImdAxis *taken = imd_axis_take(&error, time, pick, 3);
    CHECK_NUMBERS(taken, 30, 0, 0);
    CHECK_STR(imd_axis_unit(taken), "s");
    imd_axis_destroy(taken);
    /* a list index on a uniform axis gives a variable axis */
    ImdAxis *row = imd_axis_create_uniform(&error, "row", 1, 0.5, 8);
    REQUIRE(row != NULL);
    const size_t rows[] = {1, 7};
    taken = imd_axis_take(&error, row, rows, 2);
    REQUIRE(taken != NULL);
    CHECK_INT(imd_axis_kind(taken), IMD_AXIS_VARIABLE);
    CHECK_NUMBERS(taken, 1.5, 4.5);
    CHECK_STR(imd_axis_name(taken), "row");
    CHECK_STR(imd_axis_unit(taken), "mm");
    imd_axis_destroy(taken);
    /* strings */
    const char *const labels[] = {"a", "bb", "ccc"};
    ImdAxis *names = imd_axis_create_strings(&error, "label", labels, 3);
    const size_t which[] = {2, 1};
    taken = imd_axis_take(&error, names, which, 2);
    REQUIRE(taken != NULL);
    CHECK_STR(imd_axis_string(taken, 0), "ccc");
    CHECK_STR(imd_axis_string(taken, 1), "bb");
    imd_axis_destroy(taken);
    /* nothing taken */
    taken = imd_axis_take(&error, time, NULL, 0);
    CHECK(taken != NULL && imd_axis_length(taken) == 0);
    imd_axis_destroy(taken);
    const size_t bad[] = {0, 4};
    CHECK_FAILS(error, imd_axis_take(&error, time, bad, 2), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_take(&error, time, NULL, 2), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_take(&error, NULL, pick, 1), IMD_ERR_INVALID_ARG);
    imd_axis_destroy(names);
    imd_axis_destroy(row);
    imd_axis_destroy(time);
}

IMD_TEST(resize)
{
    ImdError *error = NULL;
    double step = 0;
    /* uniform: n values, not n + 1 (the original's copy(n) bug) */
    ImdAxis *slice = imd_axis_create_uniform(&error, "slice", 3, 1.5, 4);
    REQUIRE(slice != NULL);
    ImdAxis *longer = imd_axis_resize(&error, slice, 6);
    REQUIRE(longer != NULL);
    CHECK_INT(imd_axis_kind(longer), IMD_AXIS_UNIFORM);
    CHECK_INT(imd_axis_length(longer), 6);
    CHECK(imd_axis_step(longer, &step) && step == 1.5);
    CHECK_NUMBERS(longer, 3, 4.5, 6, 7.5, 9, 10.5);
    ImdAxis *shorter = imd_axis_resize(&error, slice, 1);
    CHECK_NUMBERS(shorter, 3);
    imd_axis_destroy(shorter);
    imd_axis_destroy(longer);

    /* variable: extrapolated by the last difference */
    const double v[] = {1, 2, 4};
    ImdAxis *var = imd_axis_create_numbers(&error, "te", v, 3);
    REQUIRE(var != NULL);
    longer = imd_axis_resize(&error, var, 5);
    CHECK_NUMBERS(longer, 1, 2, 4, 6, 8);
    CHECK_STR(imd_axis_unit(longer), "ms");
    shorter = imd_axis_resize(&error, var, 2);
    CHECK_NUMBERS(shorter, 1, 2);
    imd_axis_destroy(shorter);
    shorter = imd_axis_resize(&error, var, 0);
    CHECK(shorter != NULL && imd_axis_length(shorter) == 0);
    imd_axis_destroy(shorter);
    imd_axis_destroy(longer);
    /* one value: step 1, as imd_axis_step reports */
    const double single[] = {7};
    ImdAxis *one = imd_axis_create_numbers(&error, "x", single, 1);
    longer = imd_axis_resize(&error, one, 3);
    CHECK_NUMBERS(longer, 7, 8, 9);
    imd_axis_destroy(longer);
    imd_axis_destroy(one);

    /* strings: truncated, not extended */
    const char *const labels[] = {"a", "b", "c"};
    ImdAxis *names = imd_axis_create_strings(&error, "label", labels, 3);
    shorter = imd_axis_resize(&error, names, 2);
    REQUIRE(shorter != NULL);
    CHECK_INT(imd_axis_length(shorter), 2);
    CHECK_STR(imd_axis_string(shorter, 1), "b");
    imd_axis_destroy(shorter);
    CHECK_FAILS(error, imd_axis_resize(&error, names, 4), IMD_ERR_UNSUPPORTED);
    CHECK_FAILS(error, imd_axis_resize(&error, NULL, 4), IMD_ERR_INVALID_ARG);
    imd_axis_destroy(names);
    imd_axis_destroy(var);
    imd_axis_destroy(slice);
}

IMD_TEST(clone_is_independent)
{
    ImdError *error = NULL;
    const double v[] = {0, 1, 2};
    ImdAxis *axis = imd_axis_create_numbers(&error, "time", v, 3);
    REQUIRE(axis != NULL);
    CHECK_OK(error, imd_axis_set_unit(&error, axis, "ms"));
    ImdAxis *copy = imd_axis_clone(&error, axis);
    REQUIRE(copy != NULL);
    CHECK_OK(error, imd_axis_set_name(&error, axis, "other"));
    CHECK_OK(error, imd_axis_set_unit(&error, axis, "h"));
    imd_axis_destroy(axis);
    /* the copy outlives the original and kept its own name, unit and values */
    CHECK_STR(imd_axis_name(copy), "time");
    CHECK_STR(imd_axis_unit(copy), "ms");
    CHECK_NUMBERS(copy, 0, 1, 2);

    const char *const labels[] = {"x", "y"};
    ImdAxis *names = imd_axis_create_strings(&error, "label", labels, 2);
    REQUIRE(names != NULL);
    ImdAxis *names_copy = imd_axis_clone(&error, names);
    REQUIRE(names_copy != NULL);
    CHECK(imd_axis_string(names_copy, 0) != imd_axis_string(names, 0));
    imd_axis_destroy(names);
    CHECK_STR(imd_axis_string(names_copy, 1), "y");

    ImdAxis *uniform = imd_axis_create_uniform(&error, "column", 2, 3, 4);
    ImdAxis *uniform_copy = imd_axis_clone(&error, uniform);
    imd_axis_destroy(uniform);
    CHECK_NUMBERS(uniform_copy, 2, 5, 8, 11);
    CHECK_INT(imd_axis_kind(uniform_copy), IMD_AXIS_UNIFORM);

    CHECK_FAILS(error, imd_axis_clone(&error, NULL), IMD_ERR_INVALID_ARG);
    imd_axis_destroy(uniform_copy);
    imd_axis_destroy(names_copy);
    imd_axis_destroy(copy);
}

IMD_TEST(names_and_units)
{
    ImdError *error = NULL;
    static const struct {
        const char *name, *unit;
    } units[] = {{"slice", "mm"}, {"row", "mm"},     {"column", "mm"}, {"time", "s"},
                 {"triggertime", "s"}, {"te", "ms"}, {"b", "s/mm2"},   {"fa", "deg"},
                 {"bvector", ""},   {"none", ""},    {"unknown0", ""}, {"Time", ""}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        CHECK_STR(imd__axis_default_unit(units[i].name), units[i].unit);
        ImdAxis *axis = imd_axis_create_uniform(&error, units[i].name, 0, 1, 1);
        REQUIRE(axis != NULL);
        CHECK_STR(imd_axis_unit(axis), units[i].unit);
        imd_axis_destroy(axis);
    }
    CHECK_STR(imd__axis_default_unit(NULL), "");

    ImdAxis *axis = imd_axis_create_uniform(&error, "time", 0, 1, 2);
    REQUIRE(axis != NULL);
    /* renaming keeps the unit */
    CHECK_OK(error, imd_axis_set_name(&error, axis, "slice"));
    CHECK_STR(imd_axis_name(axis), "slice");
    CHECK_STR(imd_axis_unit(axis), "s");
    CHECK_OK(error, imd_axis_set_unit(&error, axis, NULL));
    CHECK_STR(imd_axis_unit(axis), "");
    CHECK_FAILS(error, imd_axis_set_name(&error, axis, ""), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_set_name(&error, axis, NULL), IMD_ERR_INVALID_ARG);
    CHECK_STR(imd_axis_name(axis), "slice");
    CHECK_FAILS(error, imd_axis_set_name(&error, NULL, "x"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_set_unit(&error, NULL, "x"), IMD_ERR_INVALID_ARG);
    imd_axis_destroy(axis);

    /* the name is copied */
    char name[8] = "row";
    axis = imd_axis_create_uniform(&error, name, 0, 1, 2);
    REQUIRE(axis != NULL);
    name[0] = 'x';
    CHECK_STR(imd_axis_name(axis), "row");
    imd_axis_destroy(axis);

    /* NULL is accepted where it is harmless */
    imd_axis_destroy(NULL);
    CHECK(imd_axis_name(NULL) == NULL);
    CHECK_STR(imd_axis_unit(NULL), "");
    CHECK_INT(imd_axis_length(NULL), 0);
    CHECK(!imd_axis_value(NULL, 0, NULL));
}

IMD_TEST(string_axes)
{
    ImdError *error = NULL;
    char first[8] = "liver";
    const char *labels[] = {first, "spleen", ""};
    ImdAxis *axis = imd_axis_create_strings(&error, "label", labels, 3);
    REQUIRE(axis != NULL);
    first[0] = 'L';
    CHECK_INT(imd_axis_kind(axis), IMD_AXIS_VARIABLE);
    CHECK_INT(imd_axis_value_kind(axis), IMD_VALUE_STRING);
    CHECK_STR(imd_axis_string(axis, 0), "liver");
    CHECK_STR(imd_axis_string(axis, 2), "");
    CHECK(imd_axis_string(axis, 3) == NULL);
    ImdValue value;
    CHECK(imd_axis_value(axis, 1, &value));
    CHECK(value.kind == IMD_VALUE_STRING && value.count == 0);
    CHECK(isnan(imd_axis_number(axis, 0)));
    ImdAxis *part = imd_axis_slice(&error, axis, 2, -2, 2);
    REQUIRE(part != NULL);
    CHECK_STR(imd_axis_string(part, 0), "");
    CHECK_STR(imd_axis_string(part, 1), "liver");
    imd_axis_destroy(part);
    const char *with_null[] = {"a", NULL};
    CHECK_FAILS(error, imd_axis_create_strings(&error, "label", with_null, 2),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_create_strings(&error, "label", NULL, 2), IMD_ERR_INVALID_ARG);
    imd_axis_destroy(axis);
}

IMD_TEST(vector_values)
{
    ImdError *error = NULL;
    const double d[] = {0.0, 0.7071, 0.7071};
    /* b = 0 has an empty direction */
    ImdValue values[3] = {imd_value_b_vector(0, NULL, 0), imd_value_b_vector(1000, d, 3),
                          imd_value_b_vector(1000, d, 3)};
    CHECK(values[0].kind == IMD_VALUE_B_VECTOR && values[0].count == 1);
    CHECK(values[1].count == 4 && values[1].v[0] == 1000 && values[1].v[3] == 0.7071);
    values[2].v[1] = 1.0;
    ImdAxis *axis = imd_axis_create_variable(&error, "b", values, 3);
    REQUIRE(axis != NULL);
    CHECK_INT(imd_axis_value_kind(axis), IMD_VALUE_B_VECTOR);
    ImdValue got;
    CHECK(imd_axis_value(axis, 0, &got));
    CHECK(imd_value_equal(&got, &values[0], 0, 0));
    CHECK(imd_axis_value(axis, 2, &got));
    CHECK(got.v[1] == 1.0 && got.count == 4);
    CHECK(!imd_value_equal(&got, &values[1], 1e-9, 1e-9));
    CHECK(isnan(imd_axis_number(axis, 1)));
    ImdAxis *tail = imd_axis_slice(&error, axis, 1, 1, 2);
    REQUIRE(tail != NULL);
    CHECK(imd_axis_value(tail, 0, &got) && imd_value_equal(&got, &values[1], 0, 0));
    imd_axis_destroy(tail);
    imd_axis_destroy(axis);

    /* vectors, including the empty vector */
    ImdValue vectors[2] = {imd_value_vector(NULL, 0), imd_value_vector(d, 3)};
    CHECK(vectors[0].kind == IMD_VALUE_VECTOR && vectors[0].count == 0);
    axis = imd_axis_create_variable(&error, "bvector", vectors, 2);
    REQUIRE(axis != NULL);
    CHECK(imd_axis_value(axis, 0, &got) && got.count == 0 && got.kind == IMD_VALUE_VECTOR);
    CHECK(imd_axis_value(axis, 1, &got) && got.count == 3 && got.v[2] == 0.7071);
    imd_axis_destroy(axis);
    /* more than three numbers are cut to three */
    const double four[] = {1, 2, 3, 4};
    CHECK(imd_value_vector(four, 4).count == 3);
    CHECK(imd_value_b_vector(5, four, 4).count == 4);

    /* mixed kinds, strings and bad counts are refused */
    ImdValue mixed[2] = {imd_value_number(1), imd_value_vector(d, 3)};
    CHECK_FAILS(error, imd_axis_create_variable(&error, "x", mixed, 2), IMD_ERR_INVALID_ARG);
    ImdValue text[1] = {{{0}, 0, IMD_VALUE_STRING}};
    CHECK_FAILS(error, imd_axis_create_variable(&error, "x", text, 1), IMD_ERR_INVALID_ARG);
    ImdValue too_many[1] = {{{1, 2, 3, 4}, 5, IMD_VALUE_VECTOR}};
    CHECK_FAILS(error, imd_axis_create_variable(&error, "x", too_many, 1), IMD_ERR_INVALID_ARG);
    ImdValue no_b[1] = {{{0}, 0, IMD_VALUE_B_VECTOR}};
    CHECK_FAILS(error, imd_axis_create_variable(&error, "x", no_b, 1), IMD_ERR_INVALID_ARG);
    ImdValue no_kind[1] = {{{0}, 1, 0}};
    CHECK_FAILS(error, imd_axis_create_variable(&error, "x", no_kind, 1), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_create_variable(&error, "x", NULL, 1), IMD_ERR_INVALID_ARG);
    /* numbers through imd_axis_create_variable */
    ImdValue numbers[2] = {imd_value_number(3), imd_value_number(5)};
    axis = imd_axis_create_variable(&error, "x", numbers, 2);
    double step = 0;
    CHECK(imd_axis_step(axis, &step) && step == 2.0);
    imd_axis_destroy(axis);
}

IMD_TEST(value_equality)
{
    ImdValue a = imd_value_number(100.0), b = imd_value_number(100.0001);
    CHECK(imd_value_equal(&a, &b, 1e-5, 0));
    CHECK(!imd_value_equal(&a, &b, 1e-7, 0));
    CHECK(imd_value_equal(&b, &a, 1e-5, 0)); /* symmetric */
    CHECK(imd_value_equal(&a, &b, 0, 1e-3));
    ImdValue c = imd_value_vector(NULL, 0), d = imd_value_vector(NULL, 0);
    CHECK(imd_value_equal(&c, &d, 0, 0));
    CHECK(!imd_value_equal(&a, &c, 1, 1)); /* different kinds */
    const double one = 100.0;
    ImdValue e = imd_value_vector(&one, 1);
    CHECK(!imd_value_equal(&a, &e, 1, 1));
    ImdValue inf1 = imd_value_number(INFINITY), inf2 = imd_value_number(INFINITY);
    CHECK(imd_value_equal(&inf1, &inf2, 0, 0));
    ImdValue nan = imd_value_number(NAN);
    CHECK(!imd_value_equal(&nan, &nan, 1, 1));
    CHECK(!imd_value_equal(&a, NULL, 1, 1));
}

IMD_TEST(invalid_arguments)
{
    ImdError *error = NULL;
    CHECK_FAILS(error, imd_axis_create_uniform(&error, "", 0, 1, 3), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_create_uniform(&error, NULL, 0, 1, 3), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_create_uniform(&error, "x", NAN, 1, 3), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_create_uniform(&error, "x", 0, INFINITY, 3),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_create_numbers(&error, "", NULL, 0), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_create_numbers(&error, "x", NULL, 3), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_create_strings(&error, "", NULL, 0), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_axis_create_variable(&error, "", NULL, 0), IMD_ERR_INVALID_ARG);
    /* a message names the reason */
    ImdAxis *axis = imd_axis_create_uniform(&error, "x", NAN, 1, 3);
    CHECK(axis == NULL);
    CHECK(strstr(imd_error_message(error), "finite") != NULL);
    imd_error_clear(&error);
    /* error may be NULL */
    CHECK(imd_axis_create_uniform(NULL, "", 0, 1, 1) == NULL);
}

IMD_TEST_MAIN(IMD_CASE(uniform_basics), IMD_CASE(uniform_slicing), IMD_CASE(slice_out_of_range),
              IMD_CASE(variable_slicing), IMD_CASE(step_rules), IMD_CASE(take), IMD_CASE(resize),
              IMD_CASE(clone_is_independent), IMD_CASE(names_and_units), IMD_CASE(string_axes),
              IMD_CASE(vector_values), IMD_CASE(value_equality), IMD_CASE(invalid_arguments))
