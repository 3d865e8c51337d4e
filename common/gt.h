/*
 * gt.h — the pieces every Meridian module shares: the project error type,
 * logging, a growable byte buffer, big-endian helpers and clocks.
 *
 * Prefix: gt_ ("global table").  Nothing here knows about DynamoDB, LMDB or
 * NNG; foreign error codes are translated into gt_err at each module's
 * boundary.
 */
#ifndef GT_H
#define GT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- errors */

/*
 * One error enum for the whole project.  Functions return gt_err (GT_OK is 0)
 * and leave their out-parameters untouched on error.
 */
typedef enum gt_err {
	GT_OK = 0,
	GT_ENOMEM,    /* an allocation failed */
	GT_EINVAL,    /* the caller's input is malformed */
	GT_ENOTFOUND, /* the named thing does not exist */
	GT_EEXIST,    /* the thing to create already exists */
	GT_ELIMIT,    /* a size or count limit was exceeded */
	GT_EIO,       /* an operating-system or storage I/O error */
	GT_ECORRUPT,  /* stored or received bytes do not decode */
	GT_EBUSY,     /* the resource is in use; try later */
	GT_ECLOSED,   /* the object has been shut down */
	GT_ETIMEOUT,  /* a deadline passed */
	GT_EAUTH,     /* an authentication check failed */
	GT_ECONFLICT, /* a condition or version check failed */
	GT_EOVERFLOW, /* a numeric result is out of range */
	GT_ESTATE,    /* the object is in an error state after a failed I/O */
	GT_ERR_COUNT_
} gt_err;

/* gt_strerror returns a static, human-readable string for err. */
const char *gt_strerror(gt_err err);

/* --------------------------------------------------------------- logging */

typedef enum gt_log_level {
	GT_LOG_DEBUG = 0,
	GT_LOG_INFO = 1,
	GT_LOG_WARN = 2,
	GT_LOG_ERROR = 3,
	GT_LOG_OFF = 4
} gt_log_level;

/* The process-wide minimum level; set once at start-up. */
extern gt_log_level gt_log_min;

/*
 * gt_log writes one line "time LEVEL module key=value ..." to stderr.
 * The macro checks the level before evaluating its arguments, so a DEBUG
 * line on a hot path costs one comparison when DEBUG is off.
 */
#define GT_LOG(level, module, ...)                                      \
	do {                                                            \
		if ((level) >= gt_log_min)                              \
			gt_log_write((level), (module), __VA_ARGS__);   \
	} while (0)

void gt_log_write(gt_log_level level, const char *module, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* gt_log_level_parse parses "debug|info|warn|error|off". */
gt_err gt_log_level_parse(const char *s, gt_log_level *out);

/* ---------------------------------------------------------------- buffer */

/*
 * gt_buf is a growable byte buffer.  Once an append fails for lack of memory
 * the buffer is in an error state (oom set): later appends do nothing and
 * the caller checks once at the end with gt_buf_ok().  data is always NUL
 * terminated when len > 0 or after any append, for convenient use as text.
 */
typedef struct gt_buf {
	char *data;
	size_t len;
	size_t cap;
	int oom;
} gt_buf;

#define GT_BUF_INIT {NULL, 0, 0, 0}

void gt_buf_free(gt_buf *b);
void gt_buf_reset(gt_buf *b); /* len = 0, keeps the memory */
int gt_buf_reserve(gt_buf *b, size_t extra); /* 0 on success, -1 on oom */
void gt_buf_append(gt_buf *b, const void *p, size_t n);
void gt_buf_puts(gt_buf *b, const char *s);
void gt_buf_putc(gt_buf *b, char c);
void gt_buf_printf(gt_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void gt_buf_vprintf(gt_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends s as a JSON string literal, quotes included, escaping as needed. */
void gt_buf_json_str(gt_buf *b, const char *s, size_t n);
void gt_buf_put_u8(gt_buf *b, uint8_t v);
void gt_buf_put_u16be(gt_buf *b, uint16_t v);
void gt_buf_put_u32be(gt_buf *b, uint32_t v);
void gt_buf_put_u64be(gt_buf *b, uint64_t v);
static inline int gt_buf_ok(const gt_buf *b) { return !b->oom; }
/* Hands the bytes to the caller (free() them); the buffer becomes empty. */
char *gt_buf_steal(gt_buf *b, size_t *len);

/* ------------------------------------------------------ big-endian reads */

static inline uint16_t gt_get_u16be(const uint8_t *p)
{
	return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}
static inline uint32_t gt_get_u32be(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint64_t gt_get_u64be(const uint8_t *p)
{
	return ((uint64_t)gt_get_u32be(p) << 32) | gt_get_u32be(p + 4);
}
static inline void gt_put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void gt_put_u64be(uint8_t *p, uint64_t v)
{
	gt_put_u32be(p, (uint32_t)(v >> 32));
	gt_put_u32be(p + 4, (uint32_t)v);
}

/* ------------------------------------------------- a bounded byte reader */

/*
 * gt_rd reads length-checked fields from a byte string; the first short read
 * sets err and every later read returns zeros, so decoders check once.
 */
typedef struct gt_rd {
	const uint8_t *p;
	size_t n;
	int err;
} gt_rd;

uint8_t gt_rd_u8(gt_rd *r);
uint16_t gt_rd_u16be(gt_rd *r);
uint32_t gt_rd_u32be(gt_rd *r);
uint64_t gt_rd_u64be(gt_rd *r);
/* Returns a pointer into the source (borrowed), or NULL on a short read. */
const uint8_t *gt_rd_bytes(gt_rd *r, size_t n);

/* ----------------------------------------------------------------- clocks */

/* Wall-clock milliseconds since the Unix epoch. */
uint64_t gt_wall_ms(void);
/* Monotonic nanoseconds, for durations only. */
uint64_t gt_mono_ns(void);

/* ------------------------------------------------------------------ misc */

/* Base64 (RFC 4648, padded).  Decoding rejects bad characters and padding. */
void gt_base64_encode(gt_buf *out, const uint8_t *p, size_t n);
gt_err gt_base64_decode(gt_buf *out, const char *s, size_t n);
/* The decoded length of a valid base64 string, without decoding. */
size_t gt_base64_decoded_len(const char *s, size_t n);

#define GT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GT_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* GT_H */
