/*
 * tap.h: a tiny TAP producer for unit tests run by automake's tap-driver.
 */
#ifndef XMPPD_TAP_H
#define XMPPD_TAP_H

#include <stddef.h>

void	plan(int);
int	ok_(int, const char *, int, const char *, ...)
	    __attribute__((__format__(printf, 4, 5)));
int	is_int_(long long, long long, const char *, int, const char *, ...)
	    __attribute__((__format__(printf, 5, 6)));
int	is_str_(const char *, const char *, const char *, int, const char *, ...)
	    __attribute__((__format__(printf, 5, 6)));
void	diag(const char *, ...) __attribute__((__format__(printf, 1, 2)));
int	done_testing(void);

#define ok(c, ...)	ok_(!!(c), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(a, b, ...) is_int_((a), (b), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(a, b, ...) is_str_((a), (b), __FILE__, __LINE__, __VA_ARGS__)

#endif
