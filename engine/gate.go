package engine

import (
	"voxgate"
)

// Gate is the quality gate a recording must pass before it is judged: a
// wrong verdict on unusable audio is worse than a clear "try again". Each
// route has its own (enrollment is stricter than verification; the seed-000
// voice-ID API demands 10 s). A zero field disables its check, except
// MinSNR, where 0 dB (noise as loud as the speech) is the meaningful floor.
type Gate struct {
	// MinDuration is the shortest acceptable recording, seconds.
	MinDuration float64
	// MinSpeech is the least net speech, seconds.
	MinSpeech float64
	// MinSNR is the lowest acceptable speech-to-noise ratio, dB.
	MinSNR float64
	// MaxClipping is the largest acceptable fraction of clipped samples.
	MaxClipping float64
}

// Default gates, set from a scan of every dev-set recording
// (VOXGATE_LONG=1 go test -run TestDevSetsPassTheGates ./engine): ravdess,
// librispeech, AudioMNIST-AZ's test strings and tortoise pass whole. The
// noise gate only refuses audio whose noise is clearly louder than its
// speech: a few FSDD telephone digits read -3 to -6 dB and still verify
// (short clips read low, having little non-speech to measure). Sub-0.3 s
// FSDD digits are refused as too short. Borderline quality lowers the
// decision's confidence instead.
var (
	// EnrollGate guards enrollment samples: a bad voiceprint spoils every
	// later verification, so it wants clearer audio.
	// Single short samples are fine: enrollment accumulates net speech
	// until the profile has enough (see the service's enrollment policy).
	EnrollGate = Gate{MinDuration: 0.3, MinSpeech: 0.2, MinSNR: -5, MaxClipping: 0.005}
	// VerifyGate guards verification attempts.
	// Weak-but-usable evidence passes the gate and is handled by the
	// decision (retry when too little speech to be sure).
	VerifyGate = Gate{MinDuration: 0.3, MinSpeech: 0.2, MinSNR: -5, MaxClipping: 0.01}
)

// Check returns nil when a passes, else the error of the first failed check,
// in the order a user can act on: too short, no speech, clipped, too noisy.
func (g Gate) Check(a *Analysis) error {
	d := a.Clip.Duration
	switch {
	case g.MinDuration > 0 && d < g.MinDuration:
		return voxgate.Errorf(voxgate.EAUDIOTOOSHORT, "Audio file too short: %.1fs (minimum %.1fs required)", floor1(d), g.MinDuration)
	case a.SpeechSeconds == 0 || (g.MinSpeech > 0 && a.SpeechSeconds < g.MinSpeech):
		return voxgate.Errorf(voxgate.ENOSPEECH, "Not enough speech: %.1fs of speech found (minimum %.1fs required)", floor1(a.SpeechSeconds), g.MinSpeech)
	case g.MaxClipping > 0 && a.Quality.Clipping > g.MaxClipping:
		return voxgate.Errorf(voxgate.ECLIPPED, "The recording is clipped (%.1f%% of samples at full scale): lower the input gain", 100*a.Quality.Clipping)
	case a.Quality.SNRdB < g.MinSNR:
		return voxgate.Errorf(voxgate.ETOONOISY, "Too much background noise: SNR %.1f dB (minimum %.1f dB)", a.Quality.SNRdB, g.MinSNR)
	}
	return nil
}

// floor1 rounds down to one decimal, so that 9.96 s is reported as 9.9 s
// rather than a contradictory "10.0s (minimum 10.0s required)".
func floor1(x float64) float64 {
	return float64(int(x*10)) / 10
}
