/**
 * The streaming disk-format inspector. Every probe (one file per format) sees
 * the same chunks as they pass on their way to a store: no second read, no
 * buffering beyond the ranges probes ask for (each at most 1 MiB), the first
 * 64 KiB (so a probe may look back at headers) and the last 1.5 KiB.
 *
 * Unlike Glance's inspector, a probe that finds its signature and then hits
 * something it cannot parse reports a failure instead of dropping out, and
 * the verdict does not depend on how the stream was chunked.
 */
import { gpt } from './gpt.js';
import { iso } from './iso.js';
import { luks } from './luks.js';
import { ploop } from './ploop.js';
import {
  END,
  type InspectedFormat,
  type Probe,
  type ProbeOptions,
  type ProbeRun,
  ProbeState,
  type ReadRequest,
  type SafetyFailure,
  StructureError,
  TAIL_BYTES,
  Truncated,
} from './probe.js';
import { qcow2 } from './qcow2.js';
import { qed } from './qed.js';
import { vdi } from './vdi.js';
import { vhd } from './vhd.js';
import { vhdx } from './vhdx.js';
import { vmdk } from './vmdk.js';

export const PROBES: readonly Probe[] = [qcow2, qed, vmdk, vhd, vhdx, vdi, iso, gpt, luks, ploop];

export const DEFAULT_PROBE_OPTIONS: ProbeOptions = { vmdkAllowedTypes: ['streamOptimized', 'monolithicSparse'] };

/** A format whose signature the bytes carry, with what its probe found. */
export interface Finding {
  format: InspectedFormat;
  /** Bytes; for formats without a size of their own (gpt), the byte count. */
  virtualSize: number;
  failures: SafetyFailure[];
}

export interface InspectionReport {
  /** Bytes inspected. */
  size: number;
  /** Every format whose signature matched; none means raw. */
  findings: Finding[];
}

const HEAD_BYTES = 64 * 1024;
/** A probe that keeps asking without progress is broken (or fed a hostile loop): it stops with a failure. */
const MAX_STEPS = 100_000;

interface Running {
  probe: Probe;
  state: ProbeState;
  gen: ProbeRun;
  req: ReadRequest;
  buf: Buffer;
  filled: number;
  done: boolean;
}

export class FormatInspector {
  private pos = 0;
  private readonly head = Buffer.alloc(HEAD_BYTES);
  private headLen = 0;
  private readonly tail = Buffer.alloc(TAIL_BYTES);
  private tailLen = 0;
  private readonly runs: Running[];
  private active: Running[];
  private report: InspectionReport | null = null;

  constructor(options: ProbeOptions = DEFAULT_PROBE_OPTIONS, probes: readonly Probe[] = PROBES) {
    this.runs = probes.map((probe) => {
      const state = new ProbeState();
      const run: Running = { probe, state, gen: probe.run(state, options), req: { offset: 0, length: 0 }, buf: Buffer.alloc(0), filled: 0, done: false };
      this.advance(run, () => run.gen.next(undefined as unknown as Buffer));
      return run;
    });
    this.active = this.runs.filter((r) => !r.done);
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.pos;
  }

  feed(chunk: Buffer): void {
    if (this.report) throw new RangeError('the inspection has finished: no more bytes can be fed');
    const start = this.pos;
    this.pos += chunk.length;
    if (this.headLen < HEAD_BYTES) this.headLen += chunk.copy(this.head, this.headLen, 0, HEAD_BYTES - this.headLen);
    this.keepTail(chunk);
    if (this.active.length === 0) return;
    for (const run of this.active) this.pump(run, chunk, start, false);
    this.active = this.active.filter((r) => !r.done);
  }

  finish(): InspectionReport {
    if (this.report) return this.report;
    for (const run of this.active) {
      run.state.total = this.pos;
      this.pump(run, Buffer.alloc(0), this.pos, true);
    }
    this.active = [];
    const findings = this.runs.filter((r) => r.state.matched).map((r) => this.finding(r));
    this.report = { size: this.pos, findings };
    return this.report;
  }

  private finding(run: Running): Finding {
    const { state } = run;
    const failures = [...state.failures];
    const truncated = state.within.find((w) => w.offset + w.length > this.pos);
    if (truncated && !failures.some((f) => f.check === 'truncated')) {
      failures.push({
        check: 'truncated',
        message: `the image ends at byte ${this.pos}, before the end of its ${truncated.what} (bytes ${truncated.offset} to ${truncated.offset + truncated.length})`,
      });
    }
    return { format: run.probe.format, virtualSize: state.virtualSize ?? this.pos, failures };
  }

  /** Serves the run's pending read from what is at hand, resuming it as often as that allows. */
  private pump(run: Running, chunk: Buffer, start: number, ended: boolean): void {
    for (let steps = 0; !run.done; steps++) {
      if (steps > MAX_STEPS) {
        this.stop(run, new StructureError('the inspector made no progress through its structures'));
        return;
      }
      const { offset, length } = run.req;
      if (offset === END) {
        if (!ended) return;
        const n = Math.min(length, this.tailLen);
        this.resume(run, Buffer.from(this.tail.subarray(this.tailLen - n, this.tailLen)));
        continue;
      }
      const stop = offset + length;
      if (offset + run.filled < start) {
        run.filled += copyOverlap(this.head.subarray(0, this.headLen), 0, run, stop);
        if (offset + run.filled < start && run.filled < length) {
          this.raise(run, new StructureError(`a structure at byte ${offset} lies before data already received`));
          continue;
        }
      }
      run.filled += copyOverlap(chunk, start, run, stop);
      if (run.filled === length) this.resume(run, run.buf);
      else if (ended) this.resume(run, run.buf.subarray(0, run.filled));
      else return;
    }
  }

  private resume(run: Running, value: Buffer): void {
    this.advance(run, () => run.gen.next(value));
  }

  private raise(run: Running, err: Error): void {
    this.advance(run, () => run.gen.throw(err));
  }

  private advance(run: Running, step: () => IteratorResult<ReadRequest, void>): void {
    try {
      const next = step();
      if (next.done) {
        run.done = true;
        return;
      }
      run.req = next.value;
      run.buf = Buffer.alloc(next.value.offset === END ? 0 : next.value.length);
      run.filled = 0;
    } catch (err) {
      this.stop(run, err);
    }
  }

  /** A probe that threw is finished; if it had matched, what stopped it is a failure of that format. */
  private stop(run: Running, err: unknown): void {
    run.done = true;
    if (!run.state.matched) return;
    if (err instanceof Truncated) run.state.fail('truncated', err.message);
    else if (err instanceof StructureError) run.state.fail('header', err.message);
    else run.state.fail('header', `malformed ${run.probe.format} structures (${err instanceof Error ? err.message : String(err)})`);
  }

  private keepTail(chunk: Buffer): void {
    if (chunk.length >= TAIL_BYTES) {
      chunk.copy(this.tail, 0, chunk.length - TAIL_BYTES);
      this.tailLen = TAIL_BYTES;
      return;
    }
    const keep = Math.min(this.tailLen, TAIL_BYTES - chunk.length);
    this.tail.copyWithin(0, this.tailLen - keep, this.tailLen);
    chunk.copy(this.tail, keep);
    this.tailLen = keep + chunk.length;
  }
}

/** Copies the part of `src` (which starts at stream offset `srcStart`) that the run still needs; returns the count. */
function copyOverlap(src: Buffer, srcStart: number, run: Running, stop: number): number {
  const from = run.req.offset + run.filled;
  const to = Math.min(stop, srcStart + src.length);
  if (to <= from || from < srcStart) return 0;
  return src.copy(run.buf, run.filled, from - srcStart, to - srcStart);
}

/** Inspects a whole stream (a file, an HTTP body …) chunk by chunk. */
export async function inspectStream(stream: AsyncIterable<Buffer>, options?: ProbeOptions): Promise<InspectionReport> {
  const inspector = new FormatInspector(options);
  for await (const chunk of stream) inspector.feed(chunk);
  return inspector.finish();
}
