package voxgate

import (
	"errors"
	"fmt"
	"time"
)

// Application error codes. Each is the machine-readable "error" field of an
// HTTP error body; httpapi maps each to a status code in one function.
const (
	EINTERNAL = "internal_error"
	EINVALID  = "validation_error"
	// EINVALIDUSERID refuses a user_id that holds control or invisible
	// formatting characters (other bad user_ids are EINVALID).
	EINVALIDUSERID     = "invalid_user_id"
	EUNAUTHORIZED      = "unauthorized"
	EFORBIDDEN         = "forbidden"
	ENOTFOUND          = "not_found"
	EPROFILENOTFOUND   = "profile_not_found"
	ECONFLICT          = "conflict"
	ERATELIMITED       = "rate_limited"
	EPAYLOADTOOLARGE   = "payload_too_large"
	EUNSUPPORTEDFORMAT = "unsupported_format"
	EAUDIOTOOSHORT     = "audio_too_short"
	EAUDIOTOOLONG      = "audio_too_long"
	ENOSPEECH          = "no_speech"
	ETOONOISY          = "too_noisy"
	ECLIPPED           = "clipped"
	EENROLLINCOMPLETE  = "enrollment_incomplete"
	ESESSIONEXPIRED    = "session_expired"
	ESESSIONNOTFOUND   = "session_not_found"
	ELOCKED            = "locked"
	EUNAVAILABLE       = "service_unavailable"
	EMETHODNOTALLOWED  = "method_not_allowed"
	EWATCHLISTMATCH    = "watchlist_match"
	EDUPLICATEVOICE    = "duplicate_voice"
	// EINVALIDTARGETFAR refuses a verification target_far outside the range
	// the speaker model's calibration covers.
	EINVALIDTARGETFAR = "invalid_target_far"
	// EINVALIDLIVENESSMODE refuses a liveness mode other than "enforce"
	// and "flag".
	EINVALIDLIVENESSMODE = "invalid_liveness_mode"
	// EINVALIDLIVENESSBPCER refuses a liveness max_bpcer that is not one of
	// the loaded detector's operating points.
	EINVALIDLIVENESSBPCER = "invalid_liveness_bpcer"
	// EMODELSMISSING: a model a verdict depends on (voice activity
	// detection, deepfake detection) is not loaded and the server was not
	// started in degraded mode.
	EMODELSMISSING = "models_missing"
)

// Error is an application error: a code for machines, a message for people.
// Low-level errors (I/O, SQL) are not Errors: they surface to clients as
// EINTERNAL and are logged in full for the operator.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set, tells the client when to try again
	// (rate limits, cooldowns).
	RetryAfter time.Duration
	// Scope names the limit that was hit ("minute", "hour"...).
	Scope string
	// Cause is what went wrong underneath (a parser's or a library's own
	// words), for the operator's log only: it never reaches the client,
	// whose Message must not depend on library internals.
	Cause error
}

// Error describes e for logs, Cause included; clients get ErrorMessage.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("voxgate: code=%s message=%s cause=%v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("voxgate: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	if len(args) == 0 {
		return &Error{Code: code, Message: format}
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the application error in err's chain,
// "" for nil, and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of the application error in err's
// chain, or a generic text for internal errors (whose details are for logs).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
