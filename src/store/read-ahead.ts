/**
 * A byte range [start, end] as a stream of pieces, with several reads
 * requested ahead: the disk or the OSD is never idle while the client drains
 * a piece (one read at a time left a first download, straight from the disk,
 * at a third of what the device gives). The source is closed when the
 * stream ends or is destroyed, once no read is in flight (a read on a closed
 * handle would use freed memory or a reused descriptor).
 */
import { Readable } from 'node:stream';

export interface PieceSource {
  /** Reads up to `length` bytes at `offset` into `into`; resolves with how many were read. */
  read(offset: number, length: number, into: Buffer): Promise<number>;
  close(): Promise<void>;
}

export function readAhead(source: PieceSource, start: number, end: number, o: { pieceSize: number; ahead: number; fail?: (err: unknown) => Error }): Readable {
  let next = start;
  const ahead: Promise<Buffer>[] = [];
  const requestAhead = () => {
    while (ahead.length < o.ahead && next <= end) {
      const length = Math.min(o.pieceSize, end - next + 1);
      const buffer = Buffer.allocUnsafe(length);
      const read = source.read(next, length, buffer).then((n) => {
        if (n !== length) throw new Error(`the data ended early (${n} of ${length} bytes at the end)`);
        return buffer;
      });
      read.catch(() => undefined); // handled when its turn comes, or dropped on destroy
      ahead.push(read);
      next += length;
    }
  };
  return new Readable({
    highWaterMark: o.pieceSize,
    read(this: Readable) {
      requestAhead();
      const piece = ahead.shift();
      if (!piece) return void this.push(null);
      piece.then(
        (buffer) => this.push(buffer),
        (err: unknown) => this.destroy(o.fail ? o.fail(err) : (err as Error)),
      );
    },
    destroy(err: Error | null, callback: (err: Error | null) => void) {
      Promise.allSettled(ahead)
        .then(() => source.close())
        .then(
          () => callback(err),
          () => callback(err),
        );
    },
  });
}
