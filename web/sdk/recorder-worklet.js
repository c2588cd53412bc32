/*
 * voxgate VoiceAuthorize recorder: an AudioWorkletProcessor that mixes the
 * microphone to mono and resamples it, on the audio thread, from the
 * AudioContext's rate (44.1 or 48 kHz, usually) to 16 kHz with a
 * Kaiser-windowed sinc low-pass, so that nothing above 8 kHz folds back
 * into the speech band. It posts Float32Array chunks of about 20 ms at the
 * target rate to the main thread, which measures levels, detects the end of
 * speech and encodes the WAV.
 *
 * Messages in:  "stop" (flush what is buffered and post {done: true}).
 * Messages out: {samples: Float32Array} (16 kHz mono, -1..1), {done: true}.
 */
"use strict";

// Bessel I0 for the Kaiser window.
function besselI0(x) {
  let sum = 1, term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

// SincResampler converts a stream at inRate to outRate. The filter is a
// windowed sinc with cutoff 0.9 of the lower Nyquist frequency, 24 zero
// crossings each side, tabulated at PHASES fractional delays and linearly
// interpolated between them.
class SincResampler {
  constructor(inRate, outRate) {
    this.step = inRate / outRate; // input samples per output sample
    this.bypass = inRate === outRate;
    const fc = 0.9 * Math.min(1, outRate / inRate); // cutoff, fraction of input Nyquist
    const zeros = 24;
    this.half = Math.ceil(zeros / fc); // taps each side, input samples
    this.taps = 2 * this.half;
    const PHASES = 128;
    this.phases = PHASES;
    const beta = 8.0; // about 80 dB stop band
    const i0b = besselI0(beta);
    // table[p*taps + k]: weight of input sample (base - half + 1 + k) for
    // an output at base + p/PHASES.
    this.table = new Float32Array((PHASES + 1) * this.taps);
    for (let p = 0; p <= PHASES; p++) {
      const frac = p / PHASES;
      let norm = 0;
      for (let k = 0; k < this.taps; k++) {
        const d = frac - (k - this.half + 1); // distance in input samples
        const r = d / this.half;
        let w = 0;
        if (Math.abs(r) < 1) w = besselI0(beta * Math.sqrt(1 - r * r)) / i0b;
        const x = fc * d;
        const s = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        const h = fc * s * w;
        this.table[p * this.taps + k] = h;
        norm += h;
      }
      // Unit gain at DC for every phase.
      for (let k = 0; k < this.taps; k++) this.table[p * this.taps + k] /= norm;
    }
    // Input history: buf holds input samples from absolute index bufStart.
    this.buf = new Float32Array(8192);
    this.bufLen = 0;
    this.bufStart = -this.half; // leading zeros so the first output is centred
    this.bufLen = this.half;
    this.pos = 0; // absolute input position of the next output sample
  }

  // push appends input samples and returns the output samples they complete.
  push(input) {
    if (this.bypass) return Float32Array.from(input);
    if (this.bufLen + input.length > this.buf.length) {
      const nb = new Float32Array(Math.max(this.buf.length * 2, this.bufLen + input.length));
      nb.set(this.buf.subarray(0, this.bufLen));
      this.buf = nb;
    }
    this.buf.set(input, this.bufLen);
    this.bufLen += input.length;
    const out = [];
    const { table, taps, half, phases, buf } = this;
    for (;;) {
      const base = Math.floor(this.pos);
      const first = base - half + 1 - this.bufStart; // index into buf
      if (first + taps > this.bufLen) break;
      const fp = (this.pos - base) * phases;
      const p = Math.floor(fp);
      const a = fp - p;
      const r0 = p * taps, r1 = r0 + taps;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < taps; k++) {
        const x = buf[first + k];
        s0 += x * table[r0 + k];
        s1 += x * table[r1 + k];
      }
      out.push(s0 + a * (s1 - s0));
      this.pos += this.step;
    }
    // Drop input no longer needed.
    const keepFrom = Math.floor(this.pos) - half + 1 - this.bufStart;
    if (keepFrom > 4096) {
      this.buf.copyWithin(0, keepFrom, this.bufLen);
      this.bufLen -= keepFrom;
      this.bufStart += keepFrom;
    }
    return Float32Array.from(out);
  }

  // flush pads with zeros so the last input samples come out.
  flush() {
    return this.bypass ? new Float32Array(0) : this.push(new Float32Array(this.taps));
  }
}

class RecorderProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const target = (options && options.processorOptions && options.processorOptions.targetRate) || 16000;
    this.resampler = new SincResampler(sampleRate, target);
    this.chunk = new Float32Array(Math.round(target / 50)); // 20 ms
    this.fill = 0;
    this.running = true;
    this.port.onmessage = (e) => {
      if (e.data === "stop" && this.running) {
        this.running = false;
        this.emit(this.resampler.flush());
        this.post();
        this.port.postMessage({ done: true });
      }
    };
  }

  emit(samples) {
    for (let i = 0; i < samples.length; i++) {
      this.chunk[this.fill++] = samples[i];
      if (this.fill === this.chunk.length) this.post();
    }
  }

  post() {
    if (this.fill === 0) return;
    const out = this.chunk.slice(0, this.fill);
    this.port.postMessage({ samples: out }, [out.buffer]);
    this.fill = 0;
  }

  process(inputs) {
    if (!this.running) return false;
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true;
    let mono = input[0];
    if (input.length > 1) {
      mono = new Float32Array(input[0].length);
      for (let c = 0; c < input.length; c++) {
        const ch = input[c];
        for (let i = 0; i < ch.length; i++) mono[i] += ch[i] / input.length;
      }
    }
    this.emit(this.resampler.push(mono));
    return true;
  }
}

registerProcessor("voiceauthorize-recorder", RecorderProcessor);
