package service

import (
	"strings"

	"voxgate"
)

// Checks a verdict depends on, named in ChecksNotRun when their model is
// not loaded.
const (
	// CheckVAD is Silero voice activity detection: the net speech that
	// enrollment counts and the quality gate measures (without it an
	// energy detector stands in).
	CheckVAD = "vad"
	// CheckDeepfake is synthetic-speech detection (AASIST): without it no
	// recording is ever found to be a deepfake.
	CheckDeepfake = "deepfake"
)

// ChecksNotRun lists the checks whose model the engine lacks (nil when
// every check runs, or when there is no engine at all).
func (s *Service) ChecksNotRun() []string {
	if s.engine == nil {
		return nil
	}
	var out []string
	if s.engine.VAD == nil {
		out = append(out, CheckVAD)
	}
	if s.engine.Spoof == nil {
		out = append(out, CheckDeepfake)
	}
	return out
}

// requireChecks refuses enrollments and verifications with EMODELSMISSING
// when a check they depend on cannot run, unless the operator accepted
// that (Config.Degraded, voxgate serve --degraded): a security product
// must not silently judge voices without its liveness check.
func (s *Service) requireChecks() error {
	missing := s.ChecksNotRun()
	if len(missing) == 0 || s.cfg.Degraded {
		return nil
	}
	return voxgate.Errorf(voxgate.EMODELSMISSING,
		"This server cannot run every check a verdict needs (missing: %s): its operator must install the models (voxgate models pull) or start it with --degraded",
		strings.Join(missing, ", "))
}
