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

  function audioContextClass() {
    return root.AudioContext || root.webkitAudioContext;
  }

  /**
   * startRecording opens the microphone and records until trailing silence
   * after speech (silenceSeconds, default 1.5), maxSeconds (default 15), a
   * call to stop(), or opts.signal aborting (the result then rejects with an
   * AbortError). It returns {result: Promise<Blob>, stop()}. The Blob is a
   * 16 kHz mono 16-bit WAV.
   *
   * opts.onLevel(level, dbfs) receives each 20 ms frame's level (0..1).
   * opts.onProgress({seconds, speechSeconds, speaking}) follows the take.
   */
  function startRecording(opts) {
    opts = opts || {};
    var maxSeconds = opts.maxSeconds > 0 ? opts.maxSeconds : 15;
    var silenceSeconds = opts.silenceSeconds > 0 ? opts.silenceSeconds : 1.5;
    var minSpeech = opts.minSpeechSeconds > 0 ? opts.minSpeechSeconds : 0.25;
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
      var stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
        });
      } catch (e) {
        var me = new VoiceAuthorizeError({ error: "microphone_denied", message: "microphone access was refused or no microphone was found: " + e.message }, 0);
        me.cause = e;
        throw me;
      }
      var ctx = new Ctx();
      var node = null;
      var cleanup = function () {
        try {
          if (node) node.port.onmessage = null;
        } catch (e) { /* closed */ }
        stream.getTracks().forEach(function (t) {
          t.stop();
        });
        if (ctx.state !== "closed") ctx.close().catch(function () {});
      };
      try {
        var url = config.workletUrl || new URL("recorder-worklet.js", assetBase()).href;
        await ctx.audioWorklet.addModule(url);
        if (ctx.state === "suspended") await ctx.resume();
        var source = ctx.createMediaStreamSource(stream);
        node = new AudioWorkletNode(ctx, "voiceauthorize-recorder", {
          numberOfInputs: 1,
          numberOfOutputs: 1,
          outputChannelCount: [1],
          channelCount: 1,
          channelCountMode: "explicit",
          channelInterpretation: "speakers",
          processorOptions: { targetRate: TARGET_RATE },
        });
        source.connect(node);
        node.connect(ctx.destination); // silent output keeps the graph pulling
      } catch (e) {
        cleanup();
        throw e;
      }

      var chunks = [];
      var total = 0;
      var pending = new Float32Array(FRAME);
      var pendingFill = 0;
      var detector = new SpeechDetector();
      var speech = 0; // seconds of speech frames
      var started = false;
      var trailing = 0; // seconds of non-speech since the last speech frame
      var lastSpeechEnd = 0; // samples: end of the last speech frame

      return await new Promise(function (resolve, reject) {
        var done = false;
        var end = function (err) {
          if (done) return;
          done = true;
          if (opts.signal) opts.signal.removeEventListener("abort", onAbort);
          cleanup();
          if (err) {
            reject(err);
            return;
          }
          // Keep at most 0.5 s after the last speech.
          var keep = started ? Math.min(total, lastSpeechEnd + TARGET_RATE / 2) : total;
          var out = new Float32Array(keep);
          var off = 0;
          for (var i = 0; i < chunks.length && off < keep; i++) {
            var c = chunks[i].subarray(0, Math.min(chunks[i].length, keep - off));
            out.set(c, off);
            off += c.length;
          }
          resolve(encodeWav(out, TARGET_RATE));
        };
        var onAbort = function () {
          var e = new DOMException("recording aborted", "AbortError");
          end(e);
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
          var dt = f.length / TARGET_RATE;
          if (isSpeech) {
            speech += dt;
            trailing = 0;
            lastSpeechEnd = total;
            if (speech >= minSpeech) started = true;
          } else {
            trailing += dt;
          }
          if (opts.onLevel) opts.onLevel(Math.min(1, rms * 4), db);
          if (opts.onProgress) opts.onProgress({ seconds: total / TARGET_RATE, speechSeconds: speech, speaking: isSpeech });
          if (!stopRequested && ((started && trailing >= silenceSeconds) || total >= maxSeconds * TARGET_RATE)) rec.stop();
        };
        node.port.onmessage = function (e) {
          if (done) return;
          if (e.data && e.data.done) {
            end();
            return;
          }
          var s = e.data && e.data.samples;
          if (!s) return;
          chunks.push(s);
          for (var i = 0; i < s.length; i++) {
            pending[pendingFill++] = s[i];
            total++;
            if (pendingFill === FRAME) {
              pendingFill = 0;
              try {
                frame(pending);
              } catch (err) {
                end(err);
                return;
              }
            }
          }
        };
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
    // _setAssetBase is how voiceauthorize.mjs tells the SDK where it lives.
    _setAssetBase: function (href) {
      if (!config.assetBase && !scriptSrc) config.assetBase = href;
    },
  };
  root.VoiceAuthorize = api;
})(typeof globalThis !== "undefined" ? globalThis : self);
