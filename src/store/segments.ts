/**
 * Cuts one stream into consecutive segments of at most `size` bytes, each
 * itself a stream, so a large image can be written as several objects
 * without holding more than one chunk of it in memory.
 */
import { Readable } from 'node:stream';

export class Segmenter {
  private readonly source: AsyncIterator<Buffer>;
  private carry: Buffer | null = null;
  private ended = false;

  constructor(
    data: Readable,
    private readonly size: number,
  ) {
    this.source = data[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** True once the source has no more bytes. */
  get done(): boolean {
    return this.ended && this.carry === null;
  }

  /** The next segment as a stream; `bytes()` tells how many it held once it has been read. */
  next(): { stream: Readable; bytes: () => number } {
    let sent = 0;
    const self = this;
    async function* segment(): AsyncGenerator<Buffer> {
      while (sent < self.size) {
        const chunk = self.carry ?? (await self.pull());
        self.carry = null;
        if (!chunk) return;
        const room = self.size - sent;
        if (chunk.length > room) {
          self.carry = chunk.subarray(room);
          sent += room;
          yield chunk.subarray(0, room);
          return;
        }
        sent += chunk.length;
        yield chunk;
      }
      // Exactly full: find out whether anything follows, so `done` is right for the caller.
      if (!self.carry) self.carry = (await self.pull()) ?? null;
    }
    return { stream: Readable.from(segment(), { objectMode: false }), bytes: () => sent };
  }

  private async pull(): Promise<Buffer | null> {
    if (this.ended) return null;
    const { value, done } = await this.source.next();
    if (done) {
      this.ended = true;
      return null;
    }
    return value;
  }
}
