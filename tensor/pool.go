package tensor

// MaxPool3Bias max-pools rows in threes and adds a bias: for rows of
// c = len(bias) floats, dst[g] = max(src[3g], src[3g+1], src[3g+2]) + bias
// element-wise, for g < groups. It is a 1×3 max-pool over the position axis
// of a channels-last map, with the preceding layer's bias moved after the
// pool (max(a+b, c+b) = max(a, c)+b).
func MaxPool3Bias(dst, src, bias []float32, groups int) {
	c := len(bias)
	if groups <= 0 || c == 0 {
		return
	}
	_ = dst[groups*c-1]
	_ = src[3*groups*c-1]
	if useAVX2 && c%8 == 0 {
		maxPool3BiasAVX2(&dst[0], &src[0], &bias[0], groups, c)
		return
	}
	for g := range groups {
		o := dst[g*c : (g+1)*c]
		t0, t1, t2 := src[3*g*c:(3*g+1)*c], src[(3*g+1)*c:(3*g+2)*c], src[(3*g+2)*c:(3*g+3)*c]
		for i := range o {
			o[i] = max(t0[i], t1[i], t2[i]) + bias[i]
		}
	}
}
