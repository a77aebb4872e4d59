// The waveform: the server's peaks ([min, max] pairs) drawn on a canvas, the played part in
// the accent colour; a click or a drag seeks.

/** Size a canvas's backing store to its CSS size at the screen's pixel ratio (sharp on
 * high-DPI screens); returns {ratio, width, height} in device pixels. */
export function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  return { ratio, width, height };
}

export class Waveform {
  /** canvas: the element; onSeek(fraction 0..1) when the user clicks or drags on it. */
  constructor(canvas, onSeek) {
    this.canvas = canvas;
    this.peaks = [];
    this.progress = 0;
    this.onSeek = onSeek;
    const seek = (event) => {
      const box = canvas.getBoundingClientRect();
      const fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
      this.onSeek(fraction);
    };
    canvas.addEventListener('pointerdown', (event) => {
      canvas.setPointerCapture(event.pointerId);
      seek(event);
      const move = (e) => seek(e);
      canvas.addEventListener('pointermove', move);
      canvas.addEventListener('pointerup', () => canvas.removeEventListener('pointermove', move), { once: true });
    });
    canvas.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowLeft' || event.key === 'ArrowRight') {
        event.preventDefault();
        event.stopPropagation();
        this.onSeek(Math.min(1, Math.max(0, this.progress + (event.key === 'ArrowLeft' ? -0.1 : 0.1))));
      }
    });
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  setPeaks(peaks) {
    this.peaks = peaks || [];
    this.progress = 0;
    this.draw();
  }

  setProgress(fraction) {
    const value = Number.isFinite(fraction) ? fraction : 0;
    if (Math.abs(value - this.progress) < 0.001) return;
    this.progress = value;
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const { ratio, width, height } = fitCanvas(canvas);
    const context = canvas.getContext('2d');
    const styles = getComputedStyle(canvas);
    const played = styles.getPropertyValue('--wave-played').trim() || '#4cc9f0';
    const rest = styles.getPropertyValue('--wave').trim() || '#6b7280';
    context.clearRect(0, 0, width, height);
    const peaks = this.peaks;
    const middle = height / 2;
    context.fillStyle = rest;
    context.fillRect(0, Math.floor(middle), width, Math.max(1, ratio));
    if (!peaks.length) return;
    const cut = this.progress * width;
    const step = width / peaks.length;
    for (let i = 0; i < peaks.length; i += 1) {
      const [low, high] = peaks[i];
      const x = i * step;
      const top = middle - Math.max(0, Math.min(1, high)) * middle * 0.95;
      const bottom = middle - Math.max(-1, Math.min(0, low)) * middle * 0.95;
      context.fillStyle = x < cut ? played : rest;
      context.fillRect(x, top, Math.max(1, step - ratio * 0.5), Math.max(ratio, bottom - top));
    }
    context.fillStyle = played;
    context.fillRect(Math.min(width - ratio, cut), 0, Math.max(1, ratio * 1.5), height);
  }
}
