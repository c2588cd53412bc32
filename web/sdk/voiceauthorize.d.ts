// Type declarations for the VoiceAuthorize browser SDK of voxgate.
// voiceauthorize.js defines the global `VoiceAuthorize`; voiceauthorize.mjs
// exports the same object as its default export and each member by name.

export interface InitOptions {
  /** voxgate's address, e.g. "https://voxgate.example". Default: where the SDK was loaded from. */
  baseUrl?: string;
  /** An API key: only for trusted pages (the operator's console). */
  apiKey?: string;
  /** A client token from POST /v1/client-tokens, minted by your backend. */
  clientToken?: string;
  /** Where recorder-worklet.js lives. Default: beside the SDK. */
  workletUrl?: string;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

/** The server's error body. */
export interface ErrorBody {
  error: string;
  message: string;
  status: number;
  correlation_id: string;
  retryAfterMs?: number;
  scope?: string;
}

export declare class VoiceAuthorizeError extends Error {
  readonly name: "VoiceAuthorizeError";
  /** Machine-readable code: the server's `error`, or network_error, microphone_denied, microphone_unavailable. */
  readonly error: string;
  readonly status: number;
  readonly correlation_id: string | null;
  readonly retryAfterMs?: number;
  readonly scope?: string;
  readonly body: Partial<ErrorBody>;
}

export interface Profile {
  user_id: string;
  created?: boolean;
  enrolled: boolean;
  samples: number;
  speech_seconds: number;
  created_at: string;
  enrolled_at: string | null;
}

export interface QualityReport {
  format?: string;
  codec?: string;
  sample_rate?: number;
  channels?: number;
  duration_s?: number;
  speech_s?: number;
  snr_db?: number;
  clipping?: number;
  rms_dbfs?: number;
}

/** POST /enroll: the profile's enrollment progress after this sample. */
export interface EnrollProgress {
  user_id: string;
  enrolled: boolean;
  samples: number;
  speech_seconds: number;
  required_speech_seconds: number;
  /** speech_seconds / required_speech_seconds, 0..1. */
  progress: number;
  sample_id: string;
  sample: QualityReport;
  model_version: string;
}

export type ChallengeMode = "words" | "digits" | "phrases";

export interface AuthSession {
  session_id: string;
  challenge: string;
  expiresAt: string;
  mode: ChallengeMode;
}

export type Tier = "low" | "medium" | "high" | "not_checked";
export type Decision = "accept" | "retry" | "reject" | "cooldown";

export interface VerifyDetails {
  decision: Decision;
  confidence: number;
  signals: { voice: Tier; phrase: Tier; liveness: Tier };
  learning_progress: number;
  reason?: string;
  retryAfterMs?: number;
  calibration?: { raw_score: number; normalized_score: number; confidence: number };
  thresholds?: Record<string, number>;
  spoof?: {
    deepfake_checked: boolean;
    deepfake_detected: boolean;
    spoof_probability?: number;
    replay_detected: boolean;
    replay_similarity: number;
    labels: string[];
  };
  retries?: { left: number };
  insights?: string[];
  phrase?: Record<string, unknown>;
  quality?: QualityReport;
  learned?: boolean;
  latency_ms?: number;
  model_version?: string;
  user_id?: string;
}

/** POST /verify-voice. */
export interface VoiceResult {
  success: boolean;
  decision: Decision;
  user_id: string;
  /** Present on success: validate it once from your backend with POST /verify-token. */
  voiceToken?: string;
  /** On failure: voice_rejected, phrase_rejected, liveness_rejected, replay_rejected, audio_rejected, cooldown. */
  code?: string;
  reason?: string;
  retryAfterMs?: number;
  details: VerifyDetails;
}

export interface RecordProgress {
  /** Seconds recorded so far. */
  seconds: number;
  /** Seconds of them that sounded like speech. */
  speechSeconds: number;
  /** Whether the latest 20 ms frame sounded like speech. */
  speaking: boolean;
  /**
   * "settling": waiting for leadSilenceSeconds of quiet (speech now is left
   * out); "listening": the next speech starts the take; "speaking": the take
   * is under way; "done": it ended on trailing silence.
   */
  state: "settling" | "listening" | "speaking" | "done";
}

export interface RecordOptions {
  /** Stop after this many seconds whatever happens (default 15). */
  maxSeconds?: number;
  /** Stop after this much silence following speech (default 1.5). */
  silenceSeconds?: number;
  /**
   * Quiet to hear before a take may start (default 0). Speech already under
   * way when the microphone opened is left out and the take is the next
   * whole utterance; tell the user to speak once the state is "listening".
   */
  leadSilenceSeconds?: number;
  /** Speech needed before silence can end the take (default 0.25 s). */
  minSpeechSeconds?: number;
  /** Each 20 ms frame's level, 0..1, and its dBFS. */
  onLevel?: (level: number, dbfs: number) => void;
  onProgress?: (p: RecordProgress) => void;
  /** Aborting rejects the recording with an AbortError. */
  signal?: AbortSignal;
}

export interface Recording {
  /**
   * A 16 kHz mono 16-bit PCM WAV of the take: from 0.3 s before the speech
   * onset to 0.5 s after its last speech.
   */
  result: Promise<Blob>;
  /** Ends the take now and keeps what was recorded. */
  stop(): void;
}

export interface EnrollmentStatus {
  enrolled: boolean;
  speechSeconds: number;
  requiredSeconds: number;
  remainingSeconds: number;
  /** 0..1 */
  progress: number;
  /** A sentence for the user, e.g. "About 4.2 s more speech needed." */
  message: string;
}

export interface EnrollWithMicrophoneOptions {
  user_id: string;
  /** Takes to try before giving up (default 6). */
  maxTakes?: number;
  /** Call createProfile first (default true). */
  createProfile?: boolean;
  record?: RecordOptions;
  signal?: AbortSignal;
  onTake?: (take: number) => void;
  onStatus?: (status: EnrollmentStatus, response: EnrollProgress) => void;
  onRefused?: (error: VoiceAuthorizeError) => void;
}

export interface VoiceAuthorizeAPI {
  readonly version: string;
  init(options: InitOptions): VoiceAuthorizeAPI;
  setClientToken(token: string): void;
  createProfile(args: { user_id: string }): Promise<Profile>;
  getProfile(args: { user_id: string }): Promise<Profile>;
  enroll(args: { user_id: string; audio: Blob }): Promise<EnrollProgress>;
  startAuth(args: { user_id: string; mode?: ChallengeMode }): Promise<AuthSession>;
  sendVoice(args: { user_id: string; session_id: string; audio: Blob }): Promise<VoiceResult>;
  /** POST /v1/voice/verify: needs an API key. */
  verify(args: { user_id: string; audio: Blob; phrase?: string }): Promise<VerifyDetails>;
  record(options?: RecordOptions): Promise<Blob>;
  startRecording(options?: RecordOptions): Recording;
  enrollWithMicrophone(options: EnrollWithMicrophoneOptions): Promise<EnrollProgress>;
  enrollmentStatus(progress: Partial<EnrollProgress> | Partial<Profile> & { required_speech_seconds?: number }): EnrollmentStatus;
  encodeWav(samples: Float32Array, sampleRate?: number): Blob;
  VoiceAuthorizeError: typeof VoiceAuthorizeError;
}

declare const VoiceAuthorize: VoiceAuthorizeAPI;
export default VoiceAuthorize;

export declare const version: VoiceAuthorizeAPI["version"];
export declare const init: VoiceAuthorizeAPI["init"];
export declare const setClientToken: VoiceAuthorizeAPI["setClientToken"];
export declare const createProfile: VoiceAuthorizeAPI["createProfile"];
export declare const getProfile: VoiceAuthorizeAPI["getProfile"];
export declare const enroll: VoiceAuthorizeAPI["enroll"];
export declare const startAuth: VoiceAuthorizeAPI["startAuth"];
export declare const sendVoice: VoiceAuthorizeAPI["sendVoice"];
export declare const verify: VoiceAuthorizeAPI["verify"];
export declare const record: VoiceAuthorizeAPI["record"];
export declare const startRecording: VoiceAuthorizeAPI["startRecording"];
export declare const enrollWithMicrophone: VoiceAuthorizeAPI["enrollWithMicrophone"];
export declare const enrollmentStatus: VoiceAuthorizeAPI["enrollmentStatus"];
export declare const encodeWav: VoiceAuthorizeAPI["encodeWav"];

declare global {
  interface Window {
    VoiceAuthorize: VoiceAuthorizeAPI;
  }
  // eslint-disable-next-line no-var
  var VoiceAuthorize: VoiceAuthorizeAPI;
}
