package audio

import "encoding/binary"

// Format is a container recognised from the first bytes of a file.
type Format string

// Formats recognised by [Detect].
const (
	WAV     Format = "wav"     // RIFF/RIFX/RF64/BW64 WAVE
	FLAC    Format = "flac"    // native FLAC stream ("fLaC")
	MP3     Format = "mp3"     // MPEG audio frames, optionally after an ID3v2 tag
	Ogg     Format = "ogg"     // Ogg pages (Vorbis, Opus, FLAC-in-Ogg)
	WebM    Format = "webm"    // EBML: WebM and Matroska
	MP4     Format = "mp4"     // ISO base media (m4a, mp4, mov), AAC inside
	AAC     Format = "aac"     // raw ADTS AAC frames
	Unknown Format = "unknown" // anything else
)

// Detect names the container of a file from its first bytes (16 are enough
// for every format, more lets it look past an ID3v2 tag). It never looks at
// file names or declared content types, and it never fails: bytes it does not
// recognise give [Unknown].
func Detect(head []byte) Format {
	switch {
	case len(head) >= 12 && string(head[8:12]) == "WAVE" &&
		(string(head[:4]) == "RIFF" || string(head[:4]) == "RIFX" ||
			string(head[:4]) == "RF64" || string(head[:4]) == "BW64"):
		return WAV
	case hasPrefix(head, "fLaC"):
		return FLAC
	case hasPrefix(head, "OggS"):
		return Ogg
	case hasPrefix(head, "\x1a\x45\xdf\xa3"):
		return WebM
	case len(head) >= 8 && isMP4Box(head):
		return MP4
	case hasPrefix(head, "ID3"):
		// An ID3v2 tag usually precedes MP3 frames, occasionally FLAC or ADTS.
		n, ok := id3Size(head)
		if !ok {
			return Unknown
		}
		if n >= len(head) {
			return MP3 // tag longer than what we were shown; by far the likeliest
		}
		if f := Detect(head[n:]); f == FLAC || f == AAC {
			return f
		}
		return MP3
	case isADTS(head):
		return AAC
	case isMPEGAudio(head):
		return MP3
	}
	return Unknown
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// isMP4Box reports whether head starts with an ISO base media box that opens
// a file: "ftyp" normally, "moov" in some old QuickTime files.
func isMP4Box(head []byte) bool {
	size := binary.BigEndian.Uint32(head)
	typ := string(head[4:8])
	return (typ == "ftyp" || typ == "moov") && (size == 1 || size >= 8)
}

// id3Size returns the total length of the ID3v2 tag at the start of b:
// 10-byte header, syncsafe body size, optional 10-byte footer.
func id3Size(b []byte) (int, bool) {
	if len(b) < 10 || !hasPrefix(b, "ID3") {
		return 0, false
	}
	if b[6]|b[7]|b[8]|b[9] >= 0x80 || b[3] == 0xff || b[4] == 0xff {
		return 0, false
	}
	n := 10 + (int(b[6])<<21 | int(b[7])<<14 | int(b[8])<<7 | int(b[9]))
	if b[5]&0x10 != 0 {
		n += 10
	}
	return n, true
}

// isADTS reports whether b starts with an ADTS (AAC) frame header:
// 12-bit sync, layer 00, a valid sampling index and a plausible frame length.
func isADTS(b []byte) bool {
	if len(b) < 7 || b[0] != 0xff || b[1]&0xf6 != 0xf0 {
		return false
	}
	if (b[2]>>2)&0x0f >= 13 {
		return false
	}
	frameLen := int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5])>>5
	return frameLen >= 7
}

// isMPEGAudio reports whether b starts with an MPEG-1/2/2.5 layer I-III
// frame header with valid version, layer, bitrate and sample-rate fields.
func isMPEGAudio(b []byte) bool {
	_, ok := parseMPEGHeader(b)
	return ok
}
