/*!
 * VoiceAuthorize as an ES module:
 *
 *   import VoiceAuthorize, { record, enroll } from "https://voxgate.example/sdk/voiceauthorize.mjs";
 *
 * It evaluates voiceauthorize.js (which defines globalThis.VoiceAuthorize)
 * and re-exports its API, so that both forms are one implementation.
 */
import "./voiceauthorize.js";

const VoiceAuthorize = globalThis.VoiceAuthorize;
VoiceAuthorize._setAssetBase(new URL("./", import.meta.url).href);

export default VoiceAuthorize;
export const {
  version,
  init,
  setClientToken,
  createProfile,
  getProfile,
  enroll,
  startAuth,
  sendVoice,
  verify,
  record,
  startRecording,
  enrollWithMicrophone,
  enrollmentStatus,
  encodeWav,
  VoiceAuthorizeError,
} = VoiceAuthorize;
