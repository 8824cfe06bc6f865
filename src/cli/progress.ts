/**
 * A byte progress bar for uploads and downloads: bytes, rate and time left,
 * redrawn on one terminal line. Silent when stderr is not a terminal.
 */
import { Transform, type TransformCallback } from 'node:stream';

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
export function humanBytes(n: number): string {
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export class ProgressBar extends Transform {
  private done: number;
  private readonly started = Date.now();
  private lastDraw = 0;

  /** `from`: bytes already there (a resumed download): the bar starts at them, the rate counts only what moves now. */
  constructor(
    private readonly total: number | null,
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly enabled = Boolean(process.stderr.isTTY),
    private readonly from = 0,
  ) {
    super();
    this.done = from;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.done += chunk.length;
    if (this.enabled && Date.now() - this.lastDraw > 100) this.draw();
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.enabled) {
      this.draw();
      this.out.write('\n');
    }
    cb();
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const rate = (this.done - this.from) / seconds;
    const width = 30;
    const fraction = this.total ? Math.min(this.done / this.total, 1) : 0;
    const bar = this.total ? `[${'#'.repeat(Math.round(fraction * width)).padEnd(width)}] ${(fraction * 100).toFixed(0).padStart(3)}%` : '';
    const eta = this.total && rate > 0 ? ` ETA ${Math.ceil((this.total - this.done) / rate)}s` : '';
    const size = this.total ? `${humanBytes(this.done)} / ${humanBytes(this.total)}` : humanBytes(this.done);
    this.out.write(`\r${this.label} ${bar} ${size} ${humanBytes(rate)}/s${eta}   `);
  }
}
