package antispoof

import (
	"fmt"
	"math"

	"voxgate/tensor"
)

// weights looks tensors up by their names in the authors' state dict and
// checks their shapes.
type weights map[string]*tensor.Tensor

// flushSubnormals returns a copy of the state dict with subnormal values
// (|v| < 2^-126) replaced by zero. Weight decay has left most of some
// AASIST projections at around 1e-41; their contribution is nil, but every
// multiplication by a subnormal costs the CPU a microcode assist of a
// hundred cycles or more, which made those layers 20 times slower.
func flushSubnormals(state map[string]*tensor.Tensor) weights {
	w := make(weights, len(state))
	for k, t := range state {
		c := t.Clone()
		for i, v := range c.Data {
			if v != 0 && math.Abs(float64(v)) < 0x1p-126 {
				c.Data[i] = 0
			}
		}
		w[k] = c
	}
	return w
}

func (w weights) get(name string, shape ...int) (*tensor.Tensor, error) {
	t, ok := w[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint lacks %s", name)
	}
	if len(t.Shape) != len(shape) {
		return nil, fmt.Errorf("%s has shape %v, want %v", name, t.Shape, shape)
	}
	for i := range shape {
		if t.Shape[i] != shape[i] {
			return nil, fmt.Errorf("%s has shape %v, want %v", name, t.Shape, shape)
		}
	}
	return t, nil
}

// batchNorm folds an eval-mode BatchNorm (eps 1e-5) into y = x*scale + shift.
func (w weights) batchNorm(prefix string, n int) (scale, shift []float32, err error) {
	var p [4]*tensor.Tensor
	for i, s := range []string{"weight", "bias", "running_mean", "running_var"} {
		if p[i], err = w.get(prefix+"."+s, n); err != nil {
			return nil, nil, err
		}
	}
	scale = make([]float32, n)
	shift = make([]float32, n)
	for c := range n {
		s := float64(p[0].Data[c]) / math.Sqrt(float64(p[3].Data[c])+1e-5)
		scale[c] = float32(s)
		shift[c] = float32(float64(p[1].Data[c]) - float64(p[2].Data[c])*s)
	}
	return scale, shift, nil
}

func (w weights) linear(prefix string, in, out int) (linear, error) {
	wt, err := w.get(prefix+".weight", out, in)
	if err != nil {
		return linear{}, err
	}
	b, err := w.get(prefix+".bias", out)
	if err != nil {
		return linear{}, err
	}
	return linear{in: in, out: out, w: wt.Data, b: b.Data}, nil
}

func (w weights) vector(name string, n int) ([]float32, error) {
	t, err := w.get(name, n, 1)
	if err != nil {
		return nil, err
	}
	return t.Data, nil
}

func (w weights) bn1d(prefix string, n int) (batchNorm1d, error) {
	scale, shift, err := w.batchNorm(prefix, n)
	return batchNorm1d{scale: scale, shift: shift}, err
}

func (w weights) gat(prefix string, in, out int, temp float64) (*gatLayer, error) {
	g := &gatLayer{temp: temp}
	var err error
	if g.attProj, err = w.linear(prefix+".att_proj", in, out); err != nil {
		return nil, err
	}
	if g.attWeight, err = w.vector(prefix+".att_weight", out); err != nil {
		return nil, err
	}
	if g.withAtt, err = w.linear(prefix+".proj_with_att", in, out); err != nil {
		return nil, err
	}
	if g.noAtt, err = w.linear(prefix+".proj_without_att", in, out); err != nil {
		return nil, err
	}
	if g.bn, err = w.bn1d(prefix+".bn", out); err != nil {
		return nil, err
	}
	return g, nil
}

func (w weights) htrg(prefix string, in, out int, temp float64) (*htrgLayer, error) {
	h := &htrgLayer{temp: temp}
	lins := []struct {
		name    string
		dst     *linear
		in, out int
	}{
		{"proj_type1", &h.projType1, in, in},
		{"proj_type2", &h.projType2, in, in},
		{"att_proj", &h.attProj, in, out},
		{"att_projM", &h.attProjM, in, out},
		{"proj_with_att", &h.withAtt, in, out},
		{"proj_without_att", &h.noAtt, in, out},
		{"proj_with_attM", &h.withAttM, in, out},
		{"proj_without_attM", &h.noAttM, in, out},
	}
	var err error
	for _, l := range lins {
		if *l.dst, err = w.linear(prefix+"."+l.name, l.in, l.out); err != nil {
			return nil, err
		}
	}
	for _, v := range []struct {
		name string
		dst  *[]float32
	}{{"att_weight11", &h.w11}, {"att_weight22", &h.w22}, {"att_weight12", &h.w12}, {"att_weightM", &h.wM}} {
		if *v.dst, err = w.vector(prefix+"."+v.name, out); err != nil {
			return nil, err
		}
	}
	if h.bn, err = w.bn1d(prefix+".bn", out); err != nil {
		return nil, err
	}
	return h, nil
}
