/** Small disk images built by hand, for suites that must not depend on qemu-img. */

/** A qcow2 v2 header naming /etc/passwd as its backing file: what every write path must refuse. */
export function hostileQcow2(): Buffer {
  const b = Buffer.alloc(1024);
  b.write('QFI\xfb', 0, 'latin1');
  b.writeUInt32BE(2, 4);
  b.writeBigUInt64BE(512n, 8);
  b.writeUInt32BE(11, 16);
  b.writeUInt32BE(16, 20);
  b.writeBigUInt64BE(1048576n, 24);
  b.write('/etc/passwd', 512, 'latin1');
  return b;
}
