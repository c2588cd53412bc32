package gallery

// The coarse stage's inner loops, written for Go's compiler, which does not
// vectorise: fixed-size arrays let it drop every bounds check, the probe is
// widened to int32 once per search so that each product sign-extends one
// operand only, and dot4 compares four rows with one probe so that each
// probe entry is loaded once for four multiply-adds. Sums of 256 products of
// at most 127·127 cannot overflow int32.

// dot is the dot product of one row's codes with the widened probe.
func dot(a *[dim]int8, b *[dim]int32) int32 {
	var s0, s1, s2, s3 int32
	for i := 0; i < dim; i += 4 {
		aa := (*[4]int8)(a[i : i+4])
		bb := (*[4]int32)(b[i : i+4])
		s0 += int32(aa[0]) * bb[0]
		s1 += int32(aa[1]) * bb[1]
		s2 += int32(aa[2]) * bb[2]
		s3 += int32(aa[3]) * bb[3]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot4 is dot of four rows with one probe.
func dot4(a, c, d, e *[dim]int8, b *[dim]int32) (int32, int32, int32, int32) {
	var s, t, u, v int32
	for i := 0; i < dim; i++ {
		bi := b[i]
		s += int32(a[i]) * bi
		t += int32(c[i]) * bi
		u += int32(d[i]) * bi
		v += int32(e[i]) * bi
	}
	return s, t, u, v
}

// dotPrefix is the dot product over the first len(a) entries (a and b of
// one length): the banded comparison, 69 of the 256 entries.
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
