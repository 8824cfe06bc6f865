/**
 * The guest readers on their own, on debootstrap guests: 7zz cannot read
 * XFS (RHEL-family images), and says so; with the libguestfs fallback on,
 * the same disk is read through libguestfs's appliance and the same checks
 * find the same Debian. Run once (no database is involved).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GuestfishTree } from '../../src/insight/guestfish.js';
import { type DiskLimits, inspectDisk } from '../../src/insight/inspect.js';
import { guestsDir, guestsSkip } from '../helpers/guests.js';

const LIMITS: DiskLimits = { timeoutSeconds: 120, memoryBytes: 2 ** 30, maxPartitionBytes: 64 * 2 ** 30, maxEntries: 2_000_000, libguestfsSeconds: null };

describe('guest readers on an XFS guest', { skip: guestsSkip() }, () => {
  let guests: string;
  let scratch: string;
  before(() => {
    guests = guestsDir();
    scratch = mkdtempSync(path.join(tmpdir(), 'glimpse-readers-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('7zz alone finds no file system it reads, and names the partition', async () => {
    const found = await inspectDisk(path.join(guests, 'debian12-xfs.qcow2'), LIMITS, scratch);
    assert.equal(found.status, 'unreadable');
    assert.match(found.partitions ?? '', /^gpt: 1 Linux Data \d+ MiB \(no file system 7zz reads/);
  });

  it('libguestfs reads it instead when the fallback is on: Debian 12, the MAC rule, and the partition named', async () => {
    const found = await inspectDisk(path.join(guests, 'debian12-xfs.qcow2'), { ...LIMITS, libguestfsSeconds: 900 }, scratch);
    assert.deepEqual([found.status, found.os_distro, found.os_version, found.architecture], ['inspected', 'debian', '12', 'x86_64']);
    assert.equal(found.persistent_mac, '/etc/udev/rules.d/70-persistent-net.rules');
    assert.equal(found.cloud_init, 'absent');
    assert.match(found.partitions ?? '', /^gpt: 1 Linux Data \d+ MiB xfs \(read by libguestfs\)$/);
    assert.deepEqual(readdirSync(scratch), [], 'nothing left in scratch');
  });

  it('copies a file out of the guest through libguestfs, within a size limit', async () => {
    const tree = await GuestfishTree.open(path.join(guests, 'debian12-xfs.qcow2'), 'QCOW', 900);
    try {
      const target = path.join(scratch, 'os-release');
      assert.equal(await tree.copy('etc/os-release', target, 1024 * 1024), true);
      assert.match(readFileSync(target, 'utf8'), /^ID=debian$/m);
      rmSync(target);
      assert.equal(await tree.copy('etc/os-release', target, 10), false, 'larger than allowed');
      assert.equal(await tree.copy('etc', target, 1024 * 1024), false, 'a directory');
      assert.equal(await tree.copy('etc/no-such-file', target, 1024 * 1024), false);
      assert.ok(!existsSync(target));
    } finally {
      await tree.close();
    }
  });
});
