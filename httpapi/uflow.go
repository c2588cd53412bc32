package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"voxgate"
	"voxgate/audio"
	"voxgate/jwtauth"
	"voxgate/policy"
	"voxgate/service"
)

// The admin and end-user API (seed 003): JSON bodies with base64 voice_data,
// authenticated by JWTs that the operator's identity system issues
// (see package jwtauth for the claims).
//
//   - /uflow/admin/... needs a token with role "admin": it acts on any user of
//     the token's tenant, named by user_id.
//   - /uflow/user/... needs a token with role "user": it acts only on the
//     token's sub. A user_id in the body other than sub is refused (403).
//   - A token of the other role is refused with 403 forbidden; a missing,
//     malformed, expired or badly signed token, or one naming an unknown
//     tenant, with 401 unauthorized.
//
// Enrollment collects samples until the service's required net speech is
// reached: the answer's status is "enrolled" from then on, and "in_progress"
// before, with the message saying how much speech is still needed. The
// profile is created on the first sample. enrollment_id is stable for the
// life of the profile's enrollment (a deletion starts a new one).
//
// 404s: "profile_not_found" when the user has no profile, "not_found" when
// the profile exists but has no usable voiceprint yet. Status of an unknown
// user is not an error: {"enrolled": false, "enrollment_date": ""}.

var errorRef = jsonBody(schema{"$ref": "#/components/schemas/Error"})

var voiceDataSchema = schema{"type": "string", "description": "the recording (WAV, MP3, FLAC, OGG, ...), base64 in the standard or URL-safe alphabet, padding optional, or a data: URI; at most 25 MiB decoded"}

var uflowEnrollSchema = schema{"type": "object", "required": []string{"enrollment_id", "status", "message"}, "properties": schema{
	"enrollment_id": schema{"type": "string", "format": "uuid"},
	"status":        schema{"type": "string", "enum": []string{uflowEnrolled, uflowInProgress}},
	"message":       schema{"type": "string"},
}}

var uflowVerifySchema = schema{"type": "object", "required": []string{"verified", "confidence", "message"}, "properties": schema{
	"verified":   schema{"type": "boolean"},
	"confidence": schema{"type": "number", "minimum": 0, "maximum": 1},
	"message":    schema{"type": "string"},
}}

var uflowDeletedSchema = schema{"type": "object", "required": []string{"message"}, "properties": schema{"message": schema{"type": "string"}}}

func uflowStatusSchema(withUser bool) schema {
	props := schema{
		"enrolled":        schema{"type": "boolean"},
		"enrollment_date": schema{"type": "string", "description": "RFC 3339 time the voiceprint became usable; empty when not enrolled"},
	}
	req := []string{"enrolled", "enrollment_date"}
	if withUser {
		props["user_id"] = schema{"type": "string"}
		req = append(req, "user_id")
	}
	return schema{"type": "object", "required": req, "properties": props}
}

func uflowRequest(withUser bool) *body {
	props := schema{"voice_data": voiceDataSchema}
	req := []string{"voice_data"}
	if withUser {
		props["user_id"] = schema{"type": "string", "minLength": 1, "maxLength": voxgate.MaxUserIDLen}
		req = []string{"user_id", "voice_data"}
	}
	return jsonBody(schema{"type": "object", "required": req, "properties": props})
}

// Enrollment statuses.
const (
	uflowEnrolled   = "enrolled"
	uflowInProgress = "in_progress"
)

const msgEnrollmentDeleted = "Voice enrollment deleted successfully"

func (s *Server) registerUflow() {
	admin := func(h http.HandlerFunc) http.HandlerFunc { return s.jwtAuthed(jwtauth.RoleAdmin, h) }
	user := func(h http.HandlerFunc) http.HandlerFunc { return s.jwtAuthed(jwtauth.RoleUser, h) }
	s.handle("POST", "/uflow/admin/auth/voice/enroll", operation{
		id: "uflowAdminEnroll", summary: "Add an enrollment recording for a user (creates the profile)", tag: "uflow", auth: authAdminJWT,
		request:  uflowRequest(true),
		response: map[int]*body{200: jsonBody(uflowEnrollSchema), 400: errorRef, 401: errorRef},
	}, admin(s.uflowEnroll))
	s.handle("POST", "/uflow/admin/auth/voice/verify", operation{
		id: "uflowAdminVerify", summary: "Verify a user's voice against the enrolled voiceprint", tag: "uflow", auth: authAdminJWT,
		request:  uflowRequest(true),
		response: map[int]*body{200: jsonBody(uflowVerifySchema), 400: errorRef, 401: errorRef, 404: errorRef},
	}, admin(s.uflowVerify))
	s.handle("GET", "/uflow/admin/auth/voice/status/{user_id}", operation{
		id: "uflowAdminStatus", summary: "A user's voice enrollment status", tag: "uflow", auth: authAdminJWT,
		response: map[int]*body{200: jsonBody(uflowStatusSchema(true)), 401: errorRef},
	}, admin(s.uflowStatus))
	s.handle("DELETE", "/uflow/admin/auth/voice/enrollment/{user_id}", operation{
		id: "uflowAdminDelete", summary: "Delete a user's voice enrollment and every biometric record of it", tag: "uflow", auth: authAdminJWT,
		response: map[int]*body{200: jsonBody(uflowDeletedSchema), 401: errorRef, 404: errorRef},
	}, admin(s.uflowDelete))

	s.handle("POST", "/uflow/user/auth/voice/enroll", operation{
		id: "uflowUserEnroll", summary: "End-user self-service enrollment", tag: "uflow", auth: authUserJWT,
		request:  uflowRequest(false),
		response: map[int]*body{200: jsonBody(uflowEnrollSchema), 400: errorRef, 401: errorRef},
	}, user(s.uflowEnroll))
	s.handle("POST", "/uflow/user/auth/voice/verify", operation{
		id: "uflowUserVerify", summary: "End-user voice verification", tag: "uflow", auth: authUserJWT,
		request:  uflowRequest(false),
		response: map[int]*body{200: jsonBody(uflowVerifySchema), 400: errorRef, 401: errorRef, 404: errorRef},
	}, user(s.uflowVerify))
	s.handle("GET", "/uflow/user/auth/voice/status", operation{
		id: "uflowUserStatus", summary: "The caller's own enrollment status", tag: "uflow", auth: authUserJWT,
		response: map[int]*body{200: jsonBody(uflowStatusSchema(false)), 401: errorRef},
	}, user(s.uflowStatus))
	s.handle("DELETE", "/uflow/user/auth/voice/enrollment", operation{
		id: "uflowUserDelete", summary: "Delete the caller's own voice enrollment", tag: "uflow", auth: authUserJWT,
		response: map[int]*body{200: jsonBody(uflowDeletedSchema), 401: errorRef, 404: errorRef},
	}, user(s.uflowDelete))
}

// jwtAuthed wraps h so that it runs only for a request whose bearer JWT
// verifies and carries role.
func (s *Server) jwtAuthed(role jwtauth.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := s.checkAuth(r, "jwt", r.Header.Get("Authorization") != "", "", func() (voxgate.Actor, error) { return s.jwtActor(r, role) })
		if err != nil {
			switch voxgate.ErrorCode(err) {
			case voxgate.EUNAUTHORIZED:
				if r.Header.Get("Authorization") == "" { // RFC 6750 3.1: no error code without credentials
					w.Header().Set("WWW-Authenticate", `Bearer realm="voxgate"`)
					break
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="voxgate", error="invalid_token"`)
			case voxgate.EFORBIDDEN:
				w.Header().Set("WWW-Authenticate", `Bearer realm="voxgate", error="insufficient_scope"`)
			}
			writeError(w, r, err)
			return
		}
		rc := reqContext(r.Context())
		rc.actor, rc.authed, rc.tenant = a, true, a.TenantID
		h(w, r)
	}
}

// jwtActor verifies the request's bearer token and resolves its tenant.
func (s *Server) jwtActor(r *http.Request, role jwtauth.Role) (voxgate.Actor, error) {
	if s.jwt == nil {
		return voxgate.Actor{}, voxgate.Errorf(voxgate.EUNAUTHORIZED, "JWT authentication is not configured on this server")
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return voxgate.Actor{}, voxgate.Errorf(voxgate.EUNAUTHORIZED, "Missing Authorization: Bearer token")
	}
	c, err := s.jwt.VerifyContext(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		return voxgate.Actor{}, err
	}
	if c.Role != role {
		if role == jwtauth.RoleAdmin {
			return voxgate.Actor{}, voxgate.Errorf(voxgate.EFORBIDDEN, "This route needs an admin token")
		}
		return voxgate.Actor{}, voxgate.Errorf(voxgate.EFORBIDDEN, "This route needs an end-user token")
	}
	tenantID, err := s.svc.TenantID(r.Context(), c.Tenant)
	if err != nil {
		if voxgate.ErrorCode(err) == voxgate.ENOTFOUND {
			return voxgate.Actor{}, voxgate.Errorf(voxgate.EUNAUTHORIZED, "Token names an unknown tenant")
		}
		return voxgate.Actor{}, err
	}
	return c.Actor(tenantID), nil
}

// uflowBody is the request of the enroll and verify routes; end-user
// requests carry no user_id.
type uflowBody struct {
	UserID    string `json:"user_id"`
	VoiceData string `json:"voice_data"`
}

// maxUflowBody bounds a JSON body: 25 MiB of audio in base64, with room for
// line breaks every 76 characters and for the other fields.
var maxUflowBody = int64(base64.StdEncoding.EncodedLen(audio.DefaultMaxBytes))*78/76 + 1<<20

// readUflow decodes the body and the audio, and returns the user the
// request is about: the token's subject for an end-user token.
func readUflow(w http.ResponseWriter, r *http.Request) (userID string, audioData []byte, err error) {
	var req uflowBody
	if err := decodeJSON(w, r, maxUflowBody, &req); err != nil {
		return "", nil, err
	}
	userID = uflowUser(r, req.UserID)
	if err := voxgate.ValidateUserID(userID); err != nil {
		return "", nil, err
	}
	audioData, err = decodeVoiceData(req.VoiceData)
	return userID, audioData, err
}

// uflowUser is the user a request acts on: the given one, else (end-user
// routes) the token's subject. The service refuses a confined actor
// another user.
func uflowUser(r *http.Request, given string) string {
	if given != "" {
		return given
	}
	return actorFrom(r).Subject
}

// decodeVoiceData decodes a voice_data field: base64 in the standard or the
// URL-safe alphabet, with or without padding, possibly wrapped in lines, or
// a data: URI (data:audio/wav;base64,...). Returns EINVALID for anything
// else and EPAYLOADTOOLARGE beyond audio.DefaultMaxBytes decoded.
func decodeVoiceData(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 5 && strings.EqualFold(s[:5], "data:") {
		meta, payload, ok := strings.Cut(s[5:], ",")
		if !ok || !strings.HasSuffix(strings.ToLower(strings.TrimSpace(meta)), ";base64") {
			return nil, voxgate.Errorf(voxgate.EINVALID, "voice_data data: URI must be base64-encoded (data:audio/wav;base64,...)")
		}
		s = payload
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		s = strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
	}
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, voxgate.Errorf(voxgate.EINVALID, "voice_data is required")
	}
	if base64.RawStdEncoding.DecodedLen(len(s)) > audio.DefaultMaxBytes {
		return nil, voxgate.Errorf(voxgate.EPAYLOADTOOLARGE, "voice_data is larger than %d MiB decoded", audio.DefaultMaxBytes>>20)
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, voxgate.Errorf(voxgate.EINVALID, "voice_data is not valid base64")
	}
	return b, nil
}

type uflowEnrollResponse struct {
	EnrollmentID string `json:"enrollment_id"`
	Status       string `json:"status"`
	Message      string `json:"message"`
}

func (s *Server) uflowEnroll(w http.ResponseWriter, r *http.Request) {
	userID, data, err := readUflow(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	a := actorFrom(r)
	p, _, err := s.svc.CreateProfile(r.Context(), a, userID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.svc.Enroll(r.Context(), a, userID, data)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := uflowEnrollResponse{EnrollmentID: enrollmentID(a.TenantID, p), Status: uflowInProgress}
	if res.Enrolled {
		out.Status = uflowEnrolled
		out.Message = fmt.Sprintf("Voice enrolled: %d %s, %.1f s of speech", res.Samples, plural(res.Samples, "sample", "samples"), res.SpeechSeconds)
	} else {
		more := math.Max(0.1, res.RequiredSpeech-res.SpeechSeconds)
		out.Message = fmt.Sprintf("Sample accepted: %.1f s of %.1f s of speech collected; submit another recording with about %.1f s more speech to complete enrollment",
			res.SpeechSeconds, res.RequiredSpeech, more)
	}
	writeJSON(w, http.StatusOK, out)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// enrollmentID names a profile's enrollment: a UUID (version 8) derived
// from the tenant, the user and the profile's creation, so that it is the
// same for every sample and changes when the profile is deleted and made
// again, without being stored.
func enrollmentID(tenantID string, p *voxgate.Profile) string {
	h := sha256.Sum256([]byte("voxgate-enrollment\x00" + tenantID + "\x00" + p.UserID + "\x00" + strconv.FormatInt(p.CreatedAt.UnixMilli(), 10)))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

type uflowVerifyResponse struct {
	Verified   bool    `json:"verified"`
	Confidence float64 `json:"confidence"`
	Message    string  `json:"message"`
}

func (s *Server) uflowVerify(w http.ResponseWriter, r *http.Request) {
	userID, data, err := readUflow(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.svc.Verify(r.Context(), actorFrom(r), service.VerifyRequest{UserID: userID, Audio: data})
	switch voxgate.ErrorCode(err) {
	case "":
	case voxgate.EPROFILENOTFOUND:
		writeError(w, r, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "No voiceprint enrolled for user"))
		return
	case voxgate.EENROLLINCOMPLETE:
		writeError(w, r, voxgate.Errorf(voxgate.ENOTFOUND, "No voiceprint enrolled for user: %s", voxgate.ErrorMessage(err)))
		return
	default:
		writeError(w, r, err)
		return
	}
	s.metrics.decisions.WithLabelValues("uflow", res.Decision.Decision, res.Reason).Inc()
	setRetryAfter(w, res.RetryAfter)
	writeJSON(w, http.StatusOK, uflowVerifyResponse{
		Verified:   res.Decision.Decision == policy.Accept,
		Confidence: res.Confidence,
		Message:    verifyMessage(res),
	})
}

// verifyMessage explains a decision in one sentence, with its reason code.
func verifyMessage(res *service.VerifyResult) string {
	detail := ""
	if len(res.Insights) > 0 {
		detail = ": " + res.Insights[0]
	}
	switch res.Decision.Decision {
	case policy.Accept:
		return "Voice verified"
	case policy.Cooldown:
		return fmt.Sprintf("Too many failed attempts: try again in %d s", int64(math.Ceil(res.RetryAfter.Seconds())))
	case policy.Retry:
		return fmt.Sprintf("Voice could not be verified (%s)%s; please try again", res.Reason, detail)
	default:
		return fmt.Sprintf("Voice not verified (%s)%s", res.Reason, detail)
	}
}

type uflowStatusResponse struct {
	Enrolled       bool    `json:"enrolled"`
	EnrollmentDate string  `json:"enrollment_date"`
	UserID         *string `json:"user_id,omitempty"`
}

func (s *Server) uflowStatus(w http.ResponseWriter, r *http.Request) {
	userID := uflowUser(r, r.PathValue("user_id"))
	out := uflowStatusResponse{}
	if r.PathValue("user_id") != "" {
		out.UserID = &userID
	}
	p, err := s.svc.Profile(r.Context(), actorFrom(r), userID)
	switch {
	case err == nil:
		if p.Enrolled() {
			out.Enrolled, out.EnrollmentDate = true, p.EnrolledAt.UTC().Format(time.RFC3339)
		}
	case voxgate.ErrorCode(err) != voxgate.EPROFILENOTFOUND:
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) uflowDelete(w http.ResponseWriter, r *http.Request) {
	err := s.svc.DeleteProfile(r.Context(), actorFrom(r), uflowUser(r, r.PathValue("user_id")))
	if voxgate.ErrorCode(err) == voxgate.EPROFILENOTFOUND {
		err = voxgate.Errorf(voxgate.EPROFILENOTFOUND, "Voice enrollment not found")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": msgEnrollmentDeleted})
}
