package gallery

import "encoding/binary"

// The coarse stage's kernel. Go's compiler does not vectorise, so the loop
// does SIMD within a register (SWAR) by hand: a block stores, for each
// entry, the codes of eight rows in one 64-bit word; masking splits the
// word into two words of four 16-bit lanes (rows 0,2,4,6 and 1,3,5,7), and
// one multiplication by the probe's code for that entry multiplies four
// rows at once. Codes are 7 bits offset to 1..127, so a product is at most
// 127² = 16,129 and four of them fit a 16-bit lane: every four entries the
// lanes are widened into 32-bit lanes (at most 256·16,129 < 2³²). That is
// two multiplications for eight multiply-adds, where a scalar loop needs
// eight plus the sign extensions, and the rows stream through memory once.

const (
	lanes   = 8  // rows per block
	maxCode = 63 // codes are -63..63 ...
	offset  = 64 // ... stored as 1..127

	mask16 = 0x00FF00FF00FF00FF // the even bytes, as 16-bit lanes
	mask32 = 0x0000FFFF0000FFFF // the even 16-bit lanes, as 32-bit lanes
)

// blockDots returns, for the eight rows of blk ([dim][8] codes), the dot
// product of their codes with v over the first n entries.
func blockDots(blk []byte, v *[dim]uint64, n int) (out [lanes]uint32) {
	blk = blk[:dim*lanes]
	var e04, e26, o15, o37 uint64 // 32-bit lane accumulators: rows 0 and 4, 2 and 6, 1 and 5, 3 and 7
	d := 0
	for ; d+4 <= n; d += 4 {
		w0 := binary.LittleEndian.Uint64(blk[d*8:])
		w1 := binary.LittleEndian.Uint64(blk[d*8+8:])
		w2 := binary.LittleEndian.Uint64(blk[d*8+16:])
		w3 := binary.LittleEndian.Uint64(blk[d*8+24:])
		v0, v1, v2, v3 := v[d], v[d+1], v[d+2], v[d+3]
		e := (w0&mask16)*v0 + (w1&mask16)*v1 + (w2&mask16)*v2 + (w3&mask16)*v3
		o := (w0>>8&mask16)*v0 + (w1>>8&mask16)*v1 + (w2>>8&mask16)*v2 + (w3>>8&mask16)*v3
		e04 += e & mask32
		e26 += e >> 16 & mask32
		o15 += o & mask32
		o37 += o >> 16 & mask32
	}
	if d < n {
		var e, o uint64
		for ; d < n; d++ {
			w := binary.LittleEndian.Uint64(blk[d*8:])
			e += (w & mask16) * v[d]
			o += (w >> 8 & mask16) * v[d]
		}
		e04 += e & mask32
		e26 += e >> 16 & mask32
		o15 += o & mask32
		o37 += o >> 16 & mask32
	}
	out[0], out[4] = uint32(e04), uint32(e04>>32)
	out[2], out[6] = uint32(e26), uint32(e26>>32)
	out[1], out[5] = uint32(o15), uint32(o15>>32)
	out[3], out[7] = uint32(o37), uint32(o37>>32)
	return out
}
