/*
 * json.h — a small JSON parser and string escaper (internal).
 *
 * Built for hostile input (every JSON Lines file, every Delta Lake log
 * entry): strict RFC 8259 grammar, strict UTF-8 (no overlongs, no lone
 * surrogates, also through \u escapes), a nesting depth limit and a size
 * limit, and no recursion on the C stack deeper than the depth limit.
 *
 * The parser builds a DOM in one arena owned by the cl__json_parser: all
 * nodes, member arrays and unescaped strings of a document live there and
 * are freed (or reused, by the next cl__json_parse on the same parser) at
 * once. Nodes are read-only views for the caller.
 *
 * Numbers are kept as their original text (validated against the JSON
 * grammar), so int64 and decimal values lose nothing; the caller converts.
 * Strings are unescaped UTF-8, NUL-terminated for convenience, but `len`
 * is authoritative (a \u0000 escape puts a NUL inside the string).
 * Object members keep their order; duplicate keys are kept as they are
 * (lookup finds the first) — callers that care detect them.
 * Every node remembers the byte range [start, end) of its source text, so a
 * nested value can be taken verbatim and errors can point at a byte.
 */
#ifndef CL_CORE_JSON_H
#define CL_CORE_JSON_H

#include "changelake/common.h"
#include "buf.h"

typedef enum cl_json_kind {
	CL_JSON_NULL = 0,
	CL_JSON_FALSE,
	CL_JSON_TRUE,
	CL_JSON_NUMBER,
	CL_JSON_STRING,
	CL_JSON_ARRAY,
	CL_JSON_OBJECT
} cl_json_kind;

typedef struct cl_json cl_json;
typedef struct cl_json_member cl_json_member;

/* One JSON value; borrowed from its parser. */
struct cl_json {
	cl_json_kind kind;
	/* NUMBER: text, STRING: unescaped bytes; n = their length.
	 * ARRAY: n items; OBJECT: n members. */
	size_t n;
	union {
		const char *str;           /* NUMBER, STRING (NUL-terminated) */
		const cl_json *items;      /* ARRAY */
		const cl_json_member *members; /* OBJECT */
	} u;
	size_t start, end; /* source byte range of the value */
};

struct cl_json_member {
	const char *key; /* unescaped, NUL-terminated */
	size_t key_len;
	cl_json value;
};

typedef struct cl_json_limits {
	int max_depth;      /* nesting of arrays/objects; default 256 */
	size_t max_bytes;   /* longest accepted text; default 1 GiB */
} cl_json_limits;

typedef struct cl__json_parser cl__json_parser;

/* A parser with its arena; limits may be NULL for the defaults. Owned by
 * the caller, freed with cl__json_parser_free. */
int cl__json_parser_create(cl__json_parser **out, const cl_json_limits *limits,
			   cl_error *err);
void cl__json_parser_free(cl__json_parser *p);

/*
 * Parse text[0..len) as exactly one JSON value (surrounding whitespace
 * allowed). *root is borrowed: valid until the next parse on p or
 * cl__json_parser_free. On a syntax error returns CL_EFORMAT with a message
 * "byte N: what went wrong" (N 1-based within text) and sets
 * cl__json_error_offset(p) to the 0-based offset; CL_ENOMEM when out of
 * memory.
 */
int cl__json_parse(cl__json_parser *p, const char *text, size_t len,
		   const cl_json **root, cl_error *err);
/* 0-based byte offset of the last syntax error. */
size_t cl__json_error_offset(const cl__json_parser *p);

/* First member of an object named key[0..key_len), or NULL (also when obj
 * is not an object). */
const cl_json *cl__json_get(const cl_json *obj, const char *key, size_t key_len);
/* Same with a NUL-terminated key. */
const cl_json *cl__json_get_s(const cl_json *obj, const char *key);
/* Item i of an array, or NULL when out of range or not an array. */
const cl_json *cl__json_at(const cl_json *arr, size_t i);
/* "null", "false", "true", "number", "string", "array", "object". */
const char *cl__json_kind_name(cl_json_kind k);

/*
 * Append s[0..n) to out as a JSON string literal, with the quotes: '"' and
 * '\\' escaped, control characters as \n, \t, ... or \u00XX, everything
 * else (UTF-8) as it is. Returns 0, CL_ENOMEM, or CL_EINVAL when s is not
 * valid UTF-8 (nothing then appended).
 */
int cl__json_escape(cl_buf *out, const char *s, size_t n);

#endif
