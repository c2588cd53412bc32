package vad

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"voxgate/tensor"
)

// This file reads the weights out of upstream's silero_vad.onnx, so the
// port can run the exact network that upstream's reference numbers come
// from. It is a minimal protobuf walker: ModelProto.graph, every node's
// Constant tensors, recursing into If branches; it understands no more of
// ONNX than that.

// onnxNames maps the ONNX constant names (16 kHz branch) to the safetensors
// names that New expects; the first is the STFT basis.
func onnxNames() [][2]string {
	return [][2]string{
		{"stft.forward_basis_buffer", "stft_conv.weight"},
		{"encoder.0.reparam_conv.weight", "conv1.weight"},
		{"encoder.0.reparam_conv.bias", "conv1.bias"},
		{"encoder.1.reparam_conv.weight", "conv2.weight"},
		{"encoder.1.reparam_conv.bias", "conv2.bias"},
		{"encoder.2.reparam_conv.weight", "conv3.weight"},
		{"encoder.2.reparam_conv.bias", "conv3.bias"},
		{"encoder.3.reparam_conv.weight", "conv4.weight"},
		{"encoder.3.reparam_conv.bias", "conv4.bias"},
		{"decoder.rnn.weight_ih", "lstm_cell.weight_ih"},
		{"decoder.rnn.weight_hh", "lstm_cell.weight_hh"},
		{"decoder.rnn.bias_ih", "lstm_cell.bias_ih"},
		{"decoder.rnn.bias_hh", "lstm_cell.bias_hh"},
		{"decoder.decoder.2.weight", "final_conv.weight"},
		{"decoder.decoder.2.bias", "final_conv.bias"},
	}
}

// readONNX returns the 16 kHz weights of a Silero VAD ONNX file under their
// safetensors names. The 16 kHz branch is the graph whose STFT basis has
// 258 filters of 256 taps (the 8 kHz one has 130 of 128).
func readONNX(path string) (map[string]*tensor.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w, err := parseONNX(b)
	if err != nil {
		return nil, fmt.Errorf("vad: %s: %w", path, err)
	}
	return w, nil
}

// parseONNX is readONNX on the bytes of the file.
func parseONNX(b []byte) (map[string]*tensor.Tensor, error) {
	var graphs []map[string]*tensor.Tensor
	err := eachField(b, func(num int, _ uint64, v []byte) error {
		if num == 7 { // ModelProto.graph
			return walkGraph(v, &graphs, 0)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	names := onnxNames()
	for _, consts := range graphs {
		basis := lookup(consts, names[0][0])
		if basis == nil || !shapeIs(basis, 2*nBins, 1, nFFT) {
			continue
		}
		w := make(map[string]*tensor.Tensor, len(names))
		for _, nm := range names {
			t := lookup(consts, nm[0])
			if t == nil {
				return nil, fmt.Errorf("onnx: 16 kHz graph has no constant %s", nm[0])
			}
			w[nm[1]] = t
		}
		return w, nil
	}
	return nil, errors.New("onnx: no 16 kHz Silero VAD graph found")
}

// lookup finds the constant whose output name is name or ends in "__"+name
// (the exporter prefixes inlined branch names).
func lookup(consts map[string]*tensor.Tensor, name string) *tensor.Tensor {
	if t, ok := consts[name]; ok {
		return t
	}
	for k, t := range consts {
		if strings.HasSuffix(k, "__"+name) {
			return t
		}
	}
	return nil
}

func shapeIs(t *tensor.Tensor, shape ...int) bool {
	if len(t.Shape) != len(shape) {
		return false
	}
	for i, d := range shape {
		if t.Shape[i] != d {
			return false
		}
	}
	return true
}

// walkGraph collects the float constants and initializers of one
// GraphProto into a new map appended to graphs, and recurses into the
// subgraphs of its nodes' attributes.
func walkGraph(b []byte, graphs *[]map[string]*tensor.Tensor, depth int) error {
	if depth > 16 {
		return errors.New("onnx: graphs nested too deeply")
	}
	consts := make(map[string]*tensor.Tensor)
	*graphs = append(*graphs, consts)
	return eachField(b, func(num int, _ uint64, v []byte) error {
		switch num {
		case 1: // GraphProto.node
			return walkNode(v, consts, graphs, depth)
		case 5: // GraphProto.initializer
			name, t, err := readTensor(v)
			if err != nil || t == nil {
				return err
			}
			consts[name] = t
		}
		return nil
	})
}

func walkNode(b []byte, consts map[string]*tensor.Tensor, graphs *[]map[string]*tensor.Tensor, depth int) error {
	var opType, output string
	var value *tensor.Tensor
	err := eachField(b, func(num int, _ uint64, v []byte) error {
		switch num {
		case 2: // NodeProto.output
			if output == "" {
				output = string(v)
			}
		case 4: // NodeProto.op_type
			opType = string(v)
		case 5: // NodeProto.attribute
			return eachField(v, func(num int, _ uint64, v []byte) error {
				switch num {
				case 5: // AttributeProto.t
					_, t, err := readTensor(v)
					if err != nil {
						return err
					}
					value = t
				case 6: // AttributeProto.g
					return walkGraph(v, graphs, depth+1)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if opType == "Constant" && value != nil && output != "" {
		consts[output] = value
	}
	return nil
}

// readTensor decodes a TensorProto. It returns a nil tensor for non-float
// data types, which the VAD has no use for.
func readTensor(b []byte) (string, *tensor.Tensor, error) {
	var (
		name     string
		dims     []int
		dataType uint64
		raw      []byte
		floats   []float32
	)
	err := eachField(b, func(num int, x uint64, v []byte) error {
		switch num {
		case 1: // dims, int64, packed or not
			if v == nil {
				dims = append(dims, int(int64(x)))
				return nil
			}
			for len(v) > 0 {
				d, n := binary.Uvarint(v)
				if n <= 0 {
					return errors.New("onnx: bad packed dims")
				}
				dims = append(dims, int(int64(d)))
				v = v[n:]
			}
		case 2:
			dataType = x
		case 4: // float_data, packed fixed32 or not
			if v == nil {
				floats = append(floats, math.Float32frombits(uint32(x)))
				return nil
			}
			if len(v)%4 != 0 {
				return errors.New("onnx: bad packed float_data")
			}
			for i := 0; i < len(v); i += 4 {
				floats = append(floats, math.Float32frombits(binary.LittleEndian.Uint32(v[i:])))
			}
		case 8:
			name = string(v)
		case 9:
			raw = v
		}
		return nil
	})
	if err != nil || dataType != 1 { // 1 = FLOAT
		return name, nil, err
	}
	if raw != nil {
		if len(raw)%4 != 0 {
			return "", nil, fmt.Errorf("onnx: tensor %q raw_data is %d bytes", name, len(raw))
		}
		floats = make([]float32, len(raw)/4)
		for i := range floats {
			floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	n := 1
	for _, d := range dims {
		if d < 0 || d > len(floats) {
			return "", nil, fmt.Errorf("onnx: tensor %q has dims %v for %d values", name, dims, len(floats))
		}
		n *= d
	}
	if n != len(floats) {
		return "", nil, fmt.Errorf("onnx: tensor %q has dims %v for %d values", name, dims, len(floats))
	}
	return name, &tensor.Tensor{Shape: dims, Data: floats}, nil
}

// eachField calls fn for every field of a protobuf message: num is the field
// number; varint and fixed-width values come in x with v nil, and
// length-delimited ones in v.
func eachField(b []byte, fn func(num int, x uint64, v []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("onnx: bad field key")
		}
		b = b[n:]
		num := int(key >> 3)
		var x uint64
		var v []byte
		switch key & 7 {
		case 0: // varint
			x, n = binary.Uvarint(b)
			if n <= 0 {
				return errors.New("onnx: bad varint")
			}
			b = b[n:]
		case 1: // fixed64
			if len(b) < 8 {
				return errors.New("onnx: truncated fixed64")
			}
			x, b = binary.LittleEndian.Uint64(b), b[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errors.New("onnx: bad length")
			}
			v, b = b[n:n+int(l)], b[n+int(l):]
			if v == nil {
				v = []byte{}
			}
		case 5: // fixed32
			if len(b) < 4 {
				return errors.New("onnx: truncated fixed32")
			}
			x, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		default:
			return fmt.Errorf("onnx: unsupported wire type %d", key&7)
		}
		if err := fn(num, x, v); err != nil {
			return err
		}
	}
	return nil
}
