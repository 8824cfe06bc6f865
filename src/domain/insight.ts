/**
 * Image insight as data: the findings of a guest inspection kept as image
 * properties under Glimpse's own prefix (glance-api beside Glimpse sees
 * ordinary properties), the readiness report the OpenStack image guide
 * implies, and the Glance properties the findings suggest.
 */

export const INSIGHT_PREFIX = 'glimpse_insight_';

/** The findings, as stored: each one property, a short string. */
export const INSIGHT_FIELDS = [
  'status', 'inspected_at', 'os_type', 'os_distro', 'os_version', 'architecture', 'firmware', 'bootloader', 'partitions',
  'cloud_init', 'growpart', 'ssh_server', 'kernel', 'virtio', 'serial_console', 'persistent_mac', 'guest_agent',
] as const;
export type InsightField = (typeof INSIGHT_FIELDS)[number];
export type StoredInsight = Partial<Record<InsightField, string>>;

export function storedInsight(properties: Record<string, string>): StoredInsight {
  const stored: StoredInsight = {};
  for (const field of INSIGHT_FIELDS) {
    const value = properties[INSIGHT_PREFIX + field];
    if (value !== undefined) stored[field] = value;
  }
  return stored;
}

export type Verdict = 'pass' | 'warn' | 'fail';

export interface Check {
  id: string;
  title: string;
  result: Verdict;
  explanation: string;
  fix: string | null;
}

export interface Suggestion {
  name: string;
  value: string;
  /** The metadefs namespace that defines it (and its property name there). */
  namespace: string;
  current: string | null;
}

/** GET /v2/glimpse/images/{id}/insight. */
export interface InsightReport {
  image_id: string;
  status: string;
  /** Why an image is not inspected (not_inspectable), in words. */
  reason: string | null;
  inspected_at: string | null;
  findings: StoredInsight;
  checks: Check[];
  summary: Record<'pass' | 'warn' | 'fail', number>;
  suggested_properties: Suggestion[];
  task: { id: string; status: string; message: string } | null;
}

/** The readiness checks of the image guide, from stored findings. */
export function readiness(f: StoredInsight): Check[] {
  const windows = f.os_type === 'windows';
  const check = (id: string, title: string, result: Verdict, explanation: string, fix: string | null = null): Check => ({ id, title, result, explanation, fix: result === 'pass' ? null : fix });
  if (f.status === 'unreadable') {
    const fix = 'Check that this is the disk you meant to upload, and that its root file system is ext2/3/4, FAT or NTFS (XFS and btrfs cannot be read here).';
    return [check('operating_system', 'Operating system', 'fail', `No file system could be read (${f.partitions ?? 'no partition table'}).`, fix)];
  }
  if (f.status !== 'inspected') return [];
  return [
    f.os_distro
      ? check('operating_system', 'Operating system', 'pass', `${f.os_distro}${f.os_version ? ` ${f.os_version}` : ''} (${f.os_type}, ${f.architecture ?? 'unknown architecture'})`)
      : check('operating_system', 'Operating system', 'fail', 'No operating system was found on any file system of the disk.', 'Check that this is the disk you meant to upload, and that its root file system is ext2/3/4, FAT or NTFS (XFS and btrfs cannot be read here).'),
    f.bootloader
      ? check('bootloader', 'Bootloader', 'pass', `${f.bootloader}, booting with ${f.firmware ?? 'unknown'} firmware`)
      : check('bootloader', 'Bootloader', 'fail', 'No bootloader was found: the disk cannot boot on its own.', 'Install GRUB (grub-install) for BIOS or an EFI loader on an EFI system partition, or boot it with kernel_id and ramdisk_id.'),
    cloudInitCheck(f, windows, check),
    f.growpart === 'yes'
      ? check('growpart', 'Root grows to the flavor disk', 'pass', windows ? 'cloudbase-init extends the volume on first boot.' : 'growpart (cloud-guest-utils) or growroot is installed.')
      : check('growpart', 'Root grows to the flavor disk', 'warn', 'Nothing grows the root partition on first boot: instances keep the image\'s disk size whatever the flavor.', windows ? 'Install cloudbase-init with its extend-volumes plugin.' : 'Install cloud-guest-utils (growpart) or cloud-initramfs-growroot.'),
    f.persistent_mac && f.persistent_mac !== 'none'
      ? check('persistent_mac', 'No hard-coded MAC address', 'fail', `${f.persistent_mac} binds the network to one MAC address: every instance gets another and loses its network.`, `Remove the MAC address from ${f.persistent_mac} before taking the image.`)
      : check('persistent_mac', 'No hard-coded MAC address', 'pass', 'No network configuration names a MAC address.'),
    sshCheck(f, windows, check),
    virtioCheck(f, windows, check),
    f.serial_console === 'yes'
      ? check('serial_console', 'Serial console', 'pass', 'The kernel command line or a getty uses a serial console: `openstack console log show` works.')
      : check('serial_console', 'Serial console', 'warn', windows ? 'A Windows serial console (EMS) cannot be seen from the disk.' : 'No serial console is configured: the console log stays empty.', windows ? 'Enable EMS with bcdedit /ems on.' : 'Add console=ttyS0,115200 (ttyAMA0 on Arm) to GRUB_CMDLINE_LINUX and regenerate grub.cfg.'),
    f.guest_agent === 'yes'
      ? check('guest_agent', 'QEMU guest agent', 'pass', 'qemu-guest-agent is installed: Nova can quiesce file systems for snapshots.')
      : check('guest_agent', 'QEMU guest agent', 'warn', 'No qemu-guest-agent: snapshots are taken without quiescing the file systems.', windows ? 'Install the QEMU guest agent from the virtio-win ISO.' : 'Install qemu-guest-agent, and set hw_qemu_guest_agent=yes.'),
  ];
}

type CheckOf = (id: string, title: string, result: Verdict, explanation: string, fix?: string | null) => Check;

function cloudInitCheck(f: StoredInsight, windows: boolean, check: CheckOf): Check {
  const title = 'cloud-init or an equivalent';
  const tool = windows ? 'cloudbase-init' : 'cloud-init';
  if (f.cloud_init === 'enabled') return check('cloud_init', title, 'pass', `${tool} runs at boot: user data and SSH keys from the metadata service are applied.`);
  if (f.cloud_init === 'disabled') return check('cloud_init', title, 'fail', `${tool} is installed but disabled: user data and SSH keys are ignored.`, 'Remove /etc/cloud/cloud-init.disabled and enable cloud-init.service (systemctl enable cloud-init).');
  return check('cloud_init', title, 'fail', `No ${tool}: instances ignore user data and never get their SSH keys.`, windows ? 'Install cloudbase-init.' : 'Install cloud-init (apt install cloud-init, dnf install cloud-init).');
}

function sshCheck(f: StoredInsight, windows: boolean, check: CheckOf): Check {
  const title = 'SSH server';
  if (f.ssh_server === 'enabled') return check('ssh_server', title, 'pass', 'An SSH server starts at boot.');
  if (windows) return check('ssh_server', title, 'warn', f.ssh_server === 'installed' ? 'OpenSSH is installed; whether it starts cannot be seen from the disk.' : 'No SSH server: reach instances by RDP.', 'Enable the OpenSSH Server capability if users expect SSH.');
  if (f.ssh_server === 'installed') return check('ssh_server', title, 'warn', 'sshd is installed but not enabled at boot.', 'Enable it: systemctl enable ssh (sshd on RHEL-family).');
  return check('ssh_server', title, 'fail', 'No SSH server: nobody can log in to an instance.', 'Install openssh-server.');
}

function virtioCheck(f: StoredInsight, windows: boolean, check: CheckOf): Check {
  const title = 'virtio drivers';
  const found = f.virtio && f.virtio !== 'none' ? f.virtio.split(',') : [];
  const fix = windows ? 'Install viostor and netkvm from the virtio-win ISO.' : 'Use a kernel built with virtio_blk and virtio_net (every distribution kernel is).';
  if (!windows && !f.kernel) return check('virtio', title, 'warn', 'The image holds no kernel: the drivers depend on the kernel it is booted with.', 'Install a kernel (linux-image-cloud-amd64, kernel-core) unless you boot it with kernel_id.');
  if (found.includes('blk') && found.includes('net')) return check('virtio', title, 'pass', `virtio ${found.join(', ')} drivers are present.`);
  if (found.length) return check('virtio', title, 'warn', `Only virtio ${found.join(', ')} found: without virtio_blk and virtio_net the instance falls back to emulated devices.`, fix);
  return check('virtio', title, 'fail', 'No virtio drivers: the instance cannot see a virtio disk or network.', fix);
}

/** The Glance properties the findings imply (metadefs names), for those the image does not carry yet. */
export function suggestions(f: StoredInsight, properties: Record<string, string>): Suggestion[] {
  const virtio = f.virtio && f.virtio !== 'none' ? f.virtio.split(',') : [];
  const wanted: [string, string | undefined, string][] = [
    ['os_type', f.os_type, 'OS::Glance::CommonImageProperties'],
    ['os_distro', f.os_distro, 'OS::Glance::CommonImageProperties'],
    ['os_version', f.os_version, 'OS::Glance::CommonImageProperties'],
    ['architecture', f.architecture, 'OS::Glance::CommonImageProperties'],
    // A disk that boots both ways needs nothing: Nova's default, BIOS, works.
    ['hw_firmware_type', f.firmware === 'uefi' || f.firmware === 'bios' ? f.firmware : undefined, 'OS::Compute::LibvirtImage (firmware_type)'],
    ['hw_qemu_guest_agent', f.guest_agent === 'yes' ? 'yes' : undefined, 'OS::Compute::LibvirtImage (qemu_guest_agent)'],
    ['hw_disk_bus', virtio.includes('blk') ? 'virtio' : undefined, 'OS::Compute::LibvirtImage (disk_bus)'],
    ['hw_vif_model', virtio.includes('net') ? 'virtio' : undefined, 'OS::Compute::LibvirtImage (vif_model)'],
  ];
  return wanted.flatMap(([name, value, namespace]) => (value && properties[name] !== value ? [{ name, value, namespace, current: properties[name] ?? null }] : []));
}
