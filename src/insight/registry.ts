/**
 * A reader of Windows registry hive files (regf), as much as finding a
 * Windows guest's version takes: look a key up by its path, and read its
 * string and DWORD values. The hive is read in place, cell by cell, so a
 * SOFTWARE hive of a hundred MiB costs a few reads, not its size in memory.
 *
 * A hive comes from an untrusted image: every offset is checked against the
 * file, every count and size against a bound, and subkey lists nest at most
 * two deep (the format's ri → lf/lh/li). Anything inconsistent reads as
 * "not there", never as an error that stops the inspection.
 */
import type { FileHandle } from 'node:fs/promises';

/** Where the cells start: after the 4 KiB base block. */
const BINS = 4096;
/** The largest cell read; key, value and list cells are far smaller (a list of 65535 entries is 512 KiB). */
const MAX_CELL = 1024 * 1024;
const NONE = 0xffffffff;
const REG_SZ = 1;
const REG_EXPAND_SZ = 2;
const REG_DWORD = 4;
/** Key and value names stored as Latin-1 rather than UTF-16LE. */
const COMPRESSED_NAME = { key: 0x20, value: 0x01 };

export type RegistryValue = string | number;

export class Hive {
  private constructor(
    private readonly file: FileHandle,
    private readonly size: number,
    private readonly root: number,
  ) {}

  /** The hive in `file`, or null when it is not one. */
  static async open(file: FileHandle): Promise<Hive | null> {
    const { size } = await file.stat();
    const base = Buffer.alloc(48);
    if (size < BINS + 32 || (await file.read(base, 0, 48, 0)).bytesRead < 48) return null;
    if (base.toString('latin1', 0, 4) !== 'regf' || base.readUInt32LE(20) !== 1) return null;
    return new Hive(file, size, base.readUInt32LE(36));
  }

  /** The string and DWORD values of the key at `path`, by lower-case name (the registry ignores case), or null when there is no such key. */
  async values(path: string[]): Promise<Map<string, RegistryValue> | null> {
    let key = await this.key(this.root);
    for (const part of path) key = key && (await this.child(key, part.toLowerCase()));
    if (!key) return null;
    const found = new Map<string, RegistryValue>();
    const count = key.readUInt32LE(36);
    const list = count > 0 && count < MAX_CELL / 4 ? await this.cell(key.readUInt32LE(40)) : null;
    for (let i = 0; list && i < count && (i + 1) * 4 <= list.length; i++) {
      const value = await this.value(list.readUInt32LE(i * 4));
      if (value) found.set(value.name.toLowerCase(), value.data);
    }
    return found;
  }

  /** A key (nk) cell. */
  private async key(offset: number): Promise<Buffer | null> {
    const cell = await this.cell(offset);
    return cell && cell.length >= 76 && cell.toString('latin1', 0, 2) === 'nk' ? cell : null;
  }

  private async child(key: Buffer, lowerName: string): Promise<Buffer | null> {
    if (key.readUInt32LE(20) === 0) return null;
    for (const offset of await this.subkeys(key.readUInt32LE(28), 0)) {
      const sub = await this.key(offset);
      if (sub && name(sub, 76, sub.readUInt16LE(72), sub.readUInt16LE(2) & COMPRESSED_NAME.key).toLowerCase() === lowerName) return sub;
    }
    return null;
  }

  /** The key offsets of a subkey list: lf and lh (offset, hash), li (offset), ri (lists of lists). */
  private async subkeys(offset: number, depth: number): Promise<number[]> {
    const list = await this.cell(offset);
    if (!list || list.length < 4) return [];
    const kind = list.toString('latin1', 0, 2);
    const count = list.readUInt16LE(2);
    const stride = kind === 'lf' || kind === 'lh' ? 8 : kind === 'li' || kind === 'ri' ? 4 : 0;
    if (!stride || 4 + count * stride > list.length) return [];
    const offsets = Array.from({ length: count }, (_, i) => list.readUInt32LE(4 + i * stride));
    if (kind !== 'ri') return offsets;
    if (depth > 0) return [];
    const nested: number[] = [];
    for (const inner of offsets) nested.push(...(await this.subkeys(inner, depth + 1)));
    return nested;
  }

  /** A value (vk) cell's name and data, when it is a string or a DWORD. */
  private async value(offset: number): Promise<{ name: string; data: RegistryValue } | null> {
    const vk = await this.cell(offset);
    if (!vk || vk.length < 20 || vk.toString('latin1', 0, 2) !== 'vk') return null;
    const valueName = name(vk, 20, vk.readUInt16LE(2), vk.readUInt16LE(16) & COMPRESSED_NAME.value);
    const type = vk.readUInt32LE(12);
    const length = vk.readUInt32LE(4);
    const inline = (length & 0x80000000) !== 0;
    const size = length & 0x7fffffff;
    const data = inline ? vk.subarray(8, 8 + Math.min(size, 4)) : await this.cell(vk.readUInt32LE(8));
    if (!data || data.length < size) return null;
    if (type === REG_DWORD && size === 4) return { name: valueName, data: data.readUInt32LE(0) };
    if (type !== REG_SZ && type !== REG_EXPAND_SZ) return null;
    const text = data.subarray(0, size - (size % 2)).toString('utf16le');
    const end = text.indexOf('\0');
    return { name: valueName, data: end < 0 ? text : text.slice(0, end) };
  }

  /** The data of the cell at `offset` (from the first bin), or null when it is not an allocated cell inside the file. */
  private async cell(offset: number): Promise<Buffer | null> {
    if (offset === NONE || offset % 8 !== 0) return null;
    const at = BINS + offset;
    if (at + 4 > this.size) return null;
    const head = Buffer.alloc(4);
    await this.file.read(head, 0, 4, at);
    const allocated = -head.readInt32LE(0); // in use: the size is stored negative
    if (allocated < 8 || allocated > MAX_CELL || at + allocated > this.size) return null;
    const data = Buffer.alloc(allocated - 4);
    const { bytesRead } = await this.file.read(data, 0, data.length, at + 4);
    return bytesRead === data.length ? data : null;
  }
}

function name(cell: Buffer, at: number, length: number, compressed: number): string {
  const bytes = cell.subarray(at, at + length);
  return compressed ? bytes.toString('latin1') : bytes.toString('utf16le');
}
