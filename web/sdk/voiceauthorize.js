/*!
 * VoiceAuthorize: the browser SDK of voxgate (seed 001 "embedded SDK").
 *
 *   <script src="https://voxgate.example/sdk/voiceauthorize.js"></script>
 *   VoiceAuthorize.init({ baseUrl: "https://voxgate.example", clientToken: tokenFromYourBackend });
 *   const wav = await VoiceAuthorize.record({ maxSeconds: 10 });
 *   await VoiceAuthorize.enroll({ user_id: "user_123", audio: wav });
 *
 * A plain script: it defines window.VoiceAuthorize. The ES module
 * voiceauthorize.mjs beside it imports this file and exports the same API.
 * It records with getUserMedia and an AudioWorklet (recorder-worklet.js),
 * resamples to 16 kHz with a windowed-sinc low-pass, stops on trailing
 * silence, and encodes 16-bit PCM WAV in the browser.
 *
 * Never ship an API key in a page: mint a client token on your server
 * (POST /v1/client-tokens, flow "enroll" or "challenge") and pass it as
 * clientToken. An API key (apiKey) is for trusted pages such as the
 * operator's own console.
 */
(function (root) {
  "use strict";

  var VERSION = "1.0.0";
  var TARGET_RATE = 16000;

  // Where this script came from: the default server and the worklet's home.
  var scriptSrc = null;
  if (typeof document !== "undefined" && document.currentScript && document.currentScript.src) {
    scriptSrc = document.currentScript.src;
  }

  var config = { baseUrl: null, apiKey: null, clientToken: null, workletUrl: null, fetch: null };

  /**
   * VoiceAuthorizeError carries the server's error body:
   * {error, message, status, correlation_id, retryAfterMs?}.
   */
  class VoiceAuthorizeError extends Error {
    constructor(body, status) {
      var b = body && typeof body === "object" ? body : {};
      super(b.message || (typeof body === "string" && body) || "request failed with status " + status);
      this.name = "VoiceAuthorizeError";
      this.error = b.error || (status ? "http_" + status : "network_error");
      this.status = b.status || status || 0;
      this.correlation_id = b.correlation_id || null;
      if (b.retryAfterMs != null) this.retryAfterMs = b.retryAfterMs;
      if (b.scope) this.scope = b.scope;
      this.body = b;
    }
  }

  function assetBase() {
    if (config.assetBase) return config.assetBase;
    if (scriptSrc) return new URL(".", scriptSrc).href;
    return new URL("/sdk/", baseUrl() + "/").href;
  }

  function baseUrl() {
    if (config.baseUrl) return config.baseUrl.replace(/\/+$/, "");
    if (scriptSrc) return new URL(scriptSrc).origin;
    if (config.assetBase) return new URL(config.assetBase).origin;
    return typeof location !== "undefined" ? location.origin : "";
  }

  /**
   * init sets the server and the credential. Call it once; call it again
   * (or setClientToken) to switch to another client token, for example
   * from the enroll flow to the challenge flow.
   */
  function init(opts) {
    opts = opts || {};
    if (opts.apiKey && opts.clientToken) throw new TypeError("VoiceAuthorize.init: pass apiKey or clientToken, not both");
    config.baseUrl = opts.baseUrl || null;
    config.apiKey = opts.apiKey || null;
    config.clientToken = opts.clientToken || null;
    config.workletUrl = opts.workletUrl || null;
    config.fetch = opts.fetch || null;
    return api;
  }

  function setClientToken(token) {
    config.clientToken = token || null;
    if (token) config.apiKey = null;
  }

  function credential() {
    var c = config.clientToken || config.apiKey;
    if (!c) throw new VoiceAuthorizeError({ error: "unauthorized", message: "VoiceAuthorize.init needs an apiKey or a clientToken" }, 401);
    return c;
  }

  async function request(method, path, body) {
    var headers = { Authorization: "Bearer " + credential() };
    var payload;
    if (body instanceof FormData) {
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    var f = config.fetch || fetch;
    var resp;
    try {
      resp = await f(baseUrl() + path, { method: method, headers: headers, body: payload, credentials: "omit", mode: "cors" });
    } catch (e) {
      var err = new VoiceAuthorizeError({ error: "network_error", message: "could not reach " + baseUrl() + ": " + e.message }, 0);
      err.cause = e;
      throw err;
    }
    var text = await resp.text();
    var data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!resp.ok) {
      var ve = new VoiceAuthorizeError(data || text, resp.status);
      if (!ve.correlation_id) ve.correlation_id = resp.headers.get("X-Correlation-ID");
      throw ve;
    }
    return data;
  }

  function requireUser(opts, fn) {
    if (!opts || typeof opts.user_id !== "string" || opts.user_id === "") {
      throw new TypeError("VoiceAuthorize." + fn + ": user_id is required");
    }
  }

  function audioForm(fields, audio) {
    if (!(audio instanceof Blob)) throw new TypeError("audio must be a Blob (a WAV from VoiceAuthorize.record)");
    var fd = new FormData();
    Object.keys(fields).forEach(function (k) {
      if (fields[k] != null) fd.append(k, fields[k]);
    });
    var name = audio.name || (audio.type === "audio/wav" || audio.type === "" ? "voice.wav" : "voice");
    fd.append("audio", audio, name);
    return fd;
  }

  /** createProfile registers the user (idempotent). */
  function createProfile(opts) {
    requireUser(opts, "createProfile");
    return request("POST", "/create-profile", { user_id: opts.user_id });
  }

  /** getProfile returns the user's enrollment status. */
  function getProfile(opts) {
    requireUser(opts, "getProfile");
    return request("GET", "/v1/profiles/" + encodeURIComponent(opts.user_id));
  }

  /**
   * enroll adds one recording and returns the server's progress:
   * {enrolled, samples, speech_seconds, required_speech_seconds, progress, sample, ...}.
   */
  function enroll(opts) {
    requireUser(opts, "enroll");
    return request("POST", "/enroll", audioForm({ user_id: opts.user_id }, opts.audio));
  }

  /** startAuth opens a challenge: {session_id, challenge, expiresAt, mode}. */
  function startAuth(opts) {
    requireUser(opts, "startAuth");
    var body = { user_id: opts.user_id };
    if (opts.mode) body.mode = opts.mode;
    return request("POST", "/start-auth", body);
  }

  /**
   * sendVoice answers the challenge: {success, decision, voiceToken?, code?,
   * reason?, retryAfterMs?, details}. A refusal is a result, not an error.
   */
  function sendVoice(opts) {
    requireUser(opts, "sendVoice");
    if (!opts.session_id) throw new TypeError("VoiceAuthorize.sendVoice: session_id is required");
    return request("POST", "/verify-voice", audioForm({ session_id: opts.session_id, user_id: opts.user_id }, opts.audio));
  }

  /** verify calls POST /v1/voice/verify (needs an API key, not a client token). */
  function verify(opts) {
    requireUser(opts, "verify");
    return request("POST", "/v1/voice/verify", audioForm({ user_id: opts.user_id, phrase: opts.phrase }, opts.audio));
  }

  // ---- WAV ----------------------------------------------------------------

  /** encodeWav encodes mono samples (-1..1) as a 16-bit PCM WAV Blob. */
  function encodeWav(samples, sampleRate) {
    sampleRate = sampleRate || TARGET_RATE;
    var n = samples.length;
    var buf = new ArrayBuffer(44 + 2 * n);
    var v = new DataView(buf);
    function str(off, s) {
      for (var i = 0; i < s.length; i++) v.setUint8(off + i, s.charCodeAt(i));
    }
    str(0, "RIFF");
    v.setUint32(4, 36 + 2 * n, true);
    str(8, "WAVE");
    str(12, "fmt ");
    v.setUint32(16, 16, true);
    v.setUint16(20, 1, true); // PCM
    v.setUint16(22, 1, true); // mono
    v.setUint32(24, sampleRate, true);
    v.setUint32(28, sampleRate * 2, true);
    v.setUint16(32, 2, true);
    v.setUint16(34, 16, true);
    str(36, "data");
    v.setUint32(40, 2 * n, true);
    for (var i = 0, off = 44; i < n; i++, off += 2) {
      var s = Math.max(-1, Math.min(1, samples[i]));
      v.setInt16(off, s < 0 ? Math.round(s * 32768) : Math.round(s * 32767), true);
    }
    return new Blob([buf], { type: "audio/wav" });
  }

  // ---- Recording ----------------------------------------------------------

  var FRAME = TARGET_RATE / 50; // 20 ms frames for levels and speech detection
  var PRE_ROLL = 0.3; // seconds kept before a detected onset (weak fricatives start quietly)
  var TAIL = 0.5; // seconds kept after the last speech frame

  /**
   * SpeechDetector classifies 20 ms frames as speech or not by their level
   * against an adaptive noise floor: a frame is speech when it is at least
   * 12 dB over the floor and above -50 dBFS. The floor follows quiet frames
   * down at once and rises slowly (about 2 dB/s), so that a pause does not
   * teach it the voice.
   */
  class SpeechDetector {
    constructor() {
      this.floor = null;
    }
    frame(rmsDb) {
      if (this.floor === null) this.floor = Math.min(rmsDb, -40);
      if (rmsDb < this.floor) this.floor = rmsDb;
      else this.floor = Math.min(rmsDb, this.floor + 0.04);
      this.floor = Math.max(this.floor, -90);
      return rmsDb > -50 && rmsDb > this.floor + 12;
    }
  }

  /**
   * TakeTracker decides, frame by frame, where a take begins and ends. All
   * positions count 16 kHz samples from the first one the microphone
   * delivered. Its state is one of:
   *
   *   "settling"   waiting for leadSilenceSeconds of quiet: speech heard now
   *                began before the microphone was live (someone was already
   *                talking, or a sound was already playing), so it is not
   *                part of the take;
   *   "listening"  quiet enough: the next speech onset starts the take;
   *   "speaking"   the take runs from its onset, less a short pre-roll that
   *                never reaches back into earlier speech, until
   *                silenceSeconds of quiet follow minSpeechSeconds of speech
   *                (a shorter sound followed by that much quiet is dropped);
   *   "done"       the take is complete.
   *
   * With leadSilenceSeconds 0 the first frame is already "listening".
   */
  class TakeTracker {
    constructor(o) {
      o = o || {};
      this.lead = Math.round((o.leadSilenceSeconds > 0 ? o.leadSilenceSeconds : 0) * TARGET_RATE);
      this.silence = Math.round((o.silenceSeconds > 0 ? o.silenceSeconds : 1.5) * TARGET_RATE);
      this.minSpeech = Math.round((o.minSpeechSeconds > 0 ? o.minSpeechSeconds : 0.25) * TARGET_RATE);
      this.state = this.lead > 0 ? "settling" : "listening";
      this.pos = 0; // samples seen
      this.quiet = 0; // samples of non-speech since the last speech frame
      this.start = -1; // first sample of the take
      this.lastSpeechEnd = -1; // end of the take's last speech frame
      this.speech = 0; // samples of speech in the take
    }

    // frame feeds n samples classified as speech or not and returns the state.
    frame(isSpeech, n) {
      var at = this.pos;
      this.pos += n;
      if (this.state === "done") return this.state;
      if (this.state === "speaking") {
        if (isSpeech) {
          this.speech += n;
          this.lastSpeechEnd = this.pos;
          this.quiet = 0;
        } else {
          this.quiet += n;
          if (this.quiet >= this.silence) {
            if (this.speech >= this.minSpeech) {
              this.state = "done";
            } else {
              this.start = this.lastSpeechEnd = -1;
              this.speech = 0;
              this.state = this.quiet >= this.lead ? "listening" : "settling";
            }
          }
        }
        return this.state;
      }
      if (!isSpeech) {
        this.quiet += n;
        if (this.state === "settling" && this.quiet >= this.lead) this.state = "listening";
        return this.state;
      }
      if (this.state === "listening") {
        // The pre-roll stays inside the quiet run before the onset.
        this.start = at - Math.min(Math.round(PRE_ROLL * TARGET_RATE), this.quiet);
        this.speech = n;
        this.lastSpeechEnd = this.pos;
        this.state = "speaking";
      }
      this.quiet = 0;
      return this.state;
    }

    // span returns the samples [from, to) to keep when recording ends now.
    span() {
      if (this.start >= 0) return [this.start, Math.min(this.pos, this.lastSpeechEnd + Math.round(TAIL * TARGET_RATE))];
      // No take began: the quiet that was heard (the server will say there
      // is no speech), or everything when the talking never paused.
      if (this.state === "listening") return [this.pos - this.quiet, this.pos];
      return [0, this.pos];
    }
  }

  function audioContextClass() {
    return root.AudioContext || root.webkitAudioContext;
  }

  /**
   * startRecording opens the microphone and records one take: from the first
   * speech onset (less 0.3 s) to silenceSeconds (default 1.5) of quiet after
   * it, keeping 0.5 s of that quiet; or until maxSeconds (default 15) of
   * audio, a call to stop(), or opts.signal aborting (the result then
   * rejects with an AbortError). It returns {result: Promise<Blob>, stop()};
   * the Blob is a 16 kHz mono 16-bit WAV.
   *
   * opts.leadSilenceSeconds (default 0) is the quiet to hear before a take
   * may start: speech that was already under way when the microphone
   * opened is left out, and the take is the next whole utterance. Use it
   * when the prompt may be spoken before the page is listening, or where
   * the sound source does not wait (a loop, a kiosk). While it lasts the
   * state is "settling"; tell the user to speak when it turns "listening".
   *
   * opts.onLevel(level, dbfs) receives each 20 ms frame's level (0..1).
   * opts.onProgress({seconds, speechSeconds, speaking, state}) follows the
   * take: state is "settling", "listening", "speaking" or "done".
   */
  function startRecording(opts) {
    opts = opts || {};
    var maxSeconds = opts.maxSeconds > 0 ? opts.maxSeconds : 15;
    var stopRequested = false;
    var finish = null;
    var rec = {
      stop: function () {
        stopRequested = true;
        if (finish) finish();
      },
    };
    rec.result = (async function () {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new VoiceAuthorizeError({ error: "microphone_unavailable", message: "this browser cannot record audio here (a secure https page is required)" }, 0);
      }
      var Ctx = audioContextClass();
      if (!Ctx || !("AudioWorkletNode" in root)) {
        throw new VoiceAuthorizeError({ error: "microphone_unavailable", message: "this browser lacks AudioWorklet support" }, 0);
      }
      var ctx = new Ctx();
      var stream = null;
      var node = null;
      var cleanup = function () {
        try {
          if (node) node.port.onmessage = null;
        } catch (e) { /* closed */ }
        if (stream) {
          stream.getTracks().forEach(function (t) {
            t.stop();
          });
        }
        if (ctx.state !== "closed") ctx.close().catch(function () {});
      };
      var chunks = [];
      var total = 0;
      var pending = new Float32Array(FRAME);
      var pendingFill = 0;
      var detector = new SpeechDetector();
      var take = new TakeTracker(opts);
      var onChunk = null;
      try {
        // Everything slow happens before the microphone opens: a capture
        // device delivers audio from the moment getUserMedia resolves, and
        // what arrives before the recorder is connected is lost.
        var url = config.workletUrl || new URL("recorder-worklet.js", assetBase()).href;
        await ctx.audioWorklet.addModule(url);
        node = new AudioWorkletNode(ctx, "voiceauthorize-recorder", {
          numberOfInputs: 1,
          numberOfOutputs: 1,
          outputChannelCount: [1],
          channelCount: 1,
          channelCountMode: "explicit",
          channelInterpretation: "speakers",
          processorOptions: { targetRate: TARGET_RATE },
        });
        node.connect(ctx.destination); // silent output keeps the graph pulling
        node.port.onmessage = function (e) {
          if (onChunk) onChunk(e.data);
          else if (e.data && e.data.samples) chunks.push(e.data.samples);
        };
        if (ctx.state === "suspended") await ctx.resume();
        try {
          stream = await navigator.mediaDevices.getUserMedia({
            audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
          });
        } catch (e) {
          var me = new VoiceAuthorizeError({ error: "microphone_denied", message: "microphone access was refused or no microphone was found: " + e.message }, 0);
          me.cause = e;
          throw me;
        }
        ctx.createMediaStreamSource(stream).connect(node);
      } catch (e) {
        cleanup();
        throw e;
      }

      return await new Promise(function (resolve, reject) {
        var done = false;
        var end = function (err) {
          if (done) return;
          done = true;
          onChunk = function () {};
          if (opts.signal) opts.signal.removeEventListener("abort", onAbort);
          cleanup();
          if (err) {
            reject(err);
            return;
          }
          var span = take.span();
          var from = Math.max(0, Math.min(span[0], total));
          var to = Math.max(from, Math.min(span[1], total));
          var out = new Float32Array(to - from);
          var off = 0; // absolute position of chunks[i][0]
          for (var i = 0; i < chunks.length && off < to; i++) {
            var c = chunks[i];
            var a = Math.max(from, off), b = Math.min(to, off + c.length);
            if (b > a) out.set(c.subarray(a - off, b - off), a - from);
            off += c.length;
          }
          resolve(encodeWav(out, TARGET_RATE));
        };
        var onAbort = function () {
          end(new DOMException("recording aborted", "AbortError"));
        };
        if (opts.signal) {
          if (opts.signal.aborted) return onAbort();
          opts.signal.addEventListener("abort", onAbort);
        }
        finish = function () {
          try {
            node.port.postMessage("stop");
          } catch (e) {
            end();
          }
          // The worklet answers {done}; do not wait forever for it.
          setTimeout(function () {
            end();
          }, 500);
        };
        var frame = function (f) {
          var sum = 0;
          for (var i = 0; i < f.length; i++) sum += f[i] * f[i];
          var rms = Math.sqrt(sum / f.length);
          var db = rms > 0 ? 20 * Math.log10(rms) : -100;
          var isSpeech = detector.frame(db);
          var state = take.frame(isSpeech, f.length);
          if (opts.onLevel) opts.onLevel(Math.min(1, rms * 4), db);
          if (opts.onProgress) opts.onProgress({ seconds: total / TARGET_RATE, speechSeconds: take.speech / TARGET_RATE, speaking: isSpeech, state: state });
          if (!stopRequested && (state === "done" || total >= maxSeconds * TARGET_RATE)) rec.stop();
        };
        var consume = function (s) {
          for (var i = 0; i < s.length; i++) {
            pending[pendingFill++] = s[i];
            total++;
            if (pendingFill === FRAME) {
              pendingFill = 0;
              frame(pending);
            }
          }
        };
        onChunk = function (data) {
          if (done) return;
          if (data && data.done) {
            end();
            return;
          }
          var s = data && data.samples;
          if (!s) return;
          chunks.push(s);
          try {
            consume(s);
          } catch (err) {
            end(err);
          }
        };
        // Chunks that arrived while this promise was being set up.
        try {
          var early = chunks.slice();
          chunks.length = 0;
          early.forEach(function (s) {
            chunks.push(s);
            consume(s);
          });
        } catch (err) {
          end(err);
          return;
        }
        if (stopRequested) finish();
      });
    })();
    return rec;
  }

  /** record records one take and resolves to a 16 kHz WAV Blob (see startRecording). */
  function record(opts) {
    return startRecording(opts).result;
  }

  // ---- Enrollment helper --------------------------------------------------

  /**
   * enrollmentStatus summarises an enrollment progress body (from enroll or
   * getProfile): the speech still needed and a sentence to show the user.
   */
  function enrollmentStatus(p) {
    p = p || {};
    var have = Number(p.speech_seconds) || 0;
    var need = Number(p.required_speech_seconds) || 0;
    var remaining = need > 0 ? Math.max(0, need - have) : 0;
    var progress = p.progress != null ? Number(p.progress) : need > 0 ? Math.min(1, have / need) : 0;
    var enrolled = !!p.enrolled;
    var message = enrolled
      ? "Enrollment complete."
      : need > 0
        ? "About " + Math.max(0.1, remaining).toFixed(1) + " s more speech needed."
        : "Speak naturally to enroll your voice.";
    return { enrolled: enrolled, speechSeconds: have, requiredSeconds: need, remainingSeconds: remaining, progress: progress, message: message };
  }

  // Refusals of one sample that a new take can fix.
  var RETRYABLE = { audio_too_short: 1, no_speech: 1, too_noisy: 1, clipped: 1, conflict: 1 };

  /**
   * enrollWithMicrophone records and enrolls takes until the profile is
   * enrolled or maxTakes (default 6) takes were tried. It creates the
   * profile first unless createProfile is false. opts.onStatus(status,
   * response) reports progress after each accepted take (status as
   * enrollmentStatus); opts.onRefused(error) reports a refused take (too
   * short, noisy, a repeat...) before recording the next; opts.onTake(n)
   * announces each take; opts.record holds the recording options. Resolves
   * to the last enroll response.
   */
  async function enrollWithMicrophone(opts) {
    requireUser(opts, "enrollWithMicrophone");
    var maxTakes = opts.maxTakes > 0 ? opts.maxTakes : 6;
    if (opts.createProfile !== false) await createProfile({ user_id: opts.user_id });
    var last = null;
    for (var take = 1; take <= maxTakes; take++) {
      if (opts.signal && opts.signal.aborted) throw new DOMException("enrollment aborted", "AbortError");
      if (opts.onTake) opts.onTake(take);
      var recOpts = Object.assign({ signal: opts.signal }, opts.record || {});
      var wav = await record(recOpts);
      try {
        last = await enroll({ user_id: opts.user_id, audio: wav });
      } catch (e) {
        if (e instanceof VoiceAuthorizeError && RETRYABLE[e.error]) {
          if (opts.onRefused) opts.onRefused(e);
          continue;
        }
        throw e;
      }
      if (opts.onStatus) opts.onStatus(enrollmentStatus(last), last);
      if (last.enrolled) return last;
    }
    if (last) return last;
    throw new VoiceAuthorizeError({ error: "enrollment_incomplete", message: "no usable take in " + maxTakes + " tries" }, 0);
  }

  var api = {
    version: VERSION,
    init: init,
    setClientToken: setClientToken,
    createProfile: createProfile,
    getProfile: getProfile,
    enroll: enroll,
    startAuth: startAuth,
    sendVoice: sendVoice,
    verify: verify,
    record: record,
    startRecording: startRecording,
    enrollWithMicrophone: enrollWithMicrophone,
    enrollmentStatus: enrollmentStatus,
    encodeWav: encodeWav,
    VoiceAuthorizeError: VoiceAuthorizeError,
    // TakeTracker is the recorder's take logic, exposed for tests.
    _TakeTracker: TakeTracker,
    // _setAssetBase is how voiceauthorize.mjs tells the SDK where it lives.
    _setAssetBase: function (href) {
      if (!config.assetBase && !scriptSrc) config.assetBase = href;
    },
  };
  root.VoiceAuthorize = api;
})(typeof globalThis !== "undefined" ? globalThis : self);
