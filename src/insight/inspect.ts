/**
 * One guest inspection: a disk image file in, its findings out, as the
 * properties Glimpse stores them under (domain/insight.ts).
 */
import type { StoredInsight } from '../domain/insight.js';
import { type DiskLimits, openDisk } from './disk.js';
import { type Findings, findings } from './findings.js';

export type { DiskLimits } from './disk.js';
export { Unreadable, sevenZipPath } from './seven-zip.js';

/** Reads `file` (copying partitions out under `scratch`) and returns what it found. */
export async function inspectDisk(file: string, limits: DiskLimits, scratch: string, now = new Date()): Promise<StoredInsight> {
  return openDisk(file, limits, scratch, async (disk) => {
    const found = stored(await findings(disk));
    const inspected_at = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (disk.fileSystems.length) return { status: 'inspected', inspected_at, ...found };
    // Nothing was read: only what the disk itself shows, not "absent" for what could not be looked for.
    const { partitions, firmware, bootloader } = found;
    return { status: 'unreadable', inspected_at, partitions, ...(firmware ? { firmware } : {}), ...(bootloader ? { bootloader } : {}) };
  });
}

function stored(f: Findings): StoredInsight {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const optional = (key: keyof StoredInsight, v: string | null): StoredInsight => (v === null ? {} : { [key]: v });
  return {
    ...optional('os_type', f.osType),
    ...optional('os_distro', f.distro),
    ...optional('os_version', f.version),
    ...optional('architecture', f.architecture),
    ...optional('firmware', f.firmware),
    ...optional('bootloader', f.bootloader),
    partitions: f.partitions.slice(0, 255),
    cloud_init: f.cloudInit,
    growpart: yes(f.growpart),
    ssh_server: f.sshServer,
    ...optional('kernel', f.kernel?.slice(0, 255) ?? null),
    virtio: f.virtio.join(',') || 'none',
    serial_console: yes(f.serialConsole),
    persistent_mac: f.persistentMac ?? 'none',
    guest_agent: yes(f.guestAgent),
  };
}
