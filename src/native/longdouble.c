/* INCRBYFLOAT's arithmetic in C's long double (80-bit on x86-64), which Rust lacks.
 * Redis parses with strtold, adds in long double and prints with "%.17Lf" minus trailing
 * zeros; doing the same here makes Tandem's results identical to Redis's, digit for digit. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

/* Redis's string2ld: the whole string must be a finite number, no leading space. */
static int parse_ld(const char *s, size_t len, long double *out) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    char *end;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0' || (size_t)(end - buf) != len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v))
        return 0;
    *out = v;
    return 1;
}

/* Returns the length written to `out`, -1 if an operand is not a valid float, -2 if the sum
 * is NaN or infinite, -3 if `out` is too small. */
long tandem_incrbyfloat(const char *a, size_t alen, const char *b, size_t blen, char *out,
                        size_t outlen) {
    long double x, y;
    if (!parse_ld(a, alen, &x) || !parse_ld(b, blen, &y)) return -1;
    long double v = x + y;
    if (isnan(v) || isinf(v)) return -2;
    int l = snprintf(out, outlen, "%.17Lf", v);
    if (l < 0 || (size_t)l + 1 > outlen) return -3;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        l = 1;
    }
    out[l] = '\0';
    return l;
}
