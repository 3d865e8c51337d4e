/*
 * expr.c — DynamoDB's expression language: lexer, recursive-descent parser,
 * validation, and evaluation of projections, conditions, key conditions and
 * updates against wire-format items.  Contracts in expr.h.
 *
 * Design.
 *
 * 1. One context per request owns an arena.  Every parsed expression (AST
 *    nodes, paths, copied identifiers) is allocated from it and freed in one
 *    go with the context, so the parser never frees partial trees on error.
 *    The context keeps the request's ExpressionAttributeNames and
 *    ExpressionAttributeValues in tables sorted by key (binary search) with
 *    a "used" flag each, for the unused-name/value check that DynamoDB runs
 *    after all of a request's expressions are parsed.
 *
 * 2. Lexing happens first and whole: the token array (at most one token per
 *    byte of a 4 KB expression) lets the parser look one token ahead and
 *    lets syntax errors quote the neighbouring tokens as DynamoDB does
 *    ("token: \"x\", near: \"a x\"": the previous, offending and next
 *    token; at end of input the two tokens before it).
 *
 * 3. Grammar (keywords case-insensitive, function names case-sensitive):
 *      projection := path (',' path)*
 *      condition  := and (OR and)*
 *      and        := not (AND not)*
 *      not        := NOT not | primary
 *      primary    := '(' condition ')'
 *                  | operand comparator operand
 *                  | operand BETWEEN operand AND operand
 *                  | operand IN '(' operand (',' operand)* ')'
 *                  | function '(' operands ')'      (a boolean function)
 *      operand    := path | :value | function '(' operands ')'
 *      update     := clause+, each of SET, REMOVE, ADD, DELETE at most once
 *      SET        := path '=' operand [('+' | '-') operand], ...
 *      REMOVE     := path, ...      ADD/DELETE := path :value, ...
 *      path       := (ident | #name) ('.' (ident | #name) | '[' digits ']')*
 *    A KeyConditionExpression is parsed as a condition and then checked to
 *    be one or two key comparisons joined by AND.
 *
 * 4. Validation that does not need an item happens at parse time, so a bad
 *    expression fails before any storage is touched: reserved words,
 *    undefined #names/:values, function names, arity and argument kinds,
 *    operand types of literals (ADD/DELETE, begins_with, list_append,
 *    attribute_type), BETWEEN bounds, overlapping paths, and the limits in
 *    expr.h.
 *
 * 5. Evaluation never fails on item content: comparing different types or
 *    absent attributes is false ("<>" is true), as in DynamoDB.  Only
 *    updates report item-dependent errors, and they do so atomically: the
 *    update runs on a copy which replaces the item's members on success.
 *    Every SET operand is read from the item as it was before the update;
 *    REMOVE targets are located first and detached together, so list
 *    indexes in one REMOVE clause refer to the original list.
 */
#include "expr.h"

#include <ctype.h>
#include <limits.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ arena */

#define EX_CHUNK_BYTES 8192

typedef struct ex_chunk {
	struct ex_chunk *next;
	size_t used;
	size_t cap;
	max_align_t data[];
} ex_chunk;

/* One substitution: "#n" -> name string, or ":v" -> value. */
typedef struct ex_sub {
	const char *key;
	const cJSON *node;
	int used;
} ex_sub;

struct rn_expr_ctx {
	ex_chunk *arena;
	const cJSON *names;
	const cJSON *values;
	ex_sub *name_tab; /* sorted by key */
	size_t nname;
	ex_sub *value_tab; /* sorted by key */
	size_t nvalue;
};

/* Zeroed memory from the context's arena; NULL when out of memory. */
static void *ex_alloc(rn_expr_ctx *ctx, size_t n)
{
	const size_t align = alignof(max_align_t);
	ex_chunk *c = ctx->arena;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > EX_CHUNK_BYTES ? n : EX_CHUNK_BYTES;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->next = ctx->arena;
		c->used = 0;
		c->cap = cap;
		ctx->arena = c;
	}
	p = (unsigned char *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

static char *ex_strndup(rn_expr_ctx *ctx, const char *s, size_t n)
{
	char *p = ex_alloc(ctx, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* ------------------------------------------------------ reserved words */

/* DynamoDB's reserved words, sorted (ASCII, upper case) for bsearch. */
static const char *const ex_reserved_words[] = {
	"ABORT", "ABSOLUTE", "ACTION", "ADD", "AFTER", "AGENT", "AGGREGATE",
	"ALL", "ALLOCATE", "ALTER", "ANALYZE", "AND", "ANY", "ARCHIVE", "ARE",
	"ARRAY", "AS", "ASC", "ASCII", "ASENSITIVE", "ASSERTION", "ASYMMETRIC",
	"AT", "ATOMIC", "ATTACH", "ATTRIBUTE", "AUTH", "AUTHORIZATION",
	"AUTHORIZE", "AUTO", "AVG", "BACK", "BACKUP", "BASE", "BATCH", "BEFORE",
	"BEGIN", "BETWEEN", "BIGINT", "BINARY", "BIT", "BLOB", "BLOCK",
	"BOOLEAN", "BOTH", "BREADTH", "BUCKET", "BULK", "BY", "BYTE", "CALL",
	"CALLED", "CALLING", "CAPACITY", "CASCADE", "CASCADED", "CASE", "CAST",
	"CATALOG", "CHAR", "CHARACTER", "CHECK", "CLASS", "CLOB", "CLOSE",
	"CLUSTER", "CLUSTERED", "CLUSTERING", "CLUSTERS", "COALESCE", "COLLATE",
	"COLLATION", "COLLECTION", "COLUMN", "COLUMNS", "COMBINE", "COMMENT",
	"COMMIT", "COMPACT", "COMPILE", "COMPRESS", "CONDITION", "CONFLICT",
	"CONNECT", "CONNECTION", "CONSISTENCY", "CONSISTENT", "CONSTRAINT",
	"CONSTRAINTS", "CONSTRUCTOR", "CONSUMED", "CONTINUE", "CONVERT", "COPY",
	"CORRESPONDING", "COUNT", "COUNTER", "CREATE", "CROSS", "CUBE",
	"CURRENT", "CURSOR", "CYCLE", "DATA", "DATABASE", "DATE", "DATETIME",
	"DAY", "DEALLOCATE", "DEC", "DECIMAL", "DECLARE", "DEFAULT",
	"DEFERRABLE", "DEFERRED", "DEFINE", "DEFINED", "DEFINITION", "DELETE",
	"DELIMITED", "DEPTH", "DEREF", "DESC", "DESCRIBE", "DESCRIPTOR",
	"DETACH", "DETERMINISTIC", "DIAGNOSTICS", "DIRECTORIES", "DISABLE",
	"DISCONNECT", "DISTINCT", "DISTRIBUTE", "DO", "DOMAIN", "DOUBLE",
	"DROP", "DUMP", "DURATION", "DYNAMIC", "EACH", "ELEMENT", "ELSE",
	"ELSEIF", "EMPTY", "ENABLE", "END", "EQUAL", "EQUALS", "ERROR",
	"ESCAPE", "ESCAPED", "EVAL", "EVALUATE", "EXCEEDED", "EXCEPT",
	"EXCEPTION", "EXCEPTIONS", "EXCLUSIVE", "EXEC", "EXECUTE", "EXISTS",
	"EXIT", "EXPLAIN", "EXPLODE", "EXPORT", "EXPRESSION", "EXTENDED",
	"EXTERNAL", "EXTRACT", "FAIL", "FALSE", "FAMILY", "FETCH", "FIELDS",
	"FILE", "FILTER", "FILTERING", "FINAL", "FINISH", "FIRST", "FIXED",
	"FLATTERN", "FLOAT", "FOR", "FORCE", "FOREIGN", "FORMAT", "FORWARD",
	"FOUND", "FREE", "FROM", "FULL", "FUNCTION", "FUNCTIONS", "GENERAL",
	"GENERATE", "GET", "GLOB", "GLOBAL", "GO", "GOTO", "GRANT", "GREATER",
	"GROUP", "GROUPING", "HANDLER", "HASH", "HAVE", "HAVING", "HEAP",
	"HIDDEN", "HOLD", "HOUR", "IDENTIFIED", "IDENTITY", "IF", "IGNORE",
	"IMMEDIATE", "IMPORT", "IN", "INCLUDING", "INCLUSIVE", "INCREMENT",
	"INCREMENTAL", "INDEX", "INDEXED", "INDEXES", "INDICATOR", "INFINITE",
	"INITIALLY", "INLINE", "INNER", "INNTER", "INOUT", "INPUT",
	"INSENSITIVE", "INSERT", "INSTEAD", "INT", "INTEGER", "INTERSECT",
	"INTERVAL", "INTO", "INVALIDATE", "IS", "ISOLATION", "ITEM", "ITEMS",
	"ITERATE", "JOIN", "KEY", "KEYS", "LAG", "LANGUAGE", "LARGE", "LAST",
	"LATERAL", "LEAD", "LEADING", "LEAVE", "LEFT", "LENGTH", "LESS",
	"LEVEL", "LIKE", "LIMIT", "LIMITED", "LINES", "LIST", "LOAD", "LOCAL",
	"LOCALTIME", "LOCALTIMESTAMP", "LOCATION", "LOCATOR", "LOCK", "LOCKS",
	"LOG", "LOGED", "LONG", "LOOP", "LOWER", "MAP", "MATCH", "MATERIALIZED",
	"MAX", "MAXLEN", "MEMBER", "MERGE", "METHOD", "METRICS", "MIN", "MINUS",
	"MINUTE", "MISSING", "MOD", "MODE", "MODIFIES", "MODIFY", "MODULE",
	"MONTH", "MULTI", "MULTISET", "NAME", "NAMES", "NATIONAL", "NATURAL",
	"NCHAR", "NCLOB", "NEW", "NEXT", "NO", "NONE", "NOT", "NULL", "NULLIF",
	"NUMBER", "NUMERIC", "OBJECT", "OF", "OFFLINE", "OFFSET", "OLD", "ON",
	"ONLINE", "ONLY", "OPAQUE", "OPEN", "OPERATOR", "OPTION", "OR", "ORDER",
	"ORDINALITY", "OTHER", "OTHERS", "OUT", "OUTER", "OUTPUT", "OVER",
	"OVERLAPS", "OVERRIDE", "OWNER", "PAD", "PARALLEL", "PARAMETER",
	"PARAMETERS", "PARTIAL", "PARTITION", "PARTITIONED", "PARTITIONS",
	"PATH", "PERCENT", "PERCENTILE", "PERMISSION", "PERMISSIONS", "PIPE",
	"PIPELINED", "PLAN", "POOL", "POSITION", "PRECISION", "PREPARE",
	"PRESERVE", "PRIMARY", "PRIOR", "PRIVATE", "PRIVILEGES", "PROCEDURE",
	"PROCESSED", "PROJECT", "PROJECTION", "PROPERTY", "PROVISIONING",
	"PUBLIC", "PUT", "QUERY", "QUIT", "QUORUM", "RAISE", "RANDOM", "RANGE",
	"RANK", "RAW", "READ", "READS", "REAL", "REBUILD", "RECORD",
	"RECURSIVE", "REDUCE", "REF", "REFERENCE", "REFERENCES", "REFERENCING",
	"REGEXP", "REGION", "REINDEX", "RELATIVE", "RELEASE", "REMAINDER",
	"RENAME", "REPEAT", "REPLACE", "REQUEST", "RESET", "RESIGNAL",
	"RESOURCE", "RESPONSE", "RESTORE", "RESTRICT", "RESULT", "RETURN",
	"RETURNING", "RETURNS", "REVERSE", "REVOKE", "RIGHT", "ROLE", "ROLES",
	"ROLLBACK", "ROLLUP", "ROUTINE", "ROW", "ROWS", "RULE", "RULES",
	"SAMPLE", "SATISFIES", "SAVE", "SAVEPOINT", "SCAN", "SCHEMA", "SCOPE",
	"SCROLL", "SEARCH", "SECOND", "SECTION", "SEGMENT", "SEGMENTS",
	"SELECT", "SELF", "SEMI", "SENSITIVE", "SEPARATE", "SEQUENCE",
	"SERIALIZABLE", "SESSION", "SET", "SETS", "SHARD", "SHARE", "SHARED",
	"SHORT", "SHOW", "SIGNAL", "SIMILAR", "SIZE", "SKEWED", "SMALLINT",
	"SNAPSHOT", "SOME", "SOURCE", "SPACE", "SPACES", "SPARSE", "SPECIFIC",
	"SPECIFICTYPE", "SPLIT", "SQL", "SQLCODE", "SQLERROR", "SQLEXCEPTION",
	"SQLSTATE", "SQLWARNING", "START", "STATE", "STATIC", "STATUS",
	"STORAGE", "STORE", "STORED", "STREAM", "STRING", "STRUCT", "STYLE",
	"SUB", "SUBMULTISET", "SUBPARTITION", "SUBSTRING", "SUBTYPE", "SUM",
	"SUPER", "SYMMETRIC", "SYNONYM", "SYSTEM", "TABLE", "TABLESAMPLE",
	"TEMP", "TEMPORARY", "TERMINATED", "TEXT", "THAN", "THEN", "THROUGHPUT",
	"TIME", "TIMESTAMP", "TIMEZONE", "TINYINT", "TO", "TOKEN", "TOTAL",
	"TOUCH", "TRAILING", "TRANSACTION", "TRANSFORM", "TRANSLATE",
	"TRANSLATION", "TREAT", "TRIGGER", "TRIM", "TRUE", "TRUNCATE", "TTL",
	"TUPLE", "TYPE", "UNDER", "UNDO", "UNION", "UNIQUE", "UNIT", "UNKNOWN",
	"UNLOGGED", "UNNEST", "UNPROCESSED", "UNSIGNED", "UNTIL", "UPDATE",
	"UPPER", "URL", "USAGE", "USE", "USER", "USERS", "USING", "UUID",
	"VACUUM", "VALUE", "VALUED", "VALUES", "VARCHAR", "VARIABLE",
	"VARIANCE", "VARINT", "VARYING", "VIEW", "VIEWS", "VIRTUAL", "VOID",
	"WAIT", "WHEN", "WHENEVER", "WHERE", "WHILE", "WINDOW", "WITH",
	"WITHIN", "WITHOUT", "WORK", "WRAPPED", "WRITE", "YEAR", "ZONE",
};

static int ex_cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when s[0..n) is a reserved word, whatever its case. */
static int ex_is_reserved(const char *s, size_t n)
{
	char up[24];
	const char *key = up;

	if (n == 0 || n >= sizeof(up))
		return 0;
	for (size_t i = 0; i < n; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	up[n] = '\0';
	return bsearch(&key, ex_reserved_words, GT_ARRAY_LEN(ex_reserved_words),
	    sizeof(ex_reserved_words[0]), ex_cmp_cstr) != NULL;
}

/* ------------------------------------------------------------------ types */

/* One element of a document path: a map key or a list index. */
typedef struct ex_elem {
	const char *name; /* NULL for a list index */
	uint32_t index;
} ex_elem;

typedef struct ex_path {
	ex_elem *el;
	uint32_t n;
} ex_path;

typedef enum ex_nt {
	N_PATH,
	N_VALUE,
	N_FUNC,
	N_CMP,
	N_BETWEEN,
	N_IN,
	N_AND,
	N_OR,
	N_NOT,
	N_PLUS,
	N_MINUS
} ex_nt;

typedef enum ex_cmp { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE } ex_cmp;

typedef enum ex_fn {
	F_ATTRIBUTE_EXISTS,
	F_ATTRIBUTE_NOT_EXISTS,
	F_ATTRIBUTE_TYPE,
	F_BEGINS_WITH,
	F_CONTAINS,
	F_SIZE,
	F_IF_NOT_EXISTS,
	F_LIST_APPEND
} ex_fn;

static const struct ex_fninfo {
	const char *name;
	uint32_t arity;
	unsigned char boolean;   /* yields a condition rather than a value */
	unsigned char update;    /* belongs to UpdateExpression SET */
	unsigned char path_arg0; /* the first operand must be a document path */
} ex_fns[] = {
	[F_ATTRIBUTE_EXISTS] = {"attribute_exists", 1, 1, 0, 1},
	[F_ATTRIBUTE_NOT_EXISTS] = {"attribute_not_exists", 1, 1, 0, 1},
	[F_ATTRIBUTE_TYPE] = {"attribute_type", 2, 1, 0, 1},
	[F_BEGINS_WITH] = {"begins_with", 2, 1, 0, 0},
	[F_CONTAINS] = {"contains", 2, 1, 0, 0},
	[F_SIZE] = {"size", 1, 0, 0, 1},
	[F_IF_NOT_EXISTS] = {"if_not_exists", 2, 0, 1, 1},
	[F_LIST_APPEND] = {"list_append", 2, 0, 1, 0},
};

typedef struct ex_node {
	ex_nt nt;
	int op;          /* ex_cmp for N_CMP, ex_fn for N_FUNC */
	uint32_t nargs;
	struct ex_node **args;
	ex_path path;        /* N_PATH */
	const cJSON *value;  /* N_VALUE (borrowed from the context's values) */
} ex_node;

/* Paths to project, as a trie: a node's children are map keys in the order
 * first seen, or list indexes in ascending order, never both (that is a
 * path conflict, rejected at parse time). */
typedef struct ex_trie {
	const ex_elem *el; /* NULL at the root */
	int whole;         /* the path ends here: take the whole value */
	struct ex_trie *kids;
	struct ex_trie *next;
} ex_trie;

struct rn_expr_proj {
	ex_path *paths;
	size_t npaths;
	ex_trie *trie;
};

struct rn_expr_cond {
	ex_node *root;
};

typedef enum ex_act { A_SET, A_REMOVE, A_ADD, A_DELETE } ex_act;

static const char *const ex_act_name[] = {
	[A_SET] = "SET", [A_REMOVE] = "REMOVE", [A_ADD] = "ADD",
	[A_DELETE] = "DELETE",
};

typedef struct ex_action {
	ex_act kind;
	ex_path path;
	ex_node *rhs; /* SET: the value; ADD/DELETE: the :value; REMOVE: NULL */
} ex_action;

struct rn_expr_update {
	ex_action *acts;
	size_t nacts;
	ex_trie *trie; /* every action's path, for rn_expr_update_project */
};

/* ---------------------------------------------------------------- context */

static void ex_msg(char *msg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ex_msg(char *msg, const char *fmt, ...)
{
	va_list ap;

	if (msg == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, RN_MSG_MAX, fmt, ap);
	va_end(ap);
}

static int ex_cmp_sub(const void *a, const void *b)
{
	return strcmp(((const ex_sub *)a)->key, ((const ex_sub *)b)->key);
}

/* 1 when key is sigil followed by one or more of [A-Za-z0-9_]. */
static int ex_key_ok(const char *key, char sigil)
{
	if (key == NULL || key[0] != sigil || key[1] == '\0')
		return 0;
	for (key++; *key; key++)
		if (!isalnum((unsigned char)*key) && *key != '_')
			return 0;
	return 1;
}

static gt_err ex_tab_build(const cJSON *obj, ex_sub **tab, size_t *n)
{
	const cJSON *c;
	size_t k = 0, count = 0;
	ex_sub *t;

	for (c = obj->child; c; c = c->next)
		count++;
	t = calloc(count, sizeof(*t));
	if (t == NULL)
		return GT_ENOMEM;
	for (c = obj->child; c; c = c->next) {
		t[k].key = c->string;
		t[k].node = c;
		k++;
	}
	qsort(t, count, sizeof(*t), ex_cmp_sub);
	*tab = t;
	*n = count;
	return GT_OK;
}

/* DynamoDB's checks of ExpressionAttributeNames. */
static gt_err ex_check_names(const cJSON *names, char *msg)
{
	static const char bad[] =
	    "ExpressionAttributeNames contains invalid value: ";
	const cJSON *c;

	if (!cJSON_IsObject(names)) {
		ex_msg(msg, "ExpressionAttributeNames must be a map");
		return GT_EINVAL;
	}
	if (names->child == NULL) {
		ex_msg(msg, "ExpressionAttributeNames must not be empty");
		return GT_EINVAL;
	}
	for (c = names->child; c; c = c->next) {
		if (!ex_key_ok(c->string, '#')) {
			ex_msg(msg, "ExpressionAttributeNames contains invalid "
			    "key: Syntax error; key: \"%.200s\"",
			    c->string ? c->string : "");
			return GT_EINVAL;
		}
		if (!cJSON_IsString(c) || c->valuestring == NULL) {
			ex_msg(msg, "%sAttribute name must be a string for key "
			    "%.200s", bad, c->string);
			return GT_EINVAL;
		}
		if (c->valuestring[0] == '\0') {
			ex_msg(msg, "%sEmpty attribute name for key %.200s",
			    bad, c->string);
			return GT_EINVAL;
		}
	}
	return GT_OK;
}

/* DynamoDB's checks of ExpressionAttributeValues; canonicalises them. */
static gt_err ex_check_values(cJSON *values, char *msg)
{
	char inner[RN_MSG_MAX];
	cJSON *v;
	gt_err err;

	if (!cJSON_IsObject(values)) {
		ex_msg(msg, "ExpressionAttributeValues must be a map");
		return GT_EINVAL;
	}
	if (values->child == NULL) {
		ex_msg(msg, "ExpressionAttributeValues must not be empty");
		return GT_EINVAL;
	}
	for (v = values->child; v; v = v->next) {
		if (!ex_key_ok(v->string, ':')) {
			ex_msg(msg, "ExpressionAttributeValues contains "
			    "invalid key: Syntax error; key: \"%.200s\"",
			    v->string ? v->string : "");
			return GT_EINVAL;
		}
		inner[0] = '\0';
		err = rn_av_validate(v, 0, inner);
		if (err == GT_OK)
			continue;
		if (err == GT_EINVAL)
			ex_msg(msg, "ExpressionAttributeValues contains "
			    "invalid value: %.300s for key %.100s", inner,
			    v->string);
		else if (err == GT_ECORRUPT)
			ex_msg(msg, "%s", inner);
		else
			ex_msg(msg, "%s", gt_strerror(err));
		return err;
	}
	return GT_OK;
}

gt_err rn_expr_ctx_new(const cJSON *names, cJSON *values, rn_expr_ctx **out,
    char msg[RN_MSG_MAX])
{
	rn_expr_ctx *ctx = NULL;
	gt_err err;

	if (names != NULL) {
		err = ex_check_names(names, msg);
		if (err != GT_OK)
			return err;
	}
	if (values != NULL) {
		err = ex_check_values(values, msg);
		if (err != GT_OK)
			return err;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		goto oom;
	ctx->names = names;
	ctx->values = values;
	if (names != NULL &&
	    ex_tab_build(names, &ctx->name_tab, &ctx->nname) != GT_OK)
		goto oom;
	if (values != NULL &&
	    ex_tab_build(values, &ctx->value_tab, &ctx->nvalue) != GT_OK)
		goto oom;
	*out = ctx;
	return GT_OK;
oom:
	rn_expr_ctx_free(ctx);
	ex_msg(msg, "%s", gt_strerror(GT_ENOMEM));
	return GT_ENOMEM;
}

void rn_expr_ctx_free(rn_expr_ctx *ctx)
{
	ex_chunk *c, *next;

	if (ctx == NULL)
		return;
	for (c = ctx->arena; c; c = next) {
		next = c->next;
		free(c);
	}
	free(ctx->name_tab);
	free(ctx->value_tab);
	free(ctx);
}

/* Byte order of key[0..n) against the NUL-terminated s, as strcmp. */
static int ex_keycmp(const char *key, size_t n, const char *s)
{
	size_t m = strlen(s);
	int c = memcmp(key, s, n < m ? n : m);

	if (c != 0)
		return c;
	return n < m ? -1 : n > m;
}

/* Finds key[0..n) and marks it (and any duplicate key) used. */
static const cJSON *ex_sub_use(ex_sub *tab, size_t count, const char *key,
    size_t n)
{
	size_t lo = 0, hi = count, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ex_keycmp(key, n, tab[mid].key) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == count || ex_keycmp(key, n, tab[lo].key) != 0)
		return NULL;
	for (i = lo; i < count && ex_keycmp(key, n, tab[i].key) == 0; i++)
		tab[i].used = 1;
	return tab[lo].node;
}

static int ex_sub_used(const ex_sub *tab, size_t count, const char *key)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(key, tab[mid].key) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < count && strcmp(key, tab[lo].key) == 0 && tab[lo].used;
}

static int ex_report_unused(const cJSON *obj, const ex_sub *tab,
    size_t count, const char *what, char *msg)
{
	char list[RN_MSG_MAX];
	size_t len = 0;
	int any = 0;
	const cJSON *c;

	if (obj == NULL)
		return 0;
	list[0] = '\0';
	for (c = obj->child; c; c = c->next) {
		int k;

		if (ex_sub_used(tab, count, c->string))
			continue;
		if (len < sizeof(list)) {
			k = snprintf(list + len, sizeof(list) - len, "%s%s",
			    any ? ", " : "", c->string);
			if (k > 0)
				len += (size_t)k;
		}
		any = 1;
	}
	if (!any)
		return 0;
	ex_msg(msg, "Value provided in %s unused in expressions: keys: "
	    "{%.400s}", what, list);
	return 1;
}

gt_err rn_expr_ctx_check_unused(const rn_expr_ctx *ctx, char msg[RN_MSG_MAX])
{
	if (ex_report_unused(ctx->names, ctx->name_tab, ctx->nname,
	    "ExpressionAttributeNames", msg))
		return GT_EINVAL;
	if (ex_report_unused(ctx->values, ctx->value_tab, ctx->nvalue,
	    "ExpressionAttributeValues", msg))
		return GT_EINVAL;
	return GT_OK;
}

/* ------------------------------------------------------------------ lexer */

typedef enum ex_tt {
	T_EOF,
	T_IDENT,
	T_NAME,  /* #name */
	T_VALUE, /* :value */
	T_NUM,
	T_LP,
	T_RP,
	T_LB,
	T_RB,
	T_COMMA,
	T_DOT,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_PLUS,
	T_MINUS,
	T_BAD
} ex_tt;

typedef struct ex_tok {
	ex_tt t;
	uint32_t off;
	uint32_t len;
} ex_tok;

static int ex_is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Splits src into tokens (the last is T_EOF); returns the count.  tok must
 * have room for len + 1 tokens. */
static size_t ex_lex(const char *src, size_t len, ex_tok *tok)
{
	size_t i = 0, n = 0;

	for (;;) {
		size_t start, j;
		ex_tt t;
		unsigned char c;

		while (i < len && (src[i] == ' ' || src[i] == '\t' ||
		    src[i] == '\n' || src[i] == '\r'))
			i++;
		start = i;
		if (i == len) {
			tok[n].t = T_EOF;
			tok[n].off = (uint32_t)i;
			tok[n].len = 0;
			return n + 1;
		}
		c = (unsigned char)src[i];
		j = i + 1;
		if (isalpha(c) || c == '_') {
			t = T_IDENT;
			while (j < len && ex_is_word(src[j]))
				j++;
		} else if (isdigit(c)) {
			t = T_NUM;
			while (j < len && isdigit((unsigned char)src[j]))
				j++;
		} else if (c == '#' || c == ':') {
			t = c == '#' ? T_NAME : T_VALUE;
			while (j < len && ex_is_word(src[j]))
				j++;
			if (j == i + 1)
				t = T_BAD;
		} else {
			switch (c) {
			case '(': t = T_LP; break;
			case ')': t = T_RP; break;
			case '[': t = T_LB; break;
			case ']': t = T_RB; break;
			case ',': t = T_COMMA; break;
			case '.': t = T_DOT; break;
			case '=': t = T_EQ; break;
			case '+': t = T_PLUS; break;
			case '-': t = T_MINUS; break;
			case '<':
				t = T_LT;
				if (j < len && src[j] == '>') {
					t = T_NE;
					j++;
				} else if (j < len && src[j] == '=') {
					t = T_LE;
					j++;
				}
				break;
			case '>':
				t = T_GT;
				if (j < len && src[j] == '=') {
					t = T_GE;
					j++;
				}
				break;
			default:
				/* Quote a whole UTF-8 sequence in messages. */
				t = T_BAD;
				while (j < len && j < i + 4 &&
				    ((unsigned char)src[j] & 0xC0) == 0x80)
					j++;
				break;
			}
		}
		tok[n].t = t;
		tok[n].off = (uint32_t)start;
		tok[n].len = (uint32_t)(j - start);
		n++;
		i = j;
	}
}

/* ----------------------------------------------------------------- parser */

typedef enum ex_mode { M_PROJ, M_COND, M_KEY, M_UPDATE } ex_mode;

typedef struct ex_parser {
	rn_expr_ctx *ctx;
	const char *kind; /* "ConditionExpression", ... */
	const char *src;
	size_t len;
	ex_tok *tok;
	size_t ntok;
	size_t pos;
	ex_mode mode;
	int depth;
	int nops;
	gt_err err; /* GT_OK until the first failure */
	char *msg;
} ex_parser;

static void ex_fail(ex_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first error as "Invalid <Kind>: <text>". */
static void ex_fail(ex_parser *p, const char *fmt, ...)
{
	char text[RN_MSG_MAX];
	va_list ap;

	if (p->err != GT_OK)
		return;
	p->err = GT_EINVAL;
	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ex_msg(p->msg, "Invalid %s: %s", p->kind, text);
}

static void ex_fail_raw(ex_parser *p, const char *text)
{
	if (p->err != GT_OK)
		return;
	p->err = GT_EINVAL;
	ex_msg(p->msg, "%s", text);
}

static void ex_oom(ex_parser *p)
{
	if (p->err != GT_OK)
		return;
	p->err = GT_ENOMEM;
	ex_msg(p->msg, "%s", gt_strerror(GT_ENOMEM));
}

static void *ex_palloc(ex_parser *p, size_t n)
{
	void *q = ex_alloc(p->ctx, n);

	if (q == NULL)
		ex_oom(p);
	return q;
}

static const ex_tok *ex_cur(const ex_parser *p)
{
	return &p->tok[p->pos];
}

static const ex_tok *ex_peek(const ex_parser *p, size_t k)
{
	size_t i = p->pos + k;

	return &p->tok[i < p->ntok ? i : p->ntok - 1];
}

static void ex_advance(ex_parser *p)
{
	if (p->tok[p->pos].t != T_EOF)
		p->pos++;
}

static const char *ex_text(const ex_parser *p, const ex_tok *t)
{
	return p->src + t->off;
}

/* The syntax error DynamoDB reports at token i. */
static void ex_syntax_at(ex_parser *p, size_t i)
{
	const ex_tok *t = &p->tok[i];
	size_t a, b, last;

	if (t->t == T_EOF) {
		if (i == 0) {
			a = b = 0;
		} else {
			a = p->tok[i >= 2 ? i - 2 : 0].off;
			b = p->tok[i - 1].off + p->tok[i - 1].len;
		}
		ex_fail(p, "Syntax error; token: \"<EOF>\", near: \"%.*s\"",
		    (int)GT_MIN(b - a, 200), p->src + a);
		return;
	}
	a = p->tok[i > 0 ? i - 1 : 0].off;
	last = i + 1 < p->ntok && p->tok[i + 1].t != T_EOF ? i + 1 : i;
	b = p->tok[last].off + p->tok[last].len;
	ex_fail(p, "Syntax error; token: \"%.*s\", near: \"%.*s\"",
	    (int)GT_MIN(t->len, 100), ex_text(p, t), (int)GT_MIN(b - a, 200),
	    p->src + a);
}

static void ex_syntax(ex_parser *p)
{
	ex_syntax_at(p, p->pos);
}

static int ex_expect(ex_parser *p, ex_tt t)
{
	if (ex_cur(p)->t != t) {
		ex_syntax(p);
		return -1;
	}
	ex_advance(p);
	return 0;
}

static int ex_tok_is(const ex_parser *p, const ex_tok *t, const char *kw)
{
	size_t n = strlen(kw);

	return t->t == T_IDENT && t->len == n &&
	    strncasecmp(ex_text(p, t), kw, n) == 0;
}

/* Words that are part of the grammar itself: never an attribute name. */
static int ex_is_grammar_word(const ex_parser *p, const ex_tok *t)
{
	static const char *const words[] = {"AND", "OR", "NOT", "BETWEEN",
	    "IN", "SET", "REMOVE", "ADD", "DELETE"};

	for (size_t i = 0; i < GT_ARRAY_LEN(words); i++)
		if (ex_tok_is(p, t, words[i]))
			return 1;
	return 0;
}

static int ex_count_op(ex_parser *p)
{
	if (++p->nops > RN_EXPR_OPERATORS_MAX) {
		ex_fail(p, "The expression contains too many operators; "
		    "operator count: %d", p->nops);
		return -1;
	}
	return 0;
}

static int ex_enter(ex_parser *p)
{
	if (++p->depth > RN_EXPR_NESTING_MAX) {
		ex_fail(p, "The expression has too many levels of nesting; "
		    "maximum: %d", RN_EXPR_NESTING_MAX);
		return -1;
	}
	return 0;
}

/* One path element name: an identifier (not reserved) or a #name. */
static const char *ex_parse_name(ex_parser *p)
{
	const ex_tok *t = ex_cur(p);
	const cJSON *n;
	char *copy;

	if (t->t == T_NAME) {
		n = ex_sub_use(p->ctx->name_tab, p->ctx->nname, ex_text(p, t),
		    t->len);
		if (n == NULL) {
			ex_fail(p, "An expression attribute name used in the "
			    "document path is not defined; attribute name: "
			    "%.*s", (int)GT_MIN(t->len, 200), ex_text(p, t));
			return NULL;
		}
		ex_advance(p);
		return n->valuestring;
	}
	if (t->t != T_IDENT || ex_is_grammar_word(p, t)) {
		ex_syntax(p);
		return NULL;
	}
	if (ex_is_reserved(ex_text(p, t), t->len)) {
		ex_fail(p, "Attribute name is a reserved keyword; reserved "
		    "keyword: %.*s", (int)t->len, ex_text(p, t));
		return NULL;
	}
	ex_advance(p);
	copy = ex_strndup(p->ctx, ex_text(p, t), t->len);
	if (copy == NULL)
		ex_oom(p);
	return copy;
}

static int ex_parse_path(ex_parser *p, ex_path *out)
{
	ex_elem el[RN_EXPR_PATH_DEPTH_MAX];
	uint32_t n = 0;

	for (;;) {
		const ex_tok *t;

		if (n > 0 && ex_cur(p)->t != T_DOT && ex_cur(p)->t != T_LB)
			break;
		if (n == RN_EXPR_PATH_DEPTH_MAX) {
			ex_fail(p, "The document path has too many nesting "
			    "levels; nesting levels: %d",
			    RN_EXPR_PATH_DEPTH_MAX + 1);
			return -1;
		}
		if (n == 0 || ex_cur(p)->t == T_DOT) {
			if (n > 0)
				ex_advance(p);
			el[n].name = ex_parse_name(p);
			if (el[n].name == NULL)
				return -1;
			el[n].index = 0;
			n++;
		} else { /* '[' */
			unsigned long long v = 0;

			ex_advance(p);
			t = ex_cur(p);
			if (t->t != T_NUM) {
				ex_syntax(p);
				return -1;
			}
			for (uint32_t i = 0; i < t->len; i++) {
				v = v * 10 + (unsigned)(ex_text(p, t)[i] - '0');
				if (v > INT32_MAX) {
					ex_fail(p, "List index is not within "
					    "the allowable range; index: "
					    "[%.*s]", (int)GT_MIN(t->len, 40),
					    ex_text(p, t));
					return -1;
				}
			}
			ex_advance(p);
			if (ex_expect(p, T_RB) < 0)
				return -1;
			el[n].name = NULL;
			el[n].index = (uint32_t)v;
			n++;
		}
	}
	out->el = ex_palloc(p, n * sizeof(ex_elem));
	if (out->el == NULL)
		return -1;
	memcpy(out->el, el, n * sizeof(ex_elem));
	out->n = n;
	return 0;
}

static ex_node *ex_node_new(ex_parser *p, ex_nt nt, uint32_t nargs)
{
	ex_node *n = ex_palloc(p, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->nt = nt;
	n->nargs = nargs;
	if (nargs > 0) {
		n->args = ex_palloc(p, nargs * sizeof(ex_node *));
		if (n->args == NULL)
			return NULL;
	}
	return n;
}

static ex_node *ex_parse_value(ex_parser *p)
{
	const ex_tok *t = ex_cur(p);
	const cJSON *v;
	ex_node *n;

	v = ex_sub_use(p->ctx->value_tab, p->ctx->nvalue, ex_text(p, t),
	    t->len);
	if (v == NULL) {
		ex_fail(p, "An expression attribute value used in expression "
		    "is not defined; attribute value: %.*s",
		    (int)GT_MIN(t->len, 200), ex_text(p, t));
		return NULL;
	}
	n = ex_node_new(p, N_VALUE, 0);
	if (n == NULL)
		return NULL;
	n->value = v;
	ex_advance(p);
	return n;
}

/* The type and payload of a wire value, checking the payload's JSON type so
 * that nothing below trusts a malformed value. */
static rn_av_type ex_type(const cJSON *av, cJSON **payload)
{
	cJSON *c;
	rn_av_type t;
	int ok;

	if (av == NULL || !cJSON_IsObject(av) || av->child == NULL ||
	    av->child->next != NULL)
		return RN_AV_NONE;
	c = av->child;
	t = rn_av_type_parse(c->string);
	switch (t) {
	case RN_AV_S:
	case RN_AV_N:
	case RN_AV_B:
		ok = cJSON_IsString(c) && c->valuestring != NULL;
		break;
	case RN_AV_BOOL:
	case RN_AV_NULL:
		ok = cJSON_IsBool(c);
		break;
	case RN_AV_SS:
	case RN_AV_NS:
	case RN_AV_BS:
	case RN_AV_L:
		ok = cJSON_IsArray(c);
		break;
	case RN_AV_M:
		ok = cJSON_IsObject(c);
		break;
	default:
		ok = 0;
		break;
	}
	if (!ok)
		return RN_AV_NONE;
	if (payload != NULL)
		*payload = c;
	return t;
}

static int ex_is_set(rn_av_type t)
{
	return t == RN_AV_SS || t == RN_AV_NS || t == RN_AV_BS;
}

/* DynamoDB's long type names, used by the ADD/DELETE operand messages. */
static const char *ex_long_type(rn_av_type t)
{
	switch (t) {
	case RN_AV_S: return "STRING";
	case RN_AV_N: return "NUMBER";
	case RN_AV_B: return "BINARY";
	case RN_AV_BOOL: return "BOOLEAN";
	case RN_AV_NULL: return "NULL";
	case RN_AV_SS: return "STRING_SET";
	case RN_AV_NS: return "NUMBER_SET";
	case RN_AV_BS: return "BINARY_SET";
	case RN_AV_M: return "MAP";
	case RN_AV_L: return "LIST";
	default: return "UNKNOWN";
	}
}

/* "{N:5}" as DynamoDB prints an AttributeValue in messages. */
static void ex_av_text(const cJSON *av, char *buf, size_t cap)
{
	cJSON *pl = NULL;
	rn_av_type t = ex_type(av, &pl);

	switch (t) {
	case RN_AV_S:
	case RN_AV_N:
	case RN_AV_B:
		(void)snprintf(buf, cap, "{%s:%.100s}", rn_av_type_name(t),
		    pl->valuestring);
		break;
	case RN_AV_BOOL:
	case RN_AV_NULL:
		(void)snprintf(buf, cap, "{%s:%s}", rn_av_type_name(t),
		    cJSON_IsTrue(pl) ? "true" : "false");
		break;
	default:
		(void)snprintf(buf, cap, "{%s}", rn_av_type_name(t));
		break;
	}
}

/* Checks a function call's name, context, arity and operands. */
static int ex_check_call(ex_parser *p, ex_node *n, const ex_tok *name)
{
	const struct ex_fninfo *f = NULL;
	size_t i;

	for (i = 0; i < GT_ARRAY_LEN(ex_fns); i++) {
		if (strlen(ex_fns[i].name) == name->len &&
		    memcmp(ex_fns[i].name, ex_text(p, name), name->len) == 0) {
			f = &ex_fns[i];
			break;
		}
	}
	if (f == NULL) {
		ex_fail(p, "Invalid function name; function: %.*s",
		    (int)GT_MIN(name->len, 100), ex_text(p, name));
		return -1;
	}
	n->op = (int)i;
	if (p->mode == M_UPDATE && !f->update) {
		ex_fail(p, "The function is not allowed in an update "
		    "expression; function: %s", f->name);
		return -1;
	}
	if (p->mode != M_UPDATE && f->update) {
		ex_fail(p, "The function is not allowed in a condition "
		    "expression; function: %s", f->name);
		return -1;
	}
	if (n->nargs != f->arity) {
		ex_fail(p, "Incorrect number of operands for operator or "
		    "function; operator or function: %s, number of operands: "
		    "%u", f->name, n->nargs);
		return -1;
	}
	if (f->path_arg0 && n->args[0]->nt != N_PATH) {
		ex_fail(p, "Operator or function requires a document path; "
		    "operator or function: %s", f->name);
		return -1;
	}
	for (i = 0; i < n->nargs; i++) {
		const ex_node *a = n->args[i];
		rn_av_type t;

		/* Conditions take paths and values as function operands;
		 * update functions nest (list_append(if_not_exists(...))). */
		if (a->nt == N_FUNC && (p->mode != M_UPDATE ||
		    ex_fns[a->op].boolean)) {
			ex_fail(p, "The function is not allowed to be used "
			    "this way in an expression; function: %s",
			    ex_fns[a->op].name);
			return -1;
		}
		if (a->nt != N_VALUE)
			continue;
		t = ex_type(a->value, NULL);
		if ((n->op == F_BEGINS_WITH && t != RN_AV_S && t != RN_AV_B) ||
		    (n->op == F_LIST_APPEND && t != RN_AV_L) ||
		    (n->op == F_ATTRIBUTE_TYPE && t != RN_AV_S)) {
			ex_fail(p, "Incorrect operand type for operator or "
			    "function; operator or function: %s, operand "
			    "type: %s", f->name, rn_av_type_name(t));
			return -1;
		}
		if (n->op == F_ATTRIBUTE_TYPE) {
			const char *s = a->value->child->valuestring;

			if (rn_av_type_parse(s) == RN_AV_NONE) {
				ex_fail(p, "Invalid attribute type name "
				    "found; type: %.50s, valid types: { B,"
				    "NULL,SS,BOOL,L,BS,N,NS,S,M }", s);
				return -1;
			}
		}
	}
	return 0;
}

static ex_node *ex_parse_operand(ex_parser *p);

static ex_node *ex_parse_call(ex_parser *p)
{
	const ex_tok *name = ex_cur(p);
	ex_node **args = NULL, *n = NULL;
	uint32_t nargs = 0, cap = 0;

	ex_advance(p); /* name */
	ex_advance(p); /* ( */
	if (ex_enter(p) < 0 || ex_count_op(p) < 0)
		return NULL;
	if (ex_cur(p)->t != T_RP) {
		for (;;) {
			ex_node *a = ex_parse_operand(p);

			if (a == NULL)
				goto out;
			if (nargs == cap) {
				ex_node **grown;

				cap = cap ? cap * 2 : 4;
				grown = realloc(args, cap * sizeof(*args));
				if (grown == NULL) {
					ex_oom(p);
					goto out;
				}
				args = grown;
			}
			args[nargs++] = a;
			if (ex_cur(p)->t != T_COMMA)
				break;
			ex_advance(p);
		}
	}
	if (ex_expect(p, T_RP) < 0)
		goto out;
	p->depth--;
	n = ex_node_new(p, N_FUNC, nargs);
	if (n == NULL)
		goto out;
	if (nargs > 0)
		memcpy(n->args, args, nargs * sizeof(*args));
	if (ex_check_call(p, n, name) < 0)
		n = NULL;
out:
	free(args);
	return p->err == GT_OK ? n : NULL;
}

static ex_node *ex_parse_operand(ex_parser *p)
{
	const ex_tok *t = ex_cur(p);
	ex_node *n;

	if (t->t == T_VALUE)
		return ex_parse_value(p);
	if (t->t == T_IDENT && ex_peek(p, 1)->t == T_LP)
		return ex_parse_call(p);
	if (t->t != T_IDENT && t->t != T_NAME) {
		ex_syntax(p);
		return NULL;
	}
	n = ex_node_new(p, N_PATH, 0);
	if (n == NULL || ex_parse_path(p, &n->path) < 0)
		return NULL;
	return n;
}

/* An operand of a comparison, BETWEEN or IN must yield a value. */
static int ex_check_value_operand(ex_parser *p, const ex_node *n)
{
	if (n->nt == N_FUNC && ex_fns[n->op].boolean) {
		ex_fail(p, "The function is not allowed to be used this way in "
		    "an expression; function: %s", ex_fns[n->op].name);
		return -1;
	}
	return 0;
}

static int ex_check_between(ex_parser *p, const ex_node *lo,
    const ex_node *hi)
{
	char a[160], b[160];
	rn_av_type ta, tb;

	if (lo->nt != N_VALUE || hi->nt != N_VALUE)
		return 0;
	ta = ex_type(lo->value, NULL);
	tb = ex_type(hi->value, NULL);
	ex_av_text(lo->value, a, sizeof(a));
	ex_av_text(hi->value, b, sizeof(b));
	if (ta != tb) {
		ex_fail(p, "The BETWEEN operator requires same data type for "
		    "lower and upper bounds; lower bound operand: "
		    "AttributeValue: %s, upper bound operand: AttributeValue: "
		    "%s", a, b);
		return -1;
	}
	if (rn_av_compare(lo->value, hi->value) == 1) {
		ex_fail(p, "The BETWEEN operator requires upper bound to be "
		    "greater than or equal to lower bound; lower bound "
		    "operand: AttributeValue: %s, upper bound operand: "
		    "AttributeValue: %s", a, b);
		return -1;
	}
	return 0;
}

static ex_node *ex_parse_or(ex_parser *p);

static ex_node *ex_parse_in(ex_parser *p, ex_node *lhs)
{
	ex_node **list = NULL, *n = NULL;
	uint32_t count = 0, cap = 0;

	ex_advance(p); /* IN */
	if (ex_expect(p, T_LP) < 0)
		return NULL;
	for (;;) {
		ex_node *a = ex_parse_operand(p);

		if (a == NULL || ex_check_value_operand(p, a) < 0)
			goto out;
		if (count == cap) {
			ex_node **grown;

			cap = cap ? cap * 2 : 8;
			grown = realloc(list, cap * sizeof(*list));
			if (grown == NULL) {
				ex_oom(p);
				goto out;
			}
			list = grown;
		}
		list[count++] = a;
		if (ex_cur(p)->t != T_COMMA)
			break;
		ex_advance(p);
	}
	if (ex_expect(p, T_RP) < 0)
		goto out;
	if (count > RN_EXPR_IN_MAX) {
		ex_fail(p, "The IN operator is provided with too many "
		    "operands; number of operands: %u", count);
		goto out;
	}
	n = ex_node_new(p, N_IN, count + 1);
	if (n == NULL)
		goto out;
	n->args[0] = lhs;
	memcpy(n->args + 1, list, count * sizeof(*list));
out:
	free(list);
	return p->err == GT_OK ? n : NULL;
}

static ex_node *ex_parse_primary(ex_parser *p)
{
	const ex_tok *t = ex_cur(p);
	ex_node *lhs, *n;

	if (t->t == T_LP) {
		if (ex_enter(p) < 0)
			return NULL;
		ex_advance(p);
		n = ex_parse_or(p);
		if (n == NULL || ex_expect(p, T_RP) < 0)
			return NULL;
		p->depth--;
		return n;
	}
	lhs = ex_parse_operand(p);
	if (lhs == NULL)
		return NULL;
	t = ex_cur(p);
	if (t->t >= T_EQ && t->t <= T_GE) {
		static const ex_cmp map[] = {
			[T_EQ - T_EQ] = C_EQ, [T_NE - T_EQ] = C_NE,
			[T_LT - T_EQ] = C_LT, [T_LE - T_EQ] = C_LE,
			[T_GT - T_EQ] = C_GT, [T_GE - T_EQ] = C_GE,
		};
		ex_cmp op = map[t->t - T_EQ];

		if (ex_check_value_operand(p, lhs) < 0 || ex_count_op(p) < 0)
			return NULL;
		ex_advance(p);
		n = ex_node_new(p, N_CMP, 2);
		if (n == NULL)
			return NULL;
		n->op = (int)op;
		n->args[0] = lhs;
		n->args[1] = ex_parse_operand(p);
		if (n->args[1] == NULL ||
		    ex_check_value_operand(p, n->args[1]) < 0)
			return NULL;
		return n;
	}
	if (ex_tok_is(p, t, "BETWEEN")) {
		if (ex_check_value_operand(p, lhs) < 0 || ex_count_op(p) < 0)
			return NULL;
		ex_advance(p);
		n = ex_node_new(p, N_BETWEEN, 3);
		if (n == NULL)
			return NULL;
		n->args[0] = lhs;
		n->args[1] = ex_parse_operand(p);
		if (n->args[1] == NULL ||
		    ex_check_value_operand(p, n->args[1]) < 0)
			return NULL;
		if (!ex_tok_is(p, ex_cur(p), "AND")) {
			ex_syntax(p);
			return NULL;
		}
		ex_advance(p);
		n->args[2] = ex_parse_operand(p);
		if (n->args[2] == NULL ||
		    ex_check_value_operand(p, n->args[2]) < 0 ||
		    ex_check_between(p, n->args[1], n->args[2]) < 0)
			return NULL;
		return n;
	}
	if (ex_tok_is(p, t, "IN")) {
		if (ex_check_value_operand(p, lhs) < 0 || ex_count_op(p) < 0)
			return NULL;
		return ex_parse_in(p, lhs);
	}
	if (lhs->nt == N_FUNC) {
		if (ex_fns[lhs->op].boolean)
			return lhs;
		ex_fail(p, "The function is not allowed to be used this way in "
		    "an expression; function: %s", ex_fns[lhs->op].name);
		return NULL;
	}
	ex_syntax(p);
	return NULL;
}

static ex_node *ex_parse_not(ex_parser *p)
{
	ex_node *n, *c;

	if (!ex_tok_is(p, ex_cur(p), "NOT"))
		return ex_parse_primary(p);
	if (ex_enter(p) < 0 || ex_count_op(p) < 0)
		return NULL;
	ex_advance(p);
	c = ex_parse_not(p);
	if (c == NULL)
		return NULL;
	p->depth--;
	n = ex_node_new(p, N_NOT, 1);
	if (n == NULL)
		return NULL;
	n->args[0] = c;
	return n;
}

static ex_node *ex_parse_and(ex_parser *p)
{
	ex_node *l = ex_parse_not(p), *n;

	while (l != NULL && ex_tok_is(p, ex_cur(p), "AND")) {
		if (ex_count_op(p) < 0)
			return NULL;
		ex_advance(p);
		n = ex_node_new(p, N_AND, 2);
		if (n == NULL)
			return NULL;
		n->args[0] = l;
		n->args[1] = ex_parse_not(p);
		l = n->args[1] != NULL ? n : NULL;
	}
	return l;
}

static ex_node *ex_parse_or(ex_parser *p)
{
	ex_node *l = ex_parse_and(p), *n;

	while (l != NULL && ex_tok_is(p, ex_cur(p), "OR")) {
		if (ex_count_op(p) < 0)
			return NULL;
		ex_advance(p);
		n = ex_node_new(p, N_OR, 2);
		if (n == NULL)
			return NULL;
		n->args[0] = l;
		n->args[1] = ex_parse_and(p);
		l = n->args[1] != NULL ? n : NULL;
	}
	return l;
}

/* ------------------------------------------------------ paths and tries */

/* "[a, [1], b]" as DynamoDB prints a document path. */
static void ex_path_text(const ex_path *path, char *buf, size_t cap)
{
	size_t len = 0;
	int k;

	k = snprintf(buf, cap, "[");
	len = k > 0 ? (size_t)k : 0;
	for (uint32_t i = 0; i < path->n && len < cap; i++) {
		const ex_elem *e = &path->el[i];

		if (e->name != NULL)
			k = snprintf(buf + len, cap - len, "%s%.60s",
			    i ? ", " : "", e->name);
		else
			k = snprintf(buf + len, cap - len, "%s[%u]",
			    i ? ", " : "", e->index);
		if (k > 0)
			len += (size_t)k;
	}
	if (len < cap)
		(void)snprintf(buf + len, cap - len, "]");
}

/* 0: independent paths; 1: one is a prefix of the other (overlap);
 * 2: they index the same value as both a map and a list (conflict). */
static int ex_path_relation(const ex_path *a, const ex_path *b)
{
	uint32_t n = GT_MIN(a->n, b->n);

	for (uint32_t i = 0; i < n; i++) {
		const ex_elem *x = &a->el[i], *y = &b->el[i];

		if ((x->name == NULL) != (y->name == NULL))
			return 2;
		if (x->name == NULL ? x->index != y->index :
		    strcmp(x->name, y->name) != 0)
			return 0;
	}
	return 1;
}

static int ex_check_paths(ex_parser *p, const ex_path *const *paths,
    size_t n)
{
	char a[220], b[220];

	for (size_t j = 1; j < n; j++) {
		for (size_t i = 0; i < j; i++) {
			int r = ex_path_relation(paths[i], paths[j]);

			if (r == 0)
				continue;
			ex_path_text(paths[i], a, sizeof(a));
			ex_path_text(paths[j], b, sizeof(b));
			ex_fail(p, "Two document paths %s with each other; "
			    "must remove or rewrite one of these paths; path "
			    "one: %s, path two: %s",
			    r == 1 ? "overlap" : "conflict", a, b);
			return -1;
		}
	}
	return 0;
}

static int ex_elem_eq(const ex_elem *a, const ex_elem *b)
{
	if ((a->name == NULL) != (b->name == NULL))
		return 0;
	return a->name == NULL ? a->index == b->index :
	    strcmp(a->name, b->name) == 0;
}

/* Builds the projection trie of non-overlapping paths. */
static ex_trie *ex_trie_build(ex_parser *p, const ex_path *const *paths,
    size_t n)
{
	ex_trie *root = ex_palloc(p, sizeof(*root));

	if (root == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		ex_trie *node = root;

		for (uint32_t k = 0; k < paths[i]->n; k++) {
			const ex_elem *e = &paths[i]->el[k];
			ex_trie **link = &node->kids, *kid;

			for (kid = node->kids; kid; kid = kid->next)
				if (ex_elem_eq(kid->el, e))
					break;
			if (kid == NULL) {
				kid = ex_palloc(p, sizeof(*kid));
				if (kid == NULL)
					return NULL;
				kid->el = e;
				/* Indexes ascending, names in order seen. */
				while (*link != NULL && (e->name != NULL ||
				    (*link)->el->index < e->index))
					link = &(*link)->next;
				kid->next = *link;
				*link = kid;
			}
			node = kid;
		}
		node->whole = 1;
	}
	return root;
}

/* ---------------------------------------------------------- entry points */

static gt_err ex_begin(ex_parser *p, rn_expr_ctx *ctx, const char *kind,
    ex_mode mode, const char *text, char *msg)
{
	size_t len, i;

	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	p->kind = kind;
	p->mode = mode;
	p->msg = msg;
	p->src = text;
	len = strnlen(text, RN_EXPR_LEN_MAX + 1);
	if (len > RN_EXPR_LEN_MAX) {
		ex_fail(p, "Expression size has exceeded the maximum allowed "
		    "size; expression size: %zu", strlen(text));
		return p->err;
	}
	for (i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' &&
		    text[i] != '\r')
			break;
	if (i == len) {
		ex_fail(p, "The expression can not be empty;");
		return p->err;
	}
	p->len = len;
	p->tok = malloc((len + 1) * sizeof(ex_tok));
	if (p->tok == NULL) {
		ex_oom(p);
		return p->err;
	}
	p->ntok = ex_lex(text, len, p->tok);
	return GT_OK;
}

static int ex_expect_eof(ex_parser *p)
{
	if (ex_cur(p)->t != T_EOF) {
		ex_syntax(p);
		return -1;
	}
	return 0;
}

gt_err rn_expr_parse_projection(rn_expr_ctx *ctx, const char *text,
    const rn_expr_proj **out, char msg[RN_MSG_MAX])
{
	ex_parser p;
	ex_path **list = NULL;
	size_t n = 0, cap = 0;
	rn_expr_proj *proj;

	if (ex_begin(&p, ctx, "ProjectionExpression", M_PROJ, text, msg))
		goto out;
	for (;;) {
		ex_path *path = ex_palloc(&p, sizeof(*path));

		if (path == NULL || ex_parse_path(&p, path) < 0)
			goto out;
		if (n == cap) {
			ex_path **grown;

			cap = cap ? cap * 2 : 8;
			grown = realloc(list, cap * sizeof(*list));
			if (grown == NULL) {
				ex_oom(&p);
				goto out;
			}
			list = grown;
		}
		list[n++] = path;
		if (ex_cur(&p)->t != T_COMMA)
			break;
		ex_advance(&p);
	}
	if (ex_expect_eof(&p) < 0 ||
	    ex_check_paths(&p, (const ex_path *const *)list, n) < 0)
		goto out;
	proj = ex_palloc(&p, sizeof(*proj));
	if (proj == NULL)
		goto out;
	proj->paths = ex_palloc(&p, n * sizeof(ex_path));
	if (proj->paths == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		proj->paths[i] = *list[i];
	proj->npaths = n;
	proj->trie = ex_trie_build(&p, (const ex_path *const *)list, n);
	if (proj->trie == NULL)
		goto out;
	*out = proj;
out:
	free(list);
	free(p.tok);
	return p.err;
}

gt_err rn_expr_parse_condition(rn_expr_ctx *ctx, const char *kind,
    const char *text, const rn_expr_cond **out, char msg[RN_MSG_MAX])
{
	ex_parser p;
	rn_expr_cond *cond;
	ex_node *root;

	if (ex_begin(&p, ctx, kind, M_COND, text, msg))
		goto out;
	root = ex_parse_or(&p);
	if (root == NULL || ex_expect_eof(&p) < 0)
		goto out;
	cond = ex_palloc(&p, sizeof(*cond));
	if (cond == NULL)
		goto out;
	cond->root = root;
	*out = cond;
out:
	free(p.tok);
	return p.err;
}

/* ------------------------------------------------------------ update parse */

static ex_node *ex_parse_set_value(ex_parser *p)
{
	ex_node *a = ex_parse_operand(p), *n;
	ex_nt nt;

	if (a == NULL)
		return NULL;
	if (ex_cur(p)->t != T_PLUS && ex_cur(p)->t != T_MINUS)
		return a;
	nt = ex_cur(p)->t == T_PLUS ? N_PLUS : N_MINUS;
	if (ex_count_op(p) < 0)
		return NULL;
	ex_advance(p);
	n = ex_node_new(p, nt, 2);
	if (n == NULL)
		return NULL;
	n->args[0] = a;
	n->args[1] = ex_parse_operand(p);
	return n->args[1] != NULL ? n : NULL;
}

static int ex_parse_action(ex_parser *p, ex_act kind, ex_action *a)
{
	a->kind = kind;
	if (ex_parse_path(p, &a->path) < 0)
		return -1;
	switch (kind) {
	case A_SET:
		if (ex_expect(p, T_EQ) < 0)
			return -1;
		a->rhs = ex_parse_set_value(p);
		return a->rhs != NULL ? 0 : -1;
	case A_REMOVE:
		return 0;
	case A_ADD:
	case A_DELETE: {
		rn_av_type t;

		if (ex_cur(p)->t != T_VALUE) {
			ex_syntax(p);
			return -1;
		}
		a->rhs = ex_parse_value(p);
		if (a->rhs == NULL)
			return -1;
		t = ex_type(a->rhs->value, NULL);
		if ((kind == A_ADD && t != RN_AV_N && !ex_is_set(t)) ||
		    (kind == A_DELETE && !ex_is_set(t))) {
			ex_fail(p, "Incorrect operand type for operator or "
			    "function; operator: %s, operand type: %s",
			    ex_act_name[kind], ex_long_type(t));
			return -1;
		}
		return 0;
	}
	}
	return -1;
}

gt_err rn_expr_parse_update(rn_expr_ctx *ctx, const char *text,
    const rn_expr_update **out, char msg[RN_MSG_MAX])
{
	ex_parser p;
	ex_action *acts = NULL;
	ex_path **paths = NULL;
	size_t n = 0, cap = 0;
	int seen[4] = {0, 0, 0, 0};
	rn_expr_update *upd;

	if (ex_begin(&p, ctx, "UpdateExpression", M_UPDATE, text, msg))
		goto out;
	do {
		const ex_tok *t = ex_cur(&p);
		int k;

		for (k = 0; k < 4; k++)
			if (ex_tok_is(&p, t, ex_act_name[k]))
				break;
		if (k == 4) {
			ex_syntax(&p);
			goto out;
		}
		if (seen[k]++) {
			ex_fail(&p, "The \"%s\" section can only be used once "
			    "in an update expression;", ex_act_name[k]);
			goto out;
		}
		ex_advance(&p);
		for (;;) {
			if (n == cap) {
				ex_action *grown;

				cap = cap ? cap * 2 : 8;
				grown = realloc(acts, cap * sizeof(*acts));
				if (grown == NULL) {
					ex_oom(&p);
					goto out;
				}
				acts = grown;
			}
			memset(&acts[n], 0, sizeof(acts[n]));
			if (ex_parse_action(&p, (ex_act)k, &acts[n]) < 0)
				goto out;
			n++;
			if (ex_cur(&p)->t != T_COMMA)
				break;
			ex_advance(&p);
		}
	} while (ex_cur(&p)->t != T_EOF);
	paths = malloc(n * sizeof(*paths));
	if (paths == NULL) {
		ex_oom(&p);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		paths[i] = &acts[i].path;
	if (ex_check_paths(&p, (const ex_path *const *)paths, n) < 0)
		goto out;
	upd = ex_palloc(&p, sizeof(*upd));
	if (upd == NULL)
		goto out;
	upd->acts = ex_palloc(&p, n * sizeof(ex_action));
	if (upd->acts == NULL)
		goto out;
	memcpy(upd->acts, acts, n * sizeof(ex_action));
	upd->nacts = n;
	/* The trie must point at the arena copies, not at acts. */
	for (size_t i = 0; i < n; i++)
		paths[i] = &upd->acts[i].path;
	upd->trie = ex_trie_build(&p, (const ex_path *const *)paths, n);
	if (upd->trie == NULL)
		goto out;
	*out = upd;
out:
	free(paths);
	free(acts);
	free(p.tok);
	return p.err;
}

/* ---------------------------------------------------------- key condition */

typedef struct ex_kc_leaf {
	const char *name;
	rn_kc_op op;
	const cJSON *v1, *v2;
} ex_kc_leaf;

/* Walks the AND tree of a key condition, rejecting other operators, and
 * collects the comparisons (at most 2 are kept; all are counted). */
static int ex_kc_collect(ex_parser *p, const ex_node *n,
    const ex_node **leaves, size_t *count)
{
	const char *bad = NULL;

	switch (n->nt) {
	case N_AND:
		if (ex_kc_collect(p, n->args[0], leaves, count) < 0)
			return -1;
		return ex_kc_collect(p, n->args[1], leaves, count);
	case N_OR: bad = "OR"; break;
	case N_NOT: bad = "NOT"; break;
	case N_IN: bad = "IN"; break;
	case N_CMP:
		if (n->op == C_NE)
			bad = "<>";
		break;
	case N_FUNC:
		if (n->op != F_BEGINS_WITH)
			bad = ex_fns[n->op].name;
		break;
	default:
		break;
	}
	if (bad == NULL && (n->nt == N_CMP || n->nt == N_BETWEEN)) {
		for (uint32_t i = 0; i < n->nargs; i++)
			if (n->args[i]->nt == N_FUNC)
				bad = ex_fns[n->args[i]->op].name;
	}
	if (bad != NULL) {
		ex_fail(p, "Invalid operator used in KeyConditionExpression: "
		    "%s", bad);
		return -1;
	}
	if (*count < 2)
		leaves[*count] = n;
	(*count)++;
	return 0;
}

static int ex_kc_resolve(ex_parser *p, const ex_node *n, ex_kc_leaf *out)
{
	static const rn_kc_op cmp_op[] = {
		[C_EQ] = RN_KC_EQ, [C_LT] = RN_KC_LT, [C_LE] = RN_KC_LE,
		[C_GT] = RN_KC_GT, [C_GE] = RN_KC_GE,
	};
	static const rn_kc_op flipped[] = {
		[C_EQ] = RN_KC_EQ, [C_LT] = RN_KC_GT, [C_LE] = RN_KC_GE,
		[C_GT] = RN_KC_LT, [C_GE] = RN_KC_LE,
	};
	const ex_node *path = NULL;

	memset(out, 0, sizeof(*out));
	if (n->nt == N_CMP) {
		const ex_node *a = n->args[0], *b = n->args[1];

		if (a->nt == N_PATH && b->nt == N_VALUE) {
			path = a;
			out->op = cmp_op[n->op];
			out->v1 = b->value;
		} else if (a->nt == N_VALUE && b->nt == N_PATH) {
			path = b;
			out->op = flipped[n->op];
			out->v1 = a->value;
		}
	} else if (n->nt == N_BETWEEN) {
		if (n->args[0]->nt == N_PATH && n->args[1]->nt == N_VALUE &&
		    n->args[2]->nt == N_VALUE) {
			path = n->args[0];
			out->op = RN_KC_BETWEEN;
			out->v1 = n->args[1]->value;
			out->v2 = n->args[2]->value;
		}
	} else if (n->nt == N_FUNC) { /* begins_with */
		if (n->args[0]->nt == N_PATH && n->args[1]->nt == N_VALUE) {
			path = n->args[0];
			out->op = RN_KC_BEGINS_WITH;
			out->v1 = n->args[1]->value;
		}
	}
	if (path == NULL || path->path.n != 1) {
		ex_fail_raw(p, "Query key condition not supported");
		return -1;
	}
	out->name = path->path.el[0].name;
	return 0;
}

gt_err rn_expr_parse_keycond(rn_expr_ctx *ctx, const char *text,
    const char *hash_name, const char *range_name, rn_keycond *out,
    char msg[RN_MSG_MAX])
{
	ex_parser p;
	const ex_node *leaves[2];
	ex_kc_leaf leaf[2];
	const ex_kc_leaf *hash = NULL, *range = NULL;
	size_t count = 0;
	int nonkey = 0;
	ex_node *root;
	rn_keycond kc;

	if (ex_begin(&p, ctx, "KeyConditionExpression", M_KEY, text, msg))
		goto out;
	root = ex_parse_or(&p);
	if (root == NULL || ex_expect_eof(&p) < 0 ||
	    ex_kc_collect(&p, root, leaves, &count) < 0)
		goto out;
	if (count > 2) {
		ex_fail(&p, "Conditions can be of length 1 or 2 only");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		if (ex_kc_resolve(&p, leaves[i], &leaf[i]) < 0)
			goto out;
		if (strcmp(leaf[i].name, hash_name) == 0) {
			if (hash != NULL) {
				ex_fail_raw(&p, "KeyConditionExpressions must "
				    "only contain one condition per key");
				goto out;
			}
			hash = &leaf[i];
		} else if (range_name != NULL &&
		    strcmp(leaf[i].name, range_name) == 0) {
			if (range != NULL) {
				ex_fail_raw(&p, "KeyConditionExpressions must "
				    "only contain one condition per key");
				goto out;
			}
			range = &leaf[i];
		} else {
			nonkey = 1;
		}
	}
	if (hash == NULL) {
		char m[RN_MSG_MAX];

		ex_msg(m, "Query condition missed key schema element: %.200s",
		    hash_name);
		ex_fail_raw(&p, m);
		goto out;
	}
	if (nonkey || hash->op != RN_KC_EQ) {
		ex_fail_raw(&p, "Query key condition not supported");
		goto out;
	}
	memset(&kc, 0, sizeof(kc));
	kc.hash_name = hash_name;
	kc.hash_value = hash->v1;
	if (range != NULL) {
		kc.range_name = range_name;
		kc.range_op = range->op;
		kc.range_v1 = range->v1;
		kc.range_v2 = range->v2;
	}
	*out = kc;
out:
	free(p.tok);
	return p.err;
}

/* ------------------------------------------------------------- evaluation */

static cJSON *ex_step(const cJSON *av, const ex_elem *e)
{
	cJSON *pl = NULL;
	rn_av_type t = ex_type(av, &pl);

	if (e->name != NULL)
		return t == RN_AV_M ?
		    cJSON_GetObjectItemCaseSensitive(pl, e->name) : NULL;
	if (t != RN_AV_L)
		return NULL;
	return cJSON_GetArrayItem(pl, (int)e->index);
}

/* The value at path in item (borrowed), or NULL when absent. */
static cJSON *ex_resolve(const cJSON *item, const ex_path *path)
{
	cJSON *cur;

	if (item == NULL || !cJSON_IsObject(item))
		return NULL;
	cur = cJSON_GetObjectItemCaseSensitive(item, path->el[0].name);
	for (uint32_t i = 1; i < path->n && cur != NULL; i++)
		cur = ex_step(cur, &path->el[i]);
	return cur;
}

/* size(): characters of S, bytes of B, members of sets, M and L. */
static int ex_size(const cJSON *av, size_t *out)
{
	cJSON *pl = NULL;
	const unsigned char *s;
	size_t n = 0;

	switch (ex_type(av, &pl)) {
	case RN_AV_S:
		for (s = (const unsigned char *)pl->valuestring; *s; s++)
			if ((*s & 0xC0) != 0x80)
				n++;
		break;
	case RN_AV_B:
		n = gt_base64_decoded_len(pl->valuestring,
		    strlen(pl->valuestring));
		break;
	case RN_AV_SS:
	case RN_AV_NS:
	case RN_AV_BS:
	case RN_AV_L:
	case RN_AV_M:
		n = (size_t)cJSON_GetArraySize(pl);
		break;
	default:
		return 0;
	}
	*out = n;
	return 1;
}

/* An evaluated operand: a borrowed value, or a computed size held in the
 * struct itself as a stack-built {"N": text} (no allocation per item). */
typedef struct ex_opnd {
	const cJSON *av;
	cJSON num;
	cJSON num_payload;
	char text[24];
} ex_opnd;

static char ex_key_n[] = "N";

static void ex_eval_operand(const ex_node *n, const cJSON *item, ex_opnd *o)
{
	size_t sz;

	o->av = NULL;
	switch (n->nt) {
	case N_PATH:
		o->av = ex_resolve(item, &n->path);
		break;
	case N_VALUE:
		o->av = n->value;
		break;
	case N_FUNC: /* size(), the only value-yielding function here */
		if (n->op != F_SIZE ||
		    !ex_size(ex_resolve(item, &n->args[0]->path), &sz))
			break;
		(void)snprintf(o->text, sizeof(o->text), "%zu", sz);
		memset(&o->num, 0, sizeof(o->num));
		memset(&o->num_payload, 0, sizeof(o->num_payload));
		o->num_payload.type = cJSON_String;
		o->num_payload.valuestring = o->text;
		o->num_payload.string = ex_key_n;
		o->num_payload.prev = &o->num_payload;
		o->num.type = cJSON_Object;
		o->num.child = &o->num_payload;
		o->av = &o->num;
		break;
	default:
		break;
	}
}

/* Decodes base64 text into b; -1 when out of memory, 0 when malformed. */
static int ex_b64(gt_buf *b, const char *s)
{
	gt_err err = gt_base64_decode(b, s, strlen(s));

	if (err == GT_ENOMEM || !gt_buf_ok(b))
		return -1;
	return err == GT_OK;
}

/* Equality of two set members of set type t: 1, 0, or -1 (no memory). */
static int ex_member_eq(rn_av_type t, const char *a, const char *b)
{
	rn_num x, y;
	gt_buf ba = GT_BUF_INIT, bb = GT_BUF_INIT;
	int r;

	if (strcmp(a, b) == 0)
		return 1;
	switch (t) {
	case RN_AV_NS:
		if (rn_num_parse(a, strlen(a), &x, NULL) != GT_OK ||
		    rn_num_parse(b, strlen(b), &y, NULL) != GT_OK)
			return 0;
		return rn_num_cmp(&x, &y) == 0;
	case RN_AV_BS:
		r = ex_b64(&ba, a);
		if (r == 1)
			r = ex_b64(&bb, b);
		if (r == 1)
			r = ba.len == bb.len && (ba.len == 0 ||
			    memcmp(ba.data, bb.data, ba.len) == 0);
		gt_buf_free(&ba);
		gt_buf_free(&bb);
		return r;
	default:
		return 0;
	}
}

/* 1 when set payload arr has a member equal to s; -1 out of memory. */
static int ex_set_has(rn_av_type t, const cJSON *arr, const char *s)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, arr) {
		int r;

		if (!cJSON_IsString(m) || m->valuestring == NULL)
			continue;
		r = ex_member_eq(t, m->valuestring, s);
		if (r != 0)
			return r;
	}
	return 0;
}

static int ex_begins_with(const cJSON *a, const cJSON *b)
{
	cJSON *pa = NULL, *pb = NULL;
	rn_av_type ta = ex_type(a, &pa), tb = ex_type(b, &pb);
	gt_buf x = GT_BUF_INIT, y = GT_BUF_INIT;
	int r;

	if (ta != tb)
		return 0;
	if (ta == RN_AV_S)
		return strncmp(pa->valuestring, pb->valuestring,
		    strlen(pb->valuestring)) == 0;
	if (ta != RN_AV_B)
		return 0;
	r = ex_b64(&x, pa->valuestring);
	if (r == 1)
		r = ex_b64(&y, pb->valuestring);
	if (r == 1)
		r = y.len <= x.len &&
		    (y.len == 0 || memcmp(x.data, y.data, y.len) == 0);
	gt_buf_free(&x);
	gt_buf_free(&y);
	return r;
}

static int ex_contains(const cJSON *a, const cJSON *b)
{
	cJSON *pa = NULL, *pb = NULL;
	rn_av_type ta = ex_type(a, &pa), tb = ex_type(b, &pb);
	const cJSON *e;

	switch (ta) {
	case RN_AV_S:
		return tb == RN_AV_S &&
		    strstr(pa->valuestring, pb->valuestring) != NULL;
	case RN_AV_SS:
	case RN_AV_NS:
	case RN_AV_BS:
		if (tb != (ta == RN_AV_SS ? RN_AV_S :
		    ta == RN_AV_NS ? RN_AV_N : RN_AV_B))
			return 0;
		return ex_set_has(ta, pa, pb->valuestring);
	case RN_AV_L:
		cJSON_ArrayForEach(e, pa)
			if (rn_av_equal(e, b))
				return 1;
		return 0;
	default:
		return 0;
	}
}

static int ex_compare(ex_cmp op, const cJSON *a, const cJSON *b)
{
	int c;

	if (op == C_EQ)
		return a != NULL && b != NULL && rn_av_equal(a, b);
	if (op == C_NE)
		return !(a != NULL && b != NULL && rn_av_equal(a, b));
	if (a == NULL || b == NULL)
		return 0;
	c = rn_av_compare(a, b);
	if (c == 2)
		return 0;
	switch (op) {
	case C_LT: return c < 0;
	case C_LE: return c <= 0;
	case C_GT: return c > 0;
	case C_GE: return c >= 0;
	default: return 0;
	}
}

/* 1 true, 0 false, -1 out of memory. */
static int ex_eval(const ex_node *n, const cJSON *item)
{
	ex_opnd a, b, c;
	int r;

	switch (n->nt) {
	case N_AND:
		r = ex_eval(n->args[0], item);
		return r == 1 ? ex_eval(n->args[1], item) : r;
	case N_OR:
		r = ex_eval(n->args[0], item);
		return r == 0 ? ex_eval(n->args[1], item) : r;
	case N_NOT:
		r = ex_eval(n->args[0], item);
		return r < 0 ? r : !r;
	case N_CMP:
		ex_eval_operand(n->args[0], item, &a);
		ex_eval_operand(n->args[1], item, &b);
		return ex_compare((ex_cmp)n->op, a.av, b.av);
	case N_BETWEEN:
		ex_eval_operand(n->args[0], item, &a);
		ex_eval_operand(n->args[1], item, &b);
		ex_eval_operand(n->args[2], item, &c);
		return ex_compare(C_GE, a.av, b.av) &&
		    ex_compare(C_LE, a.av, c.av);
	case N_IN:
		ex_eval_operand(n->args[0], item, &a);
		for (uint32_t i = 1; i < n->nargs; i++) {
			ex_eval_operand(n->args[i], item, &b);
			if (ex_compare(C_EQ, a.av, b.av))
				return 1;
		}
		return 0;
	case N_FUNC:
		break;
	default:
		return 0;
	}
	switch ((ex_fn)n->op) {
	case F_ATTRIBUTE_EXISTS:
		return ex_resolve(item, &n->args[0]->path) != NULL;
	case F_ATTRIBUTE_NOT_EXISTS:
		return ex_resolve(item, &n->args[0]->path) == NULL;
	case F_ATTRIBUTE_TYPE: {
		cJSON *pl = NULL;
		rn_av_type t;

		ex_eval_operand(n->args[0], item, &a);
		ex_eval_operand(n->args[1], item, &b);
		t = ex_type(a.av, NULL);
		if (t == RN_AV_NONE || ex_type(b.av, &pl) != RN_AV_S)
			return 0;
		return rn_av_type_parse(pl->valuestring) == t;
	}
	case F_BEGINS_WITH:
		ex_eval_operand(n->args[0], item, &a);
		ex_eval_operand(n->args[1], item, &b);
		return ex_begins_with(a.av, b.av);
	case F_CONTAINS:
		ex_eval_operand(n->args[0], item, &a);
		ex_eval_operand(n->args[1], item, &b);
		return ex_contains(a.av, b.av);
	default:
		return 0;
	}
}

gt_err rn_expr_eval(const rn_expr_cond *cond, const cJSON *item, int *result,
    char msg[RN_MSG_MAX])
{
	int r = ex_eval(cond->root, item);

	if (r < 0) {
		ex_msg(msg, "%s", gt_strerror(GT_ENOMEM));
		return GT_ENOMEM;
	}
	*result = r;
	return GT_OK;
}

int rn_expr_keycond_match(const rn_keycond *kc, const cJSON *item)
{
	const cJSON *h, *r;

	if (item == NULL || !cJSON_IsObject(item))
		return 0;
	h = cJSON_GetObjectItemCaseSensitive(item, kc->hash_name);
	if (!ex_compare(C_EQ, h, kc->hash_value))
		return 0;
	if (kc->range_op == RN_KC_NONE)
		return 1;
	r = cJSON_GetObjectItemCaseSensitive(item, kc->range_name);
	switch (kc->range_op) {
	case RN_KC_EQ: return ex_compare(C_EQ, r, kc->range_v1);
	case RN_KC_LT: return ex_compare(C_LT, r, kc->range_v1);
	case RN_KC_LE: return ex_compare(C_LE, r, kc->range_v1);
	case RN_KC_GT: return ex_compare(C_GT, r, kc->range_v1);
	case RN_KC_GE: return ex_compare(C_GE, r, kc->range_v1);
	case RN_KC_BETWEEN:
		return ex_compare(C_GE, r, kc->range_v1) &&
		    ex_compare(C_LE, r, kc->range_v2);
	case RN_KC_BEGINS_WITH:
		return r != NULL && ex_begins_with(r, kc->range_v1) == 1;
	default:
		return 0;
	}
}

/* ------------------------------------------------------------- projection */

static int ex_wrap(cJSON **av, const char *type, cJSON *payload)
{
	cJSON *w = cJSON_CreateObject();

	if (w == NULL || !cJSON_AddItemToObject(w, type, payload)) {
		cJSON_Delete(w);
		cJSON_Delete(payload);
		return -1;
	}
	*av = w;
	return 0;
}

/* The part of av selected by trie node t: a new value, NULL with *oom == 0
 * when nothing is selected. */
static cJSON *ex_proj_value(const cJSON *av, const ex_trie *t, int *oom)
{
	cJSON *pl = NULL, *out = NULL, *res = NULL;
	const ex_trie *k;
	rn_av_type ty;

	if (t->whole) {
		res = cJSON_Duplicate(av, 1);
		if (res == NULL)
			*oom = 1;
		return res;
	}
	ty = ex_type(av, &pl);
	if (ty == RN_AV_M && t->kids != NULL && t->kids->el->name != NULL) {
		for (k = t->kids; k; k = k->next) {
			const cJSON *sub;
			cJSON *r;

			sub = cJSON_GetObjectItemCaseSensitive(pl, k->el->name);
			if (sub == NULL)
				continue;
			r = ex_proj_value(sub, k, oom);
			if (r == NULL) {
				if (*oom)
					goto fail;
				continue;
			}
			if (out == NULL)
				out = cJSON_CreateObject();
			if (out == NULL) {
				cJSON_Delete(r);
				goto fail;
			}
			if (!cJSON_AddItemToObject(out, k->el->name, r)) {
				cJSON_Delete(r);
				goto fail;
			}
		}
		if (out != NULL && ex_wrap(&res, "M", out) < 0) {
			*oom = 1;
			return NULL;
		}
		return res;
	}
	if (ty == RN_AV_L && t->kids != NULL && t->kids->el->name == NULL) {
		const cJSON *e = pl->child;
		uint32_t idx = 0;

		for (k = t->kids; k && e; k = k->next) {
			cJSON *r;

			while (e != NULL && idx < k->el->index) {
				e = e->next;
				idx++;
			}
			if (e == NULL)
				break;
			r = ex_proj_value(e, k, oom);
			if (r == NULL) {
				if (*oom)
					goto fail;
				continue;
			}
			if (out == NULL)
				out = cJSON_CreateArray();
			if (out == NULL) {
				cJSON_Delete(r);
				goto fail;
			}
			if (!cJSON_AddItemToArray(out, r)) {
				cJSON_Delete(r);
				goto fail;
			}
		}
		if (out != NULL && ex_wrap(&res, "L", out) < 0) {
			*oom = 1;
			return NULL;
		}
		return res;
	}
	return NULL;
fail:
	*oom = 1;
	cJSON_Delete(out);
	return NULL;
}

static gt_err ex_project_trie(const ex_trie *root, const cJSON *item,
    cJSON **out)
{
	cJSON *res = cJSON_CreateObject();
	const ex_trie *k;
	int oom = 0;

	if (res == NULL)
		return GT_ENOMEM;
	if (item != NULL && cJSON_IsObject(item)) {
		for (k = root->kids; k; k = k->next) {
			const cJSON *sub;
			cJSON *r;

			sub = cJSON_GetObjectItemCaseSensitive(item,
			    k->el->name);
			if (sub == NULL)
				continue;
			r = ex_proj_value(sub, k, &oom);
			if (r == NULL) {
				if (oom)
					goto fail;
				continue;
			}
			if (!cJSON_AddItemToObject(res, k->el->name, r)) {
				cJSON_Delete(r);
				goto fail;
			}
		}
	}
	*out = res;
	return GT_OK;
fail:
	cJSON_Delete(res);
	return GT_ENOMEM;
}

gt_err rn_expr_project(const rn_expr_proj *proj, const cJSON *item,
    cJSON **out)
{
	return ex_project_trie(proj->trie, item, out);
}

gt_err rn_expr_update_project(const rn_expr_update *upd, const cJSON *item,
    cJSON **out)
{
	return ex_project_trie(upd->trie, item, out);
}

static int ex_node_refers(const ex_node *n, const char *name)
{
	if (n->nt == N_PATH)
		return n->path.n > 0 && n->path.el[0].name != NULL &&
		    strcmp(n->path.el[0].name, name) == 0;
	for (uint32_t i = 0; i < n->nargs; i++)
		if (ex_node_refers(n->args[i], name))
			return 1;
	return 0;
}

int rn_expr_cond_refers(const rn_expr_cond *cond, const char *name)
{
	return ex_node_refers(cond->root, name);
}

int rn_expr_update_touches(const rn_expr_update *upd, const char *name)
{
	for (size_t i = 0; i < upd->nacts; i++)
		if (strcmp(upd->acts[i].path.el[0].name, name) == 0)
			return 1;
	return 0;
}

/* ----------------------------------------------------------------- update */

static const char ex_msg_type[] =
    "An operand in the update expression has an incorrect data type";
static const char ex_msg_path[] =
    "The document path provided in the update expression is invalid for "
    "update";
static const char ex_msg_missing[] =
    "The provided expression refers to an attribute that does not exist in "
    "the item";

static gt_err ex_fail_upd(char *msg, gt_err err, const char *text)
{
	ex_msg(msg, "%s", err == GT_ENOMEM ? gt_strerror(err) : text);
	return err;
}

static gt_err ex_new_number(const rn_num *v, cJSON **out)
{
	gt_buf b = GT_BUF_INIT;
	cJSON *s;

	rn_num_format(v, &b);
	if (!gt_buf_ok(&b)) {
		gt_buf_free(&b);
		return GT_ENOMEM;
	}
	s = cJSON_CreateString(b.data != NULL ? b.data : "0");
	gt_buf_free(&b);
	if (s == NULL || ex_wrap(out, "N", s) < 0)
		return GT_ENOMEM;
	return GT_OK;
}

/* a + b or a - b on two N values. */
static gt_err ex_arith(const cJSON *a, const cJSON *b, int minus, cJSON **out,
    char *msg)
{
	cJSON *pa = NULL, *pb = NULL;
	rn_num x, y, z;
	int under = 0;
	gt_err err;

	if (ex_type(a, &pa) != RN_AV_N || ex_type(b, &pb) != RN_AV_N)
		return ex_fail_upd(msg, GT_EINVAL, ex_msg_type);
	if (rn_num_parse(pa->valuestring, strlen(pa->valuestring), &x,
	    NULL) != GT_OK ||
	    rn_num_parse(pb->valuestring, strlen(pb->valuestring), &y,
	    NULL) != GT_OK)
		return ex_fail_upd(msg, GT_EINVAL, ex_msg_type);
	err = minus ? rn_num_sub(&x, &y, &z, &under) :
	    rn_num_add(&x, &y, &z, &under);
	if (err != GT_OK)
		return ex_fail_upd(msg, GT_EINVAL, rn_num_strerror(err, under));
	err = ex_new_number(&z, out);
	if (err != GT_OK)
		return ex_fail_upd(msg, err, NULL);
	return GT_OK;
}

/* The value of a SET operand, read from the original item: a new tree. */
static gt_err ex_upd_value(const ex_node *n, const cJSON *item, cJSON **out,
    char *msg)
{
	cJSON *a = NULL, *b = NULL, *pa = NULL, *pb = NULL;
	const cJSON *src;
	gt_err err;

	switch (n->nt) {
	case N_VALUE:
		src = n->value;
		break;
	case N_PATH:
		src = ex_resolve(item, &n->path);
		if (src == NULL)
			return ex_fail_upd(msg, GT_EINVAL, ex_msg_missing);
		break;
	case N_FUNC:
		if (n->op == F_IF_NOT_EXISTS) {
			src = ex_resolve(item, &n->args[0]->path);
			if (src == NULL)
				return ex_upd_value(n->args[1], item, out, msg);
			break;
		}
		/* list_append */
		err = ex_upd_value(n->args[0], item, &a, msg);
		if (err == GT_OK)
			err = ex_upd_value(n->args[1], item, &b, msg);
		if (err != GT_OK)
			goto out;
		if (ex_type(a, &pa) != RN_AV_L || ex_type(b, &pb) != RN_AV_L) {
			err = ex_fail_upd(msg, GT_EINVAL, ex_msg_type);
			goto out;
		}
		while (pb->child != NULL)
			(void)cJSON_AddItemToArray(pa,
			    cJSON_DetachItemViaPointer(pb, pb->child));
		*out = a;
		a = NULL;
		goto out;
	case N_PLUS:
	case N_MINUS:
		err = ex_upd_value(n->args[0], item, &a, msg);
		if (err == GT_OK)
			err = ex_upd_value(n->args[1], item, &b, msg);
		if (err == GT_OK)
			err = ex_arith(a, b, n->nt == N_MINUS, out, msg);
		goto out;
	default:
		return ex_fail_upd(msg, GT_EINVAL, ex_msg_type);
	}
	*out = cJSON_Duplicate(src, 1);
	if (*out == NULL)
		return ex_fail_upd(msg, GT_ENOMEM, NULL);
	return GT_OK;
out:
	cJSON_Delete(a);
	cJSON_Delete(b);
	return err;
}

/* The container holding the last element of path: the item itself, a map's
 * member object or a list's array.  NULL when an intermediate value is
 * absent or not of the kind the next element needs. */
static cJSON *ex_container(cJSON *item, const ex_path *path)
{
	const ex_elem *last = &path->el[path->n - 1];
	cJSON *cur, *pl = NULL;
	rn_av_type t;

	if (path->n == 1)
		return item;
	cur = cJSON_GetObjectItemCaseSensitive(item, path->el[0].name);
	for (uint32_t i = 1; i + 1 < path->n && cur != NULL; i++)
		cur = ex_step(cur, &path->el[i]);
	if (cur == NULL)
		return NULL;
	t = ex_type(cur, &pl);
	if (last->name != NULL ? t != RN_AV_M : t != RN_AV_L)
		return NULL;
	return pl;
}

static cJSON *ex_child(cJSON *cont, const ex_elem *e)
{
	if (e->name != NULL)
		return cJSON_GetObjectItemCaseSensitive(cont, e->name);
	return cJSON_GetArrayItem(cont, (int)e->index);
}

/* Gives v the map key name (NULL: no key, for a list element); a value
 * duplicated from a map member still carries its old key.  -1 when out of
 * memory, v unchanged. */
static int ex_set_key(cJSON *v, const char *name)
{
	char *k = NULL;

	if (name != NULL) {
		size_t n = strlen(name) + 1;

		k = cJSON_malloc(n);
		if (k == NULL)
			return -1;
		memcpy(k, name, n);
	}
	if (v->string != NULL && !(v->type & cJSON_StringIsConst))
		cJSON_free(v->string);
	v->string = k;
	v->type &= ~cJSON_StringIsConst;
	return 0;
}

/* Puts v (consumed) at element e inside cont: replaces the existing value,
 * adds a map member, or appends past a list's end. */
static gt_err ex_put(cJSON *cont, const ex_elem *e, cJSON *v)
{
	cJSON *old = ex_child(cont, e);

	if (ex_set_key(v, e->name) < 0) {
		cJSON_Delete(v);
		return GT_ENOMEM;
	}
	/* With the key set, appending works for maps and lists alike (the
	 * cJSON_AddItemTo* calls would copy the key again). */
	if (old != NULL)
		(void)cJSON_ReplaceItemViaPointer(cont, old, v);
	else
		(void)cJSON_AddItemToArray(cont, v);
	return GT_OK;
}

static gt_err ex_apply_add(cJSON *cont, const ex_elem *e, const cJSON *val,
    char *msg)
{
	cJSON *old = ex_child(cont, e), *po = NULL, *pv = NULL, *nv = NULL;
	const cJSON *m;
	rn_av_type to, tv;
	gt_err err;

	if (old == NULL) {
		nv = cJSON_Duplicate(val, 1);
		if (nv == NULL)
			return ex_fail_upd(msg, GT_ENOMEM, NULL);
		err = ex_put(cont, e, nv);
		return err == GT_OK ? GT_OK : ex_fail_upd(msg, err, NULL);
	}
	to = ex_type(old, &po);
	tv = ex_type(val, &pv);
	if (to != tv)
		return ex_fail_upd(msg, GT_EINVAL, ex_msg_type);
	if (to == RN_AV_N) {
		err = ex_arith(old, val, 0, &nv, msg);
		if (err != GT_OK)
			return err;
		err = ex_put(cont, e, nv);
		return err == GT_OK ? GT_OK : ex_fail_upd(msg, err, NULL);
	}
	if (!ex_is_set(to))
		return ex_fail_upd(msg, GT_EINVAL, ex_msg_type);
	cJSON_ArrayForEach(m, pv) {
		int r;
		cJSON *s;

		if (!cJSON_IsString(m) || m->valuestring == NULL)
			continue;
		r = ex_set_has(to, po, m->valuestring);
		if (r < 0)
			return ex_fail_upd(msg, GT_ENOMEM, NULL);
		if (r == 1)
			continue;
		s = cJSON_CreateString(m->valuestring);
		if (s == NULL || !cJSON_AddItemToArray(po, s)) {
			cJSON_Delete(s);
			return ex_fail_upd(msg, GT_ENOMEM, NULL);
		}
	}
	return GT_OK;
}

static gt_err ex_apply_delete(cJSON *cont, const ex_elem *e,
    const cJSON *val, char *msg)
{
	cJSON *old = ex_child(cont, e), *po = NULL, *pv = NULL, *m, *next;
	rn_av_type to;

	if (old == NULL)
		return GT_OK;
	to = ex_type(old, &po);
	if (to != ex_type(val, &pv) || !ex_is_set(to))
		return ex_fail_upd(msg, GT_EINVAL, ex_msg_type);
	for (m = po->child; m != NULL; m = next) {
		int r;

		next = m->next;
		if (!cJSON_IsString(m) || m->valuestring == NULL)
			continue;
		r = ex_set_has(to, pv, m->valuestring);
		if (r < 0)
			return ex_fail_upd(msg, GT_ENOMEM, NULL);
		if (r == 1)
			cJSON_Delete(cJSON_DetachItemViaPointer(po, m));
	}
	/* DynamoDB has no empty sets: the attribute goes away. */
	if (po->child == NULL)
		cJSON_Delete(cJSON_DetachItemViaPointer(cont, old));
	return GT_OK;
}

gt_err rn_expr_update_apply(const rn_expr_update *upd, cJSON *item,
    char msg[RN_MSG_MAX])
{
	cJSON *copy = NULL, **vals = NULL, *tmp;
	cJSON **rm_cont = NULL, **rm_child = NULL;
	size_t i, nrm = 0;
	gt_err err = GT_OK;

	if (item == NULL || !cJSON_IsObject(item)) {
		ex_msg(msg, "%s", ex_msg_path);
		return GT_EINVAL;
	}
	copy = cJSON_Duplicate(item, 1);
	vals = calloc(upd->nacts + 1, sizeof(*vals));
	rm_cont = calloc(upd->nacts + 1, sizeof(*rm_cont));
	rm_child = calloc(upd->nacts + 1, sizeof(*rm_child));
	if (copy == NULL || vals == NULL || rm_cont == NULL ||
	    rm_child == NULL) {
		err = ex_fail_upd(msg, GT_ENOMEM, NULL);
		goto out;
	}
	/* Every SET operand sees the item as it was before the update. */
	for (i = 0; i < upd->nacts; i++) {
		if (upd->acts[i].kind != A_SET)
			continue;
		err = ex_upd_value(upd->acts[i].rhs, item, &vals[i], msg);
		if (err != GT_OK)
			goto out;
	}
	for (i = 0; i < upd->nacts; i++) {
		const ex_action *a = &upd->acts[i];
		const ex_elem *last = &a->path.el[a->path.n - 1];
		cJSON *cont;

		if (a->kind == A_REMOVE)
			continue;
		cont = ex_container(copy, &a->path);
		if (cont == NULL) {
			err = ex_fail_upd(msg, GT_EINVAL, ex_msg_path);
			goto out;
		}
		switch (a->kind) {
		case A_SET:
			err = ex_put(cont, last, vals[i]);
			vals[i] = NULL;
			if (err != GT_OK)
				err = ex_fail_upd(msg, err, NULL);
			break;
		case A_ADD:
			err = ex_apply_add(cont, last, a->rhs->value, msg);
			break;
		case A_DELETE:
			err = ex_apply_delete(cont, last, a->rhs->value, msg);
			break;
		default:
			break;
		}
		if (err != GT_OK)
			goto out;
	}
	/* Locate every REMOVE target before detaching any, so that list
	 * indexes refer to the list as it was. */
	for (i = 0; i < upd->nacts; i++) {
		const ex_action *a = &upd->acts[i];
		cJSON *cont, *child;

		if (a->kind != A_REMOVE)
			continue;
		cont = ex_container(copy, &a->path);
		if (cont == NULL)
			continue;
		child = ex_child(cont, &a->path.el[a->path.n - 1]);
		if (child == NULL)
			continue;
		rm_cont[nrm] = cont;
		rm_child[nrm] = child;
		nrm++;
	}
	for (i = 0; i < nrm; i++)
		cJSON_Delete(cJSON_DetachItemViaPointer(rm_cont[i],
		    rm_child[i]));
	/* Success: the item takes the copy's members. */
	tmp = item->child;
	item->child = copy->child;
	copy->child = tmp;
out:
	if (vals != NULL)
		for (i = 0; i < upd->nacts; i++)
			cJSON_Delete(vals[i]);
	free(vals);
	free(rm_cont);
	free(rm_child);
	cJSON_Delete(copy);
	return err;
}
