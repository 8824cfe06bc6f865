/** One guest inspection in its own process, so that /usr/bin/time can measure it (bench/insight.ts). */
import { inspectDisk } from '../src/insight/inspect.js';

const [file, scratch] = process.argv.slice(2);
const limits = { timeoutSeconds: 120, memoryBytes: 2 ** 30, maxPartitionBytes: 64 * 2 ** 30, maxEntries: 2_000_000, libguestfsSeconds: process.env.GLIMPSE_BENCH_LIBGUESTFS ? 300 : null };
const found = await inspectDisk(file, limits, scratch);
process.stdout.write(`${JSON.stringify(found)}\n`);
