/**
 * Worker-thread side of off-thread hashing: one digest per worker, so md5 and
 * the `os_hash_algo` digest run on two cores at once. Receives chunks,
 * acknowledges each (for flow control) and answers with the hex digest at
 * the end.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

const hash = createHash((workerData as { algorithm: string }).algorithm);

parentPort!.on('message', (message: Uint8Array | 'end') => {
  if (message === 'end') {
    parentPort!.postMessage({ digest: hash.digest('hex') });
    return;
  }
  hash.update(message);
  parentPort!.postMessage(message.byteLength);
});
