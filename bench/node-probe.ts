/**
 * Preloaded into each server process of a benchmark (`--import`), identical
 * for Duet and Hocuspocus, so neither server's code changes: event-loop delay
 * (monitorEventLoopDelay), garbage-collection pauses and memory, answered
 * over the IPC channel.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join, resolve } from 'node:path';
import { constants, monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

interface ProbeRequest {
  type: 'probe';
  /** Start a new window after answering: the event-loop delay and the collector's pauses. */
  reset?: boolean;
  /** Collect garbage first (the process runs with --expose-gc). */
  gc?: boolean;
  /** Write a heap snapshot to this path first (memory investigations). */
  heapSnapshot?: string;
}

if (process.send) {
  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  // The collector's entries since the last reset (its pauses, and for
  // incremental marking its steps): a long one stops every edit in flight on
  // the node at once, which a latency tail shows and the loop's p99 may not.
  const gcs = { count: 0, majorCount: 0, totalMs: 0, maxMs: 0, majorMaxMs: 0 };
  const count = (entries: readonly PerformanceEntry[]) => {
    for (const e of entries) {
      const major = (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
      gcs.count++;
      gcs.totalMs += e.duration;
      gcs.maxMs = Math.max(gcs.maxMs, e.duration);
      if (major) {
        gcs.majorCount++;
        gcs.majorMaxMs = Math.max(gcs.majorMaxMs, e.duration);
      }
    }
  };
  const observer = new PerformanceObserver((list) => count(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const survivors = survivorSampler(process.env.BENCH_HEAP_SAMPLE_DIR);
  // About what the window promoted (plus code compiled and large objects
  // made in it), less what its full collections freed; needs no profiler, so
  // it checks the heap survivors' total.
  let oldAtReset = oldGenerationBytes();
  process.on('message', async (m: ProbeRequest) => {
    if (m?.type !== 'probe') return;
    const oldGrowth = oldGenerationBytes() - oldAtReset;
    // Before this probe's own collections (when asked for them): a forced
    // full one would count the young garbage it frees as having outlived the
    // young generation, which is what the profile is meant to single out.
    await survivors?.stop();
    const gc = (globalThis as { gc?: () => void }).gc;
    if (m.gc && gc) {
      gc();
      gc();
      // V8 sweeps concurrently and hands pages back only once that is done:
      // RSS read at once still counts the garbage just collected (two nodes
      // holding the same sockets read 10 and 81 MB of growth so). Let it
      // settle, then collect again.
      await new Promise((r) => setTimeout(r, 1000));
      gc();
    }
    if (m.heapSnapshot) writeHeapSnapshot(m.heapSnapshot);
    // Entries are delivered asynchronously: take those still queued, so each lands in its own window.
    count(observer.takeRecords());
    const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
    const round = (x: number) => Math.round(x * 1e3) / 1e3;
    process.send!({
      type: 'probe',
      eld: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max), mean: ms(eld.mean) },
      gc: { ...gcs, totalMs: round(gcs.totalMs), maxMs: round(gcs.maxMs), majorMaxMs: round(gcs.majorMaxMs) },
      oldGrowthMiB: Math.round((oldGrowth / 1048576) * 100) / 100,
      memory: process.memoryUsage(),
      // CLOCK_MONOTONIC in µs: the clock of V8's CPU profile timestamps.
      monoUs: Number(process.hrtime.bigint() / 1000n),
    });
    if (m.reset) {
      eld.reset();
      Object.assign(gcs, { count: 0, majorCount: 0, totalMs: 0, maxMs: 0, majorMaxMs: 0 });
      await survivors?.start();
      oldAtReset = oldGenerationBytes();
    }
  });
  // The channel must not keep a stopping server alive (a 'message' listener refs it).
  process.channel?.unref();
}

/** Bytes in use outside the young generation (old, code, large-object spaces and the rest). */
function oldGenerationBytes(): number {
  return getHeapSpaceStatistics()
    .filter((s) => !s.space_name.startsWith('new_'))
    .reduce((sum, s) => sum + s.space_used_size, 0);
}

/**
 * BENCH_HEAP_SAMPLE_DIR=DIR: from a window's start (a reset) to the next
 * probe, V8's sampling heap profiler keeps the allocations that survive a
 * scavenge (those it frees are left out; the process runs with --expose-gc
 * so that one scavenges at the end), written to DIR as
 * PID-N.heapprofile; bench/heap-survivors.ts reads them. A diagnostic: the
 * sampling costs the node a few percent of its CPU.
 */
function survivorSampler(dir: string | undefined): { start(): Promise<void>; stop(): Promise<void> } | undefined {
  if (!dir) return undefined;
  // The benchmark passes it absolute (bench/systems/cluster.ts); so should anyone else.
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  const session = new Session();
  session.connect();
  let sampling = false;
  let n = 0;
  return {
    async start() {
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: false,
      });
      sampling = true;
    },
    async stop() {
      if (!sampling) return;
      sampling = false;
      // Garbage the scavenger has not reached yet still counts as sampled: up
      // to a young generation's worth, most of it short-lived. A scavenge first.
      (globalThis as { gc?: (o: { type: 'minor' }) => void }).gc?.({ type: 'minor' });
      const { profile } = await session.post('HeapProfiler.stopSampling');
      try {
        writeFileSync(join(out, `${process.pid}-${++n}.heapprofile`), JSON.stringify(profile));
      } catch (err) {
        // A diagnostic must not take the node down (or leave the probe unanswered).
        process.stderr.write(`[probe] could not write a heap profile: ${String(err)}\n`);
      }
    },
  };
}
