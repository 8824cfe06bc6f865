/**
 * Worker-thread side of off-thread hashing: receives chunks, updates md5 and
 * the configured digest, acknowledges each chunk (for flow control) and
 * answers with the hex digests at the end.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

const md5 = createHash('md5');
const digest = createHash((workerData as { algorithm: string }).algorithm);

parentPort!.on('message', (message: Uint8Array | 'end') => {
  if (message === 'end') {
    parentPort!.postMessage({ checksum: md5.digest('hex'), value: digest.digest('hex') });
    return;
  }
  md5.update(message);
  digest.update(message);
  parentPort!.postMessage(message.byteLength);
});
