/**
 * What is inside a guest, found by reading its files, never by running
 * them: the operating system, the way it boots, and what the OpenStack
 * image guide asks of a cloud image (cloud-init, a growing root, sshd,
 * virtio drivers, a serial console, no persistent MAC address, the guest
 * agent). Each check reads a handful of small files.
 */
import type { Disk, Partition } from './disk.js';
import type { GuestTree } from './guest-fs.js';
import { windowsGuest } from './windows.js';

export interface Findings {
  osType: 'linux' | 'windows' | null;
  distro: string | null;
  version: string | null;
  architecture: string | null;
  firmware: 'bios' | 'uefi' | 'bios+uefi' | null;
  bootloader: string | null;
  partitions: string;
  cloudInit: 'enabled' | 'disabled' | 'absent';
  growpart: boolean;
  sshServer: 'enabled' | 'installed' | 'absent';
  /** Kernel versions found (Linux), or null when the image has none. */
  kernel: string | null;
  virtio: string[];
  serialConsole: boolean;
  /** Where a network configuration pins a MAC address, or null. */
  persistentMac: string | null;
  guestAgent: boolean;
}

/** os-release IDs as libosinfo (and the metadefs' os_distro) name them. */
const DISTRO: Record<string, string> = { 'opensuse-leap': 'opensuse', 'opensuse-tumbleweed': 'opensuse', sles: 'sles', almalinux: 'almalinux', ol: 'oraclelinux' };
/** ELF e_machine → Glance's architecture names (64-bit variants where the class says so). */
const ELF_MACHINE: Record<number, [string, string]> = {
  0x03: ['i686', 'i686'], 0x3e: ['x86_64', 'x86_64'], 0x28: ['armv7l', 'armv7l'], 0xb7: ['aarch64', 'aarch64'],
  0xf3: ['riscv32', 'riscv64'], 0x14: ['ppc', 'ppc64'], 0x15: ['ppc64', 'ppc64'], 0x16: ['s390', 's390x'], 0x08: ['mips', 'mips64'],
};

export async function findings(disk: Disk): Promise<Findings> {
  const root = await firstOf(disk.fileSystems, async (fs) => (await fs.exists('usr/lib/os-release')) || fs.exists('etc/os-release'));
  const windows = await firstOf(disk.fileSystems, (fs) => fs.exists('Windows/System32/ntoskrnl.exe'));
  const esp = await firstOf(disk.fileSystems, async (fs) => fs.type === 'FAT' && fs.isDir('EFI'));
  const boot = await firstOf(disk.fileSystems, async (fs) => fs !== root && ((await anyOf(['grub/grub.cfg', 'grub2/grub.cfg'], (p) => fs.exists(p))) || (await fs.list('')).some((n) => n.startsWith('vmlinuz'))));
  const base = { firmware: await firmware(disk, esp), bootloader: await bootloader(disk, esp, root ?? windows, boot), partitions: layout(disk) };
  if (root) return { ...base, ...(await linux(root, boot)) };
  if (windows) return { ...base, ...(await windowsGuest(windows, disk.scratch)) };
  return { ...base, osType: null, distro: null, version: null, architecture: null, cloudInit: 'absent', growpart: false, sshServer: 'absent', kernel: null, virtio: [], serialConsole: false, persistentMac: null, guestAgent: false };
}

/** The first item that passes an (asynchronous) test. */
async function firstOf<T>(items: readonly T[], test: (item: T) => boolean | Promise<boolean>): Promise<T | undefined> {
  for (const item of items) if (await test(item)) return item;
  return undefined;
}

async function anyOf<T>(items: readonly T[], test: (item: T) => boolean | Promise<boolean>): Promise<boolean> {
  return (await firstOf(items, test)) !== undefined;
}

export type OsFindings = Omit<Findings, 'firmware' | 'bootloader' | 'partitions'>;

async function linux(root: GuestTree, boot: GuestTree | undefined): Promise<OsFindings> {
  const release = parseOsRelease((await root.text('etc/os-release')) ?? (await root.text('usr/lib/os-release')) ?? '');
  const id = release.ID?.toLowerCase() ?? null;
  const modules = (await root.list('usr/lib/modules')).length ? 'usr/lib/modules' : 'lib/modules';
  const kernels = await root.list(modules);
  const growroot = ['usr/bin/growpart', 'usr/sbin/growpart', 'usr/share/initramfs-tools/scripts/local-bottom/growroot'];
  return {
    osType: 'linux',
    distro: id ? (DISTRO[id] ?? id) : null,
    version: release.VERSION_ID ?? null,
    architecture: await elfArchitecture(root),
    cloudInit: await cloudInit(root),
    growpart: (await anyOf(growroot, (p) => root.exists(p))) || (await root.list('usr/lib/dracut/modules.d')).some((m) => m.includes('growroot')),
    sshServer: await sshServer(root),
    kernel: kernels.length ? [...kernels].sort().join(', ') : null,
    virtio: await linuxVirtio(root, modules, kernels),
    serialConsole: await serialConsole(root, boot),
    persistentMac: await persistentMac(root),
    guestAgent: await anyOf(['usr/sbin/qemu-ga', 'usr/bin/qemu-ga'], (p) => root.exists(p)),
  };
}

export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) fields[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return fields;
}

/** The machine a core binary is built for, from its ELF header. */
async function elfArchitecture(root: GuestTree): Promise<string | null> {
  for (const candidate of ['usr/bin/sh', 'usr/bin/ls', 'usr/bin/bash', 'bin/sh', 'usr/bin/coreutils']) {
    const head = await root.read(candidate, 64);
    if (!head || head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) continue;
    const little = head[5] === 1;
    const machine = little ? head.readUInt16LE(18) : head.readUInt16BE(18);
    const names = ELF_MACHINE[machine];
    if (!names) return null;
    const name = names[head[4] === 2 ? 1 : 0];
    return name === 'ppc64' && little ? 'ppc64le' : name;
  }
  return null;
}

async function cloudInit(root: GuestTree): Promise<Findings['cloudInit']> {
  const installed = (await anyOf(['usr/bin/cloud-init', 'usr/bin/ignition'], (p) => root.exists(p))) || (await root.isDir('usr/lib/dracut/modules.d/30ignition'));
  if (!installed) return 'absent';
  if (await root.exists('etc/cloud/cloud-init.disabled')) return 'disabled';
  const wants = ['etc/systemd/system/cloud-init.target.wants', 'etc/systemd/system/multi-user.target.wants'];
  const units = (await Promise.all(wants.map((dir) => root.list(dir)))).flat();
  const enabled = units.some((unit) => /^cloud-(init|init-local|config|final)\.service$/.test(unit)) || (await anyOf(['etc/init.d/cloud-init', 'usr/bin/ignition'], (p) => root.exists(p)));
  return enabled ? 'enabled' : 'disabled';
}

async function sshServer(root: GuestTree): Promise<Findings['sshServer']> {
  if (!(await root.exists('usr/sbin/sshd'))) return 'absent';
  const wanted = (await root.list('etc/systemd/system/multi-user.target.wants')).some((u) => /^sshd?\.service$/.test(u));
  const enabled = wanted || (await root.exists('etc/systemd/system/sshd.service')) || (await root.list('etc/rc3.d')).some((s) => /^S\d+sshd?$/.test(s));
  return enabled ? 'enabled' : 'installed';
}

/** virtio block, network and SCSI drivers of the kernels present: built in or modules. */
async function linuxVirtio(root: GuestTree, modules: string, kernels: string[]): Promise<string[]> {
  const found = new Set<string>();
  const drivers: [string, string, string][] = [['blk', 'block', 'virtio_blk'], ['net', 'net', 'virtio_net'], ['scsi', 'scsi', 'virtio_scsi']];
  for (const version of kernels) {
    const builtin = (await root.text(`${modules}/${version}/modules.builtin`)) ?? '';
    for (const [name, dir, module] of drivers) {
      const file = (await root.list(`${modules}/${version}/kernel/drivers/${dir}`)).some((f) => f.startsWith(`${module}.ko`));
      if (file || builtin.includes(`/${module}.ko`)) found.add(name);
    }
  }
  return drivers.map(([name]) => name).filter((n) => found.has(n));
}

const SERIAL = /console=(ttyS|ttyAMA|hvc)\d/;

async function serialConsole(root: GuestTree, boot: GuestTree | undefined): Promise<boolean> {
  const configs: [GuestTree, string][] = [[root, 'etc/default/grub'], [root, 'boot/grub/grub.cfg'], [root, 'boot/grub2/grub.cfg'], [root, 'etc/kernel/cmdline'], [root, 'boot/extlinux/extlinux.conf']];
  for (const f of await root.list('etc/default/grub.d')) configs.push([root, `etc/default/grub.d/${f}`]);
  for (const f of await root.list('boot/loader/entries')) configs.push([root, `boot/loader/entries/${f}`]);
  if (boot) configs.push([boot, 'grub/grub.cfg'], [boot, 'grub2/grub.cfg'], ...(await boot.list('loader/entries')).map((f): [GuestTree, string] => [boot, `loader/entries/${f}`]));
  for (const [fs, file] of configs) if (SERIAL.test((await fs.text(file)) ?? '')) return true;
  return (await root.list('etc/systemd/system/getty.target.wants')).some((u) => /^serial-getty@(ttyS|ttyAMA|hvc)\d\.service$/.test(u));
}

/** Network configuration that binds to one MAC address: a clone of the image gets another and loses its network. */
async function persistentMac(root: GuestTree): Promise<string | null> {
  const patterns: [string, RegExp][] = [
    ['etc/udev/rules.d', /ATTRS?\{address\}==/],
    ['etc/network/interfaces.d', /^\s*hwaddress\s/m],
    ['etc/sysconfig/network-scripts', /^\s*HWADDR=/m],
    ['etc/NetworkManager/system-connections', /^\s*mac-address=/m],
    ['etc/systemd/network', /^\s*MACAddress=/m],
    ['etc/netplan', /^\s*macaddress:/m],
  ];
  if (/^\s*hwaddress\s/m.test((await root.text('etc/network/interfaces')) ?? '')) return '/etc/network/interfaces';
  for (const [dir, pattern] of patterns) {
    for (const name of await root.list(dir)) {
      if (pattern.test((await root.text(`${dir}/${name}`)) ?? '')) return `/${dir}/${name}`;
    }
  }
  return null;
}

/** The loaders on an EFI system partition, as vendor/file in lower case. */
async function efiLoaders(esp: GuestTree | undefined): Promise<string[]> {
  if (!esp) return [];
  const loaders: string[] = [];
  for (const vendor of await esp.list('EFI')) for (const f of await esp.list(`EFI/${vendor}`)) loaders.push(`${vendor}/${f}`.toLowerCase());
  return loaders;
}

/** UEFI when an EFI system partition holds a loader; BIOS when boot code or a BIOS boot partition is there. */
async function firmware(disk: Disk, esp: GuestTree | undefined): Promise<Findings['firmware']> {
  const uefi = (await efiLoaders(esp)).some((f) => f.endsWith('.efi'));
  const bios = hasBootCode(disk.bootCode) || disk.partitions.some((p) => /BIOS Boot/i.test(p.kind));
  return uefi && bios ? 'bios+uefi' : uefi ? 'uefi' : bios ? 'bios' : null;
}

function hasBootCode(code: Buffer | null): boolean {
  return code !== null && code.some((b) => b !== 0);
}

async function bootloader(disk: Disk, esp: GuestTree | undefined, root: GuestTree | undefined, boot: GuestTree | undefined): Promise<string | null> {
  const efi = await efiLoaders(esp);
  const grubConfig = (fs: GuestTree | undefined) => fs !== undefined && anyOf(['boot/grub/grub.cfg', 'boot/grub2/grub.cfg', 'grub/grub.cfg', 'grub2/grub.cfg'], (p) => fs.exists(p));
  if (disk.bootCode?.includes('GRUB') || efi.some((f) => /grub(x64|aa64|ia32)\.efi$/.test(f)) || (await grubConfig(root)) || (await grubConfig(boot))) return 'grub';
  if (efi.some((f) => f.startsWith('systemd/'))) return 'systemd-boot';
  if (efi.some((f) => f === 'microsoft/boot' || f.endsWith('bootmgfw.efi')) || (await anyOf(disk.fileSystems, (fs) => fs.exists('bootmgr')))) return 'windows-boot-manager';
  if (root && (await anyOf(['boot/extlinux/extlinux.conf', 'boot/syslinux/syslinux.cfg'], (p) => root.exists(p)))) return 'syslinux';
  return null;
}

/** "gpt: 1 EFI System 64 MiB fat, 2 BIOS Boot 1 MiB, 3 Linux Data 553 MiB ext" */
function layout(disk: Disk): string {
  const parts = disk.partitions.map((p: Partition) => [p.index + 1, p.kind, mib(p.size), p.fileSystem?.toLowerCase() ?? (p.note ? `(${p.note})` : '')].filter((x) => x !== '').join(' '));
  const whole = !disk.table && disk.fileSystems.length ? `a ${disk.fileSystems[0].type.toLowerCase()} file system, no partition table` : 'no partition table';
  return disk.table ? `${disk.table.toLowerCase()}: ${parts.join(', ') || 'no partitions'}` : whole;
}

const mib = (size: number | null) => (size === null ? '' : `${Math.round(size / 1024 / 1024)} MiB`);
