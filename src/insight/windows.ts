/**
 * A Windows guest, read from its files and its SOFTWARE registry hive: the
 * release (10, 11, 2019, 2022 …), the architecture of its kernel, and what
 * the image guide asks of a cloud image there (cloudbase-init, OpenSSH, the
 * virtio-win drivers, the QEMU guest agent).
 */
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { OsFindings } from './findings.js';
import type { GuestTree } from './guest-fs.js';
import { Hive, type RegistryValue } from './registry.js';

const PE_MACHINE: Record<number, string> = { 0x8664: 'x86_64', 0xaa64: 'aarch64', 0x14c: 'i686' };
/** The largest SOFTWARE hive copied out to be read: a Windows Server 2022 install's is about 80 MiB. */
const MAX_HIVE_BYTES = 512 * 1024 * 1024;
/** Windows 11 still calls itself "Windows 10" in ProductName; its builds start here. */
const FIRST_WINDOWS_11_BUILD = 22000;

export async function windowsGuest(win: GuestTree, scratch: string): Promise<OsFindings> {
  const drivers = [['blk', 'viostor.sys'], ['net', 'netkvm.sys'], ['scsi', 'vioscsi.sys']];
  const virtio: string[] = [];
  for (const [name, file] of drivers) if (await win.exists(`Windows/System32/drivers/${file}`)) virtio.push(name);
  const cloudbase = await win.isDir('Program Files/Cloudbase Solutions/Cloudbase-Init');
  const ssh = (await win.exists('Windows/System32/OpenSSH/sshd.exe')) || (await win.exists('Program Files/OpenSSH/sshd.exe'));
  const current = await currentVersion(win, scratch);
  return {
    osType: 'windows',
    distro: 'windows',
    version: current ? windowsRelease(current) : null,
    architecture: await peArchitecture(win),
    cloudInit: cloudbase ? 'enabled' : 'absent',
    growpart: cloudbase, // cloudbase-init's extend-volumes plugin
    sshServer: ssh ? 'installed' : 'absent',
    kernel: null,
    virtio,
    serialConsole: false,
    persistentMac: null,
    guestAgent: await win.exists('Program Files/Qemu-ga/qemu-ga.exe'),
  };
}

/**
 * The os_version Glance's metadefs and operators use for Windows: the
 * release in the product name (2022, 2012 R2, 10, 11, XP), else the
 * kernel's major.minor.
 */
export function windowsRelease(values: Map<string, RegistryValue>): string | null {
  const product = String(values.get('productname') ?? '');
  const server = /\bServer (\d{4}(?: R2)?)\b/.exec(product);
  if (server) return server[1];
  const major = values.get('currentmajorversionnumber');
  const build = Number(values.get('currentbuildnumber') ?? values.get('currentbuild'));
  if (major === 10 && build >= FIRST_WINDOWS_11_BUILD && !/Server/.test(product)) return '11';
  const client = /^Windows (\d+(?:\.\d+)?|XP|Vista)\b/.exec(product);
  if (client) return client[1];
  if (typeof major === 'number') return `${major}.${Number(values.get('currentminorversionnumber') ?? 0)}`;
  const legacy = values.get('currentversion');
  return typeof legacy === 'string' && /^\d+\.\d+$/.test(legacy) ? legacy : null;
}

/** HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion, read from a copy of the hive in `scratch`. */
async function currentVersion(win: GuestTree, scratch: string): Promise<Map<string, RegistryValue> | null> {
  const copy = path.join(scratch, 'SOFTWARE');
  if (!(await win.copy('Windows/System32/config/SOFTWARE', copy, MAX_HIVE_BYTES))) return null;
  const file = await open(copy, 'r');
  try {
    const hive = await Hive.open(file);
    return (await hive?.values(['Microsoft', 'Windows NT', 'CurrentVersion'])) ?? null;
  } finally {
    await file.close();
    await rm(copy, { force: true });
  }
}

async function peArchitecture(win: GuestTree): Promise<string | null> {
  const head = await win.read('Windows/System32/ntoskrnl.exe', 4096);
  if (!head || head.length < 64 || head.toString('latin1', 0, 2) !== 'MZ') return null;
  const pe = head.readUInt32LE(60);
  if (pe + 6 > head.length || head.toString('latin1', pe, pe + 4) !== 'PE\0\0') return null;
  return PE_MACHINE[head.readUInt16LE(pe + 4)] ?? null;
}
