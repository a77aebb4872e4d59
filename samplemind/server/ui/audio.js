// The one player: an <audio> element fed from /api/v1/samples/{id}/audio (HTTP Range, so
// seeking starts at once). Browsers do not play AIFF, so AIFF files are fetched and turned
// into WAV in memory (PCM; big-endian samples become little-endian).
//
// Samples are compared by id, never by object: the open sample's record is replaced by a new
// object whenever it changes (a tag, a correction, a teammate's edit, a map point opened), and
// it is still the same sound.

const AIFF = /\.(aif|aiff|aifc)$/i;
const NOTE_NAMES = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };

/** The pitch class (0..11) of a note ("A1", "F#3", "Bb2") or key root ("C", "Am", "F# minor"). */
export function pitchClass(text) {
  const match = /^\s*([A-Ga-g])([#b]?)/.exec(text || '');
  if (!match) return null;
  const accidental = match[2] === '#' ? 1 : match[2] === 'b' ? -1 : 0;
  return (NOTE_NAMES[match[1].toUpperCase()] + accidental + 12) % 12;
}

/** The transport's settings: loops loop, volume, project tempo (BPM) and key (a root). */
export const DEFAULT_SETTINGS = { clickPlays: true, loop: true, volume: 1, tempo: null, key: '' };

/** How a sample is previewed under the settings: {rate, keepPitch, loop, why}.
 *  Loops with a tempo play at the project tempo, pitch kept; one-shots with a note are
 *  transposed (the nearest way, at most a tritone) to the project key's root. */
export function previewOf(sample, settings) {
  const loop = Boolean(settings.loop && sample.type === 'loop');
  if (sample.type === 'loop' && settings.tempo > 0 && sample.bpm > 0) {
    return { rate: settings.tempo / sample.bpm, keepPitch: true, loop, why: `${sample.bpm} → ${settings.tempo} BPM` };
  }
  const from = pitchClass(sample.note);
  const to = pitchClass(settings.key);
  if (sample.type !== 'loop' && from !== null && to !== null) {
    let semitones = (to - from + 12) % 12;
    if (semitones > 6) semitones -= 12;
    const sign = semitones > 0 ? '+' : '';
    return { rate: 2 ** (semitones / 12), keepPitch: false, loop, why: `${sample.note} → ${settings.key} (${sign}${semitones} st)` };
  }
  return { rate: 1, keepPitch: true, loop, why: '' };
}

export class Player {
  constructor(audio, settings = { ...DEFAULT_SETTINGS }) {
    this.audio = audio;
    this.sample = null;
    this.blobUrl = null;
    this.loading = null;
    this.settings = settings;
  }

  /** Load a sample (without playing). */
  async load(sample) {
    if (this.sample && this.sample.id === sample.id) {
      this.sample = sample; // the newer record of the same sound
      this.apply();
      return this.loading;
    }
    this.sample = sample;
    if (this.blobUrl) { URL.revokeObjectURL(this.blobUrl); this.blobUrl = null; }
    const url = `/api/v1/samples/${sample.id}/audio`;
    if (AIFF.test(sample.path || sample.name || '')) {
      this.loading = fetch(url, { credentials: 'same-origin' })
        .then((response) => {
          if (!response.ok) throw new Error(`audio: ${response.status}`);
          return response.arrayBuffer();
        })
        .then((buffer) => {
          if (!this.sample || this.sample.id !== sample.id) return;
          const wav = aiffToWav(buffer);
          this.blobUrl = URL.createObjectURL(new Blob([wav || buffer], { type: wav ? 'audio/wav' : 'audio/aiff' }));
          this.audio.src = this.blobUrl;
          this.apply();
        });
    } else {
      this.audio.src = url;
      this.loading = Promise.resolve();
    }
    this.apply();
    return this.loading;
  }

  /** Put the settings on the element: a new source resets the rate, so this follows every load. */
  apply() {
    const audio = this.audio;
    audio.volume = Math.min(1, Math.max(0, Number(this.settings.volume ?? 1)));
    if (!this.sample) return;
    const preview = previewOf(this.sample, this.settings);
    audio.loop = preview.loop;
    if ('preservesPitch' in audio) audio.preservesPitch = preview.keepPitch;
    audio.defaultPlaybackRate = preview.rate;
    audio.playbackRate = preview.rate;
    this.preview = preview;
  }

  async play(sample, fromFraction = null) {
    await this.load(sample);
    if (!this.sample || this.sample.id !== sample.id) return; // another sample was chosen meanwhile
    this.apply();
    if (fromFraction !== null) this.seek(fromFraction);
    else if (this.audio.ended || this.audio.currentTime >= (this.audio.duration || Infinity)) this.audio.currentTime = 0;
    try {
      await this.audio.play();
    } catch (error) {
      if (error.name !== 'AbortError') throw error; // a newer play() took over
    }
  }

  stop() {
    this.audio.pause();
    if (Number.isFinite(this.audio.duration)) this.audio.currentTime = 0;
  }

  get playing() {
    return !this.audio.paused && !this.audio.ended;
  }

  /** Seek to a fraction of the sound (0..1), once its length is known. */
  seek(fraction) {
    const apply = () => { this.audio.currentTime = fraction * this.audio.duration; };
    if (Number.isFinite(this.audio.duration) && this.audio.duration > 0) apply();
    else this.audio.addEventListener('loadedmetadata', apply, { once: true });
  }

  get fraction() {
    const { currentTime, duration } = this.audio;
    return duration > 0 && Number.isFinite(duration) ? currentTime / duration : 0;
  }
}

function readExtended(view, offset) {
  // IEEE 754 80-bit extended (AIFF's sample rate)
  const exponent = view.getUint16(offset) & 0x7fff;
  const high = view.getUint32(offset + 2);
  const low = view.getUint32(offset + 6);
  if (exponent === 0 && high === 0 && low === 0) return 0;
  return (high * 2 ** 32 + low) * 2 ** (exponent - 16383 - 63);
}

/** An AIFF/AIFF-C (PCM) file as WAV bytes, or null when it is something else. */
export function aiffToWav(buffer) {
  const view = new DataView(buffer);
  if (buffer.byteLength < 12 || view.getUint32(0) !== 0x464f524d) return null; // FORM
  const form = view.getUint32(8);
  const isAifc = form === 0x41494643; // AIFC
  if (form !== 0x41494646 && !isAifc) return null; // AIFF
  let channels = 0; let frames = 0; let bits = 0; let rate = 0; let little = false;
  let data = null;
  let offset = 12;
  while (offset + 8 <= buffer.byteLength) {
    const id = view.getUint32(offset);
    const size = view.getUint32(offset + 4);
    const body = offset + 8;
    if (id === 0x434f4d4d) { // COMM
      channels = view.getUint16(body);
      frames = view.getUint32(body + 2);
      bits = view.getUint16(body + 6);
      rate = readExtended(view, body + 8);
      if (isAifc) {
        const compression = view.getUint32(body + 18);
        if (compression === 0x736f7774) little = true; // 'sowt'
        else if (compression !== 0x4e4f4e45) return null; // not 'NONE': compressed
      }
    } else if (id === 0x53534e44) { // SSND
      const skip = view.getUint32(body);
      data = [body + 8 + skip, Math.min(size - 8 - skip, buffer.byteLength - body - 8 - skip)];
    }
    offset = body + size + (size % 2);
  }
  if (!channels || !bits || !rate || !data || bits > 32) return null;
  const bytes = Math.ceil(bits / 8);
  const length = Math.min(data[1], frames * channels * bytes);
  const out = new ArrayBuffer(44 + length);
  const wav = new DataView(out);
  const text = (at, s) => { for (let i = 0; i < s.length; i += 1) wav.setUint8(at + i, s.charCodeAt(i)); };
  text(0, 'RIFF'); wav.setUint32(4, 36 + length, true); text(8, 'WAVE');
  text(12, 'fmt '); wav.setUint32(16, 16, true); wav.setUint16(20, 1, true);
  wav.setUint16(22, channels, true); wav.setUint32(24, Math.round(rate), true);
  wav.setUint32(28, Math.round(rate) * channels * bytes, true); wav.setUint16(32, channels * bytes, true);
  wav.setUint16(34, bytes * 8, true); text(36, 'data'); wav.setUint32(40, length, true);
  const source = new Uint8Array(buffer, data[0], length);
  const target = new Uint8Array(out, 44, length);
  if (bytes === 1) {
    for (let i = 0; i < length; i += 1) target[i] = (source[i] + 128) & 0xff; // signed -> unsigned
  } else if (little) {
    target.set(source);
  } else {
    for (let i = 0; i < length; i += bytes) for (let b = 0; b < bytes; b += 1) target[i + b] = source[i + bytes - 1 - b];
  }
  return out;
}
