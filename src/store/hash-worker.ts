/**
 * Worker-thread side of off-thread hashing: one digest per worker, so md5 and
 * the `os_hash_algo` digest run on two cores at once. Each message is a block
 * of shared memory to hash; its id is sent back once hashed, so the block can
 * be refilled. At the end, answers with the hex digest.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

const hash = createHash((workerData as { algorithm: string }).algorithm);

parentPort!.on('message', (message: { id: number; bytes: Uint8Array } | 'end') => {
  if (message === 'end') {
    parentPort!.postMessage({ digest: hash.digest('hex') });
    return;
  }
  hash.update(message.bytes);
  parentPort!.postMessage(message.id);
});
