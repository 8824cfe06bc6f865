/**
 * Reading a Windows guest's release: the registry hive reader on a SOFTWARE
 * hive whose keys Debian's hivex wrote (taken out of the Windows-shaped test
 * guest), on hives damaged every way a hostile image could damage them, and
 * the release names Glance's os_version gets from the registry's values.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Hive, type RegistryValue } from '../../src/insight/registry.js';
import { windowsRelease } from '../../src/insight/windows.js';
import { guestsDir, guestsSkip } from '../helpers/guests.js';

const CURRENT_VERSION = ['Microsoft', 'Windows NT', 'CurrentVersion'];

describe('Windows releases from the registry', () => {
  const release = (values: Record<string, RegistryValue>) => windowsRelease(new Map(Object.entries(values)));

  it('names server releases by year, R2 included', () => {
    assert.equal(release({ productname: 'Windows Server 2022 Datacenter', currentmajorversionnumber: 10, currentbuildnumber: '20348' }), '2022');
    assert.equal(release({ productname: 'Windows Server 2025 Standard', currentmajorversionnumber: 10, currentbuildnumber: '26100' }), '2025');
    assert.equal(release({ productname: 'Windows Server 2012 R2 Standard', currentversion: '6.3' }), '2012 R2');
  });

  it('names Windows 11 by its build, since its ProductName still says Windows 10', () => {
    assert.equal(release({ productname: 'Windows 10 Pro', currentmajorversionnumber: 10, currentbuildnumber: '22631' }), '11');
    assert.equal(release({ productname: 'Windows 10 Enterprise', currentmajorversionnumber: 10, currentbuildnumber: '19045' }), '10');
    assert.equal(release({ productname: 'Windows 7 Professional', currentversion: '6.1', currentbuild: '7601' }), '7');
  });

  it('falls back to the kernel version, and to nothing', () => {
    assert.equal(release({ productname: 'Hyper-V Server', currentmajorversionnumber: 10, currentminorversionnumber: 0 }), '10.0');
    assert.equal(release({ currentversion: '6.3' }), '6.3');
    assert.equal(release({ currentversion: 'six' }), null);
    assert.equal(release({}), null);
  });
});

describe('registry hive reader', { skip: guestsSkip() }, () => {
  let dir: string;
  let pristine: Buffer;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'glimpse-hive-'));
    pristine = execFileSync('7zz', ['e', '-so', path.join(guestsDir(), 'windows.qcow2'), 'Windows/System32/config/SOFTWARE'], { maxBuffer: 64 * 1024 * 1024 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  /** The values of HKLM\SOFTWARE\…\CurrentVersion in `bytes`, read as a hive file. */
  async function currentVersion(bytes: Buffer, key = CURRENT_VERSION): Promise<Map<string, RegistryValue> | null> {
    const file = path.join(dir, `hive-${n++}`);
    writeFileSync(file, bytes);
    const handle = await open(file, 'r');
    try {
      const hive = await Hive.open(handle);
      return hive && (await hive.values(key));
    } finally {
      await handle.close();
    }
  }

  it('reads the strings and DWORDs hivex wrote, by any case of key and value name', async () => {
    const values = await currentVersion(pristine, ['microsoft', 'WINDOWS NT', 'currentversion']);
    assert.equal(values?.get('productname'), 'Windows Server 2022 Datacenter');
    assert.equal(values?.get('currentmajorversionnumber'), 10);
    assert.equal(values?.get('currentbuildnumber'), '20348');
    assert.equal(values?.get('systemroot'), 'C:\\Windows', 'REG_EXPAND_SZ');
    assert.equal((await currentVersion(pristine, ['Microsoft', 'Windows NT', 'Component40']))?.get('installed'), 1, 'a key past the first of 40 siblings');
    assert.equal(await currentVersion(pristine, ['Microsoft', 'Windows NT', 'NoSuchKey']), null);
    assert.equal(await currentVersion(Buffer.from('not a hive at all')), null);
  });

  it('survives damage: truncation, and random bytes over the cells, without an error or a hang', async () => {
    for (const cut of [4096, 4100, pristine.length / 2, pristine.length - 1]) await currentVersion(pristine.subarray(0, cut));
    let seed = 7;
    const random = (below: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % below);
    for (let round = 0; round < 300; round++) {
      const damaged = Buffer.from(pristine);
      for (let i = 0; i < 1 + random(16); i++) {
        const at = 4096 + random(damaged.length - 4100);
        if (random(2)) damaged.writeUInt32LE(random(2) ? 0xffffffff - random(64) : random(damaged.length), at);
        else damaged[at] = random(256);
      }
      const values = await currentVersion(damaged);
      assert.ok(values === null || values instanceof Map);
    }
  });

  it('stops at a subkey list that refers to itself', async () => {
    const damaged = Buffer.from(pristine);
    const root = damaged.readUInt32LE(36);
    const list = damaged.readUInt32LE(4096 + root + 4 + 28); // the root key's subkey list
    damaged.write('ri', 4096 + list + 4, 'latin1');
    damaged.writeUInt16LE(2, 4096 + list + 6);
    damaged.writeUInt32LE(list, 4096 + list + 8);
    damaged.writeUInt32LE(list, 4096 + list + 12);
    assert.equal(await currentVersion(damaged), null);
  });
});
