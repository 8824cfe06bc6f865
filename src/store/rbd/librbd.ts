/**
 * librados and librbd, Ceph's own client libraries, called through koffi (a
 * maintained FFI with prebuilt binaries: nothing to compile at install time,
 * and the libraries are loaded only when an rbd store is configured).
 *
 * librbd's calls block on the network, so every call that may wait on the
 * cluster runs on libuv's thread pool (koffi's async calls), never on the
 * event loop; several of them may be in flight on one image at once (librbd
 * handles are thread-safe), which is how a write keeps the OSDs busy while
 * the next chunk arrives. Only calls that stay in the client (config reads,
 * the fsid, handle releases) run inline.
 */
import koffi from 'koffi';

/** A negative errno from librados/librbd, with the operation that returned it. */
export class RbdError extends Error {
  constructor(
    readonly operation: string,
    readonly errno: number,
  ) {
    super(`${operation} failed: ${ERRNO_NAMES[errno] ?? `errno ${errno}`}`);
    this.name = 'RbdError';
  }
}

export const ENOENT = 2;
export const EEXIST = 17;
export const EBUSY = 16;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ENOTEMPTY = 39;
const ERANGE = 34;
const ERRNO_NAMES: Record<number, string> = {
  [ENOENT]: 'no such image (ENOENT)',
  [EEXIST]: 'already exists (EEXIST)',
  [EBUSY]: 'in use (EBUSY)',
  [EINVAL]: 'invalid argument (EINVAL)',
  [ENOSPC]: 'no space left (ENOSPC)',
  [ENOTEMPTY]: 'has snapshots (ENOTEMPTY)',
  110: 'timed out (ETIMEDOUT)',
  1: 'not permitted (EPERM)',
  13: 'permission denied (EACCES)',
};

type Handle = unknown;
type NativeFn = koffi.KoffiFunction;

interface Natives {
  radosCreate: NativeFn;
  confReadFile: NativeFn;
  confParseEnv: NativeFn;
  confSet: NativeFn;
  confGet: NativeFn;
  connect: NativeFn;
  shutdown: NativeFn;
  fsid: NativeFn;
  ioctxCreate: NativeFn;
  ioctxDestroy: NativeFn;
  optionsCreate: NativeFn;
  optionsSetUint64: NativeFn;
  optionsDestroy: NativeFn;
  create4: NativeFn;
  open: NativeFn;
  openReadOnly: NativeFn;
  close: NativeFn;
  remove: NativeFn;
  list: NativeFn;
  write: NativeFn;
  read: NativeFn;
  resize: NativeFn;
  getSize: NativeFn;
  snapCreate: NativeFn;
  snapProtect: NativeFn;
  snapUnprotect: NativeFn;
  snapRemove: NativeFn;
  snapExists: NativeFn;
  watchersList: NativeFn;
  listChildren: NativeFn;
  snapGetId: NativeFn;
  snapGetTimestamp: NativeFn;
}

let natives: Natives | null = null;

/** Loads the libraries once; a clear error where they are not installed (Debian: librbd1). */
function load(): Natives {
  if (natives) return natives;
  let rados: koffi.IKoffiLib;
  let rbd: koffi.IKoffiLib;
  try {
    rados = koffi.load('librados.so.2');
    rbd = koffi.load('librbd.so.1');
  } catch (err) {
    throw new Error(`the rbd store needs Ceph's client libraries (librados.so.2, librbd.so.1; Debian: librbd1): ${(err as Error).message}`);
  }
  koffi.struct('Timespec', { tv_sec: 'int64_t', tv_nsec: 'long' });
  natives = {
    radosCreate: rados.func('int rados_create(_Out_ void **cluster, const char *id)'),
    confReadFile: rados.func('int rados_conf_read_file(void *cluster, const char *path)'),
    confParseEnv: rados.func('int rados_conf_parse_env(void *cluster, const char *variable)'),
    confSet: rados.func('int rados_conf_set(void *cluster, const char *option, const char *value)'),
    confGet: rados.func('int rados_conf_get(void *cluster, const char *option, _Out_ uint8_t *buf, size_t len)'),
    connect: rados.func('int rados_connect(void *cluster)'),
    shutdown: rados.func('void rados_shutdown(void *cluster)'),
    fsid: rados.func('int rados_cluster_fsid(void *cluster, _Out_ uint8_t *buf, size_t len)'),
    ioctxCreate: rados.func('int rados_ioctx_create(void *cluster, const char *pool, _Out_ void **ioctx)'),
    ioctxDestroy: rados.func('void rados_ioctx_destroy(void *ioctx)'),
    optionsCreate: rbd.func('void rbd_image_options_create(_Out_ void **opts)'),
    optionsSetUint64: rbd.func('int rbd_image_options_set_uint64(void *opts, int optname, uint64_t value)'),
    optionsDestroy: rbd.func('void rbd_image_options_destroy(void *opts)'),
    create4: rbd.func('int rbd_create4(void *io, const char *name, uint64_t size, void *opts)'),
    open: rbd.func('int rbd_open(void *io, const char *name, _Out_ void **image, const char *snap)'),
    openReadOnly: rbd.func('int rbd_open_read_only(void *io, const char *name, _Out_ void **image, const char *snap)'),
    close: rbd.func('int rbd_close(void *image)'),
    remove: rbd.func('int rbd_remove(void *io, const char *name)'),
    list: rbd.func('int rbd_list(void *io, _Out_ uint8_t *names, _Inout_ size_t *size)'),
    write: rbd.func('int64_t rbd_write(void *image, uint64_t ofs, size_t len, const uint8_t *buf)'),
    read: rbd.func('int64_t rbd_read(void *image, uint64_t ofs, size_t len, _Out_ uint8_t *buf)'),
    resize: rbd.func('int rbd_resize(void *image, uint64_t size)'),
    getSize: rbd.func('int rbd_get_size(void *image, _Out_ uint64_t *size)'),
    snapCreate: rbd.func('int rbd_snap_create(void *image, const char *name)'),
    snapProtect: rbd.func('int rbd_snap_protect(void *image, const char *name)'),
    snapUnprotect: rbd.func('int rbd_snap_unprotect(void *image, const char *name)'),
    snapRemove: rbd.func('int rbd_snap_remove(void *image, const char *name)'),
    snapExists: rbd.func('int rbd_snap_exists(void *image, const char *name, _Out_ bool *exists)'),
    watchersList: rbd.func('int rbd_watchers_list(void *image, void *watchers, _Inout_ size_t *max)'),
    listChildren: rbd.func('int rbd_list_children3(void *image, void *images, _Inout_ size_t *max)'),
    snapGetId: rbd.func('int rbd_snap_get_id(void *image, const char *name, _Out_ uint64_t *id)'),
    snapGetTimestamp: rbd.func('int rbd_snap_get_timestamp(void *image, uint64_t id, _Out_ Timespec *timestamp)'),
  };
  return natives;
}

/** Runs a native call on the thread pool. */
function onPool(fn: NativeFn, ...args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, result: number | bigint) => (err ? reject(err) : resolve(Number(result))));
  });
}

/** Turns a negative return into an RbdError; returns non-negative results. */
function check(operation: string, result: number): number {
  if (result < 0) throw new RbdError(operation, -result);
  return result;
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
}

const RBD_IMAGE_OPTION_ORDER = 2;

export interface ClusterOptions {
  /** `rbd_store_ceph_conf`; empty lets librados search its default places. */
  confFile: string;
  /** `rbd_store_user` (the cephx id without `client.`); null lets librados decide. */
  user: string | null;
  /** `rados_connect_timeout`, in seconds; negative leaves librados' own timeouts. */
  connectTimeout: number;
}

/** One connection to a Ceph cluster, shared by every request of the process. */
export class RadosCluster {
  private constructor(private readonly handle: Handle) {}

  static async connect(options: ClusterOptions): Promise<RadosCluster> {
    const n = load();
    const out: Handle[] = [null];
    check('rados_create', n.radosCreate(out, options.user));
    const handle = out[0];
    try {
      check(`reading ${options.confFile || 'the default ceph.conf'}`, n.confReadFile(handle, options.confFile || null));
      // CEPH_ARGS, as every Ceph client honours it (e.g. --osd_client_watch_timeout).
      check('reading CEPH_ARGS', n.confParseEnv(handle, null));
      if (options.connectTimeout >= 0) {
        for (const key of ['rados_osd_op_timeout', 'rados_mon_op_timeout', 'client_mount_timeout']) {
          check(`setting ${key}`, n.confSet(handle, key, String(options.connectTimeout)));
        }
      }
      check('connecting to the Ceph cluster', await onPool(n.connect, handle));
    } catch (err) {
      n.shutdown(handle);
      throw err;
    }
    return new RadosCluster(handle);
  }

  fsid(): string {
    const buf = Buffer.alloc(64);
    check('rados_cluster_fsid', load().fsid(this.handle, buf, buf.length));
    return cString(buf);
  }

  async pool(name: string): Promise<Pool> {
    const out: Handle[] = [null];
    check(`opening pool ${name}`, await onPool(load().ioctxCreate, this.handle, name, out));
    return new Pool(out[0], name);
  }

  shutdown(): void {
    load().shutdown(this.handle);
  }
}

/** A pool's I/O context: the images in one pool. */
export class Pool {
  constructor(
    private readonly io: Handle,
    readonly name: string,
  ) {}

  /** Creates an image with objects of 2^order bytes; the cluster's `rbd_default_features` apply. */
  async create(image: string, size: number, order: number): Promise<void> {
    const n = load();
    const out: Handle[] = [null];
    n.optionsCreate(out);
    try {
      check('rbd_image_options_set_uint64', n.optionsSetUint64(out[0], RBD_IMAGE_OPTION_ORDER, order));
      check(`creating image ${image}`, await onPool(n.create4, this.io, image, size, out[0]));
    } finally {
      n.optionsDestroy(out[0]);
    }
  }

  /** Opens an image for writing (which holds a watch on it), or read-only (at a snapshot, when given). */
  async open(image: string, how: { readOnly: boolean; snapshot?: string | null }): Promise<RbdImage> {
    const n = load();
    const out: Handle[] = [null];
    const snapshot = how.snapshot ?? null;
    const fn = how.readOnly ? n.openReadOnly : n.open;
    check(`opening image ${image}${snapshot ? `@${snapshot}` : ''}`, await onPool(fn, this.io, image, out, snapshot));
    return new RbdImage(out[0], image);
  }

  async remove(image: string): Promise<void> {
    check(`removing image ${image}`, await onPool(load().remove, this.io, image));
  }

  /** The names of the images in the pool. */
  async list(): Promise<string[]> {
    for (let size = 64 * 1024; ; ) {
      const names = Buffer.alloc(size);
      const inout = [size];
      const result = await onPool(load().list, this.io, names, inout);
      if (result === -ERANGE) {
        size = Math.max(Number(inout[0]), size * 2);
        continue;
      }
      check('listing images', result);
      return names
        .subarray(0, Number(inout[0]))
        .toString('utf8')
        .split('\0')
        .filter((s) => s.length > 0);
    }
  }

  destroy(): void {
    load().ioctxDestroy(this.io);
  }
}

/** An open image (or snapshot of one). Close it when done: an open writable image holds a watch on the cluster. */
export class RbdImage {
  private closed = false;

  constructor(
    private readonly handle: Handle,
    readonly name: string,
  ) {}

  async write(offset: number, data: Buffer): Promise<void> {
    const written = check(`writing ${this.name}`, await onPool(load().write, this.handle, offset, data.length, data));
    if (written !== data.length) throw new RbdError(`writing ${this.name} (short write)`, 5);
  }

  /** Reads up to `length` bytes at `offset` into `into`; returns how many were read. */
  async read(offset: number, length: number, into: Buffer): Promise<number> {
    return check(`reading ${this.name}`, await onPool(load().read, this.handle, offset, length, into));
  }

  async resize(size: number): Promise<void> {
    check(`resizing ${this.name}`, await onPool(load().resize, this.handle, size));
  }

  async size(): Promise<number> {
    const out = [0];
    check(`sizing ${this.name}`, await onPool(load().getSize, this.handle, out));
    return Number(out[0]);
  }

  async createSnapshot(snapshot: string): Promise<void> {
    check(`creating snapshot ${this.name}@${snapshot}`, await onPool(load().snapCreate, this.handle, snapshot));
  }

  async protect(snapshot: string): Promise<void> {
    check(`protecting ${this.name}@${snapshot}`, await onPool(load().snapProtect, this.handle, snapshot));
  }

  /** EBUSY while the snapshot has clones; EINVAL when it is not protected. */
  async unprotect(snapshot: string): Promise<void> {
    check(`unprotecting ${this.name}@${snapshot}`, await onPool(load().snapUnprotect, this.handle, snapshot));
  }

  async removeSnapshot(snapshot: string): Promise<void> {
    check(`removing snapshot ${this.name}@${snapshot}`, await onPool(load().snapRemove, this.handle, snapshot));
  }

  async hasSnapshot(snapshot: string): Promise<boolean> {
    const out = [false];
    check(`looking for snapshot ${this.name}@${snapshot}`, await onPool(load().snapExists, this.handle, snapshot, out));
    return Boolean(out[0]);
  }

  /** How many clients watch the image: each one that has it open for writing holds a watch. */
  watchers(): Promise<number> {
    return this.count(load().watchersList, `listing watchers of ${this.name}`);
  }

  /** How many images are cloned from this snapshot (open the image at the snapshot), in the trash or not. */
  children(): Promise<number> {
    return this.count(load().listChildren, `listing clones of ${this.name}`);
  }

  /** A librbd list call asked for no entries: it answers -ERANGE with how many there are (or 0 when none). */
  private async count(list: NativeFn, operation: string): Promise<number> {
    const count = [0];
    const result = await onPool(list, this.handle, null, count);
    if (result !== -ERANGE) check(operation, result);
    return Number(count[0]);
  }

  /** When the snapshot was taken, by the clock of the client that took it. */
  async snapshotTime(snapshot: string): Promise<Date> {
    const n = load();
    const id = [0];
    check(`looking up snapshot ${this.name}@${snapshot}`, await onPool(n.snapGetId, this.handle, snapshot, id));
    const timestamp = { tv_sec: 0, tv_nsec: 0 };
    check(`reading the time of ${this.name}@${snapshot}`, await onPool(n.snapGetTimestamp, this.handle, id[0], timestamp));
    return new Date(Number(timestamp.tv_sec) * 1000 + Math.floor(Number(timestamp.tv_nsec) / 1e6));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    check(`closing ${this.name}`, await onPool(load().close, this.handle));
  }
}
