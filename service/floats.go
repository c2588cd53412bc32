package service

import (
	"encoding/binary"
	"math"
)

func putFloat(b []byte, x float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(x)) }
func getFloat(b []byte) float32    { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
