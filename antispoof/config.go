package antispoof

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config holds the hyper-parameters of an AASIST network, as in the
// "model_config" object of the authors' .conf files.
type Config struct {
	Samples      int        // nb_samp: input window, 64600 samples at 16 kHz
	FirstConv    int        // first_conv: sinc kernel length (made odd)
	SincFilters  int        // filts[0]: number of sinc band-pass filters
	Blocks       [4][2]int  // filts[1..4]: [in, out] channels of the residual blocks
	GATDims      [2]int     // gat_dims: graph attention widths
	PoolRatios   [4]float64 // pool_ratios: fraction of nodes graph pooling keeps
	Temperatures [4]float64 // temperatures: attention softmax temperatures
}

// ReadConfig parses an AASIST .conf file.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(b)
}

// ParseConfig parses the JSON of an AASIST .conf file.
func ParseConfig(b []byte) (Config, error) {
	var raw struct {
		ModelConfig struct {
			Architecture string            `json:"architecture"`
			NbSamp       int               `json:"nb_samp"`
			FirstConv    int               `json:"first_conv"`
			Filts        []json.RawMessage `json:"filts"`
			GATDims      []int             `json:"gat_dims"`
			PoolRatios   []float64         `json:"pool_ratios"`
			Temperatures []float64         `json:"temperatures"`
		} `json:"model_config"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Config{}, fmt.Errorf("antispoof: config: %w", err)
	}
	m := raw.ModelConfig
	if m.Architecture != "AASIST" {
		return Config{}, fmt.Errorf("antispoof: config: architecture %q, want AASIST", m.Architecture)
	}
	if len(m.Filts) != 5 || len(m.GATDims) != 2 || len(m.PoolRatios) != 4 || len(m.Temperatures) != 4 {
		return Config{}, fmt.Errorf("antispoof: config: want 5 filts, 2 gat_dims, 4 pool_ratios and 4 temperatures")
	}
	c := Config{Samples: m.NbSamp, FirstConv: m.FirstConv}
	if err := json.Unmarshal(m.Filts[0], &c.SincFilters); err != nil {
		return Config{}, fmt.Errorf("antispoof: config: filts[0]: %w", err)
	}
	for i := range c.Blocks {
		var io []int
		if err := json.Unmarshal(m.Filts[i+1], &io); err != nil || len(io) != 2 {
			return Config{}, fmt.Errorf("antispoof: config: filts[%d] is not an [in, out] pair", i+1)
		}
		c.Blocks[i] = [2]int{io[0], io[1]}
	}
	copy(c.GATDims[:], m.GATDims)
	copy(c.PoolRatios[:], m.PoolRatios)
	copy(c.Temperatures[:], m.Temperatures)
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c Config) validate() error {
	bad := func(what string) error { return fmt.Errorf("antispoof: config: %s", what) }
	switch {
	case c.Samples < 16000 || c.Samples > 16000*60:
		return bad("nb_samp out of range")
	case c.FirstConv < 3 || c.FirstConv > 1024:
		return bad("first_conv out of range")
	case c.SincFilters < 3 || c.SincFilters > 512:
		return bad("filts[0] out of range")
	case c.Blocks[0][0] != 1:
		return bad("the first residual block must take one channel")
	case c.GATDims[0] < 1 || c.GATDims[1] < 1:
		return bad("gat_dims must be positive")
	}
	for i, b := range c.Blocks {
		if b[0] < 1 || b[1] < 1 || b[0] > 1024 || b[1] > 1024 {
			return bad("residual block channels out of range")
		}
		if i > 0 && b[0] != c.Blocks[i-1][1] {
			return bad("residual block channels do not chain")
		}
	}
	for i := range 4 {
		if !(c.PoolRatios[i] > 0 && c.PoolRatios[i] <= 1) || !(c.Temperatures[i] > 0) {
			return bad("pool ratios must be in (0, 1] and temperatures positive")
		}
	}
	return nil
}
