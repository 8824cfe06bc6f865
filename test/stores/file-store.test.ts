/**
 * The file store's write path: direct I/O where the file system supports it
 * (the temporary directory: ext4 here), the page cache where it does not (a
 * ramfs mounted for the test), byte-exact either way, whatever the size's
 * alignment, and nothing left behind by a failed write.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { writeFile } from '../../src/store/file-write.js';
import { FileStore } from '../../src/store/file-store.js';
import { pageCacheBytes, requireTool, waitForCached } from '../helpers/tools.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** What finding an aligned buffer writes through the page cache at most (one block). */
const ALIGNMENT_PROBE = 4 * KiB;
/** Around the 4 KiB alignment and the 1 MiB buffers (and a few of them). */
const SIZES = [0, 1, 4095, 4096, 4097, MiB - 1, MiB, MiB + 1, 2 * MiB, 9 * MiB + 3];

/** `size` random bytes in chunks of awkward sizes, and their sha256. */
function source(size: number): { stream: Readable; sha256: string } {
  const bytes = randomBytes(size);
  const chunks: Buffer[] = [];
  for (let at = 0, n = 1; at < size; at += n, n = (n * 7 + 13) % 200_000 || 1) chunks.push(bytes.subarray(at, Math.min(size, at + n)));
  return { stream: Readable.from(chunks), sha256: createHash('sha256').update(bytes).digest('hex') };
}

const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A ramfs (no O_DIRECT) mounted on a new directory; null where mounting is not allowed. */
function mountRamfs(): string | null {
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-ramfs-'));
  if (spawnSync('mount', ['-t', 'ramfs', 'ramfs', dir]).status === 0) return dir;
  rmSync(dir, { recursive: true });
  return null;
}

const ramfs = mountRamfs();
const ramfsSkip = requireTool('mounting a ramfs', () => ramfs !== null, 'run the tests as root, as CI does');
after(() => {
  if (ramfs && spawnSync('umount', [ramfs]).status === 0) rmSync(ramfs, { recursive: true });
});

/** Whether the temporary directory's file system takes O_DIRECT (ext4 does; tmpfs and some overlays refuse it). */
async function directIoSupported(root: string): Promise<boolean> {
  const probe = path.join(mkdtempSync(path.join(root, 'glimpse-odirect-')), 'probe');
  try {
    return (await writeFile(probe, Readable.from([Buffer.from('x')]), { direct: true, thin: false })).direct;
  } finally {
    rmSync(path.dirname(probe), { recursive: true, force: true });
  }
}

const directSkip = (await directIoSupported(tmpdir())) ? false : `the file system of ${tmpdir()} refuses O_DIRECT`;

const cases = [
  { label: 'the temporary directory (direct I/O)', root: tmpdir(), direct: true, skip: directSkip as string | false },
  { label: 'a ramfs (page cache)', root: ramfs ?? tmpdir(), direct: false, skip: ramfsSkip },
];

for (const { label, root, direct, skip } of cases) {
  describe(`file store on ${label}`, { skip }, () => {
    const dir = mkdtempSync(path.join(root, 'glimpse-filestore-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it(`${direct ? 'writes directly' : 'falls back to buffered writes'}`, async () => {
      const probe = path.join(dir, 'probe');
      const written = await writeFile(probe, Readable.from([Buffer.from('x')]), { direct: true, thin: false });
      assert.deepEqual(written, { size: 1, direct });
      assert.equal(readFileSync(probe, 'utf8'), 'x');
      rmSync(probe, { force: true });
    });

    it('leaves runs of zeros as holes when thin provisioning is on, and writes them when it is off', async () => {
      // 4 MiB of zeros between two 1 MiB pieces of data: a thin file allocates only the data.
      const bytes = Buffer.concat([randomBytes(MiB), Buffer.alloc(4 * MiB), randomBytes(MiB - 10)]);
      const sub = path.join(dir, 'thin');
      for (const thin of [true, false]) {
        const id = `00000000-0000-4000-9000-00000000000${thin ? 1 : 2}`;
        await new FileStore('file', sub, { directIo: direct, thin }).add(id, Readable.from([bytes]));
        const file = path.join(sub, id);
        assert.ok(readFileSync(file).equals(bytes), 'the bytes read back as written');
        // ramfs has no holes: there only the bytes can be checked.
        if (!direct) continue;
        const allocated = statSync(file).blocks * 512;
        if (thin) assert.ok(allocated <= 2 * MiB + 64 * 1024, `thin: ${allocated} bytes allocated for 2 MiB of data`);
        else assert.ok(allocated >= bytes.length - 64 * 1024, `thick: ${allocated} bytes allocated for ${bytes.length}`);
      }
      rmSync(sub, { recursive: true });
    });

    it('stores every size byte for byte, with nothing else left in the directory', async () => {
      const store = new FileStore('file', dir);
      for (const size of SIZES) {
        const id = `00000000-0000-4000-8000-${String(size).padStart(12, '0')}`;
        const { stream, sha256 } = source(size);
        const stored = await store.add(id, stream);
        assert.equal(stored.size, size);
        assert.equal(stored.location, `file://${path.join(dir, id)}`);
        assert.equal(sha256Of(path.join(dir, id)), sha256, `${size} bytes`);
      }
      assert.deepEqual(readdirSync(dir).sort(), SIZES.map((s) => `00000000-0000-4000-8000-${String(s).padStart(12, '0')}`).sort());
    });

    it(`${direct ? 'keeps written images out of the page cache, unless direct I/O is turned off' : 'caches what it writes'}`, async () => {
      const write = async (id: string, directIo: boolean) => {
        await new FileStore('file', dir, { directIo }).add(id, source(8 * MiB).stream);
        return pageCacheBytes(path.join(dir, id));
      };
      const cached = await write('00000000-0000-4000-8000-0000000cache1', true);
      if (direct) assert.ok(cached <= ALIGNMENT_PROBE, `direct write left ${cached} bytes cached`);
      else assert.equal(cached, 8 * MiB);
      assert.equal(await write('00000000-0000-4000-8000-0000000cache2', false), 8 * MiB);
    });

    it('reads a direct write back into the page cache as it goes, when file_store_cache_uploads is on', { skip: !direct && 'only direct writes skip the cache' }, async () => {
      // 40 MiB: one 32 MiB read-back step during the write, the rest once it ends.
      const id = '00000000-0000-4000-8000-0000000cache3';
      const { stream, sha256 } = source(40 * MiB);
      await new FileStore('file', dir, { directIo: true, cacheUploads: true }).add(id, stream);
      const file = path.join(dir, id);
      await waitForCached(file, 32 * MiB); // more than the first step: both steps ran
      assert.equal(sha256Of(file), sha256);
      // A write that fails mid-way reads nothing back and leaves nothing behind (its descriptor closed).
      const failing = new Readable({
        read() {
          this.destroy(new Error('client went away'));
        },
      });
      await assert.rejects(new FileStore('file', dir, { directIo: true, cacheUploads: true }).add('00000000-0000-4000-8000-0000000cache4', failing));
      assert.ok(!readdirSync(dir).some((f) => f.includes('cache4')));
    });

    it('leaves nothing behind when the source fails mid-way', async () => {
      const store = new FileStore('file', dir);
      const failing = Readable.from(
        (async function* () {
          yield randomBytes(5 * MiB);
          throw new Error('client went away');
        })(),
      );
      await assert.rejects(store.add('00000000-0000-4000-8000-00000000dead', failing), /client went away/);
      assert.ok(!readdirSync(dir).some((n) => n.includes('dead')), readdirSync(dir).join(', '));
    });

    it('stops at an abort, removing the partial file', async () => {
      const store = new FileStore('file', dir);
      const abort = new AbortController();
      const slow = Readable.from(
        (async function* () {
          yield randomBytes(5 * MiB);
          abort.abort();
          yield randomBytes(MiB);
        })(),
      );
      await assert.rejects(store.add('00000000-0000-4000-8000-0000000abort', slow, { signal: abort.signal }));
      assert.ok(!readdirSync(dir).some((n) => n.includes('abort')));
    });
  });
}
