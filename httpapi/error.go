package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"voxgate"
)

// statusFor maps an application error code to its HTTP status. It is the
// only place that does; every API face answers errors through writeError.
func statusFor(code string) int {
	switch code {
	case voxgate.EINVALID, voxgate.EINVALIDUSERID, voxgate.EAUDIOTOOSHORT,
		voxgate.EINVALIDTARGETFAR, voxgate.EINVALIDLIVENESSMODE, voxgate.EINVALIDLIVENESSBPCER:
		return http.StatusBadRequest
	case voxgate.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case voxgate.EFORBIDDEN, voxgate.EWATCHLISTMATCH:
		return http.StatusForbidden
	case voxgate.ENOTFOUND, voxgate.EPROFILENOTFOUND, voxgate.ESESSIONNOTFOUND:
		return http.StatusNotFound
	case voxgate.EMETHODNOTALLOWED:
		return http.StatusMethodNotAllowed
	case voxgate.ECONFLICT, voxgate.EENROLLINCOMPLETE, voxgate.EDUPLICATEVOICE:
		return http.StatusConflict
	case voxgate.ESESSIONEXPIRED:
		return http.StatusGone
	case voxgate.EPAYLOADTOOLARGE, voxgate.EAUDIOTOOLONG:
		return http.StatusRequestEntityTooLarge
	case voxgate.EUNSUPPORTEDFORMAT, voxgate.ENOSPEECH, voxgate.ETOONOISY, voxgate.ECLIPPED:
		return http.StatusUnprocessableEntity
	case voxgate.ELOCKED:
		return http.StatusLocked
	case voxgate.ERATELIMITED:
		return http.StatusTooManyRequests
	case voxgate.EUNAVAILABLE, voxgate.EMODELSMISSING:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// errorBody is the one error shape of every route:
// {"error": CODE, "message": TEXT, "status": HTTP, "correlation_id": UUID}.
type errorBody struct {
	Error         string `json:"error"`
	Message       string `json:"message"`
	Status        int    `json:"status"`
	CorrelationID string `json:"correlation_id"`
	RetryAfterMs  *int64 `json:"retryAfterMs,omitempty"`
	Scope         string `json:"scope,omitempty"`
}

// writeError answers err in the common error shape. Internal errors are
// logged in full for the operator and reach the client as a generic message.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := voxgate.ErrorCode(err)
	status := statusFor(code)
	rc := reqContext(r.Context())
	if code == voxgate.EINTERNAL && rc.logErr == nil {
		rc.logErr = err
	}
	body := errorBody{Error: code, Message: voxgate.ErrorMessage(err), Status: status, CorrelationID: rc.id}
	var e *voxgate.Error
	if errors.As(err, &e) {
		if e.RetryAfter > 0 {
			ms := e.RetryAfter.Milliseconds()
			body.RetryAfterMs = &ms
			setRetryAfter(w, e.RetryAfter)
		}
		body.Scope = e.Scope
		if e.Cause != nil && rc.logErr == nil {
			rc.logErr = e.Cause // the operator's detail; the client gets Message
		}
	}
	rc.code = code
	writeJSON(w, status, body)
}

// setRetryAfter sets the Retry-After header (whole seconds, rounded up) of
// every answer that tells the client to wait: rate limits and overload in
// the error body, cooldown decisions in a 200 answer.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
}
