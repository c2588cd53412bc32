package gallery

// dot is the int8 dot product of two codes, accumulated in int32 (256
// products of at most 127² cannot overflow). Fixed-size arrays let the
// compiler drop every bounds check, and eight independent accumulators keep
// the multiply units busy: the loop body is straight-line loads,
// sign-extensions and multiply-adds.
func dot(a, b *[dim]int8) int32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 int32
	for i := 0; i < dim; i += 8 {
		aa := (*[8]int8)(a[i : i+8])
		bb := (*[8]int8)(b[i : i+8])
		s0 += int32(aa[0]) * int32(bb[0])
		s1 += int32(aa[1]) * int32(bb[1])
		s2 += int32(aa[2]) * int32(bb[2])
		s3 += int32(aa[3]) * int32(bb[3])
		s4 += int32(aa[4]) * int32(bb[4])
		s5 += int32(aa[5]) * int32(bb[5])
		s6 += int32(aa[6]) * int32(bb[6])
		s7 += int32(aa[7]) * int32(bb[7])
	}
	return (s0 + s1) + (s2 + s3) + (s4 + s5) + (s6 + s7)
}

// dotPrefix is dot over the first len(a) entries (a and b of one length).
func dotPrefix(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}
