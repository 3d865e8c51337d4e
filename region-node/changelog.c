/*
 * changelog.c — encoding and decoding of change and item records; the
 * formats are documented byte by byte in changelog.h.
 */
#include "changelog.h"

#include <string.h>

void rn_logrec_encode(const rn_logrec *r, gt_buf *out)
{
	gt_buf_reserve(out, 40 + r->origin_len + r->table_len + r->key_len +
	    r->old_len + r->new_len + r->meta_len);
	gt_buf_put_u8(out, RN_LOG_FORMAT);
	gt_buf_put_u8(out, r->op);
	gt_buf_put_u8(out, r->flags);
	gt_buf_put_u64be(out, r->hlc);
	gt_buf_put_u64be(out, r->origin_seq);
	gt_buf_put_u32be(out, r->table_id);
	gt_buf_put_u8(out, (uint8_t)r->origin_len);
	gt_buf_append(out, r->origin, r->origin_len);
	gt_buf_put_u16be(out, (uint16_t)r->table_len);
	gt_buf_append(out, r->table, r->table_len);
	gt_buf_put_u32be(out, (uint32_t)r->key_len);
	gt_buf_append(out, r->key, r->key_len);
	gt_buf_put_u32be(out, (uint32_t)r->old_len);
	gt_buf_append(out, r->old_img, r->old_len);
	gt_buf_put_u32be(out, (uint32_t)r->new_len);
	gt_buf_append(out, r->new_img, r->new_len);
	gt_buf_put_u16be(out, (uint16_t)r->meta_len);
	gt_buf_append(out, r->meta, r->meta_len);
}

gt_err rn_logrec_decode(const uint8_t *p, size_t n, rn_logrec *out)
{
	gt_rd rd = {p, n, 0};
	rn_logrec r;

	memset(&r, 0, sizeof(r));
	if (gt_rd_u8(&rd) != RN_LOG_FORMAT)
		return GT_ECORRUPT;
	r.op = gt_rd_u8(&rd);
	r.flags = gt_rd_u8(&rd);
	r.hlc = gt_rd_u64be(&rd);
	r.origin_seq = gt_rd_u64be(&rd);
	r.table_id = gt_rd_u32be(&rd);
	r.origin_len = gt_rd_u8(&rd);
	r.origin = (const char *)gt_rd_bytes(&rd, r.origin_len);
	r.table_len = gt_rd_u16be(&rd);
	r.table = (const char *)gt_rd_bytes(&rd, r.table_len);
	r.key_len = gt_rd_u32be(&rd);
	r.key = (const char *)gt_rd_bytes(&rd, r.key_len);
	r.old_len = gt_rd_u32be(&rd);
	r.old_img = (const char *)gt_rd_bytes(&rd, r.old_len);
	r.new_len = gt_rd_u32be(&rd);
	r.new_img = (const char *)gt_rd_bytes(&rd, r.new_len);
	r.meta_len = gt_rd_u16be(&rd);
	r.meta = gt_rd_bytes(&rd, r.meta_len);
	if (rd.err || rd.n != 0 || r.op < RN_LOG_PUT ||
	    r.op > RN_LOG_CLUSTER
	    || r.origin_len == 0 || r.origin_len > 31)
		return GT_ECORRUPT;
	*out = r;
	return GT_OK;
}

void rn_itemrec_encode(const rn_itemrec *r, gt_buf *out)
{
	gt_buf_reserve(out, 4 + r->meta_len + r->body_len);
	gt_buf_put_u8(out, 1);
	gt_buf_put_u8(out, r->flags);
	gt_buf_put_u16be(out, (uint16_t)r->meta_len);
	gt_buf_append(out, r->meta, r->meta_len);
	gt_buf_append(out, r->body, r->body_len);
}

gt_err rn_itemrec_decode(const uint8_t *p, size_t n, rn_itemrec *out)
{
	gt_rd rd = {p, n, 0};
	rn_itemrec r;

	if (gt_rd_u8(&rd) != 1)
		return GT_ECORRUPT;
	r.flags = gt_rd_u8(&rd);
	r.meta_len = gt_rd_u16be(&rd);
	r.meta = gt_rd_bytes(&rd, r.meta_len);
	if (rd.err)
		return GT_ECORRUPT;
	r.body = (const char *)rd.p;
	r.body_len = rd.n;
	*out = r;
	return GT_OK;
}
