/* Tests for twin/quantity.c: Quantity strings and IntOrString percentages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "quantity.h"

/* Exact comparison: every expected value below is the correctly rounded double. */
static void check_ok(const char *s, double want)
{
    double got = -12345;
    if (twin_quantity_parse_str(s, &got) != 0)
        fail_msg("\"%s\": rejected, want %.17g", s, want);
    if (got != want)
        fail_msg("\"%s\": got %.17g, want %.17g", s, got, want);
}

static void check_bad(const char *s)
{
    double got = -12345;
    if (twin_quantity_parse_str(s, &got) != -1)
        fail_msg("\"%s\": accepted as %.17g, want an error", s, got);
    if (got != -12345)
        fail_msg("\"%s\": out written on error", s);
}

static void test_decimal_suffixes(void **state)
{
    (void)state;
    check_ok("250m", 0.25);
    check_ok("100m", 0.1);
    check_ok("2", 2);
    check_ok("1.5", 1.5);
    check_ok("2G", 2e9);
    check_ok("100k", 1e5);
    check_ok("3M", 3e6);
    check_ok("1T", 1e12);
    check_ok("1P", 1e15);
    check_ok("1E", 1e18);
    check_ok("1n", 1e-9);
    check_ok("3u", 3e-6);
    check_ok("0", 0);
    check_ok("-1", -1);
    check_ok("+1", 1);
    check_ok("007", 7);
    check_ok("1.", 1);
    check_ok(".5", 0.5);
    check_ok("1.5m", 0.0015);
}

static void test_binary_suffixes(void **state)
{
    (void)state;
    check_ok("512Mi", 536870912.0);
    check_ok("1Gi", 1073741824.0);
    check_ok("0.5Ki", 512);
    check_ok("1Ki", 1024);
    check_ok("1Ti", 1099511627776.0);
    check_ok("1Pi", 1125899906842624.0);
    check_ok("1Ei", 1152921504606846976.0);
    check_ok("1.5Gi", 1610612736.0);
}

static void test_exponents(void **state)
{
    (void)state;
    check_ok("1e3", 1000);
    check_ok("1E3", 1000);
    check_ok("1e+3", 1000);
    check_ok("5E-2", 0.05);
    check_ok("2.5e2", 250);
    check_ok("1e0", 1);
}

/* apimachinery reads an empty numerator as zero; so does the twin. */
static void test_kubernetes_quirks(void **state)
{
    (void)state;
    check_ok("-", 0);
    check_ok("+", 0);
    check_ok(".", 0);
    check_ok("Mi", 0);
    check_ok("1.G", 1e9);
    check_ok("-0", 0);
}

static void test_malformed(void **state)
{
    (void)state;
    check_bad("");
    check_bad("abc");
    check_bad("1K");
    check_bad("1mi");
    check_bad("1Mb");
    check_bad("1 Gi");
    check_bad(" 1");
    check_bad("1Gi ");
    check_bad("1e");
    check_bad("1e+");
    check_bad("1e1.5");
    check_bad("1.2.3");
    check_bad("--1");
    check_bad("0x10");
    check_bad("1GiB");
    check_bad("1e400");   /* beyond a double */
    char longs[300];
    memset(longs, '1', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    check_bad(longs);
    double v = -12345;
    assert_int_equal(twin_quantity_parse_str(NULL, &v), -1);
    assert_true(v == -12345);
}

static void test_json(void **state)
{
    (void)state;
    double v = -1;
    json_t *j = json_string("250m");
    assert_int_equal(twin_quantity_parse(j, &v), 0);
    assert_true(v == 0.25);
    json_decref(j);

    j = json_integer(3);
    assert_int_equal(twin_quantity_parse(j, &v), 0);
    assert_true(v == 3);
    json_decref(j);

    j = json_real(0.5);
    assert_int_equal(twin_quantity_parse(j, &v), 0);
    assert_true(v == 0.5);
    json_decref(j);

    v = -12345;
    j = json_string("1Q");
    assert_int_equal(twin_quantity_parse(j, &v), -1);
    json_decref(j);
    j = json_true();
    assert_int_equal(twin_quantity_parse(j, &v), -1);
    assert_int_equal(twin_quantity_parse(json_null(), &v), -1);
    assert_int_equal(twin_quantity_parse(NULL, &v), -1);
    assert_true(v == -12345);
}

static int scaled(json_t *v, int total, int up, int *out)
{
    int rc = twin_intstr_scaled(v, total, up, out);
    json_decref(v);
    return rc;
}

static void test_intstr_scaled(void **state)
{
    (void)state;
    int out = -99;
    assert_int_equal(scaled(json_integer(5), 10, 1, &out), 0);
    assert_int_equal(out, 5);   /* integers are not scaled */
    assert_int_equal(scaled(json_integer(0), 10, 0, &out), 0);
    assert_int_equal(out, 0);
    assert_int_equal(scaled(json_string("25%"), 10, 1, &out), 0);
    assert_int_equal(out, 3);
    assert_int_equal(scaled(json_string("25%"), 10, 0, &out), 0);
    assert_int_equal(out, 2);
    assert_int_equal(scaled(json_string("50%"), 3, 1, &out), 0);
    assert_int_equal(out, 2);
    assert_int_equal(scaled(json_string("50%"), 3, 0, &out), 0);
    assert_int_equal(out, 1);
    assert_int_equal(scaled(json_string("100%"), 7, 0, &out), 0);
    assert_int_equal(out, 7);
    assert_int_equal(scaled(json_string("0%"), 7, 1, &out), 0);
    assert_int_equal(out, 0);
    assert_int_equal(scaled(json_string("25%"), 1, 0, &out), 0);
    assert_int_equal(out, 0);
    assert_int_equal(scaled(json_string("25%"), 1, 1, &out), 0);
    assert_int_equal(out, 1);
    assert_int_equal(scaled(json_string("+5%"), 20, 0, &out), 0);
    assert_int_equal(out, 1);
    assert_int_equal(scaled(json_string("-10%"), 15, 0, &out), 0);
    assert_int_equal(out, -2);
    assert_int_equal(scaled(json_string("-10%"), 15, 1, &out), 0);
    assert_int_equal(out, -1);
}

static void test_intstr_errors(void **state)
{
    (void)state;
    int out = -99;
    assert_int_equal(scaled(json_string("25"), 10, 1, &out), -1);
    assert_int_equal(scaled(json_string("25.5%"), 10, 1, &out), -1);
    assert_int_equal(scaled(json_string("%"), 10, 1, &out), -1);
    assert_int_equal(scaled(json_string(""), 10, 1, &out), -1);
    assert_int_equal(scaled(json_string(" 5%"), 10, 1, &out), -1);
    assert_int_equal(scaled(json_string("5 %"), 10, 1, &out), -1);
    assert_int_equal(scaled(json_string("abc%"), 10, 1, &out), -1);
    assert_int_equal(scaled(json_string("99999999999999999999%"), 10, 1, &out), -1);
    assert_int_equal(scaled(json_string("4294967296%"), 100, 1, &out), -1);
    assert_int_equal(scaled(json_real(2.0), 10, 1, &out), -1);
    assert_int_equal(scaled(json_integer(2147483648LL), 10, 1, &out), -1);
    assert_int_equal(scaled(json_true(), 10, 1, &out), -1);
    assert_int_equal(twin_intstr_scaled(json_null(), 10, 1, &out), -1);
    assert_int_equal(twin_intstr_scaled(NULL, 10, 1, &out), -1);
    assert_int_equal(out, -99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_suffixes),
        cmocka_unit_test(test_binary_suffixes),
        cmocka_unit_test(test_exponents),
        cmocka_unit_test(test_kubernetes_quirks),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_intstr_scaled),
        cmocka_unit_test(test_intstr_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
