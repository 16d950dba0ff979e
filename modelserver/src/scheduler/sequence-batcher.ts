/**
 * @module scheduler/sequence-batcher
 * Triton's sequence batcher (triton-sequence-batcher.md; core
 * src/sequence_batch_scheduler/sequence_batch_scheduler.cc): every request names a sequence
 * (`sequence_id`, with `sequence_start` on its first and `sequence_end` on its last request);
 * a sequence holds one slot of one instance from START to END, its requests run in arrival
 * order, the control inputs tell the model where each request stands, and implicit state carries
 * tensors from one request of a sequence to its next without the client seeing them.
 *
 * - Slots: `max(1, max_batch_size)` per instance for Direct, `max_candidate_sequences` for
 *   Oldest. A new sequence takes the lowest free slot index (over all instances); with none
 *   free it waits in a FIFO backlog, and a freed slot goes to the oldest backlogged sequence.
 * - Direct: a batch is slots 0..h of one instance (h = the highest slot with a request), an
 *   empty slot below h filled with a null request (a copy of the first ready request, all
 *   controls false, a zero state of the same shape, outputs dropped), as Triton does.
 * - Oldest: each instance batches its slots' head requests oldest first, one request of a
 *   sequence in flight at a time; a request whose shapes differ from the batch's first closes
 *   the batch, as the dynamic batcher does.
 * - Implicit state: reset to `initial_state` by START, fed from the output named by the state's
 *   `output_name` to its `input_name` (by configured name, not Triton's sorted-index pairing of
 *   issue #8586, which gives the same result whenever the sorted orders agree), and freed with
 *   the slot at END, at the idle timeout or on cancellation.
 * - Idle: a sequence whose last request arrived `max_sequence_idle_microseconds` ago loses its
 *   slot once the requests queued before that run; its next request then gets the START error.
 * - Cancellation: a request withdrawn while queued takes its sequence's queued requests with it
 *   (CANCELLED) and frees the slot; a request in flight runs to the end.
 *
 * Beyond Triton, deliberately: states are compared like inputs when a batch is formed, so
 * sequences whose states differ in shape never share a batch (Triton would concatenate them;
 * what then happens is unverified, see the reference's "Not verified").
 */
import type { ModelConfig } from '../../../proto/gen/model_config.js';
import type { ModelInstance } from '../backend/model-instance.js';
import { cancelled, InferenceServerError, internal, invalidArgument, refused, unimplemented } from '../errors.js';
import type { Tensor } from '../tensors/tensor.js';
import { type BatchContext, executeBatch, type QueuedJob } from './execute-batch.js';
import { MinHeap } from './min-heap.js';
import { NULL_CONTROLS, SequenceTensors } from './sequence-tensors.js';
import type { InferenceJob, Scheduler, SequenceFlags } from './types.js';

export interface SequenceBatcherOptions {
  /** Warnings Triton logs (a START for a sequence that is still active). */
  readonly warn?: (message: string) => void;
  /** Clock in nanoseconds (tests). */
  readonly now?: () => bigint;
}

/** The longest string correlation id Triton accepts (core tritonserver.cc). */
export const MAX_STRING_ID_LENGTH = 128;

interface Request {
  readonly queued: QueuedJob;
  readonly flags: SequenceFlags;
  /** The slot or backlog entry that holds it while it is queued. */
  home: Slot | Backlogged;
  onAbort: (() => void) | undefined;
}

/** Put in a slot's queue by the idle reaper: once reached, the slot is freed. */
const RELEASE = 'release';

interface Slot {
  readonly kind: 'slot';
  readonly runtime: InstanceRuntime;
  readonly index: number;
  queue: Array<Request | typeof RELEASE>;
  inFlight: boolean;
  /** Free it once the request in flight completes (END ran, or the sequence was cancelled). */
  releaseAfterFlight: boolean;
  state: Map<string, Tensor> | undefined;
  /** The state went with an execution that failed; requests until the next START fail. */
  lost: boolean;
}

interface Backlogged {
  readonly kind: 'backlog';
  readonly key: string;
  requests: Request[];
}

interface Sequence {
  slot: Slot | undefined;
  backlog: Backlogged | undefined;
  lastArrivalNs: bigint;
}

interface InstanceRuntime {
  readonly instance: ModelInstance;
  readonly order: number;
  readonly slots: Slot[];
  busy: boolean;
  delayTimer: NodeJS.Timeout | undefined;
}

/** One member of a batch: a real request, or Direct's null filler (`request` undefined). */
interface Member {
  readonly slot: Slot;
  readonly request: Request | undefined;
}

export class SequenceBatcher implements Scheduler {
  private readonly runtimes: InstanceRuntime[];
  private readonly free = new MinHeap<Slot>((a, b) => a.index < b.index || (a.index === b.index && a.runtime.order < b.runtime.order));
  private readonly backlog: Backlogged[] = [];
  /** Active sequences by {@link keyOf}; an END or the reaper removes the mapping. */
  private readonly sequences = new Map<string, Sequence>();
  private readonly direct: boolean;
  private readonly idleNs: bigint;
  private readonly delayNs: bigint;
  private readonly minUtilization: number;
  private readonly maxBatch: number;
  private readonly now: () => bigint;
  private reaper: NodeJS.Timeout | undefined;
  private draining = false;
  private drainWaiters: Array<() => void> = [];

  constructor(
    instances: readonly ModelInstance[],
    private readonly config: ModelConfig,
    private readonly tensors: SequenceTensors,
    private readonly ctx: BatchContext,
    private readonly options: SequenceBatcherOptions = {},
  ) {
    const sb = config.sequenceBatching!;
    this.direct = sb.oldest === undefined;
    this.maxBatch = Math.max(1, config.maxBatchSize);
    const slots = this.direct ? this.maxBatch : sb.oldest!.maxCandidateSequences > 0 ? sb.oldest!.maxCandidateSequences : this.maxBatch;
    this.idleNs = sb.maxSequenceIdleMicroseconds * 1000n;
    this.delayNs = (this.direct ? (sb.direct?.maxQueueDelayMicroseconds ?? 0n) : sb.oldest!.maxQueueDelayMicroseconds) * 1000n;
    this.minUtilization = this.direct ? (sb.direct?.minimumSlotUtilization ?? 0) : 0;
    this.now = options.now ?? (() => process.hrtime.bigint());
    this.runtimes = instances.map((instance, order) => {
      const rt: InstanceRuntime = { instance, order, slots: [], busy: false, delayTimer: undefined };
      for (let index = 0; index < slots; index++) {
        const slot: Slot = { kind: 'slot', runtime: rt, index, queue: [], inFlight: false, releaseAfterFlight: false, state: undefined, lost: false };
        rt.slots.push(slot);
        this.free.push(slot);
      }
      return rt;
    });
  }

  infer(job: InferenceJob): Promise<ReadonlyMap<string, Tensor>> {
    const flags = job.sequence ?? { id: 0n, start: false, end: false };
    const key = keyOf(flags.id);
    const refusal = this.refusal(job, flags, key);
    if (refusal) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      const now = this.now();
      let seq = this.sequences.get(key);
      if (seq && flags.start) {
        this.options.warn?.(
          `sequence ${display(flags.id)} for model '${this.config.name}' has a conflict. The previous sequence did not end before this sequence start. Previous sequence will be terminated early.`,
        );
      }
      if (!seq) {
        seq = { slot: this.free.pop(), backlog: undefined, lastArrivalNs: now };
        if (!seq.slot) {
          seq.backlog = { kind: 'backlog', key, requests: [] };
          this.backlog.push(seq.backlog);
        }
        this.sequences.set(key, seq);
      }
      seq.lastArrivalNs = now;
      const home = seq.slot ?? seq.backlog!;
      const request: Request = { queued: { job, enqueuedNs: now, resolve, reject }, flags, home, onAbort: undefined };
      if (home.kind === 'slot') home.queue.push(request);
      else home.requests.push(request);
      if (flags.end) this.sequences.delete(key);
      if (job.signal) {
        request.onAbort = () => this.cancel(request);
        job.signal.addEventListener('abort', request.onAbort, { once: true });
      }
      this.armReaper();
      if (home.kind === 'slot') this.pump(home.runtime);
    });
  }

  drain(): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      const check = () => {
        if (this.idle()) {
          clearTimeout(this.reaper);
          resolve();
        } else {
          this.drainWaiters.push(check);
        }
      };
      check();
    });
  }

  /** Triton's Enqueue checks, in its order; these requests are refused, not counted. */
  private refusal(job: InferenceJob, flags: SequenceFlags, key: string): InferenceServerError | undefined {
    const uncounted = (e: InferenceServerError) => new InferenceServerError(e.code, e.message, false);
    if (typeof flags.id === 'string' && flags.id.length > MAX_STRING_ID_LENGTH) {
      return uncounted(unimplemented(`string correlation ID cannot be longer than ${MAX_STRING_ID_LENGTH} characters`));
    }
    const name = this.config.name;
    if (this.config.maxBatchSize > 0 && job.batchSize !== 1) {
      return uncounted(invalidArgument(`inference request to model '${name}' must specify batch-size 1 due to requirements of sequence batcher`));
    }
    if (flags.id === 0n || flags.id === '') {
      return uncounted(invalidArgument(`inference request to model '${name}' must specify a non-zero or non-empty correlation ID`));
    }
    if (flags.start && this.draining) {
      return refused('Server is stopping, scheduler for model has stopped accepting new inference requests');
    }
    if (!flags.start && !this.sequences.has(key)) {
      return uncounted(
        invalidArgument(
          `inference request for sequence ${display(flags.id)} to model '${name}' must specify the START flag on the first request of the sequence`,
        ),
      );
    }
    return undefined;
  }

  /** Forms and runs the next batch of `rt` if it is free and has work. */
  private pump(rt: InstanceRuntime): void {
    if (rt.busy) return;
    for (const slot of rt.slots) this.settle(slot);
    const ready = rt.slots.filter((s) => !s.inFlight && typeof s.queue[0] === 'object');
    if (ready.length > 0 && !this.waitForMore(rt, ready)) {
      const members = this.direct ? this.directBatch(rt, ready) : this.oldestBatch(ready);
      this.run(rt, members);
    }
    this.notifyDrainWaiters();
  }

  /** Frees `slot` if the reaper's marker reached the head of its queue. */
  private settle(slot: Slot): void {
    while (!slot.inFlight && slot.queue[0] === RELEASE) {
      slot.queue.shift();
      if (slot.queue.length === 0) this.release(slot);
    }
  }

  /** True (and a timer set) while a delay says to wait for a fuller batch. */
  private waitForMore(rt: InstanceRuntime, ready: readonly Slot[]): boolean {
    if (this.delayNs === 0n || (this.direct && this.minUtilization === 0)) return false;
    const target = this.direct ? Math.ceil(this.minUtilization * this.maxBatch) : this.largestPreferred();
    if (ready.length >= target) return false;
    const oldest = ready.reduce((t, s) => (head(s).queued.enqueuedNs < t ? head(s).queued.enqueuedNs : t), head(ready[0]!).queued.enqueuedNs);
    const waitNs = oldest + this.delayNs - this.now();
    if (waitNs <= 0n) return false;
    clearTimeout(rt.delayTimer);
    rt.delayTimer = setTimeout(() => this.pump(rt), Math.max(1, Math.ceil(Number(waitNs) / 1e6)));
    return true;
  }

  private largestPreferred(): number {
    const sizes = this.config.sequenceBatching!.oldest!.preferredBatchSize;
    return sizes.length > 0 ? Math.max(...sizes) : this.maxBatch;
  }

  /** Slots 0..h in order; an empty or mismatching slot below h gets a null member. */
  private directBatch(rt: InstanceRuntime, ready: readonly Slot[]): Member[] {
    const first = ready[0]!;
    const h = ready[ready.length - 1]!.index;
    const members: Member[] = [];
    for (let i = 0; i <= h; i++) {
      const slot = rt.slots[i]!;
      const ok = ready.includes(slot) && this.compatible(first, slot);
      members.push({ slot, request: ok ? head(slot) : undefined });
    }
    return members;
  }

  /** Head requests oldest first, up to max_batch_size; the first that differs closes the batch. */
  private oldestBatch(ready: readonly Slot[]): Member[] {
    const byAge = [...ready].sort((a, b) => (head(a).queued.enqueuedNs < head(b).queued.enqueuedNs ? -1 : 1));
    const members: Member[] = [{ slot: byAge[0]!, request: head(byAge[0]!) }];
    for (const slot of byAge.slice(1)) {
      if (members.length >= this.largestPreferredOrMax() || !this.compatible(byAge[0]!, slot)) break;
      members.push({ slot, request: head(slot) });
    }
    return members;
  }

  private largestPreferredOrMax(): number {
    return this.delayNs > 0n ? this.largestPreferred() : this.maxBatch;
  }

  /** Equal input shapes (without the batch dimension), and equal state shapes. */
  private compatible(a: Slot, b: Slot): boolean {
    const ja = head(a).queued.job;
    const jb = head(b).queued.job;
    for (const [name, t] of ja.inputs) {
      if (!sameInnerShape(t, jb.inputs.get(name))) return false;
    }
    const sa = this.statesFor(a, head(a));
    const sb = this.statesFor(b, head(b));
    for (const [name, t] of sa) if (!sameInnerShape(t, sb.get(name))) return false;
    return true;
  }

  /** The states `request` will run with (its START resets them). */
  private statesFor(slot: Slot, request: Request): ReadonlyMap<string, Tensor> {
    if (request.flags.start || slot.state === undefined) return this.tensors.initialShapes;
    return slot.state;
  }

  private run(rt: InstanceRuntime, members: readonly Member[]): void {
    for (const m of members) {
      if (m.request && m.slot.lost && !m.request.flags.start) {
        m.slot.queue.shift();
        m.request.queued.reject(internal(`the state of sequence ${display(m.request.flags.id)} was lost with a failed execution; start it again`));
        if (m.request.flags.end) this.release(m.slot);
        queueMicrotask(() => this.pump(rt));
        return;
      }
    }
    rt.busy = true;
    clearTimeout(rt.delayTimer);
    const representative = members.find((m) => m.request)!.request!;
    const jobs: QueuedJob[] = members.map((m) => (m.request ? this.prepare(m.slot, m.request) : this.nullJob(m.slot, representative)));
    void executeBatch(rt.instance, jobs, this.ctx).finally(() => {
      for (const m of members) {
        if (!m.request) continue;
        m.slot.inFlight = false;
        if (m.request.flags.end || m.slot.releaseAfterFlight) this.release(m.slot);
      }
      rt.busy = false;
      this.pump(rt);
    });
  }

  /** Takes `request` off its slot's queue and adds its controls and states. */
  private prepare(slot: Slot, request: Request): QueuedJob {
    slot.queue.shift();
    slot.inFlight = true;
    const { job } = request.queued;
    if (request.onAbort) job.signal?.removeEventListener('abort', request.onAbort);
    if (request.flags.start) slot.lost = false;
    if (request.flags.start || slot.state === undefined) slot.state = this.tensors.initialStates();
    const inputs = new Map([...job.inputs, ...this.tensors.controls({ ...request.flags, ready: true }), ...slot.state]);
    const wanted = new Set([...job.outputNames, ...this.tensors.stateOutputNames]);
    return {
      job: { ...job, inputs, outputNames: [...wanted] },
      enqueuedNs: request.queued.enqueuedNs,
      resolve: (outputs) => {
        slot.state = ownStates(this.tensors.nextStates(outputs, slot.state!), job.outputNames, this.tensors.stateOutputs);
        const mine = new Map<string, Tensor>();
        for (const name of job.outputNames) mine.set(name, outputs.get(name)!);
        request.queued.resolve(mine);
      },
      reject: (err) => {
        // A state moved to the worker for a run that failed is gone: the sequence cannot go on.
        if ([...slot.state!.values()].some((t) => t.raw.buffer.byteLength === 0 && t.raw.byteLength === 0 && t.shape.every((d) => d > 0))) {
          slot.state = undefined;
          slot.lost = true;
        }
        request.queued.reject(err);
      },
    };
  }

  /** Direct's filler for an empty slot: the representative's inputs, false controls, zero states. */
  private nullJob(slot: Slot, representative: Request): QueuedJob {
    const { job } = representative.queued;
    const states = SequenceTensors.dummyStates(this.statesFor(slot, representative));
    const inputs = new Map([...job.inputs, ...this.tensors.controls(NULL_CONTROLS), ...states]);
    return {
      job: { ...job, inputs, outputNames: [...new Set([...job.outputNames, ...this.tensors.stateOutputNames])], signal: undefined },
      enqueuedNs: this.now(),
      resolve: () => {},
      reject: () => {},
      filler: true,
    };
  }

  /** Frees `slot` (state dropped) and gives it to the oldest backlogged sequence, if any. */
  private release(slot: Slot): void {
    slot.state = undefined;
    slot.releaseAfterFlight = false;
    if (slot.queue.length > 0) return; // a START that conflicted queued behind: the slot stays its
    let next = this.backlog.shift();
    while (next && next.requests.length === 0) next = this.backlog.shift();
    if (!next) {
      this.free.push(slot);
      return;
    }
    const seq = this.sequences.get(next.key);
    if (seq?.backlog === next) {
      seq.backlog = undefined;
      seq.slot = slot;
    }
    for (const r of next.requests) r.home = slot;
    slot.queue = next.requests;
    if (slot.runtime !== undefined && !slot.runtime.busy) queueMicrotask(() => this.pump(slot.runtime));
  }

  /** A queued request was withdrawn: it and its sequence's queued requests end CANCELLED. */
  private cancel(request: Request): void {
    const home = request.home;
    const queued = home.kind === 'slot' ? home.queue : home.requests;
    if (!queued.includes(request)) return;
    for (const [key, seq] of this.sequences) {
      if (seq.slot === home || seq.backlog === home) this.sequences.delete(key);
    }
    const withdrawn = queued.filter((r): r is Request => typeof r === 'object');
    if (home.kind === 'slot') {
      home.queue = [];
      if (home.inFlight) home.releaseAfterFlight = true;
      else this.release(home);
    } else {
      home.requests = [];
      const at = this.backlog.indexOf(home);
      if (at >= 0) this.backlog.splice(at, 1);
    }
    for (const r of withdrawn) {
      if (r.onAbort) r.queued.job.signal?.removeEventListener('abort', r.onAbort);
      r.queued.reject(cancelled());
    }
    this.notifyDrainWaiters();
  }

  /** Runs the idle reaper at the earliest expiry of a sequence that holds a slot. */
  private armReaper(): void {
    if (this.reaper !== undefined) return;
    let earliest: bigint | undefined;
    for (const seq of this.sequences.values()) {
      const at = seq.slot ? seq.lastArrivalNs + this.idleNs : undefined;
      if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
    }
    // Backlogged sequences are not reaped; Triton looks at them again every 50 ms.
    const backlogged = [...this.sequences.values()].some((s) => s.backlog);
    if (earliest === undefined && !backlogged) return;
    const waitMs = earliest === undefined ? 50 : Math.max(1, Math.ceil(Number(earliest - this.now()) / 1e6));
    this.reaper = setTimeout(() => this.reap(), backlogged ? Math.min(50, waitMs) : waitMs);
    this.reaper.unref();
  }

  private reap(): void {
    this.reaper = undefined;
    const now = this.now();
    const touched = new Set<InstanceRuntime>();
    for (const [key, seq] of this.sequences) {
      if (!seq.slot || now - seq.lastArrivalNs < this.idleNs) continue;
      this.sequences.delete(key);
      seq.slot.queue.push(RELEASE);
      touched.add(seq.slot.runtime);
    }
    for (const rt of touched) this.pump(rt);
    this.armReaper();
  }

  private idle(): boolean {
    return this.runtimes.every((rt) => !rt.busy && rt.slots.every((s) => !s.queue.some((r) => typeof r === 'object'))) &&
      this.backlog.every((b) => b.requests.length === 0);
  }

  private notifyDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * A state that is the whole of its buffer (a sequence that ran alone) and that the client did
 * not ask for is the slot's alone: it may move to the worker next time without a copy.
 */
function ownStates(states: Map<string, Tensor>, requested: readonly string[], outputOf: ReadonlyMap<string, string>): Map<string, Tensor> {
  for (const [input, t] of states) {
    if (!requested.includes(outputOf.get(input)!) && t.raw.byteOffset === 0 && t.raw.byteLength === t.raw.buffer.byteLength) {
      states.set(input, { ...t, transferable: true });
    }
  }
  return states;
}

function head(slot: Slot): Request {
  return slot.queue[0] as Request;
}

/** Triton compares the id's type first: the string "42" and the integer 42 are two sequences. */
function keyOf(id: SequenceFlags['id']): string {
  return typeof id === 'string' ? `s:${id}` : `i:${BigInt.asUintN(64, id)}`;
}

/** An id as Triton's messages print it (an int64 as its uint64). */
function display(id: SequenceFlags['id']): string {
  return typeof id === 'string' ? id : BigInt.asUintN(64, id).toString();
}

function sameInnerShape(a: Tensor, b: Tensor | undefined): boolean {
  if (!b || a.shape.length !== b.shape.length) return false;
  for (let i = 1; i < a.shape.length; i++) if (a.shape[i] !== b.shape[i]) return false;
  return a.shape.length > 0 || b.shape.length === 0;
}
