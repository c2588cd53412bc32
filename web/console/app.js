/*
 * voxgate evaluation console. One page, hash routes (#/usage, #/learning,
 * #/decisions, #/try, #/identify), no framework. The API key lives in sessionStorage
 * only (this tab, until it closes) and goes out as Authorization: Bearer to
 * this same origin. Everything the server returns is inserted as text,
 * never as HTML.
 */
(function () {
  "use strict";

  var KEY_STORE = "voxgate.console.key";
  var SCOPE_STORE = "voxgate.console.scope";
  var PAGES = ["usage", "learning", "decisions", "try", "identify"];

  var COLORS = {
    accept: "#1a7f37", retry: "#9a5b00", reject: "#c4232c", cooldown: "#7a3fd1",
    throttled: "#56606b", accepted: "#4caf6e", refused: "#e07a80",
  };
  var LABELS = {
    accept: "Accept", retry: "Retry", reject: "Reject", cooldown: "Cooldown",
    accepted: "Enrollment accepted", refused: "Enrollment refused", throttled: "Throttled",
  };

  function $(id) {
    return document.getElementById(id);
  }

  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") e.className = attrs[k];
      else if (k === "text") e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return e;
  }

  function badge(value, cls) {
    return h("span", { class: "badge " + (cls || value || "") }, [value == null || value === "" ? "—" : String(value)]);
  }

  function key() {
    return sessionStorage.getItem(KEY_STORE);
  }

  function fmtNum(x, digits) {
    if (x == null || isNaN(x)) return "—";
    return Number(x).toFixed(digits == null ? 2 : digits);
  }

  function fmtTime(s) {
    if (!s) return "—";
    var d = new Date(s);
    if (isNaN(d) || d.getUTCFullYear() < 2000) return "—";
    return d.toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
  }

  // api calls this server with the signed-in key and returns the JSON body,
  // or throws an Error carrying the server's {error, message, correlation_id}.
  async function api(path, opts) {
    opts = opts || {};
    var headers = { Authorization: "Bearer " + key() };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    var resp = await fetch(path, { method: opts.method || "GET", headers: headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), credentials: "omit" });
    var data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (!resp.ok) {
      var err = new Error((data && data.message) || "HTTP " + resp.status);
      err.error = (data && data.error) || "http_" + resp.status;
      err.status = resp.status;
      err.correlation_id = data && data.correlation_id;
      throw err;
    }
    return data;
  }

  function errorText(e) {
    var s = e.message || String(e);
    if (e.error && s.indexOf(e.error) < 0) s = e.error + ": " + s;
    if (e.correlation_id) s += " (correlation ID " + e.correlation_id + ")";
    return s;
  }

  function showError(container, e) {
    container.textContent = "";
    container.appendChild(h("p", { class: "flash bad", role: "alert" }, [errorText(e)]));
  }

  // ---- Sign in and routing -------------------------------------------------

  async function signIn(raw) {
    sessionStorage.setItem(KEY_STORE, raw);
    try {
      await api("/v1/usage?window=1h");
    } catch (e) {
      sessionStorage.removeItem(KEY_STORE);
      throw e;
    }
    var scope = "verify";
    try {
      await api("/v1/audit?limit=1");
      scope = "admin";
    } catch (e) {
      if (e.status !== 403) throw e;
    }
    sessionStorage.setItem(SCOPE_STORE, scope);
  }

  function signOut() {
    sessionStorage.removeItem(KEY_STORE);
    sessionStorage.removeItem(SCOPE_STORE);
    location.hash = "";
    route();
  }

  function route() {
    var signedIn = !!key();
    $("nav").hidden = !signedIn;
    $("who").hidden = !signedIn;
    var page = (location.hash.match(/^#\/(\w+)/) || [])[1];
    if (!signedIn) page = "signin";
    else if (PAGES.indexOf(page) < 0) page = "usage";
    ["signin"].concat(PAGES).forEach(function (p) {
      $("page-" + p).hidden = p !== page;
    });
    document.querySelectorAll("#nav a").forEach(function (a) {
      if (a.dataset.page === page) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    if (signedIn) {
      var scope = sessionStorage.getItem(SCOPE_STORE) || "verify";
      $("who-scope").textContent = scope + " key";
    }
    document.title = (page === "signin" ? "Sign in" : $("page-" + page).querySelector("h1").textContent) + " · voxgate console";
    if (page === "usage") loadUsage();
    if (page === "decisions") loadDecisions();
    if (page === "identify") loadWatchlist();
    var params = new URLSearchParams(location.hash.split("?")[1] || "");
    if (page === "learning" && params.get("user")) {
      $("learning-user").value = params.get("user");
      loadLearning();
    }
  }

  // ---- Usage ---------------------------------------------------------------

  function tile(label, value, cls) {
    return h("div", { class: "tile " + (cls || "") }, [h("div", { class: "v" }, [String(value)]), h("div", { class: "k" }, [label])]);
  }

  function kvRows(tbody, pairs) {
    tbody.textContent = "";
    pairs.forEach(function (p) {
      tbody.appendChild(h("tr", {}, [h("th", { scope: "row" }, [p[0]]), h("td", {}, [p[1]])]));
    });
  }

  function seriesFor(keys) {
    var order = ["accept", "retry", "reject", "cooldown", "accepted", "refused"];
    var all = order.filter(function (k) { return keys[k]; });
    Object.keys(keys).forEach(function (k) {
      if (all.indexOf(k) < 0 && k !== "throttled") all.push(k);
    });
    return all.map(function (k) {
      return { key: k, label: LABELS[k] || k, color: COLORS[k] || "#8a949e" };
    });
  }

  async function loadUsage() {
    var tiles = $("usage-tiles");
    var u;
    try {
      u = await api("/v1/usage?window=" + encodeURIComponent($("usage-window").value));
    } catch (e) {
      showError(tiles, e);
      return;
    }
    var d = u.decisions || {};
    tiles.textContent = "";
    tiles.appendChild(tile("Requests", u.totals.requests || 0, "total"));
    ["accept", "retry", "reject", "cooldown"].forEach(function (k) {
      tiles.appendChild(tile(LABELS[k], d[k] || 0, k));
    });
    tiles.appendChild(tile("Throttled", u.throttled || 0, "throttled"));
    var decided = (d.accept || 0) + (d.retry || 0) + (d.reject || 0) + (d.cooldown || 0);
    tiles.appendChild(tile("Accept rate", decided ? Math.round((100 * (d.accept || 0)) / decided) + "%" : "—", "accept"));

    // Per-minute windows of the last hour, with empty minutes filled in.
    var until = new Date(u.until);
    var start = new Date(Math.floor(until.getTime() / 60000) * 60000 - 59 * 60000);
    var byMinute = {};
    (u.windows || []).forEach(function (w) {
      byMinute[Math.floor(new Date(w.minute).getTime() / 60000)] = w;
    });
    var keys = {};
    (u.windows || []).forEach(function (w) {
      Object.keys(w.decisions || {}).forEach(function (k) { keys[k] = 1; });
    });
    Object.keys(d).forEach(function (k) { keys[k] = 1; });
    var points = [], tpoints = [];
    for (var i = 0; i < 60; i++) {
      var t = new Date(start.getTime() + i * 60000);
      var w = byMinute[Math.floor(t.getTime() / 60000)] || { decisions: {}, throttled: 0 };
      var hhmm = t.toTimeString().slice(0, 5);
      var tick = i % 10 === 0 || i === 59 ? hhmm : null;
      points.push({ label: hhmm, tick: tick, values: w.decisions || {} });
      tpoints.push({ label: hhmm, tick: tick, values: { throttled: w.throttled || 0 } });
    }
    var series = seriesFor(keys);
    VGCharts.stackedBars($("chart-decisions"), { title: "Decisions per minute, last hour", series: series, points: points, empty: "No decisions in the last hour" });
    var legend = $("legend-decisions");
    legend.textContent = "";
    series.forEach(function (s) {
      legend.appendChild(h("span", {}, [h("span", { class: "sw " + (COLORS[s.key] ? s.key : "other"), "aria-hidden": "true" }), s.label]));
    });
    VGCharts.hbars($("chart-reasons"), {
      title: "Reasons",
      items: Object.keys(u.reasons || {}).map(function (k) { return { label: k, value: u.reasons[k] }; }),
      color: "#0b5cad",
      empty: "No refusals or reasons recorded",
    });
    VGCharts.stackedBars($("chart-throttle"), {
      title: "Throttled requests per minute, last hour",
      series: [{ key: "throttled", label: "Throttled", color: COLORS.throttled }],
      points: tpoints,
      empty: "No request was throttled in the last hour",
    });
    kvRows($("usage-kinds").tBodies[0], Object.keys(u.totals).filter(function (k) { return k !== "requests"; }).sort().map(function (k) {
      return [k, String(u.totals[k])];
    }).concat([["all requests", String(u.totals.requests || 0)]]));
    var lat = u.latency_ms || {};
    kvRows($("usage-latency").tBodies[0], [
      ["median (p50)", fmtNum(lat.p50, 0) + " ms"],
      ["p90", fmtNum(lat.p90, 0) + " ms"],
      ["p99", fmtNum(lat.p99, 0) + " ms"],
      ["slowest", lat.max != null ? fmtNum(lat.max, 0) + " ms" : "—"],
    ]);
  }

  // ---- Learning ------------------------------------------------------------

  function bar(label, value, text, done) {
    var pct = Math.round(Math.max(0, Math.min(1, value || 0)) * 100);
    var id = "lbl-" + Math.random().toString(36).slice(2);
    var fill = h("div", { class: "progress-fill" });
    fill.style.width = pct + "%";
    return h("div", { class: "progress-row" }, [
      h("span", { class: "meter-label", id: id }, [label]),
      h("div", { class: "progress" + (done ? " done" : ""), role: "progressbar", "aria-labelledby": id, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct), "aria-valuetext": text }, [fill]),
      h("span", { class: "pct" }, [pct + "%"]),
    ]);
  }

  async function loadLearning() {
    var out = $("learning-out");
    var user = $("learning-user").value.trim();
    if (!user) return;
    out.textContent = "Loading…";
    var l;
    try {
      l = await api("/v1/user-learning/" + encodeURIComponent(user));
    } catch (e) {
      showError(out, e);
      return;
    }
    out.textContent = "";
    var st = l.standing || {};
    var cooling = st.cooldown_until && new Date(st.cooldown_until) > new Date();
    var head = h("div", { class: "card" }, [
      h("h2", {}, ["User ", h("span", { class: "mono" }, [l.user_id]), " ", l.enrolled ? badge("enrolled", "yes") : badge("not enrolled", "no"),
        " ", st.locked ? badge("locked", "reject") : cooling ? badge("cooling down", "cooldown") : badge("in good standing", "yes")]),
      bar("Enrollment", l.required_speech_seconds ? l.speech_seconds / l.required_speech_seconds : 0,
        fmtNum(l.speech_seconds, 1) + " of " + fmtNum(l.required_speech_seconds, 1) + " seconds of speech", l.enrolled),
      h("p", { class: "help" }, [fmtNum(l.speech_seconds, 1) + " s of net speech in " + l.samples + " sample(s); " + fmtNum(l.required_speech_seconds, 1) + " s required."]),
      bar("Learning", l.learning_progress, Math.round((l.learning_progress || 0) * 100) + " percent", false),
      h("p", { class: "help" }, ["Learning grows with enrolled speech and with adaptations from confident, live, accepted attempts."]),
    ]);
    var stats = h("table", { class: "kv" }, [h("tbody", {}, [
      h("tr", {}, [h("th", { scope: "row" }, ["Adaptations"]), h("td", {}, [String(l.adaptations)])]),
      h("tr", {}, [h("th", { scope: "row" }, ["Similarity to enrolled voiceprint (cosine)"]), h("td", {}, [fmtNum(l.cosine_to_enrolled, 3)])]),
      h("tr", {}, [h("th", { scope: "row" }, ["Voice threshold (floor)"]), h("td", {}, [fmtNum(l.threshold, 3) + " (" + fmtNum(l.threshold_floor, 3) + ")"])]),
      h("tr", {}, [h("th", { scope: "row" }, ["Target false-accept rate"]), h("td", {}, [l.target_far != null ? (l.target_far * 100).toFixed(2) + "%" : "—"])]),
      h("tr", {}, [h("th", { scope: "row" }, ["Accepted attempts scored"]), h("td", {}, [String((l.scores || {}).accepted || 0)])]),
      h("tr", {}, [h("th", { scope: "row" }, ["Accepted score mean ± std"]), h("td", {}, [(l.scores && l.scores.accepted) ? fmtNum(l.scores.mean, 3) + " ± " + fmtNum(l.scores.std, 3) : "—"])]),
      h("tr", {}, [h("th", { scope: "row" }, ["Consecutive failures"]), h("td", {}, [String(st.consecutive_failures || 0)])]),
      h("tr", {}, [h("th", { scope: "row" }, ["Cooldown until"]), h("td", {}, [cooling ? fmtTime(st.cooldown_until) : "—"])]),
      h("tr", {}, [h("th", { scope: "row" }, ["Model"]), h("td", { class: "mono" }, [l.model_version || "—"])]),
      h("tr", {}, [h("th", { scope: "row" }, ["Voiceprint updated"]), h("td", {}, [fmtTime(l.updated_at)])]),
    ])]);
    var updates = l.recent_updates || [];
    var upd = h("div", { class: "card" }, [h("h2", {}, ["Recent adaptations"])]);
    if (!updates.length) {
      upd.appendChild(h("p", { class: "help" }, ["No adaptation yet: the voiceprint is the enrolled one."]));
    } else {
      var tb = h("tbody");
      updates.slice().reverse().forEach(function (u) {
        tb.appendChild(h("tr", {}, [h("td", {}, [fmtTime(u.at)]), h("td", { class: "num" }, [fmtNum(u.score, 3)]), h("td", { class: "num" }, [fmtNum(u.cosine_to_enrolled, 3)])]));
      });
      upd.appendChild(h("table", {}, [h("thead", {}, [h("tr", {}, [h("th", { scope: "col" }, ["When"]), h("th", { scope: "col" }, ["Score"]), h("th", { scope: "col" }, ["Cosine to enrolled"])])]), tb]));
    }
    out.appendChild(head);
    out.appendChild(h("div", { class: "grid2" }, [h("div", { class: "card" }, [h("h2", {}, ["State"]), stats]), upd]));
  }

  // ---- Decisions -----------------------------------------------------------

  function signalsCell(detail) {
    var s = (detail && detail.signals) || null;
    if (!s) return h("span", { class: "help" }, ["—"]);
    return h("div", { class: "signals" }, ["voice", "phrase", "liveness"].map(function (k) {
      var tier = s[k] || "not_checked";
      return h("span", { class: "badge " + tier, title: k + ": " + tier }, [k + " " + tier.replace("_", " ")]);
    }));
  }

  async function loadDecisions() {
    var out = $("decisions-out");
    if ((sessionStorage.getItem(SCOPE_STORE) || "verify") !== "admin") {
      out.textContent = "";
      out.appendChild(h("div", { class: "notice", role: "status" }, [
        h("strong", {}, ["The audit log needs an admin key."]),
        " You signed in with a verify key, which may enroll and verify but not read the tenant's decisions. Sign out and sign in with an admin key to see this page.",
      ]));
      return;
    }
    var q = "?limit=" + $("decisions-limit").value;
    var user = $("decisions-user").value.trim();
    if (user) q += "&user_id=" + encodeURIComponent(user);
    var data;
    try {
      data = await api("/v1/audit" + q);
    } catch (e) {
      showError(out, e);
      return;
    }
    out.textContent = "";
    var rows = data.attempts || [];
    if (!rows.length) {
      out.appendChild(h("p", { class: "notice" }, ["No decisions recorded yet" + (user ? " for " + user : "") + "."]));
      return;
    }
    var tb = h("tbody");
    rows.forEach(function (a) {
      var d = a.detail || {};
      // Cooldowns, locks and throttled requests are decided before any
      // scoring: they have no score or confidence to show.
      var scored = ["cooldown", "locked", "throttled"].indexOf(a.decision) < 0;
      var score = scored && d.calibration ? fmtNum(d.calibration.normalized_score, 2) : "—";
      var conf = scored && d.confidence != null ? fmtNum(d.confidence, 2) : "—";
      var userLink = h("a", { href: "#/learning?user=" + encodeURIComponent(a.user_id) }, [a.user_id]);
      tb.appendChild(h("tr", {}, [
        h("td", {}, [fmtTime(a.created_at)]),
        h("td", {}, [userLink]),
        h("td", {}, [a.kind + (d.challenged ? " (challenge)" : "")]),
        h("td", {}, [badge(a.decision)]),
        h("td", {}, [a.reason || "—"]),
        h("td", {}, [signalsCell(d)]),
        h("td", { class: "num" }, [conf]),
        h("td", { class: "num" }, [score]),
        h("td", { class: "num" }, [a.decision === "throttled" ? "—" : fmtNum(a.latency_ms, 0)]),
      ]));
    });
    var head = h("tr", {}, ["When", "User", "Kind", "Decision", "Reason", "Signals", "Confidence", "Voice score", "Latency (ms)"].map(function (c) {
      return h("th", { scope: "col" }, [c]);
    }));
    out.appendChild(h("div", { class: "table-wrap" }, [h("table", { id: "decisions-table" }, [h("caption", { class: "visually-hidden" }, ["Recent decisions"]), h("thead", {}, [head]), tb])]));
  }

  // ---- Try it --------------------------------------------------------------

  var tryState = { session: null, recording: null };

  // The recorder waits for this much quiet before a take may start, so that
  // speech already under way when the microphone opens is never cut in.
  var LEAD_QUIET = 1.0;

  // takeText describes a take in progress for the status line.
  function takeText(p, prompt) {
    switch (p.state) {
      case "settling":
        return "Listening for a moment of quiet before you speak…";
      case "listening":
        return "Speak now. " + prompt;
      case "speaking":
        return "Recording… " + fmtNum(p.speechSeconds, 1) + " s of speech; pause to finish.";
      default:
        return "Got it.";
    }
  }

  function sdk() {
    return VoiceAuthorize.init({ baseUrl: location.origin, apiKey: key() });
  }

  function setMeter(id, level) {
    var m = $(id);
    var pct = Math.round(Math.max(0, Math.min(1, level)) * 100);
    m.setAttribute("aria-valuenow", String(pct));
    m.firstElementChild.style.width = pct + "%";
  }

  function setEnrollProgress(status) {
    var p = $("enroll-progress");
    var pct = Math.round(status.progress * 100);
    p.setAttribute("aria-valuenow", String(pct));
    p.setAttribute("aria-valuetext", status.message);
    p.firstElementChild.style.width = pct + "%";
    p.classList.toggle("done", status.enrolled);
    $("enroll-percent").textContent = pct + "%";
    $("enroll-status").textContent = fmtNum(status.speechSeconds, 1) + " s of speech collected, " + fmtNum(status.requiredSeconds, 1) + " s needed. " + status.message;
  }

  function tryUser() {
    var u = $("try-user").value.trim();
    if (!u) {
      $("try-user").focus();
      throw new Error("Enter a user ID first.");
    }
    return u;
  }

  async function createProfile(ev) {
    ev.preventDefault();
    var status = $("try-profile-status");
    try {
      var p = await sdk().createProfile({ user_id: tryUser() });
      status.textContent = (p.created ? "Profile created" : "Profile exists") + ": " + (p.enrolled ? "enrolled, " : "not enrolled yet, ") + fmtNum(p.speech_seconds, 1) + " s of speech in " + p.samples + " sample(s).";
      var st = VoiceAuthorize.enrollmentStatus(p);
      if (p.enrolled) setEnrollProgress(Object.assign(st, { progress: 1, enrolled: true, message: "Enrollment complete." }));
    } catch (e) {
      status.textContent = errorText(e);
    }
  }

  async function runEnroll() {
    var user;
    try {
      user = tryUser();
    } catch (e) {
      $("enroll-status").textContent = e.message;
      return;
    }
    var btn = $("try-enroll"), stop = $("try-enroll-stop"), takes = $("enroll-takes");
    btn.disabled = true;
    stop.disabled = false;
    takes.textContent = "";
    var ac = new AbortController();
    stop.onclick = function () {
      ac.abort();
    };
    try {
      var res = await sdk().enrollWithMicrophone({
        user_id: user,
        signal: ac.signal,
        record: {
          maxSeconds: 30,
          leadSilenceSeconds: LEAD_QUIET,
          onLevel: function (l) { setMeter("enroll-level", l); },
          onProgress: function (p) {
            $("enroll-status").textContent = takeText(p, "Read aloud for 5 to 10 seconds.");
          },
        },
        onTake: function (n) {
          $("enroll-status").textContent = "Take " + n + ": opening the microphone…";
        },
        onStatus: function (st, r) {
          setEnrollProgress(st);
          var q = r.sample || {};
          // The server caps the SNR at 100 dB: a take with no measurable noise.
          var snr = q.snr_db >= 99 ? "no background noise" : "SNR " + fmtNum(q.snr_db, 0) + " dB";
          takes.appendChild(h("li", {}, ["Take accepted: " + fmtNum(q.speech_s, 1) + " s of speech, " + snr + "."]));
        },
        onRefused: function (e) {
          takes.appendChild(h("li", { class: "error" }, ["Take refused: " + errorText(e)]));
        },
      });
      var st = VoiceAuthorize.enrollmentStatus(res);
      setEnrollProgress(st);
      $("try-profile-status").textContent = "Profile " + user + ": " + (res.enrolled ? "enrolled" : "not enrolled yet") + ", " + fmtNum(res.speech_seconds, 1) + " s of speech in " + res.samples + " sample(s).";
      if (!res.enrolled) $("enroll-status").textContent += " Record again to finish.";
    } catch (e) {
      $("enroll-status").textContent = e.name === "AbortError" ? "Stopped." : errorText(e);
    } finally {
      setMeter("enroll-level", 0);
      btn.disabled = false;
      stop.disabled = true;
    }
  }

  async function startChallenge(ev) {
    ev.preventDefault();
    var box = $("challenge-box");
    $("decision").hidden = true;
    $("speak-status").textContent = "";
    try {
      var user = tryUser();
      var s = await sdk().startAuth({ user_id: user, mode: $("try-mode").value });
      tryState.session = s;
      tryState.user = user;
      $("challenge-text").textContent = s.challenge;
      $("challenge-text").dataset.session = s.session_id;
      $("challenge-expiry").textContent = "Single use; expires at " + new Date(s.expiresAt).toLocaleTimeString() + ".";
      box.hidden = false;
      $("try-speak").focus();
    } catch (e) {
      box.hidden = true;
      $("speak-status").textContent = errorText(e);
    }
  }

  function renderDecision(r) {
    var box = $("decision");
    box.textContent = "";
    var d = r.details || {};
    var ok = r.success;
    box.appendChild(h("p", { class: "verdict", id: "verdict" }, [badge(r.decision), ok ? "Verified: the voice token below authorises the action once." : "Not verified" + (r.code ? " (" + r.code + ")" : "") + "."]));
    var sig = d.signals || {};
    var rows = [
      ["Voice", sig.voice, d.calibration ? "score " + fmtNum(d.calibration.normalized_score, 2) + ", threshold " + fmtNum((d.thresholds || {}).voice, 2) : ""],
      // The decision is the score; the free reading is only a diagnostic
      // and may differ from the prompt on an accepted answer.
      ["Phrase", sig.phrase, d.phrase ? "score " + fmtNum(d.phrase.score, 2) + ", threshold " + fmtNum(d.phrase.threshold, 2) + (d.phrase.recognized ? "; free reading \u201c" + d.phrase.recognized + "\u201d" : "") : ""],
      ["Liveness", sig.liveness, d.spoof ? (d.spoof.replay_detected ? "replay detected" : "no replay") + (d.spoof.spoof_probability != null ? ", spoof probability " + fmtNum(d.spoof.spoof_probability, 2) : "") : ""],
    ];
    var tb = h("tbody");
    rows.forEach(function (row) {
      tb.appendChild(h("tr", { "data-signal": row[0].toLowerCase() }, [h("th", { scope: "row" }, [row[0]]), h("td", {}, [badge(row[1] || "not_checked")]), h("td", {}, [row[2]])]));
    });
    box.appendChild(h("table", { class: "kv", id: "signals-table" }, [h("caption", { class: "visually-hidden" }, ["Signals"]), tb]));
    var facts = [["Confidence", fmtNum(d.confidence, 2)], ["Reason", r.reason || d.reason || "—"], ["Latency", d.latency_ms != null ? fmtNum(d.latency_ms, 0) + " ms" : "—"]];
    if (r.retryAfterMs) facts.push(["Retry after", Math.ceil(r.retryAfterMs / 1000) + " s"]);
    box.appendChild(h("table", { class: "kv" }, [h("tbody", {}, facts.map(function (f) {
      return h("tr", {}, [h("th", { scope: "row" }, [f[0]]), h("td", {}, [f[1]])]);
    }))]));
    if (d.insights && d.insights.length) {
      box.appendChild(h("ul", { class: "insights" }, d.insights.map(function (i) { return h("li", {}, [i]); })));
    }
    if (r.voiceToken) {
      var lbl = h("label", { for: "voice-token" }, ["Voice token (validate it once from your backend with POST /verify-token)"]);
      var ta = h("textarea", { id: "voice-token", class: "token", rows: "3", readonly: "readonly" });
      ta.value = r.voiceToken;
      box.appendChild(lbl);
      box.appendChild(ta);
    }
    box.hidden = false;
  }

  async function speak() {
    var s = tryState.session;
    if (!s) return;
    var btn = $("try-speak"), stop = $("try-speak-stop"), status = $("speak-status");
    btn.disabled = true;
    stop.disabled = false;
    $("decision").hidden = true;
    status.textContent = "Opening the microphone…";
    var rec = VoiceAuthorize.startRecording({
      maxSeconds: 30,
      leadSilenceSeconds: LEAD_QUIET,
      onLevel: function (l) { setMeter("speak-level", l); },
      onProgress: function (p) {
        status.textContent = takeText(p, "Say the challenge.");
      },
    });
    stop.onclick = function () {
      rec.stop();
    };
    try {
      var wav = await rec.result;
      status.textContent = "Checking…";
      var r = await sdk().sendVoice({ user_id: tryState.user, session_id: s.session_id, audio: wav });
      status.textContent = r.success ? "Accepted." : "Refused: " + (r.reason || r.code || r.decision) + ". Start a new challenge to try again.";
      renderDecision(r);
    } catch (e) {
      status.textContent = errorText(e);
    } finally {
      tryState.session = null;
      setMeter("speak-level", 0);
      btn.disabled = true; // the session is single-use
      stop.disabled = true;
    }
  }

  // ---- Identify and the watchlist ------------------------------------------

  // identify posts one recording (a Blob) as multipart to /v1/voice/identify.
  async function identify(blob, name) {
    var status = $("identify-status"), out = $("identify-out");
    var fd = new FormData();
    fd.append("audio", blob, name || "voice.wav");
    var group = $("identify-group").value.trim();
    if (group) fd.append("group", group);
    fd.append("top", $("identify-top").value);
    status.textContent = "Searching…";
    try {
      var resp = await fetch("/v1/voice/identify", { method: "POST", headers: { Authorization: "Bearer " + key() }, body: fd, credentials: "omit" });
      var data = await resp.json();
      if (!resp.ok) {
        var err = new Error(data.message || "HTTP " + resp.status);
        err.error = data.error;
        err.correlation_id = data.correlation_id;
        throw err;
      }
      status.textContent = "";
      renderIdentify(data);
    } catch (e) {
      status.textContent = "";
      showError(out, e);
    }
  }

  function renderIdentify(r) {
    var out = $("identify-out");
    out.textContent = "";
    var cls = r.decision === "identified" ? "accept" : r.decision === "retry" ? "retry" : "reject";
    out.appendChild(h("p", { class: "say" }, [badge(r.decision, cls), r.reason ? " " + r.reason : "",
      r.decision === "identified" ? " — " + r.candidates[0].user_id : ""]));
    out.appendChild(h("table", { class: "kv" }, [h("tbody", {}, [
      ["Open-set threshold", fmtNum(r.threshold, 3)],
      ["False-positive identification rate", (100 * r.fpir).toFixed(1) + " %"],
      ["Voices searched", String(r.gallery_size) + (r.group ? " (group " + r.group + ")" : "")],
      ["Latency", fmtNum(r.latency_ms, 0) + " ms"],
    ].map(function (p) { return h("tr", {}, [h("th", { scope: "row" }, [p[0]]), h("td", {}, [p[1]])]); }))]));
    if (r.candidates && r.candidates.length) {
      var tb = h("tbody", {}, r.candidates.map(function (c, i) {
        return h("tr", {}, [h("td", {}, [String(i + 1)]), h("td", {}, [c.user_id]), h("td", {}, [fmtNum(c.score, 3)]),
          h("td", {}, [fmtNum(c.confidence, 3)]), h("td", {}, [c.score >= r.threshold ? badge("above", "accept") : badge("below", "reject")])]);
      }));
      var head = h("tr", {}, ["Rank", "User", "Score", "Confidence", "Threshold"].map(function (c) { return h("th", { scope: "col" }, [c]); }));
      out.appendChild(h("div", { class: "table-wrap" }, [h("table", { id: "identify-table" }, [h("caption", { class: "visually-hidden" }, ["Candidates"]), h("thead", {}, [head]), tb])]));
    }
    if (r.insights && r.insights.length) {
      out.appendChild(h("ul", { class: "insights" }, r.insights.map(function (i) { return h("li", {}, [i]); })));
    }
  }

  async function recordIdentify() {
    var btn = $("identify-record"), stop = $("identify-stop"), status = $("identify-status");
    btn.disabled = true;
    stop.disabled = false;
    status.textContent = "Opening the microphone…";
    var rec = VoiceAuthorize.startRecording({
      maxSeconds: 30,
      leadSilenceSeconds: LEAD_QUIET,
      onLevel: function (l) { setMeter("identify-level", l); },
      onProgress: function (p) { status.textContent = takeText(p, "Speak."); },
    });
    stop.onclick = function () { rec.stop(); };
    try {
      var wav = await rec.result;
      await identify(wav, "voice.wav");
    } catch (e) {
      status.textContent = errorText(e);
    } finally {
      setMeter("identify-level", 0);
      btn.disabled = false;
      stop.disabled = true;
    }
  }

  async function loadWatchlist() {
    var out = $("watchlist-out");
    var admin = (sessionStorage.getItem(SCOPE_STORE) || "verify") === "admin";
    $("watchlist-form").hidden = !admin;
    $("policy-form").hidden = !admin;
    if (!admin) {
      out.textContent = "";
      out.appendChild(h("p", { class: "help" }, ["Sign in with an admin key to see and change the watchlist."]));
      return;
    }
    try {
      var g = await api("/v1/groups/watchlist");
      var st = await api("/v1/settings/identification");
      $("watchlist-policy").value = st.watchlist_policy;
      out.textContent = "";
      if (!g.members.length) {
        out.appendChild(h("p", { class: "help" }, ["Nobody is on the watchlist."]));
        return;
      }
      out.appendChild(h("ul", { class: "watchlist", id: "watchlist-members" }, g.members.map(function (u) {
        var rm = h("button", { type: "button", class: "link", "aria-label": "Remove " + u + " from the watchlist" }, ["Remove"]);
        rm.addEventListener("click", function () { changeWatchlist(null, u); });
        return h("li", {}, [u, " ", rm]);
      })));
    } catch (e) {
      showError(out, e);
    }
  }

  async function changeWatchlist(add, remove) {
    try {
      await api("/v1/groups/watchlist/members", { method: "PUT", body: { add: add ? [add] : [], remove: remove ? [remove] : [] } });
      $("watchlist-user").value = "";
      await loadWatchlist();
    } catch (e) {
      showError($("watchlist-out"), e);
    }
  }

  // ---- Wiring --------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", function () {
    $("signin-form").addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var err = $("signin-error");
      err.hidden = true;
      var raw = $("signin-key").value.trim();
      try {
        await signIn(raw);
        $("signin-key").value = "";
        location.hash = "#/usage";
        route();
        $("main").focus();
      } catch (e) {
        err.textContent = e.status === 401 ? "That key was not accepted: it is unknown, revoked or expired." : errorText(e);
        err.hidden = false;
      }
    });
    $("signout").addEventListener("click", signOut);
    $("usage-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      loadUsage();
    });
    $("learning-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      loadLearning();
    });
    $("decisions-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      loadDecisions();
    });
    $("try-profile-form").addEventListener("submit", createProfile);
    $("try-enroll").addEventListener("click", runEnroll);
    $("try-challenge-form").addEventListener("submit", function (ev) {
      $("try-speak").disabled = false;
      startChallenge(ev);
    });
    $("try-speak").addEventListener("click", speak);
    $("identify-record").addEventListener("click", recordIdentify);
    $("identify-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = $("identify-file").files[0];
      if (!f) {
        $("identify-status").textContent = "Choose a recording first, or record one.";
        return;
      }
      identify(f, f.name);
    });
    $("watchlist-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var u = $("watchlist-user").value.trim();
      if (u) changeWatchlist(u, null);
    });
    $("policy-form").addEventListener("submit", async function (ev) {
      ev.preventDefault();
      try {
        await api("/v1/settings/identification", { method: "PUT", body: { watchlist_policy: $("watchlist-policy").value } });
        await loadWatchlist();
      } catch (e) {
        showError($("watchlist-out"), e);
      }
    });
    window.addEventListener("hashchange", route);
    route();
  });
})();
