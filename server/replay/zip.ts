/**
 * A minimal zip writer: deflated entries, UTF-8 names, no zip64 (an
 * interview's files are at most LIMITS.docChars characters in all, far under
 * 4 GiB). No zip library is installed and node:zlib gives deflate and crc32,
 * which is all a zip needs; a tarball would open less easily for a panel on Windows.
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

/** MS-DOS date and time, the only timestamps plain zip knows. */
function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.max(1980, date.getUTCFullYear());
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

export function zip(entries: readonly ZipEntry[], modified = new Date()): Buffer {
  const { time, date } = dosDateTime(modified);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const data = deflateRawSync(entry.data);
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    // extra, comment, disk, internal and external attributes: 0
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

/**
 * File paths come from clients' Yjs maps: keep them inside the archive (no
 * absolute paths, no `..`, no empty segments), and make every file come out
 * of it on any desktop: names unique whatever their case (`Solution.py` and
 * `solution.py` are one file on Windows' and macOS's file systems), no file
 * where another entry needs a folder (`lib` and `lib/util.py`), and none of
 * the names Windows refuses: its characters (as `_`), its device names
 * (`CON`, `aux.py`: `_` before them) and a trailing dot or space (as `_`).
 * A name taken gets `~2` (`~3`, ...) before its extension.
 */
export function safeEntryNames(paths: readonly string[]): string[] {
  const cleaned = paths.map((path, i) => {
    const segments = path.split(/[\\/]+/).filter((s) => s !== '' && s !== '.' && s !== '..');
    return segments.map(windowsSafeSegment).join('/') || `file-${i + 1}`;
  });
  const folders = new Set<string>();
  for (const name of cleaned) {
    for (let at = name.indexOf('/'); at !== -1; at = name.indexOf('/', at + 1)) folders.add(name.slice(0, at).toLowerCase());
  }
  const used = new Set<string>();
  const taken = (name: string) => used.has(name.toLowerCase()) || folders.has(name.toLowerCase());
  return cleaned.map((base) => {
    let name = base;
    for (let n = 2; taken(name); n++) name = withSuffix(base, n);
    used.add(name.toLowerCase());
    return name;
  });
}

/** Windows opens a device for these, whatever the extension. */
const DEVICE_NAME = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)/i;

function windowsSafeSegment(segment: string): string {
  const named = segment.replace(/[\u0000-\u001f<>:"|?*]/g, '_').replace(/[. ]$/, '_');
  return DEVICE_NAME.test(named) ? `_${named}` : named;
}

function withSuffix(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  return dot > name.lastIndexOf('/') + 1 ? `${name.slice(0, dot)}~${n}${name.slice(dot)}` : `${name}~${n}`;
}
