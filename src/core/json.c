/*
 * json.c — JSON parser into an arena DOM, and the JSON string escaper;
 * see json.h.
 *
 * Design: a recursive-descent parser whose recursion depth is bounded by
 * the depth limit (itself capped at JSON_HARD_DEPTH, so a caller cannot ask
 * for a stack overflow). Children of an open array/object are collected on
 * growable side stacks (owned by the parser, reused across documents) and
 * copied into the arena as one block when the container closes, so every
 * container's items are contiguous and the arena is append-only.
 *
 * Arena invariant: blocks form a list; `cur` is the block being filled;
 * blocks after `cur` are free for reuse after a reset. Nothing in the arena
 * is freed individually.
 */
#include "json.h"

#include "value_text.h"

#include <stdio.h>
#include <string.h>

#define JSON_HARD_DEPTH 1024
#define ARENA_MIN_BLOCK 4096

typedef struct arena_block {
	struct arena_block *next;
	size_t cap, used;
	/* data follows, 16-byte aligned */
} arena_block;

struct cl__json_parser {
	cl_json_limits lim;
	arena_block *first, *cur;
	cl_json *items;   /* side stack of array items */
	size_t nitems, capitems;
	cl_json_member *members; /* side stack of object members */
	size_t nmembers, capmembers;
	/* the document being parsed */
	const uint8_t *s;
	size_t len;
	size_t err_off;
	cl_error *err;
};

#define BLOCK_HDR ((sizeof(arena_block) + 15) & ~(size_t)15)

static void *arena_alloc(cl__json_parser *p, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	arena_block *b = p->cur;
	while (b && b->cap - b->used < n) {
		b = b->next;
		if (b)
			b->used = 0;
	}
	if (!b) {
		size_t cap = p->cur ? p->cur->cap * 2 : ARENA_MIN_BLOCK;
		if (cap > (1u << 20))
			cap = 1u << 20;
		if (cap < n)
			cap = n;
		b = cl_malloc(BLOCK_HDR + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		/* Insert after cur, so blocks past it stay reusable. */
		if (p->cur) {
			b->next = p->cur->next;
			p->cur->next = b;
		} else {
			b->next = p->first;
			p->first = b;
		}
	}
	p->cur = b;
	void *r = (uint8_t *)b + BLOCK_HDR + b->used;
	b->used += n;
	return r;
}

static void arena_reset(cl__json_parser *p)
{
	p->cur = p->first;
	if (p->cur)
		p->cur->used = 0;
}

int cl__json_parser_create(cl__json_parser **out, const cl_json_limits *limits,
			   cl_error *err)
{
	cl__json_parser *p = cl_calloc(1, sizeof *p);
	if (!p)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	p->lim.max_depth = 256;
	p->lim.max_bytes = (size_t)1 << 30;
	if (limits) {
		if (limits->max_depth > 0)
			p->lim.max_depth = limits->max_depth;
		if (limits->max_bytes > 0)
			p->lim.max_bytes = limits->max_bytes;
	}
	if (p->lim.max_depth > JSON_HARD_DEPTH)
		p->lim.max_depth = JSON_HARD_DEPTH;
	*out = p;
	return 0;
}

void cl__json_parser_free(cl__json_parser *p)
{
	if (!p)
		return;
	arena_block *b = p->first;
	while (b) {
		arena_block *n = b->next;
		cl_free(b);
		b = n;
	}
	cl_free(p->items);
	cl_free(p->members);
	cl_free(p);
}

size_t cl__json_error_offset(const cl__json_parser *p)
{
	return p->err_off;
}

static int syntax(cl__json_parser *p, size_t off, const char *what)
{
	p->err_off = off;
	return cl_error_set(p->err, CL_EFORMAT, "byte %zu: %s", off + 1, what);
}

static int oom(cl__json_parser *p)
{
	return cl_error_set(p->err, CL_ENOMEM, "out of memory");
}

/* Describe the byte at off for "unexpected ..." messages. */
static int unexpected(cl__json_parser *p, size_t off, const char *expected)
{
	char msg[160];
	if (off >= p->len)
		snprintf(msg, sizeof msg, "unexpected end of text, expected %s", expected);
	else if (p->s[off] == 0)
		snprintf(msg, sizeof msg, "NUL byte (not a text file?), expected %s",
			 expected);
	else if (p->s[off] >= 0x20 && p->s[off] < 0x7f)
		snprintf(msg, sizeof msg, "unexpected '%c', expected %s", p->s[off],
			 expected);
	else
		snprintf(msg, sizeof msg, "unexpected byte 0x%02x, expected %s",
			 p->s[off], expected);
	return syntax(p, off, msg);
}

static size_t skip_ws(const cl__json_parser *p, size_t i)
{
	const uint8_t *s = p->s;
	while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
			      s[i] == '\r'))
		i++;
	return i;
}

static int hex4(const uint8_t *s, uint32_t *out)
{
	uint32_t v = 0;
	for (int k = 0; k < 4; k++) {
		uint8_t c = s[k];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(uint8_t *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (uint8_t)(0xc0 | cp >> 6);
		d[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (uint8_t)(0xe0 | cp >> 12);
		d[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		d[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (uint8_t)(0xf0 | cp >> 18);
	d[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	d[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	d[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Bytes that end a run of plain string content. */
static const uint8_t str_special[256] = {
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/*
 * End of the run of bytes from j that are not '"', '\\' or control
 * characters; 8 bytes at a time (SWAR), then byte by byte.
 */
static inline size_t plain_run(const uint8_t *s, size_t j, size_t len)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	while (j + 8 <= len) {
		uint64_t w;
		memcpy(&w, s + j, 8);
		uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
		uint64_t t = ((q - ones) & ~q) | ((b - ones) & ~b) |
			     ((w - ones * 0x20) & ~w);
		if (t & high)
			break;
		j += 8;
	}
	while (j < len && s[j] != '"' && s[j] != '\\' && s[j] >= 0x20)
		j++;
	return j;
}

/*
 * String starting at the opening quote s[*i]; unescaped copy into the
 * arena. Escapes only shrink text (\uXXXX, 6 bytes, becomes at most 3;
 * a surrogate pair, 12 bytes, becomes 4), so the raw length bounds it.
 */
static int parse_string(cl__json_parser *p, size_t *i, const char **str,
			size_t *n)
{
	const uint8_t *s = p->s;
	size_t start = *i + 1, j = plain_run(s, start, p->len);
	/* Fast path: no escapes, valid UTF-8 — one copy. */
	if (j < p->len && s[j] == '"' && cl__utf8_valid(s + start, j - start)) {
		uint8_t *d = arena_alloc(p, j - start + 1);
		if (!d)
			return oom(p);
		memcpy(d, s + start, j - start);
		d[j - start] = 0;
		*str = (const char *)d;
		*n = j - start;
		*i = j + 1;
		return 0;
	}
	/* Find the closing quote first to size the copy. */
	j = start;
	while (j < p->len) {
		if (s[j] == '"')
			break;
		if (s[j] == '\\')
			j++;
		j++;
	}
	if (j >= p->len)
		return syntax(p, *i, "unterminated string");
	size_t raw = j - start;
	uint8_t *d = arena_alloc(p, raw + 1);
	if (!d)
		return oom(p);
	size_t o = 0;
	j = start;
	for (;;) {
		size_t run = j;
		while (!str_special[s[j]])
			j++;
		memcpy(d + o, s + run, j - run);
		o += j - run;
		uint8_t c = s[j];
		if (c == '"')
			break;
		if (c >= 0x80) {
			/* Validate one UTF-8 sequence in place. */
			size_t k = j + 1;
			while (k < p->len && k < j + 4 && (s[k] & 0xc0) == 0x80)
				k++;
			size_t m = k - j;
			while (m > 0 && !cl__utf8_valid(s + j, m))
				m--;
			if (m == 0)
				return syntax(p, j, "invalid UTF-8 in string");
			memcpy(d + o, s + j, m);
			o += m;
			j += m;
			continue;
		}
		if (c < 0x20) {
			if (c == 0)
				return syntax(p, j, "NUL byte in string (not a text file?)");
			return syntax(p, j, "control character in string (must be escaped)");
		}
		/* backslash */
		j++;
		uint8_t e = s[j];
		switch (e) {
		case '"': d[o++] = '"'; j++; continue;
		case '\\': d[o++] = '\\'; j++; continue;
		case '/': d[o++] = '/'; j++; continue;
		case 'b': d[o++] = '\b'; j++; continue;
		case 'f': d[o++] = '\f'; j++; continue;
		case 'n': d[o++] = '\n'; j++; continue;
		case 'r': d[o++] = '\r'; j++; continue;
		case 't': d[o++] = '\t'; j++; continue;
		case 'u': break;
		default:
			return syntax(p, j - 1, "invalid escape in string");
		}
		uint32_t cp;
		if (j + 5 > p->len || hex4(s + j + 1, &cp))
			return syntax(p, j - 1, "invalid \\u escape in string");
		j += 5;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return syntax(p, j - 6, "lone low surrogate in \\u escape");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			uint32_t lo;
			if (j + 6 > p->len || s[j] != '\\' || s[j + 1] != 'u' ||
			    hex4(s + j + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
				return syntax(p, j - 6,
					      "high surrogate not followed by a low surrogate");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			j += 6;
		}
		o += put_utf8(d + o, cp);
	}
	d[o] = 0;
	*str = (const char *)d;
	*n = o;
	*i = j + 1;
	return 0;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(cl__json_parser *p, size_t *i, cl_json *v)
{
	const uint8_t *s = p->s;
	size_t j = *i, start = j;
	if (j < p->len && s[j] == '-')
		j++;
	if (j >= p->len || !is_digit(s[j]))
		return unexpected(p, j, "a digit");
	if (s[j] == '0') {
		j++;
		if (j < p->len && is_digit(s[j]))
			return syntax(p, j, "leading zero in a number");
	} else {
		while (j < p->len && is_digit(s[j]))
			j++;
	}
	if (j < p->len && s[j] == '.') {
		j++;
		if (j >= p->len || !is_digit(s[j]))
			return unexpected(p, j, "a digit after '.'");
		while (j < p->len && is_digit(s[j]))
			j++;
	}
	if (j < p->len && (s[j] == 'e' || s[j] == 'E')) {
		j++;
		if (j < p->len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j >= p->len || !is_digit(s[j]))
			return unexpected(p, j, "a digit in the exponent");
		while (j < p->len && is_digit(s[j]))
			j++;
	}
	size_t n = j - start;
	char *d = arena_alloc(p, n + 1);
	if (!d)
		return oom(p);
	memcpy(d, s + start, n);
	d[n] = 0;
	v->kind = CL_JSON_NUMBER;
	v->u.str = d;
	v->n = n;
	*i = j;
	return 0;
}

static int push_item(cl__json_parser *p, const cl_json *v)
{
	if (p->nitems == p->capitems) {
		size_t cap = p->capitems ? p->capitems * 2 : 64;
		cl_json *n = cl_realloc(p->items, cap * sizeof *n);
		if (!n)
			return oom(p);
		p->items = n;
		p->capitems = cap;
	}
	p->items[p->nitems++] = *v;
	return 0;
}

static int push_member(cl__json_parser *p, const cl_json_member *m)
{
	if (p->nmembers == p->capmembers) {
		size_t cap = p->capmembers ? p->capmembers * 2 : 64;
		cl_json_member *n = cl_realloc(p->members, cap * sizeof *n);
		if (!n)
			return oom(p);
		p->members = n;
		p->capmembers = cap;
	}
	p->members[p->nmembers++] = *m;
	return 0;
}

static bool literal(const cl__json_parser *p, size_t i, const char *w, size_t n)
{
	return p->len - i >= n && memcmp(p->s + i, w, n) == 0;
}

static int parse_value(cl__json_parser *p, size_t *i, cl_json *v, int depth);

static int parse_array(cl__json_parser *p, size_t *i, cl_json *v, int depth)
{
	size_t base = p->nitems, j = skip_ws(p, *i + 1);
	int rc;
	if (j < p->len && p->s[j] == ']') {
		j++;
	} else {
		for (;;) {
			cl_json item;
			if ((rc = parse_value(p, &j, &item, depth + 1)))
				return rc;
			if ((rc = push_item(p, &item)))
				return rc;
			j = skip_ws(p, j);
			if (j < p->len && p->s[j] == ',') {
				j = skip_ws(p, j + 1);
				continue;
			}
			if (j < p->len && p->s[j] == ']') {
				j++;
				break;
			}
			return unexpected(p, j, "',' or ']' in array");
		}
	}
	size_t n = p->nitems - base;
	cl_json *items = NULL;
	if (n) {
		items = arena_alloc(p, n * sizeof *items);
		if (!items)
			return oom(p);
		memcpy(items, p->items + base, n * sizeof *items);
	}
	p->nitems = base;
	v->kind = CL_JSON_ARRAY;
	v->n = n;
	v->u.items = items;
	*i = j;
	return 0;
}

static int parse_object(cl__json_parser *p, size_t *i, cl_json *v, int depth)
{
	size_t base = p->nmembers, j = skip_ws(p, *i + 1);
	int rc;
	if (j < p->len && p->s[j] == '}') {
		j++;
	} else {
		for (;;) {
			cl_json_member m;
			if (j >= p->len || p->s[j] != '"')
				return unexpected(p, j, "a string key in object");
			if ((rc = parse_string(p, &j, &m.key, &m.key_len)))
				return rc;
			j = skip_ws(p, j);
			if (j >= p->len || p->s[j] != ':')
				return unexpected(p, j, "':' after object key");
			j = skip_ws(p, j + 1);
			if ((rc = parse_value(p, &j, &m.value, depth + 1)))
				return rc;
			if ((rc = push_member(p, &m)))
				return rc;
			j = skip_ws(p, j);
			if (j < p->len && p->s[j] == ',') {
				j = skip_ws(p, j + 1);
				continue;
			}
			if (j < p->len && p->s[j] == '}') {
				j++;
				break;
			}
			return unexpected(p, j, "',' or '}' in object");
		}
	}
	size_t n = p->nmembers - base;
	cl_json_member *ms = NULL;
	if (n) {
		ms = arena_alloc(p, n * sizeof *ms);
		if (!ms)
			return oom(p);
		memcpy(ms, p->members + base, n * sizeof *ms);
	}
	p->nmembers = base;
	v->kind = CL_JSON_OBJECT;
	v->n = n;
	v->u.members = ms;
	*i = j;
	return 0;
}

/* A value starting at s[*i] (whitespace already skipped). */
static int parse_value(cl__json_parser *p, size_t *i, cl_json *v, int depth)
{
	size_t j = *i;
	int rc = 0;
	memset(v, 0, sizeof *v);
	v->start = j;
	if (j >= p->len)
		return unexpected(p, j, "a value");
	switch (p->s[j]) {
	case '{':
	case '[':
		if (depth >= p->lim.max_depth) {
			char msg[80];
			snprintf(msg, sizeof msg, "nested deeper than %d levels",
				 p->lim.max_depth);
			return syntax(p, j, msg);
		}
		rc = p->s[j] == '{' ? parse_object(p, &j, v, depth)
				    : parse_array(p, &j, v, depth);
		break;
	case '"':
		v->kind = CL_JSON_STRING;
		rc = parse_string(p, &j, &v->u.str, &v->n);
		break;
	case 't':
		if (!literal(p, j, "true", 4))
			return unexpected(p, j, "a value");
		v->kind = CL_JSON_TRUE;
		j += 4;
		break;
	case 'f':
		if (!literal(p, j, "false", 5))
			return unexpected(p, j, "a value");
		v->kind = CL_JSON_FALSE;
		j += 5;
		break;
	case 'n':
		if (!literal(p, j, "null", 4))
			return unexpected(p, j, "a value");
		v->kind = CL_JSON_NULL;
		j += 4;
		break;
	default:
		if (p->s[j] == '-' || is_digit(p->s[j]))
			rc = parse_number(p, &j, v);
		else
			return unexpected(p, j, "a value");
	}
	if (rc)
		return rc;
	/* Literals and numbers must end at a delimiter ("truex", "1x"). */
	if (j < p->len && v->kind != CL_JSON_STRING && v->kind != CL_JSON_ARRAY &&
	    v->kind != CL_JSON_OBJECT) {
		uint8_t c = p->s[j];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    is_digit(c) || c == '.' || c == '_')
			return unexpected(p, j, "a delimiter after the value");
	}
	v->end = j;
	*i = j;
	return 0;
}

int cl__json_parse(cl__json_parser *p, const char *text, size_t len,
		   const cl_json **root, cl_error *err)
{
	arena_reset(p);
	p->nitems = p->nmembers = 0;
	p->s = (const uint8_t *)text;
	p->len = len;
	p->err = err;
	p->err_off = 0;
	*root = NULL;
	if (len > p->lim.max_bytes) {
		char msg[96];
		snprintf(msg, sizeof msg, "JSON text longer than %zu bytes",
			 p->lim.max_bytes);
		return syntax(p, 0, msg);
	}
	cl_json *v = arena_alloc(p, sizeof *v);
	if (!v)
		return oom(p);
	size_t i = skip_ws(p, 0);
	int rc = parse_value(p, &i, v, 0);
	if (rc)
		return rc;
	i = skip_ws(p, i);
	if (i != len)
		return unexpected(p, i, "the end of the text after the value");
	*root = v;
	return 0;
}

const cl_json *cl__json_get(const cl_json *obj, const char *key, size_t key_len)
{
	if (!obj || obj->kind != CL_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++) {
		const cl_json_member *m = &obj->u.members[i];
		if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
			return &m->value;
	}
	return NULL;
}

const cl_json *cl__json_get_s(const cl_json *obj, const char *key)
{
	return cl__json_get(obj, key, strlen(key));
}

const cl_json *cl__json_at(const cl_json *arr, size_t i)
{
	if (!arr || arr->kind != CL_JSON_ARRAY || i >= arr->n)
		return NULL;
	return &arr->u.items[i];
}

const char *cl__json_kind_name(cl_json_kind k)
{
	switch (k) {
	case CL_JSON_NULL: return "null";
	case CL_JSON_FALSE: return "false";
	case CL_JSON_TRUE: return "true";
	case CL_JSON_NUMBER: return "number";
	case CL_JSON_STRING: return "string";
	case CL_JSON_ARRAY: return "array";
	case CL_JSON_OBJECT: return "object";
	}
	return "?";
}

/* Bytes that need an escape in a JSON string. */
static const uint8_t esc_special[256] = {
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

int cl__json_escape(cl_buf *out, const char *str, size_t n)
{
	const uint8_t *s = (const uint8_t *)str;
	if (!cl__utf8_valid(s, n))
		return CL_EINVAL;
	if (cl_buf_reserve(out, n + 2))
		return CL_ENOMEM;
	size_t start_len = out->len;
	out->data[out->len++] = '"';
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (i < n && !esc_special[s[i]])
			i++;
		if (i > run && cl_buf_append(out, s + run, i - run))
			goto nomem;
		if (i == n)
			break;
		uint8_t c = s[i++];
		char e[8];
		size_t el = 2;
		e[0] = '\\';
		switch (c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		default:
			snprintf(e, sizeof e, "\\u%04x", c);
			el = 6;
		}
		if (cl_buf_append(out, e, el))
			goto nomem;
	}
	if (cl_buf_putc(out, '"'))
		goto nomem;
	return 0;
nomem:
	out->len = start_len;
	if (out->data)
		out->data[out->len] = 0;
	return CL_ENOMEM;
}
