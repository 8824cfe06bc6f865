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
  private lastLength = 0;

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

  /** One line that fits the terminal: the label is shortened first, then the bar. */
  private draw(): void {
    this.lastDraw = Date.now();
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const rate = (this.done - this.from) / seconds;
    const fraction = this.total ? Math.min(this.done / this.total, 1) : 0;
    const eta = this.total && rate > 0 ? ` ETA ${Math.ceil((this.total - this.done) / rate)}s` : '';
    const size = this.total ? `${humanBytes(this.done)} / ${humanBytes(this.total)}` : humanBytes(this.done);
    const tail = `${this.total ? ` ${(fraction * 100).toFixed(0).padStart(3)}%` : ''} ${size} ${humanBytes(rate)}/s${eta}`;
    const room = Math.max(20, (this.out.columns || 80) - 1);
    let width = this.total ? 30 : 0;
    let label = this.label;
    const length = () => label.length + 1 + (width ? width + 2 : 0) + tail.length;
    if (length() > room && width) width = Math.max(10, width - (length() - room));
    if (length() > room) label = shorten(label, Math.max(12, label.length - (length() - room)));
    if (length() > room) width = 0;
    const bar = width ? `[${'#'.repeat(Math.round(fraction * width)).padEnd(width)}]` : '';
    const line = `${label} ${bar}${tail}`.slice(0, room);
    this.out.write(`\r${line.padEnd(Math.min(room, this.lastLength))}`);
    this.lastLength = line.length;
  }
}

/** `uploading /a/long-file-name.img` → `uploading /a/l…name.img`: the verb stays, the name keeps both ends. */
function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const space = text.indexOf(' ');
  const verb = space > 0 && space < max - 4 ? text.slice(0, space + 1) : '';
  const name = text.slice(verb.length);
  const keep = max - verb.length - 1;
  return `${verb}${name.slice(0, Math.ceil(keep / 2))}…${name.slice(name.length - Math.floor(keep / 2))}`;
}
