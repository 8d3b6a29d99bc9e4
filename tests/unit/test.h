/*
 * test.h — a minimal unit-test harness.
 *
 *   TEST(name) { CHECK(cond); CHECK_EQ_INT(a, b); CHECK_STR(a, b); }
 *
 * Tests register themselves (constructor attribute); tests/unit/main.c runs
 * them all, or those whose name contains argv[1], and prints
 * "unit: N passed, N failed".
 */
#ifndef CL_TEST_H
#define CL_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*cl_test_fn)(void);
void cl_test_register(const char *name, cl_test_fn fn);
void cl_test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
extern int cl_test_failed_now;

#define TEST(name)                                                    \
	static void test_##name(void);                                \
	__attribute__((constructor)) static void reg_##name(void)     \
	{                                                             \
		cl_test_register(#name, test_##name);                 \
	}                                                             \
	static void test_##name(void)

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			cl_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); \
			return;                                            \
		}                                                          \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                   \
	do {                                                                 \
		long long a_ = (long long)(a), b_ = (long long)(b);          \
		if (a_ != b_) {                                              \
			cl_test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
				     #a, a_, #b, b_);                        \
			return;                                              \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *a_ = (a), *b_ = (b);                             \
		if (!a_ || !b_ || strcmp(a_, b_)) {                          \
			cl_test_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", \
				     #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
			return;                                              \
		}                                                            \
	} while (0)

/* Check a library call returned 0; print its error otherwise. */
#define CHECK_OK(call, errp)                                                 \
	do {                                                                 \
		int rc_ = (call);                                            \
		if (rc_ != 0) {                                              \
			cl_test_fail(__FILE__, __LINE__, "%s returned %d: %s", #call, rc_, \
				     (errp)->message);                       \
			return;                                              \
		}                                                            \
	} while (0)

/* Path of the shared test data root (../shared/testdata by default). */
const char *cl_test_data_root(void);
/* A fresh empty temporary directory for this test (removed at exit). */
const char *cl_test_tmpdir(void);
/* mkdir -p path (errors ignored: the test's next step fails instead). */
void cl_test_mkdirs(const char *path);
/* Write text to DIR/REL, creating REL's folders (errors ignored). */
void cl_test_put(const char *dir, const char *rel, const char *text);

struct cl_buf;
struct cl_batch;
struct cl_schema;
struct cl_error;
/* Append b's rows to out as text: one line a row, values separated by '|'
 * as cl__value_format spells them, NULL as '~'. */
void cl_test_batch_text(struct cl_buf *out, const struct cl_batch *b);
/* A batch (and its schema, both the caller's to free) from text: schema as
 * cl_schema_parse takes it ("a int64, b string"), rows separated by '\n',
 * values by '|', "~" for NULL. 0, or -1 (the reason printed, unless it is
 * an allocation failure). */
int cl_test_batch_parse(struct cl_schema **s, struct cl_batch **b, const char *schema,
			const char *rows);
/* Write b (schema s) as the Parquet file path, row groups of rg_rows rows
 * (0: the writer's default). */
int cl_test_write_parquet(const char *path, const struct cl_schema *s, const struct cl_batch *b,
			  int64_t rg_rows, struct cl_error *err);

#endif
