package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Binary layout, version 1 (all integers unsigned LEB128 varints):
//
//	byte     Version
//	varint   recording length, samples at 16 kHz
//	varint   landmark count n
//	n times: varint hash delta from the previous landmark's hash (the first
//	         from 0); varint anchor time, as a delta from the previous time
//	         when the hash delta is 0, else absolute
//
// Landmarks are strictly increasing in (hash, time), so every delta is
// non-negative and a fingerprint of 4 s costs about 1 kB.

// maxSamples bounds the recording length a decoded fingerprint may claim
// (about 37 hours), so that anchor times always fit in 32 bits.
const maxSamples = 1 << 31

// MarshalBinary encodes f in the versioned compact form above.
func (f Fingerprint) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+3*len(f.marks))
	b = append(b, Version)
	b = binary.AppendUvarint(b, uint64(f.samples))
	b = binary.AppendUvarint(b, uint64(len(f.marks)))
	var prevHash, prevTime uint64
	for _, m := range f.marks {
		h, t := m>>32, m&0xffffffff
		b = binary.AppendUvarint(b, h-prevHash)
		if h == prevHash {
			b = binary.AppendUvarint(b, t-prevTime)
		} else {
			b = binary.AppendUvarint(b, t)
		}
		prevHash, prevTime = h, t
	}
	return b, nil
}

// ErrFormat is wrapped by every UnmarshalBinary error about malformed input.
var ErrFormat = errors.New("replay: malformed fingerprint")

// UnmarshalBinary decodes data written by MarshalBinary. It checks every
// bound (version, lengths, hash range, ordering, trailing bytes) and leaves f
// unchanged on error, so untrusted bytes can be decoded safely.
func (f *Fingerprint) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", ErrFormat)
	}
	if data[0] != Version {
		return fmt.Errorf("%w: version %d, want %d", ErrFormat, data[0], Version)
	}
	r := data[1:]
	next := func(what string) (uint64, error) {
		v, n := binary.Uvarint(r)
		if n <= 0 {
			return 0, fmt.Errorf("%w: bad varint in %s", ErrFormat, what)
		}
		r = r[n:]
		return v, nil
	}
	samples, err := next("length")
	if err != nil {
		return err
	}
	if samples > maxSamples {
		return fmt.Errorf("%w: length %d samples out of range", ErrFormat, samples)
	}
	count, err := next("count")
	if err != nil {
		return err
	}
	// Each landmark takes at least two bytes.
	if count > uint64(len(r)/2) {
		return fmt.Errorf("%w: %d landmarks do not fit in %d bytes", ErrFormat, count, len(r))
	}
	// Anchor times are in units of hop/phases samples.
	maxTime := samples*uint64(defaults.phases)/uint64(defaults.hop) + uint64(defaults.phases)
	marks := make([]uint64, count)
	var hash, tm uint64
	for i := range marks {
		dh, err := next("hash")
		if err != nil {
			return err
		}
		v, err := next("time")
		if err != nil {
			return err
		}
		switch {
		case dh >= 1<<hashBits || hash+dh >= 1<<hashBits:
			return fmt.Errorf("%w: hash out of range at landmark %d", ErrFormat, i)
		case dh == 0 && i > 0 && (v == 0 || v > maxTime):
			return fmt.Errorf("%w: landmarks out of order at %d", ErrFormat, i)
		case dh == 0 && i > 0:
			tm += v
		default:
			tm = v
		}
		hash += dh
		if tm > maxTime {
			return fmt.Errorf("%w: anchor time %d beyond the recording at landmark %d", ErrFormat, tm, i)
		}
		marks[i] = hash<<32 | tm
	}
	if len(r) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrFormat, len(r))
	}
	f.samples, f.marks = int(samples), marks
	return nil
}
