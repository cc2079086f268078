/**
 * The sandbox's seccomp filter (bwrap --seccomp FD), as the classic BPF
 * program the kernel takes. It is a deny list, not an allow list: it refuses
 * the few calls that hand a program memory outside every limit the runner
 * sets (RLIMIT_AS counts only what is mapped, RLIMIT_FSIZE one file at a
 * time, and the tmpfs sizes only their own mounts):
 *
 *   memfd_create   anonymous files: written to, never mapped, as many as fds allow
 *   shmget         System V shared memory: it outlives shmdt until the run ends
 *   msgget         System V message queues: up to ~0.5 GB per IPC namespace
 *
 * They fail with EPERM, so a program sees an ordinary error. A call made
 * under another architecture's numbering (int 0x80, x32) is refused whole:
 * the numbers above would not match there.
 *
 * No library builds this for us from Node (libseccomp has no maintained
 * binding), and the program is at most nine instructions; the kernel checks it when
 * bwrap loads it, and test/runner-escape.test.ts checks what it refuses.
 */

/** Per architecture: the AUDIT_ARCH value and the numbers of the calls refused. */
const TABLES: Partial<Record<NodeJS.Architecture, { auditArch: number; x32Bit?: number; refused: number[] }>> = {
  // arch/x86/entry/syscalls/syscall_64.tbl: memfd_create 319, shmget 29, msgget 68.
  x64: { auditArch: 0xc000003e, x32Bit: 0x40000000, refused: [319, 29, 68] },
  // include/uapi/asm-generic/unistd.h: memfd_create 279, shmget 194, msgget 186.
  arm64: { auditArch: 0xc00000b7, refused: [279, 194, 186] },
};

// linux/filter.h, linux/seccomp.h
const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_RET_K = 0x06;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const EPERM = 1;
/** struct seccomp_data: int nr; __u32 arch; ... */
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The filter for this machine's architecture, or undefined where there is no table (no filter then). */
export function seccompFilter(arch: NodeJS.Architecture = process.arch): Buffer | undefined {
  const table = TABLES[arch];
  if (!table) return undefined;
  const checks = [...(table.x32Bit !== undefined ? [{ code: BPF_JGE_K, k: table.x32Bit }] : []), ...table.refused.map((k) => ({ code: BPF_JEQ_K, k }))];
  // Layout: load arch, compare, load nr, the checks, ALLOW, then DENY last;
  // every jump is forward to DENY (the kernel refuses backward jumps).
  const program: Insn[] = [];
  const denyAt = 3 + checks.length + 1;
  const toDeny = (at: number) => denyAt - (at + 1);
  program.push({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_ARCH });
  program.push({ code: BPF_JEQ_K, jt: 0, jf: toDeny(1), k: table.auditArch });
  program.push({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_NR });
  checks.forEach((c, i) => program.push({ code: c.code, jt: toDeny(3 + i), jf: 0, k: c.k }));
  program.push({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ALLOW });
  program.push({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ERRNO | EPERM });
  return encode(program);
}

/** struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }; both architectures above are little-endian. */
function encode(program: Insn[]): Buffer {
  const out = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8(insn.jt, i * 8 + 2);
    out.writeUInt8(insn.jf, i * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return out;
}
